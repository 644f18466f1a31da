package caseimport_test

import (
	"strings"
	"testing"

	"github.com/accordfed/accord/node/caseimport"
	"github.com/accordfed/accord/node/store"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// TestEveryBadInputChangesNothing walks the rules of FORMAT.md: a file of one
// valid line and one that breaks a rule imports nothing, and the error names
// the bad line and field. (node/caseformat's own tests check every rule's
// wording in detail; this one checks that the store stays untouched.)
func TestEveryBadInputChangesNothing(t *testing.T) {
	const ok = `"case_id": "UA-2022-000009", "country": "UA"`
	const inc = `"incidents": [{"start": "2022-04-01T10:00:00+03:00", "place": "Irpin"}]`
	cases := []struct{ name, line, field string }{
		{"not an object", `[1, 2]`, ""},
		{"not JSON", `{"case_id": `, ""},
		{"unknown field", `{` + ok + `, ` + inc + `, "sensitivty": "national"}`, "sensitivty"}, //nolint:misspell // the misspelling is the test
		{"duplicate key", `{` + ok + `, "country": "UA", ` + inc + `}`, "country"},
		{"null", `{` + ok + `, "title": null, ` + inc + `}`, "title"},
		{"case_id missing", `{"country": "UA", ` + inc + `}`, "case_id"},
		{"case_id of another office", `{"case_id": "PL-2022-1", "country": "UA", ` + inc + `}`, "case_id"},
		{"case_id characters", `{"case_id": "UA-2022 01", "country": "UA", ` + inc + `}`, "case_id"},
		{"case_id too long", `{"case_id": "UA-` + strings.Repeat("1", 70) + `", "country": "UA", ` + inc + `}`, "case_id"},
		{"country missing", `{"case_id": "UA-2022-1", ` + inc + `}`, "country"},
		{"country of another node", `{"case_id": "UA-2022-1", "country": "PL", ` + inc + `}`, "country"},
		{"title too long", `{` + ok + `, "title": "` + strings.Repeat("я", 501) + `", ` + inc + `}`, "title"},
		{"opened not a date", `{` + ok + `, "opened": "2022-02-30", ` + inc + `}`, "opened"},
		{"status unknown", `{` + ok + `, "status": "open", ` + inc + `}`, "status"},
		{"sensitivity unknown", `{` + ok + `, "sensitivity": "secret", ` + inc + `}`, "sensitivity"},
		{"crime code shape", `{` + ok + `, "crime_codes": ["war crime"], ` + inc + `}`, "crime_codes[0]"},
		{"incidents missing", `{` + ok + `}`, "incidents"},
		{"incidents empty", `{` + ok + `, "incidents": []}`, "incidents"},
		{"start without offset", `{` + ok + `, "incidents": [{"start": "2022-04-01T10:00:00", "place": "Irpin"}]}`, "incidents[0].start"},
		{"end before start", `{` + ok + `, "incidents": [{"start": "2022-04-01T10:00:00+03:00", "end": "2022-04-01T09:00:00+03:00", "place": "Irpin"}]}`, "incidents[0].end"},
		{"precision unknown", `{` + ok + `, "incidents": [{"start": "2022-04-01T10:00:00+03:00", "precision": "year", "place": "Irpin"}]}`, "incidents[0].precision"},
		{"place missing", `{` + ok + `, "incidents": [{"start": "2022-04-01T10:00:00+03:00"}]}`, "incidents[0].place"},
		{"lat without lon", `{` + ok + `, "incidents": [{"start": "2022-04-01T10:00:00+03:00", "place": "Irpin", "lat": 50.5}]}`, "incidents[0]"},
		{"lat out of range", `{` + ok + `, "incidents": [{"start": "2022-04-01T10:00:00+03:00", "place": "Irpin", "lat": 91, "lon": 30}]}`, "incidents[0].lat"},
		{"lon out of range", `{` + ok + `, "incidents": [{"start": "2022-04-01T10:00:00+03:00", "place": "Irpin", "lat": 50, "lon": 181}]}`, "incidents[0].lon"},
		{"precision metres negative", `{` + ok + `, "incidents": [{"start": "2022-04-01T10:00:00+03:00", "place": "Irpin", "location_precision_m": -1}]}`, "incidents[0].location_precision_m"},
		{"perpetrator kind", `{` + ok + `, ` + inc + `, "perpetrators": [{"kind": "army", "name": "x"}]}`, "perpetrators[0].kind"},
		{"perpetrator name", `{` + ok + `, ` + inc + `, "perpetrators": [{"kind": "unit"}]}`, "perpetrators[0].name"},
		{"person role", `{` + ok + `, ` + inc + `, "persons": [{"role": "bystander", "name": "Iryna Bondar"}]}`, "persons[0].role"},
		{"person name", `{` + ok + `, ` + inc + `, "persons": [{"role": "victim"}]}`, "persons[0].name"},
		{"birth year", `{` + ok + `, ` + inc + `, "persons": [{"role": "victim", "name": "Iryna Bondar", "birth_year": 1066}]}`, "persons[0].birth_year"},
		{"victim count negative", `{` + ok + `, ` + inc + `, "victim_count": -3}`, "victim_count"},
		{"victim count not an integer", `{` + ok + `, ` + inc + `, "victim_count": 3.5}`, "victim_count"},
		{"victim count a string", `{` + ok + `, ` + inc + `, "victim_count": "3"}`, "victim_count"},
		{"evidence id missing", `{` + ok + `, ` + inc + `, "evidence": [{"sha256": "` + strings.Repeat("a", 64) + `"}]}`, "evidence[0].id"},
		{"evidence sha256 upper case", `{` + ok + `, ` + inc + `, "evidence": [{"id": "E1", "sha256": "` + strings.Repeat("A", 64) + `"}]}`, "evidence[0].sha256"},
		{"evidence sha256 short", `{` + ok + `, ` + inc + `, "evidence": [{"id": "E1", "sha256": "abc"}]}`, "evidence[0].sha256"},
		{"evidence media type", `{` + ok + `, ` + inc + `, "evidence": [{"id": "E1", "sha256": "` + strings.Repeat("a", 64) + `", "media_type": "video"}]}`, "evidence[0].media_type"},
		{"evidence collected", `{` + ok + `, ` + inc + `, "evidence": [{"id": "E1", "sha256": "` + strings.Repeat("a", 64) + `", "collected": "yesterday"}]}`, "evidence[0].collected"},
		{"evidence id twice", `{` + ok + `, ` + inc + `, "evidence": [{"id": "E1", "sha256": "` + strings.Repeat("a", 64) + `"}, {"id": "E1", "sha256": "` + strings.Repeat("b", 64) + `"}]}`, "evidence[1].id"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := openStore(t, "UA")
			res := run(t, st, "UA", validLine("UA-2022-000001", "Irpin")+"\n"+c.line, caseimport.Options{})
			if res.Written || res.Invalid != 1 || res.Valid != 1 {
				t.Fatalf("result %+v", res)
			}
			e := res.Errors[0]
			if e.Line != 2 || !strings.HasPrefix(e.Field, c.field) || e.Reason == "" {
				t.Errorf("error %+v, want line 2 and field %q", e, c.field)
			}
			if strings.Contains(e.Error(), "Iryna") {
				t.Errorf("a person's name leaked into the error: %v", e)
			}
			n := 0
			_ = st.ExportCases(store.Filter{}, func(*accordv1.Case) error { n++; return nil })
			if n != 0 {
				t.Errorf("%d cases written", n)
			}
		})
	}
}
