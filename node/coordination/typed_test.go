package coordination_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/accordfed/accord/federation/pki/pkitest"
	"github.com/accordfed/accord/node/daemon/daemontest"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// The typed methods against a running two-member federation: real nodes
// in-process, certificates made here, the registry replicated by Raft and
// team content sealed by the nodes.

type typedFed struct {
	ua, pl accordv1.CoordinationServiceClient
}

func startTyped(t *testing.T) typedFed {
	t.Helper()
	fed := pkitest.NewFederation(t, "accord.test", "UA", "PL")
	nodes, _ := daemontest.StartFederation(t, fed, nil, "UA", "PL")
	f := typedFed{}
	for _, n := range nodes {
		c := daemontest.Coordination(t, n.D, fed.User(n.Member, "analyst"), n.Member)
		if n.Member == "UA" {
			f.ua = c
		} else {
			f.pl = c
		}
	}
	return f
}

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// wantCode checks an error's code and that its message names want.
func wantCode(t *testing.T, err error, code codes.Code, want ...string) {
	t.Helper()
	if status.Code(err) != code {
		t.Fatalf("got %v, want %s", err, code)
	}
	for _, w := range want {
		if !strings.Contains(status.Convert(err).Message(), w) {
			t.Errorf("%v: does not name %q", err, w)
		}
	}
}

