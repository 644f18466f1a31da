package registryraft

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/accordfed/accord/federation/registry"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// Forwarded writes in batches.
//
// A follower forwards the commands its callers send to the leader. While
// a forwarding call is outstanding, the commands that arrive queue up; the
// next call (RegistryService/SubmitBatch) takes every queued command, up
// to batchMaxCommands or batchMaxBytes, so that under load a round trip
// and a call on the leader serve many writes, and with one writer a
// command leaves at once. Each command keeps its own signature, request
// id and exactly-once entry; the leader checks and applies each on its
// own and answers each, so that a refused command does not fail the
// others. A command whose outcome is unknown (the call broke, the leader
// changed) is tried again by its caller, with the same request id, as a
// lone forwarded command is (Node.ApplyIndex). A leader of an earlier
// build, which does not have SubmitBatch, answers Unimplemented: the
// follower then forwards one command per Submit call to it, and asks again
// after batchProbeInterval (the leader may have been upgraded).

const (
	// batchMaxCommands and batchMaxBytes bound one SubmitBatch call (the
	// gRPC message limit is 4 MiB).
	batchMaxCommands = 64
	batchMaxBytes    = 1 << 20
	// batchCalls is how many SubmitBatch calls a follower keeps in flight
	// to one leader: a second call is sent while the first is answered,
	// so that the leader is not idle for a round trip between batches.
	batchCalls = 2
	// batchProbeInterval is how long a follower forwards one command per
	// call to a leader that did not know SubmitBatch, before it tries
	// SubmitBatch again.
	batchProbeInterval = time.Minute
)

// forwardRequest is one command waiting in a follower's forwarding queue.
type forwardRequest struct {
	ctx context.Context // the caller's: a request whose caller gave up is not sent
	// data is the command, signed, as it goes into the call; or, for a
	// command to be signed with its batch (cmd, a copy of the caller's),
	// its unsigned encoding, which with signatureRoom bounds its size.
	data []byte
	cmd  *registry.Command
	// done receives the outcome (buffered: the sender never waits).
	done chan forwardResult
}

// forwardResult is the outcome of a forwarded command. fallback says that
// the leader does not take batches: the caller submits the command alone.
type forwardResult struct {
	out      registry.Outcome
	index    uint64
	retry    bool
	err      error
	fallback bool
}

// forwardQueue is a follower's queue of commands to forward, per leader.
type forwardQueue struct {
	mu     sync.Mutex
	queues map[raft.ServerID]*leaderQueue
	// noBatch holds the leaders that answered SubmitBatch with
	// Unimplemented, and when.
	noBatch map[raft.ServerID]time.Time
}

// leaderQueue holds the commands waiting for one leader and the number of
// calls in flight to it.
type leaderQueue struct {
	pending []*forwardRequest
	calls   int
}

// batches reports whether the leader takes SubmitBatch, as far as this
// node knows.
func (q *forwardQueue) batches(leader raft.ServerID, now time.Time) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	at, ok := q.noBatch[leader]
	if ok && now.Sub(at) >= batchProbeInterval {
		delete(q.noBatch, leader)
		return true
	}
	return !ok
}

// refuseBatches remembers that the leader does not take SubmitBatch.
func (q *forwardQueue) refuseBatches(leader raft.ServerID, now time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.noBatch == nil {
		q.noBatch = map[raft.ServerID]time.Time{}
	}
	q.noBatch[leader] = now
}

// enqueue adds r to the leader's queue and reports whether the caller
// should start a new call to it (fewer than batchCalls are in flight).
func (q *forwardQueue) enqueue(leader raft.ServerID, r *forwardRequest) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.queues == nil {
		q.queues = map[raft.ServerID]*leaderQueue{}
	}
	lq := q.queues[leader]
	if lq == nil {
		lq = &leaderQueue{}
		q.queues[leader] = lq
	}
	lq.pending = append(lq.pending, r)
	if lq.calls >= batchCalls {
		return false
	}
	lq.calls++
	return true
}

