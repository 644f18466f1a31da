package registryraft_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/hashicorp/raft"

	"github.com/accordfed/accord/federation/raftnet/raftnettest"
	"github.com/accordfed/accord/federation/registryraft"
)

// poll calls f every few milliseconds until it returns nil or timeout
// passes, and returns f's last error then. Unlike raftnettest.WaitFor it
// does not fail the test, so that a caller can stop its clients first.
func poll(timeout time.Duration, f func() error) error {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		err := f()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		<-tick.C
	}
}

// leaderAmong returns the one node of nodes that leads, provided every one
// of them follows it.
func leaderAmong(nodes []*testNode) (*testNode, error) {
	var leader *testNode
	for _, tn := range nodes {
		if tn.node.Raft().State() == raft.Leader {
			if leader != nil {
				return nil, fmt.Errorf("two leaders: %s and %s", leader.name, tn.name)
			}
			leader = tn
		}
	}
	if leader == nil {
		return nil, errors.New("no leader")
	}
	for _, tn := range nodes {
		if _, id := tn.node.Raft().LeaderWithID(); id != leader.node.ID() {
			return nil, fmt.Errorf("%s follows %q, not %s", tn.name, id, leader.name)
		}
	}
	return leader, nil
}

// waitSameApplied waits until the state machines of nodes have all applied
// the same index, and returns it.
func waitSameApplied(t *testing.T, nodes []*testNode) uint64 {
	t.Helper()
	var idx uint64
	raftnettest.WaitFor(t, 15*time.Second, func() error {
		idx = nodes[0].fsm.AppliedIndex()
		for _, tn := range nodes[1:] {
			if got := tn.fsm.AppliedIndex(); got != idx {
				return fmt.Errorf("%s applied %d, %s applied %d", nodes[0].name, idx, tn.name, got)
			}
		}
		return nil
	})
	return idx
}

// checkExactlyOnce checks that every acknowledged write is present exactly
// once on every node (linearizable read, as the node's own member), that no
// entry is present twice, and that all the nodes' state machines agree
// (stale reads once they have applied the same index).
func checkExactlyOnce(t *testing.T, nodes []*testNode, acked map[string]bool) {
	t.Helper()
	for _, tn := range nodes {
		got := titles(t, tn.node, true, tn.member)
		missing := 0
		for rid := range acked {
			if got[rid] != 1 {
				missing++
				if missing <= 10 {
					t.Errorf("%s: acknowledged write %s present %d times", tn.name, rid, got[rid])
				}
			}
		}
		if missing > 10 {
			t.Errorf("%s: %d acknowledged writes not present exactly once", tn.name, missing)
		}
		for title, k := range got {
			if k > 1 {
				t.Errorf("%s: %s applied %d times", tn.name, title, k)
			}
		}
	}
	idx := waitSameApplied(t, nodes)
	want := titles(t, nodes[0].node, false, "UA")
	for _, tn := range nodes[1:] {
		if got := titles(t, tn.node, false, "UA"); !maps.Equal(got, want) {
			t.Errorf("at applied index %d, %s has %d titles and %s %d: the state machines differ", idx, nodes[0].name, len(want), tn.name, len(got))
		}
	}
	t.Logf("%d nodes agree at applied index %d (%d entries, %d acknowledged writes)", len(nodes), idx, len(want), len(acked))
}

func statUint(t *testing.T, tn *testNode, key string) uint64 {
	t.Helper()
	s := tn.node.Raft().Stats()[key]
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		t.Fatalf("%s: raft stat %s = %q: %v", tn.name, key, s, err)
	}
	return v
}

