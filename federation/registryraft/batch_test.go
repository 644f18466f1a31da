package registryraft_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/accordfed/accord/federation/raftnet/raftnettest"
	"github.com/accordfed/accord/federation/registry"
	"github.com/accordfed/accord/federation/registryraft"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// countingService is a node's RegistryService that counts the forwarded
// writes it receives. With earlier set it answers SubmitBatch as a server
// of the build before SubmitBatch does (Unimplemented).
type countingService struct {
	*registryraft.Service
	earlier bool

	submits      atomic.Int64 // Submit calls
	batchCalls   atomic.Int64 // SubmitBatch calls
	batched      atomic.Int64 // commands in SubmitBatch calls
	largestBatch atomic.Int64
}

func (s *countingService) Submit(ctx context.Context, req *accordv1.SubmitRequest) (*accordv1.SubmitResponse, error) {
	s.submits.Add(1)
	return s.Service.Submit(ctx, req)
}

func (s *countingService) SubmitBatch(ctx context.Context, req *accordv1.SubmitBatchRequest) (*accordv1.SubmitBatchResponse, error) {
	s.batchCalls.Add(1)
	if s.earlier {
		return nil, status.Error(codes.Unimplemented, "method SubmitBatch not implemented")
	}
	n := int64(len(req.GetCommands()))
	s.batched.Add(n)
	for {
		m := s.largestBatch.Load()
		if n <= m || s.largestBatch.CompareAndSwap(m, n) {
			break
		}
	}
	return s.Service.SubmitBatch(ctx, req)
}

// countingCluster starts a three-node cluster whose nodes serve counting
// services, returned by node name.
func countingCluster(t *testing.T, earlier bool) (*cluster, map[string]*countingService) {
	t.Helper()
	var mu sync.Mutex
	svcs := map[string]*countingService{}
	o := fastTimeouts()
	o.wrapService = func(name string, svc *registryraft.Service) accordv1.RegistryServiceServer {
		mu.Lock()
		defer mu.Unlock()
		s := &countingService{Service: svc, earlier: earlier}
		svcs[name] = s
		return s
	}
	c := startCluster(t, []string{"UA", "PL", "DE"}, o)
	return c, svcs
}

// followersOf returns the nodes of c other than leader.
func followersOf(c *cluster, leader *testNode) []*testNode {
	var out []*testNode
	for _, tn := range c.nodes {
		if tn != leader {
			out = append(out, tn)
		}
	}
	return out
}

// entriesByTitle reads the federation-wide strategy entries (linearizably,
// on n): how often each title occurs, and the id of each.
func entriesByTitle(t *testing.T, n *registryraft.Node) (count map[string]int, ids map[string]string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	count, ids = map[string]int{}, map[string]string{}
	if _, err := n.Read(ctx, true, func(v registry.View) {
		entries, err := v.ListStrategy("UA", registry.StrategyFilter{})
		if err != nil {
			t.Error(err)
		}
		for _, e := range entries {
			count[e.Current.Title]++
			ids[e.Current.Title] = e.ID
		}
	}); err != nil {
		t.Fatal(err)
	}
	return count, ids
}

