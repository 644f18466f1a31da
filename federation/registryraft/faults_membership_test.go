package registryraft_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/accordfed/accord/federation/raftnet/raftnettest"
	"github.com/accordfed/accord/federation/registry"
	"github.com/accordfed/accord/federation/registryraft"
)

// Membership faults under the checked workload: members added, promoted
// and removed (the leader included), a server that comes back with the
// same identity at a new address, and leadership transfers.

// onLeader runs f on the leader among nodes, trying again (for up to 30 s)
// while leadership moves under it.
func onLeader(w *workload, step string, nodes []*testNode, f func(l *testNode) error) *testNode {
	w.t.Helper()
	var (
		on    *testNode
		final error
	)
	err := poll(30*time.Second, func() error {
		var l *testNode
		for _, tn := range nodes {
			if tn.node.Raft().State() == raft.Leader {
				l = tn
			}
		}
		if l == nil {
			return errors.New("no leader")
		}
		on = l
		err := f(l)
		if err != nil && !errors.Is(err, registryraft.ErrNotLeader) {
			final = err // not to be tried again
			return nil
		}
		return err
	})
	if final != nil {
		err = final
	}
	if err != nil {
		w.halt()
		w.t.Fatalf("%s: %s: %v", w.name, step, err)
	}
	return on
}

// configuration returns the suffrage of each server in tn's latest
// configuration.
func configuration(t *testing.T, tn *testNode) map[raft.ServerID]string {
	t.Helper()
	return suffrage(t, tn.node)
}

// TestFaultMembershipUnderLoad: a group of n voters (MaxVoters n) and two
// spare nodes. In rounds, under the clients' load: a spare is added (as a
// non-voter, the voters being full); a follower voter is removed, and the
// non-voter is promoted in its place; the removed node is added back (a
// non-voter); the leader removes itself, and the next leader promotes a
// non-voter. Clients stop using a node before it leaves and start once it
// is in. At the end every server agrees on the configuration, nothing
// acknowledged is lost and the history is linearizable.
func TestFaultMembershipUnderLoad(t *testing.T) {
	forSizes(t, func(t *testing.T, n int) {
		o := faultTimeouts()
		o.founders, o.maxVoters = n, n
		network := newNetwork(t)
		o.network, o.grpcThroughNetwork = network, true
		c := startCluster(t, faultMembers(n+2), o)
		c.waitLeader(30*time.Second, c.nodes[n:]...)
		members := slices.Clone(c.nodes[:n])
		spares := slices.Clone(c.nodes[n:])
		w := startWorkload(t, "membership", c, members, workloadOptions{strict: true})
		w.progress("before any change", 0, 20, 30*time.Second)

		add := func(tn *testNode, wantVoter bool) {
			step := "add " + tn.name
			onLeader(w, step, members, func(l *testNode) error {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				voter, err := l.node.AddServer(ctx, tn.node.ID(), raft.ServerAddress(tn.raftLn.Addr().String()))
				if err == nil && voter != wantVoter {
					return fmt.Errorf("%s added as voter=%v, want %v", tn.name, voter, wantVoter)
				}
				return err
			})
			members = append(members, tn)
			spares = slices.DeleteFunc(spares, func(x *testNode) bool { return x == tn })
			w.addNode(tn)
			w.faults.Add(1)
			w.progress(step, w.acks.Load(), 20, 30*time.Second)
		}
		remove := func(tn *testNode) *testNode {
			step := "remove " + tn.name
			w.pool.retire(tn)
			on := onLeader(w, step, members, func(l *testNode) error {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				return l.node.RemoveServer(ctx, tn.node.ID())
			})
			members = slices.DeleteFunc(members, func(x *testNode) bool { return x == tn })
			spares = append(spares, tn)
			w.faults.Add(1)
			waitLeaderAmong(w, step, members, 30*time.Second)
			w.progress(step, w.acks.Load(), 20, 30*time.Second)
			return on
		}
		voterCount := func() (voters int, nonvoter *testNode) {
			l := waitLeaderAmong(w, "count voters", members, 30*time.Second)
			cfg := configuration(t, l)
			for _, tn := range members {
				switch cfg[tn.node.ID()] {
				case raft.Voter.String():
					voters++
				case raft.Nonvoter.String():
					nonvoter = tn
				}
			}
			return voters, nonvoter
		}

		deadline := time.Now().Add(soak(t, 2*time.Second))
		for round := 0; round < 1 || time.Now().Before(deadline); round++ {
			// A spare joins as a non-voter: the voters are full.
			add(spares[0], false)

			// A follower voter leaves; the non-voter takes its vote.
			leader := waitLeaderAmong(w, "before removing a follower", members, 30*time.Second)
			_, nonvoter := voterCount()
			var follower *testNode
			cfg := configuration(t, leader)
			for _, tn := range members {
				if tn != leader && cfg[tn.node.ID()] == raft.Voter.String() {
					follower = tn
					break
				}
			}
			remove(follower)
			if v, nv := voterCount(); v != n || nv != nil {
				w.halt()
				t.Fatalf("round %d: after %s left: %d voters (non-voter %v), want %d voters: %s not promoted", round, follower.name, v, nv, n, nonvoter.name)
			}

			// It comes back as a non-voter.
			add(follower, false)

			// The leader removes itself; the next leader promotes the
			// non-voter.
			leader = waitLeaderAmong(w, "before removing the leader", members, 30*time.Second)
			if on := remove(leader); on != leader {
				t.Logf("round %d: %s was removed by %s: leadership had moved", round, leader.name, on.name)
			}
			if v, nv := voterCount(); v < n && nv != nil {
				onLeader(w, "promote "+nv.name, members, func(l *testNode) error {
					ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
					defer cancel()
					return l.node.AddVoter(ctx, nv.node.ID(), raft.ServerAddress(nv.raftLn.Addr().String()), 0)
				})
				w.faults.Add(1)
				w.progress("promote "+nv.name, w.acks.Load(), 20, 30*time.Second)
			}
			if v, nv := voterCount(); v != n || nv != nil {
				w.halt()
				t.Fatalf("round %d: %d voters (non-voter %v), want %d", round, v, nv, n)
			}
		}

		// Every server agrees on the configuration: the members, all voters.
		want := map[raft.ServerID]string{}
		for _, tn := range members {
			want[tn.node.ID()] = raft.Voter.String()
		}
		raftnettest.WaitFor(t, 30*time.Second, func() error {
			for _, tn := range members {
				if got := configuration(t, tn); !maps.Equal(got, want) {
					return fmt.Errorf("%s: configuration %v, want %v", tn.name, got, want)
				}
			}
			return nil
		})
		w.finish(members)
	})
}

