package raftnettest_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// talkServer accepts connections and, on each, sends "hello" at once and
// then echoes what it reads. It returns the address.
func talkServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
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
				if _, err := c.Write([]byte("hello")); err != nil {
					return
				}
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

// readWithin reads len(want) bytes within d and reports whether they came
// and equal want.
func readWithin(t *testing.T, c net.Conn, want string, d time.Duration) bool {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(d))
	defer func() { _ = c.SetReadDeadline(time.Time{}) }()
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c, got); err != nil {
		return false
	}
	if string(got) != want {
		t.Fatalf("read %q, want %q", got, want)
	}
	return true
}

// TestCutOneWay: with the direction a -> b cut, b's bytes still reach a
// on a connection a dialled, a's bytes are held (not lost) until Heal, a
// new connection hangs, and the other pair's links are untouched. The
// same holds with the names the other way round (b dials a).
func TestCutOneWay(t *testing.T) {
	for _, tc := range []struct{ dialer, server string }{{"a", "b"}, {"z", "b"}} {
		t.Run(tc.dialer+"-dials-"+tc.server, func(t *testing.T) {
			n := newNetwork(t)
			addr := talkServer(t)
			n.Register(tc.server, addr)
			c := dial(t, n, tc.dialer, addr)
			if !readWithin(t, c, "hello", 5*time.Second) {
				t.Fatal("no greeting before the cut")
			}
			// The dialler's own direction is cut: its bytes are held.
			n.CutOneWay(tc.dialer, tc.server)
			if !n.Link(tc.dialer, tc.server).Blackholed() || n.Link("c", tc.server).Blackholed() {
				t.Fatal("Blackholed does not report the one-way cut of this pair only")
			}
			if _, err := c.Write([]byte("ping")); err != nil {
				t.Fatal(err)
			}
			if readWithin(t, c, "ping", 200*time.Millisecond) {
				t.Fatal("bytes crossed the cut direction")
			}
			dctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
			defer cancel()
			if _, err := n.Dialer(tc.dialer)(dctx, "tcp", addr); err == nil {
				t.Fatal("a new connection was made across a one-way cut")
			}
			n.Heal()
			if !readWithin(t, c, "ping", 5*time.Second) {
				t.Fatal("held bytes not delivered after Heal")
			}

			// The server's direction is cut: the dialler's bytes reach the
			// server (its echo, once healed, proves it) while the echo is
			// held.
			n.CutOneWay(tc.server, tc.dialer)
			if _, err := c.Write([]byte("pong")); err != nil {
				t.Fatal(err)
			}
			if readWithin(t, c, "pong", 200*time.Millisecond) {
				t.Fatal("the echo crossed the cut direction")
			}
			n.Heal()
			if !readWithin(t, c, "pong", 5*time.Second) {
				t.Fatal("held echo not delivered after Heal")
			}
		})
	}
}

// TestLossStallsInOrder: under loss every chunk arrives, in order; with
// a loss rate of 1 each chunk is retransmitted six times, the timeout
// doubling, so a round trip takes at least 2*63 timeouts.
func TestLossStallsInOrder(t *testing.T) {
	n := newNetwork(t)
	addr := echoServer(t, nil)
	n.Register("b", addr)
	const rto = 5 * time.Millisecond
	n.SetLoss(1, rto)
	c := dial(t, n, "a", addr)
	if d := roundTrip(t, c, []byte("x")); d < 2*63*rto {
		t.Errorf("round trip under total loss took %s, want at least %s", d, 2*63*rto)
	}

	n.SetLoss(0.3, rto)
	var want bytes.Buffer
	done := make(chan []byte)
	go func() {
		got := make([]byte, 0, 64<<10)
		buf := make([]byte, 4096)
		_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
		for len(got) < 200*32 {
			k, err := c.Read(buf)
			got = append(got, buf[:k]...)
			if err != nil {
				break
			}
		}
		done <- got
	}()
	for i := range 200 {
		msg := bytes.Repeat([]byte{byte('a' + i%26)}, 32)
		want.Write(msg)
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
	}
	if got := <-done; !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("under 30%% loss %d bytes came back, not the %d sent in order", len(got), want.Len())
	}
	n.SetLoss(0, 0)
	if d := roundTrip(t, c, []byte("y")); d > time.Second {
		t.Errorf("round trip after the loss ended took %s", d)
	}
}
