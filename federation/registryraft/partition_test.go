package registryraft_test

import (
	"context"
	"testing"
	"time"

	"github.com/accordfed/accord/federation/registry"
)

// TestMinorityPartitionOfLeader: the leader is cut off from the others
// (Raft and gRPC). A write sent to it is never acknowledged and a
// linearizable read on it never answers, while the majority elects a new
// leader and takes writes; after healing every node reads the majority's
// writes.
func TestMinorityPartitionOfLeader(t *testing.T) {
	network := newNetwork(t)
	o := fastTimeouts()
	o.network, o.grpcThroughNetwork = network, true
	c := startCluster(t, []string{"UA", "PL", "DE"}, o)
	old := c.waitLeader(10 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := old.node.Apply(ctx, entry(t, "before")); err != nil {
		t.Fatal(err)
	}

	network.Isolate(old.name)
	minorityWrite := make(chan error, 1)
	go func() {
		wctx, wcancel := context.WithTimeout(ctx, 2*time.Second)
		defer wcancel()
		_, err := old.node.Apply(wctx, entry(t, "minority"))
		minorityWrite <- err
	}()
	leader := c.waitLeader(5*time.Second, old)
	t.Logf("majority elected %s", leader.name)
	if _, err := leader.node.Apply(ctx, entry(t, "majority")); err != nil {
		t.Fatal(err)
	}
	rctx, rcancel := context.WithTimeout(ctx, time.Second)
	defer rcancel()
	if _, err := old.node.Read(rctx, true, func(registry.View) {
		t.Error("a linearizable read ran on the cut-off old leader")
	}); err == nil {
		t.Error("linearizable read on the cut-off old leader succeeded")
	}
	if err := <-minorityWrite; err == nil {
		t.Error("a write on the cut-off old leader was acknowledged")
	} else {
		t.Logf("minority write: %v", err)
	}

	network.Heal()
	for _, tn := range c.nodes {
		got := titles(t, tn.node, true, "UA")
		if got["before"] != 1 || got["majority"] != 1 || got["minority"] > 1 {
			t.Errorf("%s reads %v after healing", tn.name, got)
		}
	}
}
