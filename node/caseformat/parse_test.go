package caseformat

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

const testSHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

// baseLine is a valid UA line that uses every field; the bad inputs below
// change one part of it.
const baseLine = `{"case_id": "UA-2022-000001", "country": "UA", "title": "Shelling in Kharkiv, 2022-03-01", "opened": "2022-03-02", "status": "trial", "sensitivity": "jit", ` +
	`"crime_codes": ["RS-8.2.b.i", "UA-CC-438"], ` +
	`"incidents": [{"start": "2022-03-01T10:00:00+02:00", "end": "2022-03-01T11:00:00+02:00", "precision": "hour", "place": "Kharkiv", "region": "Kharkiv Oblast", "lat": 49.99, "lon": 36.23, "location_precision_m": 500}], ` +
	`"perpetrators": [{"kind": "unit", "name": "military unit 00000"}], ` +
	`"persons": [{"role": "victim", "name": "Ivanna Testenko", "birth_year": 1970}], ` +
	`"victim_count": 3, ` +
	`"evidence": [{"id": "UA-2022-000001-E001", "sha256": "` + testSHA + `", "media_type": "video/mp4", "collected": "2022-03-05", "description": "Video of the street"}]}`

// with returns baseLine with old replaced by repl; old must occur once.
func with(t *testing.T, old, repl string) string {
	t.Helper()
	if n := strings.Count(baseLine, old); n != 1 {
		t.Fatalf("%q occurs %d times in the base line", old, n)
	}
	return strings.Replace(baseLine, old, repl, 1)
}

// fixClock makes the current year 2026 for the birth-year rule.
func fixClock(t *testing.T) {
	t.Helper()
	saved := now
	now = func() time.Time { return time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC) }
	t.Cleanup(func() { now = saved })
}

func TestParseBase(t *testing.T) {
	c, errs := Parse([]byte(baseLine), 1, "UA")
	if errs != nil {
		t.Fatal(errs)
	}
	want := &accordv1.Case{
		CaseId: "UA-2022-000001", Country: "UA", Title: "Shelling in Kharkiv, 2022-03-01", Opened: "2022-03-02",
		Status: accordv1.CaseStatus_CASE_STATUS_TRIAL, Sensitivity: accordv1.Sensitivity_SENSITIVITY_JIT,
		CrimeCodes: []string{"RS-8.2.b.i", "UA-CC-438"},
		Incidents: []*accordv1.Incident{{
			Start: "2022-03-01T10:00:00+02:00", End: "2022-03-01T11:00:00+02:00", Precision: accordv1.TimePrecision_TIME_PRECISION_HOUR,
			Place: "Kharkiv", Region: "Kharkiv Oblast", Lat: proto.Float64(49.99), Lon: proto.Float64(36.23), LocationPrecisionM: proto.Int64(500),
		}},
		Perpetrators: []*accordv1.Perpetrator{{Kind: accordv1.PerpetratorKind_PERPETRATOR_KIND_UNIT, Name: "military unit 00000"}},
		Persons:      []*accordv1.Person{{Role: accordv1.PersonRole_PERSON_ROLE_VICTIM, Name: "Ivanna Testenko", BirthYear: proto.Int32(1970)}},
		VictimCount:  proto.Int64(3),
		Evidence:     []*accordv1.EvidenceRef{{Id: "UA-2022-000001-E001", Sha256: testSHA, MediaType: "video/mp4", Collected: "2022-03-05", Description: "Video of the street"}},
	}
	if !proto.Equal(c, want) {
		t.Errorf("Parse:\n got %v\nwant %v", c, want)
	}
}

