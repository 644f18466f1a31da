package exchange_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/accordfed/accord/federation/exchange"
	"github.com/accordfed/accord/federation/raftnet/raftnettest"
	"github.com/accordfed/accord/node/grpcserver"
	"github.com/accordfed/accord/node/store"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

func waitHeld(t *testing.T, f *federation, member, origin string, want int) {
	t.Helper()
	raftnettest.WaitFor(t, 30*time.Second, func() error {
		if n := len(f.held(member, origin)); n != want {
			return fmt.Errorf("%s holds %d records of %s, want %d", member, n, origin, want)
		}
		return nil
	})
}

// TestPropagationAndResume: records reach every peer; a peer that was
// down resumes from its cursor (no resync) and gets what it missed,
// tombstones included.
func TestPropagationAndResume(t *testing.T) {
	f := newFederation(t, "UA", "PL", "DE")
	for _, n := range f.nodes {
		n.start()
	}
	f.generate("UA", 300, 1)
	shared := f.nodes["UA"].mustCount(t)
	var ids []string
	for id := range shared {
		ids = append(ids, id)
	}
	waitHeld(t, f, "PL", "UA", len(shared))
	waitHeld(t, f, "DE", "UA", len(shared))

	pl := f.nodes["PL"]
	pl.stop()
	f.generate("UA", 100, 2)
	actor := store.Actor{ID: "spiffe://accord.test/member/UA/user/analyst"}
	for _, id := range ids[:10] {
		if _, err := f.nodes["UA"].st.DeleteCase(id, "test", actor); err != nil {
			t.Fatal(err)
		}
	}
	want := len(f.nodes["UA"].mustCount(t))
	waitHeld(t, f, "DE", "UA", want)

	receivedBefore, _ := pl.audit.count(exchange.Received, "UA")
	f.build(pl)
	pl.start()
	waitHeld(t, f, "PL", "UA", want)
	if n, _ := pl.audit.count(exchange.Resync, ""); n != 0 {
		t.Errorf("PL resynced %d times instead of resuming", n)
	}
	receivedAfter, _ := pl.audit.count(exchange.Received, "UA")
	if got := receivedAfter - receivedBefore; got > 200 {
		t.Errorf("PL received %d records on resuming; it missed about 110", got)
	}
	for _, id := range ids[:10] {
		if _, ok := f.held("PL", "UA")[id]; ok {
			t.Errorf("deleted case %s still held by PL", id)
		}
	}
}

