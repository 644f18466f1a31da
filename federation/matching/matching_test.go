package matching

import (
	"context"
	"errors"
	"maps"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/accordfed/accord/federation/textfold"
)

func TestFoldPlaceTransliterations(t *testing.T) {
	// Same place, different scripts and romanisations: equal skeletons.
	groups := [][]string{
		{"Kharkiv", "Kharkov", "Charków", "Charkiw", "Харків", "Харьков"},
		{"Kyiv", "Kiev", "Київ", "Kijów", "Kiew"},
		{"Chernihiv", "Chernigov", "Czernihów", "Tschernihiw", "Чернігів"},
		{"Zaporizhzhia", "Zaporozhye", "Saporischschja", "Zaporoże", "Запоріжжя"},
		{"Donetsk", "Donezk", "Donieck", "Донецьк"},
		{"Mykolaiv", "Mikołajów", "Mykolajiw", "Миколаїв"},
		{"Bila Tserkva", "Belaya Tserkov", "Біла Церква"},
		{"Okhtyrka", "Ochtyrka", "Akhtyrka"},
	}
	for _, g := range groups {
		_, want := FoldPlace(g[0])
		for _, n := range g[1:] {
			if _, got := FoldPlace(n); got != want {
				t.Errorf("skeleton(%s) = %q, skeleton(%s) = %q: want equal", n, got, g[0], want)
			}
		}
	}
	// Pure transliterations fold to the same phonetic form.
	for _, p := range [][2]string{{"Bucha", "Bucza"}, {"Odesa", "Odessa"}, {"Izium", "Izyum"}, {"Uman", "Uman'"}, {"Vorzel", "Worzel"}, {"Kupiansk", "Kupiańsk"}} {
		a, _ := FoldPlace(p[0])
		b, _ := FoldPlace(p[1])
		if a != b {
			t.Errorf("fold(%s) = %q, fold(%s) = %q: want equal", p[0], a, p[1], b)
		}
	}
	// Different places stay apart.
	for _, p := range [][2]string{{"Kharkiv", "Kherson"}, {"Kyiv", "Kovel"}, {"Sumy", "Lviv"}} {
		_, a := FoldPlace(p[0])
		_, b := FoldPlace(p[1])
		if a == b {
			t.Errorf("skeleton(%s) = skeleton(%s) = %q: want different", p[0], p[1], a)
		}
	}
}

func TestFoldRegion(t *testing.T) {
	want := FoldRegion("Kharkiv Oblast")
	for _, r := range []string{"Харківська область", "obwód charkowski", "Kharkov region", "Oblast Charkiw"} {
		if got := FoldRegion(r); got != want {
			t.Errorf("FoldRegion(%q) = %q, want %q", r, got, want)
		}
	}
	if FoldRegion("Donetsk Oblast") == want {
		t.Error("Donetsk and Kharkiv regions fold together")
	}
}

func inc(t *testing.T, start, end string) *cinc {
	t.Helper()
	s, err := time.Parse(time.RFC3339, start)
	if err != nil {
		t.Fatal(err)
	}
	e, err := time.Parse(time.RFC3339, end)
	if err != nil {
		t.Fatal(err)
	}
	c := &cinc{s: s.Unix(), e: e.Unix()}
	c.narrow = c.e-c.s <= narrowWindow
	return c
}

