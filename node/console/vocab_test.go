package console

import (
	"testing"
	"time"

	fedmatching "github.com/accordfed/accord/federation/matching"
)

// TestVocabularyInEveryLanguage: every comparison and level name of the
// matcher has a catalog entry (and so, by TestCatalogs, one in every
// language): a level added to the matcher without words fails here.
func TestVocabularyInEveryLanguage(t *testing.T) {
	names, levels := fedmatching.Vocabulary()
	for i, n := range names {
		for _, w := range append([]string{n}, levels[i]...) {
			if _, ok := catalogs["en"]["matcher."+w]; !ok {
				t.Errorf("the matcher's %q has no catalog entry matcher.%s", w, w)
			}
		}
	}
}

// TestReasonsTranslated: the reasons the matcher gives for a pair that
// agrees on nearly everything are all shown in Ukrainian, with the
// values as written and numbers in the language's notation.
func TestReasonsTranslated(t *testing.T) {
	x := fedmatching.NewIndex(fedmatching.Config{})
	at := time.Date(2022, 3, 1, 8, 0, 0, 0, time.UTC)
	inc := func(place string, lat float64) []fedmatching.Incident {
		return []fedmatching.Incident{{Start: at, End: at.Add(time.Hour), Place: place, Region: "Kharkiv oblast", HasCoords: true, Lat: lat, Lon: 36.23}}
	}
	a := fedmatching.Record{ID: "UA\x00A", Member: "UA", Title: "Shelling of a residential block in Kharkiv", Incidents: inc("Kharkiv", 49.99),
		Evidence: []string{"aa", "bb"}, Units: []string{"64th Separate Motor Rifle Brigade"}, CrimeCodes: []string{"RS-8.2.b.i"}, VictimCount: 3}
	b := fedmatching.Record{ID: "PL\x00B", Member: "PL", Title: "Shelling of a residential block, Kharkiv", Incidents: inc("Charkow", 50.01),
		Evidence: []string{"aa", "bb"}, Units: []string{"64 OMSBr"}, CrimeCodes: []string{"RS-8.2.b.i"}, VictimCount: 3}
	for _, r := range []fedmatching.Record{a, b} {
		if err := x.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	c, ok := x.Compare(a.ID, b.ID)
	if !ok || len(c.Reasons) < 4 {
		t.Fatalf("compare: %v %+v", ok, c)
	}
	for _, r := range append(c.Reasons, c.Bare...) {
		t.Logf("%s → %s", r, vocab("uk", r))
		if got := vocab("uk", r); got == r {
			t.Errorf("reason %q is not translated", r)
		}
	}
	for in, want := range map[string]string{
		"2.5 km apart":                  "за 2,5 км одне від одного",
		"same place Kharkiv":            "те саме місце: Kharkiv",
		"place names Kharkiv ~ Charkow": "назви місць Kharkiv ~ Charkow",
		"close victim counts (3, 4)":    "близька кількість потерпілих (3, 4)",
		"not a matcher word <b>":        "not a matcher word <b>",
	} {
		if got := vocab("uk", in); got != want {
			t.Errorf("vocab(uk, %q) = %q, want %q", in, got, want)
		}
	}
	if got := vocab("en", "2.5 km apart"); got != "2.5 km apart" {
		t.Errorf("English: %q", got)
	}
}
