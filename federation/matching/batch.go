package matching

import (
	"cmp"
	"context"
	"math"
	"runtime"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// MatchAll matches every record against every other, as `accordctl match`
// does: it builds an index, fits the model by EM on the candidate pairs
// when train is true (otherwise cfg.Model or DefaultModel is used), and
// returns every pair whose score reaches the threshold, each unordered
// pair once with A < B, sorted by A then B. It is [NewBatch], [Batch.Add]
// and [Batch.Run].
func MatchAll(records []Record, cfg Config, train bool) ([]Match, *Model, Stats, error) {
	b := NewBatch(cfg)
	if err := b.Add(records); err != nil {
		return nil, nil, Stats{}, err
	}
	return b.Run(train)
}

// Batch is an offline run being assembled. Add compiles records as they
// come, on every CPU, and keeps only their compact compiled form, so that
// a caller reading a million cases from files need not hold them all as
// Records; Run matches them. A Batch is not safe for concurrent use.
type Batch struct {
	cfg    Config
	comp   []*rec
	places *placeTable
	ran    bool
}

// NewBatch returns an empty offline run.
func NewBatch(cfg Config) *Batch { return &Batch{cfg: cfg, places: newPlaceTable()} }

// Len is the number of records added.
func (b *Batch) Len() int { return len(b.comp) }

// Add compiles records and appends them in order; records may be reused
// by the caller afterwards. When an id is added more than once, the first
// wins. A record that cannot be compiled fails the call, and nothing of
// it is added.
func (b *Batch) Add(records []Record) error {
	if b.ran {
		return ErrBatchDone
	}
	comp := make([]*rec, len(records))
	errs := make([]error, len(records))
	parallel(len(records), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			comp[i], errs[i] = compile(records[i], b.places)
		}
	})
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	b.comp = append(b.comp, comp...)
	return nil
}

// Run matches every record added against every other (see MatchAll). A
// batch runs once: its records are handed over to the index.
func (b *Batch) Run(train bool) ([]Match, *Model, Stats, error) {
	return b.RunContext(context.Background(), train)
}

// RunContext is Run, given up (with ctx's error) soon after ctx ends.
func (b *Batch) RunContext(ctx context.Context, train bool) ([]Match, *Model, Stats, error) {
	if b.ran {
		return nil, nil, Stats{}, ErrBatchDone
	}
	b.ran = true
	x := NewIndex(b.cfg)
	x.stop = func() bool { return ctx.Err() != nil }
	x.byID = make(map[string]int32, len(b.comp))
	for i, c := range b.comp {
		if _, dup := x.byID[c.id]; !dup { // the first wins
			x.addBatch(c)
		}
		b.comp[i] = nil
	}
	b.comp, b.places = nil, nil
	// A batch looks nothing up by id any more: a million ids less for
	// the collector to trace.
	nrec := len(x.byID)
	x.byID = nil
	// Every location is learned: blocking keys (geo keys of cases without
	// coordinates use learned locations) and cached learned locations of
	// the (shared) places.
	for _, c := range x.recs {
		for i := range c.inc {
			if p := c.inc[i].cplace; !p.learnedSet {
				p.learnedLat, p.learnedLon, p.learnedOK = x.loc(p.fold, p.region)
				p.learnedCos, p.learnedSet = cosDeg(p.learnedLat), true
			}
		}
	}
	t0 := time.Now()
	x.order = x.localityOrder()
	x.repack()
	x.buildBatchPostings()
	if err := ctx.Err(); err != nil {
		return nil, nil, Stats{}, err
	}
	st := Stats{Records: nrec}
	t1 := time.Now()
	st.Timings.Index = t1.Sub(t0)
	if train {
		step := x.emStep()
		pc, pairs := x.patterns(step)
		st.EMPatterns, st.EMPairs = len(pc), pairs
		if pairs >= MinTrainingPairs {
			// As many pseudo-pairs for u as nonMatchTarget: each sampled
			// record meets about as many records per shift as it has
			// candidates.
			perRecord := float64(pairs) * 2 / float64(max(1, (len(x.recs)+step-1)/step))
			nmStep := max(1, int(float64(len(x.recs))*perRecord*float64(len(nonMatchShifts))/nonMatchTarget))
			nm, nmPairs := x.nonMatchPatterns(nmStep)
			var info trainInfo
			x.model, info = fitModel(x.model, pc, nm, nmPairs)
			st.NonMatchPairs, st.Fallback = nmPairs, info.Fallback
		}
	}
	t2 := time.Now()
	st.Timings.Train = t2.Sub(t1)
	ms, cands := x.all()
	if err := ctx.Err(); err != nil {
		return nil, nil, Stats{}, err
	}
	st.Timings.Compare = time.Since(t2)
	st.CandidatePairs, st.Matches = cands, len(ms)
	return ms, x.model, st, nil
}

// emSampleRecords is the number of records whose candidate pairs EM is
// fitted on, emMaxPairs about the most pairs it is fitted on (dense
// places and days give each record hundreds of candidates at a million
// cases, and a few million pairs fit a model of nine features as well as
// fifty million); nonMatchTarget is about how many pseudo-pairs u is
// estimated from.
const (
	emSampleRecords = 200000
	emMaxPairs      = 2500000
	nonMatchTarget  = 300000
)

// emStep returns the step of the records whose candidate pairs EM is
// fitted on: all records up to emSampleRecords, every step-th beyond, and
// a larger step when that would give more than about emMaxPairs pairs
// (counted on every 64th step-th record).
func (x *Index) emStep() int {
	step := max(1, len(x.recs)/emSampleRecords)
	const probe = 64
	ws := make([]perWorker, runtime.GOMAXPROCS(0))
	x.eachPair(step*probe, func(w int, _, _ int32) { ws[w].n++ })
	est := 0
	for _, t := range ws {
		est += t.n * probe
	}
	if est > emMaxPairs {
		step = (est*step + emMaxPairs - 1) / emMaxPairs
	}
	return step
}

// MinTrainingPairs is the fewest candidate pairs EM is run on; with fewer,
// MatchAll keeps the starting model.
const MinTrainingPairs = 500

// addBatch adds a record to an index being built by MatchAll: its
// place locations; postings come later (buildBatchPostings), and they
// count the cases of each evidence item (comparer).
func (x *Index) addBatch(c *rec) {
	x.learnPlaces(c)
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
	pre    []int32 // keys[pre[p]:pre[p+1]] are the keys whose top prefixBits bits are p
	off    []int32
	slots  []int32
	roff   []int32
	groups []int32
}

// postingsPassEntries is about how many (key, slot) entries
// buildBatchPostings sorts at once (16 bytes each); a variable for tests.
var postingsPassEntries = 1 << 22

// prefixBits is the length of the key prefix batchPostings.pre indexes.
const prefixBits = 20

// list returns the slots that hold key k.
func (b *batchPostings) list(k uint64) []int32 {
	p := k >> (64 - prefixBits)
	lo, hi := b.pre[p], b.pre[p+1]
	g, ok := slices.BinarySearch(b.keys[lo:hi], k)
	if !ok {
		return nil
	}
	g += int(lo)
	return b.slots[b.off[g]:b.off[g+1]]
}

