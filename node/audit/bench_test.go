package audit_test

import (
	"crypto"
	"testing"

	"github.com/accordfed/accord/node/audit"
)

// BenchmarkAppend: one Append of 100 entries (one write, one fsync), as the
// exchange audits a sync batch; with and without an anchor every 1,000
// entries.
func BenchmarkAppend(b *testing.B) {
	for _, tc := range []struct {
		name string
		opts func(testing.TB) audit.Options
	}{
		{"batch=100", func(testing.TB) audit.Options { return audit.Options{} }},
		{"batch=100/anchors=ECDSA-P256", func(tb testing.TB) audit.Options { return audit.Options{Signer: newECDSA(tb)} }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			l, _ := openLog(b, tc.opts(b))
			batch := make([]audit.Entry, 100)
			for i := range batch {
				batch[i] = served(i)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := l.Append(batch...); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "entries/s")
		})
	}
}

// BenchmarkAppendParallel: single-entry appends from many goroutines; the
// writer groups them, so the rate is far above one fsync per entry.
func BenchmarkAppendParallel(b *testing.B) {
	l, _ := openLog(b, audit.Options{})
	b.SetParallelism(8)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		e := served(1)
		for pb.Next() {
			if _, err := l.Append(e); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
}

// BenchmarkVerify: Verify of a log of 1,000,000 entries (with an anchor
// every 10,000, whose signatures are checked).
func BenchmarkVerify(b *testing.B) {
	const n, batch = 1_000_000, 10_000
	key := newECDSA(b)
	l, _ := openLog(b, audit.Options{Signer: key, AnchorEvery: batch})
	es := make([]audit.Entry, batch)
	for i := 0; i < n; i += batch {
		for j := range es {
			if (i+j)%2 == 0 {
				es[j] = served(i + j)
			} else {
				es[j] = received(i + j)
			}
		}
		if _, err := l.Append(es...); err != nil {
			b.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		b.Fatal(err)
	}
	opts := audit.VerifyOptions{PublicKeys: []crypto.PublicKey{key.Public()}, RequireAnchoredTail: true}
	b.ReportAllocs()
	var rep audit.Report
	for b.Loop() {
		var err error
		if rep, err = audit.VerifyWith(l.Path(), opts); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(rep.Entries)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
	b.ReportMetric(float64(rep.Entries), "entries")
}
