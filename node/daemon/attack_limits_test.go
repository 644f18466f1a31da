package daemon_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/accordfed/accord/federation/exchange"
	"github.com/accordfed/accord/federation/pki/pkitest"
	"github.com/accordfed/accord/federation/raftnet/raftnettest"
	"github.com/accordfed/accord/federation/registry"
	"github.com/accordfed/accord/node/audit"
	"github.com/accordfed/accord/node/config"
	"github.com/accordfed/accord/node/daemon/daemontest"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// limitsBatchBytes is the exchange.max_batch_bytes of the attacked node in
// the feed-flood test: small, so that a few hundred cases fill many
// responses.
const limitsBatchBytes = 16 << 10

// startLimitsFederation starts a federation whose nodes serve Sync
// responses of at most limitsBatchBytes.
func startLimitsFederation(t *testing.T, fed *pkitest.Federation, founders ...string) []*regNode {
	t.Helper()
	started, _ := daemontest.StartFederationConfigured(t, fed, nil, func(_ string, cfg *config.Config) {
		cfg.Exchange.MaxBatchBytes = limitsBatchBytes
	}, founders...)
	var nodes []*regNode
	for _, n := range started {
		nodes = append(nodes, &regNode{member: n.Member, cfg: n.Cfg, d: n.D,
			user:  coordClient(t, n.D, fed.User(n.Member, "analyst"), n.Member),
			admin: coordClient(t, n.D, fed.User(n.Member, "admin"), n.Member)})
	}
	return nodes
}

// createCases creates n federation cases at a node through its local API.
func createCases(t *testing.T, fed *pkitest.Federation, n *regNode, prefix string, count int) {
	t.Helper()
	cases := accordv1.NewCaseServiceClient(dialWith(t, n.d.LocalAddr(), honestCreds(t, fed.User(n.member, "analyst"), n.member)))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i := 1; i <= count; i++ {
		c := attackCaseOf(n.member, fmt.Sprintf("%s-%06d", prefix, i), fmt.Sprintf("Olha Testenko %d", i))
		if _, err := cases.CreateCase(ctx, &accordv1.CreateCaseRequest{Case: c}); err != nil {
			t.Fatal(err)
		}
	}
}

