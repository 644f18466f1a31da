package raftnet_test

import (
	"errors"
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
