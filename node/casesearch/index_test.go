package casesearch

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/accordfed/accord/node/grpcserver"
)

var (
	testPlaces = []string{"Kharkiv", "Харків", "Kharkov", "Charków", "Rivne", "Ровно", "Lutsk", "Łuck", "Uman", "Mena", "Sumy", "Izium", "Kharkiv, Saltivka"}
	testTitles = []string{"Shelling of a school", "Обстріл школи", "Detention of civilians", "Shelling of the market", "Filtration camp"}
)

// randomDoc is a document with one or two incidents, some with points
// near Kharkiv (50.0, 36.2) or far.
func randomDoc(r *rand.Rand) Doc {
	d := Doc{Title: testTitles[r.IntN(len(testTitles))]}
	for range 1 + r.IntN(2) {
		in := Incident{Place: testPlaces[r.IntN(len(testPlaces))]}
		if r.IntN(3) > 0 {
			in.HasPoint = true
			in.Lat, in.Lon = 50+r.Float64()*2-1, 36.2+r.Float64()*4-2
		}
		d.Incidents = append(d.Incidents, in)
	}
	return d
}

// brute returns the keys of docs that match q, checked with the Match
// methods, in order.
func brute(docs map[string]Doc, q Query) []string {
	var out []string
	for k, d := range docs {
		if !q.MatchTitle(d.Title) {
			continue
		}
		ok := !q.HasIncident()
		for _, in := range d.Incidents {
			if q.MatchPoint(in.Lat, in.Lon, in.HasPoint) && q.MatchPlace(in.Place) {
				ok = true
			}
		}
		if ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// searchAll pages through a search, limit keys at a time, keeping the
// keys that brute-force checking confirms (Search returns candidates).
func searchAll(ix *Index, docs map[string]Doc, q Query, limit int) []string {
	var out []string
	after := ""
	for {
		keys, more := ix.Search(q, after, limit)
		for _, k := range keys {
			if k <= after {
				panic("keys out of order")
			}
			after = k
			if d, ok := docs[k]; ok && len(brute(map[string]Doc{k: d}, q)) == 1 {
				out = append(out, k)
			}
		}
		if !more {
			return out
		}
	}
}

var testQueries = []Input{
	{Place: "Kharkiv"}, {Place: "Charkiw"}, {Place: "Rivne"}, {Place: "Uman"}, {Place: "Khar*"},
	{Text: "shelling"}, {Text: "обстріл"}, {Text: "shelling school"},
	{NearLat: 50, NearLon: 36.2, RadiusKm: 30}, {NearLat: 50.5, NearLon: 37, RadiusKm: 5},
	{Place: "Kharkiv", NearLat: 50, NearLon: 36.2, RadiusKm: 50, Text: "shelling"},
	{},
}

// TestIncrementalAgainstFull changes documents one at a time (new,
// changed, removed, back again) and checks after each round that every
// query finds what an index built at once from the final documents finds,
// and what checking every document finds.
func TestIncrementalAgainstFull(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	docs := map[string]Doc{}
	inc := NewIndex()
	for round := range 5 {
		for range 300 {
			k := fmt.Sprintf("M%d\x00C-%04d", r.IntN(3), r.IntN(400))
			if r.IntN(5) == 0 {
				delete(docs, k)
				inc.Remove(k)
				continue
			}
			d := randomDoc(r)
			docs[k] = d
			inc.Put(k, d)
		}
		if round%2 == 1 {
			inc.mu.Lock()
			inc.reorder() // as a grown index does
			inc.mu.Unlock()
		}
		full := NewIndex()
		for _, k := range slices.Sorted(mapsKeys(docs)) {
			full.Put(k, docs[k])
		}
		if inc.Len() != len(docs) || full.Len() != len(docs) {
			t.Fatalf("round %d: Len %d and %d, want %d", round, inc.Len(), full.Len(), len(docs))
		}
		for _, in := range testQueries {
			q, err := Parse(in, "", nil)
			if err != nil {
				t.Fatal(err)
			}
			want := brute(docs, q)
			for name, ix := range map[string]*Index{"incremental": inc, "full": full} {
				for _, limit := range []int{1, 7, 1000} {
					if got := searchAll(ix, docs, q, limit); !slices.Equal(got, want) {
						t.Fatalf("round %d %s %+v limit %d: %d keys, want %d", round, name, in, limit, len(got), len(want))
					}
				}
			}
		}
	}
}

func mapsKeys(m map[string]Doc) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func TestFollowsChanges(t *testing.T) {
	ix := NewIndex()
	q, _ := Parse(Input{Place: "Харків"}, "", nil)
	found := func() []string { keys, _ := ix.Search(q, "", 10); return keys }
	ix.Put("a", Doc{Incidents: []Incident{{Place: "Kharkiv"}}})
	ix.Put("b", Doc{Incidents: []Incident{{Place: "Rivne"}}})
	if got := found(); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("new: %v", got)
	}
	ix.Put("b", Doc{Incidents: []Incident{{Place: "Charków"}}})
	ix.Put("a", Doc{Incidents: []Incident{{Place: "Lutsk"}}})
	if got := found(); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("changed: %v", got)
	}
	ix.Remove("b")
	ix.Remove("b")
	if got := found(); len(got) != 0 || ix.Len() != 1 {
		t.Fatalf("removed: %v, Len %d", got, ix.Len())
	}
	ix.Put("b", Doc{Incidents: []Incident{{Place: "Kharkov"}}})
	if got := found(); !slices.Equal(got, []string{"b"}) || ix.Len() != 2 {
		t.Fatalf("back: %v, Len %d", got, ix.Len())
	}
}

