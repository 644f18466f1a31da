package caseformat

import (
	"errors"
	"math"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

func TestEncodeBase(t *testing.T) {
	c, errs := Parse([]byte(baseLine), 1, "UA")
	if errs != nil {
		t.Fatal(errs)
	}
	c.Version = 7
	c.CreateTime = timestamppb.Now()
	c.UpdateTime = timestamppb.Now()
	c.UpdateBy = "spiffe://accord.example/member/UA/user/a1"
	got, err := Encode(c)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.NewReplacer(`": `, `":`, `, "`, `,"`, `}, {`, `},{`).Replace(baseLine)
	if string(got) != want {
		t.Errorf("Encode:\n got %s\nwant %s", got, want)
	}
}

func TestEncodeMinimal(t *testing.T) {
	c := &accordv1.Case{CaseId: "UA-1", Country: "UA", Incidents: []*accordv1.Incident{{Start: "2022-03-01T10:00:00Z", Place: "Irpin"}}}
	got, err := Encode(c)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"case_id":"UA-1","country":"UA","status":"investigation","sensitivity":"national","crime_codes":[],"incidents":[{"start":"2022-03-01T10:00:00Z","place":"Irpin"}],"perpetrators":[],"persons":[],"evidence":[]}`
	if string(got) != want {
		t.Errorf("Encode:\n got %s\nwant %s", got, want)
	}
	// Parts of objects that are unset.
	c.Perpetrators = []*accordv1.Perpetrator{{Name: "x"}, {Kind: accordv1.PerpetratorKind_PERPETRATOR_KIND_PERSON}, {}}
	c.Persons = []*accordv1.Person{{BirthYear: proto.Int32(1990)}, {Role: accordv1.PersonRole_PERSON_ROLE_SUSPECT, BirthYear: proto.Int32(1990)}}
	got, err = Encode(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, part := range []string{`"perpetrators":[{"name":"x"},{"kind":"person"},{}]`, `"persons":[{"birth_year":1990},{"role":"suspect","birth_year":1990}]`} {
		if !strings.Contains(string(got), part) {
			t.Errorf("Encode wrote %s, without %s", got, part)
		}
	}
}

func TestEncodeStrings(t *testing.T) {
	title := "a\"b\\c\n\r\t\x00\x1f\u007f é Ж 😀 \u2028\u2029 </script> &"
	c := &accordv1.Case{CaseId: "UA-1", Country: "UA", Title: title, Incidents: []*accordv1.Incident{{Start: "2022-03-01T10:00:00Z", Place: "Irpin"}}}
	got, err := Encode(c)
	if err != nil {
		t.Fatal(err)
	}
	if want := `"title":"a\"b\\c\n\r\t\u0000\u001f` + "\u007f é Ж 😀 " + `\u2028\u2029 </script> &"`; !strings.Contains(string(got), want) {
		t.Errorf("Encode wrote %s, want %s in it", got, want)
	}
	// Control characters (a case stored before they were refused) are
	// written faithfully, and refused when read back.
	if _, errs := Parse(got, 1, "UA"); len(errs) != 1 || errs[0].Field != "title" || !strings.Contains(errs[0].Reason, "U+000D") {
		t.Fatalf("control characters read back: %v", errs)
	}
	title = strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\n' && r != '\t' || r == 0x7f {
			return -1
		}
		return r
	}, title)
	c.Title = title
	if got, err = Encode(c); err != nil {
		t.Fatal(err)
	}
	back, errs := Parse(got, 1, "UA")
	if errs != nil {
		t.Fatal(errs)
	}
	if back.Title != title {
		t.Errorf("title %q after a round trip, want %q", back.Title, title)
	}
}

func TestEncodeFloats(t *testing.T) {
	for _, v := range []float64{0, math.Copysign(0, -1), 1e-7, 49.99, -89.999999999, 180, 0.1 + 0.2, 36.123456789012345} {
		c := &accordv1.Case{CaseId: "UA-1", Country: "UA", Incidents: []*accordv1.Incident{{Start: "2022-03-01T10:00:00Z", Place: "Irpin", Lat: proto.Float64(v / 2), Lon: proto.Float64(v)}}}
		b, err := Encode(c)
		if err != nil {
			t.Fatal(err)
		}
		back, errs := Parse(b, 1, "UA")
		if errs != nil {
			t.Fatalf("%s: %v", b, errs)
		}
		if *back.Incidents[0].Lon != v || *back.Incidents[0].Lat != v/2 || math.Signbit(*back.Incidents[0].Lon) != math.Signbit(v) {
			t.Errorf("%v written as %s, read back as %v", v, b, *back.Incidents[0].Lon)
		}
	}
}

func TestEncodeErrors(t *testing.T) {
	ok := func() *accordv1.Case {
		return &accordv1.Case{CaseId: "UA-1", Country: "UA", Incidents: []*accordv1.Incident{{Start: "2022-03-01T10:00:00Z", Place: "Irpin"}}}
	}
	cases := []struct {
		name  string
		edit  func(*accordv1.Case)
		field string
	}{
		{"nil case", nil, ""},
		{"invalid UTF-8", func(c *accordv1.Case) { c.Title = "a\xffb" }, "title"},
		{"invalid UTF-8 in a name", func(c *accordv1.Case) { c.Persons = []*accordv1.Person{{Name: "\xc3"}} }, "persons[0].name"},
		{"NaN", func(c *accordv1.Case) { c.Incidents[0].Lat = proto.Float64(math.NaN()) }, "incidents[0].lat"},
		{"Inf", func(c *accordv1.Case) { c.Incidents[0].Lon = proto.Float64(math.Inf(-1)) }, "incidents[0].lon"},
		{"unknown status", func(c *accordv1.Case) { c.Status = 9 }, "status"},
		{"unknown sensitivity", func(c *accordv1.Case) { c.Sensitivity = -1 }, "sensitivity"},
		{"unknown precision", func(c *accordv1.Case) { c.Incidents[0].Precision = 6 }, "incidents[0].precision"},
		{"unknown kind", func(c *accordv1.Case) { c.Perpetrators = []*accordv1.Perpetrator{{Kind: 4}} }, "perpetrators[0].kind"},
		{"unknown role", func(c *accordv1.Case) { c.Persons = []*accordv1.Person{{Role: 4}} }, "persons[0].role"},
		{"nil incident", func(c *accordv1.Case) { c.Incidents = append(c.Incidents, nil) }, "incidents[1]"},
		{"nil evidence", func(c *accordv1.Case) { c.Evidence = []*accordv1.EvidenceRef{nil} }, "evidence[0]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var c *accordv1.Case
			if tc.edit != nil {
				c = ok()
				tc.edit(c)
			}
			b, err := Encode(c)
			var fe FieldError
			if !errors.As(err, &fe) || !errors.Is(err, ErrInvalid) || fe.Field != tc.field {
				t.Fatalf("Encode: %s, %v; want a FieldError at %q", b, err, tc.field)
			}
		})
	}
}

// TestAppend checks that Append adds to its buffer and leaves it as it was
// on an error.
func TestAppend(t *testing.T) {
	c, _ := Parse([]byte(baseLine), 1, "UA")
	buf, err := Append([]byte("x"), c)
	if err != nil || !strings.HasPrefix(string(buf), `x{"case_id"`) {
		t.Fatalf("Append: %.20s, %v", buf, err)
	}
	c.Title = "\xff"
	buf2, err := Append(buf[:1], c)
	if err == nil || string(buf2) != "x" {
		t.Errorf("Append after an error: %q, %v", buf2, err)
	}
}
