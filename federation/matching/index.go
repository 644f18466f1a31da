package matching

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"sync"
	"time"
)

// Match is a pair of records that likely concern a common incident.
type Match struct {
	// A < B (case ids).
	A, B string
	// Score is the probability of a match under the model, in [0, 1].
	Score float64
	// Weight is the Fellegi-Sunter match weight (log2 Bayes factor plus
	// the prior), from which Score is derived.
	Weight float64
	// Reasons say in words which signals made the match, strongest first.
	// They quote the records' place names, units and victim counts.
	Reasons []string
	// Bare are the same reasons without any value of either record: no
	// place name, unit or victim count ("place names agree", "same
	// unit"); times, distances and counts of shared evidence items and
	// persons stay. They are what may be written where others than the
	// two offices can read it.
	Bare []string
	// Levels are the pair's level of each comparison (-1: not observed),
	// in the model's order, and Model the model that scored it: what
	// Explain needs (kept this small, not the explanation itself, so
	// that a run of a million cases does not hold one per match).
	Levels [Comparisons]int8
	Model  *Model
}

// Comparisons is the number of comparisons of the model.
const Comparisons = nFeatures

// Explain returns how the match's score came about under its model:
// Explanation.Weight == Weight and Score is Explanation.Probability
// rounded to four decimals. ok is false for a Match without a model.
func (m Match) Explain() (e Explanation, ok bool) {
	if m.Model == nil {
		return Explanation{}, false
	}
	return m.Model.explain(gamma(m.Levels)), true
}

// Config tunes an Index.
type Config struct {
	// Threshold is the lowest Score reported (default 0.5).
	Threshold float64
	// MaxEvidenceBucket: an evidence item held by more cases than this no
	// longer generates candidates by itself (it still counts when a pair
	// is compared). Default 200.
	MaxEvidenceBucket int
	// Model scores pairs; nil means DefaultModel until Train is called.
	Model *Model
}

func (c *Config) setDefaults() {
	if c.Threshold == 0 {
		c.Threshold = 0.5
	}
	if c.MaxEvidenceBucket == 0 {
		c.MaxEvidenceBucket = 200
	}
	if c.Model == nil {
		c.Model = DefaultModel()
	}
}

// Index holds compiled records and their blocking keys, and matches a
// record against all others incrementally. It is safe for concurrent use.
type Index struct {
	mu    sync.RWMutex
	cfg   Config
	model *Model

	recs   []*rec // by slot; nil when removed
	keys   [][]uint64
	byID   map[string]int32
	free   []int32
	post   map[uint64][]int32
	df     map[uint64]int32
	places map[placeID]*placeLoc
	// batch replaces post and keys in an index built by MatchAll.
	batch *batchPostings
	// order, when set, is the order in which eachPair visits the slots
	// (see localityOrder).
	order []int32
	// stop, when set, tells a batch run to give up (its context ended).
	stop func() bool
}

func (x *Index) stopped() bool { return x.stop != nil && x.stop() }

type placeLoc struct {
	lat, lon float64 // sums
	n        int
}

// NewIndex returns an empty index.
func NewIndex(cfg Config) *Index {
	cfg.setDefaults()
	return &Index{cfg: cfg, model: cfg.Model, byID: map[string]int32{}, post: map[uint64][]int32{},
		df: map[uint64]int32{}, places: map[placeID]*placeLoc{}}
}

// Model returns the model in use.
func (x *Index) Model() *Model {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.model
}

// SetModel replaces the model (for example one trained offline).
func (x *Index) SetModel(m *Model) {
	x.mu.Lock()
	x.model = m
	x.mu.Unlock()
}

// Len is the number of records held.
func (x *Index) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.byID)
}

// placeID keys the learned locations: a folded place name in a region.
type placeID struct{ fold, region string }

func placeKey(fold, region string) placeID { return placeID{fold, region} }