// TestForwardedWritesInBatches: many concurrent writes through a follower
// travel to the leader in batches (SubmitBatch calls of several commands,
// no Submit), each is applied once, and each caller gets its own outcome:
// the id of its own entry, or the refusal of its own invalid command,
// which does not fail the commands batched with it.
func TestForwardedWritesInBatches(t *testing.T) {
	c, svcs := countingCluster(t, false)
	leader := c.waitLeader(10 * time.Second)
	follower := followersOf(c, leader)[0]
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	const writes = 240
	type result struct {
		out registry.Outcome
		err error
	}
	results := make([]result, writes)
	var wg sync.WaitGroup
	for i := range writes {
		wg.Go(func() {
			rid := fmt.Sprintf("w-%03d", i)
			cmd := entry(t, rid)
			if i%10 == 7 {
				// Valid, but refused by the state machine.
				var err error
				if cmd, err = registry.NewCommand(rid, registry.DeleteEntry{Entry: "se-missing-" + rid}); err != nil {
					t.Error(err)
					return
				}
			}
			out, err := follower.node.Apply(ctx, cmd)
			results[i] = result{out, err}
		})
	}
	wg.Wait()

	count, ids := entriesByTitle(t, follower.node)
	seen := map[string]string{}
	for i, r := range results {
		rid := fmt.Sprintf("w-%03d", i)
		if i%10 == 7 {
			if !errors.Is(r.err, registry.ErrNotFound) || !strings.Contains(r.err.Error(), "se-missing-"+rid) {
				t.Errorf("%s (deletes a missing entry): err = %v, want ErrNotFound naming the entry", rid, r.err)
			}
			if count[rid] != 0 {
				t.Errorf("%s (refused) applied %d times", rid, count[rid])
			}
			continue
		}
		if r.err != nil {
			t.Errorf("%s: %v", rid, r.err)
			continue
		}
		if count[rid] != 1 {
			t.Errorf("%s applied %d times, want once", rid, count[rid])
		}
		if r.out.ID == "" || r.out.ID != ids[rid] {
			t.Errorf("%s: outcome id %q, but its entry is %q", rid, r.out.ID, ids[rid])
		}
		if other, dup := seen[r.out.ID]; dup {
			t.Errorf("%s and %s were both answered with entry %s", rid, other, r.out.ID)
		}
		seen[r.out.ID] = rid
	}
	if len(count) != writes-writes/10 {
		t.Errorf("%d entries, want %d", len(count), writes-writes/10)
	}
	ls := svcs[leader.name]
	t.Logf("leader: %d SubmitBatch calls with %d commands (largest %d), %d Submit calls",
		ls.batchCalls.Load(), ls.batched.Load(), ls.largestBatch.Load(), ls.submits.Load())
	if ls.submits.Load() != 0 {
		t.Errorf("%d writes forwarded alone (Submit) to a leader that takes batches", ls.submits.Load())
	}
	// (The registry's founding command may have been forwarded too.)
	if ls.batched.Load() < writes || ls.largestBatch.Load() < 2 || ls.batchCalls.Load() >= writes {
		t.Errorf("leader got %d commands in %d SubmitBatch calls (largest %d): want all %d, batched",
			ls.batched.Load(), ls.batchCalls.Load(), ls.largestBatch.Load(), writes)
	}
}

