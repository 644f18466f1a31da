package casegen

import (
	"io"
	"testing"
	"time"

	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// BenchmarkGenerate generates cases; ns/op is per case.
func BenchmarkGenerate(b *testing.B) {
	b.ReportAllocs()
	err := Generate(Options{Member: "UA", Cases: b.N, Seed: 1}, func(*accordv1.Case) error { return nil })
	if err != nil {
		b.Fatal(err)
	}
}

// BenchmarkWriteJSONL generates and encodes cases; ns/op is per line.
func BenchmarkWriteJSONL(b *testing.B) {
	b.ReportAllocs()
	if err := WriteJSONL(io.Discard, Options{Member: "UA", Cases: b.N, Seed: 1}); err != nil {
		b.Fatal(err)
	}
}

// TestMillion writes the benchmark file's million cases (to io.Discard) and
// reports the time; skipped with -short.
func TestMillion(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("a million cases: not with -short or the race detector")
	}
	start := time.Now()
	cw := &countWriter{}
	if err := WriteJSONL(cw, Options{Member: "UA", Cases: 1000000, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	d := time.Since(start)
	t.Logf("1,000,000 cases, %d MB, in %v (%.0f cases/s)", cw.n>>20, d.Round(time.Millisecond), 1e6/d.Seconds())
	if d > 30*time.Second {
		t.Errorf("a million cases took %v", d)
	}
}

type countWriter struct{ n int64 }

func (w *countWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }
