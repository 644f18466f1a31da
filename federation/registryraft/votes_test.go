package registryraft_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/accordfed/accord/federation/mtls"
	"github.com/accordfed/accord/federation/raftnet"
	"github.com/accordfed/accord/federation/raftnet/raftnettest"
	"github.com/accordfed/accord/federation/registry"
)

// addServer starts another registry server, node name of member, and has
// the member's node by register it in the registry; the leader then adds
// it to the Raft group.
func (c *cluster) addServer(member, name string, by *testNode, o clusterOptions) *testNode {
	t := c.t
	t.Helper()
	logger := raftnettest.NewLogger(t, slog.LevelWarn).With("node", name)
	src, err := mtls.NewSource(c.fed.Node(member, name), mtls.Hooks{}, logger, nil)
	if err != nil {
		t.Fatal(err)
	}
	tn := &testNode{name: name, member: member, id: src.Identity(), src: src, raftLn: listen(t), dataDir: t.TempDir()}
	c.mu.Lock()
	c.nodes = append(c.nodes, tn)
	c.mu.Unlock()
	c.startNode(tn, logger, o)
	cmd, err := registry.NewCommand("register-"+name, registry.RegisterNode{Node: registry.NodeSpec{
		URI: tn.id.String(), RegistryServer: true, Address: tn.raftLn.Addr().String(),
	}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := by.node.Apply(ctx, cmd); err != nil {
		t.Fatalf("%s registers %s: %v", by.name, name, err)
	}
	return tn
}

// votesByMember counts the voters of each member in the leader's
// configuration.
func votesByMember(t *testing.T, leader *testNode) map[string]int {
	t.Helper()
	out := map[string]int{}
	for id, s := range suffrage(t, leader.node) {
		if s != raft.Voter.String() {
			continue
		}
		ident, err := raftnet.ParseServerID(id)
		if err != nil {
			t.Fatal(err)
		}
		out[ident.Member]++
	}
	return out
}

// holdsFor checks f every 50 ms for d and fails at its first error.
func holdsFor(t *testing.T, d time.Duration, f func() error) {
	t.Helper()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for end := time.Now().Add(d); time.Now().Before(end); <-tick.C {
		if err := f(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestLostVoterNotGivenToAnotherMember is the review's attack: PL runs a
// spare registry server; when another member's voter is lost, PL's spare
// must not take its vote. Four members vote (max_voters 5): PL's spare
// joins as a non-voter although a vote is free, since PL votes already.
// Then another member's server stops answering. With four voters the lost
// one is demoted (three voters tolerate a failure, four with one lost do
// not), but its vote goes to no one: PL keeps one vote, and writes go on.
func TestLostVoterNotGivenToAnotherMember(t *testing.T) {
	o := fastTimeouts()
	o.maxVoters, o.manage, o.deadServer = 5, true, 2*time.Second
	c := startCluster(t, []string{"UA", "PL", "DE", "LT"}, o)
	leader := c.waitLeader(10 * time.Second)
	var pl, victim *testNode
	for _, tn := range c.nodes {
		switch {
		case tn.member == "PL":
			pl = tn
		case tn != leader && victim == nil:
			victim = tn
		}
	}
	if victim == pl || victim == nil {
		t.Fatal("no victim")
	}
	spare := c.addServer("PL", "pl-2", pl, o)
	raftnettest.WaitFor(t, 10*time.Second, func() error {
		s := suffrage(t, c.waitLeader(5*time.Second).node)
		if s[spare.node.ID()] != raft.Nonvoter.String() {
			return fmt.Errorf("PL's spare is %q, want a non-voter", s[spare.node.ID()])
		}
		return nil
	})

	c.kill(victim)
	raftnettest.WaitFor(t, 20*time.Second, func() error {
		l := c.waitLeader(5*time.Second, victim)
		s := suffrage(t, l.node)
		if s[victim.node.ID()] != raft.Nonvoter.String() {
			return fmt.Errorf("the lost voter %s is %q", victim.name, s[victim.node.ID()])
		}
		return nil
	})
	// For several more rounds of the leader's reconciliation, PL holds one
	// vote and no other member gets the lost one.
	holdsFor(t, 3*time.Second, func() error {
		l := c.waitLeader(5*time.Second, victim)
		votes := votesByMember(t, l)
		if votes["PL"] != 1 || len(votes) != 3 {
			return fmt.Errorf("votes by member %v: want one each for the three that answer", votes)
		}
		return nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := spare.node.Apply(ctx, entry(t, "after-loss")); err != nil {
		t.Fatal(err)
	}
	waitTitle(t, spare.node, "after-loss")
}

// TestLostVoterReplacedBySameMember: a member's voter that stops answering
// for longer than the dead-server timeout hands its vote to another server
// of the same member, and writes go on.
func TestLostVoterReplacedBySameMember(t *testing.T) {
	o := fastTimeouts()
	o.maxVoters, o.manage, o.deadServer = 3, true, 2*time.Second
	c := startCluster(t, []string{"UA", "PL", "DE"}, o)
	leader := c.waitLeader(10 * time.Second)
	var victim *testNode
	for _, tn := range c.nodes {
		if tn != leader {
			victim = tn
			break
		}
	}
	spare := c.addServer(victim.member, strings.ToLower(victim.member)+"-2", victim, o)
	raftnettest.WaitFor(t, 10*time.Second, func() error {
		s := suffrage(t, c.waitLeader(5*time.Second).node)
		if s[spare.node.ID()] != raft.Nonvoter.String() {
			return fmt.Errorf("%s is %q, want a non-voter (its member votes)", spare.name, s[spare.node.ID()])
		}
		return nil
	})

	killed := time.Now()
	c.kill(victim)
	raftnettest.WaitFor(t, 20*time.Second, func() error {
		l := c.waitLeader(5*time.Second, victim)
		s := suffrage(t, l.node)
		if s[spare.node.ID()] != raft.Voter.String() || s[victim.node.ID()] != raft.Nonvoter.String() {
			return fmt.Errorf("%s is %q, the lost voter %q", spare.name, s[spare.node.ID()], s[victim.node.ID()])
		}
		if votes := votesByMember(t, l); votes[victim.member] != 1 || len(votes) != 3 {
			return fmt.Errorf("votes by member %v", votes)
		}
		return nil
	})
	if took := time.Since(killed); took < o.deadServer {
		t.Errorf("the voter was replaced after %s, before the dead-server timeout %s", took, o.deadServer)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := spare.node.Apply(ctx, entry(t, "after-replacement")); err != nil {
		t.Fatal(err)
	}
	waitTitle(t, spare.node, "after-replacement")
}
