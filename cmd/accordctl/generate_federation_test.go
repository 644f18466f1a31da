package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/accordfed/accord/node/caseformat"
)

func TestCasesGenerateFederation(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "fed")
	if _, err := runCtl(t, "cases", "generate", "--federation", "UA,PL,DE", "--incidents", "300", "--seed", "4", "--out", dir); err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, m := range []string{"UA", "PL", "DE"} {
		data, err := os.ReadFile(filepath.Join(dir, "cases-"+m+".jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
		if len(lines) < 20 {
			t.Errorf("%s: %d cases", m, len(lines))
		}
		for i, line := range lines {
			c, errs := caseformat.Parse(line, int64(i+1), m)
			if errs != nil {
				t.Fatalf("%s line %d: %v", m, i+1, caseformat.Join(errs))
			}
			ids[c.CaseId] = true
		}
	}
	data, err := os.ReadFile(filepath.Join(dir, "truth.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) < 50 {
		t.Errorf("%d truth pairs", len(lines))
	}
	for _, l := range lines {
		var p struct{ A, B string }
		if err := json.Unmarshal([]byte(l), &p); err != nil || !ids[p.A] || !ids[p.B] || p.A >= p.B {
			t.Fatalf("truth line %s: %v", l, err)
		}
	}
	// The same seed writes the same files.
	dir2 := filepath.Join(t.TempDir(), "fed")
	if _, err := runCtl(t, "cases", "generate", "--federation", "UA,PL,DE", "--incidents", "300", "--seed", "4", "--out", dir2); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"cases-UA.jsonl", "cases-DE.jsonl", "truth.jsonl"} {
		a, _ := os.ReadFile(filepath.Join(dir, name))
		b, _ := os.ReadFile(filepath.Join(dir2, name))
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs between runs of the same seed", name)
		}
	}

	for _, args := range [][]string{
		{"cases", "generate"},
		{"cases", "generate", "--incidents", "5", "--member", "UA"},
		{"cases", "generate", "--federation", "UA,PL", "--incidents", "5"},
		{"cases", "generate", "--federation", "UA,PL", "--member", "UA", "--out", t.TempDir()},
		{"cases", "generate", "--federation", "UA,UA", "--out", t.TempDir()},
		{"cases", "generate", "--federation", "UA,pl", "--out", t.TempDir()},
	} {
		if _, err := runCtl(t, args...); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
	// One member's cases, as before.
	out, err := runCtl(t, "cases", "generate", "--member", "PL", "--cases", "3")
	if err != nil || strings.Count(out, "\n") != 3 {
		t.Errorf("single member: %v\n%s", err, out)
	}
}
