package casesearch

import (
	"testing"

	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// FuzzReviewQuery: any query input is refused or searches without a
// panic, and a query matches the documents it was built from.
func FuzzReviewQuery(f *testing.F) {
	for _, s := range []string{"Kyiv", "Харків*", "a*", "**", " ", "\x00", "ﬁ", "İstanbul", "\u202e", "a b c*"} {
		f.Add(s, s, 50.0, 30.0, 10.0)
	}
	f.Fuzz(func(t *testing.T, place, text string, lat, lon, km float64) {
		x := NewIndex()
		la, lo := 50.45, 30.52
		x.Put("A\x00A-1", DocOf(text, []*accordv1.Incident{{Place: place, Lat: &la, Lon: &lo}}))
		x.Put("B\x00B-1", DocOf("t", []*accordv1.Incident{{Place: "Kyiv"}}))
		q, err := Parse(Input{Place: place, Text: text, NearLat: lat, NearLon: lon, RadiusKm: km}, "", nil)
		if err != nil {
			return
		}
		_ = q.Key()
		keys, _ := x.Search(q, "", 10)
		q2, err := Parse(Input{Place: place, Text: text}, "", nil)
		if err != nil {
			t.Fatalf("without near refused: %v", err)
		}
		keys2, _ := x.Search(q2, "", 10)
		found := false
		for _, k := range keys2 {
			found = found || k == "A\x00A-1"
		}
		if !found && !q2.Empty() {
			t.Fatalf("place %q text %q: its own document not found (%q)", place, text, keys2)
		}
		_ = keys
	})
}