// must returns a call's result, failing the test on its error:
// must(c.GetJit(ctx, req))(t).
func must[T any](v T, err error) func(*testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func membershipOf(j *accordv1.Jit, member string) *accordv1.JitMembership {
	for _, m := range j.GetMemberships() {
		if m.GetMember() == member {
			return m
		}
	}
	return nil
}

func TestTypedRegistryMethods(t *testing.T) {
	f := startTyped(t)
	ua, pl := f.ua, f.pl

	t.Run("jits", func(t *testing.T) {
		ctx := ctxT(t)
		// Bad input names the field and changes nothing.
		_, err := ua.CreateJit(ctx, &accordv1.CreateJitRequest{Jit: &accordv1.Jit{DisplayName: "Kharkiv", LegalBasis: "EU JIT"}})
		wantCode(t, err, codes.InvalidArgument, "request_id: required")
		_, err = ua.CreateJit(ctx, &accordv1.CreateJitRequest{Jit: &accordv1.Jit{DisplayName: " ", LegalBasis: "EU JIT"}, RequestId: "jit-bad-1"})
		wantCode(t, err, codes.InvalidArgument, "jit.display_name")
		_, err = ua.CreateJit(ctx, &accordv1.CreateJitRequest{Jit: &accordv1.Jit{DisplayName: "K", LegalBasis: "EU JIT"}, InviteMembers: []string{"pl"}, RequestId: "jit-bad-2"})
		wantCode(t, err, codes.InvalidArgument, "invite_members[0]")
		if l := must(ua.ListJits(ctx, &accordv1.ListJitsRequest{}))(t); l.GetTotalSize() != 0 {
			t.Fatalf("refused creates left teams: %v", l)
		}

		req := &accordv1.CreateJitRequest{
			Jit:           &accordv1.Jit{DisplayName: "Kharkiv shelling 2022", LegalBasis: "EU JIT model agreement", AgreementRef: "JIT-2024-07"},
			InviteMembers: []string{"PL"}, RequestId: "jit-create-1",
		}
		j := must(ua.CreateJit(ctx, req))(t).GetJit()
		if !strings.HasPrefix(j.GetName(), "jits/jit-") || j.GetState() != accordv1.JitState_JIT_STATE_ACTIVE || j.GetLead() != "UA" ||
			j.GetDisplayName() != "Kharkiv shelling 2022" || j.GetPolicy() != accordv1.JitPolicy_JIT_POLICY_UNANIMOUS || j.GetKeyEpoch() != 1 {
			t.Fatalf("created %v", j)
		}
		if m := membershipOf(j, "PL"); m.GetState() != accordv1.JitMembershipState_JIT_MEMBERSHIP_STATE_INVITED || m.GetName() != j.GetName()+"/memberships/PL" || m.GetInvitedBy() != "UA" {
			t.Errorf("PL's membership %v", m)
		}
		if c := j.GetCreate(); c.GetMember() != "UA" || c.GetRequestId() != "jit-create-1" || c.GetIndex() == 0 || c.GetTime() == nil ||
			c.GetUser() != "spiffe://accord.test/member/UA/user/analyst" || c.GetNode() != "spiffe://accord.test/member/UA/node/ua-1" {
			t.Errorf("create change %v", c)
		}
		// The same request id again: the same team, not a second one.
		again := must(ua.CreateJit(ctx, req))(t).GetJit()
		if again.GetName() != j.GetName() {
			t.Errorf("retry made %s, first %s", again.GetName(), j.GetName())
		}
		if l := must(ua.ListJits(ctx, &accordv1.ListJitsRequest{}))(t); l.GetTotalSize() != 1 {
			t.Errorf("after a retry: %d teams", l.GetTotalSize())
		}

		_, err = ua.GetJit(ctx, &accordv1.GetJitRequest{Name: "jit-000001"})
		wantCode(t, err, codes.InvalidArgument, "name", "jits/{id}")
		_, err = ua.GetJit(ctx, &accordv1.GetJitRequest{Name: "jits/jit-999999"})
		wantCode(t, err, codes.NotFound)

		// Invited, PL sees the team but cannot act in it, nor answer for UA.
		inv := must(pl.ListJits(ctx, &accordv1.ListJitsRequest{MembershipState: accordv1.JitMembershipState_JIT_MEMBERSHIP_STATE_INVITED}))(t)
		if len(inv.GetJits()) != 1 || inv.GetJits()[0].GetName() != j.GetName() {
			t.Fatalf("PL's invitations: %v", inv)
		}
		_, err = pl.LinkJitCase(ctx, &accordv1.LinkJitCaseRequest{Jit: j.GetName(), CaseRef: &accordv1.RegistryCaseRef{Member: "PL", CaseId: "PL-2023-17"}, RequestId: "pl-link-0"})
		wantCode(t, err, codes.PermissionDenied)
		_, err = pl.AcceptJitInvitation(ctx, &accordv1.AcceptJitInvitationRequest{Name: j.GetName() + "/memberships/UA", RequestId: "pl-accept-0"})
		wantCode(t, err, codes.PermissionDenied, "name")
		j = must(pl.AcceptJitInvitation(ctx, &accordv1.AcceptJitInvitationRequest{Name: j.GetName() + "/memberships/PL", RequestId: "pl-accept-1"}))(t).GetJit()
		if membershipOf(j, "PL").GetState() != accordv1.JitMembershipState_JIT_MEMBERSHIP_STATE_ACCEPTED {
			t.Fatalf("after accepting: %v", j.GetMemberships())
		}

		// Cases: own only, named by case_ref.
		_, err = ua.LinkJitCase(ctx, &accordv1.LinkJitCaseRequest{Jit: j.GetName(), CaseRef: &accordv1.RegistryCaseRef{Member: "UA", CaseId: "bad id"}, RequestId: "ua-link-0"})
		wantCode(t, err, codes.InvalidArgument, "case_ref.case_id")
		j = must(ua.LinkJitCase(ctx, &accordv1.LinkJitCaseRequest{Jit: j.GetName(), CaseRef: &accordv1.RegistryCaseRef{Member: "UA", CaseId: "UA-2022-000001"}, RequestId: "ua-link-1"}))(t).GetJit()
		if len(j.GetCases()) != 1 || j.GetCases()[0].GetCaseRef().GetCaseId() != "UA-2022-000001" {
			t.Fatalf("cases %v", j.GetCases())
		}
		j = must(ua.UnlinkJitCase(ctx, &accordv1.UnlinkJitCaseRequest{Jit: j.GetName(), CaseRef: &accordv1.RegistryCaseRef{Member: "UA", CaseId: "UA-2022-000001"}, RequestId: "ua-unlink-1"}))(t).GetJit()
		if len(j.GetCases()) != 0 {
			t.Fatalf("unlinked, cases %v", j.GetCases())
		}

		// A new lead takes PL's consent.
		lr := must(ua.SetJitLead(ctx, &accordv1.SetJitLeadRequest{Jit: j.GetName(), Lead: "PL", RequestId: "ua-lead-1"}))(t)
		p := lr.GetProposal()
		if p.GetName() != j.GetName()+"/proposals/1" || p.GetState() != accordv1.JitProposalState_JIT_PROPOSAL_STATE_OPEN || p.GetKind() != accordv1.JitProposalKind_JIT_PROPOSAL_KIND_SET_LEAD {
			t.Fatalf("proposal %v", p)
		}
		_, err = pl.ConsentJitProposal(ctx, &accordv1.ConsentJitProposalRequest{Name: p.GetName(), RequestId: "pl-consent-0"})
		wantCode(t, err, codes.InvalidArgument, "answer")
		cr := must(pl.ConsentJitProposal(ctx, &accordv1.ConsentJitProposalRequest{Name: p.GetName(), Answer: accordv1.Answer_ANSWER_YES, RequestId: "pl-consent-1"}))(t)
		if cr.GetProposal().GetState() != accordv1.JitProposalState_JIT_PROPOSAL_STATE_AGREED || cr.GetJit().GetLead() != "PL" {
			t.Fatalf("consented: %v", cr)
		}

		// PL leaves; UA stays, the team stays active.
		left := must(pl.LeaveJit(ctx, &accordv1.LeaveJitRequest{Name: j.GetName() + "/memberships/PL", RequestId: "pl-leave-1"}))(t)
		if left.GetMembership().GetState() != accordv1.JitMembershipState_JIT_MEMBERSHIP_STATE_LEFT || left.GetJitState() != accordv1.JitState_JIT_STATE_ACTIVE {
			t.Errorf("left: %v", left)
		}
		_, err = pl.GetJit(ctx, &accordv1.GetJitRequest{Name: j.GetName()})
		wantCode(t, err, codes.NotFound)

		// A team of UA alone: PL does not see it; UA closes it at once.
		solo := must(ua.CreateJit(ctx, &accordv1.CreateJitRequest{Jit: &accordv1.Jit{DisplayName: "Solo", LegalBasis: "national"}, RequestId: "jit-create-2"}))(t).GetJit()
		_, err = pl.InviteToJit(ctx, &accordv1.InviteToJitRequest{Jit: solo.GetName(), Member: "PL", RequestId: "pl-invite-x"})
		wantCode(t, err, codes.NotFound)
		ir := must(ua.InviteToJit(ctx, &accordv1.InviteToJitRequest{Jit: solo.GetName(), Member: "PL", RequestId: "ua-invite-2"}))(t)
		if ir.GetProposal().GetState() != accordv1.JitProposalState_JIT_PROPOSAL_STATE_AGREED || membershipOf(ir.GetJit(), "PL").GetState() != accordv1.JitMembershipState_JIT_MEMBERSHIP_STATE_INVITED {
			t.Fatalf("invite: %v", ir)
		}
		dr := must(pl.DeclineJitInvitation(ctx, &accordv1.DeclineJitInvitationRequest{Name: solo.GetName() + "/memberships/PL", RequestId: "pl-decline-2"}))(t)
		if dr.GetMembership().GetState() != accordv1.JitMembershipState_JIT_MEMBERSHIP_STATE_DECLINED {
			t.Errorf("declined: %v", dr)
		}
		closed := must(ua.CloseJit(ctx, &accordv1.CloseJitRequest{Name: solo.GetName(), RequestId: "ua-close-2"}))(t)
		if closed.GetJit().GetState() != accordv1.JitState_JIT_STATE_CLOSED || closed.GetProposal().GetKind() != accordv1.JitProposalKind_JIT_PROPOSAL_KIND_CLOSE {
			t.Errorf("closed: %v", closed)
		}
		active := must(ua.ListJits(ctx, &accordv1.ListJitsRequest{State: accordv1.JitState_JIT_STATE_ACTIVE}))(t)
		if active.GetTotalSize() != 1 || active.GetJits()[0].GetName() != j.GetName() {
			t.Errorf("active teams: %v", active)
		}
		_, err = ua.ListJits(ctx, &accordv1.ListJitsRequest{Member: "pl"})
		wantCode(t, err, codes.InvalidArgument, "member")
	})

	t.Run("strategy", func(t *testing.T) {
		ctx := ctxT(t)
		_, err := ua.CreateStrategyEntry(ctx, &accordv1.CreateStrategyEntryRequest{StrategyEntry: &accordv1.StrategyEntry{Title: "x"}, RequestId: "e-bad-1"})
		wantCode(t, err, codes.InvalidArgument, "strategy_entry.kind")
		_, err = ua.CreateStrategyEntry(ctx, &accordv1.CreateStrategyEntryRequest{StrategyEntry: &accordv1.StrategyEntry{Kind: accordv1.StrategyEntryKind_STRATEGY_ENTRY_KIND_THEME}, RequestId: "e-bad-2"})
		wantCode(t, err, codes.InvalidArgument, "strategy_entry.title")
		_, err = ua.CreateStrategyEntry(ctx, &accordv1.CreateStrategyEntryRequest{StrategyEntry: &accordv1.StrategyEntry{
			Kind: accordv1.StrategyEntryKind_STRATEGY_ENTRY_KIND_TARGET, Title: "t",
			Targets: []*accordv1.StrategyTarget{{Type: accordv1.StrategyTargetType_STRATEGY_TARGET_TYPE_PERSON, Ref: "Ivan"}},
		}, RequestId: "e-bad-3"})
		wantCode(t, err, codes.InvalidArgument, "strategy_entry.targets[0].ref")
		if l := must(pl.ListStrategyEntries(ctx, &accordv1.ListStrategyEntriesRequest{ShowDeleted: true}))(t); l.GetTotalSize() != 0 {
			t.Fatalf("refused creates left entries: %v", l)
		}

		var names []string
		for i, title := range []string{"Energy infrastructure", "Filtration camps", "Deportations", "Cultural heritage", "Hospitals"} {
			e := must(ua.CreateStrategyEntry(ctx, &accordv1.CreateStrategyEntryRequest{StrategyEntry: &accordv1.StrategyEntry{
				Kind: accordv1.StrategyEntryKind_STRATEGY_ENTRY_KIND_PRIORITY, Title: title, Text: "text " + title,
				Targets: []*accordv1.StrategyTarget{{Type: accordv1.StrategyTargetType_STRATEGY_TARGET_TYPE_UNIT, Ref: "64th Brigade"}},
			}, RequestId: "e-create-" + string(rune('a'+i))}))(t).GetStrategyEntry()
			if e.GetVersion() != 1 || e.GetOwner() != "UA" || e.GetEtag() != `"1"` || e.GetJit() != "" {
				t.Fatalf("created %v", e)
			}
			names = append(names, e.GetName())
		}

		// Pages of two, bound to the filter.
		var got []string
		req := &accordv1.ListStrategyEntriesRequest{PageSize: 2, Owner: "UA"}
		var tokens []string
		for {
			resp := must(pl.ListStrategyEntries(ctx, req))(t)
			if resp.GetTotalSize() != 5 {
				t.Errorf("total_size %d", resp.GetTotalSize())
			}
			for _, e := range resp.GetStrategyEntries() {
				got = append(got, e.GetName())
			}
			if resp.GetNextPageToken() == "" {
				break
			}
			tokens = append(tokens, resp.GetNextPageToken())
			req.PageToken = resp.GetNextPageToken()
		}
		if strings.Join(got, ",") != strings.Join(names, ",") || len(tokens) != 2 {
			t.Fatalf("paged %v (%d tokens), want %v", got, len(tokens), names)
		}
		tok := []byte(tokens[0])
		tok[len(tok)/2] ^= 1
		_, err = pl.ListStrategyEntries(ctx, &accordv1.ListStrategyEntriesRequest{PageSize: 2, Owner: "UA", PageToken: string(tok)})
		wantCode(t, err, codes.InvalidArgument, "page_token")
		_, err = pl.ListStrategyEntries(ctx, &accordv1.ListStrategyEntriesRequest{PageSize: 2, Owner: "PL", PageToken: tokens[0]})
		wantCode(t, err, codes.InvalidArgument, "page_token", "other filters")
		// A token of PL's node is no token at UA's.
		_, err = ua.ListStrategyEntries(ctx, &accordv1.ListStrategyEntriesRequest{PageSize: 2, Owner: "UA", PageToken: tokens[0]})
		wantCode(t, err, codes.InvalidArgument, "page_token", "another node")
		_, err = pl.ListStrategyEntries(ctx, &accordv1.ListStrategyEntriesRequest{Jit: "jits/jit-000001", FederationWide: true})
		wantCode(t, err, codes.InvalidArgument, "federation_wide")

		// A field-mask update changes only the masked fields, once per
		// request id.
		name := names[0]
		upd := &accordv1.UpdateStrategyEntryRequest{
			StrategyEntry: &accordv1.StrategyEntry{Name: name, Title: "Energy infrastructure, winter 2022", Text: "not this", Etag: `"1"`},
			UpdateMask:    &fieldmaskpb.FieldMask{Paths: []string{"title"}}, RequestId: "e-update-1",
		}
		e := must(ua.UpdateStrategyEntry(ctx, upd))(t).GetStrategyEntry()
		if e.GetVersion() != 2 || e.GetTitle() != "Energy infrastructure, winter 2022" || e.GetText() != "text Energy infrastructure" ||
			e.GetKind() != accordv1.StrategyEntryKind_STRATEGY_ENTRY_KIND_PRIORITY || len(e.GetTargets()) != 1 || e.GetEtag() != `"2"` {
			t.Fatalf("updated %v", e)
		}
		again := must(ua.UpdateStrategyEntry(ctx, upd))(t).GetStrategyEntry()
		if again.GetVersion() != 2 {
			t.Errorf("a retry wrote version %d", again.GetVersion())
		}
		stale := proto.Clone(upd).(*accordv1.UpdateStrategyEntryRequest)
		stale.RequestId = "e-update-2"
		_, err = ua.UpdateStrategyEntry(ctx, stale)
		wantCode(t, err, codes.Aborted, "strategy_entry.etag")
		bad := proto.Clone(stale).(*accordv1.UpdateStrategyEntryRequest)
		bad.UpdateMask.Paths = []string{"owner"}
		_, err = ua.UpdateStrategyEntry(ctx, bad)
		wantCode(t, err, codes.InvalidArgument, "update_mask.paths[0]")
		_, err = pl.UpdateStrategyEntry(ctx, &accordv1.UpdateStrategyEntryRequest{
			StrategyEntry: &accordv1.StrategyEntry{Name: name, Text: "mine"}, RequestId: "pl-update-1"})
		wantCode(t, err, codes.PermissionDenied, "owned by UA")
		// Without a mask, the fields set change: the text only.
		e = must(ua.UpdateStrategyEntry(ctx, &accordv1.UpdateStrategyEntryRequest{
			StrategyEntry: &accordv1.StrategyEntry{Name: name, Text: "Winter campaigns"}, RequestId: "e-update-3"}))(t).GetStrategyEntry()
		if e.GetVersion() != 3 || e.GetText() != "Winter campaigns" || e.GetTitle() != "Energy infrastructure, winter 2022" {
			t.Fatalf("updated without a mask: %v", e)
		}

		del := must(ua.DeleteStrategyEntry(ctx, &accordv1.DeleteStrategyEntryRequest{Name: name, Reason: "merged", RequestId: "e-delete-1"}))(t).GetStrategyEntry()
		if !del.GetDeleted() || del.GetDeleteReason() != "merged" || del.GetVersion() != 4 {
			t.Fatalf("deleted %v", del)
		}
		if l := must(pl.ListStrategyEntries(ctx, &accordv1.ListStrategyEntriesRequest{}))(t); l.GetTotalSize() != 4 {
			t.Errorf("deleted entry listed: %d", l.GetTotalSize())
		}
		if l := must(pl.ListStrategyEntries(ctx, &accordv1.ListStrategyEntriesRequest{ShowDeleted: true}))(t); l.GetTotalSize() != 5 {
			t.Errorf("show_deleted: %d", l.GetTotalSize())
		}
		revs := must(pl.ListStrategyEntryRevisions(ctx, &accordv1.ListStrategyEntryRevisionsRequest{Name: name, PageSize: 3}))(t)
		if len(revs.GetRevisions()) != 3 || revs.GetRevisions()[0].GetName() != name+"/revisions/1" ||
			revs.GetRevisions()[0].GetTitle() != "Energy infrastructure" || revs.GetNextPageToken() == "" {
			t.Fatalf("revisions %v", revs)
		}
		last := must(pl.ListStrategyEntryRevisions(ctx, &accordv1.ListStrategyEntryRevisionsRequest{Name: name, PageSize: 3, PageToken: revs.GetNextPageToken()}))(t)
		if len(last.GetRevisions()) != 1 || !last.GetRevisions()[0].GetDeleted() || last.GetRevisions()[0].GetChange().GetRequestId() != "e-delete-1" {
			t.Fatalf("last revisions %v", last)
		}
		got1 := must(pl.GetStrategyEntry(ctx, &accordv1.GetStrategyEntryRequest{Name: names[1]}))(t).GetStrategyEntry()
		if got1.GetTitle() != "Filtration camps" {
			t.Errorf("get %v", got1)
		}
		_, err = pl.GetStrategyEntry(ctx, &accordv1.GetStrategyEntryRequest{Name: "strategyEntries/entry-999999"})
		wantCode(t, err, codes.NotFound)
	})

	t.Run("leads and matches", func(t *testing.T) {
		ctx := ctxT(t)
		cases := []*accordv1.RegistryCaseRef{{Member: "UA", CaseId: "UA-2022-000001"}, {Member: "PL", CaseId: "PL-2023-17"}}
		_, err := ua.CreateMatchDecision(ctx, &accordv1.CreateMatchDecisionRequest{MatchDecision: &accordv1.MatchDecision{Cases: cases[:1], Score: 0.9}, RequestId: "m-bad-1"})
		wantCode(t, err, codes.InvalidArgument, "match_decision.cases")
		m := must(ua.CreateMatchDecision(ctx, &accordv1.CreateMatchDecisionRequest{MatchDecision: &accordv1.MatchDecision{
			Cases: cases, Score: 0.92, Reasons: []string{"same place and day"}, CaseVersions: map[string]int64{"UA/UA-2022-000001": 3},
		}, RequestId: "m-create-1"}))(t).GetMatchDecision()
		if m.GetState() != accordv1.MatchDecisionState_MATCH_DECISION_STATE_PROPOSED || len(m.GetAnswers()) != 2 || m.GetCaseVersions()["UA/UA-2022-000001"] != 3 {
			t.Fatalf("match %v", m)
		}
		waiting := must(pl.ListMatchDecisions(ctx, &accordv1.ListMatchDecisionsRequest{AwaitingAnswer: true, PageSize: 1}))(t)
		if waiting.GetTotalSize() != 1 || waiting.GetMatchDecisions()[0].GetName() != m.GetName() {
			t.Fatalf("waiting for PL: %v", waiting)
		}
		byCase := must(pl.ListMatchDecisions(ctx, &accordv1.ListMatchDecisionsRequest{CaseRef: &accordv1.RegistryCaseRef{Member: "PL", CaseId: "PL-2023-17"}}))(t)
		none := must(pl.ListMatchDecisions(ctx, &accordv1.ListMatchDecisionsRequest{CaseRef: &accordv1.RegistryCaseRef{Member: "PL", CaseId: "PL-2023-18"}}))(t)
		if byCase.GetTotalSize() != 1 || none.GetTotalSize() != 0 {
			t.Errorf("by case: %d, other case: %d", byCase.GetTotalSize(), none.GetTotalSize())
		}
		_, err = pl.DecideMatch(ctx, &accordv1.DecideMatchRequest{Name: m.GetName(), RequestId: "pl-m-0"})
		wantCode(t, err, codes.InvalidArgument, "answer")
		dec := &accordv1.DecideMatchRequest{Name: m.GetName(), Answer: accordv1.Answer_ANSWER_YES, RequestId: "pl-m-1"}
		d := must(pl.DecideMatch(ctx, dec))(t).GetMatchDecision()
		// Answered again with the same request id: the first answer, not
		// "already answered".
		must(pl.DecideMatch(ctx, dec))(t)
		if d.GetState() != accordv1.MatchDecisionState_MATCH_DECISION_STATE_PROPOSED {
			t.Fatalf("after PL: %v", d)
		}
		d = must(ua.DecideMatch(ctx, &accordv1.DecideMatchRequest{Name: m.GetName(), Answer: accordv1.Answer_ANSWER_YES, RequestId: "ua-m-1"}))(t).GetMatchDecision()
		if d.GetState() != accordv1.MatchDecisionState_MATCH_DECISION_STATE_CONFIRMED {
			t.Fatalf("after both: %v", d)
		}
		if w := must(pl.ListMatchDecisions(ctx, &accordv1.ListMatchDecisionsRequest{AwaitingAnswer: true}))(t); w.GetTotalSize() != 0 {
			t.Errorf("still waiting: %v", w)
		}
		_, err = pl.GetMatchDecision(ctx, &accordv1.GetMatchDecisionRequest{Name: "matchDecisions/match-999999"})
		wantCode(t, err, codes.NotFound)

		// A lead for the confirmed match.
		_, err = ua.CreateLeadProposal(ctx, &accordv1.CreateLeadProposalRequest{LeadProposal: &accordv1.LeadProposal{Match: m.GetName()}, RequestId: "l-bad-1"})
		wantCode(t, err, codes.InvalidArgument, "lead_proposal.lead")
		l := must(ua.CreateLeadProposal(ctx, &accordv1.CreateLeadProposalRequest{LeadProposal: &accordv1.LeadProposal{
			Match: m.GetName(), Lead: "UA", Note: "most evidence in Kharkiv"}, RequestId: "l-create-1"}))(t).GetLeadProposal()
		if l.GetState() != accordv1.LeadProposalState_LEAD_PROPOSAL_STATE_PROPOSED || l.GetMatch() != m.GetName() || len(l.GetCases()) != 2 {
			t.Fatalf("lead %v", l)
		}
		mine := must(pl.ListLeadProposals(ctx, &accordv1.ListLeadProposalsRequest{AwaitingAnswer: true, Lead: "UA"}))(t)
		if mine.GetTotalSize() != 1 {
			t.Fatalf("PL's lead proposals to answer: %v", mine)
		}
		must(pl.ConsentLeadProposal(ctx, &accordv1.ConsentLeadProposalRequest{Name: l.GetName(), Answer: accordv1.Answer_ANSWER_YES, RequestId: "pl-l-1"}))(t)
		l = must(ua.ConsentLeadProposal(ctx, &accordv1.ConsentLeadProposalRequest{Name: l.GetName(), Answer: accordv1.Answer_ANSWER_YES, RequestId: "ua-l-1"}))(t).GetLeadProposal()
		if l.GetState() != accordv1.LeadProposalState_LEAD_PROPOSAL_STATE_AGREED {
			t.Fatalf("agreed? %v", l)
		}
		if g := must(pl.GetLeadProposal(ctx, &accordv1.GetLeadProposalRequest{Name: l.GetName()}))(t).GetLeadProposal(); g.GetConsents()[0].GetAnswer() != accordv1.Answer_ANSWER_YES {
			t.Errorf("get %v", g)
		}
		_, err = pl.GetLeadProposal(ctx, &accordv1.GetLeadProposalRequest{Name: "lead-000001"})
		wantCode(t, err, codes.InvalidArgument, "name")
	})
}