func (x *Index) loc(fold, region string) (float64, float64, bool) {
	p := x.places[placeKey(fold, region)]
	if p == nil || p.n == 0 {
		return 0, 0, false
	}
	return p.lat / float64(p.n), p.lon / float64(p.n), true
}

func (x *Index) comparer() *comparer {
	if bp := x.batch; bp != nil {
		// A batch counts no df: the postings of an evidence key hold
		// every record with the item, once.
		return &comparer{df: func(k uint64) int { return len(bp.list(evidenceKey(k))) }, loc: x.loc}
	}
	return &comparer{df: func(k uint64) int { return int(x.df[k]) }, loc: x.loc}
}

// scorer is a comparer for reporting matches: it stops comparing a pair
// as soon as it cannot reach the threshold.
func (x *Index) scorer() *comparer {
	cmp := x.comparer()
	// Probability(w) >= Threshold ⟺ w >= log2(T/(1-T)); the margin keeps
	// rounding from cutting a pair at the threshold.
	cmp.cut = newCutoff(x.model, math.Log2(x.cfg.Threshold/(1-x.cfg.Threshold))-1e-9)
	return cmp
}

// Add adds a record, or replaces the record with the same ID.
func (x *Index) Add(r Record) error {
	c, err := compile(r, nil)
	if err != nil {
		return err
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	x.addLocked(c)
	return nil
}

// learn adds what a record teaches the index: where its place names lie
// (incidents with coordinates) and how many cases hold each of its
// evidence items.
func (x *Index) learn(c *rec) {
	x.learnPlaces(c)
	for _, e := range c.ev {
		x.df[e]++
	}
}

// learnPlaces adds the record's incidents with coordinates to the learned
// locations of their place names.
func (x *Index) learnPlaces(c *rec) {
	for i := range c.inc {
		in := &c.inc[i]
		if in.hasGeo {
			k := placeKey(in.fold, in.region)
			p := x.places[k]
			if p == nil {
				p = &placeLoc{}
				x.places[k] = p
			}
			p.lat += in.lat
			p.lon += in.lon
			p.n++
		}
	}
}

func (x *Index) addLocked(c *rec) int32 {
	if slot, ok := x.byID[c.id]; ok {
		x.removeLocked(slot)
	}
	x.learn(c)
	keys := blockingKeys(c, x.loc)
	var slot int32
	if n := len(x.free); n > 0 {
		slot = x.free[n-1]
		x.free = x.free[:n-1]
		x.recs[slot], x.keys[slot] = c, keys
	} else {
		slot = int32(len(x.recs))
		x.recs = append(x.recs, c)
		x.keys = append(x.keys, keys)
	}
	x.byID[c.id] = slot
	for _, k := range keys {
		x.post[k] = append(x.post[k], slot)
	}
	return slot
}

// Remove removes the record with this id; it reports whether there was one.
func (x *Index) Remove(id string) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	slot, ok := x.byID[id]
	if !ok {
		return false
	}
	x.removeLocked(slot)
	return true
}

func (x *Index) removeLocked(slot int32) {
	c := x.recs[slot]
	for _, k := range x.keys[slot] {
		l := x.post[k]
		if i := slices.Index(l, slot); i >= 0 {
			l[i] = l[len(l)-1]
			l = l[:len(l)-1]
		}
		if len(l) == 0 {
			delete(x.post, k)
		} else {
			x.post[k] = l
		}
	}
	for _, e := range c.ev {
		if x.df[e]--; x.df[e] <= 0 {
			delete(x.df, e)
		}
	}
	for i := range c.inc {
		in := &c.inc[i]
		if in.hasGeo {
			k := placeKey(in.fold, in.region)
			if p := x.places[k]; p != nil {
				p.lat -= in.lat
				p.lon -= in.lon
				if p.n--; p.n <= 0 {
					delete(x.places, k)
				}
			}
		}
	}
	delete(x.byID, c.id)
	x.recs[slot], x.keys[slot] = nil, nil
	x.free = append(x.free, slot)
}