// next takes the next batch for the leader: the queued requests whose
// callers still wait, up to the bounds (at least one). An empty batch
// means the queue is empty and the caller's call slot is released.
func (q *forwardQueue) next(leader raft.ServerID) []*forwardRequest {
	q.mu.Lock()
	defer q.mu.Unlock()
	lq := q.queues[leader]
	var (
		batch []*forwardRequest
		size  int
		taken int
	)
	for _, r := range lq.pending {
		if len(batch) == batchMaxCommands || (len(batch) > 0 && size+r.size() > batchMaxBytes) {
			break
		}
		taken++
		if r.ctx.Err() != nil {
			continue // its caller has its answer ("outcome unknown") already
		}
		batch = append(batch, r)
		size += r.size()
	}
	clear(lq.pending[:taken])
	lq.pending = lq.pending[taken:]
	if len(batch) == 0 && len(lq.pending) == 0 {
		lq.calls--
		if lq.calls == 0 {
			delete(q.queues, leader)
		}
	}
	return batch
}

// signatureRoom is what signing a command in a batch adds to its unsigned
// encoding, beyond the certificate: the signature, the signing time, the
// seen index and the audit path (at most 16 hashes).
const signatureRoom = 1024

// size is the request's share of a call's bytes.
func (r *forwardRequest) size() int {
	if r.cmd != nil {
		return len(r.data) + len(r.cmd.SignerCert) + signatureRoom
	}
	return len(r.data)
}

// forwardBatched forwards c to the leader in a batch with the other
// commands in flight on this node, or alone (Submit) when the leader does
// not take batches. inBatch says that c is not signed yet: it is signed
// with the other such commands of its batch (registry.SignBatch), or alone
// when it goes alone. It returns what forward returns.
func (n *Node) forwardBatched(ctx context.Context, changed <-chan struct{}, leader raft.ServerID, c *registry.Command, inBatch bool) (registry.Outcome, uint64, bool, error) {
	alone := func() (registry.Outcome, uint64, bool, error) {
		if inBatch {
			if err := n.sign(c); err != nil {
				return registry.Outcome{}, 0, false, err
			}
		}
		return n.forward(ctx, changed, leader, c)
	}
	if !n.fwd.batches(leader, n.cfg.Clock()) {
		return alone()
	}
	data, err := c.Encode()
	if err != nil {
		return registry.Outcome{}, 0, false, fmt.Errorf("%w: command: %w", registry.ErrInvalidArgument, err)
	}
	r := &forwardRequest{ctx: ctx, data: data, done: make(chan forwardResult, 1)}
	if inBatch {
		// A copy: the call signs it, while this caller may already be
		// trying again with its own.
		cp := *c
		if cert := n.cfg.Certificate(); cert != nil && len(cert.Certificate) > 0 {
			cp.SignerCert = cert.Certificate[0] // for the batch's size
		}
		r.cmd = &cp
	}
	if n.fwd.enqueue(leader, r) {
		go n.runBatches(leader)
	}
	select {
	case res := <-r.done:
		if res.fallback {
			return alone()
		}
		return res.out, res.index, res.retry, res.err
	case <-changed:
		// The batch's call is abandoned too (runBatches); the command may
		// have been applied: the caller tries again with the same request
		// id.
		return registry.Outcome{}, 0, true, fmt.Errorf("registry write %q: the registry leader changed while the write was forwarded to %s", c.RequestID, leader)
	case <-ctx.Done():
		return registry.Outcome{}, 0, false, fmt.Errorf("registry leader %s: outcome unknown: %w", leader, ctx.Err())
	}
}

// runBatches sends the leader's queued commands, a batch per call, until
// the queue is empty.
func (n *Node) runBatches(leader raft.ServerID) {
	for {
		batch := n.fwd.next(leader)
		if len(batch) == 0 {
			return
		}
		n.submitBatch(leader, batch)
	}
}