// buildBatchPostings builds x.batch from the blocking keys of every slot.
// The keys are computed once and kept, per chunk of slots (8 bytes a
// key); then for every range of key buckets holding about
// postingsPassEntries entries, the (key, slot) entries of the range are
// gathered, sorted and appended. The entries (16 bytes each) are thus
// never all held at once.
func (x *Index) buildBatchPostings() {
	type entry struct {
		k uint64
		s int32
	}
	const nb = 1024 // buckets: the key's top 10 bits
	bucketOf := func(k uint64) int { return int(k >> 54) }
	nrec := len(x.recs)
	const chunk = 4096
	nchunks := (nrec + chunk - 1) / chunk
	keysOf := func(s int, buf []uint64) []uint64 { return blockingKeysInto(buf, x.recs[s], x.loc, 0, true) }
	// The keys of the slots of chunk ch are chunkKeys[ch], slot
	// ch*chunk+i's at [chunkOff[ch][i], chunkOff[ch][i+1]). Count the
	// entries per chunk and per bucket.
	counts := make([][nb]int32, nchunks)
	chunkKeys := make([][]uint64, nchunks)
	chunkOff := make([][]int32, nchunks)
	parallel(nchunks, func(lo, hi int) {
		var buf []uint64
		for ch := lo; ch < hi; ch++ {
			var ks []uint64
			off := make([]int32, 1, chunk+1)
			for s := ch * chunk; s < min(nrec, (ch+1)*chunk); s++ {
				buf = keysOf(s, buf)
				for _, k := range buf {
					counts[ch][bucketOf(k)]++
				}
				ks = append(ks, buf...)
				off = append(off, int32(len(ks)))
			}
			chunkKeys[ch], chunkOff[ch] = slices.Clip(ks), off
		}
	})
	// Entries are laid out by bucket, within a bucket by chunk: starts[b]
	// is bucket b's first entry, pos[ch][b] chunk ch's first in bucket b.
	var starts [nb + 1]int
	pos := make([][nb]int, nchunks)
	total := 0
	for b := range nb {
		starts[b] = total
		for ch := range nchunks {
			pos[ch][b] = total
			total += int(counts[ch][b])
		}
	}
	starts[nb] = total
	counts = nil
	bp := &batchPostings{slots: make([]int32, total)}
	rcnt := make([]int32, nrec+1)
	var ent []entry
	for b0 := 0; b0 < nb && !x.stopped(); {
		b1 := b0 + 1
		for b1 < nb && starts[b1+1]-starts[b0] <= postingsPassEntries {
			b1++
		}
		base := starts[b0]
		if n := starts[b1] - base; cap(ent) < n {
			ent = make([]entry, n)
		}
		ent = ent[:starts[b1]-base]
		parallel(nchunks, func(lo, hi int) {
			for ch := lo; ch < hi; ch++ {
				p := &pos[ch]
				ks, off := chunkKeys[ch], chunkOff[ch]
				for s := ch * chunk; s < min(nrec, (ch+1)*chunk); s++ {
					i := s - ch*chunk
					for _, k := range ks[off[i]:off[i+1]] {
						if b := bucketOf(k); b >= b0 && b < b1 {
							ent[p[b]-base] = entry{k, int32(s)}
							p[b]++
						}
					}
				}
			}
		})
		parallel(b1-b0, func(lo, hi int) {
			for b := b0 + lo; b < b0+hi; b++ {
				slices.SortFunc(ent[starts[b]-base:starts[b+1]-base], func(p, q entry) int {
					if p.k != q.k {
						return cmp.Compare(p.k, q.k)
					}
					return cmp.Compare(p.s, q.s)
				})
			}
		})
		// Equal keys share a bucket: count each bucket's distinct keys,
		// then write every bucket's keys, offsets and slots at their
		// places, buckets in parallel.
		nbk := b1 - b0
		first := make([]int, nbk+1) // bucket b0+i's first key is bp.keys[kb+first[i]]
		bucket := func(i int) (int, []entry) {
			lo := starts[b0+i] - base
			return lo, ent[lo : starts[b0+i+1]-base]
		}
		parallel(nbk, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				_, e := bucket(i)
				d := 0
				for q := range e {
					if q == 0 || e[q].k != e[q-1].k {
						d++
					}
				}
				first[i+1] = d
			}
		})
		for i := range nbk {
			first[i+1] += first[i]
		}
		kb := len(bp.keys)
		bp.keys = slices.Grow(bp.keys, first[nbk])[:kb+first[nbk]]
		bp.off = slices.Grow(bp.off, first[nbk])[:kb+first[nbk]]
		parallel(nbk, func(lo, hi int) {
			for bi := lo; bi < hi; bi++ {
				at, e := bucket(bi)
				g := kb + first[bi]
				for i := 0; i < len(e); {
					j := i
					for j < len(e) && e[j].k == e[i].k {
						j++
					}
					bp.keys[g], bp.off[g] = e[i].k, int32(base+at+i)
					g++
					shared := j-i > 1 && (keyKind(e[i].k) != kindEvidence || j-i <= x.cfg.MaxEvidenceBucket)
					for q := i; q < j; q++ {
						bp.slots[base+at+q] = e[q].s
						if shared {
							atomic.AddInt32(&rcnt[e[q].s+1], 1)
						}
					}
					i = j
				}
			}
		})
		b0 = b1
	}
	ent, chunkKeys, chunkOff = nil, nil, nil
	bp.off = append(bp.off, int32(total))
	bp.pre = make([]int32, 1<<prefixBits+1)
	g := 0
	for p := range 1 << prefixBits {
		for g < len(bp.keys) && bp.keys[g]>>(64-prefixBits) < uint64(p) {
			g++
		}
		bp.pre[p] = int32(g)
	}
	bp.pre[1<<prefixBits] = int32(len(bp.keys))
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
	ws := make([]perWorker, runtime.GOMAXPROCS(0))
	cmp := x.scorer()
	x.eachPair(1, func(w int, i, j int32) {
		t := &ws[w]
		t.n++
		if m, ok := x.score(cmp, x.recs[i], x.recs[j]); ok {
			t.res = append(t.res, m)
		}
	})
	var out []Match
	total := 0
	for _, t := range ws {
		out = append(out, t.res...)
		total += t.n
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
	ws := make([]perWorker, runtime.GOMAXPROCS(0))
	for w := range ws {
		ws[w].pc = patternCounts{}
	}
	cmp := x.comparer()
	x.eachPair(step, func(w int, i, j int32) {
		a, b := x.recs[i], x.recs[j]
		if idLess(b, a) {
			a, b = b, a
		}
		g, _ := cmp.compareRecs(a, b, x.model.incidentWeight)
		ws[w].pc[g.key()]++
		ws[w].n++
	})
	return sumWorkers(ws)
}

