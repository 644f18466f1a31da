package registry

import (
	"bytes"
	"io"
	"testing"

	"github.com/hashicorp/raft"
)

// TestLogChain: replicas that applied the same entries agree on the chain
// at every index, a replica restored from a snapshot goes on with them,
// and one that applied a different entry at one index — even a refused
// one, which changes no record — differs from then on.
func TestLogChain(t *testing.T) {
	log := randomLog(t, 400, 3)
	a, b := NewFSM(), NewFSM()
	applyLog(t, a, log, 1)
	applyLog(t, b, log, 1)
	n := uint64(len(log))
	for _, i := range []uint64{1, n / 2, n} {
		ca, okA := a.LogChain(i)
		cb, okB := b.LogChain(i)
		if !okA || !okB || ca != cb {
			t.Fatalf("index %d: chains %x (%v) and %x (%v)", i, ca[:6], okA, cb[:6], okB)
		}
	}
	if _, ok := a.LogChain(n + 1); ok {
		t.Fatal("a chain for an index not applied yet")
	}

	// Restored half way, then the rest.
	half := n / 2
	c := NewFSM()
	applyLog(t, c, log[:half], 1)
	var buf bytes.Buffer
	snap, err := c.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	sink := &memSink{}
	if err := snap.Persist(sink); err != nil {
		t.Fatal(err)
	}
	buf.Write(sink.Bytes())
	d := NewFSM()
	if err := d.Restore(io.NopCloser(&buf)); err != nil {
		t.Fatal(err)
	}
	applyLog(t, d, log[half:], half+1)
	if ca, _ := a.LogChain(n); ca != mustChain(t, d, n) {
		t.Fatal("a replica restored from a snapshot has another chain")
	}

	// One replica applies garbage at one index instead of the entry.
	e := NewFSM()
	applyLog(t, e, log[:half], 1)
	if res := e.Apply(&raft.Log{Index: half + 1, Term: 9, Type: raft.LogCommand, Data: []byte("forged")}).(Result); res.Err == nil {
		t.Fatal("garbage applied")
	}
	applyLog(t, e, log[half+1:], half+2)
	if ca, _ := a.LogChain(half); ca != mustChain(t, e, half) {
		t.Fatal("chains differ before the forged entry")
	}
	if ca, _ := a.LogChain(n); ca == mustChain(t, e, n) {
		t.Fatal("a replica that applied another entry has the same chain")
	}
}

func mustChain(t *testing.T, f *FSM, index uint64) [32]byte {
	t.Helper()
	c, ok := f.LogChain(index)
	if !ok {
		t.Fatalf("no chain at %d (applied %d)", index, f.AppliedIndex())
	}
	return c
}
