package matching

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
)

// Model is a Fellegi-Sunter model: for each feature and level, m (the
// probability of the level among pairs that concern the same incident)
// and u (among pairs that do not), and Lambda, the share of matches among
// the candidate pairs that blocking produces. A pair's match weight is
// log2(Lambda/(1-Lambda)) + Σ log2(m/u) over its non-null levels; its score
// is the probability 1/(1+2^-weight). Scores of one model are comparable
// across runs and between offline and online matching.
type Model struct {
	Lambda float64
	M, U   [nFeatures][]float64
	// w caches log2(m/u).
	w [nFeatures][]float64
}

// priors are the starting m and u of every level: rough, hand-set
// beliefs about each level (same hour is common among matches and rare
// among other candidates; different hours of one day almost never a
// match). EM replaces them with estimates from the data; an index that is
// never trained scores with them.
var priors = [nFeatures][2][]float64{
	fTime:     {{0.30, 0.05, 0.55, 0.01, 0.08, 0.01}, {0.02, 0.01, 0.35, 0.15, 0.30, 0.17}},
	fPlace:    {{0.75, 0.12, 0.06, 0.04, 0.01, 0.02}, {0.60, 0.06, 0.04, 0.02, 0.08, 0.20}},
	fDist:     {{0.90, 0.07, 0.02, 0.005, 0.005}, {0.10, 0.35, 0.35, 0.05, 0.15}},
	fEvidence: {{0.10, 0.25, 0.10, 0.55}, {0.001, 0.002, 0.10, 0.897}},
	fPersons:  {{0.40, 0.15, 0.30, 0.05, 0.10}, {0.001, 0.001, 0.008, 0.005, 0.985}},
	fUnits:    {{0.70, 0.30}, {0.25, 0.75}},
	fCrime:    {{0.70, 0.15, 0.15}, {0.25, 0.30, 0.45}},
	fVictims:  {{0.80, 0.05, 0.15}, {0.12, 0.20, 0.68}},
	fTitle:    {{0.90, 0.10}, {0.80, 0.20}},
}

// DefaultModel returns the starting point of EM (and the model of an
// index that is never trained): the priors, with a tenth of the candidate
// pairs taken to be matches.
func DefaultModel() *Model {
	m := &Model{Lambda: 0.1}
	for f := range nFeatures {
		m.M[f] = normalise(priors[f][0], 0)
		m.U[f] = normalise(priors[f][1], 0)
	}
	m.refresh()
	return m
}

func (m *Model) refresh() {
	for f := range nFeatures {
		m.w[f] = make([]float64, len(m.M[f]))
		for l := range m.M[f] {
			m.w[f][l] = math.Log2(m.M[f][l] / m.U[f][l])
		}
	}
}

func (m *Model) levelWeight(f int, l int8) float64 {
	if l < 0 {
		return 0
	}
	return m.w[f][l]
}

// incidentWeight scores an incident pair by its time, place and distance
// levels.
func (m *Model) incidentWeight(t, p, d int8) float64 {
	return m.levelWeight(fTime, t) + m.levelWeight(fPlace, p) + m.levelWeight(fDist, d)
}

// Weight is the match weight of a comparison vector.
func (m *Model) weight(g gamma) float64 {
	w := math.Log2(m.Lambda / (1 - m.Lambda))
	for f, l := range g {
		w += m.levelWeight(f, l)
	}
	return w
}

// Probability maps a match weight to the probability of a match.
func Probability(weight float64) float64 { return 1 / (1 + math.Exp2(-weight)) }

// patternCounts is a histogram of comparison vectors: EM works on distinct
// vectors, not on pairs.
type patternCounts map[uint64]float64

