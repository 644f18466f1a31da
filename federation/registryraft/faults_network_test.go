package registryraft_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/accordfed/accord/federation/raftnet/raftnettest"
)

// Network faults under the checked workload (faults_workload_test.go):
// one-way partitions, a flapping partition, the leader in a minority
// partition, loss of quorum, and packet loss with delay. Raft and the
// forwarded gRPC calls both cross the fault-injecting network.

// names returns the names of nodes.
func names(nodes []*testNode) []string {
	out := make([]string, len(nodes))
	for i, tn := range nodes {
		out[i] = tn.name
	}
	return out
}

// others returns the nodes of c but those given.
func others(c *cluster, not ...*testNode) []*testNode {
	return c.live(not...)
}

// waitLeaderAmong polls until one of nodes leads and all of them follow
// it; it stops the workload and fails the test after timeout.
func waitLeaderAmong(w *workload, step string, nodes []*testNode, timeout time.Duration) *testNode {
	w.t.Helper()
	var leader *testNode
	if err := poll(timeout, func() error {
		var err error
		leader, err = leaderAmong(nodes)
		return err
	}); err != nil {
		w.halt()
		w.t.Fatalf("%s: %s: no leader followed by %v after %s: %v", w.name, step, names(nodes), timeout, err)
	}
	return leader
}

// hold keeps a fault in place for d, or until the workload stops.
func hold(w *workload, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-w.stop:
	}
}

// TestFaultOneWayPartition: in rounds, the leader's outgoing direction is
// cut (its heartbeats and answers held, what it receives still delivered),
// then a new leader's incoming direction (it hears nobody), then one
// follower's direction to the leader only (a non-transitive partition).
// Each time the others elect a leader or keep it and go on taking writes;
// after healing everything converges, nothing acknowledged is lost and the
// history is linearizable.
func TestFaultOneWayPartition(t *testing.T) {
	forSizes(t, func(t *testing.T, n int) {
		c, network := faultCluster(t, n, faultTimeouts())
		c.waitLeader(20 * time.Second)
		// Writes may wait up to 60 s, twice the time the group has to
		// take 20 writes after a cut: a client stuck on a forwarded call to
		// the old leader until its own timeout would fail the round.
		w := startWorkload(t, "one-way-partition", c, c.nodes, workloadOptions{strict: true, opTimeout: 60 * time.Second})
		w.progress("before any fault", 0, 20, 30*time.Second)
		deadline := time.Now().Add(soak(t, 4*time.Second))
		for round := 0; round < 3 || time.Now().Before(deadline); round++ {
			leader := waitLeaderAmong(w, "before the round", c.nodes, 30*time.Second)
			rest := others(c, leader)
			var step string
			switch round % 3 {
			case 0:
				step = fmt.Sprintf("round %d: %s's outgoing direction cut", round, leader.name)
				for _, o := range rest {
					network.CutOneWay(leader.name, o.name)
				}
				waitLeaderAmong(w, step, rest, 30*time.Second)
			case 1:
				step = fmt.Sprintf("round %d: %s's incoming direction cut", round, leader.name)
				for _, o := range rest {
					network.CutOneWay(o.name, leader.name)
				}
				waitLeaderAmong(w, step, rest, 30*time.Second)
			case 2:
				f := rest[rand.IntN(len(rest))]
				step = fmt.Sprintf("round %d: %s -> %s cut (non-transitive)", round, f.name, leader.name)
				network.CutOneWay(f.name, leader.name)
			}
			w.faults.Add(1)
			w.progress(step, w.acks.Load(), 20, 30*time.Second)
			network.Heal()
			if err := poll(30*time.Second, func() error { return caughtUp(c.nodes) }); err != nil {
				w.halt()
				t.Fatalf("%s, healed: %v", step, err)
			}
		}
		w.progress("after healing", w.acks.Load(), 20, 30*time.Second)
		waitLeaderAmong(w, "after healing", c.nodes, 30*time.Second)
		w.finish(c.nodes)
	})
}

// TestFaultFlappingPartition: every one to three seconds the network
// changes, alternating between healed and a partition drawn at random (the
// leader isolated, any node isolated, a random minority cut off from the
// majority, or one direction between two nodes cut). The group takes
// writes whenever a majority can talk; afterwards everything converges.
// CI flaps for 10 s; ACCORD_SOAK for as long as asked (a minute: 1m).
func TestFaultFlappingPartition(t *testing.T) {
	forSizes(t, func(t *testing.T, n int) {
		c, network := faultCluster(t, n, faultTimeouts())
		c.waitLeader(20 * time.Second)
		w := startWorkload(t, "flapping-partition", c, c.nodes, workloadOptions{strict: true})
		w.progress("before any fault", 0, 20, 30*time.Second)
		rng := rand.New(rand.NewPCG(uint64(n), uint64(time.Now().UnixNano())))
		deadline := time.Now().Add(soak(t, 10*time.Second))
		partitioned := false
		for time.Now().Before(deadline) {
			if partitioned {
				network.Heal()
			} else {
				desc := flap(c, network, rng)
				w.faults.Add(1)
				t.Logf("flap %d: %s", w.faults.Load(), desc)
			}
			partitioned = !partitioned
			hold(w, time.Second+time.Duration(rng.Int64N(int64(2*time.Second))))
		}
		network.Heal()
		w.progress("after healing", w.acks.Load(), 20, 30*time.Second)
		waitLeaderAmong(w, "after healing", c.nodes, 30*time.Second)
		w.finish(c.nodes)
	})
}

// flap applies a random partition and describes it.
func flap(c *cluster, network *raftnettest.Network, rng *rand.Rand) string {
	nodes := slices.Clone(c.nodes)
	rng.Shuffle(len(nodes), func(i, j int) { nodes[i], nodes[j] = nodes[j], nodes[i] })
	switch rng.IntN(4) {
	case 0:
		for _, tn := range c.nodes {
			if l, _ := leaderAmong([]*testNode{tn}); l != nil {
				network.Isolate(tn.name)
				return "leader " + tn.name + " isolated"
			}
		}
		fallthrough
	case 1:
		network.Isolate(nodes[0].name)
		return nodes[0].name + " isolated"
	case 2:
		k := 1 + rng.IntN((len(nodes)-1)/2) // a minority
		network.Partition(names(nodes[:k]), names(nodes[k:]))
		return fmt.Sprintf("minority %v cut off from %v", names(nodes[:k]), names(nodes[k:]))
	default:
		network.CutOneWay(nodes[0].name, nodes[1].name)
		return fmt.Sprintf("one way %s -> %s cut", nodes[0].name, nodes[1].name)
	}
}

// readGrace is how long after a split a linearizable read may still be
// confirmed without a quorum. hashicorp/raft's VerifyLeader (the leader's
// check behind a read index) counts every answer of a follower that
// arrives after the check began, also one to a heartbeat or AppendEntries
// sent before: answers in flight when the network splits (or received just
// before and handled a little later) can confirm a read that began just
// after (seen: a read called 31 ms after the split, answered at 63 ms).
// Such a read is still linearizable (porcupine checks it): no other leader
// can be elected so soon, since followers refuse votes while they hear
// from a leader. After the leader lease (150 ms here) the leader steps
// down; a second covers that with room for a loaded machine. Writes get no
// grace: an entry appended after the split can only be committed by
// messages sent after it.
const readGrace = time.Second

