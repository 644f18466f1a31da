package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Two offices record the same strike differently (script, time zone,
// precision, coordinates only on one side) and share an evidence item; a
// third case is another strike in the same town on the same day.
const (
	matchUA = `{"case_id": "UA-2022-000001", "country": "UA", "title": "Ракетний удар по Харкову", "crime_codes": ["UA-CC-438"], "incidents": [{"start": "2022-05-16T09:00:00+03:00", "end": "2022-05-16T10:00:00+03:00", "precision": "hour", "place": "Харків", "region": "Kharkiv Oblast", "lat": 49.9935, "lon": 36.2304}], "victim_count": 3, "evidence": [{"id": "E1", "sha256": "` + "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" + `"}]}
{"case_id": "UA-2022-000002", "country": "UA", "title": "Обстріл", "incidents": [{"start": "2022-05-16T19:00:00+03:00", "end": "2022-05-16T20:00:00+03:00", "precision": "hour", "place": "Kharkiv", "region": "Kharkiv Oblast", "lat": 49.9950, "lon": 36.2310}], "victim_count": 1}
`
	matchPL = `{"case_id": "PL-2022-000007", "country": "PL", "title": "Atak rakietowy w Charkowie", "crime_codes": ["RS-8.2.b.i"], "incidents": [{"start": "2022-05-16T06:00:00+00:00", "end": "2022-05-16T07:00:00+00:00", "precision": "hour", "place": "Charków", "region": "obwód charkowski"}], "victim_count": 3, "evidence": [{"id": "X9", "sha256": "` + "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" + `"}]}
`
)

func TestMatchCommand(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{"cases-UA.jsonl": matchUA, "cases-PL.jsonl": matchPL} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, "pairs.jsonl")
	certsMustRun(t, "match", "--input", dir, "--out", out)
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 1 {
		t.Fatalf("pairs:\n%s\nwant exactly one", b)
	}
	var p struct {
		A, B    string
		Score   float64
		Reasons []string
	}
	if err := json.Unmarshal([]byte(lines[0]), &p); err != nil {
		t.Fatal(err)
	}
	if p.A != "PL-2022-000007" || p.B != "UA-2022-000001" || p.Score < 0.5 || p.Score > 1 {
		t.Fatalf("pair %+v", p)
	}
	r := strings.Join(p.Reasons, "; ")
	for _, want := range []string{"same evidence item (1)", "same hour", "Charków ~ Харків"} {
		if !strings.Contains(r, want) {
			t.Errorf("reasons %q lack %q", r, want)
		}
	}
}

func TestMatchCommandErrors(t *testing.T) {
	if _, err := certsRun(t, "match"); err == nil || !strings.Contains(err.Error(), "--input") {
		t.Errorf("no --input: %v", err)
	}
	if _, err := certsRun(t, "match", "--input", t.TempDir()); err == nil || !strings.Contains(err.Error(), "no cases-") {
		t.Errorf("empty folder: %v", err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "cases-PL.jsonl"), []byte(`{"case_id": "PL-1"}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := certsRun(t, "match", "--input", dir); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("invalid line: %v", err)
	}
}
