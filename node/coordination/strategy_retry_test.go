package coordination

import (
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/accordfed/accord/federation/identity"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// Two users update different fields of one strategy entry at the same
// time, without etags: both changes stay (finding 5), and the first
// client's retry is answered from the exactly-once table.
func TestUpdateStrategyEntryConcurrentMasksKeepBoth(t *testing.T) {
	l, nodes := newFSMLog(t, "UA", "PL")
	racing := &racingNode{fsmNode: nodes["UA"]}
	isAdmin := func(id identity.Identity) bool { return id.Name == "admin" }
	a := New(racing, "UA", isAdmin, nil)
	b := New(nodes["UA"], "UA", isAdmin, nil)
	ctx := as("UA", "analyst")
	created, err := a.CreateStrategyEntry(ctx, &accordv1.CreateStrategyEntryRequest{RequestId: "c-1",
		StrategyEntry: &accordv1.StrategyEntry{Kind: accordv1.StrategyEntryKind_STRATEGY_ENTRY_KIND_PRIORITY, Title: "First title", Text: "First text"}})
	if err != nil {
		t.Fatal(err)
	}
	name := created.GetStrategyEntry().GetName()
	racing.race(func() {
		if _, err := b.UpdateStrategyEntry(ctx, &accordv1.UpdateStrategyEntryRequest{RequestId: "b-1",
			StrategyEntry: &accordv1.StrategyEntry{Name: name, Text: "B's text"},
			UpdateMask:    &fieldmaskpb.FieldMask{Paths: []string{"text"}}}); err != nil {
			t.Errorf("the other update: %v", err)
		}
	})
	req := &accordv1.UpdateStrategyEntryRequest{RequestId: "a-1",
		StrategyEntry: &accordv1.StrategyEntry{Name: name, Title: "A's title"},
		UpdateMask:    &fieldmaskpb.FieldMask{Paths: []string{"title"}}}
	up, err := a.UpdateStrategyEntry(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	e := up.GetStrategyEntry()
	if e.GetTitle() != "A's title" || e.GetText() != "B's text" || e.GetVersion() != 3 {
		t.Fatalf("lost update: %v", e)
	}
	at := l.lastIndex()
	again, err := a.UpdateStrategyEntry(ctx, req)
	if err != nil || again.GetStrategyEntry().GetVersion() != 3 || l.lastIndex() != at {
		t.Fatalf("retry: %v %v (log %d -> %d)", again, err, at, l.lastIndex())
	}
	// With the etag of version 1: Aborted, naming it.
	req.RequestId, req.StrategyEntry.Etag = "a-2", `"1"`
	_, err = a.UpdateStrategyEntry(ctx, req)
	wantCode(t, "stale etag", err, codes.Aborted, "strategy_entry.etag")
}
