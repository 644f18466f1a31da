package registry

import (
	"errors"
	"testing"
)

func TestJITLifecycle(t *testing.T) {
	h := bootstrapped(t, Policy{}, "UA", "PL", "LT", "DE")
	out := h.ok("UA", CreateJIT{Name: "Bucha", LegalBasis: "Art. 13 EU MLA Convention 2000", AgreementRef: "JIT-2022-03", Invite: []string{"PL"}})
	id := out.ID
	if id != "jit-000001" || out.Status != string(JITActive) {
		t.Fatalf("outcome %+v", out)
	}
	j, err := h.jit(id, "UA")
	if err != nil {
		t.Fatal(err)
	}
	if j.Lead != "UA" || j.state("UA") != MembershipAccepted || j.state("PL") != MembershipInvited || j.Created.Member != "UA" {
		t.Fatalf("created %+v", j)
	}
	h.ok("PL", RespondToJIT{JIT: id, Accept: true})
	h.agree("UA", InviteToJIT{JIT: id, Member: "LT"}, "PL")
	h.ok("LT", RespondToJIT{JIT: id, Member: "LT", Accept: false})
	h.agree("PL", InviteToJIT{JIT: id, Member: "LT"}, "UA") // re-invited after declining
	h.ok("LT", RespondToJIT{JIT: id, Accept: true})
	h.ok("UA", LinkCase{JIT: id, Case: cref("UA", "2022-000001")})
	h.ok("PL", LinkCase{JIT: id, Case: cref("PL", "17")})
	h.ok("LT", LinkCase{JIT: id, Case: cref("LT", "9")})
	h.ok("UA", UnlinkCase{JIT: id, Case: cref("UA", "2022-000001")})
	h.agree("PL", SetJITLead{JIT: id, Lead: "PL"}, "LT", "UA")

	// The former lead may leave; LT leaves with its case.
	h.ok("UA", LeaveJIT{JIT: id})
	h.ok("LT", LeaveJIT{JIT: id, Member: "LT"})
	j, err = h.jit(id, "PL")
	if err != nil {
		t.Fatal(err)
	}
	if j.Lead != "PL" || j.Status != JITActive || len(j.Cases) != 1 || j.Cases[0].Case != cref("PL", "17") {
		t.Fatalf("after leaving: %+v", j)
	}
	if j.Updated.Member != "LT" || j.Updated.User != userURI("LT", "analyst-1") {
		t.Errorf("updated %+v", j.Updated)
	}
	// The last member leaving closes the team.
	if out := h.ok("PL", LeaveJIT{JIT: id}); out.Status != string(JITClosed) {
		t.Fatalf("last leave: %+v", out)
	}
}