// TestParseValid covers lines that are valid although unusual.
func TestParseValid(t *testing.T) {
	fixClock(t)
	minimal := `{"case_id":"UA-1","country":"UA","incidents":[{"start":"2022-03-01T10:00:00Z","place":"Irpin"}]}`
	cases := []struct {
		name string
		line string
		test func(*testing.T, *accordv1.Case)
	}{
		{"minimal, defaults stored", minimal, func(t *testing.T, c *accordv1.Case) {
			if c.Status != accordv1.CaseStatus_CASE_STATUS_INVESTIGATION || c.Sensitivity != accordv1.Sensitivity_SENSITIVITY_NATIONAL {
				t.Errorf("status %v, sensitivity %v: want the defaults", c.Status, c.Sensitivity)
			}
			if c.Incidents[0].Precision != accordv1.TimePrecision_TIME_PRECISION_UNSPECIFIED || c.VictimCount != nil {
				t.Errorf("absent precision/victim_count set: %v", c)
			}
		}},
		{"whitespace around and inside", " \t" + strings.ReplaceAll(minimal, ",", " ,\r\n ") + " \t", nil},
		{"escapes decoded", with(t, `"Shelling in Kharkiv, 2022-03-01"`, `"\u0428\u0435\u043b \"x\" \\ \/ \n\t \ud83d\ude00"`), func(t *testing.T, c *accordv1.Case) {
			if want := "Шел \"x\" \\ / \n\t 😀"; c.Title != want {
				t.Errorf("title %q, want %q", c.Title, want)
			}
		}},
		{"title of 500 Cyrillic characters", with(t, `"Shelling in Kharkiv, 2022-03-01"`, `"`+strings.Repeat("Ж", 500)+`"`), nil},
		{"empty title, region and description", strings.NewReplacer(`"Shelling in Kharkiv, 2022-03-01"`, `""`, `"Kharkiv Oblast"`, `""`, `"Video of the street"`, `""`).Replace(baseLine), nil},
		{"empty lists", strings.NewReplacer(`["RS-8.2.b.i", "UA-CC-438"]`, `[]`, `[{"kind": "unit", "name": "military unit 00000"}]`, `[]`, `[{"role": "victim", "name": "Ivanna Testenko", "birth_year": 1970}]`, "[]").Replace(baseLine), nil},
		{"offset Z, negative offset, fraction", with(t, `"start": "2022-03-01T10:00:00+02:00", "end": "2022-03-01T11:00:00+02:00"`, `"start": "2022-03-01T08:00:00.5Z", "end": "2022-03-01T05:00:00.500-03:30"`), nil},
		{"end equal to start", with(t, `"end": "2022-03-01T11:00:00+02:00"`, `"end": "2022-03-01T10:00:00+02:00"`), nil},
		{"end later in another offset", with(t, `"end": "2022-03-01T11:00:00+02:00"`, `"end": "2022-03-01T08:30:00Z"`), nil},
		{"leap day", with(t, `"opened": "2022-03-02"`, `"opened": "2024-02-29"`), nil},
		{"crime codes", with(t, `["RS-8.2.b.i", "UA-CC-438"]`, `["RS-8.2.b.xxii", "RS-7.1.a", "RS-25.3.a", "RS-8.2.e.xv", "RS-8bis", "RS-28", "UA-CC-111-1", "PL-CC-123.1", "DE-CC-8.1.3", "FR-CC-461-1", "EUROJUST-CC-1"]`), nil},
		{"coordinates at the limits", with(t, `"lat": 49.99, "lon": 36.23`, `"lat": -90, "lon": 180.0`), nil},
		{"no coordinates", with(t, `, "lat": 49.99, "lon": 36.23, "location_precision_m": 500`, ``), nil},
		{"zeroes", strings.NewReplacer(`"location_precision_m": 500`, `"location_precision_m": 0`, `"victim_count": 3`, `"victim_count": -0`).Replace(baseLine), nil},
		{"birth years at the limits", with(t, `"birth_year": 1970}`, `"birth_year": 1900}, {"role": "suspect", "name": "X", "birth_year": 2026}`), nil},
		{"every enum name", strings.NewReplacer(`"status": "trial"`, `"status": "closed"`, `"precision": "hour"`, `"precision": "month"`, `"kind": "unit"`, `"kind": "organisation"`, `"role": "victim"`, `"role": "witness"`).Replace(baseLine), nil},
		{"media types", with(t, `"media_type": "video/mp4"`, `"media_type": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"`), nil},
		{"ids with every allowed character", strings.NewReplacer(`"UA-2022-000001"`, `"UA-az_AZ.09/x"`, `"UA-2022-000001-E001"`, `"a-z_A-Z.0-9/E"`).Replace(baseLine), nil},
		{"100 incidents", with(t, `"incidents": [`, `"incidents": [`+strings.Repeat(`{"start":"2022-03-01T10:00:00+02:00","place":"Irpin"},`, 99)), nil},
		{"another member", strings.NewReplacer(`"UA-2022-000001"`, `"EUROJUST-7"`, `"country": "UA"`, `"country": "EUROJUST"`).Replace(baseLine), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			member := "UA"
			if strings.Contains(tc.line, `"EUROJUST"`) {
				member = "EUROJUST"
			}
			c, errs := Parse([]byte(tc.line), 1, member)
			if errs != nil {
				t.Fatalf("errors: %v\nline: %s", errs, tc.line)
			}
			if tc.test != nil {
				tc.test(t, c)
			}
		})
	}
}

