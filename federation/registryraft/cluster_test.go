package registryraft_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/accordfed/accord/federation/raftnet/raftnettest"
	"github.com/accordfed/accord/federation/registry"
	"github.com/accordfed/accord/federation/registryraft"
)

// TestWritesThroughEveryNode: writes sent to each of three nodes (two of
// them followers, which forward to the leader over mutual-TLS gRPC) are all
// visible to a linearizable read on every node at once.
func TestWritesThroughEveryNode(t *testing.T) {
	c := startCluster(t, []string{"UA", "PL", "DE"}, fastTimeouts())
	leader := c.waitLeader(10 * time.Second)
	t.Logf("leader: %s", leader.name)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range 10 {
		for _, tn := range c.nodes {
			rid := fmt.Sprintf("%s-%d", tn.name, i)
			out, err := tn.node.Apply(ctx, entry(t, rid))
			if err != nil {
				t.Fatalf("write %s through %s: %v", rid, tn.name, err)
			}
			if out.ID == "" {
				t.Fatalf("write %s: no id in outcome %+v", rid, out)
			}
			// Every write is visible at once, on every node.
			for _, r := range c.nodes {
				if got := titles(t, r.node, true, "UA"); got[rid] != 1 {
					t.Fatalf("write %s through %s: linearizable read on %s sees it %d times", rid, tn.name, r.name, got[rid])
				}
			}
		}
	}
	// The entries were made by the member of the node that took the write,
	// whatever node applied it.
	if _, err := c.nodes[1].node.Read(ctx, true, func(v registry.View) {
		entries, err := v.ListStrategy("UA", registry.StrategyFilter{})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			want := map[string]string{"ua": "UA", "pl": "PL", "de": "DE"}[e.Current.Title[:2]]
			if e.Owner != want {
				t.Errorf("entry %s owned by %s, want %s", e.Current.Title, e.Owner, want)
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
}

// TestRefusalCodesCrossForwarding: a command the state machine refuses is
// refused with the registry's sentinel on a follower as on the leader, and
// a retry with the same request id is answered, not applied again.
func TestRefusalCodesCrossForwarding(t *testing.T) {
	c := startCluster(t, []string{"UA", "PL", "DE"}, fastTimeouts())
	leader := c.waitLeader(10 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	bad, err := registry.NewCommand("bad-1", registry.CreateEntry{Kind: "nonsense", Title: "x"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tn := range c.nodes {
		if _, err := tn.node.Apply(ctx, bad); !errors.Is(err, registry.ErrInvalidArgument) {
			t.Errorf("%s (leader %v): err = %v, want ErrInvalidArgument", tn.name, tn == leader, err)
		}
	}
	follower := c.nodes[0]
	if follower == leader {
		follower = c.nodes[1]
	}
	first, err := follower.node.Apply(ctx, entry(t, "once"))
	if err != nil {
		t.Fatal(err)
	}
	again, err := follower.node.Apply(ctx, entry(t, "once"))
	if err != nil {
		t.Fatal(err)
	}
	if first != again {
		t.Errorf("retry answered %+v, first %+v", again, first)
	}
	if got := titles(t, leader.node, true, "UA")["once"]; got != 1 {
		t.Errorf("entry applied %d times, want once", got)
	}
}

// TestLeaderKilledDuringWrites: the leader is shut down (no leadership
// transfer) while clients on every node write; a new leader is elected
// within 3 s, every acknowledged write is present afterwards, and none is
// applied twice.
func TestLeaderKilledDuringWrites(t *testing.T) {
	c := startCluster(t, []string{"UA", "PL", "DE"}, fastTimeouts())
	old := c.waitLeader(10 * time.Second)
	t.Logf("leader: %s", old.name)

	// 1,000 writes from 8 clients; the clients of the killed node move to
	// another node once it is killed (their write in flight then has an
	// unknown outcome and is not counted as acknowledged).
	const writers, perWriter = 8, 125
	var (
		mu    sync.Mutex
		acked = map[string]bool{}
		wg    sync.WaitGroup
	)
	halfway := make(chan struct{})
	killing := make(chan struct{})
	var once sync.Once
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tn := c.nodes[w%len(c.nodes)]
			for i := range perWriter {
				if i == perWriter/3 {
					once.Do(func() { close(halfway) })
				}
				select {
				case <-killing:
					if tn == old {
						tn = c.nodes[(w+1)%len(c.nodes)]
					}
				default:
				}
				rid := fmt.Sprintf("w%d-%d", w, i)
				ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
				_, err := tn.node.Apply(ctx, entry(t, rid))
				cancel()
				if err != nil {
					if tn == old {
						continue // killed under the client: outcome unknown
					}
					t.Errorf("write %s through %s: %v", rid, tn.name, err)
					return
				}
				mu.Lock()
				acked[rid] = true
				mu.Unlock()
			}
		}()
	}
	<-halfway
	killed := time.Now()
	close(killing)
	c.kill(old)
	leader := c.waitLeader(3*time.Second, old)
	t.Logf("new leader %s within %s", leader.name, time.Since(killed).Round(time.Millisecond))
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d writes acknowledged", len(acked))
	for _, tn := range c.live(old) {
		got := titles(t, tn.node, true, "UA")
		for rid := range acked {
			if got[rid] != 1 {
				t.Errorf("%s: acknowledged write %s present %d times", tn.name, rid, got[rid])
			}
		}
		for title, k := range got {
			if k > 1 {
				t.Errorf("%s: %s applied %d times", tn.name, title, k)
			}
		}
	}
}

// TestStaleReadOnLaggingFollower: a follower cut off from the others keeps
// serving stale reads from its own state, while a linearizable read waits
// (and fails when its context ends) rather than answer without the latest
// writes; once healed, its linearizable read sees them.
func TestStaleReadOnLaggingFollower(t *testing.T) {
	network := newNetwork(t)
	o := fastTimeouts()
	o.network = network
	c := startCluster(t, []string{"UA", "PL", "DE"}, o)
	leader := c.waitLeader(10 * time.Second)
	var lagging *testNode
	for _, tn := range c.nodes {
		if tn != leader {
			lagging = tn
			break
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := leader.node.Apply(ctx, entry(t, "before")); err != nil {
		t.Fatal(err)
	}
	waitTitle(t, lagging.node, "before")

	// Cut the follower's Raft links; its gRPC stays (the test network
	// carries Raft only), so it can still reach the leader for a read
	// index but no longer receives the log.
	network.Isolate(lagging.name)
	if _, err := leader.node.Apply(ctx, entry(t, "after")); err != nil {
		t.Fatal(err)
	}
	if got := titles(t, lagging.node, false, "UA"); got["after"] != 0 || got["before"] != 1 {
		t.Fatalf("stale read on the lagging follower: %v, want before only", got)
	}
	short, cancelShort := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancelShort()
	if _, err := lagging.node.Read(short, true, func(registry.View) {
		t.Error("a linearizable read on the lagging follower ran without the latest write")
	}); err == nil {
		t.Fatal("linearizable read on the lagging follower succeeded")
	} else {
		t.Logf("linearizable read on the lagging follower: %v", err)
	}
	network.Heal()
	if got := titles(t, lagging.node, true, "UA"); got["after"] != 1 {
		t.Fatalf("linearizable read after healing: %v, want after", got)
	}
}

func waitTitle(t *testing.T, n *registryraft.Node, title string) {
	t.Helper()
	raftnettest.WaitFor(t, 10*time.Second, func() error {
		got, err := readTitles(n, false, "UA")
		if err != nil {
			return err
		}
		if got[title] != 1 {
			return fmt.Errorf("%s applied %d times", title, got[title])
		}
		return nil
	})
}