// localityOrder returns the slots ordered by the day their first incident
// starts, then by place (the 0.1° cell of its point, given or learned, or
// its name's skeleton): records that are each other's candidates come
// together. Visiting the slots in this order, eachPair meets the same few
// hundred records over and over while they are in the CPU's caches,
// instead of a record from anywhere in memory at every pair. The order
// changes nothing else: each pair is still visited from its lower slot.
func (x *Index) localityOrder() []int32 {
	type sk struct {
		day   int64
		place uint64
		slot  int32
	}
	keys := make([]sk, 0, len(x.recs))
	for s, c := range x.recs {
		k := sk{day: math.MaxInt64, slot: int32(s)}
		if c != nil && len(c.inc) > 0 {
			in := &c.inc[0]
			k.day = floorDiv(in.s, 86400)
			lat, lon, ok := in.lat, in.lon, in.hasGeo
			if !ok {
				lat, lon, ok = in.learnedLat, in.learnedLon, in.learnedOK
			}
			if ok {
				k.place = mix(uint64(int64(math.Floor(lat/cellDeg))), uint64(int64(math.Floor(lon/cellDeg))), 5)
			} else {
				k.place = in.skelH
			}
		}
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b sk) int {
		if c := cmp.Compare(a.day, b.day); c != 0 {
			return c
		}
		if c := cmp.Compare(a.place, b.place); c != 0 {
			return c
		}
		return cmp.Compare(a.slot, b.slot)
	})
	order := make([]int32, len(keys))
	for p, k := range keys {
		order[p] = k.slot
	}
	return order
}

