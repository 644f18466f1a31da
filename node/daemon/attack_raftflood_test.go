package daemon_test

import (
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/accordfed/accord/federation/pki/pkitest"
	"github.com/accordfed/accord/federation/raftnet/raftnettest"
	"github.com/accordfed/accord/federation/registry"
	"github.com/accordfed/accord/node/daemon/daemontest"
)

// raftFlood keeps idle TCP connections open to a Raft listener from many
// loopback addresses: each connection says nothing, and when the server
// closes it, it connects again a moment later.
type raftFlood struct {
	stop      chan struct{}
	wg        sync.WaitGroup
	connected atomic.Int64 // connections made, over the flood's life
}

// startRaftFlood opens perIP connections to addr from each of 127.0.0.2,
// 127.0.0.3, … (sources of them) and keeps them up until the test ends.
func startRaftFlood(t *testing.T, addr string, sources, perIP int) *raftFlood {
	t.Helper()
	f := &raftFlood{stop: make(chan struct{})}
	for i := range sources {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+i))}, Timeout: time.Second}
		for range perIP {
			f.wg.Add(1)
			go f.hold(d, addr)
		}
	}
	t.Cleanup(func() {
		close(f.stop)
		f.wg.Wait()
	})
	return f
}

func (f *raftFlood) hold(d *net.Dialer, addr string) {
	defer f.wg.Done()
	for {
		if c, err := d.Dial("tcp", addr); err == nil {
			f.connected.Add(1)
			closed := make(chan struct{})
			go func() {
				select {
				case <-f.stop:
				case <-closed:
				}
				c.Close()
			}()
			// Blocks until the server (or the end of the test) closes it.
			_, _ = c.Read(make([]byte, 1))
			close(closed)
		}
		// The attacker's pace: connect again a moment later.
		select {
		case <-f.stop:
			return
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// TestAttackRaftHandshakeFlood: an unauthenticated client floods the Raft
// listeners of two registry servers with 200 idle connections each, from
// 20 addresses, and keeps the flood up. The registry keeps committing, and
// the third server, restarted so that it holds no Raft connection, still
// connects to both when leadership is handed to it (it must dial them to
// win the election): the known registry servers' hosts keep handshake
// slots of their own. The dropped connections show in the metrics.
func TestAttackRaftHandshakeFlood(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA", "PL", "DE")
	nodes, _ := startFederation(t, fed, "UA", "PL", "DE")
	var leader, victim *regNode
	raftnettest.WaitFor(t, 10*time.Second, func() error {
		leader, victim = nil, nil
		for _, n := range nodes {
			if n.d.Registry().Raft().State() == raft.Leader {
				leader = n
			} else if victim == nil {
				victim = n
			}
		}
		if leader == nil {
			return fmt.Errorf("no leader")
		}
		return nil
	})
	// The victim restarts, so that it holds no Raft connection to the
	// others (a candidate dials them for their votes).
	if err := victim.d.Close(); err != nil {
		t.Fatal(err)
	}
	d, err := daemontest.Start(victim.cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	victim.d = d
	victim.user = coordClient(t, d, fed.User(victim.member, "analyst"), victim.member)
	mustExecute(t, leader.user, "before-flood", registry.CreateEntry{Kind: registry.KindTheme, Title: "before the flood"})
	waitCaughtUp(t, victim, leader)

	var flooded []*regNode
	for _, n := range nodes {
		if n != victim {
			flooded = append(flooded, n)
			f := startRaftFlood(t, n.cfg.Registry.RaftListen, 20, 10)
			raftnettest.WaitFor(t, 10*time.Second, func() error {
				if c := f.connected.Load(); c < 200 {
					return fmt.Errorf("%d flood connections to %s made, want 200", c, n.member)
				}
				return nil
			})
		}
	}

	// The registry keeps committing through the flood.
	for i := range 3 {
		mustExecute(t, leader.user, fmt.Sprintf("during-flood-%d", i), registry.CreateEntry{Kind: registry.KindTheme, Title: fmt.Sprintf("during the flood %d", i)})
	}
	// Leadership goes to the victim: it must connect to the flooded servers
	// to be elected.
	vid := victim.d.Registry().ID()
	raftnettest.WaitFor(t, 15*time.Second, func() error {
		if victim.d.Registry().Raft().State() == raft.Leader {
			return nil
		}
		for _, n := range flooded {
			if r := n.d.Registry().Raft(); r.State() == raft.Leader {
				if err := r.LeadershipTransferToServer(vid, raft.ServerAddress(victim.d.Registry().Address())).Error(); err != nil {
					return fmt.Errorf("transfer from %s to %s: %w", n.member, victim.member, err)
				}
			}
		}
		return fmt.Errorf("%s does not lead", victim.member)
	})
	mustExecute(t, victim.user, "victim-leads", registry.CreateEntry{Kind: registry.KindTheme, Title: "the victim leads"})
	for _, n := range flooded {
		waitCaughtUp(t, n, victim)
	}

	// The flood is counted: connections closed for want of a free slot,
	// and idle ones at the handshake timeout. (Per-source limits are
	// federation/raftnet's TestHandshakeSlotsPerSourceAndReserved: while
	// the shared slots are full, no source holds more.)
	for _, n := range flooded {
		raftnettest.WaitFor(t, 10*time.Second, func() error {
			busy := scrapeMetric(t, n.d.MetricsAddr(), `accord_raft_handshakes_dropped_total{reason="busy"}`)
			timeouts := scrapeMetric(t, n.d.MetricsAddr(), `accord_raft_handshakes_dropped_total{reason="timeout"}`)
			if busy == 0 || timeouts == 0 {
				return fmt.Errorf("%s: dropped handshakes: busy %v, timeout %v: want both counted", n.member, busy, timeouts)
			}
			return nil
		})
	}
}

// waitCaughtUp waits until n knows a leader and has applied what leader
// had committed when called. (Leadership may have moved since, on a loaded
// machine.)
func waitCaughtUp(t *testing.T, n, leader *regNode) {
	t.Helper()
	want := leader.d.Registry().Raft().CommitIndex()
	raftnettest.WaitFor(t, 10*time.Second, func() error {
		st, err := n.d.Registry().Status()
		if err != nil {
			return err
		}
		if st.AppliedIndex < want || st.LeaderID == "" {
			return fmt.Errorf("%s: applied %d of %d, leader %q", n.member, st.AppliedIndex, want, st.LeaderID)
		}
		return nil
	})
}
