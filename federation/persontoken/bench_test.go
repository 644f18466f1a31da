package persontoken_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/accordfed/accord/federation/persontoken"
)

// The cost of the VOPRF on one core (docs/BENCHMARKS.md, "person tokens").
// Every benchmark runs on one goroutine, so evals/s is per core.

// benchPersons returns n distinct persons' inputs: common Ukrainian first
// names and surnames (the attack tests' lists), with a birth year when
// withYear.
func benchPersons(tb testing.TB, n int, withYear bool) []persontoken.Input {
	tb.Helper()
	out := make([]persontoken.Input, 0, n)
	for i := 0; len(out) < n; i++ {
		f := attackFirstNames[i%len(attackFirstNames)]
		s := attackSurnames[(i/len(attackFirstNames))%len(attackSurnames)]
		year := 0
		if withYear {
			year = 1930 + i%80
		}
		out = append(out, mustInput(tb, nationalRomanisation(f+" "+s), year))
	}
	return out
}

// BenchmarkEvaluate measures the origin's side: Key.Evaluate of a batch of
// blinded elements (with the batched DLEQ proof), per element.
func BenchmarkEvaluate(b *testing.B) {
	k := mustKey(b)
	// 2,048 persons without a year are 4,096 elements, the most one request
	// may hold.
	req, err := persontoken.NewRequest("k", k.Public(), benchPersons(b, persontoken.MaxBatch/2, false))
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{1, 100, persontoken.MaxBatch} {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			elems := req.Elements[:n]
			for b.Loop() {
				if _, _, err := k.Evaluate(elems); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "evals/s")
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*n), "µs/eval")
		})
	}
}

// BenchmarkAsk measures the asker's side of a blinded evaluation, per
// element: NewRequest (hash to the group, blind) and Request.Finish (check
// the batched proof, unblind, hash), for persons with a birth year (three
// elements each). The origin's evaluation is left out of the time.
func BenchmarkAsk(b *testing.B) {
	k := mustKey(b)
	for _, persons := range []int{1, 33, persontoken.MaxBatch / 3} {
		ins := benchPersons(b, persons, true)
		elems := 3 * persons
		b.Run(fmt.Sprintf("batch=%d", elems), func(b *testing.B) {
			var blind, finish time.Duration
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				req, err := persontoken.NewRequest("k", k.Public(), ins)
				if err != nil {
					b.Fatal(err)
				}
				blind += time.Since(t0)
				b.StopTimer()
				ev, proof, err := k.Evaluate(req.Elements)
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				t1 := time.Now()
				if _, err := req.Finish(ev, proof); err != nil {
					b.Fatal(err)
				}
				finish += time.Since(t1)
			}
			total := float64(b.N * elems)
			b.ReportMetric(total/(blind+finish).Seconds(), "evals/s")
			b.ReportMetric(float64((blind+finish).Microseconds())/total, "µs/eval")
			b.ReportMetric(float64(blind.Microseconds())/total, "blind-µs/eval")
			b.ReportMetric(float64(finish.Microseconds())/total, "finish-µs/eval")
		})
	}
}

// BenchmarkTokens measures the origin's own tokens (Key.Tokens, direct
// evaluations without blinding or proof), per person: two evaluations
// without a birth year, five with one (the year, the year below and
// above).
func BenchmarkTokens(b *testing.B) {
	k := mustKey(b)
	for _, c := range []struct {
		name  string
		year  bool
		evals int
	}{{"year", true, 5}, {"noyear", false, 2}} {
		ins := benchPersons(b, 1000, c.year)
		b.Run(c.name, func(b *testing.B) {
			i := 0
			for b.Loop() {
				if _, err := k.Tokens("k", ins[i%len(ins)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "persons/s")
			b.ReportMetric(float64(b.N*c.evals)/b.Elapsed().Seconds(), "evals/s")
		})
	}
}

// BenchmarkRoundTrip measures a whole blinded evaluation of 100 persons
// with a birth year (NewRequest, Evaluate, Finish) on one core.
func BenchmarkRoundTrip(b *testing.B) {
	k := mustKey(b)
	ins := benchPersons(b, 100, true)
	for b.Loop() {
		evaluate(b, k, ins...)
	}
	b.ReportMetric(float64(b.N*len(ins))/b.Elapsed().Seconds(), "persons/s")
}