// servedEntries counts the audit entries of kind served for peer in a
// node's audit log.
func servedEntries(t *testing.T, n *regNode, peer string) int {
	t.Helper()
	count := 0
	if err := audit.Scan(filepath.Join(n.cfg.DataDir, audit.FileName), audit.Filter{Peer: peer, Kind: audit.KindServed}, func(audit.Entry) error {
		count++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return count
}

// countResponses pulls a feed from the start until caught up and returns
// how many responses and records it took.
func countResponses(t *testing.T, c accordv1.ExchangeServiceClient, maxBatch int32) (responses, records int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := c.Sync(ctx, &accordv1.SyncRequest{MaxBatch: maxBatch})
	if err != nil {
		t.Fatal(err)
	}
	for {
		resp, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return responses, records
		}
		if err != nil {
			t.Fatalf("Sync max_batch %d: %v", maxBatch, err)
		}
		responses++
		records += len(resp.GetRecords())
	}
}

// TestAttackFeedFlood is finding 8 of issue 13: PL's node opens many Sync
// streams on UA and reads none of them, and pulls UA's feed one record per
// response. UA must refuse streams beyond exchange.max_streams_per_peer
// (RESOURCE_EXHAUSTED, naming the setting), hold at most two bounded
// responses per open stream, serve a max_batch below the minimum as the
// minimum, and audit each stream once when it opens and once when it
// closes, not each batch.
func TestAttackFeedFlood(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA", "PL")
	nodes := startLimitsFederation(t, fed, "UA", "PL")
	ua, pl := nodes[0], nodes[1]
	const cases = 250
	createCases(t, fed, ua, "UA-2023", cases)
	raftnettest.WaitFor(t, 60*time.Second, func() error {
		counts, err := pl.d.Store().FedCounts()
		if err != nil {
			return err
		}
		if counts["UA"] != cases {
			return fmt.Errorf("PL holds %d of UA's %d records", counts["UA"], cases)
		}
		return nil
	})
	plEx := accordv1.NewExchangeServiceClient(dialWith(t, ua.d.Addr(), honestCreds(t, fed.Node("PL", "pl-1"), "UA")))

	// One record per response: served as exchange.MinBatch (or fewer, by
	// bytes) per response, exactly as a request for MinBatch is, and
	// audited once per stream.
	before := servedEntries(t, ua, "PL")
	small, got := countResponses(t, plEx, 1)
	if got != cases {
		t.Fatalf("max_batch 1 brought %d records, want %d", got, cases)
	}
	if n := servedEntries(t, ua, "PL") - before; n > 2 {
		t.Errorf("UA wrote %d audit entries for one Sync stream of %d responses; want 2 (opened, closed)", n, small)
	}
	minimum, _ := countResponses(t, plEx, exchange.MinBatch)
	if small != minimum {
		t.Errorf("max_batch 1 took %d responses, max_batch %d took %d: a request below the minimum must be served as the minimum", small, exchange.MinBatch, minimum)
	}

	// Unread follow streams: at most exchange.max_streams_per_peer (4) are
	// served at once, PL's own puller included; the others are refused.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const attempts = 12
	accepted, refused := 0, 0
	for i := range attempts {
		s, err := plEx.Sync(ctx, &accordv1.SyncRequest{Follow: true})
		if err == nil {
			_, err = s.Recv() // the first response; the rest is never read
		}
		switch {
		case err == nil:
			accepted++
		case status.Code(err) == codes.ResourceExhausted && strings.Contains(err.Error(), "exchange.max_streams_per_peer"):
			refused++
		default:
			t.Fatalf("stream %d: %v; want RESOURCE_EXHAUSTED naming exchange.max_streams_per_peer", i, err)
		}
	}
	if accepted > 4 || refused < attempts-4 {
		t.Errorf("UA accepted %d of %d unread streams of PL and refused %d; want at most 4 open per member", accepted, attempts, refused)
	}
	open := scrapeMetric(t, ua.d.MetricsAddr(), `accord_sync_streams_served{member="PL"}`)
	if open > 4 {
		t.Errorf("UA serves %v streams of PL", open)
	}
	if n := scrapeMetric(t, ua.d.MetricsAddr(), `accord_sync_streams_refused_total{member="PL"}`); n < float64(refused) {
		t.Errorf("accord_sync_streams_refused_total{member=PL} is %v; %d were refused", n, refused)
	}
	// What the unread streams hold stays bounded: two responses of at most
	// max_batch_bytes (plus one record) per open stream, however long PL
	// does not read.
	bound := 4 * 2 * (limitsBatchBytes + 4<<10)
	var peak float64
	for range 20 {
		peak = max(peak, scrapeMetric(t, ua.d.MetricsAddr(), "accord_sync_served_buffered_bytes"))
		// Give the streams' senders time to fill whatever they may.
		<-time.After(25 * time.Millisecond)
	}
	t.Logf("%d streams accepted, %d refused; UA holds at most %.0f bytes for them (bound %d)", accepted, refused, peak, bound)
	if peak == 0 || peak > float64(bound) {
		t.Errorf("UA holds %.0f bytes of responses for PL's unread streams; want some, and at most %d", peak, bound)
	}

	// UA still serves honest callers, and PL's puller gets new records.
	cancel()
	raftnettest.WaitFor(t, 10*time.Second, func() error {
		if n := scrapeMetric(t, ua.d.MetricsAddr(), `accord_sync_streams_served{member="PL"}`); n > 1 {
			return fmt.Errorf("UA still serves %v streams of PL", n)
		}
		return nil
	})
	createCases(t, fed, ua, "UA-2024", 1)
	raftnettest.WaitFor(t, 20*time.Second, func() error {
		counts, err := pl.d.Store().FedCounts()
		if err != nil {
			return err
		}
		if counts["UA"] != cases+1 {
			return fmt.Errorf("PL holds %d of UA's %d records", counts["UA"], cases+1)
		}
		return nil
	})
}

// followUntilCaughtUp opens a follow stream and reads it until it is caught
// up; the returned channel then yields the stream's next responses and its
// end (an error, io.EOF included).
func followUntilCaughtUp(ctx context.Context, t *testing.T, c accordv1.ExchangeServiceClient) (<-chan *accordv1.SyncResponse, <-chan error) {
	t.Helper()
	s, err := c.Sync(ctx, &accordv1.SyncRequest{Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	for {
		resp, err := s.Recv()
		if err != nil {
			t.Fatalf("follow stream: %v", err)
		}
		if resp.GetCaughtUp() {
			break
		}
	}
	out, end := make(chan *accordv1.SyncResponse, 16), make(chan error, 1)
	go func() {
		for {
			resp, err := s.Recv()
			if err != nil {
				end <- err
				return
			}
			out <- resp
		}
	}()
	return out, end
}

// waitCut waits until a follow stream ends with PermissionDenied, failing
// if it carries records first.
func waitCut(t *testing.T, what string, out <-chan *accordv1.SyncResponse, end <-chan error) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case resp := <-out:
			if len(resp.GetRecords()) > 0 {
				t.Fatalf("%s: the stream still carried %d records", what, len(resp.GetRecords()))
			}
		case err := <-end:
			if status.Code(err) != codes.PermissionDenied {
				t.Fatalf("%s: the stream ended with %v; want PermissionDenied", what, err)
			}
			t.Logf("%s: stream cut: %v", what, err)
			return
		case <-timeout:
			t.Fatalf("%s: the stream is still open 10 s later", what)
		}
	}
}

