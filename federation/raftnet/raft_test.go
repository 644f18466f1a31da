package raftnet_test

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/accordfed/accord/federation/raftnet"
	"github.com/accordfed/accord/federation/raftnet/raftnettest"
)

// TestThreeNodesReplicate: three real raft servers over mutual TLS on
// loopback elect a leader and replicate 100 commands to all of them.
func TestThreeNodesReplicate(t *testing.T) {
	logger := raftnettest.NewLogger(t, slog.LevelInfo)
	nodes := startCluster(t, logger, []string{"ua-1", "pl-1", "de-1"}, clusterOptions{
		heartbeat: 300 * time.Millisecond, election: 300 * time.Millisecond, lease: 150 * time.Millisecond,
	})
	leader := waitLeader(t, nodes, 10*time.Second)
	t.Logf("leader: %s", leader.name)
	for i := range 100 {
		if err := leader.raft.Apply(fmt.Appendf(nil, "cmd-%d", i), 5*time.Second).Error(); err != nil {
			t.Fatalf("apply %d: %v", i, err)
		}
	}
	waitApplied(t, nodes, 100, 10*time.Second)
	for _, n := range nodes {
		st := n.layer.Stats()
		if st.Refused != 0 || st.DialFailed != 0 {
			t.Errorf("%s: stats %+v: no connection should have been refused or failed", n.name, st)
		}
		if st.Accepted == 0 && st.Dialled == 0 {
			t.Errorf("%s: stats %+v: no connection at all", n.name, st)
		}
	}
}

// TestWideAreaLatency: with 50 ms of one-way latency on every link (a
// 100 ms round trip) and timeouts of ten round trips, the cluster elects
// once and serves writes without another election.
func TestWideAreaLatency(t *testing.T) {
	const latency = 50 * time.Millisecond
	const timeout = 20 * latency // 10x the round trip
	logger := raftnettest.NewLogger(t, slog.LevelInfo)
	network := raftnettest.NewNetwork()
	t.Cleanup(network.Close)
	network.SetLatency(latency)
	nodes := startCluster(t, logger, []string{"ua-1", "pl-1", "de-1"}, clusterOptions{
		network: network, heartbeat: timeout, election: timeout, lease: timeout,
	})

	start := time.Now()
	leader := waitLeader(t, nodes, 30*time.Second)
	term := leader.raft.CurrentTerm()
	t.Logf("leader %s elected in term %d after %s", leader.name, term, time.Since(start).Round(time.Millisecond))

	// Check that the latency is really there: one replicated write takes
	// at least a round trip.
	t0 := time.Now()
	if err := leader.raft.Apply([]byte("probe"), 10*time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	if rtt := time.Since(t0); rtt < 2*latency {
		t.Fatalf("a replicated write took %s, less than a round trip (%s): latency not injected", rtt, 2*latency)
	}

	const writes = 100
	t0 = time.Now()
	futures := make([]raft.ApplyFuture, writes)
	for i := range futures {
		futures[i] = leader.raft.Apply(fmt.Appendf(nil, "cmd-%d", i), 10*time.Second)
	}
	for i, f := range futures {
		if err := f.Error(); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	t.Logf("%d writes committed in %s", writes, time.Since(t0).Round(time.Millisecond))
	waitApplied(t, nodes, writes+1, 10*time.Second)

	for _, n := range nodes {
		if got := n.raft.CurrentTerm(); got != term {
			t.Errorf("%s is in term %d, want %d: an election happened during the writes", n.name, got, term)
		}
		seen := n.leader.seen()
		if len(seen) != 1 || seen[0] != raftnet.ServerID(leader.id) {
			t.Errorf("%s saw leaders %q, want exactly one (%s)", n.name, seen, leader.name)
		}
	}
}
