package registryraft_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/accordfed/accord/federation/raftnet/raftnettest"
	"github.com/accordfed/accord/federation/registry"
	"github.com/accordfed/accord/federation/registryraft"
)

// logVersions returns the registry command version of every command entry
// of a node's log from index from on.
func logVersions(t *testing.T, tn *testNode, store registryraft.Store, from uint64) map[int]int {
	t.Helper()
	last, err := store.LastIndex()
	if err != nil {
		t.Fatal(err)
	}
	got := map[int]int{}
	for i := from; i <= last; i++ {
		var l raft.Log
		if err := store.GetLog(i, &l); err != nil || l.Type != raft.LogCommand {
			continue
		}
		c, err := registry.DecodeCommand(l.Data)
		if err != nil {
			t.Fatalf("%s: entry %d: %v", tn.name, i, err)
		}
		got[c.Version]++
	}
	return got
}

// TestCommandVersionSwitch: servers write command version 2 until every
// server of the group has said (ServerStatus) that it applies version 3,
// then version 3, through the leader and through followers alike; a
// server that has not answered yet keeps the group at version 2.
func TestCommandVersionSwitch(t *testing.T) {
	stores := map[string]registryraft.Store{}
	o := fastTimeouts()
	o.wrapStore = func(name string) func(registryraft.Store) registryraft.Store {
		return func(s registryraft.Store) registryraft.Store {
			stores[name] = s
			return s
		}
	}
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
	if got := logVersions(t, c.nodes[0], stores[c.nodes[0].name], start); got[registry.CommandVersion] != 0 {
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
		if got := logVersions(t, c.nodes[0], stores[c.nodes[0].name], start); got[registry.LegacyCommandVersion] != 0 || got[registry.CommandVersion] < 3 {
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