// Match returns the matches of r against every other record in the
// index, best first. r need not be in the index; when it is (same id),
// its stored form is used, so the result is what a full offline match
// reports for r.
func (x *Index) Match(r Record) ([]Match, error) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	var c *rec
	var keys []uint64
	self := int32(-1)
	if slot, ok := x.byID[r.ID]; ok {
		self, c, keys = slot, x.recs[slot], x.keys[slot]
	} else {
		var err error
		if c, err = compile(r, nil); err != nil {
			return nil, err
		}
		keys = blockingKeys(c, x.loc)
	}
	cands := x.candidates(keys, self, nil)
	cmp := x.scorer()
	if self < 0 {
		// r is not counted in df yet: count it.
		own := map[uint64]bool{}
		for _, e := range c.ev {
			own[e] = true
		}
		cmp.df = func(k uint64) int {
			n := int(x.df[k])
			if own[k] {
				n++
			}
			return n
		}
	}
	var out []Match
	for _, j := range cands {
		o := x.recs[j]
		if m, ok := x.score(cmp, c, o); ok {
			out = append(out, m)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Score != out[j].Score {
			return out[i].Score > out[j].Score
		}
		return out[i].A+out[i].B < out[j].A+out[j].B
	})
	return out, nil
}

// ScorePair returns the probability under the model that the records a
// and b (ids) concern the same incident, whatever the threshold (0 for a
// pair the comparisons rule out), and false when either is not in the
// index. The incident clusters' chaining guard compares a cluster's cases
// with it.
func (x *Index) ScorePair(a, b string) (float64, bool) {
	c, ok := x.compare(a, b, false)
	return c.Score, ok
}

// Comparison is how two indexed records compare, whatever the threshold:
// the match as Index.Match would report it (Score 0 and no reasons for a
// pair the comparisons rule out), and what the comparisons found. A and B
// are in id order.
type Comparison struct {
	Match
	// IncidentA and IncidentB index the incidents of A and B (in the
	// records' order) that the time, place and distance levels compare:
	// the pair that weighs most; -1 when either record has none.
	IncidentA, IncidentB int
	// StartDiff is how far apart those incidents' starts are (never
	// negative); Gap the time between their windows (negative: they
	// overlap).
	StartDiff, Gap time.Duration
	// Km is the distance between them when both have coordinates (HasKm).
	Km    float64
	HasKm bool
	// SharedEvidence counts the evidence items both records name, and
	// PersonsMatching the persons whose tokens match (never names).
	SharedEvidence, PersonsMatching int
}

// Compare compares the indexed records a and b (ids) with the model in
// use; false when either is not in the index.
func (x *Index) Compare(a, b string) (Comparison, bool) {
	return x.compare(a, b, true)
}

// compare is Compare; the reasons are put into words only when asked.
func (x *Index) compare(a, b string, words bool) (Comparison, bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	sa, ok := x.byID[a]
	sb, ok2 := x.byID[b]
	if !ok || !ok2 || sa == sb {
		return Comparison{}, false
	}
	ra, rb := x.recs[sa], x.recs[sb]
	if idLess(rb, ra) {
		ra, rb = rb, ra
	}
	g, det := x.comparer().compareRecs(ra, rb, x.model.incidentWeight)
	c := Comparison{Match: Match{A: ra.id, B: rb.id, Levels: g, Model: x.model}, IncidentA: -1, IncidentB: -1}
	if det.cut {
		return c, true
	}
	c.Weight = x.model.weight(g)
	c.Score = Probability(c.Weight)
	if words {
		c.Reasons, c.Bare = reasons(x.model, ra, rb, g, det)
	}
	if len(ra.inc) > 0 && len(rb.inc) > 0 {
		c.IncidentA, c.IncidentB = det.ia, det.ib
		c.StartDiff, c.Gap = time.Duration(det.dt)*time.Second, time.Duration(det.gap)*time.Second
		c.Km, c.HasKm = det.km, g[fDist] >= 0
	}
	c.SharedEvidence, c.PersonsMatching = det.evShared, det.personsMatch
	return c, true
}