// fitEM estimates Lambda, and m when fitM, and u when fitU, from
// unlabelled candidate pairs by expectation-maximisation (as Splink does),
// starting from start. m is smoothed by the priors worth mPseudo pairs per
// feature, u by one pair per level. It runs until the parameters move less
// than 1e-6 or after maxIter rounds.
func fitEM(start *Model, pc patternCounts, maxIter int, fitM, fitU bool) *Model {
	type pat struct {
		g gamma
		n float64
	}
	pats := make([]pat, 0, len(pc))
	for k, n := range pc {
		pats = append(pats, pat{gammaFromKey(k), n})
	}
	sort.Slice(pats, func(i, j int) bool { return pats[i].g.key() < pats[j].g.key() })
	cur := *start
	cur.refresh()
	const floor = 1.0
	for range maxIter {
		var nm, nu [nFeatures][]float64
		for f := range nFeatures {
			nm[f] = make([]float64, len(cur.M[f]))
			nu[f] = make([]float64, len(cur.U[f]))
		}
		var sumP, sumN float64
		for _, p := range pats {
			lm := math.Log(cur.Lambda)
			lu := math.Log(1 - cur.Lambda)
			for f, l := range p.g {
				if l >= 0 {
					lm += math.Log(cur.M[f][l])
					lu += math.Log(cur.U[f][l])
				}
			}
			pm := 1 / (1 + math.Exp(lu-lm))
			sumP += pm * p.n
			sumN += p.n
			for f, l := range p.g {
				if l >= 0 {
					nm[f][l] += pm * p.n
					nu[f][l] += (1 - pm) * p.n
				}
			}
		}
		next := cur
		next.M, next.U = [nFeatures][]float64{}, [nFeatures][]float64{}
		next.Lambda = math.Min(math.Max(sumP/sumN, 1e-9), 1-1e-6)
		delta := math.Abs(next.Lambda - cur.Lambda)
		for f := range nFeatures {
			next.M[f], next.U[f] = cur.M[f], cur.U[f]
			if fitM {
				pm := sum(priors[f][0])
				for l := range nm[f] {
					nm[f][l] += mPseudo * priors[f][0][l] / pm
				}
				next.M[f] = normalise(nm[f], 0)
			}
			if fitU {
				pu := sum(priors[f][1])
				for l := range nu[f] {
					nu[f][l] += floor * float64(len(nu[f])) * priors[f][1][l] / pu
				}
				next.U[f] = normalise(nu[f], 0)
			}
			for l := range next.M[f] {
				delta = math.Max(delta, math.Abs(next.M[f][l]-cur.M[f][l]))
				delta = math.Max(delta, math.Abs(next.U[f][l]-cur.U[f][l]))
			}
		}
		cur = next
		if delta < 1e-6 {
			break
		}
	}
	cur.refresh()
	return &cur
}

func sum(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s
}

func normalise(xs []float64, total float64) []float64 {
	out := make([]float64, len(xs))
	s := 0.0
	per := total / float64(len(xs))
	for i, x := range xs {
		out[i] = x + per
		s += out[i]
	}
	for i := range out {
		out[i] /= s
	}
	return out
}

// String describes the model: every level with m, u and its weight.
func (m *Model) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "lambda %.4f (prior weight %.2f)\n", m.Lambda, math.Log2(m.Lambda/(1-m.Lambda)))
	for f := range nFeatures {
		fmt.Fprintf(&b, "%s:\n", featureNames[f])
		for l, name := range levelNames[f] {
			fmt.Fprintf(&b, "  %-40s m=%.4f u=%.4f weight=%+.2f\n", name, m.M[f][l], m.U[f][l], m.w[f][l])
		}
	}
	return b.String()
}

// Training (see doc.go). An EM left to itself finds a "match" class in
// any data, with or without true matches: on members with unrelated cases
// it splits the candidates along whatever correlates (place name and
// distance). Three things keep it honest:
//
//   - u is first estimated from pairs known not to match that look like
//     candidates (Index.nonMatchPatterns: records against the records of
//     the same places some weeks away, moved back), as Splink estimates u
//     from random pairs; EM starts there.
//   - m is anchored to the priors with mPseudo pairs per feature, so
//     that a handful of pairs cannot make up a match class.
//   - a guard: when EM's u of time, place or distance strays far from
//     the non-match estimate (its "non-matches" are then not the
//     non-matches), or agreement is no likelier among its matches than
//     among its non-matches, u is fixed to the non-match estimate and
//     only m and Lambda are fitted; when even that is implausible, the
//     prior m is kept and only Lambda is fitted. On data without
//     duplicates Lambda then goes to zero and nothing matches.
const (
	// uPseudo is the prior's weight in the non-match u estimate, in pairs
	// per level.
	uPseudo = 2.0
	// mPseudo is the prior's weight in the m estimate, in pairs per
	// feature: enough that a few dozen pairs cannot set a level's m,
	// little against the thousands of matches of a real federation.
	mPseudo = 50.0
	// minNonMatchPairs: with fewer non-match pairs u starts at the
	// priors and the guard on u is off.
	minNonMatchPairs = 1000
	// maxUShift is the largest total variation distance between EM's u
	// and the non-match estimate of time, place and distance.
	maxUShift = 0.3
)

type trainInfo struct {
	NonMatchPairs int
	Fallback      string // why EM's free fit was not used, "" when it was
}

// estimateU returns the level probabilities among non-matches: the counts
// of nonMatch smoothed by the u priors.
func estimateU(nonMatch patternCounts) [nFeatures][]float64 {
	var cnt [nFeatures][]float64
	for f := range nFeatures {
		cnt[f] = make([]float64, len(priors[f][1]))
	}
	for k, n := range nonMatch {
		g := gammaFromKey(k)
		for f, l := range g {
			if l >= 0 {
				cnt[f][l] += n
			}
		}
	}
	var u [nFeatures][]float64
	for f := range nFeatures {
		ps := sum(priors[f][1])
		for l := range cnt[f] {
			cnt[f][l] += uPseudo * float64(len(cnt[f])) * priors[f][1][l] / ps
		}
		u[f] = normalise(cnt[f], 0)
	}
	return u
}