// TestParseInvalid has every bad input that FORMAT.md and the package's
// strictness rule out: each must give exactly the one error named (unless
// more is set), at the right line, field and with the reason.
func TestParseInvalid(t *testing.T) {
	fixClock(t)
	const personName = "Ivanna Testenko"
	long := func(n int) string { return strings.Repeat("x", n) }
	type tc struct {
		name   string
		line   string
		field  string
		reason string
		more   bool // other errors may come with it
	}
	cases := []tc{
		// The line as a whole.
		{"empty", "", "", "the line is empty", false},
		{"blank", " \t ", "", "the line is empty", false},
		{"not JSON", "hello", "", "invalid JSON at column 1: unexpected character 'h'", false},
		{"array", `[1, 2]`, "", "the line must be a JSON object (got array)", false},
		{"string", `"UA-1"`, "", "the line must be a JSON object (got string)", false},
		{"null line", `null`, "", "the line must be a JSON object (got null)", false},
		{"number line", `12`, "", "the line must be a JSON object (got number)", false},
		{"trailing garbage", baseLine + " x", "", "unexpected data after the case's object", false},
		{"two objects", baseLine + baseLine, "", "unexpected data after the case's object", false},
		{"trailing comma", strings.TrimSuffix(baseLine, "}") + ",}", "", "expected a key", false},
		{"trailing comma in array", with(t, `"UA-CC-438"]`, `"UA-CC-438",]`), "", "expected a value after ','", false},
		{"missing comma", with(t, `"country": "UA", "title"`, `"country": "UA" "title"`), "", "expected ',' or '}'", false},
		{"missing colon", with(t, `"country": "UA"`, `"country" "UA"`), "", "expected ':'", false},
		{"cut short", baseLine[:len(baseLine)-3], "", "unexpected end of line", false},
		{"unterminated string", `{"case_id": "UA-1`, "", "unterminated string", false},
		{"single quotes", `{'case_id': 'UA-1'}`, "", "expected a key in double quotes", false},
		{"byte order mark", "\uFEFF" + baseLine, "", "byte order mark", false},
		{"invalid UTF-8 outside strings", "\xff" + baseLine, "", "unexpected byte 0xff", false},
		{"raw control character", with(t, `"Shelling in`, "\"Shelling\tin"), "", "control character in a string", false},
		{"invalid escape", with(t, `"Shelling in`, `"Shelling\x in`), "", `invalid escape \x`, false},
		{"short \\u escape", with(t, `"Shelling in`, `"Shelling\u12 in`), "", `invalid \u escape`, false},
		{"number with leading zero", with(t, `"victim_count": 3`, `"victim_count": 03`), "", "expected ',' or '}'", false},
		{"NaN", with(t, `"lat": 49.99`, `"lat": NaN`), "", "unexpected character 'N'", false},
		{"capitalised literal", with(t, `"victim_count": 3`, `"victim_count": True`), "", "unexpected character 'T'", false},
		{"bad literal", with(t, `"victim_count": 3`, `"victim_count": nul`), "", "invalid literal", false},
		{"number without digits", with(t, `"victim_count": 3`, `"victim_count": -`), "", "invalid number", false},
		{"fraction without digits", with(t, `"lat": 49.99`, `"lat": 49.`), "", "digits expected after '.'", false},
		{"exponent without digits", with(t, `"lat": 49.99`, `"lat": 4e`), "", "digits expected in the exponent", false},
		{"deep nesting", with(t, `"country": "UA"`, `"country": "UA", "x": `+strings.Repeat("[", 100)+strings.Repeat("]", 100)), "", "nested more than 64 deep", true},

		// Strictness: unknown, repeated, null, wrong types, bad text.
		{"unknown field", with(t, `"sensitivity": "jit"`, `"sensitivty": "national"`), "sensitivty", `unknown field "sensitivty" (did you mean "sensitivity"?)`, false}, //nolint:misspell // a misspelt key on purpose
		{"unknown field, no suggestion", with(t, `"status": "trial"`, `"status": "trial", "priority": 1`), "priority", `unknown field "priority" (the fields are case_id`, false},
		{"unknown field with odd characters", with(t, `"status": "trial"`, `"status": "trial", "a b": {"c": [1]}`), "", `unknown field "a b"`, false},
		{"unknown incident field", with(t, `"lat": 49.99`, `"lat": 49.99, "lattitude": 49.99`), "incidents[0].lattitude", `unknown field "lattitude" (did you mean "lat"?)`, false}, //nolint:misspell // a misspelt key on purpose
		{"unknown field too far from any", with(t, `"lat": 49.99`, `"lat": 49.99, "altitude": 100`), "incidents[0].altitude", `unknown field "altitude" (the fields are start, end, precision, place, region, lat, lon, location_precision_m)`, false},
		{"unknown evidence field", with(t, `"collected": "2022-03-05"`, `"collected": "2022-03-05", "hash": "x"`), "evidence[0].hash", `unknown field "hash"`, false},
		{"unknown perpetrator field", with(t, `"kind": "unit"`, `"kind": "unit", "type": "unit"`), "perpetrators[0].type", `unknown field "type"`, false},
		{"unknown person field", with(t, `"birth_year": 1970`, `"birth_year": 1970, "nmae": "x"`), "persons[0]", "unknown field, not shown as it may hold personal data", false}, //nolint:misspell // a misspelt key on purpose
		{"duplicate key", with(t, `"title": "Shelling`, `"title": "x", "title": "Shelling`), "title", "duplicate key", false},
		{"duplicate key, escaped", with(t, `"title": "Shelling`, `"title": "x", "titl\u0065": "Shelling`), "title", "duplicate key", false},
		{"duplicate incident key", with(t, `"place": "Kharkiv"`, `"place": "Kharkiv", "place": "Kharkov"`), "incidents[0].place", "duplicate key", false},
		{"duplicate evidence key", with(t, `"media_type": "video/mp4"`, `"media_type": "video/mp4", "media_type": "video/mp4"`), "evidence[0].media_type", "duplicate key", false},
		{"duplicate person key", with(t, `"name": "Ivanna Testenko"`, `"name": "Ivanna Testenko", "name": "Ivanna Testenko"`), "persons[0].name", "duplicate key", false},
		{"null field", with(t, `"title": "Shelling in Kharkiv, 2022-03-01"`, `"title": null`), "title", "must not be null (omit the field instead)", false},
		{"null required field", with(t, `"case_id": "UA-2022-000001"`, `"case_id": null`), "case_id", "must not be null", false},
		{"null list", with(t, `"perpetrators": [{"kind": "unit", "name": "military unit 00000"}]`, `"perpetrators": null`), "perpetrators", "must not be null", false},
		{"null incident field", with(t, `"region": "Kharkiv Oblast"`, `"region": null`), "incidents[0].region", "must not be null", false},
		{"null victim_count", with(t, `"victim_count": 3`, `"victim_count": null`), "victim_count", "must not be null", false},
		{"null birth_year", with(t, `"birth_year": 1970`, `"birth_year": null`), "persons[0].birth_year", "must not be null", false},
		{"null list element", with(t, `["RS-8.2.b.i", `, `[null, `), "crime_codes[0]", "must be a string (got null)", false},
		{"null incident", with(t, `"incidents": [`, `"incidents": [null, `), "incidents[0]", "must be an object (got null)", false},
		{"string incident", with(t, `"incidents": [`, `"incidents": ["Kharkiv", `), "incidents[0]", `must be an object (got string "Kharkiv")`, false},
		{"incidents an object", strings.Replace(with(t, `"incidents": [`, `"incidents": {"a": [`), `}], "perpetrators"`, `}]}, "perpetrators"`, 1), "incidents", "must be an array (got object)", false},
		{"case_id a number", with(t, `"case_id": "UA-2022-000001"`, `"case_id": 1`), "case_id", "must be a string (got number 1)", false},
		{"country an array", with(t, `"country": "UA"`, `"country": ["UA"]`), "country", "must be a string (got array)", false},
		{"title a boolean", with(t, `"title": "Shelling in Kharkiv, 2022-03-01"`, `"title": true`), "title", "must be a string (got boolean true)", false},
		{"crime_codes a string", with(t, `["RS-8.2.b.i", "UA-CC-438"]`, `"RS-8.2.b.i"`), "crime_codes", `must be an array (got string "RS-8.2.b.i")`, false},
		{"crime code a number", with(t, `"UA-CC-438"]`, `438]`), "crime_codes[1]", "must be a string (got number 438)", false},
		{"status a number", with(t, `"status": "trial"`, `"status": 3`), "status", "must be a string (got number 3)", false},
		{"victim_count a string", with(t, `"victim_count": 3`, `"victim_count": "3"`), "victim_count", `must be an integer (got string "3")`, false},
		{"victim_count a fraction", with(t, `"victim_count": 3`, `"victim_count": 3.5`), "victim_count", "must be an integer (got 3.5)", false},
		{"victim_count 3.0", with(t, `"victim_count": 3`, `"victim_count": 3.0`), "victim_count", "must be an integer (got 3.0)", false},
		{"victim_count with exponent", with(t, `"victim_count": 3`, `"victim_count": 3e0`), "victim_count", "must be an integer (got 3e0)", false},
		{"victim_count too large", with(t, `"victim_count": 3`, `"victim_count": 99999999999999999999`), "victim_count", "is out of range", false},
		{"victim_count a boolean", with(t, `"victim_count": 3`, `"victim_count": false`), "victim_count", "must be an integer (got boolean false)", false},
		{"lat a string", with(t, `"lat": 49.99`, `"lat": "49.99"`), "incidents[0].lat", `must be a number (got string "49.99")`, false},
		{"lat too large for a float", with(t, `"lat": 49.99`, `"lat": 1e400`), "incidents[0].lat", "must be a finite number (got 1e400)", false},
		{"location_precision_m a fraction", with(t, `"location_precision_m": 500`, `"location_precision_m": 1.5`), "incidents[0].location_precision_m", "must be an integer (got 1.5)", false},
		{"location_precision_m a string", with(t, `"location_precision_m": 500`, `"location_precision_m": "500"`), "incidents[0].location_precision_m", `must be an integer (got string "500")`, false},
		{"birth_year a string", with(t, `"birth_year": 1970`, `"birth_year": "1970"`), "persons[0].birth_year", "must be an integer (got string)", false},
		{"birth_year a fraction", with(t, `"birth_year": 1970`, `"birth_year": 1970.5`), "persons[0].birth_year", "must be an integer", false},
		{"long value cut", with(t, `"victim_count": 3`, `"victim_count": "`+long(100)+`"`), "victim_count", `(got string "` + long(59) + "…)", false},
		{"invalid UTF-8 in a string", with(t, `"Shelling in`, "\"Shelling \xff in"), "title", "must be valid UTF-8", false},
		{"truncated UTF-8 in a string", with(t, `"Kharkiv Oblast"`, "\"Kharkiv \xd0\""), "incidents[0].region", "must be valid UTF-8", false},
		{"unpaired surrogate", with(t, `"Shelling in`, `"Shelling \ud800 in`), "title", "unpaired UTF-16 surrogate", false},
		{"unpaired low surrogate", with(t, `"Shelling in`, `"Shelling \udc00\ud83d in`), "title", "unpaired UTF-16 surrogate", false},
		{"invalid UTF-8 in a key", with(t, `"status": "trial"`, "\"status\": \"trial\", \"st\xffatus\": 1"), "", "unknown field", false},

		// case_id.
		{"case_id missing", with(t, `"case_id": "UA-2022-000001", `, ``), "case_id", "is required", false},
		{"case_id empty", with(t, `"case_id": "UA-2022-000001"`, `"case_id": ""`), "case_id", "is required", false},
		{"case_id too long", with(t, `"UA-2022-000001"`, `"UA-`+long(62)+`"`), "case_id", "must be at most 64 characters (got 65)", false},
		{"case_id with a space", with(t, `"UA-2022-000001"`, `"UA-2022 000001"`), "case_id", `may contain only A-Z, a-z, 0-9, '-', '_', '.' and '/' (got "UA-2022 000001")`, false},
		{"case_id with a non-ASCII letter", with(t, `"UA-2022-000001"`, `"UA-2022-00000Ж"`), "case_id", "may contain only", false},
		{"case_id of another member", with(t, `"UA-2022-000001"`, `"PL-2022-000001"`), "case_id", `must start with the member code and a dash, "UA-"`, false},
		{"case_id without dash", with(t, `"UA-2022-000001"`, `"UA2022-000001"`), "case_id", `must start with the member code and a dash`, false},
		{"case_id only the prefix", with(t, `"UA-2022-000001"`, `"UA-"`), "case_id", `must start with the member code and a dash`, false},
		{"case_id lower-case prefix", with(t, `"UA-2022-000001"`, `"ua-2022-000001"`), "case_id", `must start with the member code`, false},
		{"case_id of a longer member", with(t, `"UA-2022-000001"`, `"UAX-2022-000001"`), "case_id", `must start with the member code`, false},

		// country.
		{"country missing", with(t, `"country": "UA", `, ``), "country", "is required", false},
		{"country empty", with(t, `"country": "UA"`, `"country": ""`), "country", "is required", false},
		{"country lower-case", with(t, `"country": "UA"`, `"country": "ua"`), "country", `must be a member code: 2-16 upper-case letters or digits starting with a letter, such as UA or ICC (got "ua")`, false},
		{"country too short", with(t, `"country": "UA"`, `"country": "U"`), "country", "must be a member code", false},
		{"country another member", with(t, `"country": "UA"`, `"country": "PL"`), "country", "case belongs to PL but this node is UA", false},

		// title, opened, status, sensitivity.
		{"title too long", with(t, `"Shelling in Kharkiv, 2022-03-01"`, `"`+strings.Repeat("Ж", 501)+`"`), "title", "must be at most 500 characters (got 501)", false},
		{"opened not a real date", with(t, `"opened": "2022-03-02"`, `"opened": "2022-02-30"`), "opened", `must be a real date written YYYY-MM-DD (got "2022-02-30")`, false},
		{"opened 29 February of a common year", with(t, `"opened": "2022-03-02"`, `"opened": "2100-02-29"`), "opened", "must be a real date", false},
		{"opened month 13", with(t, `"opened": "2022-03-02"`, `"opened": "2022-13-01"`), "opened", "must be a real date", false},
		{"opened day 0", with(t, `"opened": "2022-03-02"`, `"opened": "2022-03-00"`), "opened", "must be a real date", false},
		{"opened short form", with(t, `"opened": "2022-03-02"`, `"opened": "2022-3-2"`), "opened", "must be a real date", false},
		{"opened with a time", with(t, `"opened": "2022-03-02"`, `"opened": "2022-03-02T00:00:00Z"`), "opened", "must be a real date", false},
		{"opened other order", with(t, `"opened": "2022-03-02"`, `"opened": "02.03.2022"`), "opened", "must be a real date", false},
		{"opened empty", with(t, `"opened": "2022-03-02"`, `"opened": ""`), "opened", "must not be empty (omit the field instead)", false},
		{"status unknown", with(t, `"status": "trial"`, `"status": "appeal"`), "status", `must be one of investigation, indictment, trial, closed (got "appeal")`, false},
		{"status capitalised", with(t, `"status": "trial"`, `"status": "Trial"`), "status", "must be one of", false},
		{"status empty", with(t, `"status": "trial"`, `"status": ""`), "status", "must be one of", false},
		{"sensitivity unknown", with(t, `"sensitivity": "jit"`, `"sensitivity": "secret"`), "sensitivity", `must be one of federation, jit, national (got "secret")`, false},
		{"sensitivity upper-case", with(t, `"sensitivity": "jit"`, `"sensitivity": "JIT"`), "sensitivity", "must be one of", false},

		// crime_codes.
		{"crime code empty", with(t, `"RS-8.2.b.i"`, `""`), "crime_codes[0]", "must not be empty", false},
		{"crime code upper-case letter", with(t, `"RS-8.2.b.i"`, `"RS-8.2.B.i"`), "crime_codes[0]", "must be a Rome Statute reference", false},
		{"crime code parentheses", with(t, `"RS-8.2.b.i"`, `"RS-8(2)(b)(i)"`), "crime_codes[0]", "must be a Rome Statute reference", false},
		{"crime code empty part", with(t, `"RS-8.2.b.i"`, `"RS-8..b"`), "crime_codes[0]", "must be a Rome Statute reference", false},
		{"crime code trailing dot", with(t, `"RS-8.2.b.i"`, `"RS-8.2."`), "crime_codes[0]", "must be a Rome Statute reference", false},
		{"crime code no article", with(t, `"RS-8.2.b.i"`, `"RS-"`), "crime_codes[0]", "must be a Rome Statute reference", false},
		{"crime code article 0", with(t, `"RS-8.2.b.i"`, `"RS-0.1"`), "crime_codes[0]", "must be a Rome Statute reference", false},
		{"crime code two letters", with(t, `"RS-8.2.b.i"`, `"RS-8.2.bb"`), "crime_codes[0]", "must be a Rome Statute reference", false},
		{"crime code not a roman numeral", with(t, `"RS-8.2.b.i"`, `"RS-8.2.b.iiii"`), "crime_codes[0]", "must be a Rome Statute reference", false},
		{"crime code too deep", with(t, `"RS-8.2.b.i"`, `"RS-8.2.b.i.1.a.ii"`), "crime_codes[0]", "must be a Rome Statute reference", false},
		{"crime code without prefix", with(t, `"RS-8.2.b.i"`, `"8.2.b.i"`), "crime_codes[0]", "must be RS-<article path> (RS-8.2.b.i) or <member code>-CC-<article> (UA-CC-438)", false},
		{"national code lower-case country", with(t, `"UA-CC-438"`, `"ua-CC-438"`), "crime_codes[1]", "must be RS-<article path>", false},
		{"national code without article", with(t, `"UA-CC-438"`, `"UA-CC-"`), "crime_codes[1]", "must be RS-<article path>", false},
		{"national code other label", with(t, `"UA-CC-438"`, `"UA-KK-438"`), "crime_codes[1]", "must be RS-<article path>", false},
		{"national code with spaces", with(t, `"UA-CC-438"`, `"UA-CC-438 1"`), "crime_codes[1]", "must be RS-<article path>", false},
		{"crime code repeated", with(t, `"UA-CC-438"]`, `"UA-CC-438", "RS-8.2.b.i"]`), "crime_codes[2]", "repeats crime_codes[0]", false},

		// incidents.
		{"incidents missing", with(t, `"incidents": [{"start": "2022-03-01T10:00:00+02:00", "end": "2022-03-01T11:00:00+02:00", "precision": "hour", "place": "Kharkiv", "region": "Kharkiv Oblast", "lat": 49.99, "lon": 36.23, "location_precision_m": 500}], `, ``), "incidents", "at least one incident is required", false},
		{"incidents empty", with(t, `[{"start": "2022-03-01T10:00:00+02:00", "end": "2022-03-01T11:00:00+02:00", "precision": "hour", "place": "Kharkiv", "region": "Kharkiv Oblast", "lat": 49.99, "lon": 36.23, "location_precision_m": 500}]`, `[]`), "incidents", "at least one incident is required", false},
		{"101 incidents", with(t, `"incidents": [`, `"incidents": [`+strings.Repeat(`{"start":"2022-03-01T10:00:00+02:00","place":"Irpin"},`, 100)), "incidents", "at most 100 incidents are allowed (got 101)", false},
		{"start missing", with(t, `"start": "2022-03-01T10:00:00+02:00", `, ``), "incidents[0].start", "is required", false},
		{"start without offset", with(t, `"start": "2022-03-01T10:00:00+02:00"`, `"start": "2022-03-01T10:00:00"`), "incidents[0].start", `has no offset; must be an RFC 3339 time with an offset, like 2022-06-30T14:00:00+03:00 (got "2022-03-01T10:00:00")`, false},
		{"start a date", with(t, `"start": "2022-03-01T10:00:00+02:00"`, `"start": "2022-03-01"`), "incidents[0].start", "must be an RFC 3339 time", false},
		{"start with a space", with(t, `"start": "2022-03-01T10:00:00+02:00"`, `"start": "2022-03-01 10:00:00+02:00"`), "incidents[0].start", "must be an RFC 3339 time", false},
		{"start lower-case z", with(t, `"start": "2022-03-01T10:00:00+02:00"`, `"start": "2022-03-01T10:00:00z"`), "incidents[0].start", "must be an RFC 3339 time", false},
		{"start offset without colon", with(t, `"start": "2022-03-01T10:00:00+02:00"`, `"start": "2022-03-01T10:00:00+0200"`), "incidents[0].start", "must be an RFC 3339 time", false},
		{"start without seconds", with(t, `"start": "2022-03-01T10:00:00+02:00"`, `"start": "2022-03-01T10:00+02:00"`), "incidents[0].start", "must be an RFC 3339 time", false},
		{"start hour 25", with(t, `"start": "2022-03-01T10:00:00+02:00"`, `"start": "2022-03-01T25:00:00+02:00"`), "incidents[0].start", "with a real date and time", false},
		{"start 30 February", with(t, `"start": "2022-03-01T10:00:00+02:00"`, `"start": "2022-02-30T10:00:00+02:00"`), "incidents[0].start", "with a real date and time", false},
		{"start offset 25 hours", with(t, `"start": "2022-03-01T10:00:00+02:00"`, `"start": "2022-03-01T10:00:00+25:00"`), "incidents[0].start", "must be an RFC 3339 time", false},
		{"start empty", with(t, `"start": "2022-03-01T10:00:00+02:00"`, `"start": ""`), "incidents[0].start", "must not be empty", false},
		{"end before start", with(t, `"end": "2022-03-01T11:00:00+02:00"`, `"end": "2022-03-01T09:00:00+02:00"`), "incidents[0].end", `must not be before start (2022-03-01T10:00:00+02:00) (got "2022-03-01T09:00:00+02:00")`, false},
		{"end before start in another offset", with(t, `"end": "2022-03-01T11:00:00+02:00"`, `"end": "2022-03-01T10:30:00+03:00"`), "incidents[0].end", "must not be before start", false},
		{"end without offset", with(t, `"end": "2022-03-01T11:00:00+02:00"`, `"end": "2022-03-01T11:00:00"`), "incidents[0].end", "has no offset", false},
		{"end empty", with(t, `"end": "2022-03-01T11:00:00+02:00"`, `"end": ""`), "incidents[0].end", "must not be empty (omit the field instead)", false},
		{"precision unknown", with(t, `"precision": "hour"`, `"precision": "second"`), "incidents[0].precision", `must be one of minute, hour, day, week, month (got "second")`, false},
		{"place missing", with(t, `"place": "Kharkiv", `, ``), "incidents[0].place", "is required", false},
		{"place empty", with(t, `"place": "Kharkiv"`, `"place": ""`), "incidents[0].place", "is required", false},
		{"place blank", with(t, `"place": "Kharkiv"`, `"place": " \t "`), "incidents[0].place", "is required", false},
		{"place too long", with(t, `"place": "Kharkiv"`, `"place": "`+strings.Repeat("Х", 201)+`"`), "incidents[0].place", "must be at most 200 characters (got 201)", false},
		{"lat without lon", with(t, `, "lon": 36.23`, ``), "incidents[0].lon", "is required when lat is given", false},
		{"lon without lat", with(t, `"lat": 49.99, `, ``), "incidents[0].lat", "is required when lon is given", false},
		{"lat too large", with(t, `"lat": 49.99`, `"lat": 91.2`), "incidents[0].lat", "must be between -90 and 90 (got 91.2)", false},
		{"lat too small", with(t, `"lat": 49.99`, `"lat": -90.000001`), "incidents[0].lat", "must be between -90 and 90 (got -90.000001)", false},
		{"lon too large", with(t, `"lon": 36.23`, `"lon": 180.5`), "incidents[0].lon", "must be between -180 and 180 (got 180.5)", false},
		{"lon too small", with(t, `"lon": 36.23`, `"lon": -1e3`), "incidents[0].lon", "must be between -180 and 180 (got -1000)", false},
		{"lat a string, lon given", with(t, `"lat": 49.99`, `"lat": "N49.99"`), "incidents[0].lat", "must be a number", false},
		{"location precision negative", with(t, `"location_precision_m": 500`, `"location_precision_m": -1`), "incidents[0].location_precision_m", "must be 0 or more (got -1)", false},
		{"second incident", with(t, `"incidents": [`, `"incidents": [{"start":"2022-03-01T10:00:00+02:00","place":"Irpin"}, {"place": "Irpin"}, `), "incidents[1].start", "is required", false},

		// perpetrators.
		{"kind unknown", with(t, `"kind": "unit"`, `"kind": "army"`), "perpetrators[0].kind", `must be one of unit, person, organisation (got "army")`, false},
		{"kind American spelling", with(t, `"kind": "unit"`, `"kind": "organization"`), "perpetrators[0].kind", "must be one of unit, person, organisation", false},
		{"kind missing", with(t, `"kind": "unit", `, ``), "perpetrators[0].kind", "is required: one of unit, person, organisation", false},
		{"perpetrator name missing", with(t, `, "name": "military unit 00000"`, ``), "perpetrators[0].name", "is required", false},
		{"perpetrator name blank", with(t, `"military unit 00000"`, `"  "`), "perpetrators[0].name", "is required", false},
		{"perpetrator a string", with(t, `[{"kind": "unit", "name": "military unit 00000"}]`, `["military unit 00000"]`), "perpetrators[0]", "must be an object (got string", false},

		// persons.
		{"role unknown", with(t, `"role": "victim"`, `"role": "victm"`), "persons[0].role", "must be one of victim, witness, suspect", false},
		{"role missing", with(t, `"role": "victim", `, ``), "persons[0].role", "is required: one of victim, witness, suspect", false},
		{"person name missing", with(t, `, "name": "Ivanna Testenko"`, ``), "persons[0].name", "is required", false},
		{"person name empty", with(t, `"Ivanna Testenko"`, `""`), "persons[0].name", "is required", false},
		{"person name a number", with(t, `"Ivanna Testenko"`, `7`), "persons[0].name", "must be a string (got number)", false},
		{"birth_year too early", with(t, `"birth_year": 1970`, `"birth_year": 1899`), "persons[0].birth_year", "must be a year from 1900 to 2026", false},
		{"birth_year in the future", with(t, `"birth_year": 1970`, `"birth_year": 2027`), "persons[0].birth_year", "must be a year from 1900 to 2026", false},
		{"birth_year huge", with(t, `"birth_year": 1970`, `"birth_year": 19700000000`), "persons[0].birth_year", "must be a year from 1900 to 2026", false},

		// victim_count.
		{"victim_count negative", with(t, `"victim_count": 3`, `"victim_count": -1`), "victim_count", "must be 0 or more (got -1)", false},

		// evidence.
		{"evidence id missing", with(t, `"id": "UA-2022-000001-E001", `, ``), "evidence[0].id", "is required", false},
		{"evidence id empty", with(t, `"UA-2022-000001-E001"`, `""`), "evidence[0].id", "is required", false},
		{"evidence id with a space", with(t, `"UA-2022-000001-E001"`, `"E 001"`), "evidence[0].id", `may contain only A-Z, a-z, 0-9, '-', '_', '.' and '/' (got "E 001")`, false},
		{"evidence id too long", with(t, `"UA-2022-000001-E001"`, `"`+long(129)+`"`), "evidence[0].id", "must be at most 128 characters (got 129)", false},
		{"evidence id repeated", with(t, `"description": "Video of the street"}]`, `"description": "Video of the street"}, {"id": "UA-2022-000001-E001", "sha256": "`+testSHA+`"}]`), "evidence[1].id", `repeats the id of evidence[0] (got "UA-2022-000001-E001")`, false},
		{"sha256 missing", with(t, `"sha256": "`+testSHA+`", `, ``), "evidence[0].sha256", "is required", false},
		{"sha256 upper-case", with(t, testSHA, strings.ToUpper(testSHA)), "evidence[0].sha256", "must be 64 lower-case hex digits", false},
		{"sha256 too short", with(t, testSHA, testSHA[1:]), "evidence[0].sha256", "must be 64 lower-case hex digits", false},
		{"sha256 too long", with(t, testSHA, testSHA+"0"), "evidence[0].sha256", "must be 64 lower-case hex digits", false},
		{"sha256 not hex", with(t, testSHA, "g"+testSHA[1:]), "evidence[0].sha256", "must be 64 lower-case hex digits", false},
		{"sha256 with prefix", with(t, testSHA, "sha256:"+testSHA[7:]), "evidence[0].sha256", "must be 64 lower-case hex digits", false},
		{"media type without subtype", with(t, `"video/mp4"`, `"video"`), "evidence[0].media_type", `must be a media type such as video/mp4 (type/subtype, without parameters) (got "video")`, false},
		{"media type with parameters", with(t, `"video/mp4"`, `"text/plain; charset=utf-8"`), "evidence[0].media_type", "must be a media type", false},
		{"media type two slashes", with(t, `"video/mp4"`, `"video/mp4/x"`), "evidence[0].media_type", "must be a media type", false},
		{"media type empty subtype", with(t, `"video/mp4"`, `"video/"`), "evidence[0].media_type", "must be a media type", false},
		{"media type starting with a symbol", with(t, `"video/mp4"`, `"video/+mp4"`), "evidence[0].media_type", "must be a media type", false},
		{"media type empty", with(t, `"video/mp4"`, `""`), "evidence[0].media_type", "must not be empty (omit the field instead)", false},
		{"collected not a real date", with(t, `"collected": "2022-03-05"`, `"collected": "2022-02-29"`), "evidence[0].collected", "must be a real date", false},
		{"collected empty", with(t, `"collected": "2022-03-05"`, `"collected": ""`), "evidence[0].collected", "must not be empty", false},
		{"description too long", with(t, `"Video of the street"`, `"`+strings.Repeat("ї", 2001)+`"`), "evidence[0].description", "must be at most 2000 characters (got 2001)", false},
		{"evidence an object", strings.Replace(with(t, `"evidence": [{`, `"evidence": {"x": {`), `}]}`, `}}}`, 1), "evidence", "must be an array (got object)", false},
		{"evidence element a string", with(t, `"evidence": [`, `"evidence": ["E001", `), "evidence[0]", "must be an object (got string", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, errs := Parse([]byte(tc.line), 7, "UA")
			if c != nil {
				t.Errorf("a case was returned with the errors")
			}
			if len(errs) == 0 {
				t.Fatalf("no error\nline: %s", tc.line)
			}
			if !tc.more && len(errs) != 1 {
				t.Errorf("%d errors, want 1:\n%s", len(errs), Join(errs))
			}
			found := false
			for _, e := range errs {
				if e.Line != 7 {
					t.Errorf("error %v: line %d, want 7", e, e.Line)
				}
				if !errors.Is(e, ErrInvalid) {
					t.Errorf("error %v does not wrap ErrInvalid", e)
				}
				if strings.Contains(e.Error(), personName) {
					t.Errorf("error %q shows a person's name", e)
				}
				if e.Field == tc.field && strings.Contains(e.Reason, tc.reason) {
					found = true
				}
			}
			if !found {
				t.Errorf("no error at %q with %q; got:\n%s", tc.field, tc.reason, Join(errs))
			}
		})
	}
}

