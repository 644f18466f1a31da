package raftnet_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/mtls"
	"github.com/accordfed/accord/federation/pki/pkitest"
	"github.com/accordfed/accord/federation/raftnet"
	"github.com/accordfed/accord/federation/raftnet/raftnettest"
)

// rawDial makes a TLS connection with cfg and waits for the server's
// verdict: nil only if the server sent the acceptance byte.
func rawDial(addr string, cfg *tls.Config) error {
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	var b [1]byte
	if _, err := io.ReadFull(c, b[:]); err != nil {
		return err
	}
	if b[0] != 1 {
		return fmt.Errorf("server sent %#x", b[0])
	}
	return nil
}

// TestRefusedPeersNeverReachRaft: a raft server refuses, during the
// handshake, a valid node of a member that is not a registry server, a
// node of a registry member that is not itself a server, a user of a
// registry member, and clients that do not speak the raft ALPN; raft never
// sees any of those connections. An allowed server then gets through.
func TestRefusedPeersNeverReachRaft(t *testing.T) {
	logger := raftnettest.NewLogger(t, slog.LevelInfo)
	fed := pkitest.NewFederation(t, "accord.test", "UA", "PL", "DE")
	srvSrc := newSource(t, fed.Node("UA", "ua-1"), logger)
	plSrc := newSource(t, fed.Node("PL", "pl-1"), logger)
	allow := newAllowSet(srvSrc.Identity(), plSrc.Identity())
	rec := &refusals{}
	layer := newLayer(t, srvSrc, func(c *raftnet.Config) {
		c.Allow = allow.allow
		c.Refused = rec.add
		c.Logger = logger
	})
	counting := &countingLayer{StreamLayer: layer}
	addr := raft.ServerAddress(layer.Addr().String())

	// A single-server raft group over the counting layer.
	conf := raft.DefaultConfig()
	conf.LocalID = raftnet.ServerID(srvSrc.Identity())
	conf.Logger = raftnet.NewHCLogger(logger, "raft")
	conf.HeartbeatTimeout, conf.ElectionTimeout, conf.LeaderLeaseTimeout = 100*time.Millisecond, 100*time.Millisecond, 50*time.Millisecond
	store := raft.NewInmemStore()
	r, err := raft.NewRaft(conf, &countFSM{}, store, store, raft.NewInmemSnapshotStore(), raftnet.NewTransport(counting, raftnet.TransportOptions{Logger: logger}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Shutdown().Error() })
	if err := r.BootstrapCluster(raft.Configuration{Servers: []raft.Server{{ID: conf.LocalID, Address: addr}}}).Error(); err != nil {
		t.Fatal(err)
	}
	raftnettest.WaitFor(t, 5*time.Second, func() error {
		if st := r.State(); st != raft.Leader {
			return fmt.Errorf("raft state %s, want Leader", st)
		}
		return nil
	})

	// dialFrom dials the server with a layer of its own, which expects the
	// right server and allows it.
	dialFrom := func(cfg mtls.Config) error {
		book := raftnet.NewAddressBook()
		book.Set(addr, srvSrc.Identity())
		l := newLayer(t, newSource(t, cfg, logger), func(c *raftnet.Config) { c.Expect = book.Expect })
		c, err := l.Dial(addr, 5*time.Second)
		if err == nil {
			c.Close()
		}
		return err
	}
	refused := []struct {
		name string
		cfg  mtls.Config
	}{
		{"node of a member that is not a registry server", fed.Node("DE", "de-1")},
		{"node of a registry member that is not a server", fed.Node("PL", "pl-2")},
		{"user of a registry member", fed.User("UA", "analyst-7")},
	}
	for _, tc := range refused {
		err := dialFrom(tc.cfg)
		if err == nil {
			t.Errorf("%s: dial succeeded, want refused", tc.name)
			continue
		}
		t.Logf("%s: %v", tc.name, err)
		if r := raftnet.Reason(err); r != "remote_refused" {
			t.Errorf("%s: reason %q, want remote_refused", tc.name, r)
		}
	}

	// An allowed node offering gRPC's ALPN, or none at all.
	h2 := plSrc.ClientConfig(nil)
	h2.NextProtos = []string{"h2"}
	if err := rawDial(string(addr), h2); err == nil {
		t.Error("client offering h2: accepted, want refused")
	}
	if err := rawDial(string(addr), plSrc.ClientConfig(nil)); err == nil {
		t.Error("client offering no ALPN: accepted, want refused")
	}
	// Not TLS at all.
	raw, err := net.Dial("tcp", string(addr))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = raw.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	_, _ = io.Copy(io.Discard, raw) // until the server hangs up
	raw.Close()

	raftnettest.WaitFor(t, 5*time.Second, func() error {
		if st := layer.Stats(); st.InboundFailed != 6 {
			return fmt.Errorf("stats %+v: want 6 failed inbound connections", st)
		}
		return nil
	})
	got := rec.all()
	slices.Sort(got)
	want := []string{"server:not_allowed", "server:not_allowed", "server:not_allowed", "server:protocol"}
	if !slices.Equal(got, want) {
		t.Errorf("refusals = %q, want %q", got, want)
	}
	if n := counting.accepted.Load(); n != 0 {
		t.Fatalf("raft accepted %d connections from refused peers", n)
	}

	// The control: an allowed server gets through to raft.
	if err := dialFrom(fed.Node("PL", "pl-1")); err != nil {
		t.Fatalf("allowed server: %v", err)
	}
	// The layer counts a connection once raft has taken it: poll both.
	raftnettest.WaitFor(t, 5*time.Second, func() error {
		if n := counting.accepted.Load(); n != 1 {
			return fmt.Errorf("raft accepted %d connections, want 1", n)
		}
		if st := layer.Stats(); st.Accepted != 1 || st.Refused != 4 {
			return fmt.Errorf("stats %+v: want 1 accepted, 4 refused", st)
		}
		return nil
	})
	if r.State() != raft.Leader {
		t.Errorf("raft state %s, want Leader", r.State())
	}
}