// TestVersions: a change reported late (an older version) does not undo
// a newer one, a removal included; version 0 always applies.
func TestVersions(t *testing.T) {
	ix := NewIndex()
	q, _ := Parse(Input{Place: "Kharkiv"}, "", nil)
	found := func() bool { keys, _ := ix.Search(q, "", 10); return len(keys) == 1 }
	if !ix.PutVersion("a", 5, Doc{Incidents: []Incident{{Place: "Kharkiv"}}}) || !found() {
		t.Fatal("v5 not applied")
	}
	if ix.PutVersion("a", 4, Doc{Incidents: []Incident{{Place: "Rivne"}}}) || !found() {
		t.Fatal("older v4 applied")
	}
	ix.RemoveVersion("a", 3)
	if !found() {
		t.Fatal("an older removal applied")
	}
	ix.RemoveVersion("a", 6)
	if found() || ix.PutVersion("a", 5, Doc{Incidents: []Incident{{Place: "Kharkiv"}}}) || found() {
		t.Fatal("a version older than the removal came back")
	}
	ix.Remove("a") // a resync forgets versions
	if !ix.PutVersion("a", 1, Doc{Incidents: []Incident{{Place: "Kharkiv"}}}) || !found() {
		t.Fatal("after a reset")
	}
}

func TestWindowNarrowsCandidates(t *testing.T) {
	ix := NewIndex()
	day := func(d int) time.Time { return time.Date(2022, 3, d, 10, 0, 0, 0, time.UTC) }
	for d := 1; d <= 20; d++ {
		ix.Put(fmt.Sprintf("c%02d", d), Doc{Incidents: []Incident{{Place: "Kharkiv", Start: day(d)}}})
	}
	ix.Put("long", Doc{Incidents: []Incident{{Place: "Kharkiv", Start: day(1), End: day(20)}}})
	ix.Put("undated", Doc{Incidents: []Incident{{Place: "Kharkiv"}}})
	q, _ := Parse(Input{Place: "Kharkiv"}, "", nil)
	lo, hi := time.Date(2022, 3, 10, 0, 0, 0, 0, time.UTC), time.Date(2022, 3, 12, 0, 0, 0, 0, time.UTC)
	got, _ := ix.Search(q.WithWindow(lo, hi), "", 100)
	// Days 10 and 11 touch the window; a day either side may come as
	// candidates; the long and the undated ones must.
	for _, k := range []string{"c10", "c11", "long", "undated"} {
		if !slices.Contains(got, k) {
			t.Errorf("%s missing from %v", k, got)
		}
	}
	for _, k := range got {
		if k < "c08" || k > "c13" && k[0] == 'c' {
			t.Errorf("%s is far from the window: %v", k, got)
		}
	}
	if open, _ := ix.Search(q.WithWindow(time.Time{}, time.Time{}), "", 100); len(open) != 22 {
		t.Errorf("no window: %d", len(open))
	}
}

