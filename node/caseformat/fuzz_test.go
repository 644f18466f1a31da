package caseformat

import (
	"bytes"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"

	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// FuzzParse checks, for any line, that Parse never panics and answers the
// same twice; that an invalid line gets errors that each name their line,
// a reason, and a field (a path of the format, or an unknown key of the
// line, or that key quoted in the reason), except the few that concern
// the whole line, each error one line of valid UTF-8; and that a valid
// line is a case of the importing member that Validate accepts, that does
// not share memory with the line, and that Encode writes as a line that
// parses to the same case (Encode∘Parse is then a fixed point). The
// committed corpus (testdata/fuzz/FuzzParse) holds generated lines of the
// dev dataset's shape (accordctl cases generate) and edge cases.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		baseLine,
		`{"case_id":"UA-1","country":"UA","incidents":[{"start":"2022-03-01T10:00:00Z","place":"Irpin"}]}`,
		`{"case_id":"UA-1","country":"UA","title":"\u0416\ud83d\ude00\n","incidents":[{"start":"2022-03-01T10:00:00.123-01:30","end":"2022-03-02T10:00:00Z","place":" x ","lat":-0,"lon":1e-7,"location_precision_m":0}],"victim_count":0}`,
		`{"case_id":"UA-1","country":"UA","incidents":[{"start":"2022-03-01T10:00:00Z","place":"Irpin"}],"persons":[{"role":"suspect","name":"N","birth_year":1900}],"perpetrators":[{"kind":"organisation","name":"O"}],"evidence":[{"id":"E","sha256":"` + testSHA + `"}]}`,
		`{"sensitivty": null, "a": [1, {"b": [true, false, null]}], "c": -1.5e+3}`, //nolint:misspell // a misspelt key on purpose
		`[]`, `{}`, `"x"`, `{"case_id":"UA-1"`, "\xff", `{"title":"\ud800"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		c, errs := Parse(line, 1, "UA")
		c2, errs2 := Parse(line, 1, "UA")
		if !proto.Equal(c, c2) || !slices.Equal(errs, errs2) {
			t.Fatalf("two parses differ:\n%v %v\n%v %v", c, errs, c2, errs2)
		}
		if errs != nil {
			if c != nil {
				t.Fatal("a case and errors")
			}
			checkErrors(t, errs)
			return
		}
		if c.GetCountry() != "UA" || !strings.HasPrefix(c.GetCaseId(), "UA-") {
			t.Fatalf("UA's node accepted a case of another member: %q %q", c.GetCountry(), c.GetCaseId())
		}
		if errs := Validate(c, "UA"); errs != nil {
			t.Fatalf("Parse accepted what Validate refuses: %v", Join(errs))
		}
		// The case does not share memory with the line.
		kept := proto.Clone(c)
		scribbled := bytes.Clone(line)
		for i := range line {
			line[i] = 'x'
		}
		if !proto.Equal(c, kept) {
			t.Fatal("the case changed with the line it was parsed from")
		}
		copy(line, scribbled)

		out, err := Encode(c)
		if err != nil {
			t.Fatalf("Encode: %v", err)
		}
		c2, errs = Parse(out, 1, "UA")
		if errs != nil {
			t.Fatalf("Encode wrote a line Parse refuses: %v\n%s", Join(errs), out)
		}
		if !proto.Equal(c, c2) {
			t.Fatalf("round trip changed the case:\n%v\n%v", c, c2)
		}
		out2, err := Encode(c2)
		if err != nil || !bytes.Equal(out, out2) {
			t.Fatalf("Encode∘Parse is not a fixed point:\n%s\n%s", out, out2)
		}
	})
}

// objectFields are the fields of the objects of each list field.
var objectFields = map[string][]string{
	"incidents":    incidentFields,
	"perpetrators": perpetratorFields,
	"persons":      personFields,
	"evidence":     evidenceFields,
}

// wholeLine are the beginnings of the reasons of errors about the whole
// line, which name no field.
var wholeLine = []string{"invalid JSON at column ", "the line is empty", "the line must be "}

// checkErrors checks the errors of a line: at most MaxErrorsPerLine and a
// count of the rest; each with the line number, a reason, and a field
// that is a path of the format or an unknown key (or, for a key that cannot
// be written as a path, the key quoted in the reason), or a reason about
// the whole line; each error's text one line of valid UTF-8.
func checkErrors(t *testing.T, errs []FieldError) {
	t.Helper()
	if len(errs) == 0 || len(errs) > MaxErrorsPerLine+1 {
		t.Fatalf("%d errors", len(errs))
	}
	for i, e := range errs {
		text := e.Error()
		if e.Line != 1 || e.Reason == "" || !utf8.ValidString(text) || strings.ContainsAny(text, "\n\r") {
			t.Fatalf("error %#v", e)
		}
		if i == MaxErrorsPerLine {
			if n, ok := strings.CutSuffix(e.Reason, " more problems in this line not shown"); !ok || e.Field != "" || n == "0" || strings.Trim(n, "0123456789") != "" {
				t.Fatalf("the last of %d errors is not a count of the rest: %#v", len(errs), e)
			}
			continue
		}
		if e.Field == "" {
			// An unknown key of the case that cannot be a path (not
			// printable ASCII) is named, quoted, in the reason.
			if !slices.ContainsFunc(wholeLine, func(p string) bool { return strings.HasPrefix(e.Reason, p) }) && !strings.HasPrefix(e.Reason, `unknown field "`) {
				t.Fatalf("error names no field: %#v", e)
			}
			continue
		}
		if msg := badPath(e); msg != "" {
			t.Fatalf("error %#v: field: %s", e, msg)
		}
	}
}

