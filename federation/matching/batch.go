package matching

import (
	"runtime"
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
	keys := make([][]uint64, len(comp))
	parallel(len(comp), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			keys[i] = blockingKeys(comp[i], x.loc)
		}
	})
	x.places = map[string]*placeLoc{} // rebuilt by addLocked below
	for i, c := range comp {
		if _, dup := x.byID[c.id]; dup {
			continue // the later line wins
		}
		x.addLockedKeys(c, keys[i])
	}
	st := Stats{Records: len(x.byID)}
	if train {
		step := max(1, len(x.recs)/200000)
		pc, pairs := x.patterns(step)
		st.EMPatterns, st.EMPairs = len(pc), pairs
		if pairs >= MinTrainingPairs {
			x.model = fitEM(x.model, pc, 200)
		}
	}
	ms, cands := x.all()
	st.CandidatePairs, st.Matches = cands, len(ms)
	return ms, x.model, st, nil
}

// MinTrainingPairs is the fewest candidate pairs EM is run on; with fewer,
// MatchAll keeps the starting model.
const MinTrainingPairs = 500

func (x *Index) addLockedKeys(c *rec, keys []uint64) {
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
	for _, e := range c.ev {
		x.df[e]++
	}
	slot := int32(len(x.recs))
	x.recs = append(x.recs, c)
	x.keys = append(x.keys, keys)
	x.byID[c.id] = slot
	for _, k := range keys {
		x.post[k] = append(x.post[k], slot)
	}
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
		if a.id > b.id {
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
