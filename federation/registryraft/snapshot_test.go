package registryraft_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/accordfed/accord/federation/raftnet/raftnettest"
)

// TestLaggingFollowerCatchesUpBySnapshot: a follower cut off while the
// leader writes, snapshots and compacts its log beyond what the follower
// has catches up by installing the (streamed) snapshot, and reads every
// write.
func TestLaggingFollowerCatchesUpBySnapshot(t *testing.T) {
	network := newNetwork(t)
	o := fastTimeouts()
	o.network, o.trailingLogs = network, 5
	c := startCluster(t, []string{"UA", "PL", "DE"}, o)
	leader := c.waitLeader(10 * time.Second)
	var lagging *testNode
	for _, tn := range c.nodes {
		if tn != leader {
			lagging = tn
		}
	}
	network.Isolate(lagging.name)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const writes = 50
	for i := range writes {
		if _, err := leader.node.Apply(ctx, entry(t, fmt.Sprintf("s-%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := leader.node.Raft().Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	t.Logf("leader snapshotted at %s; lagging follower applied %d",
		leader.node.Raft().Stats()["last_snapshot_index"], lagging.fsm.AppliedIndex())
	network.Heal()
	got := titles(t, lagging.node, true, "UA")
	for i := range writes {
		if got[fmt.Sprintf("s-%d", i)] != 1 {
			t.Fatalf("lagging follower misses s-%d after catching up: %v", i, got)
		}
	}
	// The follower never reached its own snapshot threshold: a snapshot
	// it holds was installed from the leader (raft records it just after
	// restoring the state machine).
	raftnettest.WaitFor(t, 30*time.Second, func() error {
		if idx := lagging.node.Raft().Stats()["last_snapshot_index"]; idx == "0" || idx == "" {
			return fmt.Errorf("lagging follower has no snapshot (last_snapshot_index %q)", idx)
		}
		return nil
	})
}