// badPath says what is wrong with an error's field, or "": it must be a
// field of the case, an element of a list field, or a field of an object
// of a list; only an unknown-field error may name a key that is not a
// field (then printable ASCII without '.' or '[').
func badPath(e FieldError) string {
	unknown := strings.HasPrefix(e.Reason, "unknown field") || strings.Contains(e.Reason, "duplicate key")
	top, rest := e.Field, ""
	if i := strings.IndexAny(e.Field, ".["); i >= 0 {
		top, rest = e.Field[:i], e.Field[i:]
	}
	if !slices.Contains(caseFields, top) {
		if !unknown || rest != "" {
			return "not a field of a case"
		}
		return printableKey(top)
	}
	if rest == "" {
		return ""
	}
	idx, sub, _ := strings.Cut(strings.TrimPrefix(rest, "["), "].")
	idx = strings.TrimSuffix(idx, "]")
	if !strings.HasPrefix(rest, "[") || idx == "" || strings.Trim(idx, "0123456789") != "" || (len(idx) > 1 && idx[0] == '0') {
		return "no index after the list field"
	}
	fields, isList := objectFields[top]
	switch {
	case top != "crime_codes" && !isList:
		return "an index into a field that is not a list"
	case !strings.Contains(rest, "]."):
		if !strings.HasSuffix(rest, "]") {
			return "text after the index"
		}
		return ""
	case !isList:
		return "a field of a crime code"
	case slices.Contains(fields, sub):
		return ""
	case !unknown:
		return "not a field of " + top
	}
	return printableKey(sub)
}

func printableKey(k string) string {
	if k == "" || len(k) > 64 || strings.ContainsAny(k, ".[") {
		return "not a printable key"
	}
	for _, c := range []byte(k) {
		if c <= ' ' || c >= 0x7f {
			return "not a printable key"
		}
	}
	return ""
}