// TestFiveNodeLeaderKilledDuringWrites: in a group of five, eight clients
// write 1,000 entries through random live nodes while the leader is shut
// down (no leadership transfer) a third of the way through. A new leader
// is followed by all four others within 3 s of the kill; every
// acknowledged write is present exactly once on every live node, and
// their state machines agree.
func TestFiveNodeLeaderKilledDuringWrites(t *testing.T) {
	c := startCluster(t, []string{"UA", "PL", "DE", "LT", "NL"}, fastTimeouts())
	old := c.waitLeader(10 * time.Second)
	t.Logf("leader: %s", old.name)

	const writers, perWriter = 8, 125
	var (
		dead      atomic.Pointer[testNode]
		acks      atomic.Int64
		afterKill atomic.Int64
		unknown   atomic.Int64
		mu        sync.Mutex
		acked     = map[string]bool{}
		wg        sync.WaitGroup
		third     = make(chan struct{})
		thirdOnce sync.Once
		stop      = make(chan struct{})
		stopOnce  sync.Once
	)
	halt := func() { stopOnce.Do(func() { close(stop) }); wg.Wait() }
	t.Cleanup(halt) // before the cluster's cleanups: no client outlives the test
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
			for i := range perWriter {
				select {
				case <-stop:
					return
				default:
				}
				killed := dead.Load()
				tn := c.nodes[rng.IntN(len(c.nodes))]
				for tn == killed {
					tn = c.nodes[rng.IntN(len(c.nodes))]
				}
				rid := fmt.Sprintf("w%d-%d", w, i)
				ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
				_, err := tn.node.Apply(ctx, entry(t, rid))
				cancel()
				if err != nil {
					if tn == old && dead.Load() != nil {
						unknown.Add(1) // killed under the client: outcome unknown
						continue
					}
					t.Errorf("write %s through %s: %v", rid, tn.name, err)
					return
				}
				mu.Lock()
				acked[rid] = true
				mu.Unlock()
				if killed != nil {
					afterKill.Add(1)
				}
				if acks.Add(1) == writers*perWriter/3 {
					thirdOnce.Do(func() { close(third) })
				}
			}
		}()
	}
	allDone := make(chan struct{})
	go func() { wg.Wait(); close(allDone) }()
	select {
	case <-third:
	case <-allDone:
		t.Fatalf("the clients stopped after %d acknowledged writes, before the kill", acks.Load())
	}

	killed := time.Now()
	dead.Store(old)
	c.kill(old)
	killTook := time.Since(killed)
	var leader *testNode
	err := poll(10*time.Second, func() error {
		var err error
		leader, err = leaderAmong(c.live(old))
		return err
	})
	took := time.Since(killed)
	if err != nil {
		halt()
		t.Fatalf("no leader followed by every live node %s after the kill: %v", took, err)
	}
	t.Logf("killed %s (shutdown took %s); %s leads, followed by all, %s after the kill", old.name,
		killTook.Round(time.Millisecond), leader.name, took.Round(time.Millisecond))
	if took > 3*time.Second {
		t.Errorf("new leader %s after the kill, want within 3s", took.Round(time.Millisecond))
	}
	<-allDone

	t.Logf("%d writes acknowledged (%d issued after the kill), %d unknown outcomes", acks.Load(), afterKill.Load(), unknown.Load())
	if acks.Load()+unknown.Load() != writers*perWriter {
		t.Fatalf("%d acknowledged + %d unknown of %d writes", acks.Load(), unknown.Load(), writers*perWriter)
	}
	if afterKill.Load() < writers*perWriter/3 {
		t.Errorf("only %d writes issued after the kill were acknowledged", afterKill.Load())
	}
	mu.Lock()
	defer mu.Unlock()
	checkExactlyOnce(t, c.live(old), acked)
}

// writeMany writes n entries prefix-0 .. prefix-(n-1) from clients
// concurrent clients through random nodes of via, and returns them. Every
// write must succeed.
func writeMany(t *testing.T, via []*testNode, prefix string, n, clients int) map[string]bool {
	t.Helper()
	var (
		mu    sync.Mutex
		acked = map[string]bool{}
		wg    sync.WaitGroup
		next  atomic.Int64
	)
	for w := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				tn := via[rng.IntN(len(via))]
				rid := fmt.Sprintf("%s-%d", prefix, i)
				ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
				_, err := tn.node.Apply(ctx, entry(t, rid))
				cancel()
				if err != nil {
					t.Errorf("write %s through %s: %v", rid, tn.name, err)
					return
				}
				mu.Lock()
				acked[rid] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	return acked
}

