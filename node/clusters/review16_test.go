package clusters

import (
	"fmt"
	"testing"
	"time"
)

// TestReviewFloodedStarStaysCheap: a dishonest member (XX) proposes, one
// registry command each, decisions linking its one case to many of the
// office's cases (nothing in the registry bounds how many proposals a
// member makes). Every decision lands in the office's graph; adding a
// link re-seats the whole component (seat walks every link for the
// lowest id) and removing one searches the whole component again, so n
// proposals then n rejections cost O(n^2) under the graph's lock, which
// the Follow loop, ClusterService reads and WaitApplied all wait on.
// 30,000 proposals then their 30,000 rejections (in id order, the worst
// case) took about 20 minutes of the lock; with the fix, about 10 s (the
// lowest decision is still searched for when it leaves: O(n) then).
func TestReviewFloodedStarStaysCheap(t *testing.T) {
	if testing.Short() {
		t.Skip("measures a flood")
	}
	const n = 30000
	w := newWorld()
	g := New("UA", nil, Config{})
	start := time.Now()
	budget := 20 * time.Second
	var ids []string
	for i := range n {
		d := w.propose(0.51, "XX-hub", fmt.Sprintf("UA-%d", i))
		g.Put(d, d.Updated.Index)
		ids = append(ids, d.ID)
		if time.Since(start) > budget {
			t.Fatalf("%d proposals of one member took %s (%.0f µs each, growing with the component)", i+1, time.Since(start).Round(time.Millisecond), float64(time.Since(start).Microseconds())/float64(i+1))
		}
	}
	built := time.Since(start)
	for i, id := range ids {
		d := w.answer(id, "XX", false)
		g.Put(d, d.Updated.Index)
		if time.Since(start) > budget {
			t.Fatalf("%d proposals in %s, then %d rejections took %s more", n, built.Round(time.Millisecond), i+1, (time.Since(start) - built).Round(time.Millisecond))
		}
	}
}