// jsonText writes s as the content of a JSON string, escaping only what
// must be (so that invalid UTF-8 stays invalid).
func jsonText(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20:
			b.WriteString(`\u00`)
			b.WriteString(strconv.FormatUint(uint64(c)>>4, 16))
			b.WriteString(strconv.FormatUint(uint64(c)&15, 16))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// The places a name is put in a line by FuzzParseKeepsNamesOut: NAME is
// the name's text, YEAR a scalar.
var nameTemplates = []string{
	`"persons": [{"role": "victim", "name": "NAME", "birth_year": YEAR}]`,
	`"persons": [{"role": "witness", "NAME": YEAR}]`,
	`"persons": [{"role": "suspect", "name": "x"}, "NAME"]`,
	`"persons": "NAME"`,
	`"persons": [{"role": "NAME", "name": "NAME", "birth_year": "NAME"}]`,
	`"persons": [{"role": "victim", "name": "NAME", "name": "NAME"}, {"name": YEAR}]`,
	`"perpetrators": [{"kind": "person", "name": "NAME"}]`,
	`"perpetrators": [{"kind": "person", "name": "NAME"}], "persons": [{"role": "victim", "name": "NAME", "birth_year": YEAR}], "persons": []`,
}

// FuzzParseKeepsNamesOut puts a name in the places of a line where the
// format keeps names (a person's name, a key or a value of a person object,
// a perpetrator's name) and checks that no error quotes it, whatever else
// is wrong with the line (the line may also be cut short), and that
// Validate's errors for a case with that name do not either. A name is
// looked for only when the same line with a placeholder of the same length
// in its place does not produce it as well (the reasons' own words).
func FuzzParseKeepsNamesOut(f *testing.F) {
	for i := range nameTemplates {
		f.Add(uint8(i), "Olena Kovalenko", int64(1978), uint8(0), uint(0))
		f.Add(uint8(i), "Олена Коваленко", int64(1800), uint8(1), uint(80))
	}
	f.Add(uint8(0), "Ivan \"Vanya\" Petrenko\n", int64(-1), uint8(2), uint(500))
	f.Add(uint8(1), "Zoë\xff Nováková", int64(1978), uint8(3), uint(10000))
	f.Add(uint8(4), "victim", int64(2200), uint8(4), uint(0))
	f.Fuzz(func(t *testing.T, where uint8, name string, year int64, yearKind uint8, cut uint) {
		runes := utf8.RuneCountInString(name)
		if runes < 4 || !strings.ContainsFunc(name, unicode.IsLetter) {
			return
		}
		years := []string{strconv.FormatInt(year, 10), `"` + strconv.FormatInt(year, 10) + `"`, "null", "true", strconv.FormatInt(year, 10) + ".5"}
		tmpl := `{"case_id": "UA-2022-000001", "country": "UA", "incidents": [{"start": "2022-03-01T10:00:00Z", "place": "Irpin"}], ` +
			strings.ReplaceAll(nameTemplates[int(where)%len(nameTemplates)], "YEAR", years[int(yearKind)%len(years)]) + `}`
		text := jsonText(name)
		line := strings.ReplaceAll(tmpl, "NAME", text)
		placeholder := strings.ReplaceAll(tmpl, "NAME", strings.Repeat("Z", len(text)))
		if n := int(cut % uint(len(line)+1)); n > 0 {
			line, placeholder = line[:n], placeholder[:n]
		}
		_, errs := Parse([]byte(line), 1, "UA")
		_, plain := Parse([]byte(placeholder), 1, "UA")
		said, plainSaid := Join(errs), Join(plain)
		if said == nil {
			return
		}
		for _, needle := range []string{name, text, strconv.Quote(name), strings.TrimSpace(name)} {
			if utf8.RuneCountInString(needle) < 4 || (plainSaid != nil && strings.Contains(plainSaid.Error(), needle)) {
				continue
			}
			if strings.Contains(said.Error(), needle) {
				t.Fatalf("an error quotes the name %q:\n%v", name, said)
			}
		}

		// The API: Validate on a case with the name everywhere a name goes.
		c := &accordv1.Case{CaseId: "UA-1", Country: "UA", Incidents: []*accordv1.Incident{{Start: "x"}},
			Persons:      []*accordv1.Person{{Name: name, BirthYear: proto.Int32(int32(year))}},
			Perpetrators: []*accordv1.Perpetrator{{Kind: accordv1.PerpetratorKind_PERPETRATOR_KIND_PERSON, Name: name}}}
		if errs := Join(Validate(c, "UA")); errs != nil {
			c.Persons[0].Name, c.Perpetrators[0].Name = strings.Repeat("Z", len(name)), strings.Repeat("Z", len(name))
			plain := Join(Validate(c, "UA"))
			if (plain == nil || !strings.Contains(plain.Error(), name)) && strings.Contains(errs.Error(), name) {
				t.Fatalf("Validate quotes the name %q:\n%v", name, errs)
			}
		}
	})
}
