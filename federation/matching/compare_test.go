package matching

import (
	"testing"
	"time"
)

// TestIndexCompare: Compare reports what Match reports of a pair (score,
// weight, levels), and says which incidents it compared, how far apart
// they are, and what evidence the records share, whatever the threshold.
func TestIndexCompare(t *testing.T) {
	at := func(place string, lat, lon float64, start string) Incident {
		s, err := time.Parse(time.RFC3339, start)
		if err != nil {
			t.Fatal(err)
		}
		return Incident{Start: s, End: s.Add(time.Hour), Place: place, Region: "Kharkivska", HasCoords: true, Lat: lat, Lon: lon}
	}
	recs := []Record{
		{ID: "UA-1", Title: "shelling of school 134", VictimCount: 3, CrimeCodes: []string{"8(2)(b)(ix)"},
			Incidents: []Incident{at("Izium", 49.21, 37.26, "2022-04-01T10:00:00+03:00"), at("Kharkiv", 49.99, 36.23, "2022-03-01T10:00:00+02:00")},
			Evidence:  []string{"aa", "bb", "cc"}},
		{ID: "PL-1", Title: "school 134 shelled", VictimCount: 3, CrimeCodes: []string{"8(2)(b)(ix)"},
			Incidents: []Incident{at("Харків", 50.00, 36.25, "2022-03-01T11:30:00+03:00")},
			Evidence:  []string{"bb", "aa"}},
		{ID: "DE-7", Title: "pillage", VictimCount: -1, CrimeCodes: []string{"8(2)(b)(xvi)"},
			Incidents: []Incident{at("Lviv", 49.84, 24.03, "2023-01-10T10:00:00+02:00")}},
	}
	x := NewIndex(Config{})
	for _, r := range recs {
		if err := x.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	ms, err := x.Match(recs[1])
	if err != nil || len(ms) != 1 {
		t.Fatalf("PL-1 matches %v, %v: want UA-1", ms, err)
	}
	for _, order := range [][2]string{{"UA-1", "PL-1"}, {"PL-1", "UA-1"}} {
		c, ok := x.Compare(order[0], order[1])
		if !ok {
			t.Fatalf("Compare(%s, %s): not found", order[0], order[1])
		}
		m := ms[0]
		if c.A != m.A || c.B != m.B || c.Levels != m.Levels || c.Weight != m.Weight || c.Model != m.Model || len(c.Reasons) == 0 {
			t.Fatalf("Compare(%s, %s) = %+v, Match = %+v", order[0], order[1], c.Match, m)
		}
		if s, _ := x.ScorePair(order[0], order[1]); s != c.Score || c.Score < m.Score-0.0001 || c.Score > m.Score+0.0001 {
			t.Errorf("score %v, ScorePair %v, Match %v", c.Score, s, m.Score)
		}
		// A is PL-1 (ids in order): its only incident against UA-1's
		// second (Kharkiv), which starts 30 minutes before.
		if c.A != "PL-1" || c.IncidentA != 0 || c.IncidentB != 1 || c.StartDiff != 30*time.Minute || c.Gap != -30*time.Minute {
			t.Errorf("incidents %d~%d, start diff %v, gap %v: want 0~1, 30m, -30m", c.IncidentA, c.IncidentB, c.StartDiff, c.Gap)
		}
		if !c.HasKm || c.Km < 1 || c.Km > 3 || c.SharedEvidence != 2 {
			t.Errorf("km %v (%v), shared evidence %d: want 1-3 km and 2", c.Km, c.HasKm, c.SharedEvidence)
		}
	}
	// A pair far below the threshold is still compared.
	c, ok := x.Compare("DE-7", "PL-1")
	if !ok || c.Score > 0.5 || c.SharedEvidence != 0 {
		t.Errorf("DE-7 ~ PL-1: %+v, %v: want a low score", c, ok)
	}
	if _, ok := x.Compare("PL-1", "FR-1"); ok {
		t.Error("a record not in the index compared")
	}
	if _, ok := x.Compare("PL-1", "PL-1"); ok {
		t.Error("a record compared with itself")
	}
}
