package registryraft

import (
	"context"
	"errors"
	"fmt"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/accordfed/accord/federation/registry"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// Read calls fn with a view of the registry and returns the applied index
// the view reflects. With linearizable set (the default callers should
// use), the view reflects every write acknowledged before Read was called:
// the node obtains a read index from the leader (itself, or over gRPC) and
// waits until its own state machine has applied it, holding through an
// election, bounded by ctx. Otherwise fn reads the local state machine at
// once, which may lag behind the leader. fn must not keep the view.
func (n *Node) Read(ctx context.Context, linearizable bool, fn func(registry.View)) (uint64, error) {
	if linearizable {
		index, err := n.ReadIndex(ctx)
		if err != nil {
			return 0, err
		}
		if err := n.fsm.WaitApplied(ctx, index); err != nil {
			return 0, fmt.Errorf("registry read: waiting for index %d: %w", index, err)
		}
	}
	return n.fsm.Read(fn), nil
}

// ReadIndex returns an index that a linearizable read must wait for: the
// leader's commit index, taken while its leadership is confirmed. On a
// follower it asks the leader. It waits while there is no leader.
func (n *Node) ReadIndex(ctx context.Context) (uint64, error) {
	for {
		if n.closed.Load() || n.raft == nil || n.raft.State() == raft.Shutdown {
			return 0, ErrClosed
		}
		changed := n.leaderWait()
		var (
			index uint64
			err   error
			retry bool
		)
		_, leader := n.raft.LeaderWithID()
		switch {
		case n.raft.State() == raft.Leader:
			index, retry, err = n.localReadIndex(ctx)
		case leader == "":
			retry = true
		default:
			index, retry, err = n.sharedRemoteReadIndex(ctx)
		}
		if !retry {
			return index, err
		}
		if werr := n.wait(ctx, changed); werr != nil {
			if err != nil {
				return 0, fmt.Errorf("%w (last attempt: %w)", werr, err)
			}
			return 0, fmt.Errorf("%w: waiting for a registry leader", werr)
		}
	}
}

// localReadIndex is the read index on the leader: once the leadership's
// no-op has been applied (so that the commit index covers every entry of
// earlier terms), note the commit index, then confirm leadership with a
// round of heartbeats.
func (n *Node) localReadIndex(ctx context.Context) (uint64, bool, error) {
	term := n.raft.CurrentTerm()
	l := n.ready.Load()
	if l == nil || l.term != term {
		// The observation of this term has not been handled yet.
		return 0, true, fmt.Errorf("leadership of term %d not ready", term)
	}
	select {
	case <-l.done:
	case <-ctx.Done():
		return 0, false, ctx.Err()
	}
	if l.err != nil {
		return 0, true, fmt.Errorf("leadership of term %d: %w", term, l.err)
	}
	index := n.raft.CommitIndex()
	f := n.raft.VerifyLeader()
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	// hashicorp/raft may leave a verification unanswered when Raft shuts
	// down at that moment; a round of heartbeats that takes longer than
	// two election timeouts means leadership is in doubt anyway.
	bound := time.NewTimer(2 * n.cfg.ElectionTimeout)
	defer bound.Stop()
	select {
	case <-bound.C:
		return 0, true, fmt.Errorf("leadership of term %d not confirmed within %s", term, 2*n.cfg.ElectionTimeout)
	case err := <-done:
		switch {
		case err == nil:
			return index, false, nil
		case errors.Is(err, raft.ErrRaftShutdown):
			return 0, false, ErrClosed
		default:
			return 0, true, err
		}
	case <-ctx.Done():
		return 0, false, ctx.Err()
	}
}

// readCall is one ReadIndex call to the leader that concurrent reads on a
// follower share.
type readCall struct {
	done  chan struct{}
	index uint64
	retry bool
	err   error
}

// readShare coalesces a follower's ReadIndex calls: a read joins the next
// call, one that starts after the read began, so that the index it gets was
// taken after it began (what linearizability needs); while one call is in
// flight, every read that arrives waits for the next, and that next call
// serves them all.
type readShare struct {
	mu       sync.Mutex
	next     *readCall
	inflight bool
}

// sharedRemoteReadIndex asks the leader for a read index, sharing the call
// with the other reads waiting on this node.
func (n *Node) sharedRemoteReadIndex(ctx context.Context) (uint64, bool, error) {
	b := &n.reads
	b.mu.Lock()
	if b.next == nil {
		b.next = &readCall{done: make(chan struct{})}
	}
	c := b.next
	if !b.inflight {
		b.inflight = true
		b.next = nil
		go n.runReadCalls(c)
	}
	b.mu.Unlock()
	select {
	case <-c.done:
		return c.index, c.retry, c.err
	case <-ctx.Done():
		return 0, false, ctx.Err()
	}
}

// runReadCalls makes c, then each call that gathered readers meanwhile.
func (n *Node) runReadCalls(c *readCall) {
	b := &n.reads
	for {
		changed := n.leaderWait()
		_, leader := n.raft.LeaderWithID()
		if leader == "" || leader == n.id {
			c.retry, c.err = true, fmt.Errorf("no registry leader to ask for a read index")
		} else {
			// Bounded, and abandoned when the leader changes: a leader cut
			// off from the group may never answer.
			bounded, cancelBound := context.WithTimeout(context.Background(), n.cfg.ApplyTimeout)
			ctx, cancel := cancelOnChange(bounded, changed)
			c.index, c.retry, c.err = n.remoteReadIndex(ctx, leader)
			if c.err != nil && ctx.Err() != nil {
				c.retry = true // the bound of this shared call, not a reader's
			}
			cancel()
			cancelBound()
		}
		close(c.done)
		b.mu.Lock()
		if b.next == nil {
			b.inflight = false
			b.mu.Unlock()
			return
		}
		c, b.next = b.next, nil
		b.mu.Unlock()
	}
}

func (n *Node) remoteReadIndex(ctx context.Context, leader raft.ServerID) (uint64, bool, error) {
	client, addr, err := n.client(leader)
	if err != nil {
		return 0, true, err
	}
	resp, err := client.ReadIndex(ctx, &accordv1.ReadIndexRequest{})
	if err != nil {
		if status.Code(err) == codes.Unavailable && ctx.Err() == nil && n.cfg.GRPCAddressFailed != nil {
			n.cfg.GRPCAddressFailed(leader, addr)
		}
		retry, err := n.callError(ctx, leader, err)
		return 0, retry, err
	}
	return resp.GetIndex(), false, nil
}

// WaitApplied waits until the node's own state machine has applied the log
// up to index, or ctx ends. A follower of the registry's changes reads
// with Read(ctx, false, ...), which returns the applied index, and waits
// for the next with WaitApplied(ctx, index+1).
func (n *Node) WaitApplied(ctx context.Context, index uint64) error {
	return n.fsm.WaitApplied(ctx, index)
}
