package casesearch

import (
	"math"
	"slices"
	"strings"
	"sync"

	"github.com/accordfed/accord/federation/textfold"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// Doc is what the index keeps of a case: its incidents' places and
// points, and its title.
type Doc struct {
	Incidents []Incident
	Title     string
}

// Incident is one incident of a Doc.
type Incident struct {
	Place    string
	Lat, Lon float64
	HasPoint bool
}

// DocOf makes the Doc of a case (own or shared) from its title and
// incidents.
func DocOf(title string, incs []*accordv1.Incident) Doc {
	d := Doc{Title: title, Incidents: make([]Incident, len(incs))}
	for i, in := range incs {
		d.Incidents[i] = Incident{Place: in.GetPlace(), Lat: in.GetLat(), Lon: in.GetLon(), HasPoint: in.Lat != nil && in.Lon != nil}
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

// termsOf returns a document's terms (unsorted, may repeat).
func termsOf(d Doc) []string {
	var out []string
	for _, in := range d.Incidents {
		if _, fold := foldWords(in.Place); fold != "" {
			out = append(out, string(rune(kindPlace))+fold)
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
	return out
}

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
func (x *Index) Put(key string, d Doc) {
	ts := termsOf(d)
	x.mu.Lock()
	defer x.mu.Unlock()
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
}

// Remove drops the document of key, if held.
func (x *Index) Remove(key string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	doc, ok := x.byKey[key]
	if !ok || x.terms[doc] == nil {
		return
	}
	for _, t := range x.terms[doc] {
		if i, found := slices.BinarySearch(x.post[t], doc); found {
			x.post[t] = slices.Delete(x.post[t], i, i+1)
		}
	}
	x.terms[doc] = nil
	x.live--
}

// Search returns up to limit keys of documents that may match q (every
// document of a query without place, text or near), after the key after
// ("" from the start), in key order, and whether more may follow. The
// caller checks each on its record.
func (x *Index) Search(q Query, after string, limit int) (keys []string, more bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	var lists [][]uint32
	if len(q.place) > 0 {
		var parts [][]uint32
		for _, p := range x.places {
			if len(x.post[p.term]) > 0 && q.matchWords(p.words, p.fold) {
				parts = append(parts, x.post[p.term])
			}
		}
		lists = append(lists, union(parts))
	}
	for _, w := range q.text {
		id, ok := x.termID[string(rune(kindWord))+w]
		if !ok {
			return nil, false
		}
		lists = append(lists, x.post[id])
	}
	if q.near {
		lists = append(lists, x.nearCells(q))
	}
	var cand []uint32
	if len(lists) == 0 {
		cand = make([]uint32, 0, len(x.keys))
		for id, t := range x.terms {
			if t != nil {
				cand = append(cand, uint32(id))
			}
		}
	} else {
		cand = intersect(lists)
	}
	return x.page(cand, after, limit)
}

// page orders candidate ids by key and cuts a page after the key after.
func (x *Index) page(cand []uint32, after string, limit int) ([]string, bool) {
	// Ids below ordered are in key order already; sort the others by key
	// and merge.
	cut, _ := slices.BinarySearch(cand, uint32(x.ordered))
	head, tail := cand[:cut], slices.Clone(cand[cut:])
	slices.SortFunc(tail, func(a, b uint32) int { return strings.Compare(x.keys[a], x.keys[b]) })
	if after != "" {
		i, _ := slices.BinarySearchFunc(head, after, func(id uint32, k string) int { return strings.Compare(x.keys[id], k) })
		for i < len(head) && x.keys[head[i]] <= after {
			i++
		}
		head = head[i:]
		j, _ := slices.BinarySearchFunc(tail, after, func(id uint32, k string) int { return strings.Compare(x.keys[id], k) })
		for j < len(tail) && x.keys[tail[j]] <= after {
			j++
		}
		tail = tail[j:]
	}
	out := make([]string, 0, min(limit, len(head)+len(tail)))
	for len(out) < limit && (len(head) > 0 || len(tail) > 0) {
		if len(tail) == 0 || len(head) > 0 && x.keys[head[0]] < x.keys[tail[0]] {
			out = append(out, x.keys[head[0]])
			head = head[1:]
		} else {
			out = append(out, x.keys[tail[0]])
			tail = tail[1:]
		}
	}
	return out, len(head)+len(tail) > 0
}

// nearCells returns the documents with a point in a cell that the circle
// of q touches.
func (x *Index) nearCells(q Query) []uint32 {
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
	var parts [][]uint32
	for c, t := range x.cells {
		if len(x.post[t]) > 0 && in(c) {
			parts = append(parts, x.post[t])
		}
	}
	return union(parts)
}

// union merges ascending lists into one, without repeats.
func union(parts [][]uint32) []uint32 {
	switch len(parts) {
	case 0:
		return nil
	case 1:
		return parts[0]
	}
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	out := make([]uint32, 0, n)
	for _, p := range parts {
		out = append(out, p...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// intersect returns the ids in every ascending list.
func intersect(lists [][]uint32) []uint32 {
	slices.SortFunc(lists, func(a, b []uint32) int { return len(a) - len(b) })
	out := slices.Clone(lists[0])
	for _, l := range lists[1:] {
		k := 0
		for _, id := range out {
			if _, ok := slices.BinarySearch(l, id); ok {
				out[k] = id
				k++
			}
		}
		out = out[:k]
	}
	return out
}
