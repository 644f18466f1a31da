package clusters

import (
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/accordfed/accord/federation/registry"
)

// largeOffice builds a graph of n decisions the way a large office's
// would look: incidents investigated by two to six of 20 members (sizes
// drawn as in the dev dataset: mostly pairs, a tail up to 12 cases), each
// incident's cases linked by the decisions with the office's own member.
func largeOffice(n int, rng *rand.Rand) *world {
	members := []string{"UA", "PL", "DE", "LT", "FR", "NL", "SE", "EE", "LV", "CZ", "SK", "RO", "IT", "ES", "BE", "AT", "FI", "DK", "IE", "PT"}
	w := newWorld()
	incident := 0
	for len(w.decisions) < n {
		incident++
		k := 2
		for k < 6 && rng.IntN(3) == 0 {
			k++
		}
		own := fmt.Sprintf("UA-%d", incident)
		for _, m := range rng.Perm(len(members) - 1)[:k-1] {
			w.propose(0.5+rng.Float64()/2, own, fmt.Sprintf("%s-%d", members[m+1], incident))
		}
	}
	return w
}

// TestUpdateLatencyAtScale measures the time one decision takes to update
// the clusters of an office with ACCORD_BENCH_CLUSTERS decisions (500000
// for the figure in docs/BENCHMARKS.md): new incidents, decisions joining
// two clusters, answers, rejections that split a cluster. Skipped unless
// the variable is set.
func TestUpdateLatencyAtScale(t *testing.T) {
	n := envInt(t, "ACCORD_BENCH_CLUSTERS")
	rng := rand.New(rand.NewPCG(7, 8))
	w := largeOffice(n, rng)
	ids := make([]string, 0, len(w.decisions))
	for id := range w.decisions {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, compareIDs)
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	before := ms.HeapAlloc
	start := time.Now()
	g := New("UA", nil, Config{})
	for _, id := range ids {
		d := w.decisions[id]
		g.Put(d, d.Updated.Index)
	}
	built := time.Since(start)
	runtime.GC()
	runtime.ReadMemStats(&ms)
	t.Logf("built %d decisions in %d clusters in %s (%.1f µs each); the graph holds %d MiB of heap",
		len(ids), g.Len(), built.Round(time.Millisecond), float64(built.Microseconds())/float64(len(ids)), (ms.HeapAlloc-before)>>20)
	kinds := []string{"new incident", "joins two clusters", "answer", "rejection (split)"}
	lat := map[string][]time.Duration{}
	for i := range 20000 {
		kind := kinds[i%4]
		var d registry.MatchDecision
		switch kind {
		case "new incident":
			d = w.propose(0.9, fmt.Sprintf("UA-x%d", i), fmt.Sprintf("PL-x%d", i))
		case "joins two clusters":
			a, b := w.decisions[ids[rng.IntN(len(ids))]], w.decisions[ids[rng.IntN(len(ids))]]
			d = w.propose(0.6, a.Cases[1].CaseID, b.Cases[0].CaseID)
			if a.Cases[1].Member == b.Cases[0].Member {
				continue
			}
		case "answer":
			d = w.answer(ids[rng.IntN(len(ids))], "UA", true)
		default:
			d = w.answer(ids[rng.IntN(len(ids))], "UA", false)
		}
		t0 := time.Now()
		g.Put(d, d.Updated.Index)
		lat[kind] = append(lat[kind], time.Since(t0))
	}
	var every []time.Duration
	for _, k := range kinds {
		every = append(every, lat[k]...)
		t.Logf("%-20s %s", k, quantiles(lat[k]))
	}
	t.Logf("%-20s %s", "every update", quantiles(every))
	// The guard of a cluster, read after a change (nil scorer: the cost of
	// the split search; the scorer's own cost is the matcher's).
	var guard []time.Duration
	for range 2000 {
		id := ids[rng.IntN(len(ids))]
		c := w.decisions[id].Cases[0]
		t0 := time.Now()
		g.Of(c)
		guard = append(guard, time.Since(t0))
	}
	t.Logf("%-20s %s", "read a cluster", quantiles(guard))
}

func quantiles(ds []time.Duration) string {
	if len(ds) == 0 {
		return "none"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	q := func(p float64) time.Duration { return s[min(len(s)-1, int(p*float64(len(s))))] }
	return fmt.Sprintf("n=%d p50=%s p95=%s p99=%s max=%s", len(s), q(0.50), q(0.95), q(0.99), s[len(s)-1])
}

// envInt reads a positive count from the environment, or skips the test.
func envInt(t *testing.T, name string) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscan(os.Getenv(name), &n); err != nil || n <= 0 {
		t.Skipf("%s not set (a number of decisions): skipping the measurement", name)
	}
	return n
}
