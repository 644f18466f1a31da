package caseformat

import (
	"math"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// TestValidate checks cases from the API: the same rules and field paths as
// Parse, plus what only a proto can hold (invalid UTF-8, NaN, enum numbers
// without names, nil elements).
func TestValidate(t *testing.T) {
	fixClock(t)
	base := func(t *testing.T) *accordv1.Case {
		t.Helper()
		c, errs := Parse([]byte(baseLine), 1, "UA")
		if errs != nil {
			t.Fatal(errs)
		}
		return c
	}
	if errs := Validate(base(t), "UA"); errs != nil {
		t.Fatalf("base case: %v", errs)
	}
	cases := []struct {
		name   string
		edit   func(*accordv1.Case)
		field  string
		reason string
	}{
		{"nil case", nil, "", "the case is missing"},
		{"unspecified status and sensitivity", func(c *accordv1.Case) { c.Status, c.Sensitivity = 0, 0 }, "", ""},
		{"case_id empty", func(c *accordv1.Case) { c.CaseId = "" }, "case_id", "is required"},
		{"case_id invalid UTF-8", func(c *accordv1.Case) { c.CaseId = "UA-\xff" }, "case_id", "must be valid UTF-8"},
		{"case_id of another member", func(c *accordv1.Case) { c.CaseId = "PL-1" }, "case_id", `must start with the member code and a dash, "UA-"`},
		{"country of another member", func(c *accordv1.Case) { c.Country = "PL" }, "country", "case belongs to PL but this node is UA"},
		{"title too long", func(c *accordv1.Case) { c.Title = strings.Repeat("я", 501) }, "title", "must be at most 500 characters (got 501)"},
		{"title invalid UTF-8", func(c *accordv1.Case) { c.Title = "\xc3(" }, "title", "must be valid UTF-8"},
		{"opened not a date", func(c *accordv1.Case) { c.Opened = "2022-04-31" }, "opened", "must be a real date"},
		{"status without name", func(c *accordv1.Case) { c.Status = 5 }, "status", "has no name in the format (enum value 5)"},
		{"sensitivity negative", func(c *accordv1.Case) { c.Sensitivity = -1 }, "sensitivity", "has no name in the format"},
		{"crime code", func(c *accordv1.Case) { c.CrimeCodes[1] = "UA-438" }, "crime_codes[1]", "must be RS-<article path>"},
		{"crime code repeated", func(c *accordv1.Case) { c.CrimeCodes[1] = c.CrimeCodes[0] }, "crime_codes[1]", "repeats crime_codes[0]"},
		{"no incidents", func(c *accordv1.Case) { c.Incidents = nil }, "incidents", "at least one incident is required"},
		{"nil incident", func(c *accordv1.Case) { c.Incidents = append(c.Incidents, nil) }, "incidents[1]", "must not be null"},
		{"start without offset", func(c *accordv1.Case) { c.Incidents[0].Start = "2022-03-01T10:00:00" }, "incidents[0].start", "has no offset"},
		{"end before start", func(c *accordv1.Case) { c.Incidents[0].End = "2022-03-01T07:59:59Z" }, "incidents[0].end", "must not be before start"},
		{"precision without name", func(c *accordv1.Case) { c.Incidents[0].Precision = 6 }, "incidents[0].precision", "has no name"},
		{"place blank", func(c *accordv1.Case) { c.Incidents[0].Place = " " }, "incidents[0].place", "is required"},
		{"region invalid UTF-8", func(c *accordv1.Case) { c.Incidents[0].Region = "\xff" }, "incidents[0].region", "must be valid UTF-8"},
		{"lat without lon", func(c *accordv1.Case) { c.Incidents[0].Lon = nil }, "incidents[0].lon", "is required when lat is given"},
		{"lat NaN", func(c *accordv1.Case) { c.Incidents[0].Lat = proto.Float64(math.NaN()) }, "incidents[0].lat", "must be a finite number"},
		{"lon Inf", func(c *accordv1.Case) { c.Incidents[0].Lon = proto.Float64(math.Inf(1)) }, "incidents[0].lon", "must be a finite number"},
		{"lat out of range", func(c *accordv1.Case) { c.Incidents[0].Lat = proto.Float64(91.2) }, "incidents[0].lat", "must be between -90 and 90 (got 91.2)"},
		{"location precision negative", func(c *accordv1.Case) { c.Incidents[0].LocationPrecisionM = proto.Int64(-5) }, "incidents[0].location_precision_m", "must be 0 or more (got -5)"},
		{"nil perpetrator", func(c *accordv1.Case) { c.Perpetrators[0] = nil }, "perpetrators[0]", "must not be null"},
		{"kind unspecified", func(c *accordv1.Case) { c.Perpetrators[0].Kind = 0 }, "perpetrators[0].kind", "is required"},
		{"perpetrator name empty", func(c *accordv1.Case) { c.Perpetrators[0].Name = "" }, "perpetrators[0].name", "is required"},
		{"nil person", func(c *accordv1.Case) { c.Persons[0] = nil }, "persons[0]", "must not be null"},
		{"role unspecified", func(c *accordv1.Case) { c.Persons[0].Role = 0 }, "persons[0].role", "is required"},
		{"person name invalid UTF-8", func(c *accordv1.Case) { c.Persons[0].Name = "Iv\xffanna" }, "persons[0].name", "must be valid UTF-8"},
		{"birth year", func(c *accordv1.Case) { c.Persons[0].BirthYear = proto.Int32(2030) }, "persons[0].birth_year", "must be a year from 1900 to 2026"},
		{"victim_count negative", func(c *accordv1.Case) { c.VictimCount = proto.Int64(-2) }, "victim_count", "must be 0 or more (got -2)"},
		{"nil evidence", func(c *accordv1.Case) { c.Evidence = append(c.Evidence, nil) }, "evidence[1]", "must not be null"},
		{"evidence id repeated", func(c *accordv1.Case) {
			c.Evidence = append(c.Evidence, &accordv1.EvidenceRef{Id: c.Evidence[0].Id, Sha256: testSHA})
		}, "evidence[1].id", "repeats the id of evidence[0]"},
		{"sha256", func(c *accordv1.Case) { c.Evidence[0].Sha256 = "abc" }, "evidence[0].sha256", "must be 64 lower-case hex digits"},
		{"media type", func(c *accordv1.Case) { c.Evidence[0].MediaType = "mp4" }, "evidence[0].media_type", "must be a media type"},
		{"collected", func(c *accordv1.Case) { c.Evidence[0].Collected = "5 March 2022" }, "evidence[0].collected", "must be a real date"},
		{"description", func(c *accordv1.Case) { c.Evidence[0].Description = strings.Repeat("д", 2001) }, "evidence[0].description", "must be at most 2000 characters"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var c *accordv1.Case
			if tc.edit != nil {
				c = base(t)
				tc.edit(c)
			}
			errs := Validate(c, "UA")
			if tc.reason == "" {
				if errs != nil {
					t.Fatalf("errors: %v", Join(errs))
				}
				return
			}
			if len(errs) != 1 || errs[0].Field != tc.field || !strings.Contains(errs[0].Reason, tc.reason) || errs[0].Line != 0 {
				t.Fatalf("errors:\n%v\nwant one at %q with %q", Join(errs), tc.field, tc.reason)
			}
			if tc.field != "" && strings.HasPrefix(errs[0].Error(), "line") {
				t.Errorf("Error() = %q: no line for a case from the API", errs[0])
			}
		})
	}
}

