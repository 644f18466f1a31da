package matching

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/accordfed/accord/node/caseformat"
)

// datasets is the shared datasets folder, relative to this package.
const datasets = "../../../shared/datasets"

// testTokens is the offline token function of the tests, shared so that
// its cache serves every test of a run (a person's tokens cost five VOPRF
// evaluations).
var testTokens = OfflineTokens()

// loadDataset reads every cases-*.jsonl of a dataset and its truth pairs;
// it skips the test when the dataset is absent.
func loadDataset(t testing.TB, name string) ([]Record, map[[2]string]bool) {
	t.Helper()
	dir := filepath.Join(datasets, name)
	files, _ := filepath.Glob(filepath.Join(dir, "cases-*.jsonl"))
	if len(files) == 0 {
		t.Skipf("dataset %s not present (expected ../shared/datasets beside the repository); skipping", dir)
	}
	var recs []Record
	for _, f := range files {
		member := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "cases-"), ".jsonl")
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		r := caseformat.NewReader(fh)
		for {
			line, no, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			c, ferrs := caseformat.Parse(line, no, member)
			if len(ferrs) > 0 {
				t.Fatalf("%s: %v", f, caseformat.Join(ferrs))
			}
			rec, err := FromCase(c, testTokens)
			if err != nil {
				t.Fatal(err)
			}
			recs = append(recs, rec)
		}
		fh.Close()
	}
	truth := map[[2]string]bool{}
	fh, err := os.Open(filepath.Join(dir, "truth.jsonl"))
	if err != nil {
		t.Skipf("truth of %s not readable (%v); skipping", dir, err)
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		var p struct{ A, B string }
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			t.Fatal(err)
		}
		truth[pairOf(p.A, p.B)] = true
	}
	return recs, truth
}

func pairOf(a, b string) [2]string {
	if a > b {
		a, b = b, a
	}
	return [2]string{a, b}
}

type prf struct{ p, r, f float64 }

func score(pred, truth map[[2]string]bool, keep func([2]string) bool) prf {
	tp, np, nt := 0, 0, 0
	for p := range pred {
		if keep(p) {
			np++
			if truth[p] {
				tp++
			}
		}
	}
	for p := range truth {
		if keep(p) {
			nt++
		}
	}
	var s prf
	if np > 0 {
		s.p = float64(tp) / float64(np)
	}
	if nt > 0 {
		s.r = float64(tp) / float64(nt)
	}
	if s.p+s.r > 0 {
		s.f = 2 * s.p * s.r / (s.p + s.r)
	}
	return s
}

func all([2]string) bool { return true }

func crossCountry(p [2]string) bool { return memberOf(p[0]) != memberOf(p[1]) }
