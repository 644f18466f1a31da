package raftnettest_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/accordfed/accord/federation/raftnet/raftnettest"
)

// echoServer echoes every connection; it returns the address.
func echoServer(t *testing.T, wrap func(net.Listener) net.Listener) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if wrap != nil {
		ln = wrap(ln)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	return addr
}

func newNetwork(t *testing.T) *raftnettest.Network {
	n := raftnettest.NewNetwork()
	t.Cleanup(n.Close)
	return n
}

func dial(t *testing.T, n *raftnettest.Network, from, addr string) net.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := n.Dialer(from)(ctx, "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// roundTrip writes msg and reads the echo; it returns how long that took.
func roundTrip(t *testing.T, c net.Conn, msg []byte) time.Duration {
	t.Helper()
	start := time.Now()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, msg) {
		t.Fatal("echo differs from what was sent")
	}
	return time.Since(start)
}

func TestLatencyDelaysEachDirection(t *testing.T) {
	const latency = 40 * time.Millisecond
	n := newNetwork(t)
	addr := echoServer(t, nil)
	n.Register("b", addr)
	n.SetLatency(latency)

	start := time.Now()
	c := dial(t, n, "a", addr)
	if d := time.Since(start); d < 2*latency {
		t.Errorf("dial took %s, want at least a round trip (%s)", d, 2*latency)
	}
	if d := roundTrip(t, c, []byte("ping")); d < 2*latency {
		t.Errorf("round trip took %s, want at least %s", d, 2*latency)
	}
	if c.RemoteAddr().String() != addr {
		t.Errorf("RemoteAddr = %s, want %s", c.RemoteAddr(), addr)
	}

	// Many writes arrive whole and in order.
	msg := make([]byte, 1<<20)
	_, _ = rand.Read(msg)
	roundTrip(t, c, msg)

	// Latency can change on a live connection.
	n.Link("a", "b").SetLatency(0)
	if d := roundTrip(t, c, []byte("fast")); d >= 2*latency {
		t.Errorf("round trip without latency took %s", d)
	}
}

func TestListenerWrapsAcceptedConnections(t *testing.T) {
	const latency = 30 * time.Millisecond
	link := raftnettest.NewLink()
	t.Cleanup(link.Close)
	link.SetLatency(latency)
	addr := echoServer(t, func(ln net.Listener) net.Listener { return raftnettest.Listener(ln, link) })
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if d := roundTrip(t, c, []byte("ping")); d < 2*latency {
		t.Errorf("round trip took %s, want at least %s", d, 2*latency)
	}
}

func TestBlackholeHoldsBytesUntilRestore(t *testing.T) {
	n := newNetwork(t)
	addr := echoServer(t, nil)
	n.Register("b", addr)
	c := dial(t, n, "a", addr)
	roundTrip(t, c, []byte("before"))

	link := n.Link("b", "a")
	link.Blackhole()
	if !link.Blackholed() {
		t.Fatal("Blackholed() = false after Blackhole")
	}
	if _, err := c.Write([]byte("held")); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if _, err := c.Read(make([]byte, 4)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read through a blackhole: %v, want a deadline error", err)
	}

	link.Restore()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got := make([]byte, 4)
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "held" {
		t.Fatalf("after Restore: %q, %v; want the held bytes", got, err)
	}
}

func TestDialHangsWhileIsolated(t *testing.T) {
	n := newNetwork(t)
	addr := echoServer(t, nil)
	n.Register("a", "127.0.0.1:1")
	n.Register("b", addr)
	n.Isolate("b")
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := n.Dialer("a")(ctx, "tcp", addr); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("dial into an isolated node: %v, want a deadline error", err)
	}
	n.Heal()
	roundTrip(t, dial(t, n, "a", addr), []byte("healed"))
}

func TestPartition(t *testing.T) {
	n := newNetwork(t)
	for _, name := range []string{"a", "b", "c", "d"} {
		n.Register(name, name+":1")
	}
	n.Partition([]string{"a", "b"}, []string{"c"})
	for _, tc := range []struct {
		a, b string
		cut  bool
	}{{"a", "b", false}, {"a", "c", true}, {"b", "c", true}, {"d", "a", true}, {"d", "c", true}} {
		if got := n.Link(tc.a, tc.b).Blackholed(); got != tc.cut {
			t.Errorf("link %s-%s blackholed = %v, want %v", tc.a, tc.b, got, tc.cut)
		}
	}
	n.Heal()
	if n.Link("a", "c").Blackholed() {
		t.Error("Heal left a link blackholed")
	}
}

func TestResetClosesConnections(t *testing.T) {
	n := newNetwork(t)
	addr := echoServer(t, nil)
	n.Register("b", addr)
	c := dial(t, n, "a", addr)
	roundTrip(t, c, []byte("x"))
	if got := n.Link("a", "b").Reset(); got != 1 {
		t.Fatalf("Reset closed %d connections, want 1", got)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("read after Reset: %v, want EOF", err)
	}
	// A new connection works.
	roundTrip(t, dial(t, n, "a", addr), []byte("y"))
}

func TestDialerRefusesUnknownAddress(t *testing.T) {
	n := newNetwork(t)
	if _, err := n.Dialer("a")(context.Background(), "tcp", "127.0.0.1:1"); err == nil {
		t.Fatal("dial to an unregistered address succeeded")
	}
}

func TestCloseStopsRelays(t *testing.T) {
	n := raftnettest.NewNetwork()
	addr := echoServer(t, nil)
	n.Register("b", addr)
	n.SetLatency(10 * time.Millisecond)
	c := dial(t, n, "a", addr)
	roundTrip(t, c, []byte("x"))
	n.Close() // waits for the relays
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("connection still open after Close")
	}
	// Dialling still works, but the connection is closed at once.
	c2, err := n.Dialer("a")(context.Background(), "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	_ = c2.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c2.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("read on a connection dialled after Close: %v, want EOF", err)
	}
}

func TestWaitFor(t *testing.T) {
	calls := 0
	raftnettest.WaitFor(t, time.Second, func() error {
		calls++
		if calls < 3 {
			return errors.New("not yet")
		}
		return nil
	})
	if calls != 3 {
		t.Errorf("f called %d times, want 3", calls)
	}
}