// restartAt stops tn (as a crash would, without handing over leadership)
// and starts it again from its data directory with the same identity,
// at a new Raft and gRPC address. It returns the new node; c.nodes holds
// it in tn's place.
func restartAt(t *testing.T, c *cluster, tn *testNode, o clusterOptions) *testNode {
	t.Helper()
	c.kill(tn)
	moved := &testNode{name: tn.name, member: tn.member, id: tn.id, src: tn.src, dataDir: tn.dataDir, raftLn: listen(t)}
	if o.network != nil {
		o.network.Register(moved.name, moved.raftLn.Addr().String())
	}
	c.startNode(moved, raftnettest.NewLogger(t, slog.LevelWarn).With("node", moved.name), o)
	for i, x := range c.nodes {
		if x == tn {
			c.nodes[i] = moved
		}
	}
	return moved
}

// TestFaultSameIDNewAddress: in rounds, a server (a follower, then the
// leader) stops and comes back with the same identity and data directory
// at a new Raft and gRPC address, and asks the group to take it back
// (Join): the leader (which may be the server itself: it keeps its vote and
// can win an election before it moved) records the new address in the
// registry and moves the server in the Raft configuration, keeping its
// vote. The server catches
// up at its new address; the others take writes meanwhile; at the end
// nothing is lost and the state machines agree.
func TestFaultSameIDNewAddress(t *testing.T) {
	forSizes(t, func(t *testing.T, n int) {
		o := faultTimeouts()
		network := newNetwork(t)
		o.network, o.grpcThroughNetwork = network, true
		c := startCluster(t, faultMembers(n), o)
		c.waitLeader(30 * time.Second)
		w := startWorkload(t, "same-id-new-address", c, c.nodes, workloadOptions{strict: true, opTimeout: 60 * time.Second})
		w.progress("before any fault", 0, 20, 30*time.Second)
		deadline := time.Now().Add(soak(t, time.Second))
		for round := 0; round < 2 || time.Now().Before(deadline); round++ {
			leader := waitLeaderAmong(w, "before the round", c.nodes, 30*time.Second)
			tn := leader
			if round%2 == 0 {
				tn = others(c, leader)[0]
			}
			oldAddr := tn.raftLn.Addr().String()
			w.pool.retire(tn)
			moved := restartAt(t, c, tn, o)
			w.faults.Add(1)
			step := fmt.Sprintf("round %d: %s moved from %s to %s", round, tn.name, oldAddr, moved.raftLn.Addr().String())
			var seeds []registryraft.Seed
			for _, x := range others(c, moved) {
				addr, _ := c.grpcAddress(x.node.ID())
				seeds = append(seeds, registryraft.Seed{ID: x.id, GRPCAddress: addr})
			}
			grpcAddr, _ := c.grpcAddress(moved.node.ID())
			t.Logf("%s: joins while it is %s", step, moved.node.Raft().State())
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			voter, err := moved.node.Join(ctx, seeds, moved.raftLn.Addr().String(), grpcAddr)
			cancel()
			if err != nil {
				w.halt()
				t.Fatalf("%s: join: %v", step, err)
			}
			if !voter {
				t.Errorf("%s: the group took it back as a non-voter; it was a voter", step)
			}
			raftnettest.WaitFor(t, 30*time.Second, func() error {
				for _, x := range c.nodes {
					cfg := x.node.Raft().GetConfiguration()
					if err := cfg.Error(); err != nil {
						return err
					}
					for _, s := range cfg.Configuration().Servers {
						if s.ID == moved.node.ID() && (string(s.Address) != moved.raftLn.Addr().String() || s.Suffrage != raft.Voter) {
							return fmt.Errorf("%s has %s as %s at %s", x.name, moved.name, s.Suffrage, s.Address)
						}
					}
					var addr string
					x.fsm.Read(func(v registry.View) {
						if node, _, err := v.GetNode(moved.id.String()); err == nil {
							addr = node.Address
						}
					})
					if addr != moved.raftLn.Addr().String() {
						return fmt.Errorf("%s's registry has %s at %q", x.name, moved.name, addr)
					}
				}
				l, err := leaderAmong(c.nodes)
				if err != nil {
					return err
				}
				if got, want := moved.fsm.AppliedIndex(), l.node.Raft().CommitIndex(); got < want {
					return fmt.Errorf("%s applied %d, the leader committed %d", moved.name, got, want)
				}
				return nil
			})
			w.pool.add(moved)
			w.progress(step, w.acks.Load(), 20, 30*time.Second)
		}
		waitLeaderAmong(w, "at the end", c.nodes, 30*time.Second)
		w.finish(c.nodes)
	})
}

