package exchange_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/accordfed/accord/federation/exchange"
	"github.com/accordfed/accord/federation/raftnet/raftnettest"
)

// streamsOpened counts the Sync streams n's service opened for peer.
func streamsOpened(n *node, peer string) int {
	n.audit.mu.Lock()
	defer n.audit.mu.Unlock()
	c := 0
	for _, ev := range n.audit.all {
		if ev.Kind == exchange.Served && ev.Peer == peer && ev.Stream == exchange.StreamOpened {
			c++
		}
	}
	return c
}

// peerStatus is node's puller's status of member.
func peerStatus(t *testing.T, n *node, member string) exchange.PeerStatus {
	t.Helper()
	for _, s := range n.puller.Status() {
		if s.Member == member {
			return s
		}
	}
	return exchange.PeerStatus{}
}

// TestHeartbeatsTellIdleFromFrozen: an idle feed keeps its follow stream
// alive with heartbeats, so the puller hears the peer (and knows itself up
// to date) long after the last change; a peer that freezes (its
// connections open, nothing sent, as a SIGSTOPped process) shows as not
// answering within about twice the heartbeat interval, its lag unknown,
// and the puller closes the silent stream with ErrPeerSilent; once the
// peer answers again, what it published meanwhile arrives.
func TestHeartbeatsTellIdleFromFrozen(t *testing.T) {
	const beat = 100 * time.Millisecond
	network := raftnettest.NewNetwork()
	t.Cleanup(network.Close)
	f := newFederationBeating(t, network, beat, "UA", "PL")
	for _, n := range f.nodes {
		n.start()
	}
	ua := f.nodes["UA"]
	f.generate("PL", 5, 1)
	want := len(f.ids("PL"))
	waitHeld(t, f, "UA", "PL", want)

	// Idle: heartbeats keep coming, no change does.
	var first exchange.PeerStatus
	raftnettest.WaitFor(t, 10*time.Second, func() error {
		if first = peerStatus(t, ua, "PL"); first.Received != want {
			return fmt.Errorf("UA counted %d of PL's records, want %d", first.Received, want)
		}
		return nil
	})
	raftnettest.WaitFor(t, 10*time.Second, func() error {
		s := peerStatus(t, ua, "PL")
		if !s.Answering || s.Lag() != 0 || s.BehindFor(time.Now()) != 0 {
			return fmt.Errorf("idle PL: answering %v, lag %d, behind for %s", s.Answering, s.Lag(), s.BehindFor(time.Now()))
		}
		if !s.LastChange.Equal(first.LastChange) {
			return fmt.Errorf("a change came from an idle feed: %s, then %s", first.LastChange, s.LastChange)
		}
		if s.LastHeard.Sub(s.LastChange) < 5*beat {
			return fmt.Errorf("last heard %s, last change %s: no heartbeats yet", s.LastHeard, s.LastChange)
		}
		return nil
	})
	// ... on the one stream: an idle peer is never taken for a silent one.
	if n := streamsOpened(f.nodes["PL"], "UA"); n != 1 {
		t.Errorf("UA opened %d streams on an idle PL, want 1 (silent streams closed?)", n)
	}

	// Frozen: PL's connections stay open, nothing comes through.
	network.Link("UA", "PL").Blackhole()
	frozen := time.Now()
	f.generate("PL", 3, 2)
	raftnettest.WaitFor(t, 10*time.Second, func() error {
		if s := peerStatus(t, ua, "PL"); s.Answering {
			return fmt.Errorf("frozen PL still answering: last heard %s, connected %v", s.LastHeard, s.Connected)
		}
		return nil
	})
	if d := time.Since(frozen); d > 2*time.Second {
		t.Errorf("a frozen peer was noticed after %s; heartbeats every %s", d, beat)
	}
	raftnettest.WaitFor(t, 10*time.Second, func() error {
		s := peerStatus(t, ua, "PL")
		if !strings.Contains(s.LastError, exchange.ErrPeerSilent.Error()) {
			return fmt.Errorf("last error %q, want the silent stream closed", s.LastError)
		}
		if s.BehindFor(time.Now()) == 0 {
			return errors.New("not answering, yet counted as caught up")
		}
		return nil
	})

	// Thawed: the changes made while frozen arrive.
	network.Heal()
	waitHeld(t, f, "UA", "PL", len(f.ids("PL")))
	raftnettest.WaitFor(t, 10*time.Second, func() error {
		if s := peerStatus(t, ua, "PL"); !s.Answering || s.Lag() != 0 {
			return fmt.Errorf("thawed PL: answering %v, lag %d", s.Answering, s.Lag())
		}
		return nil
	})
}