func TestNear(t *testing.T) {
	// Kyiv (50.45, 30.52); Bucha 25 km away; Kharkiv 410 km; a point
	// across the antimeridian from (0, 179.9).
	ix := NewIndex()
	ix.Put("bucha", Doc{Incidents: []Incident{{Place: "Bucha", Lat: 50.543, Lon: 30.212, HasPoint: true}}})
	ix.Put("kharkiv", Doc{Incidents: []Incident{{Place: "Kharkiv", Lat: 49.99, Lon: 36.23, HasPoint: true}}})
	ix.Put("nopoint", Doc{Incidents: []Incident{{Place: "Kyiv"}}})
	ix.Put("pacific", Doc{Incidents: []Incident{{Place: "x", Lat: 0, Lon: -179.95, HasPoint: true}}})
	for _, tc := range []struct {
		lat, lon, km float64
		want         []string
	}{
		{50.45, 30.52, 30, []string{"bucha"}},
		{50.45, 30.52, 20, nil},
		{50.45, 30.52, 500, []string{"bucha", "kharkiv"}},
		{0, 179.95, 20, []string{"pacific"}},
	} {
		q, err := Parse(Input{NearLat: tc.lat, NearLon: tc.lon, RadiusKm: tc.km}, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		keys, _ := ix.Search(q, "", 10)
		for _, k := range keys {
			d := map[string]Incident{"bucha": {Lat: 50.543, Lon: 30.212, HasPoint: true}, "kharkiv": {Lat: 49.99, Lon: 36.23, HasPoint: true},
				"nopoint": {}, "pacific": {Lat: 0, Lon: -179.95, HasPoint: true}}[k]
			if q.MatchPoint(d.Lat, d.Lon, d.HasPoint) {
				got = append(got, k)
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("near %g,%g %g km: %v, want %v", tc.lat, tc.lon, tc.km, got, tc.want)
		}
	}
}

func TestParseRefusesBadInput(t *testing.T) {
	for _, tc := range []struct {
		in    Input
		field string
	}{
		{Input{Place: strings.Repeat("a", MaxPlaceBytes+1)}, "filter.place"},
		{Input{Place: " ,;- "}, "filter.place"},
		{Input{Place: "K*"}, "filter.place"},
		{Input{Text: strings.Repeat("a ", MaxTextBytes)}, "filter.text"},
		{Input{Text: "!!"}, "filter.text"},
		{Input{NearLat: 91, NearLon: 30, RadiusKm: 5}, "filter.near_lat"},
		{Input{NearLat: -90.5, NearLon: 30, RadiusKm: 5}, "filter.near_lat"},
		{Input{NearLat: 50, NearLon: 181, RadiusKm: 5}, "filter.near_lon"},
		{Input{NearLat: 50, NearLon: 30}, "filter.radius_km"},
		{Input{NearLat: 50, NearLon: 30, RadiusKm: -1}, "filter.radius_km"},
		{Input{NearLat: 50, NearLon: 30, RadiusKm: MaxRadiusKm + 1}, "filter.radius_km"},
	} {
		_, err := Parse(tc.in, "filter.", nil)
		if !errors.Is(err, grpcserver.ErrInvalidArgument) || !strings.Contains(err.Error(), tc.field+":") {
			t.Errorf("%+v: %v, want InvalidArgument naming %s", tc.in, err, tc.field)
		}
	}
	if _, err := Parse(Input{NearLat: 0, NearLon: 0, RadiusKm: 1}, "", nil); err != nil {
		t.Errorf("a radius around 0,0: %v", err)
	}
}

func TestKeyBindsEveryFilter(t *testing.T) {
	seen := map[string]Input{}
	for _, in := range append(slices.DeleteFunc(slices.Clone(testQueries), func(in Input) bool { return in.Place == "Charkiw" }), Input{Place: "Khar"}, Input{Place: "Kharkiv", RadiusKm: 30}, Input{Text: "shelling", NearLat: 50, NearLon: 36.2, RadiusKm: 30}) {
		q, err := Parse(in, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		if prev, dup := seen[q.Key()]; dup {
			t.Errorf("%+v and %+v have one key", prev, in)
		}
		seen[q.Key()] = in
	}
	a, _ := Parse(Input{Place: "Kharkiv"}, "", nil)
	b, _ := Parse(Input{Place: "Харків"}, "", nil)
	if a.Key() != b.Key() {
		t.Errorf("one place in two scripts, two keys: %q %q", a.Key(), b.Key())
	}
}