// TestDialRefusesUnexpectedServer: Dial refuses a server that is not the
// identity expected at the address, one that is not a registry server, and
// one that does not speak the raft ALPN; it dials nothing for an address
// with no expected identity.
func TestDialRefusesUnexpectedServer(t *testing.T) {
	logger := raftnettest.NewLogger(t, slog.LevelInfo)
	fed := pkitest.NewFederation(t, "accord.test", "UA", "PL", "DE")
	ua := newSource(t, fed.Node("UA", "ua-1"), logger)
	pl := newSource(t, fed.Node("PL", "pl-1"), logger)
	ua2 := newSource(t, fed.Node("UA", "ua-2"), logger)
	de := newSource(t, fed.Node("DE", "de-1"), logger)

	// Servers, each accepting everyone.
	plLayer := newLayer(t, pl, nil)
	ua2Layer := newLayer(t, ua2, nil)
	deLayer := newLayer(t, de, nil)
	grpcLike, err := tls.Listen("tcp", "127.0.0.1:0", pl.ServerConfig()) // h2, like the gRPC server
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { grpcLike.Close() })
	go func() {
		for {
			c, err := grpcLike.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				_ = c.(*tls.Conn).Handshake()
				_, _ = c.Write([]byte{1})
			}()
		}
	}()

	book := raftnet.NewAddressBook()
	allow := newAllowSet(ua.Identity(), pl.Identity(), ua2.Identity())
	rec := &refusals{}
	var dials atomic.Int64
	client := newLayer(t, ua, func(c *raftnet.Config) {
		c.Allow = allow.allow
		c.Expect = book.Expect
		c.Refused = rec.add
		c.Logger = logger
		c.DialContext = func(ctx context.Context, network, address string) (net.Conn, error) {
			dials.Add(1)
			return (&net.Dialer{}).DialContext(ctx, network, address)
		}
	})
	addrOf := func(l net.Listener) raft.ServerAddress { return raft.ServerAddress(l.Addr().String()) }

	cases := []struct {
		name   string
		addr   raft.ServerAddress
		expect identity.Identity
		is     error
		reason string
	}{
		{"another registry server than expected", addrOf(plLayer), ua2.Identity(), mtls.ErrUnexpectedPeer, "client:unexpected_peer"},
		{"another node of the expected member", addrOf(ua2Layer), idOf(fed, "UA", "ua-3"), mtls.ErrUnexpectedPeer, "client:unexpected_peer"},
		{"expected but not a registry server", addrOf(deLayer), de.Identity(), raftnet.ErrNotAllowed, "client:not_allowed"},
		{"expected server speaking h2 only", addrOf(grpcLike), pl.Identity(), nil, ""},
	}
	for _, tc := range cases {
		book.Set(tc.addr, tc.expect)
		before := len(rec.all())
		c, err := client.Dial(tc.addr, 5*time.Second)
		if err == nil {
			c.Close()
			t.Errorf("%s: dial succeeded, want refused", tc.name)
			continue
		}
		t.Logf("%s: %v", tc.name, err)
		if tc.is != nil && !errors.Is(err, tc.is) {
			t.Errorf("%s: error %v, want %v", tc.name, err, tc.is)
		}
		if got := rec.all()[before:]; tc.reason != "" && !slices.Equal(got, []string{tc.reason}) {
			t.Errorf("%s: refusals %q, want %q", tc.name, got, tc.reason)
		}
	}
	for _, l := range []*raftnet.StreamLayer{plLayer, ua2Layer, deLayer} {
		if st := l.Stats(); st.Accepted != 0 {
			t.Errorf("server %s handed a refused connection to raft: %+v", l.Addr(), st)
		}
	}

	// No expected identity: nothing is dialled.
	n := dials.Load()
	if _, err := client.Dial("127.0.0.1:1", time.Second); !errors.Is(err, raftnet.ErrUnknownAddress) {
		t.Errorf("unknown address: error %v, want ErrUnknownAddress", err)
	}
	if dials.Load() != n {
		t.Error("unknown address was dialled")
	}

	// The expected server gets through.
	book.Set(addrOf(plLayer), pl.Identity())
	c, err := client.Dial(addrOf(plLayer), 5*time.Second)
	if err != nil {
		t.Fatalf("expected server: %v", err)
	}
	c.Close()
	if st := client.Stats(); st.Dialled != 1 || st.DialFailed != 5 {
		t.Errorf("client stats %+v: want 1 dialled, 5 failed", st)
	}
}