func TestTimeLevelsAcrossTimeZones(t *testing.T) {
	cases := []struct {
		name       string
		a, b       [2]string
		want       int8
		wantReason string
	}{
		{"same instant, different offsets", [2]string{"2022-09-05T10:00:00+03:00", "2022-09-05T11:00:00+03:00"}, [2]string{"2022-09-05T07:00:00Z", "2022-09-05T08:00:00Z"}, 0, "same hour"},
		{"UTC day vs Kyiv-local day", [2]string{"2022-09-05T00:00:00Z", "2022-09-06T00:00:00Z"}, [2]string{"2022-09-05T00:00:00+03:00", "2022-09-06T00:00:00+03:00"}, 2, "overlapping time windows"},
		{"hour in Kyiv inside a UTC day", [2]string{"2022-09-05T02:00:00+03:00", "2022-09-05T03:00:00+03:00"}, [2]string{"2022-09-04T00:00:00Z", "2022-09-05T00:00:00Z"}, 2, "overlapping time windows"},
		{"same hour, date a day off", [2]string{"2022-09-05T10:00:00+03:00", "2022-09-05T11:00:00+03:00"}, [2]string{"2022-09-06T10:00:00+03:00", "2022-09-06T11:00:00+03:00"}, 1, "same hour, dates a day apart"},
		{"two strikes on one day", [2]string{"2022-09-05T08:00:00+03:00", "2022-09-05T09:00:00+03:00"}, [2]string{"2022-09-05T17:00:00+03:00", "2022-09-05T18:00:00+03:00"}, 3, "same day, 9h apart"},
		{"two days apart", [2]string{"2022-09-05T00:00:00Z", "2022-09-06T00:00:00Z"}, [2]string{"2022-09-07T12:00:00Z", "2022-09-07T13:00:00Z"}, 4, "within three days"},
		{"weeks apart", [2]string{"2022-09-05T00:00:00Z", "2022-09-06T00:00:00Z"}, [2]string{"2022-10-05T00:00:00Z", "2022-10-06T00:00:00Z"}, 5, ""},
	}
	for _, c := range cases {
		a, b := inc(t, c.a[0], c.a[1]), inc(t, c.b[0], c.b[1])
		got, dt, gap := timeLevel(a, b)
		if got != c.want {
			t.Errorf("%s: level %d, want %d", c.name, got, c.want)
		}
		if r := timeReason(got, detail{dt: dt, gap: gap}); r != c.wantReason {
			t.Errorf("%s: reason %q, want %q", c.name, r, c.wantReason)
		}
		// symmetric
		if g2, _, _ := timeLevel(b, a); g2 != got {
			t.Errorf("%s: not symmetric (%d vs %d)", c.name, got, g2)
		}
	}
	// Blocking: windows less than a day apart share a day key.
	a := inc(t, "2022-09-05T23:30:00+03:00", "2022-09-06T00:30:00+03:00")
	b := inc(t, "2022-09-06T22:00:00Z", "2022-09-06T23:00:00Z")
	a0, a1 := dayRange(a)
	b0, b1 := dayRange(b)
	if a1 < b0 || b1 < a0 {
		t.Errorf("day ranges [%d,%d] and [%d,%d] do not meet", a0, a1, b0, b1)
	}
}

func TestDistance(t *testing.T) {
	// Kyiv to Kharkiv, city centres: about 409 km.
	if d := haversineKm(50.4501, 30.5234, 49.9935, 36.2304); math.Abs(d-409) > 5 {
		t.Errorf("Kyiv-Kharkiv %.1f km, want about 409", d)
	}
	if d := haversineKm(48.0, 37.0, 48.0, 37.0); d != 0 {
		t.Errorf("same point %.3f km", d)
	}
	// 0.0027° of latitude is about 300 m.
	if d := haversineKm(48.0, 37.0, 48.0027, 37.0); math.Abs(d-0.3) > 0.01 {
		t.Errorf("%.3f km, want 0.3", d)
	}
	a := &cinc{hasGeo: true, lat: 48.0, lon: 37.0, cos: cosDeg(48.0)}
	b := &cinc{hasGeo: true, lat: 48.0027, lon: 37.0, cos: cosDeg(48.0027)}
	if l, _ := distLevel(a, b); l != 0 {
		t.Errorf("300 m: level %d, want 0", l)
	}
	if l, _ := distLevel(a, &cinc{}); l != -1 {
		t.Errorf("missing coordinates: level %d, want null", l)
	}
	// The fast distance stays within 0.1% of the great circle across
	// Ukraine's latitudes, near and far.
	for _, p := range [][4]float64{{44.5, 33.5, 44.51, 33.52}, {50.45, 30.52, 49.99, 36.23}, {52.3, 23.9, 52.3, 25.8}, {46.48, 30.72, 46.4801, 30.7202}, {48.0, 22.1, 51.9, 40.2}} {
		h := haversineKm(p[0], p[1], p[2], p[3])
		f := distKm(p[0], p[1], cosDeg(p[0]), p[2], p[3], cosDeg(p[2]))
		if math.Abs(f-h) > 0.001*h+1e-9 {
			t.Errorf("%v: fast %.4f km, haversine %.4f km", p, f, h)
		}
	}
}

func TestUnitKeys(t *testing.T) {
	want := unitKeys("64th Separate Motor Rifle Brigade")
	for _, u := range []string{"64 OMSBr", "64. Motorisierte Schützenbrigade", "64 Samodzielna Brygada Zmechanizowana"} {
		if got := unitKeys(u); !slices.Equal(got, want) {
			t.Errorf("unitKeys(%q) = %v, want %v", u, got, want)
		}
	}
	if got := unitKeys("military unit 51460"); !slices.Equal(got, []string{"p51460"}) {
		t.Errorf("post number: %v", got)
	}
	if a, b := unitKeys("Rosgvardia"), unitKeys("Rosgwardia"); !slices.Equal(a, b) {
		t.Errorf("Rosgvardia %v, Rosgwardia %v", a, b)
	}
}

func day(d string, h int) (time.Time, time.Time) {
	s, _ := time.Parse(time.RFC3339, d)
	if h < 0 {
		return s, s.Add(24 * time.Hour)
	}
	s = s.Add(time.Duration(h) * time.Hour)
	return s, s.Add(time.Hour)
}