// checkHeld fails the test if an operation through nodes called after cut
// (a write) or after cut+readGrace (a read) was acknowledged before healed.
func checkHeld(t *testing.T, w *workload, step string, nodes []string, cut, healed int64) {
	t.Helper()
	var bad, early []opRecord
	for _, r := range w.acknowledgedThrough(nodes, cut, healed) {
		if r.write || r.call > cut+int64(readGrace) {
			bad = append(bad, r)
		} else {
			early = append(early, r)
		}
	}
	if len(early) > 0 {
		t.Logf("%s: confirmed by answers from before the split (within readGrace): %s", step, describe(early, cut))
	}
	if len(bad) > 0 {
		t.Errorf("%s: operations acknowledged without a quorum: %s", step, describe(bad, cut))
	}
}

// TestFaultLeaderInMinority: in rounds, the leader (with one follower, in a
// group of five) is cut off from the majority. No write sent through the
// minority after the cut, and no linearizable read sent more than
// readGrace after it, is acknowledged before the partition heals; the
// majority elects a leader and takes writes; after healing everything
// converges and the minority's held writes complete.
func TestFaultLeaderInMinority(t *testing.T) {
	forSizes(t, func(t *testing.T, n int) {
		c, network := faultCluster(t, n, faultTimeouts())
		c.waitLeader(20 * time.Second)
		w := startWorkload(t, "leader-in-minority", c, c.nodes, workloadOptions{strict: true})
		w.progress("before any fault", 0, 20, 30*time.Second)
		deadline := time.Now().Add(soak(t, 2*time.Second))
		for round := 0; round < 1 || time.Now().Before(deadline); round++ {
			leader := waitLeaderAmong(w, "before the round", c.nodes, 30*time.Second)
			minority := []*testNode{leader}
			rest := others(c, leader)
			if n == 5 {
				k := round % len(rest)
				minority = append(minority, rest[k])
				rest = slices.Delete(slices.Clone(rest), k, k+1)
			}
			network.Partition(names(minority), names(rest))
			cut := w.h.now()
			w.faults.Add(1)
			step := fmt.Sprintf("round %d: %v cut off", round, names(minority))
			waitLeaderAmong(w, step, rest, 30*time.Second)
			w.progress(step, w.acks.Load(), 20, 30*time.Second)
			healed := w.h.now()
			network.Heal()
			checkHeld(t, w, step, names(minority), cut, healed)
			// The minority's held writes complete before the next round.
			w.progress(step+", healed", w.acks.Load(), 20, 30*time.Second)
			if err := poll(30*time.Second, func() error { return caughtUp(c.nodes) }); err != nil {
				w.halt()
				t.Fatalf("%s, healed: %v", step, err)
			}
		}
		w.progress("after healing", w.acks.Load(), 20, 30*time.Second)
		waitLeaderAmong(w, "after healing", c.nodes, 30*time.Second)
		w.finish(c.nodes)
	})
}

// caughtUp says whether every node follows one leader and has applied
// everything the leader had committed when asked.
func caughtUp(nodes []*testNode) error {
	l, err := leaderAmong(nodes)
	if err != nil {
		return err
	}
	want := l.node.Raft().CommitIndex()
	for _, tn := range nodes {
		if got := tn.fsm.AppliedIndex(); got < want {
			return fmt.Errorf("%s applied %d, the leader %s committed %d", tn.name, got, l.name, want)
		}
	}
	return nil
}