// TestAttackSuspendedMemberStreamCut is finding 11 of issue 13: a node
// removed from the registry, and a suspended member, keep no open feed
// stream: UA cuts it (PermissionDenied) as soon as its registry applies
// the change, before serving another record, and refuses new ones.
func TestAttackSuspendedMemberStreamCut(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA", "PL", "DE")
	nodes, _ := startFederation(t, fed, "UA", "PL", "DE")
	ua, pl, de := nodes[0], nodes[1], nodes[2]
	createCases(t, fed, ua, "UA-2023", 2)
	// UA publishes its cases again once PL's and DE's nodes have evaluated
	// its persons' pair tokens: wait for that, so that UA's feed is quiet
	// below.
	waitPairTokens(t, de, "UA", []string{"UA-2023-000001", "UA-2023-000002"}, "PL", "DE")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// PL registers a second node, which follows UA's feed; then PL removes
	// it from the registry.
	pl2 := fed.NodeURI("PL", "pl-2").String()
	mustExecute(t, pl.admin, "pl-2.register", registry.RegisterNode{Node: registry.NodeSpec{URI: pl2}})
	pl2Ex := accordv1.NewExchangeServiceClient(dialWith(t, ua.d.Addr(), honestCreds(t, fed.Node("PL", "pl-2"), "UA")))
	var out <-chan *accordv1.SyncResponse
	var end <-chan error
	raftnettest.WaitFor(t, 10*time.Second, func() error {
		// UA may not have applied the registration yet.
		s, err := pl2Ex.Sync(ctx, &accordv1.SyncRequest{})
		if err == nil {
			_, err = s.Recv()
		}
		return err
	})
	out, end = followUntilCaughtUp(ctx, t, pl2Ex)
	mustExecute(t, pl.admin, "pl-2.remove", registry.RemoveNode{URI: pl2})
	waitCut(t, "node pl-2 removed", out, end)
	if _, err := syncOnce(ctx, pl2Ex, "", 0); status.Code(err) != codes.PermissionDenied {
		t.Errorf("a new Sync of the removed node: %v; want PermissionDenied", err)
	}

	// PL's node follows UA's feed; UA and DE suspend PL; UA publishes a
	// new case at once.
	plEx := accordv1.NewExchangeServiceClient(dialWith(t, ua.d.Addr(), honestCreds(t, fed.Node("PL", "pl-1"), "UA")))
	out, end = followUntilCaughtUp(ctx, t, plEx)
	mustExecute(t, ua.admin, "suspend-pl.ua", registry.SuspendMember{Code: "PL", Reason: "test"})
	mustExecute(t, de.admin, "suspend-pl.de", registry.SuspendMember{Code: "PL", Reason: "test"})
	raftnettest.WaitFor(t, 10*time.Second, func() error {
		for _, m := range query[[]registry.Member](t, ua.user, "members", "") {
			if m.Code == "PL" && m.Status != registry.MemberSuspended {
				return fmt.Errorf("PL is %s", m.Status)
			}
		}
		return nil
	})
	createCases(t, fed, ua, "UA-2024", 1)
	waitCut(t, "member PL suspended", out, end)
	if _, err := syncOnce(ctx, plEx, "", 0); status.Code(err) != codes.PermissionDenied {
		t.Errorf("a new Sync of the suspended member: %v; want PermissionDenied", err)
	}
	if n := scrapeMetric(t, ua.d.MetricsAddr(), `accord_sync_streams_served{member="PL"}`); n != 0 {
		t.Errorf("UA still serves %v streams of PL", n)
	}
}

