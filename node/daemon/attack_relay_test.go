package daemon_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/accordfed/accord/federation/pki/pkitest"
	"github.com/accordfed/accord/federation/raftnet/raftnettest"
	"github.com/accordfed/accord/federation/registry"
	"github.com/accordfed/accord/node/daemon/daemontest"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// TestAttackJITRecordRelayed: UA shares a jit case with its team, UA and
// PL. PL, a member of the team, passes UA's signed record on to DE, which
// is not in the team, through its own feed. UA signs each jit record for
// the one member it serves it to, so DE refuses the copy (and keeps
// pulling); before, DE checked only UA's signature and kept it for good.
func TestAttackJITRecordRelayed(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA", "PL", "DE")
	nodes, _ := daemontest.StartFederation(t, fed, nil, "UA", "PL", "DE")
	ua, pl, de := nodes[0], nodes[1], nodes[2]
	uaCoord := daemontest.Coordination(t, ua.D, fed.User("UA", "analyst"), "UA")
	plCoord := daemontest.Coordination(t, pl.D, fed.User("PL", "analyst"), "PL")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// A team of UA and PL with a jit case of UA's.
	out, err := execJSON(ctx, uaCoord, string(registry.CmdCreateJIT), "team", []byte(`{"name":"Kherson","legal_basis":"EU JIT model agreement"}`))
	if err != nil {
		t.Fatal(err)
	}
	jit := out.GetId()
	if _, err := execJSON(ctx, uaCoord, string(registry.CmdInviteToJIT), "invite-pl", fmt.Appendf(nil, `{"jit":%q,"member":"PL"}`, jit)); err != nil {
		t.Fatal(err)
	}
	if _, err := execJSON(ctx, plCoord, string(registry.CmdRespondToJIT), "accept", fmt.Appendf(nil, `{"jit":%q,"accept":true}`, jit)); err != nil {
		t.Fatal(err)
	}
	const caseID = "UA-2023-000321"
	c := attackCaseOf("UA", caseID, "Olena Testenko")
	c.Sensitivity = accordv1.Sensitivity_SENSITIVITY_JIT
	uaCases := accordv1.NewCaseServiceClient(dialWith(t, ua.D.LocalAddr(), honestCreds(t, fed.User("UA", "analyst"), "UA")))
	if _, err := uaCases.CreateCase(ctx, &accordv1.CreateCaseRequest{Case: c}); err != nil {
		t.Fatal(err)
	}
	if _, err := execJSON(ctx, uaCoord, string(registry.CmdLinkCase), "link", fmt.Appendf(nil, `{"jit":%q,"case":{"member":"UA","case_id":%q}}`, jit, caseID)); err != nil {
		t.Fatal(err)
	}

	// PL holds UA's record, signed for PL; DE does not.
	var relayed *accordv1.SignedRecord
	raftnettest.WaitFor(t, time.Minute, func() error {
		relayed = heldRecord(t, pl, "UA", caseID)
		if relayed == nil {
			return errors.New("PL does not hold UA's jit case yet")
		}
		return nil
	})
	var r accordv1.FeedRecord
	if err := proto.Unmarshal(relayed.GetRecord(), &r); err != nil {
		t.Fatal(err)
	}
	if r.GetRecipient() != "PL" {
		t.Fatalf("UA's jit record reached PL meant for %q, want PL", r.GetRecipient())
	}
	if heldRecord(t, de, "UA", caseID) != nil {
		t.Fatal("DE holds UA's jit case")
	}

	// PL turns: on its address, with its certificate, a feed that serves
	// DE the record UA signed for PL.
	rogue := turnRogue(t, fed, pl.D, pl.Cfg.TLS, "PL", "pl-1", de.D.Addr(), "DE")
	refusedBefore := pullerOf(de, "PL").Refused
	rogue.queue("DE") <- &accordv1.SyncResponse{Records: []*accordv1.SignedRecord{relayed}, Head: 1, CaughtUp: true, Cursor: "rogue"}
	raftnettest.WaitFor(t, 30*time.Second, func() error {
		if got := pullerOf(de, "PL").Refused; got <= refusedBefore {
			return fmt.Errorf("DE refused %d records of PL's feed, want one more", got)
		}
		return nil
	})
	if heldRecord(t, de, "UA", caseID) != nil {
		t.Fatal("DE keeps UA's jit case, relayed by PL")
	}
}

// heldRecord returns the signed record of origin's case that n's
// federation index holds, or nil.
func heldRecord(t *testing.T, n *daemontest.Node, origin, caseID string) *accordv1.SignedRecord {
	t.Helper()
	var out *accordv1.SignedRecord
	if err := n.D.Store().FedScan(origin, func(_, id string, _ uint64, rec []byte) error {
		if id != caseID {
			return nil
		}
		out = new(accordv1.SignedRecord)
		return proto.Unmarshal(rec, out)
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// pullerOf returns how n's pulling of member's feed goes.
func pullerOf(n *daemontest.Node, member string) (st struct{ Refused, Stale, Received int }) {
	for _, s := range n.D.Exchange().Status() {
		if s.Member == member {
			st.Refused, st.Stale, st.Received = s.Refused, s.Stale, s.Received
		}
	}
	return st
}