func (x *Index) score(cmp *comparer, a, b *rec) (Match, bool) {
	if idLess(b, a) {
		a, b = b, a
	}
	g, det := cmp.compareRecs(a, b, x.model.incidentWeight)
	if det.cut {
		return Match{}, false
	}
	w := x.model.weight(g)
	p := Probability(w)
	if p < x.cfg.Threshold {
		return Match{}, false
	}
	full, bare := reasons(x.model, a, b, g, det)
	return Match{A: a.id, B: b.id, Score: math.Round(p*10000) / 10000, Weight: w, Reasons: full, Bare: bare,
		Levels: g, Model: x.model}, true
}

// candidates returns the distinct slots that share a blocking key with
// keys, excluding self. mark, when given, is a per-slot stamp array used
// instead of sorting (offline runs).
func (x *Index) candidates(keys []uint64, self int32, buf []int32) []int32 {
	out := buf[:0]
	for _, k := range keys {
		var l []int32
		if x.batch != nil {
			l = x.batch.list(k)
		} else {
			l = x.post[k]
		}
		if keyKind(k) == kindEvidence && len(l) > x.cfg.MaxEvidenceBucket {
			continue
		}
		for _, j := range l {
			if j != self {
				out = append(out, j)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Stats describe an offline run.
type Stats struct {
	Records        int
	CandidatePairs int
	Matches        int
	EMPatterns     int
	EMPairs        int
	// NonMatchPairs is the number of pseudo-candidate pairs u was
	// estimated from; Fallback says why EM's m was not used ("" when it
	// was).
	NonMatchPairs int
	Fallback      string
	// Timings of the phases of an offline run (Batch.Run).
	Timings struct {
		// Index: ordering, packing and the postings of the blocking
		// keys; Train: fitting the model; Compare: scoring every
		// candidate pair.
		Index, Train, Compare time.Duration
	}
}

func (s Stats) String() string {
	out := fmt.Sprintf("%d records, %d candidate pairs, %d matches (EM on %d pairs, %d distinct patterns; u from %d non-match pairs)",
		s.Records, s.CandidatePairs, s.Matches, s.EMPairs, s.EMPatterns, s.NonMatchPairs)
	if s.Fallback != "" {
		out += "; EM guard: " + s.Fallback
	}
	if t := s.Timings; t.Index+t.Train+t.Compare > 0 {
		out += fmt.Sprintf("; index %s, model %s, comparisons %s", t.Index.Round(time.Millisecond), t.Train.Round(time.Millisecond), t.Compare.Round(time.Millisecond))
	}
	return out
}

// PlaceAliases returns the folded place names (FoldPlace's fold) whose
// learned location (the mean of their incidents' coordinates, per region)
// lies within km of a learned location of fold, fold itself excluded, in
// sorted order: the names that the index takes as one place at the level
// "names at the same learned location". It reads what the index learned
// and changes nothing; nil when fold has no learned location.
func (x *Index) PlaceAliases(fold string, km float64) []string {
	x.mu.RLock()
	defer x.mu.RUnlock()
	type point struct{ lat, lon, cos float64 }
	var at []point
	for k, p := range x.places {
		if k.fold == fold && p.n > 0 {
			lat := p.lat / float64(p.n)
			at = append(at, point{lat, p.lon / float64(p.n), cosDeg(lat)})
		}
	}
	if len(at) == 0 {
		return nil
	}
	seen := map[string]bool{}
	for k, p := range x.places {
		if k.fold == fold || k.fold == "" || p.n == 0 || seen[k.fold] {
			continue
		}
		lat, lon := p.lat/float64(p.n), p.lon/float64(p.n)
		c := cosDeg(lat)
		for _, q := range at {
			if distKm(q.lat, q.lon, q.cos, lat, lon, c) <= km {
				seen[k.fold] = true
				break
			}
		}
	}
	return slices.Sorted(maps.Keys(seen))
}