func TestParseCaseIDInErrors(t *testing.T) {
	_, errs := Parse([]byte(with(t, `"lat": 49.99`, `"lat": 91`)), 3, "UA")
	if len(errs) != 1 || errs[0].CaseID != "UA-2022-000001" {
		t.Fatalf("errors %#v: want one with the case id", errs)
	}
	if got, want := errs[0].Error(), "line 3: incidents[0].lat: must be between -90 and 90 (got 91)"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	// An ill-formed case id is not repeated in every error.
	_, errs = Parse([]byte(with(t, `"UA-2022-000001"`, `"UA-2022 000001"`)), 3, "UA")
	if len(errs) != 1 || errs[0].CaseID != "" {
		t.Fatalf("errors %#v: want one without a case id", errs)
	}
}

func TestParseEveryProblem(t *testing.T) {
	line := strings.NewReplacer(
		`"country": "UA"`, `"country": "PL"`,
		`"status": "trial"`, `"status": "done"`,
		`"lat": 49.99`, `"lat": 99`,
		`"birth_year": 1970`, `"birth_year": 1800`,
		`"media_type": "video/mp4"`, `"media_type": 4`,
	).Replace(baseLine)
	_, errs := Parse([]byte(line), 1, "UA")
	var fields []string
	for _, e := range errs {
		fields = append(fields, e.Field)
	}
	// Decoding problems come first, in the order of the line, then the
	// rules' problems.
	want := "status persons[0].birth_year evidence[0].media_type country incidents[0].lat"
	if got := strings.Join(fields, " "); got != want {
		t.Errorf("fields %q, want %q\n%s", got, want, Join(errs))
	}
}