// TestValidateSamePaths checks that Parse and Validate give the same field
// and reason for a rule both apply: once on a line, once on the same case
// changed in its proto.
func TestValidateSamePaths(t *testing.T) {
	fixClock(t)
	for _, tc := range []struct {
		old, new string
		edit     func(*accordv1.Case)
	}{
		{`"lat": 49.99`, `"lat": 91.2`, func(c *accordv1.Case) { c.Incidents[0].Lat = proto.Float64(91.2) }},
		{`"country": "UA"`, `"country": "PL"`, func(c *accordv1.Case) { c.Country = "PL" }},
		{`"UA-2022-000001"`, `"UA-2022 000001"`, func(c *accordv1.Case) { c.CaseId = "UA-2022 000001" }},
		{`"UA-CC-438"`, `"UA-CC-"`, func(c *accordv1.Case) { c.CrimeCodes[1] = "UA-CC-" }},
		{`"end": "2022-03-01T11:00:00+02:00"`, `"end": "2022-03-01T09:00:00+02:00"`, func(c *accordv1.Case) { c.Incidents[0].End = "2022-03-01T09:00:00+02:00" }},
		{`"start": "2022-03-01T10:00:00+02:00"`, `"start": "2022-03-01T10:00:00"`, func(c *accordv1.Case) { c.Incidents[0].Start = "2022-03-01T10:00:00" }},
		{`"place": "Kharkiv"`, `"place": " "`, func(c *accordv1.Case) { c.Incidents[0].Place = " " }},
		{`"birth_year": 1970`, `"birth_year": 2030`, func(c *accordv1.Case) { c.Persons[0].BirthYear = proto.Int32(2030) }},
		{`"sha256": "` + testSHA, `"sha256": "` + strings.ToUpper(testSHA), func(c *accordv1.Case) { c.Evidence[0].Sha256 = strings.ToUpper(testSHA) }},
		{`"media_type": "video/mp4"`, `"media_type": "video"`, func(c *accordv1.Case) { c.Evidence[0].MediaType = "video" }},
		{`, "lon": 36.23`, ``, func(c *accordv1.Case) { c.Incidents[0].Lon = nil }},
		{`"kind": "unit", `, ``, func(c *accordv1.Case) { c.Perpetrators[0].Kind = 0 }},
		{`"role": "victim", `, ``, func(c *accordv1.Case) { c.Persons[0].Role = 0 }},
	} {
		_, perrs := Parse([]byte(with(t, tc.old, tc.new)), 0, "UA")
		c, errs := Parse([]byte(baseLine), 0, "UA")
		if errs != nil {
			t.Fatal(errs)
		}
		tc.edit(c)
		verrs := Validate(c, "UA")
		if len(perrs) != 1 || len(verrs) != 1 || verrs[0] != perrs[0] {
			t.Errorf("%s:\n   Parse %v\nValidate %v", tc.new, perrs, verrs)
		}
	}
}

