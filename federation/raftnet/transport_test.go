package raftnet_test

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/accordfed/accord/federation/raftnet"
)

// errDialled is what fakeLayer's Dial answers: the transport tried to
// connect.
var errDialled = errors.New("dialled")

// fakeLayer is a stream layer that accepts nothing and dials nowhere.
type fakeLayer struct{ closed chan struct{} }

func (l *fakeLayer) Accept() (net.Conn, error) { <-l.closed; return nil, net.ErrClosed }
func (l *fakeLayer) Close() error              { close(l.closed); return nil }
func (l *fakeLayer) Addr() net.Addr            { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }
func (l *fakeLayer) Dial(raft.ServerAddress, time.Duration) (net.Conn, error) {
	return nil, errDialled
}

// TestTransportDoesNotPipeline: by default the transport refuses pipelined
// replication (raft then replicates one AppendEntries at a time), which in
// hashicorp/raft v1.7.3 can block a follower's replication and Raft's
// Shutdown for good; MaxRPCsInFlight of 2 or more turns it back on.
func TestTransportDoesNotPipeline(t *testing.T) {
	trans := raftnet.NewTransport(&fakeLayer{closed: make(chan struct{})}, raftnet.TransportOptions{})
	defer trans.Close()
	if _, err := trans.AppendEntriesPipeline("s1", "127.0.0.1:2"); !errors.Is(err, raft.ErrPipelineReplicationNotSupported) {
		t.Fatalf("default transport: AppendEntriesPipeline err = %v, want ErrPipelineReplicationNotSupported", err)
	}
	piped := raftnet.NewTransport(&fakeLayer{closed: make(chan struct{})}, raftnet.TransportOptions{MaxRPCsInFlight: 2})
	defer piped.Close()
	if _, err := piped.AppendEntriesPipeline("s1", "127.0.0.1:2"); !errors.Is(err, errDialled) {
		t.Fatalf("MaxRPCsInFlight 2: AppendEntriesPipeline err = %v, want a dial (pipelining on)", err)
	}
}
