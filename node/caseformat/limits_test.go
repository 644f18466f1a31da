package caseformat

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// longList returns a line of just under MaxLineBytes whose list field
// holds elements made by elem(i).
func longList(field string, elem func(i int) string) []byte {
	var b strings.Builder
	b.WriteString(`{"case_id":"UA-1","country":"UA","incidents":[{"start":"2022-03-01T10:00:00Z","place":"Irpin"}],"` + field + `":[`)
	for i := 0; ; i++ {
		e := elem(i)
		if b.Len()+len(e)+3 > MaxLineBytes {
			break
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(e)
	}
	b.WriteString("]}")
	return []byte(b.String())
}

// TestLongListsTakeLinearTime parses lines of the longest length a file
// may have whose lists hold a hundred thousand elements: distinct or
// repeated crime codes, crime codes of the wrong type or null, evidence
// with distinct ids. Checking each crime code against those before it,
// and each rule's field against every value decoding had skipped, took
// from 40 s to 4 min for one such line; now each takes well under a
// second (the bound leaves room for a loaded machine and the race
// detector). The answers are checked too.
func TestLongListsTakeLinearTime(t *testing.T) {
	sha := func(i int) string { return fmt.Sprintf("%064x", i) }
	code := func(i int) string { return fmt.Sprintf(`"UA-CC-%d.%d"`, i/1000, i%1000) }
	for _, tc := range []struct {
		name  string
		line  []byte
		field string // of the first error; "" for a valid line
		want  string
	}{
		{"distinct crime codes", longList("crime_codes", code), "", ""},
		{"a crime code repeated at the end", []byte(strings.Replace(string(longList("crime_codes", code)), `]}`, `,`+code(7)+`]}`, 1)),
			"crime_codes[", "repeats crime_codes[7]"},
		{"invalid crime codes", longList("crime_codes", func(i int) string { return fmt.Sprintf(`"%x"`, i) }), "crime_codes[0]", "must be RS-"},
		{"crime codes of the wrong type", longList("crime_codes", func(i int) string { return fmt.Sprint(i) }), "crime_codes[0]", "must be a string"},
		{"null crime codes", longList("crime_codes", func(int) string { return "null" }), "crime_codes[0]", "must be a string (got null)"},
		{"evidence with distinct ids", longList("evidence", func(i int) string { return fmt.Sprintf(`{"id":"E%d","sha256":"%s"}`, i, sha(i)) }), "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			c, errs := Parse(tc.line, 1, "UA")
			took := time.Since(start)
			if took > 20*time.Second {
				t.Errorf("%d bytes took %v", len(tc.line), took)
			}
			switch {
			case tc.field == "" && errs != nil:
				t.Fatalf("valid line refused: %v", errs[0])
			case tc.field == "" && c == nil:
				t.Fatal("no case")
			case tc.field != "" && (len(errs) == 0 || !strings.HasPrefix(errs[0].Field, tc.field) || !strings.Contains(errs[0].Reason, tc.want)):
				t.Fatalf("errors %v; want %s: %s", errs, tc.field, tc.want)
			}
			t.Logf("%d bytes in %v", len(tc.line), took)
		})
	}
}
