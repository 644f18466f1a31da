package registryraft_test

// Attacks on batch signatures through a real registry group (found by an
// outside review of the batch signatures).

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"testing"
	"time"

	"github.com/accordfed/accord/federation/registry"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// TestAttackSubmitBatchPathSwapDivergesLeader: one dishonest registry
// server (a follower) tries to make the honest leader's replica diverge
// from every other. It signs batches of its own commands, and sends each
// command twice in one SubmitBatch call: with its true audit path, and
// with a well-formed wrong one (leaf_index 1 instead of 0). The leader
// submits the copies concurrently; had Preverify keyed both checks alike
// (the path aside), whichever was stored last would decide the copy
// applied first, while every follower checks afresh. Every replica's log
// chain must stay the leader's.
func TestAttackSubmitBatchPathSwapDivergesLeader(t *testing.T) {
	o := fastTimeouts()
	o.manualVersions = true
	c := startCluster(t, []string{"UA", "PL", "DE"}, o)
	leader := c.waitLeader(10 * time.Second)
	attacker := followersOf(c, leader)[0]
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, tn := range c.nodes {
		if _, err := tn.node.GroupStatus(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if !leader.node.SignsBatches() {
		t.Fatal("the leader does not take batch signatures")
	}
	cfg := c.fed.Node(attacker.id.Member, attacker.id.Name)
	cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	const pairs = 64
	req := &accordv1.SubmitBatchRequest{}
	for k := range pairs {
		two := []*registry.Command{entry(t, fmt.Sprintf("twice-%02d", k)), entry(t, fmt.Sprintf("other-%02d", k))}
		for _, cmd := range two {
			cmd.Member, cmd.Actor = attacker.id.Member, registry.Actor{Node: attacker.id.String()}
		}
		if err := registry.SignBatch(two, &cert, attacker.fsm.AppliedIndex(), time.Now()); err != nil {
			t.Fatal(err)
		}
		good := two[0]
		bad := *good
		bad.Batch = &registry.BatchPath{LeafIndex: 1, Leaves: 2, Siblings: good.Batch.Siblings}
		for _, cmd := range []*registry.Command{good, &bad} {
			data, err := cmd.Encode()
			if err != nil {
				t.Fatal(err)
			}
			req.Commands = append(req.Commands, data)
		}
	}
	if _, err := batchClient(t, c, leader, attacker).SubmitBatch(ctx, req); err != nil {
		t.Fatal(err)
	}
	last := leader.fsm.AppliedIndex()
	want, _ := leader.fsm.LogChain(last)
	for _, tn := range followersOf(c, leader) {
		if err := tn.fsm.WaitApplied(ctx, last); err != nil {
			t.Fatal(err)
		}
		got, ok := tn.fsm.LogChain(last)
		if !ok {
			t.Fatalf("%s: no chain at %d", tn.name, last)
		}
		if !bytes.Equal(got[:], want[:]) {
			t.Errorf("%s's log chain at %d differs from the leader's %s: the leader's replica diverged", tn.name, last, leader.name)
		}
	}
	for _, tn := range c.nodes {
		n := 0
		for title, k := range titles(t, tn.node, false, "UA") {
			if len(title) > 6 && title[:6] == "twice-" {
				n += k
			}
		}
		t.Logf("%s: %d of the %d twice-sent commands applied", tn.name, n, pairs)
	}
}
