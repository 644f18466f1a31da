package matching

import (
	"slices"
	"testing"
	"time"
)

// TestPlaceAliases: the index gives the names it learned at one location
// (a renamed town written both ways in cases with coordinates), and
// follows records removed.
func TestPlaceAliases(t *testing.T) {
	x := NewIndex(Config{})
	at := time.Date(2022, 3, 1, 10, 0, 0, 0, time.UTC)
	add := func(id, place string, lat, lon float64) {
		t.Helper()
		if err := x.Add(Record{ID: id, Member: id[:2], VictimCount: -1, Incidents: []Incident{{Start: at, End: at.Add(time.Hour), Place: place, HasCoords: true, Lat: lat, Lon: lon}}}); err != nil {
			t.Fatal(err)
		}
	}
	add("UA-1", "Dnipropetrovsk", 48.4647, 35.0462)
	add("PL-1", "Dnipro", 48.4650, 35.0470)
	add("DE-1", "Kharkiv", 49.9935, 36.2304)
	add("FR-1", "Sicheslav", 48.48, 35.05) // 1.8 km away
	dnipro, _ := FoldPlace("Дніпро")
	dpetrovsk, _ := FoldPlace("Dnipropetrovsk")
	sicheslav, _ := FoldPlace("Sicheslav")
	if got := x.PlaceAliases(dnipro, 3); !slices.Equal(got, []string{dpetrovsk, sicheslav}) {
		t.Errorf("aliases of Dnipro within 3 km: %v", got)
	}
	if got := x.PlaceAliases(dnipro, 1); !slices.Equal(got, []string{dpetrovsk}) {
		t.Errorf("within 1 km: %v", got)
	}
	kharkiv, _ := FoldPlace("Kharkiv")
	if got := x.PlaceAliases(kharkiv, 3); len(got) != 0 {
		t.Errorf("Kharkiv has aliases: %v", got)
	}
	if got := x.PlaceAliases("nowhere", 3); got != nil {
		t.Errorf("an unknown name has aliases: %v", got)
	}
	x.Remove("UA-1")
	if got := x.PlaceAliases(dnipro, 1); len(got) != 0 {
		t.Errorf("after removing the record: %v", got)
	}
}