// mustCount lists the member's own cases.
func (n *node) mustCount(t *testing.T) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	if err := n.st.ExportCases(store.Filter{}, func(c *accordv1.Case) error {
		if c.GetSensitivity() != accordv1.Sensitivity_SENSITIVITY_NATIONAL && c.GetSensitivity() != accordv1.Sensitivity_SENSITIVITY_JIT {
			out[c.GetCaseId()] = true
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// syncOnce pulls from a cursor without following and returns the records
// and the last cursor.
func syncOnce(t *testing.T, c accordv1.ExchangeServiceClient, cursor string) (int, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := c.Sync(ctx, &accordv1.SyncRequest{Cursor: cursor})
	if err != nil {
		return 0, "", err
	}
	n := 0
	for {
		r, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return n, cursor, nil
		}
		if err != nil {
			return n, cursor, err
		}
		n += len(r.GetRecords())
		cursor = r.GetCursor()
	}
}

// TestCursorRules: a cursor is bound to the member it was issued to,
// cannot be forged, and expires when older than the retained feed; a full
// resync then works.
func TestCursorRules(t *testing.T) {
	f := newFederation(t, "UA", "PL", "DE")
	f.generate("UA", 50, 1)
	f.publishAll("UA")
	// What a sync carries: shared records, and a tombstone meant for PL for
	// each jit case (PL is in no JIT).
	fi, err := f.nodes["UA"].st.Feed()
	if err != nil {
		t.Fatal(err)
	}
	shared := int(fi.Head)

	pl, de := f.client("PL", "UA"), f.client("DE", "UA")
	n, cur, err := syncOnce(t, pl, "")
	if err != nil || n != shared {
		t.Fatalf("first sync: %d records, %v", n, err)
	}
	if _, _, err := syncOnce(t, de, cur); status.Code(err) != codes.InvalidArgument {
		t.Errorf("DE with PL's cursor: %v", err)
	}
	forged := []byte(cur)
	forged[len(forged)/2] ^= 1
	if _, _, err := syncOnce(t, pl, string(forged)); status.Code(err) != codes.InvalidArgument {
		t.Errorf("forged cursor: %v", err)
	}
	if _, _, err := syncOnce(t, pl, "AAAA"); status.Code(err) != codes.InvalidArgument {
		t.Errorf("garbage cursor: %v", err)
	}
	if _, err := pl.Sync(context.Background(), &accordv1.SyncRequest{MaxBatch: 5000}); err == nil {
		s, _ := pl.Sync(context.Background(), &accordv1.SyncRequest{MaxBatch: 5000})
		if _, err := s.Recv(); status.Code(err) != codes.InvalidArgument {
			t.Errorf("max_batch 5000: %v", err)
		}
	}

	// Deleting cases makes tombstones; purging them raises the floor past
	// PL's cursor.
	actor := store.Actor{ID: "spiffe://accord.test/member/UA/user/analyst"}
	for _, id := range f.ids("UA")[:5] {
		if _, err := f.nodes["UA"].st.DeleteCase(id, "test", actor); err != nil {
			t.Fatal(err)
		}
	}
	head := f.publishAll("UA")
	if _, err := f.nodes["UA"].st.PurgeTombstones(head); err != nil {
		t.Fatal(err)
	}
	_, _, err = syncOnce(t, pl, cur)
	if status.Code(err) != codes.OutOfRange {
		t.Fatalf("cursor older than the retained feed: %v", err)
	}
	if n, _, err := syncOnce(t, pl, ""); err != nil || n != shared-5 {
		t.Fatalf("full resync: %d records, %v", n, err)
	}

	// The puller resyncs on its own.
	plNode := f.nodes["PL"]
	if _, _, err := plNode.st.FedApply("UA", cur, nil); err != nil {
		t.Fatal(err)
	}
	plNode.start()
	raftnettest.WaitFor(t, 20*time.Second, func() error {
		if n, _ := plNode.audit.count(exchange.Resync, "UA"); n == 0 {
			return fmt.Errorf("no resync yet")
		}
		return nil
	})
	waitHeld(t, f, "PL", "UA", len(f.nodes["UA"].mustCount(t)))

	// Every refusal is audited at UA.
	if n, _ := f.nodes["UA"].audit.count(exchange.Refused, ""); n < 4 {
		t.Errorf("UA audited %d refusals", n)
	}
}

// ids lists the member's case ids.
func (f *federation) ids(member string) []string {
	var out []string
	for id := range f.nodes[member].mustCount(f.t.(*testing.T)) {
		out = append(out, id)
	}
	return out
}

// TestJITVisibilityAtSource: a jit case goes only to members of a JIT that
// lists it; one that leaves loses it; others never see it.
func TestJITVisibilityAtSource(t *testing.T) {
	f := newFederation(t, "UA", "PL", "DE")
	ua := f.nodes["UA"]
	c := &accordv1.Case{CaseId: "UA-2022-900001", Country: "UA", Title: "Filtration", Sensitivity: accordv1.Sensitivity_SENSITIVITY_JIT,
		Incidents: []*accordv1.Incident{{Start: "2022-04-01T00:00:00Z", Place: "Mariupol"}}}
	fed := &accordv1.Case{CaseId: "UA-2022-900002", Country: "UA", Title: "Shelling", Sensitivity: accordv1.Sensitivity_SENSITIVITY_FEDERATION, Incidents: []*accordv1.Incident{{Start: "2022-04-01T00:00:00Z", Place: "Mariupol"}}}
	actor := store.Actor{ID: "spiffe://accord.test/member/UA/user/analyst"}
	for _, x := range []*accordv1.Case{c, fed} {
		if _, err := ua.st.CreateCase(x, actor); err != nil {
			t.Fatal(err)
		}
	}
	ua.dir.mu.Lock()
	ua.dir.jit[c.CaseId] = []string{"UA", "PL"}
	ua.dir.mu.Unlock()
	for _, n := range f.nodes {
		n.start()
	}
	waitHeld(t, f, "PL", "UA", 2)
	waitHeld(t, f, "DE", "UA", 1)
	if _, ok := f.held("DE", "UA")[c.CaseId]; ok {
		t.Fatal("DE holds the jit case")
	}

	// PL leaves the team: the case is republished, PL gets a tombstone.
	ua.dir.mu.Lock()
	ua.dir.jit[c.CaseId] = []string{"UA"}
	ua.dir.mu.Unlock()
	if err := ua.st.Requeue([]string{c.CaseId}, false); err != nil {
		t.Fatal(err)
	}
	waitHeld(t, f, "PL", "UA", 1)
}

// rogue serves crafted batches as if it were a member's node.
type rogue struct {
	accordv1.UnimplementedExchangeServiceServer
	batches []*accordv1.SyncResponse
}

func (r *rogue) Sync(_ *accordv1.SyncRequest, s accordv1.ExchangeService_SyncServer) error {
	for _, b := range r.batches {
		if err := s.Send(b); err != nil {
			return err
		}
	}
	<-s.Context().Done()
	return nil
}

// TestPullerRefusesForgedRecords: a peer serves records signed with the
// wrong key, claiming another origin, tampered, meant for another member,
// or older than what is held: each is refused (or skipped as stale) and
// audited; the good ones are stored.
func TestPullerRefusesForgedRecords(t *testing.T) {
	f := newFederation(t, "UA", "PL", "DE")
	de, ua := f.nodes["DE"], f.nodes["UA"]
	rec := func(origin, id string, seq uint64, recipient string) *accordv1.FeedRecord {
		return &accordv1.FeedRecord{Origin: origin, CaseId: id, Seq: seq, Recipient: recipient,
			Case: &accordv1.SharedCase{CaseId: id, Title: "t", Sensitivity: accordv1.Sensitivity_SENSITIVITY_FEDERATION}}
	}
	good, err := de.signer.SignBatch([]*accordv1.FeedRecord{rec("DE", "DE-1", 5, ""), rec("DE", "DE-2", 6, "")})
	if err != nil {
		t.Fatal(err)
	}
	older, _ := de.signer.SignBatch([]*accordv1.FeedRecord{rec("DE", "DE-1", 3, "")})
	forLT, _ := de.signer.SignBatch([]*accordv1.FeedRecord{rec("DE", "DE-3", 7, "LT")})
	tampered, _ := de.signer.SignBatch([]*accordv1.FeedRecord{rec("DE", "DE-4", 8, "")})
	tampered[0].Record[len(tampered[0].Record)-1] ^= 1
	// DE claims to relay UA's record, signed with its own key but naming
	// UA's key id.
	spoofed, _ := de.signer.SignBatch([]*accordv1.FeedRecord{rec("DE", "DE-5", 9, "")})
	spoofUA, _ := ua.signer.SignBatch([]*accordv1.FeedRecord{rec("UA", "UA-9", 1, "")})
	spoofUA[0].Signature = spoofed[0].Signature

	r := &rogue{batches: []*accordv1.SyncResponse{
		{Records: good, Cursor: "c1", Head: 9},
		{Records: append(append(append(older, forLT...), tampered...), spoofUA...), Cursor: "c2", Head: 9, CaughtUp: true},
	}}
	// The rogue answers at DE's address with DE's certificate.
	de.stop()
	var gcfg grpcserver.Config
	gcfg.Normalize()
	policy := grpcserver.NewPolicy()
	policy.Allow("/"+accordv1.ExchangeService_ServiceDesc.ServiceName+"/", grpcserver.AnyNode)
	srv := grpcserver.New(gcfg, de.src.ServerCredentials(), policy, nil, slog.New(slog.DiscardHandler))
	accordv1.RegisterExchangeServiceServer(srv.GRPC, r)
	ln := listenAt(t, de.addr)
	go func() { _ = srv.GRPC.Serve(ln) }()
	t.Cleanup(srv.GRPC.Stop)

	pl := f.nodes["PL"]
	pl.start()
	raftnettest.WaitFor(t, 20*time.Second, func() error {
		if n, _ := pl.audit.count(exchange.Refused, "DE"); n < 3 {
			return fmt.Errorf("%d refusals audited", n)
		}
		if held := f.held("PL", "DE"); len(held) != 2 || held["DE-1"] != 5 {
			return fmt.Errorf("PL holds %v, want DE-1 (seq 5) and DE-2", held)
		}
		return nil
	})
	if len(f.held("PL", "UA")) != 0 {
		t.Fatal("PL stored a record of UA that DE forged")
	}
	raftnettest.WaitFor(t, 10*time.Second, func() error {
		for _, s := range pl.puller.Status() {
			if s.Member == "DE" && (s.Refused != 3 || s.Stale != 1 || s.Received != 2) {
				return fmt.Errorf("status: received %d refused %d stale %d", s.Received, s.Refused, s.Stale)
			}
		}
		return nil
	})
	_, reasons := pl.audit.count(exchange.Refused, "DE")
	t.Logf("refusals: %v", reasons)
}

// TestPartitionAndDelay: a member cut off from the others falls behind and,
// once the partition heals, catches up from its cursor without a resync;
// a member behind a slow link (100 ms each way) still gets every change.
func TestPartitionAndDelay(t *testing.T) {
	network := raftnettest.NewNetwork()
	t.Cleanup(network.Close)
	f := newFederationOn(t, network, "UA", "PL", "DE")
	for _, n := range f.nodes {
		n.start()
	}
	ua := f.nodes["UA"]
	f.generate("UA", 100, 1)
	want := len(ua.mustCount(t))
	waitHeld(t, f, "PL", "UA", want)

	network.Isolate("PL")
	f.generate("UA", 100, 2)
	actor := store.Actor{ID: "spiffe://accord.test/member/UA/user/analyst"}
	gone := f.ids("UA")[:5]
	for _, id := range gone {
		if _, err := ua.st.DeleteCase(id, "test", actor); err != nil {
			t.Fatal(err)
		}
	}
	want = len(ua.mustCount(t))
	waitHeld(t, f, "DE", "UA", want)
	if n := len(f.held("PL", "UA")); n == want {
		t.Fatal("PL got the changes through the partition")
	}

	network.Heal()
	waitHeld(t, f, "PL", "UA", want)
	for _, id := range gone {
		if _, ok := f.held("PL", "UA")[id]; ok {
			t.Errorf("PL still holds deleted case %s", id)
		}
	}
	if n, _ := f.nodes["PL"].audit.count(exchange.Resync, ""); n != 0 {
		t.Errorf("PL resynced %d times after the partition instead of resuming", n)
	}

	// A slow link to DE: changes still arrive, in order.
	network.Link("UA", "DE").SetLatency(100 * time.Millisecond)
	f.generate("UA", 20, 3)
	want = len(ua.mustCount(t))
	waitHeld(t, f, "DE", "UA", want)
}

// TestOversizedAndMalformedRequests: requests beyond the limits are refused
// with the right code and change nothing.
func TestOversizedAndMalformedRequests(t *testing.T) {
	f := newFederation(t, "UA", "PL")
	f.generate("UA", 10, 1)
	f.publishAll("UA")
	c := f.client("PL", "UA")
	for _, tc := range []struct {
		name   string
		cursor string
		code   codes.Code
	}{
		{"cursor larger than the server takes", string(make([]byte, 5<<20)), codes.ResourceExhausted},
		{"long cursor", string(make([]byte, 200)), codes.InvalidArgument},
	} {
		_, _, err := syncOnce(t, c, tc.cursor)
		if status.Code(err) != tc.code {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.code)
		}
	}
	// The honest peer still syncs.
	if n, _, err := syncOnce(t, c, ""); err != nil || n == 0 {
		t.Fatalf("sync after refusals: %d, %v", n, err)
	}
}
