package daemon_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/accordfed/accord/federation/pki/pkitest"
	"github.com/accordfed/accord/federation/raftnet/raftnettest"
	"github.com/accordfed/accord/federation/registry"
	"github.com/accordfed/accord/node/config"
	"github.com/accordfed/accord/node/daemon/daemontest"
)

// TestRegistryServersAllMoved: a federation of three registry servers is
// stopped, and every server starts again on new ports (registry.servers
// updated in every node's configuration, as when all servers move to new
// hosts, or a demo runs again on other ports). Raft's stored configuration
// still names the old addresses; the servers must find each other at the
// new ones, elect a leader and commit writes.
func TestRegistryServersAllMoved(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA", "PL", "DE")
	nodes, servers := startFederation(t, fed, "UA", "PL", "DE")
	mustExecute(t, nodes[0].user, "before-move", registry.CreateEntry{Kind: registry.KindTheme, Title: "before the move"})
	for _, n := range nodes {
		if err := n.d.Close(); err != nil {
			t.Fatal(err)
		}
	}

	addrs := daemontest.FreeAddrs(t, 2*len(servers))
	moved := make([]config.RegistryServerConfig, len(servers))
	for i, s := range servers {
		s.RaftAddress, s.Address = addrs[2*i], addrs[2*i+1]
		moved[i] = s
	}
	for i, n := range nodes {
		cfg := n.cfg
		cfg.Listen, cfg.Registry.RaftListen = moved[i].Address, moved[i].RaftAddress
		cfg.Registry.Advertise, cfg.Registry.RaftAdvertise = "", ""
		cfg.Registry.Servers = moved
		d, err := daemontest.Start(cfg, nil)
		if err != nil {
			t.Fatalf("restart %s at new addresses: %v", n.member, err)
		}
		n.cfg, n.d = cfg, d
		n.user = coordClient(t, d, fed.User(n.member, "analyst"), n.member)
	}

	// A leader is elected at the new addresses.
	var leader *regNode
	raftnettest.WaitFor(t, 30*time.Second, func() error {
		leader = nil
		for _, n := range nodes {
			if n.d.Registry().Raft().State() == raft.Leader {
				leader = n
			}
		}
		if leader == nil {
			return fmt.Errorf("no leader after every server moved")
		}
		return nil
	})
	// Writes commit, and every server applies them.
	mustExecute(t, leader.user, "after-move", registry.CreateEntry{Kind: registry.KindTheme, Title: "after the move"})
	for _, n := range nodes {
		waitCaughtUp(t, n, leader)
	}
	// Each server registers its new addresses, so that the registry, and
	// everything that reads it (forwarding, peers), follows the move.
	raftnettest.WaitFor(t, 30*time.Second, func() error {
		recs := map[string]registry.Node{}
		for _, m := range query[[]registry.Member](t, leader.user, "members", "") {
			for _, nd := range m.Nodes {
				recs[nd.URI] = nd
			}
		}
		for i, n := range nodes {
			node := recs[moved[i].Node]
			if node.Address != moved[i].RaftAddress || node.FederationAddress != moved[i].Address {
				return fmt.Errorf("%s's record: raft %s, federation %s; want %s, %s", n.member, node.Address, node.FederationAddress, moved[i].RaftAddress, moved[i].Address)
			}
		}
		return nil
	})
	// Writes through every server, followers included, commit.
	for i, n := range nodes {
		mustExecute(t, n.user, fmt.Sprintf("after-move-%d", i), registry.CreateEntry{Kind: registry.KindTheme, Title: "through " + n.member})
	}
}
