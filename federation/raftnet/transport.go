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
	// MaxRPCsInFlight bounds pipelined AppendEntries per follower (default
	// raft's, 2). A few more can help on long wide-area links; 1 disables
	// pipelining.
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
	return raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		ServerAddressProvider: opts.ServerAddressProvider,
		Logger:                NewHCLogger(opts.Logger, "raft-net"),
		Stream:                layer,
		MaxPool:               opts.MaxPool,
		MaxRPCsInFlight:       opts.MaxRPCsInFlight,
		Timeout:               opts.Timeout,
	})
}
