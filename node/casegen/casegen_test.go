package casegen

import (
	"bytes"
	"errors"
	"io"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/accordfed/accord/node/caseformat"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// TestValid checks that every generated case is a valid line of the format
// for its member, and that the ids are unique.
func TestValid(t *testing.T) {
	for _, opts := range []Options{
		{Member: "UA", Cases: 5000, Seed: 1},
		{Member: "PL", Cases: 1000, Seed: 2},
		{Member: "DE", Cases: 1000, Seed: 3, StartYear: 2023},
		{Member: "FR", Cases: 500, Seed: 4, StartYear: 1910},
		{Member: "EUROJUST", Cases: 500, Seed: 5},
	} {
		var buf bytes.Buffer
		if err := WriteJSONL(&buf, opts); err != nil {
			t.Fatal(err)
		}
		ids := map[string]bool{}
		evidence := map[string]bool{}
		r := caseformat.NewReader(&buf)
		n := 0
		for {
			line, no, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			n++
			c, errs := caseformat.Parse(line, no, opts.Member)
			if errs != nil {
				t.Fatalf("%s: %v\n%s", opts.Member, caseformat.Join(errs), line)
			}
			if ids[c.CaseId] {
				t.Fatalf("case id %s twice", c.CaseId)
			}
			ids[c.CaseId] = true
			for _, ev := range c.Evidence {
				if evidence[ev.Id] || evidence[ev.Sha256] {
					t.Fatalf("evidence %s repeated", ev.Id)
				}
				evidence[ev.Id], evidence[ev.Sha256] = true, true
			}
		}
		if n != opts.Cases {
			t.Errorf("%s: %d lines, want %d", opts.Member, n, opts.Cases)
		}
	}
}

func TestDeterministic(t *testing.T) {
	gen := func(seed uint64) []byte {
		var buf bytes.Buffer
		if err := WriteJSONL(&buf, Options{Member: "UA", Cases: 300, Seed: seed}); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	a, b, c := gen(7), gen(7), gen(8)
	if !bytes.Equal(a, b) {
		t.Error("the same seed gave different cases")
	}
	if bytes.Equal(a, c) {
		t.Error("different seeds gave the same cases")
	}
	// Two members with the same seed share no incident and no evidence.
	seen := map[string]bool{}
	for _, m := range []string{"UA", "PL"} {
		err := Generate(Options{Member: m, Cases: 2000, Seed: 7}, func(c *accordv1.Case) error {
			for _, in := range c.Incidents {
				if in.Lat != nil {
					k := in.Start + strconv.FormatFloat(*in.Lat, 'f', -1, 64)
					if seen[k] {
						t.Errorf("%s: incident %s also in another member's cases", c.CaseId, k)
					}
					seen[k] = true
				}
			}
			for _, ev := range c.Evidence {
				if seen[ev.Sha256] {
					t.Errorf("%s: evidence %s also in another member's cases", c.CaseId, ev.Sha256)
				}
				seen[ev.Sha256] = true
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// A prefix of a longer run is the shorter run.
	var long bytes.Buffer
	if err := WriteJSONL(&long, Options{Member: "UA", Cases: 600, Seed: 7}); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(long.Bytes(), a) {
		t.Error("300 cases are not the start of 600 cases of the same seed")
	}
}

// TestShape checks the distributions against the dev dataset's (UA file).
func TestShape(t *testing.T) {
	const n = 20000
	var incidents, evidence, persons, perpetrators, coords, cyrillic, withRS float64
	status := map[accordv1.CaseStatus]float64{}
	precision := map[accordv1.TimePrecision]float64{}
	offsets := map[string]float64{}
	years := map[string]float64{}
	err := Generate(Options{Member: "UA", Cases: n, Seed: 42}, func(c *accordv1.Case) error {
		incidents += float64(len(c.Incidents))
		evidence += float64(len(c.Evidence))
		persons += float64(len(c.Persons))
		perpetrators += float64(len(c.Perpetrators))
		status[c.Status]++
		years[c.CaseId[3:7]]++
		if len(c.CrimeCodes) > 1 {
			withRS++
		}
		for _, in := range c.Incidents {
			precision[in.Precision]++
			offsets[in.Start[19:]]++
			if in.Lat != nil {
				coords++
			}
			if strings.ContainsAny(in.Place, "абвгдеєжзиіїйклмнопрстуфхцчшщьюяАБВГДЕЄЖЗИІЇЙКЛМНОПРСТУФХЦЧШЩЮЯ") {
				cyrillic++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	near := func(what string, got, want, tol float64) {
		t.Helper()
		if math.Abs(got-want) > tol {
			t.Errorf("%s: %.3f, want %.3f ± %.3f", what, got, want, tol)
		}
	}
	near("incidents per case", incidents/n, 1.07, 0.02)
	near("evidence per case", evidence/n, 3.7, 0.2)
	near("persons per case", persons/n, 1.95, 0.1)
	near("perpetrators per case", perpetrators/n, 0.74, 0.03)
	near("share of incidents with coordinates", coords/incidents, 0.75, 0.02)
	near("share of places in Cyrillic", cyrillic/incidents, 0.08, 0.02)
	near("share of cases with a Rome Statute code", withRS/n, 0.53, 0.02)
	near("investigation", status[accordv1.CaseStatus_CASE_STATUS_INVESTIGATION]/n, 0.80, 0.02)
	near("indictment", status[accordv1.CaseStatus_CASE_STATUS_INDICTMENT]/n, 0.10, 0.02)
	near("trial", status[accordv1.CaseStatus_CASE_STATUS_TRIAL]/n, 0.07, 0.02)
	near("closed", status[accordv1.CaseStatus_CASE_STATUS_CLOSED]/n, 0.03, 0.01)
	near("hour precision", precision[accordv1.TimePrecision_TIME_PRECISION_HOUR]/incidents, 0.50, 0.02)
	near("day precision", precision[accordv1.TimePrecision_TIME_PRECISION_DAY]/incidents, 0.40, 0.02)
	near("summer time", offsets["+03:00"]/incidents, 0.59, 0.03)
	if len(offsets) != 2 {
		t.Errorf("offsets %v, want +02:00 and +03:00 only", offsets)
	}
	if len(years) != Years || years["2022"] == 0 || years["2024"] == 0 {
		t.Errorf("years %v", years)
	}
}

func TestKyivTime(t *testing.T) {
	g := newGenerator(Options{Member: "UA", StartYear: 2022})
	for _, tc := range []struct {
		y, m, d, h int
		want       string
	}{
		{2022, 1, 10, 12, "2022-01-10T12:00:00+02:00"},
		{2022, 3, 27, 2, "2022-03-27T02:00:00+02:00"}, // summer time starts at 03:00
		{2022, 3, 27, 5, "2022-03-27T05:00:00+03:00"},
		{2022, 7, 1, 0, "2022-07-01T00:00:00+03:00"},
		{2022, 10, 30, 2, "2022-10-30T02:00:00+03:00"}, // and ends at 04:00
		{2022, 10, 30, 5, "2022-10-30T05:00:00+02:00"},
		{2023, 3, 25, 12, "2023-03-25T12:00:00+02:00"},
		{2023, 3, 26, 12, "2023-03-26T12:00:00+03:00"},
		{2024, 10, 26, 23, "2024-10-26T23:00:00+03:00"},
		{2024, 10, 27, 23, "2024-10-27T23:00:00+02:00"},
	} {
		if got := g.kyivTime(timeDate(tc.y, tc.m, tc.d, tc.h)); got != tc.want {
			t.Errorf("kyivTime = %s, want %s", got, tc.want)
		}
	}
}

func TestOptions(t *testing.T) {
	for _, opts := range []Options{
		{Member: "", Cases: 1},
		{Member: "ua", Cases: 1},
		{Member: "UA", Cases: -1},
		{Member: "UA", Cases: Years*999999 + 1},
		{Member: "UA", Cases: 1, StartYear: 1800},
		{Member: "UA", Cases: 1, StartYear: 9000},
	} {
		if err := Generate(opts, func(*accordv1.Case) error { return nil }); !errors.Is(err, ErrOptions) {
			t.Errorf("%+v: %v, want ErrOptions", opts, err)
		}
	}
	// The callback's error stops the generation.
	stop := errors.New("stop")
	n := 0
	err := Generate(Options{Member: "UA", Cases: 10}, func(*accordv1.Case) error {
		n++
		if n == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 3 {
		t.Errorf("Generate: %v after %d cases", err, n)
	}
	// Zero cases write nothing.
	var buf bytes.Buffer
	if err := WriteJSONL(&buf, Options{Member: "UA"}); err != nil || buf.Len() != 0 {
		t.Errorf("WriteJSONL of no cases: %q, %v", buf.String(), err)
	}
}

// TestYearOverflow checks that a year whose ids are used up passes cases to
// the others.
func TestYearOverflow(t *testing.T) {
	g := newGenerator(Options{Member: "UA", StartYear: 2022})
	g.counter = [Years]int{maxPerYear, maxPerYear, maxPerYear - 2}
	for range 2 {
		if c := g.next(); !strings.HasPrefix(c.CaseId, "UA-2024-99999") {
			t.Errorf("case id %s", c.CaseId)
		}
	}
}

func timeDate(y, m, d, h int) time.Time { return time.Date(y, time.Month(m), d, h, 0, 0, 0, time.UTC) }
