package raftnet_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/accordfed/accord/federation/pki/pkitest"
	"github.com/accordfed/accord/federation/raftnet"
	"github.com/accordfed/accord/federation/raftnet/raftnettest"
)

// drops records the layer's Dropped hook.
type drops struct {
	mu      sync.Mutex
	reasons []string
}

func (d *drops) add(reason, _ string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.reasons = append(d.reasons, reason)
}

func (d *drops) count(reason string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, r := range d.reasons {
		if r == reason {
			n++
		}
	}
	return n
}

// fromIP returns a dialer whose connections come from ip (any 127.0.0.x
// works on Linux loopback).
func fromIP(ip string) func(ctx context.Context, network, address string) (net.Conn, error) {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return d.DialContext
}

// idleFrom opens n TCP connections to addr from ip that never say a word.
func idleFrom(t *testing.T, ip, addr string, n int) []net.Conn {
	t.Helper()
	var conns []net.Conn
	for range n {
		c, err := fromIP(ip)(context.Background(), "tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		conns = append(conns, c)
	}
	return conns
}

// TestHandshakeSlotsPerSourceAndReserved: idle clients hold at most
// MaxHandshakesPerSource handshakes per source and MaxPendingHandshakes in
// all; others are closed at once, and a known registry server's source
// still has slots of its own while every shared one is taken.
func TestHandshakeSlotsPerSourceAndReserved(t *testing.T) {
	logger := raftnettest.NewLogger(t, slog.LevelInfo)
	fed := pkitest.NewFederation(t, "accord.test", "UA", "PL")
	ua := newSource(t, fed.Node("UA", "ua-1"), logger)
	pl := newSource(t, fed.Node("PL", "pl-1"), logger)
	known := netip.MustParseAddr("127.0.0.1")
	var dropped drops
	server := newLayer(t, ua, func(c *raftnet.Config) {
		c.MaxPendingHandshakes = 4
		c.MaxHandshakesPerSource = 2
		c.HandshakeTimeout = time.Minute // the idle clients hold their slots
		c.Reserved = func(ip netip.Addr) bool { return ip == known }
		c.Dropped = dropped.add
		c.Logger = logger
	})
	go func() {
		for {
			c, err := server.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	addr := server.Addr().String()
	book := raftnet.NewAddressBook()
	book.Set(raft.ServerAddress(addr), ua.Identity())
	dialFrom := func(ip string) error {
		client := newLayer(t, pl, func(c *raftnet.Config) {
			c.Expect = book.Expect
			c.DialContext = fromIP(ip)
		})
		c, err := client.Dial(raft.ServerAddress(addr), 5*time.Second)
		if err != nil {
			return err
		}
		return c.Close()
	}
	waitStats := func(what string, ok func(raftnet.Stats) bool) {
		t.Helper()
		raftnettest.WaitFor(t, 5*time.Second, func() error {
			if st := server.Stats(); !ok(st) {
				return fmt.Errorf("stats %+v: want %s", st, what)
			}
			return nil
		})
	}

	// One source: two slots, the third connection is closed at once.
	idleFrom(t, "127.0.0.2", addr, 3)
	waitStats("one connection over the source's limit dropped", func(st raftnet.Stats) bool { return st.DroppedSourceLimit == 1 })
	// Another source is not held up by the first.
	if err := dialFrom("127.0.0.3"); err != nil {
		t.Fatalf("a client from another source: %v", err)
	}
	// Its client finishes before the server gives the slot back (the
	// server hands the connection over after): wait for that, or the slot
	// would be free again below.
	waitStats("the other source's connection handed over", func(st raftnet.Stats) bool { return st.Accepted >= 1 })
	// Fill the shared slots from two more sources; the rest is refused.
	idleFrom(t, "127.0.0.4", addr, 2)
	idleFrom(t, "127.0.0.5", addr, 2)
	waitStats("the shared slots full", func(st raftnet.Stats) bool { return st.DroppedBusy >= 2 })
	if err := dialFrom("127.0.0.6"); err == nil {
		t.Fatal("a client of an unknown source was served while every shared slot was taken")
	}
	// A known registry server's source still connects, at once.
	start := time.Now()
	if err := dialFrom(known.String()); err != nil {
		t.Fatalf("a known server while the shared slots are taken: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the known server took %s to connect", d)
	}
	if n := dropped.count(raftnet.DropSourceLimit); n != 1 {
		t.Errorf("Dropped(%s) called %d times, want 1", raftnet.DropSourceLimit, n)
	}
	if n := dropped.count(raftnet.DropBusy); n < 3 {
		t.Errorf("Dropped(%s) called %d times, want at least 3", raftnet.DropBusy, n)
	}
	// The server counts a connection as accepted as it hands it on, which
	// may come just after the client has its confirmation.
	waitStats("the two clients accepted", func(st raftnet.Stats) bool { return st.Accepted == 2 })
}

// TestHandshakeTimeoutIsReported: an idle client is closed at the handshake
// timeout and reported as a timeout.
func TestHandshakeTimeoutIsReported(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA")
	ua := newSource(t, fed.Node("UA", "ua-1"), nil)
	var dropped drops
	server := newLayer(t, ua, func(c *raftnet.Config) {
		c.HandshakeTimeout = 200 * time.Millisecond
		c.Dropped = dropped.add
	})
	conns := idleFrom(t, "127.0.0.2", server.Addr().String(), 1)
	// The server closes the connection at its deadline.
	_ = conns[0].SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := conns[0].Read(make([]byte, 1)); err == nil {
		t.Fatal("the idle connection was not closed")
	}
	raftnettest.WaitFor(t, 5*time.Second, func() error {
		if n := dropped.count(raftnet.DropTimeout); n != 1 {
			return fmt.Errorf("Dropped(%s) called %d times, want 1", raftnet.DropTimeout, n)
		}
		if st := server.Stats(); st.TimedOut != 1 || st.InboundFailed != 1 {
			return fmt.Errorf("stats %+v: want one timed out", st)
		}
		return nil
	})
}

// TestSourcesResolveHosts: the set holds the hosts of Raft addresses, IP
// literals as they are and names resolved.
func TestSourcesResolveHosts(t *testing.T) {
	s := raftnet.NewSources()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.Update(ctx, nil, []string{"127.0.0.7:7000", "[::1]:7000", "localhost:7001", "no-such-host.invalid:7002"})
	if err == nil {
		t.Error("an unresolvable host gave no error")
	}
	for _, ip := range []string{"127.0.0.7", "::1", "::ffff:127.0.0.7"} {
		if !s.Contains(netip.MustParseAddr(ip)) {
			t.Errorf("%s: not contained", ip)
		}
	}
	if !s.Contains(netip.MustParseAddr("127.0.0.1")) && !s.Contains(netip.MustParseAddr("::1")) {
		t.Error("localhost was not resolved")
	}
	if s.Contains(netip.MustParseAddr("127.0.0.8")) {
		t.Error("127.0.0.8 contained")
	}
	if err := s.Update(context.Background(), nil, []string{"127.0.0.8:1"}); err != nil {
		t.Fatal(err)
	}
	if s.Contains(netip.MustParseAddr("127.0.0.7")) || !s.Contains(netip.MustParseAddr("127.0.0.8")) {
		t.Error("Update did not replace the set")
	}
}
