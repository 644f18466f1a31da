package registryraft

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// TestForwardQueueBounds: a batch takes the queued commands of its leader
// up to batchMaxCommands and batchMaxBytes (a larger command goes alone),
// skips those whose caller gave up, and at most batchCalls calls run at
// once per leader; a call slot is released when its queue is empty.
func TestForwardQueueBounds(t *testing.T) {
	var q forwardQueue
	live := context.Background()
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	req := func(ctx context.Context, size int) *forwardRequest {
		return &forwardRequest{ctx: ctx, data: make([]byte, size), done: make(chan forwardResult, 1)}
	}
	const a, b = raft.ServerID("a"), raft.ServerID("b")

	starts := 0
	for i := range batchMaxCommands + 10 {
		ctx := live
		if i == 0 {
			ctx = gone
		}
		if q.enqueue(a, req(ctx, 10)) {
			starts++
		}
	}
	if starts != batchCalls {
		t.Fatalf("%d calls started for one leader, want %d", starts, batchCalls)
	}
	if !q.enqueue(b, req(live, 10)) {
		t.Fatal("no call started for a second leader")
	}
	// The abandoned command is dropped, not counted.
	if got := len(q.next(a)); got != batchMaxCommands {
		t.Errorf("first batch: %d commands, want %d (the bound)", got, batchMaxCommands)
	}
	if got := len(q.next(a)); got != 9 {
		t.Errorf("second batch: %d commands, want the 9 left", got)
	}
	// Both call slots find the queue empty and end.
	for range batchCalls {
		if got := len(q.next(a)); got != 0 {
			t.Fatalf("empty queue gave a batch of %d", got)
		}
	}
	if !q.enqueue(a, req(live, 10)) {
		t.Error("no call started after the slots were released")
	}

	// Bytes: two half-MiB commands do not fit one call with a third; a
	// command over the bound goes alone.
	for _, size := range []int{batchMaxBytes / 2, batchMaxBytes / 2, 100, 2 * batchMaxBytes, 100} {
		q.enqueue(b, req(live, size))
	}
	var sizes []int
	for {
		batch := q.next(b)
		if len(batch) == 0 {
			break
		}
		sizes = append(sizes, len(batch))
	}
	// b's queue held one 10-byte command first.
	if want := []int{2, 2, 1, 1}; !slices.Equal(sizes, want) {
		t.Errorf("batches of %v commands, want %v", sizes, want)
	}
}

// TestForwardQueueProbesAgain: a leader that did not take SubmitBatch is
// asked again after batchProbeInterval (it may have been upgraded); other
// leaders are not affected.
func TestForwardQueueProbesAgain(t *testing.T) {
	var q forwardQueue
	now := time.Date(2026, 12, 8, 10, 0, 0, 0, time.UTC)
	const old, other = raft.ServerID("old"), raft.ServerID("other")
	if !q.batches(old, now) {
		t.Fatal("an unknown leader is not asked for batches")
	}
	q.refuseBatches(old, now)
	if q.batches(old, now.Add(batchProbeInterval-time.Second)) {
		t.Error("asked again for batches before the probe interval")
	}
	if !q.batches(other, now) {
		t.Error("another leader is not asked for batches")
	}
	if !q.batches(old, now.Add(batchProbeInterval)) {
		t.Error("not asked again after the probe interval")
	}
}
