package store

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// benchSize reads a size from the environment (for a quick run, e.g.
// ACCORD_BENCH_EVIDENCE=100000), defaulting to def.
func benchSize(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func benchHash(i int) string {
	var b [32]byte
	binary.BigEndian.PutUint64(b[:], uint64(i)*0x9E3779B97F4A7C15)
	binary.BigEndian.PutUint64(b[8:], uint64(i))
	binary.BigEndian.PutUint64(b[16:], uint64(i)^0xA5A5A5A5)
	binary.BigEndian.PutUint64(b[24:], uint64(i)*31)
	return hex.EncodeToString(b[:])
}

// BenchmarkFindEvidenceByHash measures lookups by evidence SHA-256 in a
// store holding 1,000,000 evidence items (ACCORD_BENCH_EVIDENCE), and
// reports the latency percentiles of 100,000 lookups of random items, half of
// them present.
func BenchmarkFindEvidenceByHash(b *testing.B) {
	items := benchSize("ACCORD_BENCH_EVIDENCE", 1_000_000)
	s := openTest(b)
	a := testActor(b)
	const perCase = 4
	start := time.Now()
	batch := make([]*accordv1.Case, 0, 5000)
	for i := 0; i < items/perCase; i++ {
		c := testCase(fmt.Sprintf("UA-2023-%07d", i), "Mariupol", "2022-03-16T10:00:00+02:00")
		for j := range perCase {
			n := i*perCase + j
			c.Evidence = append(c.Evidence, &accordv1.EvidenceRef{Id: fmt.Sprintf("%s-E%03d", c.GetCaseId(), j+1), Sha256: benchHash(n), MediaType: "image/jpeg"})
		}
		batch = append(batch, c)
		if len(batch) == cap(batch) {
			if _, err := s.ImportBatch(batch, a); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	if _, err := s.ImportBatch(batch, a); err != nil {
		b.Fatal(err)
	}
	b.Logf("loaded %d evidence items in %s", items, time.Since(start).Round(time.Millisecond))

	const lookups = 100_000
	lat := make([]time.Duration, 0, lookups)
	r := rand.New(rand.NewPCG(1, 2))
	for b.Loop() {
		lat = lat[:0]
		for range lookups {
			n := r.IntN(items * 2) // half of them absent
			t0 := time.Now()
			found, err := s.FindEvidenceByHash(benchHash(n))
			lat = append(lat, time.Since(t0))
			if err != nil {
				b.Fatal(err)
			}
			if (n < items/perCase*perCase) != (len(found) == 1) {
				b.Fatalf("lookup %d found %d items", n, len(found))
			}
		}
	}
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) }
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
	b.ReportMetric(pct(0.999), "p99.9-µs")
	b.ReportMetric(0, "ns/op")
}