func testRecord(id, place string, lat, lon float64, start, end time.Time, ev ...string) Record {
	in := Incident{Start: start, End: end, Place: place, Region: "Kharkiv Oblast"}
	if lat != 0 {
		in.HasCoords, in.Lat, in.Lon = true, lat, lon
	}
	return Record{ID: id, Member: memberOf(id), Incidents: []Incident{in}, Evidence: ev, VictimCount: 3}
}

func sha(c byte) string { return strings.Repeat(string(c), 64) }

func TestReasonsAndIncrementalIndex(t *testing.T) {
	s1, e1 := day("2022-05-16T00:00:00+03:00", 9)
	s2, e2 := day("2022-05-16T06:00:00Z", 0)
	s3, e3 := day("2022-05-16T00:00:00+03:00", 19)
	a := testRecord("UA-1", "Kharkiv", 49.9935, 36.2304, s1, e1, sha('a'), sha('b'))
	b := testRecord("PL-1", "Charków", 49.9962, 36.2304, s2, e2, sha('a'))
	c := testRecord("DE-1", "Charkiw", 49.9940, 36.2310, s3, e3) // same town, same day, other hour
	x := NewIndex(Config{})
	for _, r := range []Record{a, c} {
		if err := x.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	ms, err := x.Match(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 1 || ms[0].A != "PL-1" || ms[0].B != "UA-1" {
		t.Fatalf("matches %+v, want PL-1 ~ UA-1 only", ms)
	}
	joined := strings.Join(ms[0].Reasons, "; ")
	for _, want := range []string{"same evidence item (1)", "0.3 km apart", "same hour", "place names Kharkiv ~ Charków"} {
		if !strings.Contains(joined, want) && !strings.Contains(joined, "place names Charków ~ Kharkiv") {
			t.Errorf("reasons %q lack %q", joined, want)
		}
	}
	if ms[0].Score < 0.9 {
		t.Errorf("score %.3f, want a confident match", ms[0].Score)
	}
	// The bare reasons say the same, one for one, without the places.
	if len(ms[0].Bare) != len(ms[0].Reasons) {
		t.Errorf("bare reasons %q for reasons %q", ms[0].Bare, ms[0].Reasons)
	}
	bare := strings.Join(ms[0].Bare, "; ")
	for _, v := range []string{"Kharkiv", "Charków"} {
		if strings.Contains(bare, v) {
			t.Errorf("bare reasons %q carry %q", bare, v)
		}
	}
	for _, want := range []string{"same evidence item (1)", "0.3 km apart", "same hour", "place names agree"} {
		if !strings.Contains(bare, want) {
			t.Errorf("bare reasons %q lack %q", bare, want)
		}
	}
	// Add b, then the pair is found from either side; remove it again.
	if err := x.Add(b); err != nil {
		t.Fatal(err)
	}
	ms2, _ := x.Match(a)
	if len(ms2) != 1 || ms2[0].A != "PL-1" || ms2[0].Score != ms[0].Score {
		t.Fatalf("from the other side: %+v, want the same pair and score as %+v", ms2, ms)
	}
	if !x.Remove("PL-1") || x.Remove("PL-1") {
		t.Fatal("Remove")
	}
	if ms3, _ := x.Match(a); len(ms3) != 0 {
		t.Fatalf("after Remove: %+v", ms3)
	}
	if x.Len() != 2 {
		t.Fatalf("Len %d", x.Len())
	}
}

// TestOnlineEqualsOffline: a node that adds the records one by one and
// matches each with the offline model gets the offline pairs.
func TestOnlineEqualsOffline(t *testing.T) {
	recs, _ := loadDataset(t, "dedup-small")
	off, model, _, err := MatchAll(recs, Config{}, true)
	if err != nil {
		t.Fatal(err)
	}
	x := NewIndex(Config{Model: model})
	for _, r := range recs {
		if err := x.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	on := map[[2]string]float64{}
	for _, r := range recs {
		ms, err := x.Match(r)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			on[[2]string{m.A, m.B}] = m.Score
		}
	}
	same := 0
	for _, m := range off {
		if s, ok := on[[2]string{m.A, m.B}]; ok && math.Abs(s-m.Score) < 1e-9 {
			same++
		}
	}
	// Place locations learned from the cases depend on what the index
	// held when a case without coordinates was added, so a handful of
	// candidate pairs can differ.
	if float64(same) < 0.99*float64(len(off)) || float64(len(on)) > 1.01*float64(len(off)) {
		t.Errorf("online %d pairs, offline %d, %d identical", len(on), len(off), same)
	}
}

// TestPostingsInPasses checks that building the postings in many passes
// (as a million-case run does) gives the same matches as in one.
func TestPostingsInPasses(t *testing.T) {
	recs := genRecords(t, 4000, 3, benchMembers)
	one, _, st1, err := MatchAll(recs, Config{}, true)
	if err != nil {
		t.Fatal(err)
	}
	defer func(v int) { postingsPassEntries = v }(postingsPassEntries)
	postingsPassEntries = 500
	many, _, st2, err := MatchAll(recs, Config{}, true)
	if err != nil {
		t.Fatal(err)
	}
	if st1.CandidatePairs == 0 || st1.CandidatePairs != st2.CandidatePairs || !reflect.DeepEqual(one, many) {
		t.Fatalf("one pass: %s; many: %s", st1, st2)
	}
}

// TestCutoffChangesNothing checks that stopping comparisons early (the
// cutoff) reports exactly the pairs a full comparison of every candidate
// pair reports, with the same scores.
func TestCutoffChangesNothing(t *testing.T) {
	var recs []Record
	genFederation(t, 3000, 5, func(r []Record) { recs = append(recs, r...) })
	_, model, _, err := MatchAll(recs, Config{}, true)
	if err != nil {
		t.Fatal(err)
	}
	x := NewIndex(Config{Model: model})
	for _, r := range recs {
		if err := x.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	full := map[[2]string]float64{}
	cmp, scorer := x.comparer(), x.scorer()
	cut := 0
	for slot, a := range x.recs {
		for _, j := range x.candidates(x.keys[slot], int32(slot), nil) {
			b := x.recs[j]
			if !idLess(a, b) {
				continue
			}
			g, _ := cmp.compareRecs(a, b, x.model.incidentWeight)
			if p := Probability(x.model.weight(g)); p >= x.cfg.Threshold {
				full[[2]string{a.id, b.id}] = math.Round(p*10000) / 10000
			}
			if _, det := scorer.compareRecs(a, b, x.model.incidentWeight); det.cut {
				cut++
			}
		}
	}
	withCut := map[[2]string]float64{}
	for _, r := range recs {
		ms, err := x.Match(r)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			withCut[[2]string{m.A, m.B}] = m.Score
		}
	}
	if len(full) == 0 || cut == 0 {
		t.Fatalf("%d matches, %d comparisons cut: the test proves nothing", len(full), cut)
	}
	if !maps.Equal(full, withCut) {
		t.Errorf("with the cutoff %d matches, without %d (or scores differ)", len(withCut), len(full))
	}
	t.Logf("%d matches; %d comparisons stopped early", len(full), cut)
}

// TestRunContextGivesUp checks that a batch run whose context has ended
// stops with the context's error instead of matching everything.
func TestRunContextGivesUp(t *testing.T) {
	var recs []Record
	genFederation(t, 2000, 7, func(r []Record) { recs = append(recs, r...) })
	b := NewBatch(Config{})
	if err := b.Add(recs); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if ms, _, _, err := b.RunContext(ctx, true); !errors.Is(err, context.Canceled) || ms != nil {
		t.Fatalf("cancelled run: %d matches, error %v", len(ms), err)
	}
	if _, _, _, err := b.Run(true); !errors.Is(err, ErrBatchDone) {
		t.Fatalf("second run: %v, want ErrBatchDone", err)
	}
}

// TestTitleWordsByPiece: compile folds a title piece by piece (pieces
// repeat across cases and are folded once per batch); that must give the
// words of the whole title.
func TestTitleWordsByPiece(t *testing.T) {
	titles := []string{
		"Обстріл житлового будинку, Харків, 01.03.2022",
		"Ostrzał budynku mieszkalnego w Charkowie (1 marca 2022)",
		"Beschuss eines Wohnhauses in Charkiw am 1.3.2022",
		"Killing at checkpoint in Zaporizhzhia, 2021-12-31",
		"word\u00a0after\u2003odd spaces \u0301accent",
		"ім'я з апострофом ʼта літерою ґ",
		"64-та бригада, в/ч 51460, 3rd\tunit",
		"",
	}
	for _, title := range titles {
		var want []uint64
		for _, w := range textfold.Words(title) {
			if w[0] >= '0' && w[0] <= '9' {
				continue
			}
			if f := textfold.FoldWord(w); len(f) >= 3 {
				want = append(want, strHash(f))
			}
		}
		for _, tab := range []*placeTable{nil, newPlaceTable()} {
			for range 2 { // the second time from the table
				var got []uint64
				for _, piece := range strings.Fields(title) {
					for _, w := range tab.titleWords(piece) {
						got = append(got, w.h)
					}
				}
				if !slices.Equal(got, want) {
					t.Errorf("%q: by piece %v, whole %v", title, got, want)
				}
			}
		}
	}
}
