package registryraft

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/hashicorp/raft"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/accordfed/accord/federation/raftnet"
	"github.com/accordfed/accord/federation/registry"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// Apply proposes cmd on behalf of this node: the node sets the command's
// member and acting node to its own identity (cmd.Actor.User, when set, is
// the user the caller verified), signs it with its certificate's key, and
// the leader stamps its time. On a
// follower the command is forwarded to the leader. While there is no leader
// Apply waits; when the outcome of an attempt is unknown (leadership lost,
// a forwarded call broken) it tries again with the same request id, which
// the state machine applies at most once. ctx bounds the whole.
//
// A command the state machine refused returns an error wrapping the
// registry sentinel (registry.ErrInvalidArgument, ...); it changed nothing.
func (n *Node) Apply(ctx context.Context, cmd *registry.Command) (registry.Outcome, error) {
	out, _, err := n.ApplyIndex(ctx, cmd)
	return out, err
}

// ApplyIndex is Apply that also returns the Raft log index the command was
// applied at (for a retry answered from the exactly-once table, the index
// of the retry).
func (n *Node) ApplyIndex(ctx context.Context, cmd *registry.Command) (registry.Outcome, uint64, error) {
	if cmd == nil {
		return registry.Outcome{}, 0, fmt.Errorf("%w: command: required", registry.ErrInvalidArgument)
	}
	c := *cmd
	c.Member = n.self.Member
	c.Actor.Node = n.self.String()
	n.versioned(&c)
	// A command this node made in the current version on its own opinion of
	// the group may reach a leader that does not write it yet (its switch
	// lags this node's, or the group changed): that leader refuses it
	// before appending it, and the command is tried again in the previous
	// version, which every build applies.
	downgrade := c.Version == registry.CommandVersion && cmd.Version == registry.CommandVersion
	// alone is set once the leader refused this command signed in a batch
	// (its group does not check batch signatures yet).
	alone := false
	for {
		if n.closed.Load() || n.raft == nil || n.raft.State() == raft.Shutdown {
			return registry.Outcome{}, 0, ErrClosed
		}
		changed := n.leaderWait()
		var (
			out   registry.Outcome
			index uint64
			err   error
			retry bool
		)
		// Signed again on every attempt: the signature carries the index
		// the node has seen and the time, both checked by every replica.
		// A command forwarded in a batch is signed with the batch, when
		// its call leaves (submitBatch).
		_, leader := n.raft.LeaderWithID()
		inBatch := false
		switch {
		case n.raft.State() == raft.Leader, leader == "":
		default:
			inBatch = !alone && c.Version == registry.CommandVersion && n.signsBatches() && n.fwd.batches(leader, n.cfg.Clock())
		}
		if !inBatch {
			if err := n.sign(&c); err != nil {
				return registry.Outcome{}, 0, err
			}
		}
		switch {
		case n.raft.State() == raft.Leader:
			out, index, retry, err = n.applyLocal(ctx, &c)
		case leader == "":
			retry = true
		default:
			out, index, retry, err = n.forwardBatched(ctx, changed, leader, &c, inBatch)
		}
		if inBatch && isBatchRefusal(err) {
			n.logger.Info("registry write: the leader does not take batch-signed commands yet; signing it alone",
				"request_id", c.RequestID, "err", err)
			alone, retry = true, true
		}
		if downgrade && isVersionRefusal(err) {
			n.logger.Info("registry write: the leader does not write command version 3 yet; trying again in version 2",
				"request_id", c.RequestID, "err", err)
			c.Version, downgrade, retry = registry.LegacyCommandVersion, false, true
		}
		if !retry {
			return out, index, err
		}
		if err != nil {
			n.logger.Debug("registry write: retrying", "request_id", c.RequestID, "err", err)
		}
		if werr := n.wait(ctx, changed); werr != nil {
			if err != nil {
				return registry.Outcome{}, 0, fmt.Errorf("%w (last attempt: %w)", werr, err)
			}
			return registry.Outcome{}, 0, fmt.Errorf("%w: waiting for a registry leader", werr)
		}
	}
}

// sign signs c as this node, having seen the state machine's applied
// index.
func (n *Node) sign(c *registry.Command) error {
	return c.Sign(n.cfg.Certificate(), n.fsm.AppliedIndex(), n.cfg.Clock())
}

// applyLocal stamps and appends a command on this node, which believes it
// is the leader. retry says that the outcome is unknown or that this node
// is not the leader, so the caller should try again.
func (n *Node) applyLocal(ctx context.Context, c *registry.Command) (out registry.Outcome, index uint64, retry bool, err error) {
	// JSON decoding would replace invalid UTF-8 with U+FFFD and store the
	// damaged text; the command is refused instead, before it is proposed.
	// (A version 3 command's strings are checked by its encoding.)
	if c.Version == registry.LegacyCommandVersion && !utf8.Valid(c.PayloadJSON) {
		return registry.Outcome{}, 0, false, fmt.Errorf("%w: payload: not valid UTF-8", registry.ErrInvalidArgument)
	}
	if err := n.checkWriteVersion(c); err != nil {
		return registry.Outcome{}, 0, false, err
	}
	// Checked here, on the caller's goroutine (every core), rather than in
	// the state machine's one goroutine, which every write waits for.
	n.fsm.Preverify(c)
	stamped := *c
	stamped.Time = n.cfg.Clock().UTC()
	data, err := stamped.Encode()
	if err != nil {
		return registry.Outcome{}, 0, false, fmt.Errorf("%w: command: %w", registry.ErrInvalidArgument, err)
	}
	timeout := n.cfg.ApplyTimeout
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < timeout {
		timeout = max(time.Until(dl), time.Millisecond)
	}
	f := n.raft.Apply(data, timeout)
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		return registry.Outcome{}, 0, false, fmt.Errorf("registry write %q: outcome unknown: %w", c.RequestID, ctx.Err())
	}
	switch {
	case err == nil:
	case errors.Is(err, raft.ErrRaftShutdown):
		return registry.Outcome{}, 0, false, ErrClosed
	default:
		// This leader did not apply the command: it lost its leadership
		// (ErrNotLeader, ErrLeadershipLost, ...), or it could not write its
		// log (a full or failing disk), answers with the log store's error
		// and steps down. Try again through whoever leads then; the same
		// request id applies at most once.
		return registry.Outcome{}, 0, true, fmt.Errorf("registry write %q: %w", c.RequestID, err)
	}
	res, ok := f.Response().(registry.Result)
	if !ok {
		return registry.Outcome{}, 0, false, fmt.Errorf("registry write %q: state machine answered %T", c.RequestID, f.Response())
	}
	if res.Err != nil {
		return registry.Outcome{}, f.Index(), false, res.Err
	}
	out, _ = res.Value.(registry.Outcome)
	return out, f.Index(), false, nil
}

// forward submits a command to the leader over gRPC, alone (a leader of an
// earlier build, without SubmitBatch; forwardBatched). The call is abandoned
// (and the caller tries again, with the same request id) when the leader
// changes (changed is closed): a leader cut off from the group may never
// answer, and the call would otherwise hold the command for as long as
// ctx allows while a new leader could take it.
func (n *Node) forward(ctx context.Context, changed <-chan struct{}, leader raft.ServerID, c *registry.Command) (registry.Outcome, uint64, bool, error) {
	client, addr, err := n.client(leader)
	if err != nil {
		return registry.Outcome{}, 0, true, err
	}
	data, err := c.Encode()
	if err != nil {
		return registry.Outcome{}, 0, false, fmt.Errorf("%w: command: %w", registry.ErrInvalidArgument, err)
	}
	actx, cancel := cancelOnChange(ctx, changed)
	defer cancel()
	resp, err := client.Submit(actx, &accordv1.SubmitRequest{Command: data})
	if err != nil {
		if status.Code(err) == codes.Unavailable && actx.Err() == nil && n.cfg.GRPCAddressFailed != nil {
			n.cfg.GRPCAddressFailed(leader, addr)
		}
		retry, err := n.callError(ctx, leader, err)
		return registry.Outcome{}, 0, retry, err
	}
	return registry.Outcome{ID: resp.GetId(), Version: int(resp.GetVersion()), Status: resp.GetStatus()}, resp.GetIndex(), false, nil
}

// cancelOnChange returns a context that ends with ctx or when changed is
// closed (a leader change), whichever comes first.
func cancelOnChange(ctx context.Context, changed <-chan struct{}) (context.Context, context.CancelFunc) {
	actx, cancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-changed:
			cancel()
		case <-actx.Done():
		}
	}()
	return actx, cancel
}

// callError sorts the error of a call to the leader: a refusal (final), the
// caller's context ending (final), or anything else, after which the call
// is tried again (against whoever is leader then).
func (n *Node) callError(ctx context.Context, leader raft.ServerID, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, fmt.Errorf("registry leader %s: outcome unknown: %w", leader, ctx.Err())
	}
	st, _ := status.FromError(err)
	if r := statusRefusal(st); r != nil {
		return false, r
	}
	if st.Code() == codes.Unavailable || st.Code() == codes.DeadlineExceeded || st.Code() == codes.Canceled {
		return true, fmt.Errorf("registry leader %s: %w", leader, err)
	}
	// Internal, Unauthenticated and the like: a fault on the leader or in
	// trust between the two. Try again (the leader may change), bounded by
	// ctx, but say why.
	n.logger.Warn("registry leader refused a forwarded call", "leader", string(leader), "err", err)
	return true, fmt.Errorf("registry leader %s: %w", leader, err)
}

// client returns a RegistryService client for the server id, dialling it
// (lazily, through gRPC's own reconnecting channel) when needed.
func (n *Node) client(id raft.ServerID) (accordv1.RegistryServiceClient, string, error) {
	addr, ok := n.cfg.GRPCAddress(id)
	if !ok {
		return nil, "", fmt.Errorf("registry leader %s: no gRPC address known", id)
	}
	c, err := n.clientAt(id, addr)
	return c, addr, err
}

// clientAt returns a RegistryService client for the server id at addr.
func (n *Node) clientAt(id raft.ServerID, addr string) (accordv1.RegistryServiceClient, error) {
	want, err := raftnet.ParseServerID(id)
	if err != nil {
		return nil, fmt.Errorf("registry leader %s: %w", id, err)
	}
	key := connKey{id: id, addr: addr}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed.Load() {
		return nil, ErrClosed
	}
	cc, ok := n.conns[key]
	if !ok {
		opts := append([]grpc.DialOption{grpc.WithTransportCredentials(n.cfg.ClientCredentials(want))}, n.cfg.DialOptions...)
		cc, err = grpc.NewClient(addr, opts...)
		if err != nil {
			return nil, fmt.Errorf("registry leader %s at %s: %w", id, addr, err)
		}
		for k, old := range n.conns {
			if k.id == id {
				_ = old.Close()
				delete(n.conns, k)
			}
		}
		n.conns[key] = cc
	}
	return accordv1.NewRegistryServiceClient(cc), nil
}
