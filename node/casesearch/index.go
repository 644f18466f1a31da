package casesearch

import (
	"math"
	"math/bits"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/accordfed/accord/federation/records"
	"github.com/accordfed/accord/federation/textfold"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// Doc is what the index keeps of a case: its incidents' places, points
// and windows, its title, crime codes and (of the office's own cases)
// status.
type Doc struct {
	Incidents  []Incident
	Title      string
	CrimeCodes []string
	// Status is the case's status as its filter reads it (0: none kept).
	Status int32
}

// Incident is one incident of a Doc.
type Incident struct {
	Place    string
	Lat, Lon float64
	HasPoint bool
	// Start and End bound its window [Start, End) as
	// records.IncidentWindow reads it (zero Start: no start that parses;
	// zero End: Start + 1h); a search with a window skips documents none
	// of whose incidents comes within a day of it.
	Start, End time.Time
}

// DocOf makes the Doc of a case (own or shared) from its title and
// incidents.
func DocOf(title string, incs []*accordv1.Incident) Doc {
	d := Doc{Title: title, Incidents: make([]Incident, len(incs))}
	for i, in := range incs {
		d.Incidents[i] = Incident{Place: in.GetPlace(), Lat: in.GetLat(), Lon: in.GetLon(), HasPoint: in.Lat != nil && in.Lon != nil}
		if start, end, ok := records.IncidentWindow(in); ok {
			d.Incidents[i].Start, d.Incidents[i].End = start, end
		}
	}
	return d
}

// cellDeg is the size of the grid of incident points.
const cellDeg = 0.2

// Term kinds: the first byte of a term.
const (
	kindPlace = 'p'
	kindWord  = 'w'
	kindCell  = 'c'
	kindCrime = 'k'
	kindState = 's'
)

// Index is an in-memory search index of documents keyed by strings. It is
// safe for concurrent use.
type Index struct {
	mu sync.RWMutex
	// keys[id] is the document's key; terms[id] its term ids (nil when
	// removed); byKey the reverse of keys.
	keys  []string
	terms [][]uint32
	byKey map[string]uint32
	live  int
	// spanLo and spanHi are the first and last day (since 1970, UTC) of
	// a document's incidents, for windows.
	spanLo, spanHi []int32
	// vers holds each document's version (PutVersion, RemoveVersion),
	// also after its removal, so that a change reported late does not
	// undo a newer one.
	vers []uint64
	// agg holds what aggregation reads of each document (nil when
	// removed): its incidents in compact form and its first week; the
	// incidents are slices of arena, in id order after each compaction,
	// so that a pass over every document reads memory in order.
	agg   []aggDoc
	arena []aggInc
	// ordered: the ids below it are in key order (documents added in key
	// order, as a build from the store does).
	ordered int
	// termID maps a term (kind byte + text) to its id; post[id] holds
	// the documents with the term, ascending.
	termID map[string]uint32
	post   [][]uint32
	// places are the distinct folded place names, with their words.
	places []placeTerm
	cells  map[uint32]uint32 // grid cell -> term id
}

type placeTerm struct {
	term  uint32
	fold  string
	words []word
}

// NewIndex returns an empty index.
func NewIndex() *Index {
	return &Index{byKey: map[string]uint32{}, termID: map[string]uint32{}, cells: map[uint32]uint32{}}
}

// Len is the number of documents held.
func (x *Index) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.live
}

func cellOf(lat, lon float64) uint32 {
	r := uint32(math.Floor((lat + 90) / cellDeg))
	c := uint32(math.Floor((lon + 180) / cellDeg))
	return r<<16 | c
}

// termsOf returns a document's terms (unsorted, may repeat) and each
// incident's place term ("" when none).
func termsOf(d Doc) (out, places []string) {
	places = make([]string, len(d.Incidents))
	for i, in := range d.Incidents {
		if _, fold := foldWords(in.Place); fold != "" {
			places[i] = string(rune(kindPlace)) + fold
			out = append(out, places[i])
		}
		if in.HasPoint && in.Lat >= -90 && in.Lat <= 90 && in.Lon >= -180 && in.Lon <= 180 {
			c := cellOf(in.Lat, in.Lon)
			out = append(out, string([]byte{kindCell, byte(c >> 24), byte(c >> 16), byte(c >> 8), byte(c)}))
		}
	}
	for _, w := range textfold.Words(d.Title) {
		if f := textfold.FoldWord(w); f != "" {
			out = append(out, string(rune(kindWord))+f)
		}
	}
	for _, c := range d.CrimeCodes {
		out = append(out, string(rune(kindCrime))+c)
	}
	if d.Status != 0 {
		out = append(out, statusTerm(d.Status))
	}
	return out, places
}

