package matcher

import (
	"slices"
	"testing"
	"time"

	"github.com/accordfed/accord/federation/matching"
)

// TestPlaceAliases: before its index is loaded the matcher knows no
// aliases; then it gives what the index learned.
func TestPlaceAliases(t *testing.T) {
	m := New("UA", nil, nil, Options{})
	if got := m.PlaceAliases("dnipro", 3); got != nil {
		t.Fatalf("before loading: %v", got)
	}
	ix := matching.NewIndex(matching.Config{})
	at := time.Date(2022, 3, 1, 10, 0, 0, 0, time.UTC)
	for _, r := range []struct{ id, place string }{{"UA-1", "Dnipropetrovsk"}, {"PL-1", "Dnipro"}} {
		if err := ix.Add(matching.Record{ID: r.id, VictimCount: -1, Incidents: []matching.Incident{{Start: at, End: at.Add(time.Hour), Place: r.place, HasCoords: true, Lat: 48.4647, Lon: 35.0462}}}); err != nil {
			t.Fatal(err)
		}
	}
	m.ready.Store(ix)
	dnipro, _ := matching.FoldPlace("Dnipro")
	dpetrovsk, _ := matching.FoldPlace("Dnipropetrovsk")
	if got := m.PlaceAliases(dnipro, 3); !slices.Equal(got, []string{dpetrovsk}) {
		t.Errorf("aliases: %v", got)
	}
}
