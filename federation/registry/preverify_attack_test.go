package registry

// Attacks on the leader's remembered signature checks (Preverify): a
// check must decide only the command it was made for, batch path
// included, or the leader's replica diverges from the others (found by an
// outside review of the batch signatures).

import (
	"bytes"
	"fmt"
	"io"
	"testing"

	"github.com/hashicorp/raft"
)

// replicaPair is the leader's state machine (the harness's, where
// Preverify runs) and a follower's, restored from the leader's snapshot,
// to which every entry is applied alike.
type replicaPair struct {
	h        *harness
	follower *FSM
}

func newReplicaPair(t *testing.T) *replicaPair {
	t.Helper()
	h := bootstrapped(t, Policy{}, "UA", "PL")
	f := NewFSM()
	if err := f.Restore(io.NopCloser(bytes.NewReader(snapshotBytes(t, h.f)))); err != nil {
		t.Fatal(err)
	}
	return &replicaPair{h: h, follower: f}
}

// apply appends c to both replicas' logs and returns both answers.
func (p *replicaPair) apply(t *testing.T, c *Command) (leader, follower Result) {
	t.Helper()
	data, err := c.Encode()
	if err != nil {
		t.Fatal(err)
	}
	leader = p.h.applyData(data)
	follower = p.follower.Apply(&raft.Log{Index: p.h.index, Term: 1, Type: raft.LogCommand, Data: data}).(Result)
	return leader, follower
}

func (p *replicaPair) sameChain(t *testing.T, what string) {
	t.Helper()
	lc, _ := p.h.f.LogChain(p.h.index)
	fc, _ := p.follower.LogChain(p.h.index)
	if lc != fc {
		t.Errorf("%s: the leader's log chain %x differs from the follower's %x at index %d", what, lc[:6], fc[:6], p.h.index)
	}
}

// TestAttackPreverifyKeyOmitsBatchPath: a batch-signed command's check
// depends on its batch_path, so the key of the leader's remembered checks
// (checkedSignatures) must cover it. A dishonest follower sends the same
// signed command twice in one SubmitBatch call (the leader runs submit for
// each concurrently: Preverify, Preverify, then raft.Apply), once with its
// true path and once with a wrong one. Were the path not in the key, the
// later Preverify would overwrite the earlier and the honest leader would
// apply a copy with the other copy's check, while the followers check
// afresh: the leader's outcome, state and log chain would differ from
// every other replica's. They must not.
func TestAttackPreverifyKeyOmitsBatchPath(t *testing.T) {
	for _, badFirst := range []bool{false, true} {
		t.Run(fmt.Sprintf("wrong path preverified first=%v", badFirst), func(t *testing.T) {
			p := newReplicaPair(t)
			h := p.h
			batch := []*Command{
				h.command("UA", CreateEntry{Kind: KindTheme, Title: "Signed in a batch, 0"}),
				h.command("UA", CreateEntry{Kind: KindTheme, Title: "Signed in a batch, 1"}),
			}
			if err := SignBatch(batch, nodeCert(t, nodeURI("UA")), h.index, h.now); err != nil {
				t.Fatal(err)
			}
			good := batch[0]
			// The same signed fields and signature, a path to another root
			// (a well-formed path: decoding accepts it).
			bad := *good
			bad.Batch = &BatchPath{LeafIndex: 1, Leaves: 2, Siblings: good.Batch.Siblings}
			// Round-trip both as the leader's submit does (DecodeCommand).
			dec := func(c *Command) *Command {
				data, err := c.Encode()
				if err != nil {
					t.Fatal(err)
				}
				d, err := DecodeCommand(data)
				if err != nil {
					t.Fatal(err)
				}
				d.Time = h.now
				return d
			}
			g, b := dec(good), dec(&bad)
			if badFirst {
				h.f.Preverify(b)
				h.f.Preverify(g)
				l, f := p.apply(t, b)
				if (l.Err == nil) != (f.Err == nil) {
					t.Errorf("the command with a wrong batch path: the leader answers %v, a follower %v", l.Err, f.Err)
				}
				p.sameChain(t, "after the wrong path")
			} else {
				h.f.Preverify(g)
				h.f.Preverify(b)
				l, f := p.apply(t, g)
				if (l.Err == nil) != (f.Err == nil) {
					t.Errorf("the correctly batch-signed command: the leader answers %v, a follower %v", l.Err, f.Err)
				}
				p.sameChain(t, "after the good path")
			}
		})
	}
}

// TestAttackPreverifyLoneVersusBatchPath: the same collision without two
// paths: a command signed alone and the same command with a batch path
// attached must not share the key of the leader's remembered check.
func TestAttackPreverifyLoneVersusBatchPath(t *testing.T) {
	p := newReplicaPair(t)
	h := p.h
	lone := h.command("UA", CreateEntry{Kind: KindTheme, Title: "Signed alone"})
	if err := lone.Sign(nodeCert(t, nodeURI("UA")), h.index, h.now); err != nil {
		t.Fatal(err)
	}
	withPath := *lone
	withPath.Batch = &BatchPath{LeafIndex: 0, Leaves: 2, Siblings: [][]byte{make([]byte, 32)}}
	h.f.Preverify(lone)
	h.f.Preverify(&withPath)
	l, f := p.apply(t, lone)
	if (l.Err == nil) != (f.Err == nil) {
		t.Errorf("a lone-signed command: the leader answers %v, a follower %v", l.Err, f.Err)
	}
	p.sameChain(t, "after the lone command")
}
