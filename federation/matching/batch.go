package matching

import (
	"cmp"
	"runtime"
	"slices"
	"sort"
	"sync"
)

// MatchAll matches every record against every other, as `accordctl match`
// does: it builds an index, fits the model by EM on the candidate pairs
// when train is true (otherwise cfg.Model or DefaultModel is used), and
// returns every pair whose score reaches the threshold, each unordered
// pair once with A < B, sorted by A then B.
func MatchAll(records []Record, cfg Config, train bool) ([]Match, *Model, Stats, error) {
	x := NewIndex(cfg)
	comp := make([]*rec, len(records))
	errs := make([]error, len(records))
	parallel(len(records), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			comp[i], errs[i] = compile(records[i])
		}
	})
	for _, err := range errs {
		if err != nil {
			return nil, nil, Stats{}, err
		}
	}
	// Locations first (they feed geo keys of cases without coordinates),
	// then the records.
	for _, c := range comp {
		x.learnPlaces(c)
	}
	keys := make([][]uint64, len(comp))
	parallel(len(comp), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			keys[i] = blockingKeys(comp[i], x.loc)
		}
	})
	x.places = map[placeID]*placeLoc{} // rebuilt below
	kept := keys[:0]
	for i, c := range comp {
		if _, dup := x.byID[c.id]; dup {
			continue // the first line wins
		}
		x.addBatch(c)
		kept = append(kept, keys[i])
		comp[i] = nil
	}
	x.buildBatchPostings(kept)
	// The index is complete: cache the learned location of every place.
	parallel(len(x.recs), func(lo, hi int) {
		for _, c := range x.recs[lo:hi] {
			for i := range c.inc {
				in := &c.inc[i]
				in.learnedLat, in.learnedLon, in.learnedOK = x.loc(in.fold, in.region)
				in.learnedSet = true
			}
		}
	})
	st := Stats{Records: len(x.byID)}
	if train {
		step := max(1, len(x.recs)/200000)
		pc, pairs := x.patterns(step)
		st.EMPatterns, st.EMPairs = len(pc), pairs
		if pairs >= MinTrainingPairs {
			nm, nmPairs := x.nonMatchPatterns(max(1, len(x.recs)/10000))
			var info trainInfo
			x.model, info = fitModel(x.model, pc, nm, nmPairs)
			st.NonMatchPairs, st.Fallback = nmPairs, info.Fallback
		}
	}
	ms, cands := x.all()
	st.CandidatePairs, st.Matches = cands, len(ms)
	return ms, x.model, st, nil
}

// MinTrainingPairs is the fewest candidate pairs EM is run on; with fewer,
// MatchAll keeps the starting model.
const MinTrainingPairs = 500

// addBatch adds a record to an index being built by MatchAll: its
// place locations and evidence counts; postings come later
// (buildBatchPostings).
func (x *Index) addBatch(c *rec) {
	x.learn(c)
	slot := int32(len(x.recs))
	x.recs = append(x.recs, c)
	x.byID[c.id] = slot
}

// batchPostings are the posting lists of an index built by MatchAll, in
// flat arrays instead of a map of slices: the distinct keys sorted, the
// slots of key g at slots[off[g]:off[g+1]], and the keys of record s that
// other records share (as indices into keys) at groups[roff[s]:roff[s+1]].
type batchPostings struct {
	keys   []uint64
	off    []int32
	slots  []int32
	roff   []int32
	groups []int32
}

// list returns the slots that hold key k.
func (b *batchPostings) list(k uint64) []int32 {
	g, ok := slices.BinarySearch(b.keys, k)
	if !ok {
		return nil
	}
	return b.slots[b.off[g]:b.off[g+1]]
}

