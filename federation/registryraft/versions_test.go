package registryraft_test

import (
	"context"
	"crypto/tls"
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

// keepStores makes o record each node's log store, by node name.
func keepStores(o *clusterOptions) map[string]registryraft.Store {
	stores := map[string]registryraft.Store{}
	o.wrapStore = func(name string) func(registryraft.Store) registryraft.Store {
		return func(s registryraft.Store) registryraft.Store {
			stores[name] = s
			return s
		}
	}
	return stores
}

// logCommands decodes every command entry of a log store from index from
// on and hands it to fn.
func logCommands(t *testing.T, store registryraft.Store, from uint64, fn func(*registry.Command)) {
	t.Helper()
	last, err := store.LastIndex()
	if err != nil {
		t.Fatal(err)
	}
	for i := from; i <= last; i++ {
		var l raft.Log
		if err := store.GetLog(i, &l); err != nil || l.Type != raft.LogCommand {
			continue
		}
		c, err := registry.DecodeCommand(l.Data)
		if err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		fn(c)
	}
}

// logVersions returns the registry command version of every command entry
// of a node's log from index from on.
func logVersions(t *testing.T, store registryraft.Store, from uint64) map[int]int {
	t.Helper()
	got := map[int]int{}
	logCommands(t, store, from, func(c *registry.Command) { got[c.Version]++ })
	return got
}

// TestCommandVersionSwitch: servers write command version 2 until every
// server of the group has said (ServerStatus) that it applies version 3,
// then version 3, through the leader and through followers alike; a
// server that has not answered yet keeps the group at version 2.
func TestCommandVersionSwitch(t *testing.T) {
	o := fastTimeouts()
	o.manualVersions = true
	stores := keepStores(&o)
	c := startCluster(t, []string{"UA", "PL", "DE"}, o)
	c.waitLeader(10 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, tn := range c.nodes {
		if v := tn.node.WriteVersion(); v != registry.LegacyCommandVersion {
			t.Fatalf("%s writes version %d before it knows the others' builds", tn.name, v)
		}
	}
	start := c.nodes[0].node.Raft().LastIndex() + 1
	for _, tn := range c.nodes {
		if _, err := tn.node.Apply(ctx, entry(t, "before-"+tn.name)); err != nil {
			t.Fatal(err)
		}
	}
	if got := logVersions(t, stores[c.nodes[0].name], start); got[registry.CommandVersion] != 0 {
		t.Fatalf("versions before the status round: %v", got)
	}

	// Every server asks the others (as the background check does).
	for _, tn := range c.nodes {
		st, err := tn.node.GroupStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range st.Servers {
			if s.CommandVersion != registry.CommandVersion {
				t.Fatalf("%s: server %s reports version %d", tn.name, s.ID, s.CommandVersion)
			}
		}
		if v := tn.node.WriteVersion(); v != registry.CommandVersion {
			t.Fatalf("%s writes version %d after every server said it applies %d", tn.name, v, registry.CommandVersion)
		}
	}
	start = c.nodes[0].node.Raft().LastIndex() + 1
	for _, tn := range c.nodes {
		if _, err := tn.node.Apply(ctx, entry(t, "after-"+tn.name)); err != nil {
			t.Fatal(err)
		}
	}
	// Node 0 may be a follower that has not stored the last entries yet.
	raftnettest.WaitFor(t, 10*time.Second, func() error {
		if got := logVersions(t, stores[c.nodes[0].name], start); got[registry.LegacyCommandVersion] != 0 || got[registry.CommandVersion] < 3 {
			return fmt.Errorf("versions after the status round: %v", got)
		}
		return nil
	})
	// Every server applied both kinds alike.
	for _, tn := range c.nodes {
		got := titles(t, tn.node, true, "UA")
		for _, want := range []string{"before-ua-1", "before-pl-1", "after-ua-1", "after-de-1"} {
			if got[want] != 1 {
				t.Fatalf("%s: titles %v", tn.name, got)
			}
		}
	}
}

// TestVersion3RefusedWhileGroupWritesVersion2: a leader whose switch says
// that the group writes version 2 refuses a version 3 command submitted to
// it (a dishonest member's node writing version 3 early: a server of the
// previous build would refuse the entry and silently keep another state),
// and appends nothing. An honest node whose own switch is ahead of the
// leader's (it has heard from every server, the leader not yet) has its
// command refused so too, and tries it again in version 2.
func TestVersion3RefusedWhileGroupWritesVersion2(t *testing.T) {
	o := fastTimeouts()
	o.manualVersions = true
	stores := keepStores(&o)
	c := startCluster(t, []string{"UA", "PL", "DE"}, o)
	leader := c.waitLeader(10 * time.Second)
	var follower *testNode
	for _, tn := range c.nodes {
		if tn != leader {
			follower = tn
			break
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if v := leader.node.WriteVersion(); v != registry.LegacyCommandVersion {
		t.Fatalf("the leader writes version %d before it knows the others' builds", v)
	}
	start := leader.node.Raft().LastIndex() + 1

	// The follower's node sends a version 3 command of its own straight to
	// the leader's Submit.
	addr, _ := c.grpcAddress(leader.node.ID())
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(follower.src.ClientCredentials(exactly(leader.id))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	cmd := entry(t, "early-v3")
	if cmd.Version != registry.CommandVersion {
		t.Fatalf("command version %d", cmd.Version)
	}
	signAs(t, c.fed, follower.id, cmd, follower.fsm.AppliedIndex())
	data, err := cmd.Encode()
	if err != nil {
		t.Fatal(err)
	}
	_, err = accordv1.NewRegistryServiceClient(cc).Submit(ctx, &accordv1.SubmitRequest{Command: data})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "command version 3 is not yet written by this group") ||
		!strings.Contains(err.Error(), "still report version 2") {
		t.Fatalf("Submit of a version 3 command while the group writes version 2: %v, want FailedPrecondition", err)
	}
	for _, tn := range c.nodes {
		if s := tn.id.String(); tn != leader && !strings.Contains(err.Error(), s) {
			t.Errorf("the refusal %q does not name %s", err, s)
		}
	}

	// The follower hears from every server and switches; the leader has
	// not. The follower's writes still go through, in version 2.
	if _, err := follower.node.GroupStatus(ctx); err != nil {
		t.Fatal(err)
	}
	if v := follower.node.WriteVersion(); v != registry.CommandVersion {
		t.Fatalf("the follower writes version %d after every server said it applies %d", v, registry.CommandVersion)
	}
	if v := leader.node.WriteVersion(); v != registry.LegacyCommandVersion {
		t.Fatalf("the leader writes version %d without having asked", v)
	}
	if _, err := follower.node.Apply(ctx, entry(t, "ahead")); err != nil {
		t.Fatalf("a write of a node whose switch is ahead of the leader's: %v", err)
	}
	if got := logVersions(t, stores[leader.name], start); got[registry.CommandVersion] != 0 || got[registry.LegacyCommandVersion] != 1 {
		t.Fatalf("versions in the leader's log after the refusal: %v", got)
	}
	got := titles(t, leader.node, true, "UA")
	if got["early-v3"] != 0 || got["ahead"] != 1 {
		t.Fatalf("titles: %v", got)
	}
}

// reportingService is a node's RegistryService whose ServerStatus says
// that it does not check batch signatures while earlier is set (a server
// of an earlier build).
type reportingService struct {
	*registryraft.Service
	earlier atomic.Bool
}

func (s *reportingService) ServerStatus(ctx context.Context, req *accordv1.ServerStatusRequest) (*accordv1.ServerStatusResponse, error) {
	resp, err := s.Service.ServerStatus(ctx, req)
	if err == nil && s.earlier.Load() {
		resp.BatchSignatures = false
	}
	return resp, err
}

// logBatches counts the command entries of a node's log from index from
// on that were signed in a batch, and those signed alone.
func logBatches(t *testing.T, store registryraft.Store, from uint64) (batched, alone int) {
	t.Helper()
	logCommands(t, store, from, func(c *registry.Command) {
		if c.Batch != nil {
			batched++
		} else if c.Type != registry.CmdNoop {
			alone++
		}
	})
	return batched, alone
}

// TestBatchSignatureSwitch: a follower signs the writes it forwards in
// batches only once every server has said that it checks batch
// signatures. While one server (of an earlier build) has not, every
// command is signed alone, and the leader refuses a batch-signed command
// sent to it (nothing is appended); a follower whose view is ahead of the
// leader's has its batch refused and signs each command again alone. Once
// every server reports it, forwarded writes are signed in batches, and
// every server applies them, each once.
func TestBatchSignatureSwitch(t *testing.T) {
	svcs := map[string]*reportingService{}
	o := fastTimeouts()
	o.manualVersions = true
	stores := keepStores(&o)
	o.wrapService = func(name string, svc *registryraft.Service) accordv1.RegistryServiceServer {
		rs := &reportingService{Service: svc}
		rs.earlier.Store(true)
		svcs[name] = rs
		return rs
	}
	c := startCluster(t, []string{"UA", "PL", "DE"}, o)
	leader := c.waitLeader(10 * time.Second)
	follower := followersOf(c, leader)[0]
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	round := func(nodes ...*testNode) {
		t.Helper()
		for _, tn := range nodes {
			if _, err := tn.node.GroupStatus(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	writes := func(prefix string, n int) {
		t.Helper()
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				if _, err := follower.node.Apply(ctx, entry(t, fmt.Sprintf("%s-%02d", prefix, i))); err != nil {
					t.Errorf("%s-%02d: %v", prefix, i, err)
				}
			})
		}
		wg.Wait()
	}

	// Every server applies version 3; none says it checks batches.
	round(c.nodes...)
	for _, tn := range c.nodes {
		if tn.node.WriteVersion() != registry.CommandVersion || tn.node.SignsBatches() {
			t.Fatalf("%s: writes version %d, signs batches %v; want 3, false", tn.name, tn.node.WriteVersion(), tn.node.SignsBatches())
		}
	}
	start := leader.node.Raft().LastIndex() + 1
	writes("earlier", 40)
	if b, a := logBatches(t, stores[leader.name], start); b != 0 || a != 40 {
		t.Fatalf("while a server does not check batch signatures: %d batch-signed and %d lone entries, want 0 and 40", b, a)
	}

	// A batch-signed command sent straight to the leader is refused.
	two := []*registry.Command{entry(t, "slipped-0"), entry(t, "slipped-1")}
	for _, cmd := range two {
		cmd.Member, cmd.Actor = follower.id.Member, registry.Actor{Node: follower.id.String()}
	}
	cfg := c.fed.Node(follower.id.Member, follower.id.Name)
	cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := registry.SignBatch(two, &cert, follower.fsm.AppliedIndex(), time.Now()); err != nil {
		t.Fatal(err)
	}
	req := &accordv1.SubmitBatchRequest{}
	for _, cmd := range two {
		data, err := cmd.Encode()
		if err != nil {
			t.Fatal(err)
		}
		req.Commands = append(req.Commands, data)
	}
	resp, err := batchClient(t, c, leader, follower).SubmitBatch(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range resp.GetResults() {
		if codes.Code(r.GetCode()) != codes.FailedPrecondition || !strings.Contains(r.GetMessage(), "batch-signed commands are not yet written") {
			t.Fatalf("batch-signed command %d while a server does not check them: %v %q, want FailedPrecondition", i, codes.Code(r.GetCode()), r.GetMessage())
		}
	}

	// Every server now reports batch signatures; only the follower has
	// heard: its batches are refused, and it signs each command alone.
	for _, s := range svcs {
		s.earlier.Store(false)
	}
	round(follower)
	if !follower.node.SignsBatches() || leader.node.SignsBatches() {
		t.Fatalf("follower signs batches %v, leader %v; want true, false", follower.node.SignsBatches(), leader.node.SignsBatches())
	}
	start = leader.node.Raft().LastIndex() + 1
	writes("ahead", 40)
	if b, a := logBatches(t, stores[leader.name], start); b != 0 || a != 40 {
		t.Fatalf("while the leader has not heard: %d batch-signed and %d lone entries, want 0 and 40", b, a)
	}

	// The leader hears too: forwarded writes are signed in batches.
	round(c.nodes...)
	start = leader.node.Raft().LastIndex() + 1
	writes("batched", 120)
	if b, a := logBatches(t, stores[leader.name], start); b < 2 || b+a != 120 {
		t.Fatalf("once every server checks batch signatures: %d batch-signed and %d lone entries, want most of 120 batch-signed", b, a)
	}
	for _, tn := range c.nodes {
		raftnettest.WaitFor(t, 10*time.Second, func() error {
			got, err := readTitles(tn.node, true, "UA")
			if err != nil {
				return err
			}
			for _, prefix := range []string{"earlier", "ahead", "batched"} {
				n := map[string]int{"earlier": 40, "ahead": 40, "batched": 120}[prefix]
				for i := range n {
					if k := fmt.Sprintf("%s-%02d", prefix, i); got[k] != 1 {
						return fmt.Errorf("%s: %s applied %d times", tn.name, k, got[k])
					}
				}
			}
			if got["slipped-0"]+got["slipped-1"] != 0 {
				return fmt.Errorf("%s: the refused batch was applied", tn.name)
			}
			return nil
		})
	}
}