// batchClient is a RegistryService client of the leader with the node
// certificate of from, as forwarding uses.
func batchClient(t *testing.T, c *cluster, leader, from *testNode) accordv1.RegistryServiceClient {
	t.Helper()
	addr, _ := c.grpcAddress(leader.node.ID())
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(from.src.ClientCredentials(exactly(leader.id))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return accordv1.NewRegistryServiceClient(cc)
}

// signedBy encodes cmd signed by the node signer of c.
func signedBy(t *testing.T, c *cluster, signer *testNode, cmd *registry.Command) []byte {
	t.Helper()
	// Version 2, which a group applies before and after every server has
	// reported version 3 (a leader refuses version 3 before: versions.go).
	cmd.Version = registry.LegacyCommandVersion
	signAs(t, c.fed, signer.id, cmd, signer.fsm.AppliedIndex())
	data, err := cmd.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestSubmitBatchChecksEachCommand: the leader answers each command of a
// batch on its own. An invalid command is refused alone; a command another
// node signed, which the caller tries to slip in, is refused alone
// (PermissionDenied) and not applied; a second copy of a request is
// answered with the first's result and not applied again; the others are
// applied. A call without commands, or with too many, is refused naming
// the field.
func TestSubmitBatchChecksEachCommand(t *testing.T) {
	c := startCluster(t, []string{"UA", "PL", "DE"}, fastTimeouts())
	leader := c.waitLeader(10 * time.Second)
	fs := followersOf(c, leader)
	caller, other := fs[0], fs[1]
	client := batchClient(t, c, leader, caller)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	missing, err := registry.NewCommand("b-missing", registry.DeleteEntry{Entry: "se-missing"})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.SubmitBatch(ctx, &accordv1.SubmitBatchRequest{Commands: [][]byte{
		signedBy(t, c, caller, entry(t, "b-1")),
		[]byte("not a command"),
		signedBy(t, c, caller, entry(t, "b-2")),
		signedBy(t, c, other, entry(t, "b-foreign")), // signed by another node
		signedBy(t, c, caller, entry(t, "b-1")),      // the same request again
		signedBy(t, c, caller, missing),              // refused by the state machine
	}})
	if err != nil {
		t.Fatalf("SubmitBatch: %v", err)
	}
	res := resp.GetResults()
	if len(res) != 6 {
		t.Fatalf("%d results for 6 commands", len(res))
	}
	want := []codes.Code{codes.OK, codes.InvalidArgument, codes.OK, codes.PermissionDenied, codes.OK, codes.NotFound}
	for i, r := range res {
		if got := codes.Code(r.GetCode()); got != want[i] {
			t.Errorf("commands[%d]: code %s (%q), want %s", i, got, r.GetMessage(), want[i])
		}
	}
	if !strings.Contains(res[1].GetMessage(), "command") {
		t.Errorf("refusal of the undecodable command: %q", res[1].GetMessage())
	}
	if !strings.Contains(res[5].GetMessage(), "se-missing") {
		t.Errorf("refusal of the deletion of a missing entry: %q does not name it", res[5].GetMessage())
	}
	if !strings.Contains(res[3].GetMessage(), registryraft.ErrForeignCommand.Error()) || !strings.Contains(res[3].GetMessage(), other.id.String()) {
		t.Errorf("refusal of the foreign command: %q", res[3].GetMessage())
	}
	if res[0].GetResponse().GetId() == "" || res[4].GetResponse().GetId() != res[0].GetResponse().GetId() {
		t.Errorf("repeated request answered with entry %q, the first with %q", res[4].GetResponse().GetId(), res[0].GetResponse().GetId())
	}
	count, ids := entriesByTitle(t, caller.node)
	for title, n := range map[string]int{"b-1": 1, "b-2": 1, "b-foreign": 0} {
		if count[title] != n {
			t.Errorf("%s applied %d times, want %d", title, count[title], n)
		}
	}
	if ids["b-1"] != res[0].GetResponse().GetId() || ids["b-2"] != res[2].GetResponse().GetId() {
		t.Errorf("outcomes %q, %q; entries %q, %q", res[0].GetResponse().GetId(), res[2].GetResponse().GetId(), ids["b-1"], ids["b-2"])
	}

	for name, cmds := range map[string][][]byte{
		"empty":    nil,
		"too many": make([][]byte, registryraft.MaxBatchCommands+1),
	} {
		_, err := client.SubmitBatch(ctx, &accordv1.SubmitBatchRequest{Commands: cmds})
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), "commands") {
			t.Errorf("%s batch: %v, want InvalidArgument naming commands", name, err)
		}
	}
}

