package daemon_test

import (
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/accordfed/accord/federation/exchange"
	"github.com/accordfed/accord/federation/pki/pkitest"
	"github.com/accordfed/accord/federation/raftnet/raftnettest"
	"github.com/accordfed/accord/node/config"
	"github.com/accordfed/accord/node/daemon/daemontest"
)

// freezer relays connections to a node's federation listener over a link
// that a test can blackhole: the connections stay open and nothing comes
// through, as with a node whose process is stopped (SIGSTOP).
type freezer struct {
	link *raftnettest.Link
	ln   net.Listener
}

// newFreezer listens at addr and relays every connection to target.
func newFreezer(t *testing.T, addr, target string) *freezer {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	f := &freezer{link: raftnettest.NewLink(), ln: ln}
	wrapped := raftnettest.Listener(ln, f.link)
	go func() {
		for {
			c, err := wrapped.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				up, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer up.Close()
				go func() { _, _ = io.Copy(up, c); _ = up.Close() }()
				_, _ = io.Copy(c, up)
			}()
		}
	}()
	t.Cleanup(func() { f.link.Close(); _ = ln.Close() })
	return f
}

// TestFrozenPeerIsNotAnswering: with real nodes, a healthy idle peer is
// heard (heartbeats) and up to date long after its last change; a peer
// whose node freezes shows as not answering within about twice the
// heartbeat interval, its lag unknown, and as answering and caught up
// again once it thaws.
func TestFrozenPeerIsNotAnswering(t *testing.T) {
	// Long enough that a heartbeat is not late by twice the interval when
	// the race detector and the other packages' tests starve the node on
	// two cores (100 ms was, once in a whole-package run).
	const beat = 250 * time.Millisecond
	fed := pkitest.NewFederation(t, "accord.test", "UA", "PL")
	var frozen *freezer
	nodes, _ := daemontest.StartFederationConfigured(t, fed, nil, func(m string, cfg *config.Config) {
		cfg.Exchange.HeartbeatInterval = beat
		if m != "PL" {
			return
		}
		// The other members reach PL's node through the freezer, at the
		// address the registry lists for it.
		advertised := cfg.Listen
		cfg.Listen = daemontest.FreeAddrs(t, 1)[0]
		cfg.Registry.Advertise = advertised
		frozen = newFreezer(t, advertised, cfg.Listen)
	}, "UA", "PL")
	ua := nodes[0]
	status := func() exchange.PeerStatus {
		for _, s := range ua.D.Exchange().Status() {
			if s.Member == "PL" {
				return s
			}
		}
		return exchange.PeerStatus{}
	}
	var first exchange.PeerStatus
	raftnettest.WaitFor(t, 20*time.Second, func() error {
		first = status()
		if !first.Answering || first.LastHeard.IsZero() || first.Lag() != 0 {
			return fmt.Errorf("PL as UA sees it: answering %v, last heard %s, lag %d, error %q", first.Answering, first.LastHeard, first.Lag(), first.LastError)
		}
		return nil
	})
	// Idle: heard again and again, up to date, no change.
	raftnettest.WaitFor(t, 20*time.Second, func() error {
		s := status()
		if !s.Answering || s.BehindFor(time.Now()) != 0 || s.LastHeard.Sub(first.LastHeard) < 5*beat {
			return fmt.Errorf("idle PL: answering %v, behind for %s, last heard %s (first %s)", s.Answering, s.BehindFor(time.Now()), s.LastHeard, first.LastHeard)
		}
		return nil
	})

	// ... all along: watched for ten heartbeat intervals, an idle peer is
	// never taken for a silent one.
	tick := time.NewTicker(beat / 5)
	for end := time.Now().Add(10 * beat); time.Now().Before(end); <-tick.C {
		if s := status(); !s.Answering || s.LastError != "" {
			t.Fatalf("idle PL taken for a silent one: answering %v, error %q", s.Answering, s.LastError)
		}
	}
	tick.Stop()

	frozen.link.Blackhole()
	at := time.Now()
	raftnettest.WaitFor(t, 20*time.Second, func() error {
		if s := status(); s.Answering {
			return fmt.Errorf("frozen PL still answering: last heard %s", s.LastHeard)
		}
		return nil
	})
	if d := time.Since(at); d > 3*time.Second {
		t.Errorf("frozen PL noticed after %s (heartbeats every %s)", d, beat)
	}
	if s := status(); s.BehindFor(time.Now()) == 0 {
		t.Error("frozen PL: lag in time 0, want counted from the last time UA knew it was caught up")
	}
	raftnettest.WaitFor(t, 20*time.Second, func() error {
		if s := status(); !strings.Contains(s.LastError, exchange.ErrPeerSilent.Error()) {
			return fmt.Errorf("last error %q, want the silent stream closed", s.LastError)
		}
		return nil
	})

	frozen.link.Restore()
	raftnettest.WaitFor(t, 20*time.Second, func() error {
		if s := status(); !s.Answering || s.Lag() != 0 || s.BehindFor(time.Now()) != 0 {
			return fmt.Errorf("thawed PL: answering %v, lag %d, error %q", s.Answering, s.Lag(), s.LastError)
		}
		return nil
	})
}