// TestFaultQuorumLoss: in rounds, the network splits into groups none of
// which is a majority, for two seconds. No write sent after the split, and
// no linearizable read sent more than readGrace after it, is acknowledged
// until it heals: writes wait (none fails: each may take up to 30 s),
// reads too. Once healed, a leader is elected, the held writes complete
// and nothing is lost.
func TestFaultQuorumLoss(t *testing.T) {
	forSizes(t, func(t *testing.T, n int) {
		c, network := faultCluster(t, n, faultTimeouts())
		c.waitLeader(20 * time.Second)
		w := startWorkload(t, "quorum-loss", c, c.nodes, workloadOptions{strict: true})
		w.progress("before any fault", 0, 20, 30*time.Second)
		deadline := time.Now().Add(soak(t, 2*time.Second))
		for round := 0; round < 1 || time.Now().Before(deadline); round++ {
			var groups [][]string
			for i := 0; i < n; i += 2 {
				groups = append(groups, names(c.nodes[i:min(i+2, n)]))
			}
			if n == 3 {
				groups = [][]string{{c.nodes[0].name}, {c.nodes[1].name}, {c.nodes[2].name}}
			}
			network.Partition(groups...)
			cut := w.h.now()
			w.faults.Add(1)
			step := fmt.Sprintf("round %d: split into %v", round, groups)
			hold(w, 2*time.Second)
			if err := poll(10*time.Second, func() error {
				for _, tn := range c.nodes {
					if l, _ := leaderAmong([]*testNode{tn}); l != nil {
						return fmt.Errorf("%s still leads", tn.name)
					}
				}
				return nil
			}); err != nil {
				t.Errorf("%s: %v without a quorum", step, err)
			}
			healed := w.h.now()
			before := w.acks.Load()
			network.Heal()
			checkHeld(t, w, step, names(c.nodes), cut, healed)
			w.progress(step+", healed", before, 20, 30*time.Second)
		}
		waitLeaderAmong(w, "after healing", c.nodes, 30*time.Second)
		w.finish(c.nodes)
	})
}

// TestFaultPacketLoss: every link loses 20% of what it carries, with 1 s of
// delay. Raft runs over TCP, which does not lose bytes: it retransmits
// them. So a loss is modelled as TCP shows it to the application: a chunk
// of bytes lost is delivered a retransmission timeout (1 s, doubling on
// each loss in a row) late, holding up the bytes behind it
// (raftnettest.Link.SetLoss); in each round a random link is also reset,
// as a connection that gives up would be. The delay is a one-way latency
// of 1 s on every link. Raft's timeouts are set for such links (a 2 s
// round trip, stalls of seconds): the group keeps taking writes (five more
// in each round), and once the network is clean again everything
// converges.
func TestFaultPacketLoss(t *testing.T) {
	forSizes(t, func(t *testing.T, n int) {
		o := clusterOptions{heartbeat: 5 * time.Second, election: 5 * time.Second, lease: 5 * time.Second, commit: 50 * time.Millisecond,
			transportTimeout: 30 * time.Second}
		c, network := faultCluster(t, n, o)
		c.waitLeader(30 * time.Second)
		w := startWorkload(t, "packet-loss", c, c.nodes, workloadOptions{opTimeout: 60 * time.Second})
		w.progress("before any fault", 0, 20, 30*time.Second)
		network.SetLatency(time.Second)
		network.SetLoss(0.2, time.Second)
		w.faults.Add(1)
		start := time.Now()
		from := w.acks.Load()
		deadline := start.Add(soak(t, 5*time.Second))
		rng := rand.New(rand.NewPCG(uint64(n), uint64(time.Now().UnixNano())))
		for round := 0; round < 1 || time.Now().Before(deadline); round++ {
			// The connections between the leader and a follower give up;
			// the group still takes writes.
			leader := waitLeaderAmong(w, fmt.Sprintf("round %d under loss and delay", round), c.nodes, 120*time.Second)
			rest := others(c, leader)
			f := rest[rng.IntN(len(rest))]
			k := network.Link(leader.name, f.name).Reset()
			w.faults.Add(1)
			w.progress(fmt.Sprintf("round %d under loss and delay (%d connections %s-%s reset)", round, k, leader.name, f.name),
				w.acks.Load(), 5, 120*time.Second)
		}
		t.Logf("%d writes acknowledged in %s of loss and delay", w.acks.Load()-from, time.Since(start).Round(time.Millisecond))
		network.SetLoss(0, 0)
		network.SetLatency(0)
		w.progress("after the network cleared", w.acks.Load(), 20, 60*time.Second)
		waitLeaderAmong(w, "after the network cleared", c.nodes, 30*time.Second)
		w.finish(c.nodes)
	})
}