// TestBatchedWritesAcrossLeaderChange: while clients write through a
// follower without pause, the leadership moves to the other follower.
// Batches in flight to the old leader are abandoned or refused and their
// commands tried again, with the same request ids, against the new one:
// every write succeeds and is applied exactly once.
func TestBatchedWritesAcrossLeaderChange(t *testing.T) {
	c, svcs := countingCluster(t, false)
	leader := c.waitLeader(10 * time.Second)
	fs := followersOf(c, leader)
	via, next := fs[0], fs[1]
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	const clients, each = 32, 12
	var (
		wg   sync.WaitGroup
		done atomic.Int64
		mu   sync.Mutex
		outs = map[string]registry.Outcome{}
	)
	for k := range clients {
		wg.Go(func() {
			for i := range each {
				rid := fmt.Sprintf("c%02d-%02d", k, i)
				out, err := via.node.Apply(ctx, entry(t, rid))
				if err != nil {
					t.Errorf("%s: %v", rid, err)
					return
				}
				mu.Lock()
				outs[rid] = out
				mu.Unlock()
				done.Add(1)
			}
		})
	}
	// Move the leadership once batches flow, with writes in flight.
	raftnettest.WaitFor(t, 30*time.Second, func() error {
		if n := svcs[leader.name].batchCalls.Load(); n < 3 {
			return fmt.Errorf("%d batches so far", n)
		}
		return nil
	})
	inFlightAtChange := clients*each - int(done.Load())
	// A transfer times out when the target does not catch up within an
	// election timeout (a loaded machine): ask again until the leader
	// has changed.
	raftnettest.WaitFor(t, 30*time.Second, func() error {
		if leader.node.Raft().State() != raft.Leader {
			return nil
		}
		return leader.node.Raft().LeadershipTransferToServer(next.node.ID(), raft.ServerAddress(next.raftLn.Addr().String())).Error()
	})
	wg.Wait()
	// (Under load the group may elect once more after the transfer.)
	t.Logf("%d writes not finished at the leader change; old leader: %d batches, %s: %d batches, %s: %d batches",
		inFlightAtChange, svcs[leader.name].batchCalls.Load(), next.name, svcs[next.name].batchCalls.Load(), via.name, svcs[via.name].batchCalls.Load())
	if inFlightAtChange == 0 {
		t.Fatal("every write had finished before the leader changed: the test proved nothing")
	}
	if svcs[next.name].batched.Load() == 0 && svcs[via.name].batched.Load() == 0 {
		t.Error("no batch reached a leader after the change")
	}

	count, ids := entriesByTitle(t, via.node)
	for k := range clients {
		for i := range each {
			rid := fmt.Sprintf("c%02d-%02d", k, i)
			if count[rid] != 1 {
				t.Errorf("%s applied %d times, want once", rid, count[rid])
			}
			if out, ok := outs[rid]; ok && out.ID != ids[rid] {
				t.Errorf("%s: outcome id %q, entry %q", rid, out.ID, ids[rid])
			}
		}
	}
	if len(count) != clients*each {
		t.Errorf("%d entries, want %d", len(count), clients*each)
	}
}

// TestForwardingFallsBackToSubmit: against servers of the build before
// SubmitBatch (which answer it Unimplemented), a follower forwards one
// command per Submit call, remembers that the leader does not take
// batches, and every write is applied once.
func TestForwardingFallsBackToSubmit(t *testing.T) {
	c, svcs := countingCluster(t, true)
	leader := c.waitLeader(10 * time.Second)
	follower := followersOf(c, leader)[0]
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	const writes = 60
	ids := make([]string, writes)
	var wg sync.WaitGroup
	for i := range writes {
		wg.Go(func() {
			rid := fmt.Sprintf("f-%02d", i)
			out, err := follower.node.Apply(ctx, entry(t, rid))
			if err != nil {
				t.Errorf("%s: %v", rid, err)
				return
			}
			ids[i] = out.ID
		})
	}
	wg.Wait()
	// Then one more, after the leader is known not to take batches.
	if _, err := follower.node.Apply(ctx, entry(t, "f-last")); err != nil {
		t.Fatalf("f-last: %v", err)
	}
	ls := svcs[leader.name]
	t.Logf("leader: %d SubmitBatch calls refused, %d Submit calls", ls.batchCalls.Load(), ls.submits.Load())
	// At most one call per call slot learns it; later writes go alone.
	if n := ls.batchCalls.Load(); n < 1 || n > 2 {
		t.Errorf("%d SubmitBatch calls to a leader without it, want 1 or 2", n)
	}
	if n := ls.submits.Load(); n < writes+1 {
		t.Errorf("%d Submit calls for %d writes", n, writes+1)
	}
	count, entryIDs := entriesByTitle(t, follower.node)
	for i := range writes {
		rid := fmt.Sprintf("f-%02d", i)
		if count[rid] != 1 || entryIDs[rid] != ids[i] {
			t.Errorf("%s applied %d times (entry %q, outcome %q)", rid, count[rid], entryIDs[rid], ids[i])
		}
	}
}