// TestControlCharactersRefused: control characters (C0 but tab and line
// feed, DEL, C1) and bidirectional formatting characters in any text field
// are refused, by line and API alike, with the field and the reason, and
// without quoting the text.
func TestControlCharactersRefused(t *testing.T) {
	for _, c := range []struct{ field, json, bad string }{
		{"title", `"title":"clear \u001b[2J screen"`, "U+001B"},
		{"title", `"title":"link \u001b]8;;https://x\u0007 here"`, "U+001B"},
		{"title", `"title":"Olena\r Kovalenko"`, "U+000D"},
		{"title", `"title":"csi \u009b31m red"`, "U+009B"},
		{"title", `"title":"del \u007f"`, "U+007F"},
		{"title", `"title":"abc \u202e fed"`, "U+202E"},
	} {
		line := `{"case_id":"UA-1","country":"UA",` + c.json + `,"incidents":[{"start":"2022-03-01T10:00:00Z","place":"Irpin"}]}`
		_, errs := Parse([]byte(line), 3, "UA")
		if len(errs) != 1 || errs[0].Line != 3 || errs[0].Field != c.field || !strings.Contains(errs[0].Reason, c.bad) ||
			strings.Contains(errs[0].Reason, "Kovalenko") {
			t.Errorf("%s: %v", c.json, errs)
		}
	}
	for field, set := range map[string]func(*accordv1.Case){
		"incidents[0].place":      func(c *accordv1.Case) { c.Incidents[0].Place = "Irpin\x1b[8m" },
		"incidents[0].region":     func(c *accordv1.Case) { c.Incidents[0].Region = "\u2067Kyiv" },
		"perpetrators[0].name":    func(c *accordv1.Case) { c.Perpetrators[0].Name = "unit\x00" },
		"persons[0].name":         func(c *accordv1.Case) { c.Persons[0].Name = "Olena\x1bc" },
		"evidence[0].description": func(c *accordv1.Case) { c.Evidence[0].Description = "video\u009b" },
	} {
		c := &accordv1.Case{CaseId: "UA-1", Country: "UA",
			Incidents:    []*accordv1.Incident{{Start: "2022-03-01T10:00:00Z", Place: "Irpin"}},
			Perpetrators: []*accordv1.Perpetrator{{Kind: accordv1.PerpetratorKind_PERPETRATOR_KIND_UNIT, Name: "64th Brigade"}},
			Persons:      []*accordv1.Person{{Role: accordv1.PersonRole_PERSON_ROLE_VICTIM, Name: "Olena"}},
			Evidence:     []*accordv1.EvidenceRef{{Id: "E1", Sha256: strings.Repeat("ab", 32), Description: "two\nlines\tok"}},
		}
		if errs := Validate(c, "UA"); len(errs) != 0 {
			t.Fatalf("valid case: %v", errs)
		}
		set(c)
		errs := Validate(c, "UA")
		if len(errs) != 1 || errs[0].Field != field || !strings.Contains(errs[0].Reason, "control character") || strings.Contains(errs[0].Reason, "Olena") {
			t.Errorf("%s: %v", field, errs)
		}
	}
}
