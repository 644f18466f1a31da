package raftnet

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/accordfed/accord/federation/identity"
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
	// registry's disk-full test in cmd/accordd hit it). Transport's own
	// pipelines (below) remove that deadlock, but pipelining stays off
	// until the fault scenarios have run with it on as long as without.
	MaxRPCsInFlight int
	// ServerAddressProvider, when set, maps server IDs to addresses ahead
	// of raft's configuration.
	ServerAddressProvider raft.ServerAddressProvider
	// Expect and Refused, for the check of inbound RPCs' senders
	// (inbound.go): the identity at a raft address, and where refusals are
	// counted. Default: the layer's own, when it is a *StreamLayer.
	Expect  func(raft.ServerAddress) (identity.Identity, error)
	Refused func(side, remote string, err error)
}

// NewTransport returns a raft transport over layer (a *StreamLayer, or a
// wrapper of one). Closing the transport (raft does on Shutdown) closes
// the layer.
func NewTransport(layer raft.StreamLayer, opts TransportOptions) *Transport {
	if opts.MaxPool <= 0 {
		opts.MaxPool = DefaultMaxPool
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.MaxRPCsInFlight <= 0 {
		opts.MaxRPCsInFlight = 1
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	in := &inbound{layer: layer, expect: opts.Expect, refused: opts.Refused, logger: logger,
		consume: make(chan raft.RPC), ctx: ctx, cancel: cancel}
	if sl, ok := layer.(*StreamLayer); ok {
		if in.expect == nil {
			in.expect = sl.cfg.Expect
		}
		if in.refused == nil {
			in.refused = sl.cfg.Refused
		}
	}
	t := &Transport{in: in, NetworkTransport: raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		ServerAddressProvider: opts.ServerAddressProvider,
		Logger:                NewHCLogger(opts.Logger, "raft-net"),
		Stream:                acceptNothing{StreamLayer: layer, in: in},
		MaxPool:               opts.MaxPool,
		MaxRPCsInFlight:       opts.MaxRPCsInFlight,
		Timeout:               opts.Timeout,
	})}
	in.wg.Add(1)
	go in.acceptLoop()
	return t
}

// Transport is raft's NetworkTransport with pipelined replication that
// cannot block for good.
//
// In hashicorp/raft v1.7.3 a pipeline hands each answered AppendEntries to
// raft's decoder through an unbuffered channel (with the default two RPCs
// in flight). When a follower answers one with Success=false (a log
// mismatch after a leader change, a failed write) or a newer term, raft's
// decoder returns; the pipeline's own reader then waits for ever to hand
// over the next answer, the next AppendEntries waits for ever for that
// reader, and raft's sender, stuck in it, never sees that the decoder has
// stopped. The leader sends that follower no further entry (heartbeats
// still reach it, so it never stands for election) and Raft's Shutdown
// hangs waiting for the sender (hashicorp/raft#612; the fault tests of
// federation/registryraft hit it under leadership transfers). Transport's
// pipelines keep taking the answers off the pipeline at once and queue
// them for raft's decoder, so the reader never waits on the decoder and
// the sender always gets through to notice it has stopped.
//
// Inbound RPCs are served by the Transport itself (inbound.go), which
// refuses an RPC whose header names another server than the connection's
// authenticated peer.
type Transport struct {
	*raft.NetworkTransport
	in *inbound
}

// Consumer returns the inbound RPCs whose sender was checked.
func (t *Transport) Consumer() <-chan raft.RPC { return t.in.consume }

// SetHeartbeatHandler sets raft's fast path for heartbeats.
func (t *Transport) SetHeartbeatHandler(cb func(rpc raft.RPC)) {
	if cb == nil {
		t.in.heartbeat.Store(nil)
		return
	}
	t.in.heartbeat.Store(&cb)
}

// Close closes the transport and its layer and waits until every inbound
// connection is served.
func (t *Transport) Close() error {
	err := t.NetworkTransport.Close()
	t.in.close()
	t.in.wg.Wait()
	return err
}

// AppendEntriesPipeline returns a pipeline to the target server (see
// Transport).
func (t *Transport) AppendEntriesPipeline(id raft.ServerID, target raft.ServerAddress) (raft.AppendPipeline, error) {
	p, err := t.NetworkTransport.AppendEntriesPipeline(id, target)
	if err != nil {
		return nil, err
	}
	q := &pipeline{AppendPipeline: p, out: make(chan raft.AppendFuture), stop: make(chan struct{}), done: make(chan struct{})}
	go q.relay()
	return q, nil
}

// pipeline is a raft pipeline whose answered AppendEntries are queued for
// the consumer, never waiting on it.
type pipeline struct {
	raft.AppendPipeline
	out       chan raft.AppendFuture
	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// relay moves answered AppendEntries from the inner pipeline to out,
// queueing them while nobody reads out, until Close.
func (p *pipeline) relay() {
	defer close(p.done)
	in := p.AppendPipeline.Consumer()
	var queue []raft.AppendFuture
	for {
		var (
			out  chan raft.AppendFuture
			next raft.AppendFuture
		)
		if len(queue) > 0 {
			out, next = p.out, queue[0]
		}
		select {
		case f := <-in:
			queue = append(queue, f)
		case out <- next:
			queue[0] = nil
			queue = queue[1:]
		case <-p.stop:
			return
		}
	}
}

// Consumer returns the answered AppendEntries, in the order sent.
func (p *pipeline) Consumer() <-chan raft.AppendFuture { return p.out }

// Close closes the inner pipeline (and its connection) and stops the
// relay.
func (p *pipeline) Close() error {
	err := p.AppendPipeline.Close()
	p.closeOnce.Do(func() { close(p.stop) })
	<-p.done
	return err
}