// TestFollowerRestartedAfterFallingBehind: a follower is shut down; while
// it is down the others take 2,000 writes and the leader snapshots,
// keeping 64 entries of log, so that the log no longer holds what the
// follower lacks. Restarted from its data directory on its old Raft
// address, the follower catches up by installing the leader's snapshot
// and reads every write exactly once.
func TestFollowerRestartedAfterFallingBehind(t *testing.T) {
	const trailing = 64
	o := fastTimeouts()
	o.trailingLogs = trailing
	c := startCluster(t, []string{"UA", "PL", "DE"}, o)
	leader := c.waitLeader(10 * time.Second)
	var follower *testNode
	fi := 0
	for i, tn := range c.nodes {
		if tn != leader {
			follower, fi = tn, i
		}
	}
	t.Logf("leader %s, follower to restart %s", leader.name, follower.name)

	acked := writeMany(t, c.nodes, "pre", 100, 4)
	raftnettest.WaitFor(t, 10*time.Second, func() error {
		if got, want := follower.fsm.AppliedIndex(), leader.fsm.AppliedIndex(); got < want {
			return fmt.Errorf("follower applied %d, leader %d", got, want)
		}
		return nil
	})
	if s := follower.node.Raft().Stats()["last_snapshot_index"]; s != "0" {
		t.Fatalf("follower has a snapshot of its own already (last_snapshot_index %s): the test could not tell an installed one", s)
	}

	c.kill(follower)
	followerLast := follower.node.Raft().LastIndex()
	followerApplied := follower.fsm.AppliedIndex()
	live := c.live(follower)
	start := time.Now()
	maps.Copy(acked, writeMany(t, live, "down", 2000, 8))
	t.Logf("2,000 writes while %s was down took %s", follower.name, time.Since(start).Round(time.Millisecond))
	// Every live server snapshots, so that whichever leads when the
	// follower returns (leadership may move under load) no longer holds the
	// entries it lacks.
	var snapIdx, firstKept uint64
	for i, tn := range live {
		if err := tn.node.Raft().Snapshot().Error(); err != nil {
			t.Fatal(err)
		}
		s, last := statUint(t, tn, "last_snapshot_index"), statUint(t, tn, "last_log_index")
		// raft compacts the log up to min(snapshot, last - TrailingLogs).
		kept := min(s, last-trailing) + 1
		if i == 0 || s < snapIdx {
			snapIdx = s
		}
		if i == 0 || kept < firstKept {
			firstKept = kept
		}
	}
	lastIdx := statUint(t, leader, "last_log_index")
	t.Logf("follower stopped at log index %d (applied %d); leader snapshotted at %d, last index %d, keeps its log from about %d",
		followerLast, followerApplied, snapIdx, lastIdx, firstKept)
	if followerLast+1 >= firstKept {
		t.Fatalf("the leader still holds the entries from %d the follower needs (from about %d): no snapshot would be needed", followerLast+1, firstKept)
	}

	// Restart: same identity, data directory and Raft address; a new
	// state machine and node.
	restarted := &testNode{
		name: follower.name, member: follower.member, id: follower.id, src: follower.src,
		dataDir: follower.dataDir, raftLn: listenAt(t, follower.raftLn.Addr().String()),
	}
	c.nodes[fi] = restarted
	start = time.Now()
	c.startNode(restarted, raftnettest.NewLogger(t, slog.LevelWarn).With("node", restarted.name), o)
	if err := restarted.node.Bootstrap(nil); !errors.Is(err, registryraft.ErrExistingState) {
		t.Fatalf("bootstrap on the restarted node: err = %v, want ErrExistingState", err)
	}
	raftnettest.WaitFor(t, 15*time.Second, func() error {
		if got := restarted.fsm.AppliedIndex(); got < snapIdx {
			return fmt.Errorf("restarted follower applied %d, leader snapshotted at %d", got, snapIdx)
		}
		return nil
	})
	t.Logf("restarted follower reached the snapshot index %s after its start", time.Since(start).Round(time.Millisecond))
	// The follower never reached its own snapshot threshold (8192 entries)
	// and had no snapshot before: one at or beyond the leader's snapshot is
	// the leader's, installed.
	raftnettest.WaitFor(t, 5*time.Second, func() error {
		if got := statUint(t, restarted, "last_snapshot_index"); got < snapIdx {
			return fmt.Errorf("restarted follower's last_snapshot_index %d, want at least the leader's %d", got, snapIdx)
		}
		return nil
	})
	checkExactlyOnce(t, c.nodes, acked)
}

// nodePool is the set of nodes clients may send operations through. A node
// is retired before it leaves the group: no new operation picks it, and
// retire waits for those in flight.
type nodePool struct {
	mu    sync.Mutex
	cond  *sync.Cond
	nodes []*testNode
	busy  map[*testNode]int
}

func newNodePool(nodes ...*testNode) *nodePool {
	p := &nodePool{nodes: slices.Clone(nodes), busy: map[*testNode]int{}}
	p.cond = sync.NewCond(&p.mu)
	return p
}

func (p *nodePool) pick(rng *rand.Rand) *testNode {
	p.mu.Lock()
	defer p.mu.Unlock()
	tn := p.nodes[rng.IntN(len(p.nodes))]
	p.busy[tn]++
	return tn
}