// submitBatch makes one SubmitBatch call and answers every request of the
// batch. The call is bounded by the apply timeout and abandoned when the
// leader changes or the node closes; the callers of its commands then try
// again.
func (n *Node) submitBatch(leader raft.ServerID, batch []*forwardRequest) {
	answer := func(res forwardResult) {
		for _, r := range batch {
			r.done <- res
		}
	}
	if n.closed.Load() {
		answer(forwardResult{err: ErrClosed})
		return
	}
	if !n.fwd.batches(leader, n.cfg.Clock()) {
		// Queued before a call learned that the leader does not take
		// batches.
		answer(forwardResult{fallback: true})
		return
	}
	client, addr, err := n.client(leader)
	if err != nil {
		answer(forwardResult{retry: true, err: err})
		return
	}
	changed := n.leaderWait()
	bounded, cancelBound := context.WithTimeout(context.Background(), n.cfg.ApplyTimeout)
	defer cancelBound()
	ctx, cancel := cancelOnChange(bounded, changed)
	defer cancel()
	go func() {
		select {
		case <-n.stop:
			cancel()
		case <-ctx.Done():
		}
	}()

	data, err := n.signBatch(batch)
	if err != nil {
		// Each command is signed and sent alone instead.
		n.logger.Warn("registry write: could not sign a batch of forwarded writes; forwarding them one per call",
			"commands", len(batch), "err", err)
		answer(forwardResult{fallback: true})
		return
	}
	req := &accordv1.SubmitBatchRequest{Commands: data}
	resp, err := client.SubmitBatch(ctx, req)
	if err != nil {
		if status.Code(err) == codes.Unimplemented {
			n.logger.Info("registry leader does not take batched writes (an earlier build): forwarding one command per call",
				"leader", string(leader), "retry_after", batchProbeInterval)
			n.fwd.refuseBatches(leader, n.cfg.Clock())
			answer(forwardResult{fallback: true})
			return
		}
		if status.Code(err) == codes.ResourceExhausted && len(batch) > 1 {
			// Larger than the leader takes in one message (its
			// max_recv_msg_bytes may be below batchMaxBytes): each
			// command goes alone.
			n.logger.Warn("registry leader refused a batch of forwarded writes as too large: forwarding them one per call",
				"leader", string(leader), "commands", len(batch), "err", err)
			answer(forwardResult{fallback: true})
			return
		}
		if status.Code(err) == codes.Unavailable && ctx.Err() == nil && n.cfg.GRPCAddressFailed != nil {
			n.cfg.GRPCAddressFailed(leader, addr)
		}
		retry, err := n.callError(ctx, leader, err)
		if ctx.Err() != nil {
			retry = true // the bound of this shared call, not a caller's
		}
		answer(forwardResult{retry: retry, err: err})
		return
	}
	results := resp.GetResults()
	if len(results) != len(batch) {
		// Which result belongs to which command is unknown: try them all
		// again (with their request ids, each applies at most once).
		n.logger.Warn("registry leader answered a batch with the wrong number of results",
			"leader", string(leader), "commands", len(batch), "results", len(results))
		answer(forwardResult{retry: true, err: fmt.Errorf("registry leader %s: results: %d for %d commands", leader, len(results), len(batch))})
		return
	}
	for i, r := range batch {
		r.done <- n.batchResult(leader, results[i])
	}
}

// signBatch returns the batch's commands as they go into the call: the
// commands to be signed with the batch are signed at once (one signature
// over their Merkle root), the others are sent as they were signed.
func (n *Node) signBatch(batch []*forwardRequest) ([][]byte, error) {
	var unsigned []*registry.Command
	for _, r := range batch {
		if r.cmd != nil {
			unsigned = append(unsigned, r.cmd)
		}
	}
	if len(unsigned) > 0 {
		if err := registry.SignBatch(unsigned, n.cfg.Certificate(), n.fsm.AppliedIndex(), n.cfg.Clock()); err != nil {
			return nil, err
		}
	}
	data := make([][]byte, len(batch))
	for i, r := range batch {
		if r.cmd == nil {
			data[i] = r.data
			continue
		}
		b, err := r.cmd.Encode()
		if err != nil {
			return nil, fmt.Errorf("command %q: %w", r.cmd.RequestID, err)
		}
		data[i] = b
	}
	return data, nil
}

// batchResult converts one result of a batch into the outcome forward
// would have returned for a Submit call.
func (n *Node) batchResult(leader raft.ServerID, res *accordv1.SubmitResult) forwardResult {
	code := codes.Code(res.GetCode())
	if code == codes.OK {
		resp := res.GetResponse()
		return forwardResult{
			out:   registry.Outcome{ID: resp.GetId(), Version: int(resp.GetVersion()), Status: resp.GetStatus()},
			index: resp.GetIndex(),
		}
	}
	st := status.New(code, res.GetMessage())
	if r := statusRefusal(st); r != nil {
		return forwardResult{err: r}
	}
	if code != codes.Unavailable && code != codes.DeadlineExceeded && code != codes.Canceled {
		n.logger.Warn("registry leader refused a forwarded command", "leader", string(leader), "code", code.String(), "message", res.GetMessage())
	}
	return forwardResult{retry: true, err: fmt.Errorf("registry leader %s: %w", leader, st.Err())}
}
