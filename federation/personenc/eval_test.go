package personenc

import (
	"bufio"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// devDataset is the shared development dataset, relative to this package.
const devDataset = "../../../shared/datasets/dedup-dev"

type evalCase struct {
	id, country string
	persons     []Person
}

func loadDevCases(t testing.TB) (map[string]*evalCase, [][2]string) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(devDataset, "cases-*.jsonl"))
	if len(files) == 0 {
		t.Skipf("dataset %s not present; skipping the evaluation", devDataset)
	}
	cases := map[string]*evalCase{}
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 1<<20), 1<<24)
		for sc.Scan() {
			var c struct {
				CaseID  string `json:"case_id"`
				Country string `json:"country"`
				Persons []struct {
					Name      string `json:"name"`
					BirthYear int    `json:"birth_year"`
				} `json:"persons"`
			}
			if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			ec := &evalCase{id: c.CaseID, country: c.Country}
			for _, p := range c.Persons {
				ec.persons = append(ec.persons, Person{Name: p.Name, BirthYear: p.BirthYear})
			}
			cases[c.CaseID] = ec
		}
		fh.Close()
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
	}
	fh, err := os.Open(filepath.Join(devDataset, "truth.jsonl"))
	if err != nil {
		t.Skipf("dataset truth file not readable (%v); skipping the evaluation", err)
	}
	defer fh.Close()
	var truth [][2]string
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		var p struct{ A, B string }
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			t.Fatal(err)
		}
		truth = append(truth, [2]string{p.A, p.B})
	}
	return cases, truth
}

// pairScore is the best person agreement between two cases: the highest
// Dice over all person pairs, and the highest Dice among person pairs
// whose birth years do not disagree.
type pairScore struct{ best, bestYearOK float64 }

type evalResult struct {
	truePairs, randomPairs []pairScore
}

func evaluate(t testing.TB, cfg Config, nRandom int) evalResult {
	t.Helper()
	cases, truth := loadDevCases(t)
	key, err := NewKey("eval.accord.test", 1, []byte("evaluation key material, not secret"))
	if err != nil {
		t.Fatal(err)
	}
	enc, err := NewEncoder(cfg, key)
	if err != nil {
		t.Fatal(err)
	}
	encs := map[string][]Encoding{}
	var withPersons []string
	for id, c := range cases {
		for _, p := range c.persons {
			e, err := enc.Encode(p)
			if err != nil {
				t.Fatalf("case %s: %v", id, err)
			}
			encs[id] = append(encs[id], e)
		}
		if len(c.persons) > 0 {
			withPersons = append(withPersons, id)
		}
	}
	sort.Strings(withPersons)
	score := func(a, b string) pairScore {
		var s pairScore
		for _, x := range encs[a] {
			for _, y := range encs[b] {
				r, err := Compare(x, y)
				if err != nil {
					t.Fatal(err)
				}
				s.best = max(s.best, r.Dice)
				if r.Year != YearDifferent {
					s.bestYearOK = max(s.bestYearOK, r.Dice)
				}
			}
		}
		return s
	}
	isTrue := map[[2]string]bool{}
	var res evalResult
	for _, p := range truth {
		isTrue[p] = true
		isTrue[[2]string{p[1], p[0]}] = true
		a, b := cases[p[0]], cases[p[1]]
		if a == nil || b == nil || a.country == b.country || len(a.persons) == 0 || len(b.persons) == 0 {
			continue
		}
		res.truePairs = append(res.truePairs, score(p[0], p[1]))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for len(res.randomPairs) < nRandom {
		a := withPersons[rng.IntN(len(withPersons))]
		b := withPersons[rng.IntN(len(withPersons))]
		if cases[a].country == cases[b].country || isTrue[[2]string{a, b}] {
			continue
		}
		res.randomPairs = append(res.randomPairs, score(a, b))
	}
	return res
}

func fracAtLeast(ps []pairScore, th float64, yearOK bool) float64 {
	n := 0
	for _, p := range ps {
		v := p.best
		if yearOK {
			v = p.bestYearOK
		}
		if v >= th {
			n++
		}
	}
	return float64(n) / float64(len(ps))
}

// TestEvaluateDevDataset reports how often the true case pairs of different
// countries share a person at a similarity threshold, against random
// non-matching pairs. It fails only if the signal is inverted or absent.
func TestEvaluateDevDataset(t *testing.T) {
	if testing.Short() {
		t.Skip("evaluation skipped in -short mode")
	}
	res := evaluate(t, DefaultConfig(), 20000)
	t.Logf("default config %+v: %d true cross-country pairs with persons on both sides, %d random non-matching pairs",
		DefaultConfig(), len(res.truePairs), len(res.randomPairs))
	for _, th := range []float64{0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95} {
		t.Logf("  Dice >= %.2f: true pairs %5.1f%%  random pairs %5.1f%%   | years not different: true %5.1f%%  random %5.1f%%",
			th, 100*fracAtLeast(res.truePairs, th, false), 100*fracAtLeast(res.randomPairs, th, false),
			100*fracAtLeast(res.truePairs, th, true), 100*fracAtLeast(res.randomPairs, th, true))
	}
	// The cost of the BLIP hardening: the same evaluation without it and
	// with more of it.
	for _, cfg := range []Config{{Bits: 1024, Hashes: 8}, {Bits: 1024, Hashes: 8, FlipProbability: 0.05}} {
		r := evaluate(t, cfg, 20000)
		for _, th := range []float64{0.7, 0.75, 0.8, 0.85} {
			t.Logf("  %+v Dice >= %.2f: true pairs %5.1f%%  random pairs %5.1f%%", cfg, th,
				100*fracAtLeast(r.truePairs, th, false), 100*fracAtLeast(r.randomPairs, th, false))
		}
	}
	tp, rp := fracAtLeast(res.truePairs, Threshold, true), fracAtLeast(res.randomPairs, Threshold, true)
	if tp < 2*rp || tp < 0.3 {
		t.Errorf("at Threshold %.2f true pairs share a person %.1f%% of the time, random pairs %.1f%%: no usable signal",
			Threshold, 100*tp, 100*rp)
	}
}