func TestJITRules(t *testing.T) {
	h := bootstrapped(t, Policy{}, "UA", "PL", "LT", "DE")
	h.ok("UA", ProposeMember{Code: "FR", Name: "France", CACerts: []string{validCA(t, "FR")}})
	id := h.ok("UA", CreateJIT{Name: "Irpin", LegalBasis: "bilateral agreement", Invite: []string{"PL", "LT"}}).ID
	h.ok("PL", RespondToJIT{JIT: id, Accept: true})
	h.ok("UA", LinkCase{JIT: id, Case: cref("UA", "1")})

	// Creating.
	h.refuse("UA", CreateJIT{Name: "", LegalBasis: "x"}, ErrInvalidArgument)
	h.refuse("UA", CreateJIT{Name: "x", LegalBasis: ""}, ErrInvalidArgument)
	h.refuse("UA", CreateJIT{Name: "x", LegalBasis: "y", Invite: []string{"UA"}}, ErrInvalidArgument)
	h.refuse("UA", CreateJIT{Name: "x", LegalBasis: "y", Invite: []string{"PL", "PL"}}, ErrInvalidArgument)
	h.refuse("UA", CreateJIT{Name: "x", LegalBasis: "y", Invite: []string{"ES"}}, ErrNotFound)
	h.refuse("UA", CreateJIT{Name: "x", LegalBasis: "y", Invite: []string{"FR"}}, ErrFailedPrecondition)

	// Inviting: only JIT members, only admitted members, once. A team the
	// caller may not see is not found; one it is invited to it may not
	// change.
	h.refuse("DE", InviteToJIT{JIT: id, Member: "DE"}, ErrNotFound)
	h.refuse("LT", InviteToJIT{JIT: id, Member: "DE"}, ErrPermissionDenied) // invited, not accepted
	h.refuse("UA", InviteToJIT{JIT: id, Member: "FR"}, ErrFailedPrecondition)
	h.refuse("UA", InviteToJIT{JIT: id, Member: "ES"}, ErrNotFound)
	h.refuse("UA", InviteToJIT{JIT: id, Member: "LT"}, ErrAlreadyExists)
	h.refuse("UA", InviteToJIT{JIT: id, Member: "PL"}, ErrAlreadyExists)
	h.refuse("UA", InviteToJIT{JIT: "jit-999999", Member: "DE"}, ErrNotFound)

	// Answering: only for itself, only an open invitation.
	h.refuse("PL", RespondToJIT{JIT: id, Member: "LT", Accept: true}, ErrPermissionDenied)
	h.refuse("DE", RespondToJIT{JIT: id, Accept: true}, ErrNotFound)
	h.refuse("PL", RespondToJIT{JIT: id, Accept: true}, ErrFailedPrecondition)
	h.refuse("UA", RespondToJIT{JIT: "", Accept: true}, ErrInvalidArgument)

	// Leaving: only for itself, only a member.
	h.refuse("PL", LeaveJIT{JIT: id, Member: "UA"}, ErrPermissionDenied)
	h.refuse("LT", LeaveJIT{JIT: id}, ErrFailedPrecondition)
	h.refuse("DE", LeaveJIT{JIT: id}, ErrNotFound)

	// Linking: only JIT members, only their own cases, once, well formed.
	h.refuse("LT", LinkCase{JIT: id, Case: cref("LT", "1")}, ErrPermissionDenied)
	h.refuse("DE", LinkCase{JIT: id, Case: cref("DE", "1")}, ErrNotFound)
	h.refuse("PL", LinkCase{JIT: id, Case: cref("UA", "2")}, ErrPermissionDenied)
	h.refuse("UA", LinkCase{JIT: id, Case: cref("UA", "1")}, ErrAlreadyExists)
	h.refuse("UA", LinkCase{JIT: id, Case: CaseRef{Member: "UA", CaseID: "PL-1"}}, ErrInvalidArgument)
	h.refuse("UA", LinkCase{JIT: id, Case: CaseRef{Member: "UA", CaseID: "UA-a b"}}, ErrInvalidArgument)
	h.refuse("UA", LinkCase{JIT: id, Case: CaseRef{Member: "UA"}}, ErrInvalidArgument)
	h.refuse("PL", UnlinkCase{JIT: id, Case: cref("UA", "1")}, ErrPermissionDenied)
	h.refuse("UA", UnlinkCase{JIT: id, Case: cref("UA", "2")}, ErrNotFound)

	// Lead: proposed only by JIT members, for a member who accepted.
	h.refuse("DE", SetJITLead{JIT: id, Lead: "DE"}, ErrNotFound)
	h.refuse("LT", SetJITLead{JIT: id, Lead: "LT"}, ErrPermissionDenied)
	h.refuse("UA", SetJITLead{JIT: id, Lead: "LT"}, ErrFailedPrecondition)
	h.refuse("UA", SetJITLead{JIT: id, Lead: "DE"}, ErrFailedPrecondition)
	h.refuse("UA", SetJITLead{JIT: id, Lead: "UA"}, ErrFailedPrecondition) // already the lead
	h.refuse("UA", SetJITLead{JIT: id, Lead: "de"}, ErrInvalidArgument)

	// Policy: only the unanimous rule.
	h.refuse("UA", CreateJIT{Name: "x", LegalBasis: "y", Policy: "majority"}, ErrInvalidArgument)

	// Closing: proposed by a JIT member, closed once every member agrees;
	// then nothing applies to the team any more.
	h.refuse("DE", CloseJIT{JIT: id}, ErrNotFound)
	h.refuse("LT", CloseJIT{JIT: id}, ErrPermissionDenied)
	h.agree("PL", CloseJIT{JIT: id}, "UA")
	h.refuse("UA", CloseJIT{JIT: id}, ErrFailedPrecondition)
	h.refuse("UA", InviteToJIT{JIT: id, Member: "DE"}, ErrFailedPrecondition)
	h.refuse("LT", RespondToJIT{JIT: id, Accept: true}, ErrFailedPrecondition)
	h.refuse("PL", LinkCase{JIT: id, Case: cref("PL", "1")}, ErrFailedPrecondition)
	h.refuse("PL", SetJITLead{JIT: id, Lead: "PL"}, ErrFailedPrecondition)
	h.refuse("UA", CreateEntry{Kind: KindTheme, Title: "t", JIT: id}, ErrFailedPrecondition)
}