// TestParseUnknownDoesNotHide checks that an unknown or repeated key does
// not hide the problems of the fields around it.
func TestParseUnknownDoesNotHide(t *testing.T) {
	line := strings.NewReplacer(
		`"status": "trial"`, `"status": "trial", "a b": 1`,
		`"lat": 49.99`, `"lat": 99`,
		`"name": "Ivanna Testenko"`, `"nmae": "Ivanna Testenko"`, //nolint:misspell // a misspelt key on purpose
		`"kind": "unit"`, `"kind": "unit", "kind": "unit"`,
		`"name": "military unit 00000"`, `"name": ""`,
	).Replace(baseLine)
	_, errs := Parse([]byte(line), 1, "UA")
	var fields []string
	for _, e := range errs {
		fields = append(fields, e.Field)
	}
	want := " perpetrators[0].kind persons[0] incidents[0].lat perpetrators[0].name persons[0].name"
	if got := strings.Join(fields, " "); got != want {
		t.Errorf("fields %q, want %q\n%s", got, want, Join(errs))
	}
}

func TestParseErrorCap(t *testing.T) {
	codes := make([]string, 30)
	for i := range codes {
		codes[i] = fmt.Sprintf(`"bad%d"`, i)
	}
	_, errs := Parse([]byte(with(t, `["RS-8.2.b.i", "UA-CC-438"]`, "["+strings.Join(codes, ",")+"]")), 1, "UA")
	if len(errs) != MaxErrorsPerLine+1 {
		t.Fatalf("%d errors, want %d", len(errs), MaxErrorsPerLine+1)
	}
	if last := errs[len(errs)-1]; last.Field != "" || last.Reason != "10 more problems in this line not shown" {
		t.Errorf("last error %v", last)
	}
	// A huge list does not take long either.
	many := strings.Repeat(`{"id":"E","sha256":"x"},`, 20000)
	start := time.Now()
	_, errs = Parse([]byte(with(t, `"evidence": [`, `"evidence": [`+many)), 1, "UA")
	if len(errs) != MaxErrorsPerLine+1 {
		t.Errorf("%d errors", len(errs))
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v", d)
	}
}

