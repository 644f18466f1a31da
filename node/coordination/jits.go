package coordination

import (
	"context"
	"strconv"
	"strings"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/registry"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// Joint investigation teams: jits/{jit}, with their memberships
// (jits/{jit}/memberships/{member}) and proposals
// (jits/{jit}/proposals/{number}) embedded.

const (
	jitExample        = "jits/jit-000001"
	membershipExample = "jits/jit-000001/memberships/PL"
	proposalExample   = "jits/jit-000001/proposals/2"
)

var (
	jitStates = map[registry.JITStatus]accordv1.JitState{
		registry.JITActive: accordv1.JitState_JIT_STATE_ACTIVE,
		registry.JITClosed: accordv1.JitState_JIT_STATE_CLOSED,
	}
	jitPolicies = map[registry.JITPolicy]accordv1.JitPolicy{
		registry.JITUnanimous: accordv1.JitPolicy_JIT_POLICY_UNANIMOUS,
	}
	memberships = map[registry.Membership]accordv1.JitMembershipState{
		registry.MembershipInvited:  accordv1.JitMembershipState_JIT_MEMBERSHIP_STATE_INVITED,
		registry.MembershipAccepted: accordv1.JitMembershipState_JIT_MEMBERSHIP_STATE_ACCEPTED,
		registry.MembershipDeclined: accordv1.JitMembershipState_JIT_MEMBERSHIP_STATE_DECLINED,
		registry.MembershipLeft:     accordv1.JitMembershipState_JIT_MEMBERSHIP_STATE_LEFT,
	}
	proposalKinds = map[registry.ProposalKind]accordv1.JitProposalKind{
		registry.ProposalInvite:  accordv1.JitProposalKind_JIT_PROPOSAL_KIND_INVITE,
		registry.ProposalSetLead: accordv1.JitProposalKind_JIT_PROPOSAL_KIND_SET_LEAD,
		registry.ProposalClose:   accordv1.JitProposalKind_JIT_PROPOSAL_KIND_CLOSE,
	}
	proposalStates = map[registry.ProposalStatus]accordv1.JitProposalState{
		registry.ProposalOpen:    accordv1.JitProposalState_JIT_PROPOSAL_STATE_OPEN,
		registry.ProposalAgreed:  accordv1.JitProposalState_JIT_PROPOSAL_STATE_AGREED,
		registry.ProposalRefused: accordv1.JitProposalState_JIT_PROPOSAL_STATE_REFUSED,
		registry.ProposalLapsed:  accordv1.JitProposalState_JIT_PROPOSAL_STATE_LAPSED,
	}
)

func jitName(id string) string { return "jits/" + id }

// proposalName turns a registry proposal id "<jit>/<number>" into its
// resource name.
func proposalName(id string) string {
	jit, n, _ := strings.Cut(id, "/")
	return jitName(jit) + "/proposals/" + n
}

func toJit(j *registry.JIT) *accordv1.Jit {
	out := &accordv1.Jit{
		Name: jitName(j.ID), DisplayName: j.Name, LegalBasis: j.LegalBasis, AgreementRef: j.AgreementRef,
		State: jitStates[j.Status], Policy: jitPolicies[j.Policy], Lead: j.Lead, KeyEpoch: int32(j.KeyEpoch),
		Create: toChange(j.Created), Update: toChange(j.Updated),
	}
	if j.Policy == "" {
		out.Policy = accordv1.JitPolicy_JIT_POLICY_UNANIMOUS
	}
	for _, m := range j.Members {
		out.Memberships = append(out.Memberships, &accordv1.JitMembership{
			Name: jitName(j.ID) + "/memberships/" + m.Member, Member: m.Member, State: memberships[m.State],
			InvitedBy: m.InvitedBy, Since: toChange(m.Since),
		})
	}
	for _, c := range j.Cases {
		out.Cases = append(out.Cases, &accordv1.JitCase{CaseRef: toCaseRef(c.Case), Linked: toChange(c.Linked)})
	}
	for i := range j.Proposals {
		out.Proposals = append(out.Proposals, toJitProposal(&j.Proposals[i]))
	}
	return out
}

func toJitProposal(p *registry.JITProposal) *accordv1.JitProposal {
	return &accordv1.JitProposal{
		Name: proposalName(p.ID), Kind: proposalKinds[p.Kind], Member: p.Member, State: proposalStates[p.Status],
		Consents: toAnswers(p.Consents), Create: toChange(p.Created), Update: toChange(p.Updated),
	}
}

// jit reads a team as the user's member sees it, opened.
func (s *Service) jit(ctx context.Context, id identity.Identity, jitID string, stale bool) (*registry.JIT, error) {
	var j registry.JIT
	err := s.read(ctx, stale, func(v registry.View) error {
		var err error
		j, err = v.GetJIT(jitID, id.Member)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.openJITs(&j)
	return &j, nil
}

// jitWithProposal reads a team after a proposal and returns both.
func (s *Service) jitWithProposal(ctx context.Context, id identity.Identity, jitID, proposalID string) (*accordv1.Jit, *accordv1.JitProposal, error) {
	j, err := s.jit(ctx, id, jitID, false)
	if err != nil {
		return nil, nil, err
	}
	out := toJit(j)
	for i := range j.Proposals {
		if j.Proposals[i].ID == proposalID {
			return out, out.Proposals[i], nil
		}
	}
	// Pruned already (only the latest decided proposals are kept).
	return out, &accordv1.JitProposal{Name: proposalName(proposalID)}, nil
}

// GetJit implements CoordinationService.GetJit.
func (s *Service) GetJit(ctx context.Context, req *accordv1.GetJitRequest) (*accordv1.GetJitResponse, error) {
	return call(ctx, s, req, func(ctx context.Context, id identity.Identity, req *accordv1.GetJitRequest) (*accordv1.GetJitResponse, error) {
		jitID, err := parseName("name", req.GetName(), "jits", jitExample)
		if err != nil {
			return nil, err
		}
		j, err := s.jit(ctx, id, jitID, req.GetStale())
		if err != nil {
			return nil, err
		}
		return &accordv1.GetJitResponse{Jit: toJit(j)}, nil
	})
}

// ListJits implements CoordinationService.ListJits.
func (s *Service) ListJits(ctx context.Context, req *accordv1.ListJitsRequest) (*accordv1.ListJitsResponse, error) {
	return call(ctx, s, req, func(ctx context.Context, id identity.Identity, req *accordv1.ListJitsRequest) (*accordv1.ListJitsResponse, error) {
		if err := checkEnum("state", req.GetState(), enumNames(jitStates)); err != nil {
			return nil, err
		}
		if err := checkEnum("membership_state", req.GetMembershipState(), enumNames(memberships)); err != nil {
			return nil, err
		}
		if err := checkMember("member", req.GetMember()); err != nil {
			return nil, err
		}
		p, err := s.pageOf(id, accordv1.CoordinationService_ListJits_FullMethodName, req.GetPageSize(), req.GetPageToken(),
			req.GetState().String(), req.GetMember(), req.GetMembershipState().String())
		if err != nil {
			return nil, err
		}
		var js []registry.JIT
		err = s.read(ctx, req.GetStale(), func(v registry.View) error {
			all, err := v.ListJITs(id.Member)
			for _, j := range all {
				if req.GetState() != 0 && jitStates[j.Status] != req.GetState() {
					continue
				}
				if m := req.GetMember(); m != "" && !jitHolds(&j, m) {
					continue
				}
				if st := req.GetMembershipState(); st != 0 && memberships[jitStateOf(&j, id.Member)] != st {
					continue
				}
				js = append(js, j)
			}
			return err
		})
		if err != nil {
			return nil, err
		}
		pg, next := paginate(s, p, js, func(j registry.JIT) string { return j.ID })
		resp := &accordv1.ListJitsResponse{NextPageToken: next, TotalSize: int32(len(js))}
		for i := range pg {
			s.openJITs(&pg[i])
			resp.Jits = append(resp.Jits, toJit(&pg[i]))
		}
		return resp, nil
	})
}

// jitHolds reports whether member is accepted or invited in j.
func jitHolds(j *registry.JIT, member string) bool {
	st := jitStateOf(j, member)
	return st == registry.MembershipAccepted || st == registry.MembershipInvited
}

func jitStateOf(j *registry.JIT, member string) registry.Membership {
	for _, m := range j.Members {
		if m.Member == member {
			return m.State
		}
	}
	return ""
}

// CreateJit implements CoordinationService.CreateJit.
func (s *Service) CreateJit(ctx context.Context, req *accordv1.CreateJitRequest) (*accordv1.CreateJitResponse, error) {
	return call(ctx, s, req, func(ctx context.Context, id identity.Identity, req *accordv1.CreateJitRequest) (*accordv1.CreateJitResponse, error) {
		in := req.GetJit()
		if in == nil {
			return nil, invalidf("jit: required (display_name and legal_basis at least)")
		}
		var policy registry.JITPolicy
		switch in.GetPolicy() {
		case accordv1.JitPolicy_JIT_POLICY_UNSPECIFIED:
		case accordv1.JitPolicy_JIT_POLICY_UNANIMOUS:
			policy = registry.JITUnanimous
		default:
			return nil, invalidf("jit.policy: %d is not a JIT policy; the only one is JIT_POLICY_UNANIMOUS", int32(in.GetPolicy()))
		}
		if strings.TrimSpace(in.GetDisplayName()) == "" {
			return nil, invalidf("jit.display_name: required")
		}
		if strings.TrimSpace(in.GetLegalBasis()) == "" {
			return nil, invalidf("jit.legal_basis: required")
		}
		out, _, err := s.write(ctx, id, req.GetRequestId(), registry.CreateJIT{
			Name: in.GetDisplayName(), LegalBasis: in.GetLegalBasis(), AgreementRef: in.GetAgreementRef(),
			Invite: req.GetInviteMembers(), Policy: policy,
		}, map[string]string{"name": "jit.display_name", "legal_basis": "jit.legal_basis", "agreement_ref": "jit.agreement_ref",
			"invite": "invite_members", "policy": "jit.policy"})
		if err != nil {
			return nil, err
		}
		j, err := s.jit(ctx, id, out.ID, false)
		if err != nil {
			return nil, err
		}
		return &accordv1.CreateJitResponse{Jit: toJit(j)}, nil
	})
}

// InviteToJit implements CoordinationService.InviteToJit.
func (s *Service) InviteToJit(ctx context.Context, req *accordv1.InviteToJitRequest) (*accordv1.InviteToJitResponse, error) {
	return call(ctx, s, req, func(ctx context.Context, id identity.Identity, req *accordv1.InviteToJitRequest) (*accordv1.InviteToJitResponse, error) {
		jitID, err := parseName("jit", req.GetJit(), "jits", jitExample)
		if err != nil {
			return nil, err
		}
		out, _, err := s.write(ctx, id, req.GetRequestId(), registry.InviteToJIT{JIT: jitID, Member: req.GetMember()}, nil)
		if err != nil {
			return nil, err
		}
		j, p, err := s.jitWithProposal(ctx, id, jitID, out.ID)
		if err != nil {
			return nil, err
		}
		return &accordv1.InviteToJitResponse{Jit: j, Proposal: p}, nil
	})
}

// respond answers the user's member's invitation named by a membership.
func (s *Service) respond(ctx context.Context, id identity.Identity, name, requestID string, accept bool) (string, registry.Outcome, uint64, error) {
	jitID, member, err := parseSubName("name", name, "jits", "memberships", membershipExample)
	if err != nil {
		return "", registry.Outcome{}, 0, err
	}
	out, index, err := s.write(ctx, id, requestID, registry.RespondToJIT{JIT: jitID, Member: member, Accept: accept},
		map[string]string{"jit": "name", "member": "name"})
	return jitID, out, index, err
}

// AcceptJitInvitation implements CoordinationService.AcceptJitInvitation.
func (s *Service) AcceptJitInvitation(ctx context.Context, req *accordv1.AcceptJitInvitationRequest) (*accordv1.AcceptJitInvitationResponse, error) {
	return call(ctx, s, req, func(ctx context.Context, id identity.Identity, req *accordv1.AcceptJitInvitationRequest) (*accordv1.AcceptJitInvitationResponse, error) {
		jitID, _, _, err := s.respond(ctx, id, req.GetName(), req.GetRequestId(), true)
		if err != nil {
			return nil, err
		}
		j, err := s.jit(ctx, id, jitID, false)
		if err != nil {
			return nil, err
		}
		return &accordv1.AcceptJitInvitationResponse{Jit: toJit(j)}, nil
	})
}

// ownMembership is the user's member's membership after a change that
// took the team out of its sight (declined, left): what the service knows
// of it without reading the team.
func ownMembership(id identity.Identity, jitID, requestID string, state registry.Membership, index uint64) *accordv1.JitMembership {
	return &accordv1.JitMembership{
		Name: jitName(jitID) + "/memberships/" + id.Member, Member: id.Member, State: memberships[state],
		Since: &accordv1.RegistryChange{Index: index, RequestId: requestID, Member: id.Member, User: id.String()},
	}
}

// DeclineJitInvitation implements CoordinationService.DeclineJitInvitation.
func (s *Service) DeclineJitInvitation(ctx context.Context, req *accordv1.DeclineJitInvitationRequest) (*accordv1.DeclineJitInvitationResponse, error) {
	return call(ctx, s, req, func(ctx context.Context, id identity.Identity, req *accordv1.DeclineJitInvitationRequest) (*accordv1.DeclineJitInvitationResponse, error) {
		jitID, _, index, err := s.respond(ctx, id, req.GetName(), req.GetRequestId(), false)
		if err != nil {
			return nil, err
		}
		return &accordv1.DeclineJitInvitationResponse{Membership: ownMembership(id, jitID, req.GetRequestId(), registry.MembershipDeclined, index)}, nil
	})
}

// LeaveJit implements CoordinationService.LeaveJit.
func (s *Service) LeaveJit(ctx context.Context, req *accordv1.LeaveJitRequest) (*accordv1.LeaveJitResponse, error) {
	return call(ctx, s, req, func(ctx context.Context, id identity.Identity, req *accordv1.LeaveJitRequest) (*accordv1.LeaveJitResponse, error) {
		jitID, member, err := parseSubName("name", req.GetName(), "jits", "memberships", membershipExample)
		if err != nil {
			return nil, err
		}
		out, index, err := s.write(ctx, id, req.GetRequestId(), registry.LeaveJIT{JIT: jitID, Member: member},
			map[string]string{"jit": "name", "member": "name"})
		if err != nil {
			return nil, err
		}
		return &accordv1.LeaveJitResponse{
			Membership: ownMembership(id, jitID, req.GetRequestId(), registry.MembershipLeft, index),
			JitState:   jitStates[registry.JITStatus(out.Status)],
		}, nil
	})
}

// linkCase links (or unlinks) one of the user's member's cases.
func (s *Service) linkCase(ctx context.Context, id identity.Identity, jit string, ref *accordv1.RegistryCaseRef, requestID string, link bool) (*accordv1.Jit, error) {
	jitID, err := parseName("jit", jit, "jits", jitExample)
	if err != nil {
		return nil, err
	}
	if ref == nil {
		return nil, invalidf("case_ref: required (member and case_id of one of member %s's cases)", id.Member)
	}
	var p registry.Payload = registry.LinkCase{JIT: jitID, Case: fromCaseRef(ref)}
	if !link {
		p = registry.UnlinkCase{JIT: jitID, Case: fromCaseRef(ref)}
	}
	if _, _, err := s.write(ctx, id, requestID, p, map[string]string{"case": "case_ref"}); err != nil {
		return nil, err
	}
	j, err := s.jit(ctx, id, jitID, false)
	if err != nil {
		return nil, err
	}
	return toJit(j), nil
}

// LinkJitCase implements CoordinationService.LinkJitCase.
func (s *Service) LinkJitCase(ctx context.Context, req *accordv1.LinkJitCaseRequest) (*accordv1.LinkJitCaseResponse, error) {
	return call(ctx, s, req, func(ctx context.Context, id identity.Identity, req *accordv1.LinkJitCaseRequest) (*accordv1.LinkJitCaseResponse, error) {
		j, err := s.linkCase(ctx, id, req.GetJit(), req.GetCaseRef(), req.GetRequestId(), true)
		if err != nil {
			return nil, err
		}
		return &accordv1.LinkJitCaseResponse{Jit: j}, nil
	})
}

// UnlinkJitCase implements CoordinationService.UnlinkJitCase.
func (s *Service) UnlinkJitCase(ctx context.Context, req *accordv1.UnlinkJitCaseRequest) (*accordv1.UnlinkJitCaseResponse, error) {
	return call(ctx, s, req, func(ctx context.Context, id identity.Identity, req *accordv1.UnlinkJitCaseRequest) (*accordv1.UnlinkJitCaseResponse, error) {
		j, err := s.linkCase(ctx, id, req.GetJit(), req.GetCaseRef(), req.GetRequestId(), false)
		if err != nil {
			return nil, err
		}
		return &accordv1.UnlinkJitCaseResponse{Jit: j}, nil
	})
}

// SetJitLead implements CoordinationService.SetJitLead.
func (s *Service) SetJitLead(ctx context.Context, req *accordv1.SetJitLeadRequest) (*accordv1.SetJitLeadResponse, error) {
	return call(ctx, s, req, func(ctx context.Context, id identity.Identity, req *accordv1.SetJitLeadRequest) (*accordv1.SetJitLeadResponse, error) {
		jitID, err := parseName("jit", req.GetJit(), "jits", jitExample)
		if err != nil {
			return nil, err
		}
		out, _, err := s.write(ctx, id, req.GetRequestId(), registry.SetJITLead{JIT: jitID, Lead: req.GetLead()}, nil)
		if err != nil {
			return nil, err
		}
		j, p, err := s.jitWithProposal(ctx, id, jitID, out.ID)
		if err != nil {
			return nil, err
		}
		return &accordv1.SetJitLeadResponse{Jit: j, Proposal: p}, nil
	})
}

// CloseJit implements CoordinationService.CloseJit.
func (s *Service) CloseJit(ctx context.Context, req *accordv1.CloseJitRequest) (*accordv1.CloseJitResponse, error) {
	return call(ctx, s, req, func(ctx context.Context, id identity.Identity, req *accordv1.CloseJitRequest) (*accordv1.CloseJitResponse, error) {
		jitID, err := parseName("name", req.GetName(), "jits", jitExample)
		if err != nil {
			return nil, err
		}
		out, _, err := s.write(ctx, id, req.GetRequestId(), registry.CloseJIT{JIT: jitID}, map[string]string{"jit": "name"})
		if err != nil {
			return nil, err
		}
		j, p, err := s.jitWithProposal(ctx, id, jitID, out.ID)
		if err != nil {
			return nil, err
		}
		return &accordv1.CloseJitResponse{Jit: j, Proposal: p}, nil
	})
}

// ConsentJitProposal implements CoordinationService.ConsentJitProposal.
func (s *Service) ConsentJitProposal(ctx context.Context, req *accordv1.ConsentJitProposalRequest) (*accordv1.ConsentJitProposalResponse, error) {
	return call(ctx, s, req, func(ctx context.Context, id identity.Identity, req *accordv1.ConsentJitProposalRequest) (*accordv1.ConsentJitProposalResponse, error) {
		jitID, n, err := parseSubName("name", req.GetName(), "jits", "proposals", proposalExample)
		if err != nil {
			return nil, err
		}
		if k, err := strconv.Atoi(n); err != nil || k < 1 || strconv.Itoa(k) != n {
			return nil, invalidf("name: %q: the proposal's number must be a number from 1 (e.g. %s)", req.GetName(), proposalExample)
		}
		consent, err := yesNo("answer", req.GetAnswer())
		if err != nil {
			return nil, err
		}
		proposalID := jitID + "/" + n
		if _, _, err := s.write(ctx, id, req.GetRequestId(), registry.ConsentJIT{Proposal: proposalID, Consent: consent},
			map[string]string{"proposal": "name"}); err != nil {
			return nil, err
		}
		j, p, err := s.jitWithProposal(ctx, id, jitID, proposalID)
		if err != nil {
			return nil, err
		}
		return &accordv1.ConsentJitProposalResponse{Jit: j, Proposal: p}, nil
	})
}
