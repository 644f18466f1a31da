package matching

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/accordfed/accord/federation/persontoken"
	"github.com/accordfed/accord/node/casegen"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

var benchMembers = []string{"UA", "PL", "DE", "FR", "LT", "NL", "SE", "EE"}

// benchCases is the total number of generated cases (across 8 members):
// ACCORD_MATCH_BENCH_CASES, default 100000.
func benchCases() int {
	if v, err := strconv.Atoi(os.Getenv("ACCORD_MATCH_BENCH_CASES")); err == nil && v > 0 {
		return v
	}
	return 100000
}

// genRecords generates n cases spread over 8 members the way the
// federation's load is (UA half, the rest shared) and builds their records,
// persons' tokens made once per distinct name and year.
func genRecords(tb testing.TB, n int, seed uint64, members []string) []Record {
	tb.Helper()
	cache := map[string]persontoken.Tokens{}
	var out []Record
	for i, m := range members {
		k := n / 2 / max(1, len(members)-1)
		if i == 0 {
			k = n - k*(len(members)-1)
		}
		if len(members) == 1 {
			k = n
		}
		err := casegen.Generate(casegen.Options{Member: m, Cases: k, Seed: seed}, func(c *accordv1.Case) error {
			r, err := FromCase(c, nil)
			if err != nil {
				return err
			}
			for _, p := range c.GetPersons() {
				key := fmt.Sprint(p.GetBirthYear(), "\x00", p.GetName())
				e, ok := cache[key]
				if !ok {
					if e, ok = testTokens(persontoken.Person{Name: p.GetName(), BirthYear: int(p.GetBirthYear())}); !ok {
						continue
					}
					cache[key] = e
				}
				r.Persons = append(r.Persons, e)
			}
			out = append(out, r)
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
	return out
}

// genFederation generates about n cases of 8 members about common
// incidents (casegen.GenerateFederation: about a third investigated by two
// or three members) and hands their records to add in chunks; it returns
// the number of true pairs.
func genFederation(tb testing.TB, n int, seed uint64, add func([]Record)) int {
	tb.Helper()
	cache := map[string]persontoken.Tokens{}
	var out []Record
	truth := 0
	err := casegen.GenerateFederation(casegen.FederationOptions{Members: benchMembers, Incidents: n * 2 / 3, Seed: seed}, func(m string, c *accordv1.Case) error {
		r, err := FromCase(c, nil)
		if err != nil {
			return err
		}
		for _, p := range c.GetPersons() {
			key := fmt.Sprint(p.GetBirthYear(), "\x00", p.GetName())
			e, ok := cache[key]
			if !ok {
				if e, ok = testTokens(persontoken.Person{Name: p.GetName(), BirthYear: int(p.GetBirthYear())}); !ok {
					continue
				}
				cache[key] = e
			}
			r.Persons = append(r.Persons, e)
		}
		out = append(out, r)
		if len(out) == 8192 {
			add(out)
			out = out[:0]
		}
		return nil
	}, func(a, b string) error { truth++; return nil })
	if err != nil {
		tb.Fatal(err)
	}
	add(out)
	return truth
}

func peakRSSMB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	var kb float64
	for _, line := range slices.Collect(func(yield func(string) bool) {
		start := 0
		for i, c := range b {
			if c == '\n' {
				if !yield(string(b[start:i])) {
					return
				}
				start = i + 1
			}
		}
	}) {
		if _, err := fmt.Sscanf(line, "VmHWM: %f kB", &kb); err == nil {
			return kb / 1024
		}
	}
	return 0
}

// BenchmarkMatchAll is the offline full match of about benchCases() cases
// of 8 members about common incidents: index, EM, scoring of every
// candidate pair. Record building (parsing, person encoding) is not timed
// here, and the records are all held in memory; `accordctl match` timings
// and peak RSS (docs/BENCHMARKS.md) include reading them.
func BenchmarkMatchAll(b *testing.B) {
	var recs []Record
	genFederation(b, benchCases(), 1, func(r []Record) { recs = append(recs, r...) })
	n := len(recs)
	runtime.GC()
	b.ResetTimer()
	var st Stats
	for range b.N {
		var err error
		if _, _, st, err = MatchAll(recs, Config{}, true); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	perCase := b.Elapsed().Seconds() / float64(b.N) / float64(n)
	b.ReportMetric(float64(st.CandidatePairs), "candidates")
	b.ReportMetric(float64(st.Matches), "matches")
	b.ReportMetric(perCase*1e6, "µs/case")
	b.ReportMetric(peakRSSMB(), "peakRSS-MB")
	b.Logf("%d cases: %s; %.2f µs per case, 1M cases extrapolated %.1f s (linear); GOMAXPROCS %d; peak RSS %.0f MB",
		n, st, perCase*1e6, perCase*1e6, runtime.GOMAXPROCS(0), peakRSSMB())
}

// BenchmarkIncrementalMatch is the match of one new case against an index
// of benchCases() cases: p50 and p99 latency.
func BenchmarkIncrementalMatch(b *testing.B) {
	var recs []Record
	genFederation(b, benchCases(), 1, func(r []Record) { recs = append(recs, r...) })
	n := len(recs)
	_, model, _, err := MatchAll(recs[:min(len(recs), 50000)], Config{}, true)
	if err != nil {
		b.Fatal(err)
	}
	x := NewIndex(Config{Model: model})
	for _, r := range recs {
		if err := x.Add(r); err != nil {
			b.Fatal(err)
		}
	}
	// New cases (ids not in the index) of another generation.
	var probe []Record
	genFederation(b, 2000, 99, func(rs []Record) {
		for _, r := range rs {
			r.ID, r.Member = "ICC-"+r.ID, "ICC"
			probe = append(probe, r)
		}
	})
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		r := probe[i%len(probe)]
		t0 := time.Now()
		if _, err := x.Match(r); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(lat)
	p := func(q float64) time.Duration { return lat[min(len(lat)-1, int(q*float64(len(lat))))] }
	b.ReportMetric(float64(p(0.5).Microseconds()), "p50-µs")
	b.ReportMetric(float64(p(0.99).Microseconds()), "p99-µs")
	b.Logf("index of %d cases: match of one new case p50 %v, p99 %v, max %v (%d samples); peak RSS %.0f MB", n, p(0.5), p(0.99), lat[len(lat)-1], len(lat), peakRSSMB())
}