func statusTerm(st int32) string { return string(rune(kindState)) + strconv.Itoa(int(st)) }

// intern returns a term's id, making one.
func (x *Index) intern(t string) uint32 {
	if id, ok := x.termID[t]; ok {
		return id
	}
	id := uint32(len(x.post))
	t = strings.Clone(t)
	x.termID[t] = id
	x.post = append(x.post, nil)
	switch t[0] {
	case kindPlace:
		fs := strings.Fields(t[1:]) // folded already: split, do not fold again
		ws := make([]word, len(fs))
		for i, f := range fs {
			ws[i] = newWord(f)
		}
		x.places = append(x.places, placeTerm{term: id, fold: t[1:], words: ws})
	case kindCell:
		x.cells[uint32(t[1])<<24|uint32(t[2])<<16|uint32(t[3])<<8|uint32(t[4])] = id
	}
	return id
}

// Put adds or replaces the document of key.
func (x *Index) Put(key string, d Doc) { x.PutVersion(key, 0, d) }

// PutVersion adds or replaces the document of key unless the index holds
// a newer version of it (or a removal of one); version 0 always applies.
// It reports whether it applied.
func (x *Index) PutVersion(key string, version uint64, d Doc) bool {
	ts, places := termsOf(d)
	agg := aggOf(d)
	x.mu.Lock()
	defer x.mu.Unlock()
	if id, ok := x.byKey[key]; ok && version != 0 && version < x.vers[id] {
		return false
	}
	ids := make([]uint32, 0, len(ts))
	for _, t := range ts {
		ids = append(ids, x.intern(t))
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	doc, ok := x.byKey[key]
	if !ok {
		doc = uint32(len(x.keys))
		key = strings.Clone(key)
		x.keys = append(x.keys, key)
		x.terms = append(x.terms, nil)
		x.spanLo, x.spanHi = append(x.spanLo, 0), append(x.spanHi, 0)
		x.vers = append(x.vers, 0)
		x.agg = append(x.agg, aggDoc{week: noWeek})
		x.byKey[key] = doc
		if x.ordered == int(doc) && (doc == 0 || x.keys[doc-1] < key) {
			x.ordered++
		}
	}
	old := x.terms[doc]
	if old == nil {
		x.live++
	}
	// Drop the postings the document loses, add those it gains.
	for _, t := range old {
		if _, keep := slices.BinarySearch(ids, t); !keep {
			if i, found := slices.BinarySearch(x.post[t], doc); found {
				x.post[t] = slices.Delete(x.post[t], i, i+1)
			}
		}
	}
	for _, t := range ids {
		if i, found := slices.BinarySearch(x.post[t], doc); !found {
			x.post[t] = slices.Insert(x.post[t], i, doc)
		}
	}
	if len(ids) == 0 {
		ids = []uint32{} // held, without terms
	}
	x.terms[doc] = slices.Clip(ids)
	for i, p := range places {
		if p != "" {
			agg.incs[i].place = x.termID[p]
		}
	}
	x.agg[doc] = aggDoc{week: noWeek}
	agg.incs = x.keep(agg.incs)
	x.agg[doc] = agg
	x.spanLo[doc], x.spanHi[doc] = span(d)
	x.vers[doc] = version
	if tail := len(x.keys) - x.ordered; tail > max(minReorder, x.ordered/8) {
		x.reorder()
	}
	return true
}

// minReorder is how many documents out of key order the index tolerates
// before it renumbers them all (reorder); beyond it, an eighth of the
// index.
const minReorder = 4096

// reorder renumbers the documents in key order, so that a search walks
// them in id order (documents added after the build come out of order).
func (x *Index) reorder() {
	perm := make([]uint32, len(x.keys)) // new id -> old id
	for i := range perm {
		perm[i] = uint32(i)
	}
	slices.SortFunc(perm, func(a, b uint32) int { return strings.Compare(x.keys[a], x.keys[b]) })
	newID := make([]uint32, len(perm)) // old id -> new id
	for n, o := range perm {
		newID[o] = uint32(n)
	}
	keys, terms := make([]string, len(perm)), make([][]uint32, len(perm))
	lo, hi := make([]int32, len(perm)), make([]int32, len(perm))
	vers := make([]uint64, len(perm))
	agg := make([]aggDoc, len(perm))
	for n, o := range perm {
		keys[n], terms[n], lo[n], hi[n], vers[n], agg[n] = x.keys[o], x.terms[o], x.spanLo[o], x.spanHi[o], x.vers[o], x.agg[o]
		x.byKey[keys[n]] = uint32(n)
	}
	x.keys, x.terms, x.spanLo, x.spanHi, x.vers, x.agg = keys, terms, lo, hi, vers, agg
	x.compact(0)
	for t, list := range x.post {
		for i, o := range list {
			list[i] = newID[o]
		}
		slices.Sort(list)
		x.post[t] = list
	}
	x.ordered = len(x.keys)
}

// span returns the first and last day of a document's incidents; the
// widest span when one has no start.
func span(d Doc) (lo, hi int32) {
	lo, hi = math.MaxInt32, math.MinInt32
	for _, in := range d.Incidents {
		if in.Start.IsZero() {
			return math.MinInt32, math.MaxInt32
		}
		end := in.End
		if end.IsZero() || end.Before(in.Start) {
			end = in.Start.Add(time.Hour)
		}
		lo, hi = min(lo, dayOf(in.Start)), max(hi, dayOf(end))
	}
	if lo > hi {
		return math.MinInt32, math.MaxInt32
	}
	return lo, hi
}

func dayOf(t time.Time) int32 { return int32(t.Unix() / 86400) }

// Remove drops the document of key, if held.
func (x *Index) Remove(key string) { x.RemoveVersion(key, 0) }

// RemoveVersion drops the document of key unless the index holds a newer
// version (version 0 always applies), and remembers version.
func (x *Index) RemoveVersion(key string, version uint64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	doc, ok := x.byKey[key]
	if !ok || version != 0 && version < x.vers[doc] {
		return
	}
	x.vers[doc] = version
	if x.terms[doc] == nil {
		return
	}
	for _, t := range x.terms[doc] {
		if i, found := slices.BinarySearch(x.post[t], doc); found {
			x.post[t] = slices.Delete(x.post[t], i, i+1)
		}
	}
	x.terms[doc] = nil
	x.agg[doc] = aggDoc{week: noWeek}
	x.live--
}

// Search returns up to limit keys of documents that may match q (every
// document of a query without place, text or near), after the key after
// ("" from the start), in key order, and whether more may follow. The
// caller checks each on its record.
func (x *Index) Search(q Query, after string, limit int) (keys []string, more bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	cand, _, ok := x.candidates(q, nil)
	if !ok {
		return nil, false
	}
	if cand == nil {
		cand = x.liveSet()
	}
	return x.page(q, cand, after, limit)
}

// candidates returns the documents that the postings of q and of terms
// allow (nil: every document; ok false: none) and, when q has a place,
// the place terms that match it (by term id). The caller holds x.mu.
func (x *Index) candidates(q Query, terms []string) (cand, places bitset, ok bool) {
	and := func(b bitset) {
		if cand == nil {
			cand = b
		} else {
			cand.and(b)
		}
	}
	n := len(x.keys)
	if len(q.place) > 0 {
		b := newBitset(n)
		places = newBitset(len(x.post))
		for _, p := range x.places {
			if len(x.post[p.term]) > 0 && q.matchWords(p.words, p.fold) {
				b.setAll(x.post[p.term])
				places.set(p.term)
			}
		}
		and(b)
	}
	for _, w := range q.text {
		terms = append(terms, string(rune(kindWord))+w)
	}
	for _, t := range terms {
		id, ok := x.termID[t]
		if !ok {
			return nil, nil, false
		}
		b := newBitset(n)
		b.setAll(x.post[id])
		and(b)
	}
	if q.near {
		b := newBitset(n)
		x.nearCells(q, b)
		and(b)
	}
	return cand, places, true
}

// liveSet is the set of every document held.
func (x *Index) liveSet() bitset {
	b := newBitset(len(x.keys))
	for id, t := range x.terms {
		if t != nil {
			b.set(uint32(id))
		}
	}
	return b
}

// inWindow reports whether a document's incidents may touch the window of
// q.
func (x *Index) inWindow(q Query, id uint32) bool {
	if !q.window {
		return true
	}
	return x.spanHi[id] >= q.loDay && x.spanLo[id] <= q.hiDay
}

// page walks the candidates in key order from after: the ids below
// ordered in id order (their key order), merged with the others sorted by
// key.
func (x *Index) page(q Query, cand bitset, after string, limit int) ([]string, bool) {
	ordered := uint32(x.ordered)
	var tail []uint32
	for id := cand.next(ordered); id != noBit; id = cand.next(id + 1) {
		if x.keys[id] > after && x.inWindow(q, id) {
			tail = append(tail, id)
		}
	}
	slices.SortFunc(tail, func(a, b uint32) int { return strings.Compare(x.keys[a], x.keys[b]) })
	// The first ordered id after the position.
	from := uint32(sort.Search(int(ordered), func(i int) bool { return x.keys[i] > after }))
	nextHead := func(from uint32) uint32 {
		for id := cand.next(from); id != noBit && id < ordered; id = cand.next(id + 1) {
			if x.inWindow(q, id) {
				return id
			}
		}
		return noBit
	}
	head := nextHead(from)
	out := make([]string, 0, min(limit, 256))
	for len(out) < limit && (head != noBit || len(tail) > 0) {
		if len(tail) == 0 || head != noBit && x.keys[head] < x.keys[tail[0]] {
			out = append(out, x.keys[head])
			head = nextHead(head + 1)
		} else {
			out = append(out, x.keys[tail[0]])
			tail = tail[1:]
		}
	}
	return out, head != noBit || len(tail) > 0
}

// nearCells adds to b the documents with a point in a cell that the
// circle of q touches.
func (x *Index) nearCells(q Query, b bitset) {
	dLat := q.km / 111.2
	lat0, lat1 := max(q.lat-dLat, -90), min(q.lat+dLat, 90)
	cos := math.Cos(math.Max(math.Abs(lat0), math.Abs(lat1)) * math.Pi / 180)
	dLon := 360.0
	if cos > 1e-6 {
		dLon = min(q.km/(111.2*cos), 360)
	}
	lon0, lon1 := q.lon-dLon, q.lon+dLon
	in := func(c uint32) bool {
		r, k := float64(c>>16), float64(c&0xffff)
		cLat0, cLon0 := r*cellDeg-90, k*cellDeg-180
		if cLat0+cellDeg < lat0 || cLat0 > lat1 {
			return false
		}
		for _, shift := range []float64{-360, 0, 360} {
			if cLon0+shift+cellDeg >= lon0 && cLon0+shift <= lon1 {
				return true
			}
		}
		return false
	}
	for c, t := range x.cells {
		if len(x.post[t]) > 0 && in(c) {
			b.setAll(x.post[t])
		}
	}
}

// bitset is a set of document ids.
type bitset []uint64

// noBit is what next returns past the last id.
const noBit = ^uint32(0)

func newBitset(n int) bitset { return make(bitset, (n+63)/64) }

func (b bitset) set(i uint32) { b[i>>6] |= 1 << (i & 63) }

func (b bitset) has(i uint32) bool { return int(i>>6) < len(b) && b[i>>6]&(1<<(i&63)) != 0 }

func (b bitset) setAll(ids []uint32) {
	for _, i := range ids {
		b[i>>6] |= 1 << (i & 63)
	}
}

func (b bitset) and(o bitset) {
	for i := range b {
		b[i] &= o[i]
	}
}

// next returns the first id >= from in the set, or noBit.
func (b bitset) next(from uint32) uint32 {
	w := int(from >> 6)
	if w >= len(b) {
		return noBit
	}
	word := b[w] >> (from & 63)
	if word != 0 {
		return from + uint32(bits.TrailingZeros64(word))
	}
	for w++; w < len(b); w++ {
		if b[w] != 0 {
			return uint32(w)<<6 + uint32(bits.TrailingZeros64(b[w]))
		}
	}
	return noBit
}