// buildBatchPostings builds x.batch from the keys of every slot; keys
// are released as they are consumed.
func (x *Index) buildBatchPostings(keys [][]uint64) {
	type entry struct {
		k uint64
		s int32
	}
	// Bucket the (key, slot) entries by the key's top 10 bits, then sort
	// the buckets in parallel: the result is sorted by key.
	const nb = 1024
	bucketOf := func(k uint64) int { return int(k >> 54) }
	var cnt [nb + 1]int
	for _, ks := range keys {
		for _, k := range ks {
			cnt[bucketOf(k)+1]++
		}
	}
	for b := 1; b <= nb; b++ {
		cnt[b] += cnt[b-1]
	}
	starts := cnt
	ent := make([]entry, cnt[nb])
	for s, ks := range keys {
		for _, k := range ks {
			b := bucketOf(k)
			ent[cnt[b]] = entry{k, int32(s)}
			cnt[b]++
		}
		keys[s] = nil
	}
	parallel(nb, func(lo, hi int) {
		for b := lo; b < hi; b++ {
			part := ent[starts[b]:starts[b+1]]
			slices.SortFunc(part, func(p, q entry) int {
				if p.k != q.k {
					return cmp.Compare(p.k, q.k)
				}
				return cmp.Compare(p.s, q.s)
			})
		}
	})
	bp := &batchPostings{slots: make([]int32, len(ent))}
	nrec := len(keys)
	rcnt := make([]int32, nrec+1)
	for i := 0; i < len(ent); {
		j := i
		for j < len(ent) && ent[j].k == ent[i].k {
			j++
		}
		bp.keys = append(bp.keys, ent[i].k)
		bp.off = append(bp.off, int32(i))
		shared := j-i > 1 && (keyKind(ent[i].k) != kindEvidence || j-i <= x.cfg.MaxEvidenceBucket)
		for e := i; e < j; e++ {
			bp.slots[e] = ent[e].s
			if shared {
				rcnt[ent[e].s+1]++
			}
		}
		i = j
	}
	bp.off = append(bp.off, int32(len(ent)))
	for s := 1; s <= nrec; s++ {
		rcnt[s] += rcnt[s-1]
	}
	bp.roff = rcnt
	bp.groups = make([]int32, rcnt[nrec])
	fill := slices.Clone(rcnt[:nrec])
	for g := range len(bp.keys) {
		lo, hi := bp.off[g], bp.off[g+1]
		if hi-lo < 2 || (keyKind(bp.keys[g]) == kindEvidence && int(hi-lo) > x.cfg.MaxEvidenceBucket) {
			continue
		}
		for _, s := range bp.slots[lo:hi] {
			bp.groups[fill[s]] = int32(g)
			fill[s]++
		}
	}
	x.batch = bp
}

// parallel runs fn over [0, n) in chunks on every CPU.
func parallel(n int, fn func(lo, hi int)) {
	workers := runtime.GOMAXPROCS(0)
	chunk := max(1, (n+workers*8-1)/(workers*8))
	var wg sync.WaitGroup
	next := make(chan int, n/chunk+1)
	for lo := 0; lo < n; lo += chunk {
		next <- lo
	}
	close(next)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for lo := range next {
				fn(lo, min(n, lo+chunk))
			}
		}()
	}
	wg.Wait()
}

// all scores every candidate pair with the index's model.
func (x *Index) all() ([]Match, int) {
	workers := runtime.GOMAXPROCS(0)
	res := make([][]Match, workers)
	counts := make([]int, workers)
	cmp := x.comparer()
	x.eachPair(1, func(w int, i, j int32) {
		counts[w]++
		if m, ok := x.score(cmp, x.recs[i], x.recs[j]); ok {
			res[w] = append(res[w], m)
		}
	})
	var out []Match
	total := 0
	for w := range res {
		out = append(out, res[w]...)
		total += counts[w]
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].A != out[j].A {
			return out[i].A < out[j].A
		}
		return out[i].B < out[j].B
	})
	return out, total
}

