package registry

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"
)

func countJITs(h *harness, viewer string) int {
	n := 0
	h.read(func(v View) {
		js, err := v.ListJITs(viewer)
		if err != nil {
			h.t.Fatal(err)
		}
		n = len(js)
	})
	return n
}

func TestExactlyOnce(t *testing.T) {
	h := bootstrapped(t, Policy{}, "UA", "PL")
	first := h.command("UA", CreateJIT{Name: "Mariupol theatre", LegalBasis: "Art. 13"})
	r1 := h.applyCommand(first)
	if r1.Err != nil {
		t.Fatal(r1.Err)
	}
	before := h.dump(true)

	// The client retries (say, after a leader change): a new log entry, a new
	// leader time, even another node of the same member and no user.
	retry := *first
	retry.Time = h.now.Add(42e9)
	retry.Actor = Actor{Node: node2URI("UA")}
	retry.Signature = nil // signed again by that node
	r2 := h.applyCommand(&retry)
	if r2.Err != nil || r2.Value != r1.Value {
		t.Fatalf("retry answered %+v, first %+v", r2, r1)
	}
	if after := h.dump(true); after != before {
		t.Fatalf("retry changed the state:\n%s", firstDiff(before, after))
	}
	if n := countJITs(h, "UA"); n != 1 {
		t.Fatalf("%d teams after a retry", n)
	}

	// The same request id with another command is refused, and changes nothing.
	reuse := h.command("UA", CreateJIT{Name: "another", LegalBasis: "Art. 13"})
	reuse.RequestID = first.RequestID
	h.refuseCommand(reuse, ErrInvalidArgument, true)

	// Another member's request ids are its own.
	other := h.command("PL", CreateJIT{Name: "Mariupol theatre", LegalBasis: "Art. 13"})
	other.RequestID = first.RequestID
	if r := h.applyCommand(other); r.Err != nil || r.Value == r1.Value {
		t.Fatalf("PL's command with UA's request id: %+v", r)
	}

	// A refused command is answered the same on retry.
	bad := h.command("UA", InviteToJIT{JIT: "jit-000404", Member: "PL"})
	e1 := h.applyCommand(bad).Err
	e2 := h.applyCommand(bad).Err
	if !errors.Is(e1, ErrNotFound) || !errors.Is(e2, ErrNotFound) || e1.Error() != e2.Error() {
		t.Fatalf("refusals differ: %v / %v", e1, e2)
	}
	// ... even when the state has changed since: a retry is not a new request.
	late := h.command("PL", RespondToJIT{JIT: "jit-000001", Accept: true})
	if err := h.applyCommand(late).Err; !errors.Is(err, ErrNotFound) {
		t.Fatalf("PL not invited yet: %v", err)
	}
	h.ok("UA", InviteToJIT{JIT: "jit-000001", Member: "PL"})
	if err := h.applyCommand(late).Err; !errors.Is(err, ErrNotFound) {
		t.Fatalf("retry of a refused command applied: %v", err)
	}
}

func TestExactlyOnceAcrossSnapshot(t *testing.T) {
	h := bootstrapped(t, Policy{}, "UA", "PL")
	first := h.command("UA", CreateEntry{Kind: KindTheme, Title: "Attacks on hospitals"})
	r1 := h.applyCommand(first)
	refused := h.command("PL", UpdateEntry{Entry: "entry-000001", Kind: KindTheme, Title: "mine"})
	e1 := h.applyCommand(refused).Err
	if r1.Err != nil || !errors.Is(e1, ErrPermissionDenied) {
		t.Fatalf("%v / %v", r1.Err, e1)
	}

	// A new node restores from a snapshot and carries on with the log.
	restored := newHarness(t)
	restored.index, restored.now, restored.rid = h.index, h.now, h.rid
	if err := restored.f.Restore(io.NopCloser(bytes.NewReader(snapshotBytes(t, h.f)))); err != nil {
		t.Fatal(err)
	}
	if got := restored.f.AppliedIndex(); got != h.index {
		t.Fatalf("restored applied index %d, want %d", got, h.index)
	}
	for _, x := range []*harness{h, restored} {
		r2 := x.applyCommand(first)
		if r2.Err != nil || r2.Value != r1.Value {
			t.Fatalf("retry after restore: %+v, first %+v", r2, r1)
		}
		e2 := x.applyCommand(refused).Err
		if !errors.Is(e2, ErrPermissionDenied) || e2.Error() != e1.Error() {
			t.Fatalf("refusal after restore: %v, first %v", e2, e1)
		}
	}
	if a, b := snapshotBytes(t, h.f), snapshotBytes(t, restored.f); !bytes.Equal(a, b) {
		t.Fatalf("original and restored differ:\n%s", firstDiff(string(a), string(b)))
	}
	if got := entryIDs(t, restored, "PL", StrategyFilter{}); len(got) != 1 {
		t.Fatalf("entries after retries: %v", got)
	}
}

func TestDedupeWindow(t *testing.T) {
	const window = 3
	h := bootstrapped(t, Policy{DedupeWindow: window}, "UA", "PL")
	first := h.command("UA", CreateJIT{Name: "team 1", LegalBasis: "Art. 13"})
	if r := h.applyCommand(first); r.Err != nil {
		t.Fatal(r.Err)
	}
	for i := 2; i <= window; i++ {
		h.ok("UA", CreateJIT{Name: fmt.Sprintf("team %d", i), LegalBasis: "Art. 13"})
		// Another member's commands do not push UA's out.
		h.ok("PL", CreateKey{Name: fmt.Sprintf("key-%d", i), Material: bytes.Repeat([]byte{byte(i)}, 16)})
	}
	// Still within the window: deduplicated.
	if r := h.applyCommand(first); r.Err != nil || r.Value.(Outcome).ID != "jit-000001" {
		t.Fatalf("retry within window: %+v", r)
	}
	if n := countJITs(h, "UA"); n != window {
		t.Fatalf("%d teams", n)
	}
	// One more command of UA evicts its oldest request id, identically on a
	// replica restored from a snapshot.
	h.ok("UA", CreateJIT{Name: "team 4", LegalBasis: "Art. 13"})
	restored := newHarness(t)
	restored.index, restored.now, restored.rid = h.index, h.now, h.rid
	if err := restored.f.Restore(io.NopCloser(bytes.NewReader(snapshotBytes(t, h.f)))); err != nil {
		t.Fatal(err)
	}
	// Signed again, as a node's retry is: the first signature is older than
	// the replay floor now (see TestReplayRefused). Both replicas get the
	// same entry.
	again := *first
	if err := again.Sign(nodeCert(t, again.Actor.Node), h.index, again.Time); err != nil {
		t.Fatal(err)
	}
	for _, x := range []*harness{h, restored} {
		r := x.applyCommand(&again)
		if r.Err != nil || r.Value.(Outcome).ID != "jit-000005" {
			t.Fatalf("retry beyond the window: %+v", r)
		}
	}
	if a, b := snapshotBytes(t, h.f), snapshotBytes(t, restored.f); !bytes.Equal(a, b) {
		t.Fatalf("original and restored differ:\n%s", firstDiff(string(a), string(b)))
	}
	// PL goes past its window too; each member keeps only its last window.
	h.ok("PL", CreateKey{Name: "key-8", Material: bytes.Repeat([]byte{8}, 16)})
	h.ok("PL", CreateKey{Name: "key-9", Material: bytes.Repeat([]byte{9}, 16)})
	var n int
	h.read(func(v View) { n = v.s.dedupe.len() })
	if n != 2*window {
		t.Fatalf("dedupe table holds %d, want %d (window per member)", n, 2*window)
	}
}
