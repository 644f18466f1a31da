package registry

import (
	"bytes"
	"io"
	"testing"

	"github.com/hashicorp/raft"
)

// From the outside review (finding 3, review_v3mix_test.go): in a mixed
// group (the previous build applies version 2 only), a dishonest member's
// node writes a version 3 command before every server applies version 3,
// and a leader appends it. The new build applies the entry; the previous
// build refuses it at decode. The log is the same on both, so a log chain
// of the entries alone stays the same and the split is silent. The chain
// link of a version 3 command covers its outcome, so the server that
// refused it differs from the others from that entry on, and the
// divergence check (registryraft, which compares LogChain) reports it.
func TestVersion3EntryInMixedGroupDiverges(t *testing.T) {
	h := newHarness(t)
	type entry struct {
		index uint64
		data  []byte
	}
	var log []entry
	apply := func(c *Command) Result {
		t.Helper()
		if err := c.Sign(nodeCert(t, c.Actor.Node), h.index, c.Time); err != nil {
			t.Fatal(err)
		}
		data, err := c.Encode()
		if err != nil {
			t.Fatal(err)
		}
		res := h.applyData(data)
		log = append(log, entry{h.index, data})
		return res
	}
	legacy := func(c *Command) *Command { c.Version = LegacyCommandVersion; return c }

	// What a mixed group writes: version 2.
	boot := legacy(h.command("UA", Bootstrap{Federation: testFed, Founders: []FounderSpec{founder(t, "UA"), founder(t, "PL")}}))
	if res := apply(boot); res.Err != nil {
		t.Fatal(res.Err)
	}
	if res := apply(legacy(h.command("UA", CreateEntry{Kind: KindTheme, Title: "before"}))); res.Err != nil {
		t.Fatal(res.Err)
	}
	v2End := h.index

	// PL's node writes version 3 at once (a patched writeVersion), and a
	// leader appends it: one the new build applies, one it refuses (a
	// team of a non-member), then version 2 again.
	jit := h.command("PL", CreateJIT{Name: "Team", LegalBasis: "Art. 13", Invite: []string{"UA"}})
	if jit.Version != CommandVersion {
		t.Fatal("not a version 3 command")
	}
	if res := apply(jit); res.Err != nil {
		t.Fatalf("new build refused the v3 entry: %v", res.Err)
	}
	jitAt := h.index
	if res := apply(h.command("UA", CreateJIT{Name: "Other", LegalBasis: "Art. 13", Invite: []string{"XX"}})); res.Err == nil {
		t.Fatal("a team inviting a non-member applied")
	}
	if res := apply(legacy(h.command("UA", CreateEntry{Kind: KindTheme, Title: "after"}))); res.Err != nil {
		t.Fatal(res.Err)
	}
	var teams int
	h.read(func(v View) { js, _ := v.ListJITs("PL"); teams = len(js) })
	if teams != 1 {
		t.Fatalf("new build: %d teams after the version 3 entry, want 1", teams)
	}

	replay := func(f *FSM, from int) {
		t.Helper()
		for _, e := range log[from:] {
			f.Apply(&raft.Log{Index: e.index, Term: 1, Type: raft.LogCommand, Data: e.data})
		}
	}

	// The previous build: refuses every version 3 entry at decode, and
	// keeps a state without the team.
	old := NewFSM()
	old.previousBuild = true
	replay(old, 0)
	old.Read(func(v View) {
		if js, _ := v.ListJITs("PL"); len(js) != 0 {
			t.Fatalf("the previous build applied the version 3 entry: %d teams", len(js))
		}
	})
	// No false alarm while the group writes version 2 ...
	for i := uint64(1); i <= v2End; i++ {
		if a, b := mustChain(t, h.f, i), mustChain(t, old, i); a != b {
			t.Fatalf("index %d (version 2): the builds' chains differ", i)
		}
	}
	// ... and divergence from the first version 3 entry on.
	for i := jitAt; i <= h.index; i++ {
		if a, b := mustChain(t, h.f, i), mustChain(t, old, i); a == b {
			t.Fatalf("index %d: a server that refused the version 3 entry has the chain of one that applied it", i)
		}
	}

	// Replicas of the new build agree with each other, also one restored
	// from a snapshot taken before the version 3 entries.
	same := NewFSM()
	replay(same, 0)
	mid := NewFSM()
	for _, e := range log[:v2End] {
		mid.Apply(&raft.Log{Index: e.index, Term: 1, Type: raft.LogCommand, Data: e.data})
	}
	snap, err := mid.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	sink := &memSink{}
	if err := snap.Persist(sink); err != nil {
		t.Fatal(err)
	}
	restored := NewFSM()
	if err := restored.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))); err != nil {
		t.Fatal(err)
	}
	replay(restored, int(v2End))
	for i := uint64(1); i <= h.index; i++ {
		want := mustChain(t, h.f, i)
		if got := mustChain(t, same, i); got != want {
			t.Fatalf("index %d: two replicas of the new build have different chains", i)
		}
		if i >= v2End {
			if got := mustChain(t, restored, i); got != want {
				t.Fatalf("index %d: a new-build replica restored from a snapshot has another chain", i)
			}
		}
	}
}

// TestVersion3OutcomeInChain: the link of a version 3 command covers its
// outcome: a replica whose state made the same entry apply differently (an
// applied command against a refusal) has another chain, and one of a
// version 2 command does not (as the previous build's).
func TestVersion3OutcomeInChain(t *testing.T) {
	out := Outcome{ID: "jit-1", Version: 1, Status: "open"}
	refused := denied("member: XX is not a member of the federation")
	var prev [32]byte
	data := []byte("entry")
	applied := nextChainOutcome(prev, 5, 1, raft.LogCommand, data, outcomeDigest(out, nil))
	for name, other := range map[string][32]byte{
		"refused":          nextChainOutcome(prev, 5, 1, raft.LogCommand, data, outcomeDigest(Outcome{}, refused)),
		"other outcome":    nextChainOutcome(prev, 5, 1, raft.LogCommand, data, outcomeDigest(Outcome{ID: "jit-2", Version: 1, Status: "open"}, nil)),
		"entry only":       nextChain(prev, 5, 1, raft.LogCommand, data),
		"other refusal":    nextChainOutcome(prev, 5, 1, raft.LogCommand, data, outcomeDigest(Outcome{}, invalid("x"))),
		"refused vs other": nextChainOutcome(prev, 5, 1, raft.LogCommand, data, outcomeDigest(Outcome{}, notFound("x"))),
	} {
		if other == applied {
			t.Errorf("%s: same link as the applied command", name)
		}
	}
	// A refusal's message is not folded, its code is.
	if outcomeDigest(Outcome{}, denied("a")) != outcomeDigest(Outcome{}, denied("b")) {
		t.Error("two refusals of one code in other words have different digests")
	}
}
