package casesearch

import (
	"math"
	"slices"
	"strings"
	"time"

	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// Bounds of an aggregation's grid.
const (
	// MinCellDeg and MaxCellDeg bound a grid cell's size, degrees.
	MinCellDeg = 0.001
	MaxCellDeg = 45
	// DefaultCellDeg is the cell size of a request that gives none.
	DefaultCellDeg = 1
	// MaxGridCells bounds how many cells of the grid the box (or the
	// whole world) spans.
	MaxGridCells = 1_000_000
)

// aggInc is an incident as aggregation reads it: its point, its window as
// seconds and nanoseconds (exact, as records.IncidentWindow reads it),
// and its folded place's term. 48 bytes.
type aggInc struct {
	lat, lon       float64
	start, end     int64
	startNs, endNs int32
	place          uint32 // noTerm: no place
	flags          uint8
}

const (
	incPoint  = 1 << iota // lat and lon given
	incWindow             // a start that parses
)

// noTerm is the place term of an incident without a place.
const noTerm = ^uint32(0)

// aggDoc is what aggregation reads of a document: its incidents and the
// week of its first incident.
type aggDoc struct {
	incs []aggInc
	week int32 // noWeek: no incident with a start
}

const noWeek = math.MinInt32

// aggOf makes a document's aggDoc, without place terms (the index sets
// them).
func aggOf(d Doc) aggDoc {
	out := aggDoc{week: noWeek}
	if len(d.Incidents) == 0 {
		return out
	}
	out.incs = make([]aggInc, len(d.Incidents))
	var first time.Time
	for i, in := range d.Incidents {
		a := aggInc{place: noTerm}
		if in.HasPoint {
			a.lat, a.lon, a.flags = in.Lat, in.Lon, incPoint
		}
		if !in.Start.IsZero() {
			end := in.End
			if end.IsZero() {
				end = in.Start.Add(time.Hour)
			}
			if end.Before(in.Start) {
				end = in.Start
			}
			a.flags |= incWindow
			a.start, a.startNs = in.Start.Unix(), int32(in.Start.Nanosecond())
			a.end, a.endNs = end.Unix(), int32(end.Nanosecond())
			if first.IsZero() || in.Start.Before(first) {
				first = in.Start
			}
		}
		out.incs[i] = a
	}
	if !first.IsZero() {
		out.week = weekNumber(first)
	}
	return out
}

// keep copies a document's incidents into the arena and returns them
// there; a full arena is compacted first (the incidents of replaced and
// removed documents dropped, the others put in id order), with room to
// grow by a quarter. The caller holds x.mu and has cleared the
// document's old incidents.
func (x *Index) keep(incs []aggInc) []aggInc {
	if len(incs) == 0 {
		return nil
	}
	if len(x.arena)+len(incs) > cap(x.arena) {
		x.compact(len(incs))
	}
	start := len(x.arena)
	x.arena = append(x.arena, incs...)
	return x.arena[start:len(x.arena):len(x.arena)]
}

// compact rebuilds the arena from the documents' incidents, in id order,
// with room for extra more and a quarter.
func (x *Index) compact(extra int) {
	live := extra
	for i := range x.agg {
		live += len(x.agg[i].incs)
	}
	arena := make([]aggInc, 0, live+live/4+1024)
	for i := range x.agg {
		d := &x.agg[i]
		if len(d.incs) == 0 {
			continue
		}
		start := len(arena)
		arena = append(arena, d.incs...)
		d.incs = arena[start:len(arena):len(arena)]
	}
	x.arena = arena
}

// weekNumber numbers the week (Monday to Sunday, UTC) of t: 0 is the week
// of 1970-01-01.
func weekNumber(t time.Time) int32 {
	day := t.Unix() / 86400
	if t.Unix()%86400 < 0 {
		day--
	}
	w := (day + 3) / 7
	if (day+3)%7 < 0 {
		w--
	}
	return int32(w)
}

// weekStart is the Monday 00:00 UTC that starts week w.
func weekStart(w int32) time.Time {
	return time.Unix((int64(w)*7-3)*86400, 0).UTC()
}

// Window is a time filter on incidents as a list call reads it: an
// incident's window [start, end) must overlap [After, Before) (either
// zero: open).
type Window struct {
	After, Before time.Time
	// InstantAtAfter lets an incident whose window is an instant at
	// After touch it (the federation index's from).
	InstantAtAfter bool
	// NeedStart: an incident filter (place, near) without a window also
	// needs the incident's start to parse (the office's own cases).
	NeedStart bool
}

// Filter is what an aggregation selects: the query (place, near, text)
// and the filters the list calls add to it.
type Filter struct {
	Query Query
	// KeyPrefix: only documents whose key starts with it (a member's
	// code and NUL in the federation index).
	KeyPrefix string
	// CrimeCode: only documents with this crime code (exact).
	CrimeCode string
	// Status: only documents of this status (0: any).
	Status int32
	Window Window
}

// Box is a rectangle of latitudes and longitudes, degrees.
type Box struct {
	South, West, North, East float64
}

// Grid is how an aggregation draws points: cells of CellDeg degrees from
// (-90, -180), within Box (nil: the whole world).
type Grid struct {
	CellDeg float64
	Box     *Box
}

// ParseGrid validates a grid; prefix is put before the field names of
// errors. cellDeg 0 is DefaultCellDeg.
func ParseGrid(cellDeg float64, box *Box, prefix string) (Grid, error) {
	if cellDeg == 0 {
		cellDeg = DefaultCellDeg
	}
	if math.IsNaN(cellDeg) || cellDeg < MinCellDeg || cellDeg > MaxCellDeg {
		return Grid{}, invalid(prefix+"cell_deg", "%g: must be %g to %g degrees (0 for %g)", cellDeg, float64(MinCellDeg), float64(MaxCellDeg), float64(DefaultCellDeg))
	}
	g := Grid{CellDeg: cellDeg}
	b := Box{South: -90, West: -180, North: 90, East: 180}
	if box != nil {
		for _, v := range []struct {
			field    string
			val, lim float64
		}{{"south", box.South, 90}, {"west", box.West, 180}, {"north", box.North, 90}, {"east", box.East, 180}} {
			if math.IsNaN(v.val) || v.val < -v.lim || v.val > v.lim {
				return Grid{}, invalid(prefix+"bounds."+v.field, "%g: must be -%g to %g", v.val, v.lim, v.lim)
			}
		}
		switch {
		case box.North < box.South:
			return Grid{}, invalid(prefix+"bounds.north", "%g is south of bounds.south (%g)", box.North, box.South)
		case box.East < box.West:
			return Grid{}, invalid(prefix+"bounds.east", "%g is west of bounds.west (%g)", box.East, box.West)
		}
		b = *box
		g.Box = &b
	}
	rows := math.Floor((b.North+90)/cellDeg) - math.Floor((b.South+90)/cellDeg) + 1
	cols := math.Floor((b.East+180)/cellDeg) - math.Floor((b.West+180)/cellDeg) + 1
	if rows*cols > MaxGridCells {
		return Grid{}, invalid(prefix+"cell_deg", "%g degrees makes %.0f cells over the box, at most %d: give larger cells or a smaller box (bounds)", cellDeg, rows*cols, MaxGridCells)
	}
	return g, nil
}

// Cell is a grid cell of an aggregation: its bounds, the mean of the
// points in it, and how many documents have a point in it (each once);
// Key is the document's when there is one.
type Cell struct {
	South, West, North, East float64
	Lat, Lon                 float64
	Cases                    int
	Key                      string
}

// Week is how many documents have their first incident in the week that
// starts at Start (Monday 00:00 UTC).
type Week struct {
	Start time.Time
	Cases int
}

// Aggregate is an aggregation: how many documents match, their points'
// cells (within the grid's box) and their first incidents' weeks.
type Aggregate struct {
	Cases int
	Cells []Cell
	Weeks []Week
}

// Aggregator adds documents up. The index uses one; a caller that checks
// documents itself (a filter the index does not hold) feeds one with Add.
type Aggregator struct {
	grid  Grid
	cases int
	// cells indexes acc (+1; 0: none yet) by grid cell of the box:
	// (row - row0) × cols + col - col0.
	row0, col0, rows, cols int
	cells                  []int32
	acc                    []cellAcc
	// weeks counts per week from weekBase.
	weekBase int32
	weeks    []int32
	seen     []uint64 // the cells of the document being added
}

type cellAcc struct {
	cell          uint64
	cases, points int32
	sumLat        float64
	sumLon        float64
	key           string
}

// NewAggregator returns an empty aggregation over grid (from ParseGrid:
// its box spans at most MaxGridCells cells).
func NewAggregator(grid Grid) *Aggregator {
	b := Box{South: -90, West: -180, North: 90, East: 180}
	if grid.Box != nil {
		b = *grid.Box
	}
	a := &Aggregator{grid: grid}
	a.row0, a.col0 = gridIndex(b.South+90, grid.CellDeg), gridIndex(b.West+180, grid.CellDeg)
	a.rows = gridIndex(b.North+90, grid.CellDeg) - a.row0 + 1
	a.cols = gridIndex(b.East+180, grid.CellDeg) - a.col0 + 1
	a.cells = make([]int32, a.rows*a.cols)
	return a
}

// gridIndex is the cell of an offset from the grid's origin.
func gridIndex(off, deg float64) int { return int(math.Floor(off / deg)) }

// Add counts one matching document.
func (a *Aggregator) Add(key string, d Doc) {
	ad := aggOf(d)
	a.add(key, &ad)
}

func (a *Aggregator) add(key string, d *aggDoc) {
	a.cases++
	if d.week != noWeek {
		a.addWeek(d.week)
	}
	a.seen = a.seen[:0]
	deg, b := a.grid.CellDeg, a.grid.Box
	for i := range d.incs {
		in := &d.incs[i]
		if in.flags&incPoint == 0 || in.lat < -90 || in.lat > 90 || in.lon < -180 || in.lon > 180 {
			continue
		}
		if b != nil && (in.lat < b.South || in.lat > b.North || in.lon < b.West || in.lon > b.East) {
			continue
		}
		row, col := gridIndex(in.lat+90, deg), gridIndex(in.lon+180, deg)
		k := uint64(row)<<32 | uint64(col)
		slot := &a.cells[(row-a.row0)*a.cols+col-a.col0]
		if *slot == 0 {
			a.acc = append(a.acc, cellAcc{cell: k})
			*slot = int32(len(a.acc))
		}
		c := &a.acc[*slot-1]
		c.points++
		c.sumLat += in.lat
		c.sumLon += in.lon
		if !slices.Contains(a.seen, k) {
			a.seen = append(a.seen, k)
			c.cases++
			if c.cases == 1 {
				c.key = key
			}
		}
	}
}

func (a *Aggregator) addWeek(w int32) {
	if len(a.weeks) == 0 {
		a.weekBase = w
	}
	if w < a.weekBase {
		grow := int(a.weekBase - w)
		a.weeks = append(make([]int32, grow, grow+len(a.weeks)), a.weeks...)
		a.weekBase = w
	}
	i := int(w - a.weekBase)
	if i >= len(a.weeks) {
		a.weeks = append(a.weeks, make([]int32, i+1-len(a.weeks))...)
	}
	a.weeks[i]++
}

// Result returns the aggregation: cells by latitude then longitude,
// weeks in order.
func (a *Aggregator) Result() Aggregate {
	out := Aggregate{Cases: a.cases, Cells: make([]Cell, 0, len(a.acc))}
	slices.SortFunc(a.acc, func(p, q cellAcc) int {
		switch {
		case p.cell < q.cell:
			return -1
		case p.cell > q.cell:
			return 1
		}
		return 0
	})
	deg := a.grid.CellDeg
	for _, c := range a.acc {
		row, col := float64(c.cell>>32), float64(c.cell&0xffffffff)
		cell := Cell{South: -90 + row*deg, West: -180 + col*deg, Cases: int(c.cases),
			Lat: c.sumLat / float64(c.points), Lon: c.sumLon / float64(c.points)}
		cell.North, cell.East = min(cell.South+deg, 90), min(cell.West+deg, 180)
		if c.cases == 1 {
			cell.Key = c.key
		}
		out.Cells = append(out.Cells, cell)
	}
	for i, n := range a.weeks {
		if n > 0 {
			out.Weeks = append(out.Weeks, Week{Start: weekStart(a.weekBase + int32(i)), Cases: int(n)})
		}
	}
	return out
}

// Aggregate adds up the documents that f selects: exactly those that the
// list calls return for the same filter. It reads the postings of place,
// text, near, crime code and status, then each candidate's compact
// incidents; a query without those is one pass over every document.
func (x *Index) Aggregate(f Filter, grid Grid) Aggregate {
	x.mu.RLock()
	defer x.mu.RUnlock()
	a := NewAggregator(grid)
	var terms []string
	if f.CrimeCode != "" {
		terms = append(terms, string(rune(kindCrime))+f.CrimeCode)
	}
	if f.Status != 0 {
		terms = append(terms, statusTerm(f.Status))
	}
	cand, places, ok := x.candidates(f.Query, terms)
	if !ok {
		return a.Result()
	}
	m := newDocMatch(f, places)
	// The documents' first and last days skip most of those outside a
	// window before their incidents are read.
	wq := f.Query.WithWindow(f.Window.After, f.Window.Before)
	visit := func(id uint32) {
		if x.terms[id] == nil || f.KeyPrefix != "" && !strings.HasPrefix(x.keys[id], f.KeyPrefix) || !x.inWindow(wq, id) {
			return
		}
		if d := &x.agg[id]; m.match(d) {
			a.add(x.keys[id], d)
		}
	}
	if cand == nil {
		for id := range x.agg {
			visit(uint32(id))
		}
	} else {
		for id := cand.next(0); id != noBit; id = cand.next(id + 1) {
			visit(id)
		}
	}
	return a.Result()
}

// instant is a time as seconds and nanoseconds, for exact comparisons.
type instant struct {
	sec int64
	ns  int32
}

func instantOf(t time.Time) instant { return instant{t.Unix(), int32(t.Nanosecond())} }

func (i instant) before(o instant) bool { return i.sec < o.sec || i.sec == o.sec && i.ns < o.ns }

// docMatch checks the incident filters (place, near, window: one incident
// holds them all) on an aggDoc.
type docMatch struct {
	q              Query
	places         bitset // the place terms that match (nil: no place filter)
	lo, hi         instant
	hasLo, hasHi   bool
	instantAtAfter bool
	needStart      bool
}

func newDocMatch(f Filter, places bitset) docMatch {
	m := docMatch{q: f.Query, places: places, instantAtAfter: f.Window.InstantAtAfter, needStart: f.Window.NeedStart}
	if !f.Window.After.IsZero() {
		m.lo, m.hasLo = instantOf(f.Window.After), true
	}
	if !f.Window.Before.IsZero() {
		m.hi, m.hasHi = instantOf(f.Window.Before), true
	}
	return m
}

func (m *docMatch) match(d *aggDoc) bool {
	window := m.hasLo || m.hasHi
	if !m.q.HasIncident() && !window {
		return true
	}
	for i := range d.incs {
		in := &d.incs[i]
		if m.places != nil && (in.place == noTerm || !m.places.has(in.place)) {
			continue
		}
		if m.q.near && !m.q.MatchPoint(in.lat, in.lon, in.flags&incPoint != 0) {
			continue
		}
		if !window {
			if m.needStart && in.flags&incWindow == 0 {
				continue
			}
			return true
		}
		if in.flags&incWindow == 0 {
			continue
		}
		start, end := instant{in.start, in.startNs}, instant{in.end, in.endNs}
		if m.hasHi && !start.before(m.hi) {
			continue
		}
		// Ended before the window (an instant at its start touches the
		// federation's).
		touches := m.instantAtAfter && end == start && start == m.lo
		if m.hasLo && !m.lo.before(end) && !touches {
			continue
		}
		return true
	}
	return false
}

// BoxOf is the Box of a request's bounds (nil: none).
func BoxOf(b *accordv1.GeoBox) *Box {
	if b == nil {
		return nil
	}
	return &Box{South: b.GetSouth(), West: b.GetWest(), North: b.GetNorth(), East: b.GetEast()}
}

// Proto returns the aggregation as an API response's fields; split makes
// a single case's member and case id of its key.
func (a Aggregate) Proto(split func(key string) (member, caseID string)) (count int64, cells []*accordv1.MapCell, weeks []*accordv1.WeekCount) {
	cells = make([]*accordv1.MapCell, len(a.Cells))
	for i, c := range a.Cells {
		cells[i] = &accordv1.MapCell{Lat: c.Lat, Lon: c.Lon, CaseCount: int64(c.Cases),
			Bounds: &accordv1.GeoBox{South: c.South, West: c.West, North: c.North, East: c.East}}
		if c.Key != "" {
			cells[i].Member, cells[i].CaseId = split(c.Key)
		}
	}
	weeks = make([]*accordv1.WeekCount, len(a.Weeks))
	for i, w := range a.Weeks {
		weeks[i] = &accordv1.WeekCount{WeekStart: w.Start.Format(time.DateOnly), CaseCount: int64(w.Cases)}
	}
	return int64(a.Cases), cells, weeks
}