// repack copies the compiled records into a few large arrays, one per
// kind of field, in the order eachPair visits them (x.order, which must
// be set and hold every slot): the records
// a worker compares one after the other then lie next to each other in
// memory, and a comparison reads a few cache lines shared with its
// neighbours instead of a handful of small objects from anywhere in a
// heap of a gigabyte. Persons (tokens, about 130 bytes per person and
// key) stay where they are: only about a third of the pairs get to compare
// them, and copying them would add 200 MB to the peak at a million cases. The
// records are copied on every CPU; nothing else changes.
func (x *Index) repack() {
	order := x.order
	// at[p] is where the p-th record's fields start in each array.
	type offsets struct{ inc, ev, str int }
	at := make([]offsets, len(order)+1)
	for p, s := range order {
		o := at[p]
		if c := x.recs[s]; c != nil {
			o.inc += len(c.inc)
			o.ev += len(c.ev) + len(c.titleToks)
			o.str += len(c.units) + len(c.rs)
		}
		at[p+1] = o
	}
	end := at[len(order)]
	var (
		recs = make([]rec, len(order))
		incs = make([]cinc, end.inc)
		evs  = make([]uint64, end.ev)
		strs = make([]string, end.str)
	)
	parallel(len(order), func(lo, hi int) {
		for p := lo; p < hi; p++ {
			s := order[p]
			c := x.recs[s]
			if c == nil {
				continue
			}
			r, o := &recs[p], at[p]
			*r = *c
			if c.inc != nil {
				r.inc = incs[o.inc : o.inc+len(c.inc) : o.inc+len(c.inc)]
				copy(r.inc, c.inc)
			}
			if c.ev != nil {
				r.ev = evs[o.ev : o.ev+len(c.ev) : o.ev+len(c.ev)]
				copy(r.ev, c.ev)
			}
			if c.titleToks != nil {
				e := o.ev + len(c.ev)
				r.titleToks = evs[e : e+len(c.titleToks) : e+len(c.titleToks)]
				copy(r.titleToks, c.titleToks)
			}
			if c.units != nil {
				r.units = strs[o.str : o.str+len(c.units) : o.str+len(c.units)]
				copy(r.units, c.units)
			}
			if c.rs != nil {
				e := o.str + len(c.units)
				r.rs = strs[e : e+len(c.rs) : e+len(c.rs)]
				copy(r.rs, c.rs)
			}
			x.recs[s] = r
		}
	})
}

// eachPair calls fn(worker, i, j) for every candidate pair i < j where i
// is a multiple of step; workers run concurrently, each with its own mark
// array so that a pair found through several keys is visited once. The
// slots are visited in x.order when it is set.
func (x *Index) eachPair(step int, fn func(w int, i, j int32)) {
	n := len(x.recs)
	workers := runtime.GOMAXPROCS(0)
	chunk, pstep := 1024*step, step
	if x.order != nil {
		pstep = 1 // every position, keeping the slots that are multiples of step
	}
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
				if x.stopped() {
					continue
				}
				for p := lo; p < min(n, lo+chunk); p += pstep {
					i := p
					if x.order != nil {
						if i = int(x.order[p]); i%step != 0 {
							continue
						}
					}
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
	ws := make([]perWorker, workers)
	var wg sync.WaitGroup
	for w := range workers {
		cmp := x.comparer()
		ws[w].pc = patternCounts{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var (
				buf  []int32
				kbuf []uint64
			)
			for i := w * step; i < n; i += workers * step {
				if (i/(workers*step))%1024 == 0 && x.stopped() {
					break
				}
				a := x.recs[i]
				if a == nil {
					continue
				}
				for _, sh := range nonMatchShifts {
					kbuf = blockingKeysInto(kbuf, a, x.loc, sh, false)
					buf = x.candidates(kbuf, int32(i), buf)
					cmp.shiftB = -sh * 86400
					for _, j := range buf {
						g, _ := cmp.compareRecs(a, x.recs[j], x.model.incidentWeight)
						ws[w].pc[g.key()]++
						ws[w].n++
					}
				}
			}
		}()
	}
	wg.Wait()
	return sumWorkers(ws)
}

// perWorker is what a worker tallies, with cache lines of its own:
// workers writing neighbouring words at every pair slow each other down.
type perWorker struct {
	n   int
	pc  patternCounts
	res []Match
	_   [64]byte
}

// sumWorkers adds up the workers' pattern counts and pair counts.
func sumWorkers(ws []perWorker) (patternCounts, int) {
	out, total := ws[0].pc, ws[0].n
	for _, t := range ws[1:] {
		for k, v := range t.pc {
			out[k] += v
		}
		total += t.n
	}
	return out, total
}
