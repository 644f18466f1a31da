package registryraft_test

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// TestWideAreaLatency: with 50 ms of one-way latency on every Raft link (a
// 100 ms round trip) and timeouts of ten round trips, the registry elects
// once and serves writes through every node without another election.
func TestWideAreaLatency(t *testing.T) {
	if testing.Short() {
		t.Skip("wide-area timeouts take seconds")
	}
	const latency = 50 * time.Millisecond
	network := newNetwork(t)
	network.SetLatency(latency)
	o := clusterOptions{heartbeat: 20 * latency, election: 20 * latency, lease: 20 * latency, commit: 10 * time.Millisecond, network: network}
	c := startCluster(t, []string{"UA", "PL", "DE"}, o)
	leader := c.waitLeader(30 * time.Second)
	term := leader.node.Raft().CurrentTerm()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := time.Now()
	const rounds = 10
	for i := range rounds {
		for _, tn := range c.nodes {
			if _, err := tn.node.Apply(ctx, entry(t, fmt.Sprintf("%s-%d", tn.name, i))); err != nil {
				t.Fatalf("write through %s: %v", tn.name, err)
			}
		}
	}
	t.Logf("%d writes in %s", rounds*len(c.nodes), time.Since(start).Round(time.Millisecond))
	for _, tn := range c.nodes {
		if got := len(titles(t, tn.node, true, "UA")); got != rounds*len(c.nodes) {
			t.Errorf("%s reads %d entries, want %d", tn.name, got, rounds*len(c.nodes))
		}
		if got := tn.node.Raft().CurrentTerm(); got != term {
			t.Errorf("%s is in term %d, want %d: an election happened during the writes", tn.name, got, term)
		}
	}
}