func TestParseBadMember(t *testing.T) {
	for _, m := range []string{"", "ua", "U", "1A"} {
		if _, errs := Parse([]byte(baseLine), 1, m); len(errs) != 1 || !strings.Contains(errs[0].Reason, "member code") {
			t.Errorf("member %q: %v", m, errs)
		}
	}
}

// TestPersonNameNeverShown puts a person's name in every place it could be
// misplaced in, and checks that no error shows it.
func TestPersonNameNeverShown(t *testing.T) {
	fixClock(t)
	const name = "Zoryana Secretname"
	person := `{"role": "victim", "name": "Ivanna Testenko", "birth_year": 1970}`
	variants := []string{
		`{"role": "Zoryana Secretname", "name": "x"}`,
		`{"role": "victim", "Zoryana Secretname": 1, "name": "x"}`,
		`{"role": "victim", "name": "x", "name": "Zoryana Secretname"}`,
		`{"role": "victim", "name": ["Zoryana Secretname"]}`,
		`{"role": "victim", "name": "x", "birth_year": "Zoryana Secretname"}`,
		`{"role": "victim", "name": "x", "birth_year": 1e99}`,
		`{"role": "victim", "name": "Zoryana Secretname", "birth_year": 1e99}`,
		`{"role": "victim", "name": "Zoryana Secretname", "birth_year": 2099}`,
		`{"role": "victm", "name": "Zoryana Secretname", "birth_year": 1800.5}`,
		`{"role": "victim", "name": "Zoryana Secretname", "birth_year": 2001, "nmae": "Zoryana Secretname"}`, //nolint:misspell // a misspelt key on purpose
		"{\"role\": \"victim\", \"name\": \"Zoryana Secretname \xff\"}",
		`{"role": "victim", "name": "Zoryana Secretname \ud800"}`,
		`{"role": 5, "name": "Zoryana Secretname", "Zoryana": "Secretname"}`,
		`"Zoryana Secretname"`,
		`["Zoryana Secretname"]`,
		`{"role": "victim", "name": "Zoryana Secretname`,
		`{"role": "victim", "name": "Zoryana Secretname\x01"}`,
		`{"role": "victim", "name": "Zoryana Secretname\q"}`,
		`{"role": "victim", "name": "Zoryana Secretname"} x`,
	}
	for _, v := range variants {
		line := with(t, person, v)
		_, errs := Parse([]byte(line), 1, "UA")
		if len(errs) == 0 {
			t.Errorf("no error for %s", v)
		}
		for _, e := range errs {
			if strings.Contains(e.Error(), "Secretname") || strings.Contains(e.Error(), "Zoryana") {
				t.Errorf("%s: error shows the name: %q", v, e)
			}
		}
	}
	// A persons field of the wrong type.
	for _, v := range []string{`"persons": "Zoryana Secretname"`, `"persons": {"Zoryana Secretname": 1}`} {
		_, errs := Parse([]byte(with(t, `"persons": [`+person+`]`, v)), 1, "UA")
		if len(errs) == 0 {
			t.Errorf("no error for %s", v)
		}
		for _, e := range errs {
			if strings.Contains(e.Error(), "Secretname") {
				t.Errorf("%s: error shows the name: %q", v, e)
			}
		}
	}
	// And through Validate and Encode.
	c, errs := Parse([]byte(baseLine), 1, "UA")
	if errs != nil {
		t.Fatal(errs)
	}
	c.Persons[0].Name = name + "\xff"
	c.Persons[0].BirthYear = proto.Int32(1000)
	c.Persons[0].Role = 9
	for _, e := range Validate(c, "UA") {
		if strings.Contains(e.Error(), "Secretname") {
			t.Errorf("Validate error shows the name: %q", e)
		}
	}
	if _, err := Encode(c); err == nil || strings.Contains(err.Error(), "Secretname") {
		t.Errorf("Encode error %v", err)
	}
}