// TestFaultLeadershipTransfer: in rounds, under the clients' load, the
// leader hands its leadership to another voter. Raft refuses new writes
// while a transfer runs and gives up when the target has not caught up
// within an election timeout (which a loaded machine can cause); the
// leader then tries again, for up to 30 s. No write fails (they wait
// through the transfers), and at the end nothing is lost and the state
// machines agree.
func TestFaultLeadershipTransfer(t *testing.T) {
	forSizes(t, func(t *testing.T, n int) {
		c, _ := faultCluster(t, n, faultTimeouts())
		c.waitLeader(30 * time.Second)
		w := startWorkload(t, "leadership-transfer", c, c.nodes, workloadOptions{strict: true})
		w.progress("before any fault", 0, 20, 30*time.Second)
		deadline := time.Now().Add(soak(t, 3*time.Second))
		attempts := 0
		for round := 0; round < 3 || time.Now().Before(deadline); round++ {
			leader := waitLeaderAmong(w, "before the round", c.nodes, 30*time.Second)
			term := leader.node.Raft().CurrentTerm()
			step := fmt.Sprintf("round %d: %s hands over (term %d)", round, leader.name, term)
			var next *testNode
			if err := poll(30*time.Second, func() error {
				if leader.node.Raft().State() == raft.Leader {
					attempts++
					if err := leader.node.TransferLeadership(); err != nil {
						t.Logf("%s: %v", step, err)
					}
				}
				var err error
				next, err = leaderAmong(c.nodes)
				switch {
				case err != nil:
					return err
				case next == leader:
					return fmt.Errorf("%s still leads", leader.name)
				}
				return nil
			}); err != nil {
				w.halt()
				t.Fatalf("%s: %v", step, err)
			}
			w.faults.Add(1)
			w.progress(fmt.Sprintf("%s: %s leads", step, next.name), w.acks.Load(), 20, 30*time.Second)
		}
		t.Logf("%d transfers in %d attempts", w.faults.Load(), attempts)
		w.finish(c.nodes)
	})
}
