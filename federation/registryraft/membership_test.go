package registryraft_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/accordfed/accord/federation/raftnet/raftnettest"
	"github.com/accordfed/accord/federation/registryraft"
)

// suffrage returns each server's suffrage in n's status.
func suffrage(t *testing.T, n *registryraft.Node) map[raft.ServerID]string {
	t.Helper()
	st, err := n.Status()
	if err != nil {
		t.Fatal(err)
	}
	out := map[raft.ServerID]string{}
	for _, s := range st.Servers {
		out[s.ID] = s.Suffrage
	}
	return out
}

// TestMembershipKeepsMaxVoters: with MaxVoters 2, a third server joins as
// a non-voter, serves linearizable reads and forwards writes, and is
// promoted when a voter is removed.
func TestMembershipKeepsMaxVoters(t *testing.T) {
	o := fastTimeouts()
	o.founders, o.maxVoters = 2, 2
	c := startCluster(t, []string{"UA", "PL", "DE"}, o)
	joiner := c.nodes[2]
	leader := c.waitLeader(10*time.Second, joiner)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// A node outside the group knows no leader: a write waits, bounded by
	// its context.
	short, cancelShort := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancelShort()
	if _, err := joiner.node.Apply(short, entry(t, "not-yet")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("write through a node outside the group: err = %v, want DeadlineExceeded", err)
	}
	if _, err := leader.node.Apply(ctx, entry(t, "before-join")); err != nil {
		t.Fatal(err)
	}
	addr := raft.ServerAddress(joiner.raftLn.Addr().String())
	voter, err := leader.node.AddServer(ctx, joiner.node.ID(), addr)
	if err != nil {
		t.Fatal(err)
	}
	if voter {
		t.Fatal("third server joined as a voter with MaxVoters 2")
	}
	if got := suffrage(t, leader.node)[joiner.node.ID()]; got != raft.Nonvoter.String() {
		t.Fatalf("joiner is %s, want Nonvoter", got)
	}
	if _, err := joiner.node.Apply(ctx, entry(t, "through-nonvoter")); err != nil {
		t.Fatal(err)
	}
	got := titles(t, joiner.node, true, "UA")
	if got["before-join"] != 1 || got["through-nonvoter"] != 1 {
		t.Fatalf("non-voter's linearizable read: %v", got)
	}

	// Remove the voter that is not the leader: the non-voter is promoted.
	var other *testNode
	for _, tn := range c.nodes[:2] {
		if tn != leader {
			other = tn
		}
	}
	if err := leader.node.RemoveServer(ctx, other.node.ID()); err != nil {
		t.Fatal(err)
	}
	s := suffrage(t, leader.node)
	if _, ok := s[other.node.ID()]; ok {
		t.Errorf("removed server still in the configuration: %v", s)
	}
	if s[joiner.node.ID()] != raft.Voter.String() {
		t.Errorf("non-voter not promoted after a voter left: %v", s)
	}
	st, err := leader.node.Status()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("status: %+v", st)
	if st.LeaderID != leader.node.ID() || st.State != raft.Leader.String() || st.AppliedIndex == 0 {
		t.Errorf("status %+v", st)
	}

	// Membership changes are for the leader only.
	if _, err := joiner.node.AddServer(ctx, other.node.ID(), "127.0.0.1:1"); !errors.Is(err, registryraft.ErrNotLeader) {
		t.Errorf("AddServer on a follower: err = %v, want ErrNotLeader", err)
	}
}

// TestCloseTransfersLeadershipAndRestart: closing the leader hands its
// leadership over (a new leader at once, writes go on); the closed node
// restarts from its data directory, refuses to bootstrap again, and
// catches up.
func TestCloseTransfersLeadershipAndRestart(t *testing.T) {
	o := fastTimeouts()
	o.heartbeat, o.election = 2*time.Second, 2*time.Second // an election would take seconds
	c := startCluster(t, []string{"UA", "PL", "DE"}, o)
	old := c.waitLeader(30 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := old.node.Apply(ctx, entry(t, "a")); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	old.grpc.GRPC.Stop()
	if err := old.node.Close(); err != nil {
		t.Fatal(err)
	}
	leader := c.waitLeader(3*time.Second, old)
	took := time.Since(start)
	t.Logf("leadership passed to %s in %s", leader.name, took.Round(time.Millisecond))
	if took > 2*time.Second {
		t.Errorf("new leader after %s: no transfer, an election timeout passed", took)
	}
	if _, err := leader.node.Apply(ctx, entry(t, "b")); err != nil {
		t.Fatal(err)
	}

	// Restart from the same data directory and Raft address.
	old.raftLn = listenAt(t, old.raftLn.Addr().String())
	c.startNode(old, raftnettest.NewLogger(t, slog.LevelWarn), o)
	if err := old.node.Bootstrap(nil); !errors.Is(err, registryraft.ErrExistingState) {
		t.Fatalf("bootstrap on a restarted node: err = %v, want ErrExistingState", err)
	}
	raftnettest.WaitFor(t, 10*time.Second, func() error {
		got, err := readTitles(old.node, true, "UA")
		if err != nil {
			return err
		}
		if got["a"] != 1 || got["b"] != 1 {
			return fmt.Errorf("restarted node reads %v", got)
		}
		return nil
	})
}

// TestJoinThroughAFollower: a joining node that knows only a server that
// does not lead is told which server leads (the refusal's ErrorInfo) and
// asks it next: it joins without the leader among its seeds.
func TestJoinThroughAFollower(t *testing.T) {
	o := fastTimeouts()
	o.founders = 3
	c := startCluster(t, []string{"UA", "PL", "DE", "LT"}, o)
	joiner := c.nodes[3]
	leader := c.waitLeader(10*time.Second, joiner)
	var follower *testNode
	for _, tn := range c.nodes[:3] {
		if tn != leader {
			follower = tn
			break
		}
	}
	addr, _ := c.grpcAddress(follower.node.ID())
	grpcAddr, _ := c.grpcAddress(joiner.node.ID())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := joiner.node.Join(ctx, []registryraft.Seed{{ID: follower.id, GRPCAddress: addr}}, joiner.raftLn.Addr().String(), grpcAddr); err != nil {
		t.Fatalf("join through the follower %s (the leader is %s): %v", follower.name, leader.name, err)
	}
	raftnettest.WaitFor(t, 10*time.Second, func() error {
		cfg := leader.node.Raft().GetConfiguration()
		if err := cfg.Error(); err != nil {
			return err
		}
		for _, s := range cfg.Configuration().Servers {
			if s.ID == joiner.node.ID() {
				return nil
			}
		}
		return fmt.Errorf("%s is not in the leader's configuration", joiner.name)
	})
}