func TestJITVisibility(t *testing.T) {
	h := bootstrapped(t, Policy{}, "UA", "PL", "LT", "DE")
	h.ok("UA", ProposeMember{Code: "FR", Name: "France", CACerts: []string{validCA(t, "FR")}})
	a := h.teamOf("UA", "PL")
	h.agree("UA", InviteToJIT{JIT: a, Member: "LT"}, "PL")
	h.ok("UA", LinkCase{JIT: a, Case: cref("UA", "1")})
	b := h.teamOf("DE")

	// Accepted members see the team with its cases.
	j, err := h.jit(a, "PL")
	if err != nil || len(j.Cases) != 1 {
		t.Fatalf("accepted member: %+v %v", j, err)
	}
	// Invited members see the team, not its cases.
	j, err = h.jit(a, "LT")
	if err != nil || j.Cases != nil {
		t.Fatalf("invited member: %+v %v", j, err)
	}
	// Others do not see it at all.
	if _, err := h.jit(a, "DE"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("outsider: %v", err)
	}
	// Only admitted members read.
	if _, err := h.jit(a, "FR"); !errors.Is(err, ErrPermissionDenied) {
		t.Fatalf("proposed member: %v", err)
	}
	if _, err := h.jit(a, "ES"); !errors.Is(err, ErrPermissionDenied) {
		t.Fatalf("unknown member: %v", err)
	}
	list := func(viewer string) []string {
		var ids []string
		h.read(func(v View) {
			js, err := v.ListJITs(viewer)
			if err != nil {
				t.Fatal(err)
			}
			for _, j := range js {
				ids = append(ids, j.ID)
			}
		})
		return ids
	}
	if got := list("UA"); len(got) != 1 || got[0] != a {
		t.Errorf("UA sees %v", got)
	}
	if got := list("LT"); len(got) != 1 || got[0] != a {
		t.Errorf("LT sees %v", got)
	}
	if got := list("DE"); len(got) != 1 || got[0] != b {
		t.Errorf("DE sees %v", got)
	}
	// A member that left no longer sees the team.
	h.ok("PL", LeaveJIT{JIT: a})
	if _, err := h.jit(a, "PL"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("member that left: %v", err)
	}
	// A returned JIT is a copy.
	j, _ = h.jit(a, "UA")
	j.Members[0].State = MembershipLeft
	j.Cases[0].Case.CaseID = "changed"
	j2, _ := h.jit(a, "UA")
	if j2.Members[0].State == MembershipLeft || j2.Cases[0].Case.CaseID == "changed" {
		t.Fatal("a read shares memory with the state")
	}
}
