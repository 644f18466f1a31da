package casesearch

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/accordfed/accord/node/grpcserver"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

func pt(place string, lat, lon float64, start, end string) *accordv1.Incident {
	return &accordv1.Incident{Place: place, Lat: &lat, Lon: &lon, Start: start, End: end}
}

func mustGrid(t *testing.T, deg float64, box *Box) Grid {
	t.Helper()
	g, err := ParseGrid(deg, box, "")
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestAggregateCells: a case counts once per cell however many of its
// incidents fall in it; cells are bounded, averaged, in order; a box
// drops points, not cases; weeks are of first incidents.
func TestAggregateCells(t *testing.T) {
	x := NewIndex()
	x.Put("A", DocOf("Shelling", []*accordv1.Incident{
		pt("Kharkiv", 49.9, 36.2, "2022-03-02T10:00:00Z", ""), // Wednesday: week of 28 February
		pt("Kharkiv", 49.7, 36.6, "2022-03-09T10:00:00Z", ""),
		pt("Kyiv", 50.45, 30.52, "2022-04-01T10:00:00Z", ""),
	}))
	x.Put("B", DocOf("Detention", []*accordv1.Incident{pt("Kharkiv", 49.1, 36.9, "2022-02-27T23:59:59Z", "")})) // Sunday
	x.Put("C", DocOf("No point", []*accordv1.Incident{{Place: "Lviv", Start: "bad"}}))
	x.Put("D", DocOf("Gone", []*accordv1.Incident{pt("Kharkiv", 49.5, 36.5, "2022-03-01T00:00:00Z", "")}))
	x.Remove("D")
	got := x.Aggregate(Filter{}, mustGrid(t, 1, nil))
	if got.Cases != 3 || len(got.Cells) != 2 {
		t.Fatalf("aggregate: %+v", got)
	}
	h, k := got.Cells[0], got.Cells[1]
	if h.South != 49 || h.North != 50 || h.West != 36 || h.East != 37 || h.Cases != 2 || h.Key != "" ||
		math.Abs(h.Lat-49.566666) > 1e-5 || math.Abs(h.Lon-36.566666) > 1e-5 {
		t.Errorf("Kharkiv's cell: %+v", h)
	}
	if k.South != 50 || k.West != 30 || k.Cases != 1 || k.Key != "A" || k.Lat != 50.45 {
		t.Errorf("Kyiv's cell: %+v", k)
	}
	want := []Week{{time.Date(2022, 2, 21, 0, 0, 0, 0, time.UTC), 1}, {time.Date(2022, 2, 28, 0, 0, 0, 0, time.UTC), 1}}
	if len(got.Weeks) != 2 || got.Weeks[0] != want[0] || got.Weeks[1] != want[1] {
		t.Errorf("weeks %v, want %v", got.Weeks, want)
	}
	// Finer cells split Kharkiv's; a box keeps only Kyiv's point.
	if got := x.Aggregate(Filter{}, mustGrid(t, 0.5, nil)); len(got.Cells) != 4 {
		t.Errorf("0.5° cells: %+v", got.Cells)
	}
	got = x.Aggregate(Filter{}, mustGrid(t, 0.1, &Box{South: 50, West: 30, North: 51, East: 31}))
	if got.Cases != 3 || len(got.Cells) != 1 || got.Cells[0].Key != "A" || len(got.Weeks) != 2 {
		t.Errorf("box: %+v", got)
	}
	// Edges are in the box; the poles and the antimeridian have cells.
	y := NewIndex()
	y.Put("P", DocOf("", []*accordv1.Incident{pt("", 90, 180, "", ""), pt("", -90, -180, "", "")}))
	got = y.Aggregate(Filter{}, mustGrid(t, 45, nil))
	if got.Cases != 1 || len(got.Cells) != 2 || got.Cells[1].North != 90 || got.Cells[1].East != 180 || got.Cells[0].South != -90 || len(got.Weeks) != 0 {
		t.Errorf("poles: %+v", got)
	}
	// Filters: place, crime code, window, key prefix.
	q, err := Parse(Input{Place: "Харків"}, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := x.Aggregate(Filter{Query: q, Window: Window{After: time.Date(2022, 3, 5, 0, 0, 0, 0, time.UTC)}}, mustGrid(t, 1, nil)); got.Cases != 1 {
		t.Errorf("Kharkiv after 5 March: %+v", got)
	}
	if got := x.Aggregate(Filter{CrimeCode: "RS-1"}, mustGrid(t, 1, nil)); got.Cases != 0 {
		t.Errorf("an absent crime code: %+v", got)
	}
	if got := x.Aggregate(Filter{KeyPrefix: "B"}, mustGrid(t, 1, nil)); got.Cases != 1 || got.Cells[0].Key != "B" {
		t.Errorf("prefix B: %+v", got)
	}
}

// TestAggregateWindows: the window rules of the two list calls, to the
// nanosecond.
func TestAggregateWindows(t *testing.T) {
	x := NewIndex()
	x.Put("instant", DocOf("", []*accordv1.Incident{pt("Kyiv", 50, 30, "2022-03-01T00:00:00Z", "2022-02-01T00:00:00Z")}))
	x.Put("ends", DocOf("", []*accordv1.Incident{pt("Kyiv", 50, 30, "2022-02-28T20:00:00Z", "2022-03-01T00:00:00.5Z")}))
	x.Put("nostart", DocOf("", []*accordv1.Incident{{Place: "Kyiv"}}))
	day := time.Date(2022, 3, 1, 0, 0, 0, 0, time.UTC)
	count := func(w Window, place string) int {
		q, err := Parse(Input{Place: place}, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		return x.Aggregate(Filter{Query: q, Window: w}, mustGrid(t, 1, nil)).Cases
	}
	for _, tc := range []struct {
		name  string
		w     Window
		place string
		want  int
	}{
		{"after 1 March (own)", Window{After: day}, "", 1},                             // ends 0.5 s after; the instant does not touch
		{"from 1 March (federation)", Window{After: day, InstantAtAfter: true}, "", 2}, // the instant at its start touches
		{"after 1 March 00:00:00.5", Window{After: day.Add(500 * time.Millisecond)}, "", 0},
		{"before 1 March", Window{Before: day}, "", 1},
		{"place, own (a start needed)", Window{NeedStart: true}, "Kyiv", 2},
		{"place, federation", Window{}, "Kyiv", 3},
		{"none", Window{}, "", 3},
	} {
		if got := count(tc.w, tc.place); got != tc.want {
			t.Errorf("%s: %d cases, want %d", tc.name, got, tc.want)
		}
	}
}

func TestParseGrid(t *testing.T) {
	if g, err := ParseGrid(0, nil, ""); err != nil || g.CellDeg != DefaultCellDeg || g.Box != nil {
		t.Errorf("default: %+v %v", g, err)
	}
	for _, tc := range []struct {
		deg   float64
		box   *Box
		field string
	}{
		{-1, nil, "cell_deg"},
		{46, nil, "cell_deg"},
		{0.0001, nil, "cell_deg"},
		{0.1, nil, "cell_deg"}, // 1800 × 3600 cells
		{0.001, &Box{South: 0, West: 0, North: 2, East: 2}, "cell_deg"},
		{1, &Box{South: -91, North: 0, East: 1}, "bounds.south"},
		{1, &Box{North: 91, East: 1}, "bounds.north"},
		{1, &Box{West: -181, East: 1}, "bounds.west"},
		{1, &Box{South: 2, North: 1, East: 1}, "bounds.north"},
		{1, &Box{West: 2, East: 1, North: 1}, "bounds.east"},
	} {
		_, err := ParseGrid(tc.deg, tc.box, "")
		if !errors.Is(err, grpcserver.ErrInvalidArgument) || !strings.Contains(err.Error(), tc.field+": ") {
			t.Errorf("%g %+v: %v, want InvalidArgument naming %s", tc.deg, tc.box, err, tc.field)
		}
	}
	if _, err := ParseGrid(0.001, &Box{South: 50, West: 30, North: 50.5, East: 30.5}, ""); err != nil {
		t.Errorf("a small box of fine cells: %v", err)
	}
}

// TestAggregateAfterChanges: documents replaced, removed and added out of
// order (the arena compacted and the ids renumbered on the way) aggregate
// as an index built from the final documents.
func TestAggregateAfterChanges(t *testing.T) {
	doc := func(i, v int) Doc {
		lat, lon := 44+float64((i*7+v)%90)/10, 22+float64((i*13+v)%190)/10
		incs := []*accordv1.Incident{pt("Kharkiv", lat, lon, fmt.Sprintf("2022-%02d-%02dT10:00:00Z", 1+(i+v)%12, 1+i%28), "")}
		if i%3 == 0 {
			incs = append(incs, pt("Kyiv", lon, lat-20, "2023-01-05T00:00:00Z", ""))
		}
		d := DocOf(fmt.Sprintf("case %d", i), incs)
		d.CrimeCodes = []string{fmt.Sprintf("RS-%d", (i+v)%4)}
		return d
	}
	changed, fresh := NewIndex(), NewIndex()
	final := map[string]Doc{}
	for round := range 3 {
		for i := 9000; i >= 0; i -= 1 + round { // out of key order: renumbered
			k := fmt.Sprintf("K%05d", i)
			switch {
			case round == 2 && i%5 == 0:
				changed.Remove(k)
				delete(final, k)
			default:
				changed.Put(k, doc(i, round))
				final[k] = doc(i, round)
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(final)) {
		fresh.Put(k, final[k])
	}
	for _, f := range []Filter{{}, {CrimeCode: "RS-1"}, {Window: Window{After: time.Date(2022, 6, 1, 0, 0, 0, 0, time.UTC)}}} {
		a, b := changed.Aggregate(f, mustGrid(t, 0.5, nil)), fresh.Aggregate(f, mustGrid(t, 0.5, nil))
		// The means may differ in their last bits: the sums' order is the
		// documents' ids'.
		for i := range min(len(a.Cells), len(b.Cells)) {
			if math.Abs(a.Cells[i].Lat-b.Cells[i].Lat) < 1e-9 && math.Abs(a.Cells[i].Lon-b.Cells[i].Lon) < 1e-9 {
				a.Cells[i].Lat, a.Cells[i].Lon = b.Cells[i].Lat, b.Cells[i].Lon
			}
		}
		if a.Cases != len(final) && f.CrimeCode == "" && f.Window.After.IsZero() || !reflect.DeepEqual(a, b) {
			t.Errorf("%+v: after changes %d cases, %d cells; built fresh %d, %d", f, a.Cases, len(a.Cells), b.Cases, len(b.Cells))
		}
	}
}