func (p *nodePool) done(tn *testNode) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.busy[tn]--
	p.cond.Broadcast()
}

func (p *nodePool) add(tn *testNode) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.nodes = append(p.nodes, tn)
}

func (p *nodePool) retire(tn *testNode) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.nodes = slices.DeleteFunc(p.nodes, func(x *testNode) bool { return x == tn })
	for p.busy[tn] > 0 {
		p.cond.Wait()
	}
}

// TestMembershipChangeUnderLoad: three founders of five; while four clients
// write and two read (linearizably) through the group's nodes, the leader
// adds the fourth and fifth node, removes a voter that is not the leader,
// then removes itself. Every write succeeds; afterwards every acknowledged
// write is present exactly once on the three remaining nodes, their
// configuration is those three as voters, and the history of the clients'
// operations is linearizable.
func TestMembershipChangeUnderLoad(t *testing.T) {
	o := fastTimeouts()
	o.founders, o.maxVoters = 3, 5
	c := startCluster(t, []string{"UA", "PL", "DE", "LT", "NL"}, o)
	founders, joiners := c.nodes[:3], c.nodes[3:]
	leader := c.waitLeader(10*time.Second, joiners...)
	t.Logf("leader of the founders: %s", leader.name)

	pool := newNodePool(founders...)
	h := &history{start: time.Now()}
	const writers, readers, window = 4, 2, 200
	var (
		next        atomic.Int64 // keys allocated: key k is entry m<k>
		acks        atomic.Int64
		mu          sync.Mutex
		acked       = map[string]bool{}
		wg          sync.WaitGroup
		stop        = make(chan struct{})
		stopOnce    sync.Once
		readCount   atomic.Int64
		failedReads atomic.Int64
	)
	halt := func() { stopOnce.Do(func() { close(stop) }); wg.Wait() }
	t.Cleanup(halt)
	stopped := func() bool {
		select {
		case <-stop:
			return true
		default:
			return false
		}
	}
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
			for !stopped() {
				k := int(next.Add(1) - 1)
				rid := fmt.Sprintf("m%d", k)
				tn := pool.pick(rng)
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				call := h.now()
				_, err := tn.node.Apply(ctx, entry(t, rid))
				ret := h.now()
				cancel()
				pool.done(tn)
				if err != nil {
					ret = math.MaxInt64 // outcome unknown
					t.Errorf("write %s through %s: %v", rid, tn.name, err)
				}
				h.add(porcupine.Operation{ClientId: w, Input: regInput{key: k, write: true, value: "1"}, Call: call, Output: "", Return: ret})
				if err != nil {
					return
				}
				mu.Lock()
				acked[rid] = true
				mu.Unlock()
				acks.Add(1)
			}
		}()
	}
	for r := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := writers + r
			rng := rand.New(rand.NewPCG(uint64(id), uint64(time.Now().UnixNano())))
			for !stopped() {
				tn := pool.pick(rng)
				from := max(0, int(next.Load())-window)
				call := h.now()
				got, err := readTitles(tn.node, true, tn.member)
				ret := h.now()
				to := int(next.Load())
				pool.done(tn)
				if err != nil {
					// A read waits through elections; one that still fails
					// is a fault.
					failedReads.Add(1)
					t.Errorf("linearizable read through %s failed: %v", tn.name, err)
					continue
				}
				readCount.Add(1)
				// One read of each recent register (entry present or not).
				for k := from; k < to; k++ {
					value := "v0"
					switch got[fmt.Sprintf("m%d", k)] {
					case 0:
					case 1:
						value = "1"
					default:
						t.Errorf("read through %s: m%d present %d times", tn.name, k, got[fmt.Sprintf("m%d", k)])
					}
					h.add(porcupine.Operation{ClientId: id, Input: regInput{key: k}, Call: call, Output: value, Return: ret})
				}
			}
		}()
	}

	// progress waits for n more acknowledged writes: the group takes writes
	// after each change.
	progress := func(step string, n int64) {
		t.Helper()
		from := acks.Load()
		start := time.Now()
		if err := poll(15*time.Second, func() error {
			if got := acks.Load() - from; got < n {
				return fmt.Errorf("%d writes acknowledged", got)
			}
			return nil
		}); err != nil {
			halt()
			t.Fatalf("%s: %v in 15s", step, err)
		}
		t.Logf("%s: %d writes acknowledged in %s", step, n, time.Since(start).Round(time.Millisecond))
	}
	// onLeader runs a membership change on the leader among members,
	// trying again when leadership moved.
	onLeader := func(step string, members []*testNode, f func(l *testNode) error) *testNode {
		t.Helper()
		var (
			on    *testNode
			final error
		)
		err := poll(15*time.Second, func() error {
			var l *testNode
			for _, tn := range members {
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
			halt()
			t.Fatalf("%s: %v", step, err)
		}
		return on
	}

	progress("before any change", 50)
	members := slices.Clone(founders)
	for _, j := range joiners {
		onLeader("add "+j.name, members, func(l *testNode) error {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			voter, err := l.node.AddServer(ctx, j.node.ID(), raft.ServerAddress(j.raftLn.Addr().String()))
			if err == nil && !voter {
				return fmt.Errorf("%s joined as a non-voter with %d voters of at most 5", j.name, len(members))
			}
			return err
		})
		members = append(members, j)
		pool.add(j)
		progress("added "+j.name, 50)
	}

	// A founder that is not the leader leaves.
	var gone *testNode
	for _, tn := range founders {
		if tn.node.Raft().State() != raft.Leader {
			gone = tn
			break
		}
	}
	pool.retire(gone)
	onLeader("remove "+gone.name, members, func(l *testNode) error {
		if l == gone {
			return fmt.Errorf("%s leads now; the test removes a follower first", gone.name)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return l.node.RemoveServer(ctx, gone.node.ID())
	})
	members = slices.DeleteFunc(members, func(x *testNode) bool { return x == gone })
	progress("removed "+gone.name, 50)

	// The leader removes itself.
	var old *testNode
	for _, tn := range members {
		if tn.node.Raft().State() == raft.Leader {
			old = tn
		}
	}
	if old == nil {
		halt()
		t.Fatal("no leader among the members")
	}
	pool.retire(old)
	removedAt := time.Now()
	on := onLeader("remove the leader "+old.name, members, func(l *testNode) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return l.node.RemoveServer(ctx, old.node.ID())
	})
	if on != old {
		t.Errorf("%s was removed by %s, not by itself: leadership moved", old.name, on.name)
	}
	members = slices.DeleteFunc(members, func(x *testNode) bool { return x == old })
	var next2 *testNode
	if err := poll(10*time.Second, func() error {
		var err error
		next2, err = leaderAmong(members)
		return err
	}); err != nil {
		halt()
		t.Fatalf("after %s removed itself: %v", old.name, err)
	}
	t.Logf("%s removed itself; %s leads %s later", old.name, next2.name, time.Since(removedAt).Round(time.Millisecond))
	progress("removed the leader "+old.name, 100)
	halt()
	t.Logf("Raft state of the removed follower %s: %s; of the leader that removed itself, %s: %s",
		gone.name, gone.node.Raft().State(), old.name, old.node.Raft().State())
	if t.Failed() {
		t.FailNow()
	}

	// The configuration is the three remaining servers, all voters, on
	// every one of them.
	want := map[raft.ServerID]string{}
	for _, tn := range members {
		want[tn.node.ID()] = raft.Voter.String()
	}
	raftnettest.WaitFor(t, 10*time.Second, func() error {
		for _, tn := range members {
			if got := suffrage(t, tn.node); !maps.Equal(got, want) {
				return fmt.Errorf("%s: configuration %v, want %v", tn.name, got, want)
			}
		}
		return nil
	})
	// The removed servers cannot disturb the group (their pre-votes are
	// refused: they are not in the configuration), so the leader is one of
	// the members; on a loaded machine it may still have stepped down for a
	// missed lease and another member lead now.
	if l := c.waitLeader(5*time.Second, gone, old); l != next2 {
		t.Logf("leader changed from %s to %s after the changes (a lease missed under load)", next2.name, l.name)
	}

	mu.Lock()
	defer mu.Unlock()
	checkExactlyOnce(t, members, acked)

	t.Logf("%d operations recorded (%d writes, %d reads; %d failed reads left out)", len(h.ops), next.Load(), readCount.Load(), failedReads.Load())
	res, info := porcupine.CheckOperationsVerbose(registerModel, h.ops, 30*time.Second)
	switch res {
	case porcupine.Ok:
	case porcupine.Unknown:
		t.Fatal("linearizability check timed out")
	default:
		for _, part := range info.PartialLinearizationsOperations() {
			t.Logf("partial linearization: %d parts", len(part))
		}
		t.Fatal("history is not linearizable")
	}
}
