package registry

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"
)

// TestJITConsent: inviting, changing the lead and closing a team take the
// consent of every accepted member; until then nothing changes, and a
// proposed invitee sees nothing of the team.
func TestJITConsent(t *testing.T) {
	h := bootstrapped(t, Policy{}, "UA", "PL", "DE", "LT")
	id := h.teamOf("UA", "PL")
	h.ok("UA", LinkCase{JIT: id, Case: cref("UA", "1")})

	// PL alone cannot widen the team: DE is not invited, sees nothing and
	// cannot accept.
	inv := h.ok("PL", InviteToJIT{JIT: id, Member: "DE"})
	if inv.ID != id+"/1" || inv.Status != string(ProposalOpen) {
		t.Fatalf("invitation proposal: %+v", inv)
	}
	if _, err := h.jit(id, "DE"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a proposed invitee reads the team: %v", err)
	}
	h.refuse("DE", RespondToJIT{JIT: id, Accept: true}, ErrNotFound)
	h.refuse("DE", ConsentJIT{Proposal: inv.ID, Consent: true}, ErrNotFound)
	h.refuse("PL", InviteToJIT{JIT: id, Member: "DE"}, ErrAlreadyExists) // one open proposal per change
	h.refuse("UA", InviteToJIT{JIT: id, Member: "DE"}, ErrAlreadyExists)

	// PL alone cannot take the lead or close the team.
	lead := h.ok("PL", SetJITLead{JIT: id, Lead: "PL"})
	cls := h.ok("PL", CloseJIT{JIT: id})
	if lead.Status != string(ProposalOpen) || cls.Status != string(ProposalOpen) {
		t.Fatalf("lead %+v close %+v", lead, cls)
	}
	j, err := h.jit(id, "UA")
	if err != nil || j.Lead != "UA" || j.Status != JITActive || j.state("DE") != "" || j.Policy != JITUnanimous {
		t.Fatalf("after PL's proposals: %+v %v", j, err)
	}
	if len(j.Proposals) != 3 || j.Proposals[0].Consents[0].Member != "PL" || j.Proposals[0].Consents[0].Answer != AnswerYes ||
		j.Proposals[0].Consents[1].Answer != AnswerPending || j.Proposals[0].Created.Member != "PL" {
		t.Fatalf("proposals: %+v", j.Proposals)
	}

	// Answers: only for itself, once, only accepted members, well formed.
	h.refuse("UA", ConsentJIT{Proposal: inv.ID, Member: "PL", Consent: true}, ErrPermissionDenied)
	h.refuse("PL", ConsentJIT{Proposal: inv.ID, Consent: false}, ErrFailedPrecondition) // already said yes
	h.refuse("UA", ConsentJIT{Proposal: id + "/9", Consent: true}, ErrNotFound)
	h.refuse("UA", ConsentJIT{Proposal: "jit-000404/1", Consent: true}, ErrNotFound)
	for _, bad := range []string{"", id, id + "/", id + "/0", id + "/01", id + "/x", "/1"} {
		h.refuse("UA", ConsentJIT{Proposal: bad, Consent: true}, ErrInvalidArgument)
	}

	// UA refuses the lead change and the closing: nothing changes.
	if out := h.ok("UA", ConsentJIT{Proposal: lead.ID, Consent: false}); out.Status != string(ProposalRefused) {
		t.Fatalf("refused lead: %+v", out)
	}
	if out := h.ok("UA", ConsentJIT{Proposal: cls.ID, Consent: false}); out.Status != string(ProposalRefused) {
		t.Fatalf("refused close: %+v", out)
	}
	h.refuse("UA", ConsentJIT{Proposal: lead.ID, Consent: true}, ErrFailedPrecondition)
	// UA consents to the invitation: DE is invited, by PL.
	if out := h.ok("UA", ConsentJIT{Proposal: inv.ID, Consent: true}); out.Status != string(ProposalAgreed) {
		t.Fatalf("agreed invitation: %+v", out)
	}
	j, _ = h.jit(id, "UA")
	if j.Lead != "UA" || j.Status != JITActive || j.state("DE") != MembershipInvited || j.member("DE").InvitedBy != "PL" {
		t.Fatalf("after the answers: %+v", j)
	}
	// The invited member sees the team, not its cases or its proposals.
	j, err = h.jit(id, "DE")
	if err != nil || j.Cases != nil || j.Proposals != nil {
		t.Fatalf("invited member reads %+v %v", j, err)
	}
	h.refuse("DE", ConsentJIT{Proposal: inv.ID, Consent: true}, ErrNotFound)

	// A member that accepts is asked too; one that leaves no longer
	// answers, and a proposal all remaining members agreed to is carried
	// out.
	invLT := h.ok("UA", InviteToJIT{JIT: id, Member: "LT"})
	h.ok("DE", RespondToJIT{JIT: id, Accept: true})
	if out := h.ok("PL", ConsentJIT{Proposal: invLT.ID, Consent: true}); out.Status != string(ProposalOpen) {
		t.Fatalf("DE's consent was not asked for: %+v", out)
	}
	h.ok("DE", LeaveJIT{JIT: id})
	j, _ = h.jit(id, "UA")
	if j.state("LT") != MembershipInvited || j.Proposals[len(j.Proposals)-1].Status != ProposalAgreed {
		t.Fatalf("after DE left: %+v", j)
	}

	// A proposal lapses when its proposer, or the member it would make
	// lead, leaves.
	h.ok("LT", RespondToJIT{JIT: id, Accept: true})
	toLT := h.ok("UA", SetJITLead{JIT: id, Lead: "LT"})
	byLT := h.ok("LT", CloseJIT{JIT: id})
	h.ok("LT", LeaveJIT{JIT: id})
	j, _ = h.jit(id, "UA")
	for _, p := range j.Proposals {
		if (p.ID == toLT.ID || p.ID == byLT.ID) && p.Status != ProposalLapsed {
			t.Errorf("proposal %s is %s after LT left", p.ID, p.Status)
		}
	}

	// The lead may leave without anyone's consent; the team then has no
	// lead until the others agree on one.
	h.ok("UA", LeaveJIT{JIT: id})
	j, _ = h.jit(id, "PL")
	if j.Lead != "" || j.Status != JITActive {
		t.Fatalf("after the lead left: %+v", j)
	}
	// PL is the only member now: its own consent is every member's.
	if out := h.ok("PL", SetJITLead{JIT: id, Lead: "PL"}); out.Status != string(ProposalAgreed) {
		t.Fatalf("sole member's lead proposal: %+v", out)
	}
	if out := h.ok("PL", CloseJIT{JIT: id}); out.Status != string(ProposalAgreed) {
		t.Fatalf("sole member's close: %+v", out)
	}
	j, _ = h.jit(id, "PL")
	if j.Status != JITClosed || j.Lead != "PL" {
		t.Fatalf("after closing: %+v", j)
	}
}