// fitModel fits a model to the candidate pairs cand, with nonMatch the
// patterns of nonMatchPairs pairs known not to match (see above).
func fitModel(start *Model, cand, nonMatch patternCounts, nonMatchPairs int) (*Model, trainInfo) {
	info := trainInfo{NonMatchPairs: nonMatchPairs}
	m0 := *start
	m0.M, m0.U = [nFeatures][]float64{}, [nFeatures][]float64{}
	for f := range nFeatures {
		m0.M[f] = normalise(priors[f][0], 0)
		m0.U[f] = append([]float64(nil), start.U[f]...)
	}
	var ref *[nFeatures][]float64
	if nonMatchPairs >= minNonMatchPairs {
		m0.U = estimateU(nonMatch)
		ref = &m0.U
	}
	fit := fitEM(&m0, cand, 200, true, true)
	why := implausible(fit, ref)
	if why == "" {
		return fit, info
	}
	info.Fallback = why + "; u fixed"
	if ref != nil {
		fit = fitEM(&m0, cand, 200, true, false)
		if why = implausible(fit, ref); why == "" {
			return fit, info
		}
	}
	info.Fallback += "; " + why + "; prior m kept"
	return fitEM(&m0, cand, 200, false, false), info
}

// implausible returns why a fitted model does not describe matches and
// non-matches, or "".
func implausible(m *Model, uRef *[nFeatures][]float64) string {
	for _, f := range []int{fTime, fPlace, fDist} {
		if m.M[f][0] < m.U[f][0] {
			return fmt.Sprintf("m < u for %s %q", featureNames[f], levelNames[f][0])
		}
		if uRef == nil {
			continue
		}
		tv := 0.0
		for l := range m.U[f] {
			tv += math.Abs(m.U[f][l]-uRef[f][l]) / 2
		}
		if tv > maxUShift {
			return fmt.Sprintf("u of %s %.2f away from the non-match estimate", featureNames[f], tv)
		}
	}
	return ""
}

// Explanation is how a pair's score came about: the prior's match weight,
// then each comparison's, add up to Weight, and Probability(Weight) is the
// score before rounding. Labels are the model's level names, never values
// of a record.
type Explanation struct {
	Prior       float64 // Lambda
	PriorWeight float64 // log2(Lambda/(1-Lambda))
	Comparisons []ComparisonWeight
	Weight      float64
	Probability float64
}

// ComparisonWeight is one comparison's part in a pair's weight.
type ComparisonWeight struct {
	Name string
	// Level is the index of the pair's level and Label its name; -1 and
	// "" when the comparison is not observed (a record lacks what it
	// compares), and Weight is then 0.
	Level  int
	Label  string
	Weight float64
}

// explain returns the explanation of comparison vector g. Its Weight is
// weight(g), summed in the same order, so that the two are equal.
func (m *Model) explain(g gamma) Explanation {
	e := Explanation{Prior: m.Lambda, PriorWeight: math.Log2(m.Lambda / (1 - m.Lambda)), Comparisons: make([]ComparisonWeight, nFeatures)}
	e.Weight = e.PriorWeight
	for f, l := range g {
		c := ComparisonWeight{Name: featureNames[f], Level: int(l)}
		if l >= 0 {
			c.Label, c.Weight = levelNames[f][l], m.levelWeight(f, l)
		}
		e.Comparisons[f] = c
		e.Weight += c.Weight
	}
	e.Probability = Probability(e.Weight)
	return e
}

// LevelInfo is one level of a comparison in a model.
type LevelInfo struct {
	Label  string
	M, U   float64
	Weight float64 // log2(M/U)
}

// ComparisonInfo is one comparison of a model with its levels.
type ComparisonInfo struct {
	Name   string
	Levels []LevelInfo
}

// Describe returns the model's comparisons and levels, in the model's
// order, for reading it through an API.
func (m *Model) Describe() (prior, priorWeight float64, comps []ComparisonInfo) {
	for f := range nFeatures {
		c := ComparisonInfo{Name: featureNames[f]}
		for l, name := range levelNames[f] {
			c.Levels = append(c.Levels, LevelInfo{Label: name, M: m.M[f][l], U: m.U[f][l], Weight: m.w[f][l]})
		}
		comps = append(comps, c)
	}
	return m.Lambda, math.Log2(m.Lambda / (1 - m.Lambda)), comps
}

// Vocabulary returns, in the model's order, each comparison's name and
// its levels' names: the only words an explanation may carry (the
// registry checks a proposal's explanation against them, so that no value
// of a record travels in its labels).
func Vocabulary() (names []string, levels [][]string) {
	for f := range nFeatures {
		names = append(names, featureNames[f])
		levels = append(levels, slices.Clone(levelNames[f]))
	}
	return names, levels
}
