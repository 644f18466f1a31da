package exchange_test

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/accordfed/accord/node/store"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// benchCases is the size of the initial sync (ACCORD_BENCH_SYNC_CASES,
// default 200,000).
func benchCases() int {
	if n, err := strconv.Atoi(os.Getenv("ACCORD_BENCH_SYNC_CASES")); err == nil && n > 0 {
		return n
	}
	return 200_000
}

// BenchmarkInitialSync: one member publishes its cases; another pulls its
// whole feed into an empty federation index, over mutual TLS on loopback,
// verifying every record. Each iteration pulls into a fresh node.
func BenchmarkInitialSync(b *testing.B) {
	for _, jit := range []bool{false, true} {
		b.Run(fmt.Sprintf("jit=%v", jit), func(b *testing.B) { benchInitialSync(b, jit) })
	}
}

// benchInitialSync: with jit, every case is a jit case of a team of UA and
// PL, so that UA signs every record again for PL (FeedRecord.recipient),
// one batch per response.
func benchInitialSync(b *testing.B, jit bool) {
	f := newFederation(b, "UA", "PL")
	var mutate func(*accordv1.Case)
	if jit {
		ua := f.nodes["UA"]
		mutate = func(c *accordv1.Case) {
			c.Sensitivity = accordv1.Sensitivity_SENSITIVITY_JIT
			ua.dir.mu.Lock()
			ua.dir.jit[c.GetCaseId()] = []string{"UA", "PL"}
			ua.dir.mu.Unlock()
		}
	}
	f.generateWith("UA", benchCases(), 1, mutate)
	head := f.publishAll("UA")
	fi, _ := f.nodes["UA"].st.Feed()
	b.Logf("UA's feed: %d entries (head %d)", head, fi.Head)
	b.ResetTimer()
	var total int
	var elapsed time.Duration
	pl := f.nodes["PL"]
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		if _, err := pl.st.FedReset("UA"); err != nil {
			b.Fatal(err)
		}
		pl.puller = nil
		f.rebuildPuller(pl)
		done := make(chan struct{})
		var once sync.Once
		pl.changed = func(string, []string) {
			for _, s := range pl.puller.Status() {
				if s.Member == "UA" && s.Seq >= fi.Head {
					once.Do(func() { close(done) })
				}
			}
		}
		b.StartTimer()
		start := time.Now()
		pl.start()
		select {
		case <-done:
		case <-time.After(10 * time.Minute):
			b.Fatal("initial sync did not finish")
		}
		elapsed += time.Since(start)
		b.StopTimer()
		pl.halt()
		counts, err := pl.st.FedCounts()
		if err != nil {
			b.Fatal(err)
		}
		total += counts["UA"]
		b.StartTimer()
	}
	b.ReportMetric(float64(total)/elapsed.Seconds(), "records/s")
}

// BenchmarkPropagation: five members; one changes cases at a steady rate
// (ACCORD_BENCH_RATE changes/s, default 500) for ACCORD_BENCH_SECONDS
// (default 10); the time from each change's commit to its arrival in every
// other member's federation index, p50 and p99.
func BenchmarkPropagation(b *testing.B) {
	rate, seconds := 500, 10
	if n, err := strconv.Atoi(os.Getenv("ACCORD_BENCH_RATE")); err == nil && n > 0 {
		rate = n
	}
	if n, err := strconv.Atoi(os.Getenv("ACCORD_BENCH_SECONDS")); err == nil && n > 0 {
		seconds = n
	}
	for i := 0; i < b.N; i++ {
		f := newFederation(b, "UA", "PL", "DE", "LT", "NL")
		var (
			mu        sync.Mutex
			committed = map[string]time.Time{}
			latencies []time.Duration
			arrived   = make(chan struct{}) // closed when every change reached every peer
			total     = rate * seconds
		)
		for m, n := range f.nodes {
			if m == "UA" {
				continue
			}
			n.changed = func(origin string, ids []string) {
				now := time.Now()
				mu.Lock()
				defer mu.Unlock()
				for _, id := range ids {
					if t0, ok := committed[id]; ok {
						latencies = append(latencies, now.Sub(t0))
					}
				}
				if len(latencies) == total*4 {
					close(arrived)
				}
			}
		}
		for _, n := range f.nodes {
			n.start()
		}
		ua := f.nodes["UA"]
		actor := store.Actor{ID: "spiffe://accord.test/member/UA/user/analyst"}
		tick := time.NewTicker(time.Second / time.Duration(rate))
		for k := 0; k < total; k++ {
			<-tick.C
			id := fmt.Sprintf("UA-2022-%06d", k+1)
			c := &accordv1.Case{CaseId: id, Country: "UA", Title: "Shelling " + id,
				Incidents: []*accordv1.Incident{{Start: "2022-03-01T10:00:00Z", Place: "Kharkiv"}}}
			if _, err := ua.st.CreateCase(c, actor); err != nil {
				b.Fatal(err)
			}
			mu.Lock()
			committed[id] = time.Now()
			mu.Unlock()
		}
		tick.Stop()
		select {
		case <-arrived:
		case <-time.After(30 * time.Second):
		}
		mu.Lock()
		l := slices.Clone(latencies)
		mu.Unlock()
		slices.Sort(l)
		if len(l) < total*4 {
			b.Fatalf("%d of %d arrivals", len(l), total*4)
		}
		b.ReportMetric(float64(l[len(l)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(l[len(l)*99/100].Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(l[len(l)-1].Microseconds())/1000, "max-ms")
		for _, n := range f.nodes {
			n.stop()
		}
	}
}
