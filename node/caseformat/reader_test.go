package caseformat

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

type readLine struct {
	no   int64
	text string
	err  string
}

func readAll(t *testing.T, r io.Reader) []readLine {
	t.Helper()
	lr := NewReader(r)
	var out []readLine
	for {
		line, no, err := lr.Next()
		if errors.Is(err, io.EOF) {
			// EOF stays.
			if _, _, err := lr.Next(); !errors.Is(err, io.EOF) {
				t.Errorf("Next after io.EOF: %v", err)
			}
			return out
		}
		if err != nil {
			var fe FieldError
			if !errors.As(err, &fe) || !errors.Is(err, ErrInvalid) {
				out = append(out, readLine{err: "source: " + err.Error()})
				return out
			}
			out = append(out, readLine{no: no, err: err.Error()})
			continue
		}
		out = append(out, readLine{no: no, text: string(line)})
	}
}

func TestReader(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want []readLine
	}{
		{"empty", "", nil},
		{"lines", "a\nb\n", []readLine{{1, "a", ""}, {2, "b", ""}}},
		{"no final line ending", "a\nb", []readLine{{1, "a", ""}, {2, "b", ""}}},
		{"CRLF", "a\r\nb\r\n", []readLine{{1, "a", ""}, {2, "b", ""}}},
		{"CR kept inside a line", "a\rb\n", []readLine{{1, "a\rb", ""}}},
		{"blank lines skipped, counted", "\n\na\n \t\r\n\nb\n\n", []readLine{{3, "a", ""}, {6, "b", ""}}},
		{"byte order mark on line 1", "\uFEFFa\nb", []readLine{{1, "a", ""}, {2, "b", ""}}},
		{"byte order mark on line 2 kept", "a\n\uFEFFb", []readLine{{1, "a", ""}, {2, "\uFEFFb", ""}}},
		{"byte order mark alone", "\uFEFF\na", []readLine{{2, "a", ""}}},
		{"only blank lines", "\n\r\n  \n", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, r := range []io.Reader{strings.NewReader(tc.in), iotest.OneByteReader(strings.NewReader(tc.in))} {
				got := readAll(t, r)
				if len(got) != len(tc.want) {
					t.Fatalf("got %+v, want %+v", got, tc.want)
				}
				for i := range got {
					if got[i] != tc.want[i] {
						t.Errorf("line %d: got %+v, want %+v", i, got[i], tc.want[i])
					}
				}
			}
		})
	}
}

func TestReaderLongLines(t *testing.T) {
	exact := strings.Repeat("x", MaxLineBytes)
	over := strings.Repeat("y", MaxLineBytes+1)
	huge := strings.Repeat("z", 5*MaxLineBytes)
	in := "a\n" + exact + "\r\n" + over + "\n" + huge + "\r\n" + "b\n" + over
	got := readAll(t, strings.NewReader(in))
	const tooLong = "line is longer than 1 MiB (1048576 bytes)"
	want := []readLine{
		{1, "a", ""},
		{2, exact, ""},
		{3, "", "line 3: " + tooLong},
		{4, "", "line 4: " + tooLong},
		{5, "b", ""},
		{6, "", "line 6: " + tooLong},
	}
	if len(got) != len(want) {
		t.Fatalf("%d lines, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("line %d: got %d %.60q %q, want %d %.60q %q", i, got[i].no, got[i].text, got[i].err, want[i].no, want[i].text, want[i].err)
		}
	}
}

func TestReaderSourceError(t *testing.T) {
	boom := errors.New("disk on fire")
	r := NewReader(io.MultiReader(strings.NewReader("a\nhalf a li"), iotest.ErrReader(boom)))
	if line, no, err := r.Next(); err != nil || no != 1 || string(line) != "a" {
		t.Fatalf("Next: %q, %d, %v", line, no, err)
	}
	// The half line is not returned as if it were whole.
	if line, _, err := r.Next(); !errors.Is(err, boom) {
		t.Fatalf("Next: %q, %v; want the source's error", line, err)
	}
	if _, _, err := r.Next(); !errors.Is(err, boom) {
		t.Fatalf("Next after the error: %v", err)
	}
}

// TestReaderParse reads a file of valid and invalid lines into cases and
// errors with their line numbers.
func TestReaderParse(t *testing.T) {
	in := "\uFEFF" + baseLine + "\r\n\r\n" + `{"case_id": "UA-2"}` + "\r\n" + strings.ReplaceAll(baseLine, "000001", "000003")
	r := NewReader(bytes.NewReader([]byte(in)))
	var ok []int64
	var bad []FieldError
	for {
		line, no, err := r.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			t.Fatal(err)
		}
		if _, errs := Parse(line, no, "UA"); errs != nil {
			bad = append(bad, errs...)
		} else {
			ok = append(ok, no)
		}
	}
	if len(ok) != 2 || ok[0] != 1 || ok[1] != 4 {
		t.Errorf("valid lines %v, want [1 4]", ok)
	}
	if len(bad) != 2 || bad[0].Line != 3 || bad[0].Field != "country" || bad[1].Field != "incidents" || bad[0].CaseID != "UA-2" {
		t.Errorf("errors %v", bad)
	}
}