// TestDefaultSensitivityIsNational: a line without a sensitivity, or a
// case of the API without one, is national, and ParseDefaulted says so.
func TestDefaultSensitivityIsNational(t *testing.T) {
	c, d, errs := ParseDefaulted([]byte(`{"case_id":"UA-1","country":"UA","incidents":[{"start":"2022-03-01T10:00:00Z","place":"Irpin"}]}`), 1, "UA")
	if errs != nil || c.Sensitivity != accordv1.Sensitivity_SENSITIVITY_NATIONAL || !d.Sensitivity || !d.Status {
		t.Fatalf("%v %v %v", c, d, errs)
	}
	c, d, errs = ParseDefaulted([]byte(`{"case_id":"UA-1","country":"UA","sensitivity":"federation","status":"trial","incidents":[{"start":"2022-03-01T10:00:00Z","place":"Irpin"}]}`), 1, "UA")
	if errs != nil || c.Sensitivity != accordv1.Sensitivity_SENSITIVITY_FEDERATION || d.Sensitivity || d.Status {
		t.Fatalf("%v %v %v", c, d, errs)
	}
	api := &accordv1.Case{}
	if d := Defaults(api); !d.Sensitivity || api.Sensitivity != accordv1.Sensitivity_SENSITIVITY_NATIONAL {
		t.Fatalf("%v %v", d, api)
	}
}
