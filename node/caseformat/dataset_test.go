package caseformat

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// datasetFiles returns the shared datasets' case files, or skips the test.
func datasetFiles(t *testing.T) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(datasetsDir, "*", "cases-*.jsonl"))
	if len(files) == 0 {
		t.Skip("shared/datasets not present at " + datasetsDir + ": skipping the dataset tests")
	}
	return files
}

// TestDatasets checks that every line of the shared datasets is valid for
// its member (the file name's suffix: cases-UA.jsonl is UA's), that Encode
// writes it back as the same JSON value, that Validate agrees with Parse,
// and that Reader returns the same lines as a plain split.
func TestDatasets(t *testing.T) {
	members := map[string]bool{}
	n := 0
	for _, file := range datasetFiles(t) {
		member := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(file), "cases-"), ".jsonl")
		members[member] = true
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		r := NewReader(bytes.NewReader(data))
		for {
			line, lineNo, err := r.Next()
			if err != nil {
				break
			}
			n++
			c, errs := Parse(line, lineNo, member)
			if errs != nil {
				t.Errorf("%s: %v", file, Join(errs))
				continue
			}
			if errs := Validate(c, member); errs != nil {
				t.Errorf("%s:%d: Validate: %v", file, lineNo, Join(errs))
			}
			out, err := Encode(c)
			if err != nil {
				t.Errorf("%s:%d: Encode: %v", file, lineNo, err)
				continue
			}
			var orig, back map[string]any
			if err := json.Unmarshal(line, &orig); err != nil {
				t.Fatalf("%s:%d: %v", file, lineNo, err)
			}
			if err := json.Unmarshal(out, &back); err != nil {
				t.Fatalf("%s:%d: Encode wrote invalid JSON: %v\n%s", file, lineNo, err, out)
			}
			// The defaults may be written where the line left them out.
			if _, ok := orig["status"]; !ok && back["status"] == "investigation" {
				delete(back, "status")
			}
			if _, ok := orig["sensitivity"]; !ok && back["sensitivity"] == "federation" {
				delete(back, "sensitivity")
			}
			if !reflect.DeepEqual(orig, back) {
				t.Errorf("%s:%d: round trip differs:\n in: %s\nout: %s", file, lineNo, line, out)
			}
			if bytes.IndexByte(out, '\n') >= 0 {
				t.Errorf("%s:%d: Encode wrote a line ending", file, lineNo)
			}
		}
	}
	for _, m := range []string{"UA", "EE", "FR", "SE"} {
		if !members[m] {
			t.Errorf("no dataset file for %s", m)
		}
	}
	t.Logf("%d lines of %d members", n, len(members))
}
