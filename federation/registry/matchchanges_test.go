package registry

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"testing"
)

// changedSince reads every decision viewer sees changed after index, limit
// at a time, and returns their ids in order and the index to go on from.
func changedSince(t *testing.T, f *FSM, viewer string, after uint64, limit int) ([]string, uint64) {
	t.Helper()
	var ids []string
	for {
		var got []MatchDecision
		var next uint64
		var err error
		f.Read(func(v View) { got, next, err = v.MatchDecisionsChangedSince(viewer, after, limit) })
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range got {
			ids = append(ids, d.ID)
		}
		if limit <= 0 || len(got) < limit {
			return ids, next
		}
		after = next
	}
}

func TestMatchDecisionsChangedSince(t *testing.T) {
	h := bootstrapped(t, Policy{}, "UA", "PL", "DE")
	var ids []string
	for i := range 5 {
		ids = append(ids, h.ok("UA", ProposeMatch{Cases: []CaseRef{cref("UA", fmt.Sprint(i)), cref("PL", fmt.Sprint(i))}, Score: 0.9}).ID)
	}
	de := h.ok("DE", ProposeMatch{Cases: []CaseRef{cref("UA", "9"), cref("DE", "9")}, Score: 0.9}).ID
	start := h.f.AppliedIndex()

	for _, limit := range []int{0, 1, 2, 100} {
		got, _ := changedSince(t, h.f, "PL", 0, limit)
		if !slices.Equal(got, ids) {
			t.Errorf("PL, limit %d: %v, want %v", limit, got, ids)
		}
	}
	if got, _ := changedSince(t, h.f, "DE", 0, 1); !slices.Equal(got, []string{de}) {
		t.Errorf("DE sees %v, want only %s", got, de)
	}
	if got, next := changedSince(t, h.f, "PL", start, 0); len(got) != 0 || next != start {
		t.Errorf("nothing changed since %d: %v, next %d", start, got, next)
	}

	// Answers move a decision to the end, once.
	h.ok("PL", DecideMatch{Match: ids[1], Confirm: true})
	h.ok("UA", DecideMatch{Match: ids[3], Confirm: true})
	h.ok("UA", DecideMatch{Match: ids[1], Confirm: true})
	got, next := changedSince(t, h.f, "PL", start, 1)
	if want := []string{ids[3], ids[1]}; !slices.Equal(got, want) {
		t.Errorf("changed since %d: %v, want %v", start, got, want)
	}
	if next != h.f.AppliedIndex() {
		t.Errorf("next %d, want the last change %d", next, h.f.AppliedIndex())
	}
	all, _ := changedSince(t, h.f, "PL", 0, 0)
	if want := []string{ids[0], ids[2], ids[4], ids[3], ids[1]}; !slices.Equal(all, want) {
		t.Errorf("all: %v, want %v", all, want)
	}

	// A restored replica derives the same order.
	restored := newHarness(t)
	if err := restored.f.Restore(io.NopCloser(bytes.NewReader(snapshotBytes(t, h.f)))); err != nil {
		t.Fatal(err)
	}
	if got, _ := changedSince(t, restored.f, "PL", 0, 2); !slices.Equal(got, all) {
		t.Errorf("after restore: %v, want %v", got, all)
	}
	restored.f.Read(func(v View) {
		if _, _, err := v.MatchDecisionsChangedSince("XX", 0, 0); err == nil {
			t.Error("a viewer that is not a member reads changes")
		}
	})
}

func TestMatchChangesCompact(t *testing.T) {
	var c matchChanges
	m := map[string]*MatchDecision{}
	put := func(id string, index uint64) {
		_, replaced := m[id]
		m[id] = &MatchDecision{ID: id, Updated: Change{Index: index}}
		c.put(index, id, replaced)
		c.compact(func(e matchChange) bool { return m[e.id].Updated.Index == e.index })
	}
	index := uint64(0)
	for i := range 10 {
		index++
		put(fmt.Sprint("match-", i), index)
	}
	for range 5000 {
		index++
		put("match-3", index)
	}
	if len(c.entries) > 10+2*1024+1 {
		t.Errorf("%d entries for 10 decisions: not compacted", len(c.entries))
	}
	live := 0
	for _, e := range c.entries {
		if m[e.id].Updated.Index == e.index {
			live++
		}
	}
	if live != 10 || !slices.IsSortedFunc(c.entries, func(a, b matchChange) int { return int(a.index) - int(b.index) }) {
		t.Errorf("%d live entries (want 10), sorted %v", live, slices.IsSortedFunc(c.entries, func(a, b matchChange) int { return int(a.index) - int(b.index) }))
	}
	// One command that changes a decision twice leaves one entry.
	n := len(c.entries)
	c.put(index, "match-3", true)
	if len(c.entries) != n {
		t.Error("a second change at one index added an entry")
	}
}
