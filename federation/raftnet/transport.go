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
	// MaxRPCsInFlight bounds the AppendEntries in flight to each follower
	// (default 1: no pipelining). Two or more pipeline them, which
	// hashicorp/raft v1.7.3 can deadlock: when a follower refuses one
	// (its disk is full, it lacks the previous entry) while more are in
	// flight, the leader's replication to it stops for good, while its
	// heartbeats go on, so no election heals it (hashicorp/raft#612; the
	// registry's disk-full test in cmd/accordd hit it).
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
		opts.MaxRPCsInFlight = 1
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
