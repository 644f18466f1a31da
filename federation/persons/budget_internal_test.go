package persons

import (
	"fmt"
	"testing"
	"time"
)

func TestBucketsRefusedKeepNothing(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	b := &buckets{now: func() time.Time { return now }, m: map[string]*bucket{}}
	// Refused requests under ever new user names leave nothing behind.
	for i := range 10_000 {
		if _, ok := b.take(time.Hour, 11, []string{"lookup/PL", fmt.Sprintf("lookup/PL/u%d", i)}, []int{100, 10}); ok {
			t.Fatal("more than a user's capacity was granted")
		}
	}
	if len(b.m) != 0 {
		t.Fatalf("%d buckets after refusals only", len(b.m))
	}
	// Granted ones are kept, refill evenly, and are swept once full.
	for i := range maxIdleBuckets + 1 {
		if _, ok := b.take(time.Hour, 1, []string{fmt.Sprintf("u%d", i)}, []int{10}); !ok {
			t.Fatal("refused within the capacity")
		}
	}
	if left, ok := b.take(time.Hour, 10, []string{"u0"}, []int{10}); ok {
		t.Fatalf("u0 took 10 of 9 left (%d)", left)
	}
	now = now.Add(6 * time.Minute) // a tenth of the window: one more
	if _, ok := b.take(time.Hour, 10, []string{"u0"}, []int{10}); !ok {
		t.Fatal("u0 did not refill")
	}
	now = now.Add(2 * time.Hour)
	b.take(time.Hour, 1, []string{"sweeper"}, []int{10})
	if len(b.m) > 2 {
		t.Fatalf("%d buckets kept after they all refilled", len(b.m))
	}
}
