package matching

import (
	"fmt"
	"math"
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
	fPersons:  {{0.40, 0.15, 0.25, 0.10, 0.10}, {0.001, 0.002, 0.01, 0.15, 0.837}},
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

// fitEM estimates m, u and Lambda from unlabelled candidate pairs by
// expectation-maximisation (as Splink does), starting from start. It runs
// until the parameters move less than 1e-6 or after maxIter rounds.
func fitEM(start *Model, pc patternCounts, maxIter int) *Model {
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
	// Additive smoothing of one pair per level keeps weights finite and
	// moderate where a level was never seen on one side.
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
		next.Lambda = math.Min(math.Max(sumP/sumN, 1e-6), 1-1e-6)
		delta := math.Abs(next.Lambda - cur.Lambda)
		for f := range nFeatures {
			// Smoothing: pseudo-counts of the priors (a Dirichlet prior
			// worth `floor` pairs per level), so levels never seen on one
			// side keep finite, moderate weights.
			for l := range nm[f] {
				nm[f][l] += floor * float64(len(nm[f])) * priors[f][0][l] / sum(priors[f][0])
				nu[f][l] += floor * float64(len(nu[f])) * priors[f][1][l] / sum(priors[f][1])
			}
			next.M[f] = normalise(nm[f], 0)
			next.U[f] = normalise(nu[f], 0)
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