// importStream opens an ImportCases stream of UA's analyst and sends its
// options.
func importStream(ctx context.Context, t *testing.T, c accordv1.CaseServiceClient) accordv1.CaseService_ImportCasesClient {
	t.Helper()
	s, err := c.ImportCases(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// io.EOF: the node ended the stream already; Recv says why.
	if err := s.Send(&accordv1.ImportCasesRequest{Body: &accordv1.ImportCasesRequest_Options{Options: &accordv1.ImportOptions{Source: "attack"}}}); err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	return s
}

// importResult closes the sending side and reads the stream to its end.
func importResult(s accordv1.CaseService_ImportCasesClient) (*accordv1.ImportResult, error) {
	if err := s.CloseSend(); err != nil {
		return nil, err
	}
	var res *accordv1.ImportResult
	for {
		resp, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return res, nil
		}
		if err != nil {
			return nil, err
		}
		if r := resp.GetResult(); r != nil {
			res = r
		}
	}
}

// TestAttackImportMemory is finding 9 of issue 13: an analyst's client
// that does not keep accordctl's limits. UA refuses a line of more than 1
// MiB (InvalidArgument naming the line and the limit), runs at most
// local_api.max_concurrent_imports imports at once (RESOURCE_EXHAUSTED
// beyond), and holds at most local_api.import_buffer_bytes (16 MiB) of one
// import's input in memory, however many 1 MiB lines it is sent.
func TestAttackImportMemory(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA")
	ua := startLimitsFederation(t, fed, "UA")[0]
	cases := accordv1.NewCaseServiceClient(dialWith(t, ua.d.LocalAddr(), honestCreds(t, fed.User("UA", "analyst"), "UA")))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const maxLine = 1 << 20 // caseformat.MaxLineBytes

	// A line over the limit, not marked too_long.
	s := importStream(ctx, t, cases)
	if err := s.Send(&accordv1.ImportCasesRequest{Body: &accordv1.ImportCasesRequest_Chunk{Chunk: &accordv1.ImportChunk{Lines: []*accordv1.ImportLine{
		{Number: 1, Json: []byte(`{"case_id":"UA-1"}`)}, {Number: 2, Json: bytes.Repeat([]byte("x"), maxLine+1)},
	}}}}); err != nil {
		t.Fatal(err)
	}
	_, err := importResult(s)
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "line 2") || !strings.Contains(err.Error(), "1048576") {
		t.Errorf("a line of %d bytes: %v; want InvalidArgument naming line 2 and the limit (1048576 bytes)", maxLine+1, err)
	}

	// Concurrent imports: two run, the third is refused.
	held := []accordv1.CaseService_ImportCasesClient{importStream(ctx, t, cases), importStream(ctx, t, cases)}
	raftnettest.WaitFor(t, 10*time.Second, func() error {
		if n := scrapeMetric(t, ua.d.MetricsAddr(), "accord_import_running"); n != 2 {
			return fmt.Errorf("%v imports running, want 2", n)
		}
		return nil
	})
	_, err = importResult(importStream(ctx, t, cases))
	if status.Code(err) != codes.ResourceExhausted || !strings.Contains(err.Error(), "local_api.max_concurrent_imports") {
		t.Errorf("a third import: %v; want RESOURCE_EXHAUSTED naming local_api.max_concurrent_imports", err)
	}
	for _, s := range held {
		if _, err := importResult(s); err != nil {
			t.Fatal(err)
		}
	}

	// One import of 40 lines of 1 MiB each (invalid: not JSON).
	s = importStream(ctx, t, cases)
	const lines = 40
	line := bytes.Repeat([]byte("x"), maxLine)
	for n := int64(1); n <= lines; n += 3 {
		var chunk []*accordv1.ImportLine
		for i := n; i < n+3 && i <= lines; i++ {
			chunk = append(chunk, &accordv1.ImportLine{Number: i, Json: line})
		}
		if err := s.Send(&accordv1.ImportCasesRequest{Body: &accordv1.ImportCasesRequest_Chunk{Chunk: &accordv1.ImportChunk{Lines: chunk}}}); err != nil {
			t.Fatal(err)
		}
	}
	res, err := importResult(s)
	if err != nil {
		t.Fatal(err)
	}
	if res.GetInvalid() != lines {
		t.Errorf("%d of %d lines invalid", res.GetInvalid(), lines)
	}
	peak := scrapeMetric(t, ua.d.MetricsAddr(), "accord_import_buffered_bytes_max")
	t.Logf("an import of %d lines of 1 MiB held at most %.0f bytes of input", lines, peak)
	if peak == 0 || peak > 16<<20 {
		t.Errorf("the import held %.0f bytes of input at once; want some, and at most 16 MiB (local_api.import_buffer_bytes)", peak)
	}
	if n := scrapeMetric(t, ua.d.MetricsAddr(), "accord_import_buffered_bytes"); n != 0 {
		t.Errorf("imports that ended still hold %v bytes", n)
	}
}
