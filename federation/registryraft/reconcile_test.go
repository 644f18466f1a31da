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

// suffrages returns each server's suffrage in the leader's configuration.
func suffrages(t *testing.T, n *registryraft.Node) (map[raft.ServerID]string, error) {
	t.Helper()
	st, err := n.Status()
	if err != nil {
		return nil, err
	}
	out := map[raft.ServerID]string{}
	for _, s := range st.Servers {
		out[s.ID] = s.Suffrage
	}
	return out, nil
}

// TestManagedMembershipRemovesUnregisteredNode: a member removes its node
// from the registry; the leader removes it from the Raft group (handing
// over first when the removed node leads).
func TestManagedMembershipRemovesUnregisteredNode(t *testing.T) {
	o := fastTimeouts()
	o.manage = true
	c := startCluster(t, []string{"UA", "PL", "DE"}, o)
	leader := c.waitLeader(5 * time.Second)
	// The leader's own node leaves: the hardest case.
	gone := leader
	cmd, err := registry.NewCommand("remove-self", registry.RemoveNode{URI: gone.id.String()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := gone.node.Apply(ctx, cmd); err != nil {
		t.Fatal(err)
	}
	raftnettest.WaitFor(t, 15*time.Second, func() error {
		for _, tn := range c.nodes {
			if tn == gone || tn.node.Raft().State() != raft.Leader {
				continue
			}
			s, err := suffrages(t, tn.node)
			if err != nil {
				return err
			}
			if _, ok := s[gone.node.ID()]; ok || len(s) != 2 {
				return fmt.Errorf("configuration %v", s)
			}
			return nil
		}
		return fmt.Errorf("no leader among the remaining servers")
	})
	var rest *testNode
	for _, tn := range c.nodes {
		if tn != gone {
			rest = tn
		}
	}
	if _, err := rest.node.Apply(ctx, entry(t, "after-removal")); err != nil {
		t.Fatal(err)
	}
}