func idOf(fed *pkitest.Federation, member, name string) identity.Identity {
	return identity.Identity{Federation: fed.Name, Member: member, Kind: identity.KindNode, Name: name}
}

// TestRecheckClosesConnectionsOfPeersNoLongerAllowed: when a node stops
// being a registry server, Recheck closes its live connections on both
// sides.
func TestRecheckClosesConnectionsOfPeersNoLongerAllowed(t *testing.T) {
	logger := raftnettest.NewLogger(t, slog.LevelInfo)
	fed := pkitest.NewFederation(t, "accord.test", "UA", "PL")
	ua := newSource(t, fed.Node("UA", "ua-1"), logger)
	pl := newSource(t, fed.Node("PL", "pl-1"), logger)
	allow := newAllowSet(ua.Identity(), pl.Identity())
	server := newLayer(t, ua, func(c *raftnet.Config) { c.Allow = allow.allow })
	book := raftnet.NewAddressBook()
	addr := raft.ServerAddress(server.Addr().String())
	book.Set(addr, ua.Identity())
	client := newLayer(t, pl, func(c *raftnet.Config) { c.Allow = allow.allow; c.Expect = book.Expect })

	cc, err := client.Dial(addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	sc, err := server.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	if n := server.Recheck(); n != 0 {
		t.Fatalf("Recheck closed %d connections of an allowed peer", n)
	}

	allow.set(pl.Identity(), false)
	if n := server.Recheck(); n != 1 {
		t.Fatalf("server Recheck closed %d connections, want 1", n)
	}
	_ = cc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := cc.Read(make([]byte, 1)); err == nil {
		t.Fatal("client connection still open after the server's Recheck")
	}
	allow.set(ua.Identity(), false)
	if n := client.Recheck(); n != 1 {
		t.Fatalf("client Recheck closed %d connections, want 1", n)
	}
	if st := server.Stats(); st.Open != 0 {
		t.Errorf("server stats %+v: want no open connection", st)
	}
}

// TestSilentClientsDoNotBlockAccept: clients that connect and never
// handshake neither stall other clients nor hold a handshake slot beyond
// the handshake timeout.
func TestSilentClientsDoNotBlockAccept(t *testing.T) {
	const handshakeTimeout = 500 * time.Millisecond
	logger := raftnettest.NewLogger(t, slog.LevelInfo)
	fed := pkitest.NewFederation(t, "accord.test", "UA", "PL")
	ua := newSource(t, fed.Node("UA", "ua-1"), logger)
	pl := newSource(t, fed.Node("PL", "pl-1"), logger)
	server := newLayer(t, ua, func(c *raftnet.Config) {
		c.MaxPendingHandshakes = 2
		c.HandshakeTimeout = handshakeTimeout
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
	addr := raft.ServerAddress(server.Addr().String())
	silent := func(n int) {
		for range n {
			c, err := net.Dial("tcp", string(addr))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
		}
	}
	book := raftnet.NewAddressBook()
	book.Set(addr, ua.Identity())
	client := newLayer(t, pl, func(c *raftnet.Config) { c.Expect = book.Expect })
	dial := func() time.Duration {
		t.Helper()
		start := time.Now()
		c, err := client.Dial(addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		return time.Since(start)
	}

	// A silent client holds one slot; the other serves at once.
	silent(1)
	if d := dial(); d >= handshakeTimeout {
		t.Errorf("dial beside a silent client took %s, not less than the handshake timeout", d)
	}
	// Silent clients in every slot: a client that finds none is closed at
	// once (and dials again); the silent ones time out and free theirs.
	raftnettest.WaitFor(t, 5*time.Second, func() error {
		if st := server.Stats(); st.TimedOut != 1 {
			return fmt.Errorf("stats %+v: want the first silent client timed out", st)
		}
		return nil
	})
	silent(2)
	raftnettest.WaitFor(t, 5*time.Second, func() error {
		c, err := client.Dial(addr, 5*time.Second)
		if err != nil {
			return err
		}
		return c.Close()
	})
	raftnettest.WaitFor(t, 5*time.Second, func() error {
		if st := server.Stats(); st.TimedOut != 3 || st.Accepted != 2 {
			return fmt.Errorf("stats %+v: want 3 silent clients timed out and 2 accepted", st)
		}
		return nil
	})
}

func TestCloseUnblocksAcceptAndRefusesDial(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA")
	ua := newSource(t, fed.Node("UA", "ua-1"), nil)
	l := newLayer(t, ua, nil)
	done := make(chan error, 1)
	go func() {
		_, err := l.Accept()
		done <- err
	}()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, raftnet.ErrClosed) {
		t.Errorf("Accept after Close: %v, want ErrClosed", err)
	}
	if _, err := l.Dial("127.0.0.1:1", time.Second); !errors.Is(err, raftnet.ErrClosed) {
		t.Errorf("Dial after Close: %v, want ErrClosed", err)
	}
}

func TestConfigValidate(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA")
	src := newSource(t, fed.Node("UA", "ua-1"), nil)
	ln := listen(t)
	defer ln.Close()
	wildcard, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer wildcard.Close()
	good := func() raftnet.Config {
		return raftnet.Config{Listener: ln, Source: src, Allow: allowAll, Expect: raftnet.NewAddressBook().Expect}
	}
	cases := []struct {
		name   string
		mutate func(*raftnet.Config)
		field  string
	}{
		{"no listener", func(c *raftnet.Config) { c.Listener = nil }, "listener"},
		{"no source", func(c *raftnet.Config) { c.Source = nil }, "source"},
		{"no allow", func(c *raftnet.Config) { c.Allow = nil }, "allow"},
		{"no expect", func(c *raftnet.Config) { c.Expect = nil }, "expect"},
		{"wildcard listener, no advertise", func(c *raftnet.Config) { c.Listener = wildcard }, "advertise"},
		{"bad advertise", func(c *raftnet.Config) { c.Advertise = "node-1" }, "advertise"},
		{"advertise port 0", func(c *raftnet.Config) { c.Advertise = "node-1:0" }, "advertise"},
		{"negative timeout", func(c *raftnet.Config) { c.HandshakeTimeout = -time.Second }, "handshake_timeout"},
	}
	for _, tc := range cases {
		cfg := good()
		tc.mutate(&cfg)
		err := cfg.Validate()
		if !errors.Is(err, raftnet.ErrConfig) || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: %v, want ErrConfig naming %s", tc.name, err, tc.field)
		}
	}
	cfg := good()
	cfg.Listener = wildcard
	cfg.Advertise = "node-1.example:7000"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if cfg.HandshakeTimeout != raftnet.DefaultHandshakeTimeout || cfg.MaxPendingHandshakes != raftnet.DefaultMaxPendingHandshakes || cfg.DialContext == nil || cfg.Logger == nil {
		t.Errorf("defaults not filled: %+v", cfg)
	}
}
