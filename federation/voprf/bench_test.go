package voprf

import (
	"fmt"
	"testing"
)

// The cost of each step per element on one core, for batches of 1, 100
// and 4,096 elements (persontoken's largest request); docs/BENCHMARKS.md
// has the figures.

var benchBatches = []int{1, 100, 4096}

func benchInputs(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = fmt.Appendf(nil, "accord person token v1 benchmark input %d", i)
	}
	return out
}

func reportPerElement(b *testing.B, n int) {
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*n), "µs/elem")
}

// BenchmarkBlind: the client hashes its inputs to the group and blinds
// them.
func BenchmarkBlind(b *testing.B) {
	for _, n := range benchBatches {
		inputs := benchInputs(n)
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			for b.Loop() {
				if _, err := Blind(nil, inputs); err != nil {
					b.Fatal(err)
				}
			}
			reportPerElement(b, n)
		})
	}
}

// BenchmarkEvaluate: the server evaluates blinded elements and proves it
// (BlindEvaluate).
func BenchmarkEvaluate(b *testing.B) {
	k := mustKey(b)
	for _, n := range benchBatches {
		req, err := Blind(nil, benchInputs(n))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			for b.Loop() {
				if _, _, err := k.BlindEvaluate(nil, req.Elements); err != nil {
					b.Fatal(err)
				}
			}
			reportPerElement(b, n)
		})
	}
}

// BenchmarkFinalize: the client checks the proof and unblinds.
func BenchmarkFinalize(b *testing.B) {
	k := mustKey(b)
	for _, n := range benchBatches {
		req, err := Blind(nil, benchInputs(n))
		if err != nil {
			b.Fatal(err)
		}
		ev, proof, err := k.BlindEvaluate(nil, req.Elements)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			for b.Loop() {
				if _, err := req.Finalize(k.Public(), ev, proof); err != nil {
					b.Fatal(err)
				}
			}
			reportPerElement(b, n)
		})
	}
}

// BenchmarkFullEvaluate: the server's direct evaluation of one input
// (Evaluate: no blinding, no proof).
func BenchmarkFullEvaluate(b *testing.B) {
	k := mustKey(b)
	in := benchInputs(1)[0]
	for b.Loop() {
		if _, err := k.Evaluate(in); err != nil {
			b.Fatal(err)
		}
	}
}