// TestJITConsentAgreedByAll: with three members, the change happens on the
// last consent and not before; closing lapses the other open proposals.
func TestJITConsentAgreedByAll(t *testing.T) {
	h := bootstrapped(t, Policy{}, "UA", "PL", "DE", "LT")
	id := h.teamOf("UA", "PL", "DE")
	h.agree("PL", SetJITLead{JIT: id, Lead: "DE"}, "DE", "UA")
	if j, _ := h.jit(id, "UA"); j.Lead != "DE" {
		t.Fatalf("lead %s", j.Lead)
	}
	inv := h.ok("UA", InviteToJIT{JIT: id, Member: "LT"})
	h.agree("DE", CloseJIT{JIT: id}, "PL", "UA")
	j, _ := h.jit(id, "UA")
	if j.Status != JITClosed || j.state("LT") != "" || j.Proposals[1].ID != inv.ID || j.Proposals[1].Status != ProposalLapsed {
		t.Fatalf("after closing: %+v", j)
	}
	h.refuse("PL", ConsentJIT{Proposal: inv.ID, Consent: true}, ErrFailedPrecondition)
}

// TestJITProposalBounds: a team keeps only the newest keptDecidedProposals
// decided proposals; its proposals survive a snapshot.
func TestJITProposalBounds(t *testing.T) {
	h := bootstrapped(t, Policy{}, "UA", "PL")
	id := h.teamOf("UA", "PL")
	for i := 0; i < keptDecidedProposals+5; i++ {
		out := h.ok("PL", CloseJIT{JIT: id})
		h.ok("UA", ConsentJIT{Proposal: out.ID, Consent: false})
	}
	j, _ := h.jit(id, "UA")
	if len(j.Proposals) != keptDecidedProposals || j.Proposals[0].ID != fmt.Sprintf("%s/%d", id, 6) || j.LastProposal != keptDecidedProposals+5 {
		t.Fatalf("kept %d proposals, first %s, last number %d", len(j.Proposals), j.Proposals[0].ID, j.LastProposal)
	}
	h.refuse("UA", ConsentJIT{Proposal: id + "/1", Consent: true}, ErrNotFound) // dropped
	h.ok("PL", CloseJIT{JIT: id})                                               // one open
	snap := snapshotBytes(t, h.f)
	g := NewFSM()
	if err := g.Restore(io.NopCloser(bytes.NewReader(snap))); err != nil {
		t.Fatal(err)
	}
	if again := snapshotBytes(t, g); !bytes.Equal(snap, again) {
		t.Fatalf("restored state differs:\n%s", firstDiff(string(snap), string(again)))
	}
	var rj JIT
	var err error
	g.Read(func(v View) { rj, err = v.GetJIT(id, "UA") })
	if err != nil || len(rj.Proposals) != keptDecidedProposals+1 || rj.Proposals[keptDecidedProposals].Status != ProposalOpen {
		t.Fatalf("restored team: %d proposals, %v", len(rj.Proposals), err)
	}
}