// patterns counts the comparison vectors of the candidate pairs of every
// step-th record, for EM.
func (x *Index) patterns(step int) (patternCounts, int) {
	workers := runtime.GOMAXPROCS(0)
	pcs := make([]patternCounts, workers)
	n := make([]int, workers)
	for w := range pcs {
		pcs[w] = patternCounts{}
	}
	cmp := x.comparer()
	x.eachPair(step, func(w int, i, j int32) {
		a, b := x.recs[i], x.recs[j]
		if idLess(b, a) {
			a, b = b, a
		}
		g, _ := cmp.compareRecs(a, b, x.model.incidentWeight)
		pcs[w][g.key()]++
		n[w]++
	})
	out := pcs[0]
	total := n[0]
	for w := 1; w < workers; w++ {
		for k, v := range pcs[w] {
			out[k] += v
		}
		total += n[w]
	}
	return out, total
}

// eachPair calls fn(worker, i, j) for every candidate pair i < j where i
// is a multiple of step; workers run concurrently, each with its own mark
// array so that a pair found through several keys is visited once.
func (x *Index) eachPair(step int, fn func(w int, i, j int32)) {
	n := len(x.recs)
	workers := runtime.GOMAXPROCS(0)
	chunk := 1024 * step
	next := make(chan int, n/chunk+1)
	for lo := 0; lo < n; lo += chunk {
		next <- lo
	}
	close(next)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mark := make([]int32, n)
			for k := range mark {
				mark[k] = -1
			}
			for lo := range next {
				for i := lo; i < min(n, lo+chunk); i += step {
					if x.recs[i] == nil {
						continue
					}
					if bp := x.batch; bp != nil {
						for _, g := range bp.groups[bp.roff[i]:bp.roff[i+1]] {
							for _, j := range bp.slots[bp.off[g]:bp.off[g+1]] {
								if j <= int32(i) || mark[j] == int32(i) {
									continue
								}
								mark[j] = int32(i)
								fn(w, int32(i), j)
							}
						}
						continue
					}
					for _, k := range x.keys[i] {
						l := x.post[k]
						if keyKind(k) == kindEvidence && len(l) > x.cfg.MaxEvidenceBucket {
							continue
						}
						for _, j := range l {
							if j <= int32(i) || mark[j] == int32(i) {
								continue
							}
							mark[j] = int32(i)
							fn(w, int32(i), j)
						}
					}
				}
			}
		}()
	}
	wg.Wait()
}

// nonMatchShifts are the shifts, in days, of the pseudo-candidates of
// nonMatchPatterns: whole weeks, so that weekdays and hours keep their
// pattern, and far enough that no window of one incident reaches.
var nonMatchShifts = []int64{-35, -28, -21, -14, 14, 21, 28, 35}

// nonMatchPatterns counts the comparison vectors of pairs that look like
// candidates but are not the same incident: every step-th record against
// the records that its place and geo keys, moved some weeks, meet, their
// incidents moved back by as many weeks. The pairs have the density of
// candidates in places and days and the agreement of places and hours,
// but are (almost all) different incidents; they estimate u.
func (x *Index) nonMatchPatterns(step int) (patternCounts, int) {
	n := len(x.recs)
	workers := runtime.GOMAXPROCS(0)
	pcs := make([]patternCounts, workers)
	cnt := make([]int, workers)
	var wg sync.WaitGroup
	for w := range workers {
		cmp := x.comparer()
		pcs[w] = patternCounts{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf []int32
			for i := w * step; i < n; i += workers * step {
				a := x.recs[i]
				if a == nil {
					continue
				}
				for _, sh := range nonMatchShifts {
					keys := blockingKeysShifted(a, x.loc, sh, false)
					buf = x.candidates(keys, int32(i), buf)
					cmp.shiftB = -sh * 86400
					for _, j := range buf {
						g, _ := cmp.compareRecs(a, x.recs[j], x.model.incidentWeight)
						pcs[w][g.key()]++
						cnt[w]++
					}
				}
			}
		}()
	}
	wg.Wait()
	out, total := pcs[0], cnt[0]
	for w := 1; w < workers; w++ {
		for k, v := range pcs[w] {
			out[k] += v
		}
		total += cnt[w]
	}
	return out, total
}
