package raftnet_test

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/accordfed/accord/federation/raftnet"
)

// idleLayer is a stream layer that never accepts or dials.
type idleLayer struct{ closed chan struct{} }

func (l idleLayer) Accept() (net.Conn, error) { <-l.closed; return nil, net.ErrClosed }
func (l idleLayer) Close() error              { close(l.closed); return nil }
func (l idleLayer) Addr() net.Addr            { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }
func (l idleLayer) Dial(raft.ServerAddress, time.Duration) (net.Conn, error) {
	return nil, errors.New("idle layer: no dialling")
}

// TestTransportDoesNotPipelineByDefault: the transport sends one
// AppendEntries at a time to each follower unless asked otherwise, since
// raft's pipelined replication can stop for good after a follower refuses
// an entry (see TransportOptions.MaxRPCsInFlight).
func TestTransportDoesNotPipelineByDefault(t *testing.T) {
	trans := raftnet.NewTransport(idleLayer{closed: make(chan struct{})}, raftnet.TransportOptions{})
	defer trans.Close()
	if _, err := trans.AppendEntriesPipeline("follower", "127.0.0.1:2"); !errors.Is(err, raft.ErrPipelineReplicationNotSupported) {
		t.Fatalf("AppendEntriesPipeline: %v, want ErrPipelineReplicationNotSupported", err)
	}
}

// tcpLayer is a plain TCP stream layer that only dials.
type tcpLayer struct{ closed chan struct{} }

func (l *tcpLayer) Accept() (net.Conn, error) { <-l.closed; return nil, net.ErrClosed }
func (l *tcpLayer) Close() error              { close(l.closed); return nil }
func (l *tcpLayer) Addr() net.Addr            { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }
func (l *tcpLayer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return net.DialTimeout("tcp", string(addr), timeout)
}

// within fails the test if f does not return within d.
func within(t *testing.T, d time.Duration, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s: blocked for %s", what, d)
	}
}

// TestPipelineDoesNotBlockWithoutConsumer: raft's decoder of a pipeline
// stops reading its answers when a follower refuses an AppendEntries; the
// sender must still get through (hashicorp/raft's own pipeline then blocks
// for good on the second AppendEntries) and Close must return. The answers
// are kept, in order, for a consumer that reads later.
func TestPipelineDoesNotBlockWithoutConsumer(t *testing.T) {
	server, err := raft.NewTCPTransport("127.0.0.1:0", nil, 2, 5*time.Second, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	go func() {
		for rpc := range server.Consumer() {
			req, ok := rpc.Command.(*raft.AppendEntriesRequest)
			if !ok {
				rpc.Respond(nil, io.ErrUnexpectedEOF)
				continue
			}
			rpc.Respond(&raft.AppendEntriesResponse{Term: req.Term, LastLog: req.PrevLogEntry + 1, Success: req.PrevLogEntry%2 == 0}, nil)
		}
	}()
	client := raftnet.NewTransport(&tcpLayer{closed: make(chan struct{})}, raftnet.TransportOptions{Timeout: 5 * time.Second, MaxRPCsInFlight: 2})
	defer client.Close()
	p, err := client.AppendEntriesPipeline("server", server.LocalAddr())
	if err != nil {
		t.Fatal(err)
	}
	const sends = 5
	within(t, 20*time.Second, "AppendEntries with nobody reading the answers", func() {
		for i := range sends {
			if _, err := p.AppendEntries(&raft.AppendEntriesRequest{Term: 1, PrevLogEntry: uint64(i)}, new(raft.AppendEntriesResponse)); err != nil {
				t.Errorf("AppendEntries %d: %v", i, err)
			}
		}
	})
	for i := range sends {
		select {
		case f := <-p.Consumer():
			if err := f.Error(); err != nil {
				t.Fatalf("answer %d: %v", i, err)
			}
			if got := f.Request().PrevLogEntry; got != uint64(i) {
				t.Fatalf("answer %d is for request %d: out of order", i, got)
			}
			if want := i%2 == 0; f.Response().Success != want {
				t.Fatalf("answer %d: success %v, want %v", i, f.Response().Success, want)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("answer %d never came", i)
		}
	}
	// Unread answers do not hold Close up either.
	within(t, 20*time.Second, "AppendEntries before Close", func() {
		for i := range 3 {
			if _, err := p.AppendEntries(&raft.AppendEntriesRequest{Term: 1, PrevLogEntry: uint64(i)}, new(raft.AppendEntriesResponse)); err != nil {
				t.Errorf("AppendEntries %d: %v", i, err)
			}
		}
	})
	within(t, 20*time.Second, "Close", func() {
		if err := p.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
}
