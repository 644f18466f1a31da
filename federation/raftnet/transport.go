package raftnet

import (
	"log/slog"
	"time"

	"github.com/hashicorp/raft"
)

// Defaults of TransportOptions.
const (
	// DefaultMaxPool is how many idle connections to each server are kept.
	DefaultMaxPool = 3
	// DefaultTimeout is the I/O deadline of one RPC (and of dialling).
	// It is well above any wide-area round trip; InstallSnapshot scales it
	// with the snapshot's size.
	DefaultTimeout = 10 * time.Second
	// DefaultMaxRPCsInFlight turns pipelined replication off (see
	// TransportOptions.MaxRPCsInFlight).
	DefaultMaxRPCsInFlight = 1
)

// TransportOptions tune NewTransport; the zero value is sensible.
type TransportOptions struct {
	// Logger receives the transport's log; nil discards.
	Logger *slog.Logger
	// MaxPool is how many idle connections to each server are kept
	// (default DefaultMaxPool).
	MaxPool int
	// Timeout is the I/O deadline of one RPC and of dialling (default
	// DefaultTimeout).
	Timeout time.Duration
	// MaxRPCsInFlight bounds pipelined AppendEntries per follower. The
	// default, 1, turns hashicorp/raft's pipelined replication off: in
	// v1.7.3 a follower that answers one pipelined AppendEntries with
	// Success=false (a log mismatch after a leader change, a failed write)
	// or a newer term can leave the leader's replication to it blocked for
	// good (the pipeline's decoder stops reading its responses while the
	// sender waits to hand it the next one): the follower never receives
	// another entry, though heartbeats still reach it, and Raft's Shutdown
	// hangs waiting for that replication (hashicorp/raft#612; the fault
	// tests of federation/registryraft hit it under leadership transfers).
	// Values of 2 or more turn pipelining back on, with that hazard.
	MaxRPCsInFlight int
	// ServerAddressProvider, when set, maps server IDs to addresses ahead
	// of raft's configuration.
	ServerAddressProvider raft.ServerAddressProvider
}

// NewTransport returns a raft transport over layer (a *StreamLayer, or a
// wrapper of one). Closing the transport (raft does on Shutdown) closes
// the layer.
func NewTransport(layer raft.StreamLayer, opts TransportOptions) *raft.NetworkTransport {
	if opts.MaxPool <= 0 {
		opts.MaxPool = DefaultMaxPool
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.MaxRPCsInFlight <= 0 {
		opts.MaxRPCsInFlight = DefaultMaxRPCsInFlight
	}
	return raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		ServerAddressProvider: opts.ServerAddressProvider,
		Logger:                NewHCLogger(opts.Logger, "raft-net"),
		Stream:                layer,
		MaxPool:               opts.MaxPool,
		MaxRPCsInFlight:       opts.MaxRPCsInFlight,
		Timeout:               opts.Timeout,
	})
}
