package caseformat

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/proto"
)

// FuzzParse checks that Parse never panics, that every valid line is
// written by Encode as a line that parses to the same case, and that
// Encode∘Parse is then a fixed point.
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
		if errs != nil {
			if c != nil {
				t.Fatal("a case and errors")
			}
			if len(errs) > MaxErrorsPerLine+1 {
				t.Fatalf("%d errors", len(errs))
			}
			for _, e := range errs {
				if e.Line != 1 || e.Reason == "" {
					t.Fatalf("error %#v", e)
				}
			}
			return
		}
		if errs := Validate(c, "UA"); errs != nil {
			t.Fatalf("Parse accepted what Validate refuses: %v", Join(errs))
		}
		out, err := Encode(c)
		if err != nil {
			t.Fatalf("Encode: %v", err)
		}
		c2, errs := Parse(out, 1, "UA")
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
