package caseformat

import (
	"fmt"
	"strings"
	"testing"

	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// datasetsDir is the shared datasets folder, relative to the package.
const datasetsDir = "../../../shared/datasets"

func parseAll(tb testing.TB, lines [][]byte, member string) []*accordv1.Case {
	tb.Helper()
	cases := make([]*accordv1.Case, len(lines))
	for i, l := range lines {
		c, errs := Parse(l, int64(i+1), member)
		if errs != nil {
			tb.Fatalf("line %d: %v", i+1, errs)
		}
		cases[i] = c
	}
	return cases
}

// syntheticLines returns n valid UA lines shaped like the dev dataset's.
func syntheticLines(n int) [][]byte {
	lines := make([][]byte, n)
	for i := range lines {
		var ev []string
		for j := range 4 {
			ev = append(ev, fmt.Sprintf(`{"sha256": "%064x", "media_type": "video/mp4", "id": "UA-2023-%06d-E%03d", "collected": "2023-05-%02d"}`, i*7+j, i, j+1, j+10))
		}
		lines[i] = fmt.Appendf(nil, `{"case_id": "UA-2023-%06d", "country": "UA", "title": "Shelling in Kharkiv, 2023-04-%02d", "opened": "2023-05-01", "status": "investigation", "sensitivity": "federation", "crime_codes": ["RS-8.2.b.i", "UA-CC-438"], "incidents": [{"start": "2023-04-%02dT10:00:00+03:00", "end": "2023-04-%02dT11:00:00+03:00", "precision": "hour", "place": "Kharkiv", "region": "Kharkiv Oblast", "lat": 49.99%03d, "lon": 36.23%03d, "location_precision_m": 250}], "perpetrators": [{"kind": "unit", "name": "military unit 12345"}], "persons": [{"role": "victim", "name": "Ivanna Testenko", "birth_year": 1970}, {"role": "witness", "name": "Олег Тестенко"}], "victim_count": 2, "evidence": [%s]}`,
			i, i%28+1, i%28+1, i%28+1, i%1000, i%1000, strings.Join(ev, ", "))
	}
	return lines
}
