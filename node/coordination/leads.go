package coordination

import (
	"context"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/registry"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// Lead proposals: leadProposals/{proposal} (the registry's lead
// assignments).

const leadExample = "leadProposals/lead-000001"

var leadStates = map[registry.LeadStatus]accordv1.LeadProposalState{
	registry.LeadProposed: accordv1.LeadProposalState_LEAD_PROPOSAL_STATE_PROPOSED,
	registry.LeadAgreed:   accordv1.LeadProposalState_LEAD_PROPOSAL_STATE_AGREED,
	registry.LeadRefused:  accordv1.LeadProposalState_LEAD_PROPOSAL_STATE_REFUSED,
}

func leadName(id string) string { return "leadProposals/" + id }

func toLead(a *registry.LeadAssignment) *accordv1.LeadProposal {
	out := &accordv1.LeadProposal{
		Name: leadName(a.ID), Cases: toCaseRefs(a.Cases), Lead: a.Lead, Note: a.Note, State: leadStates[a.Status],
		Consents: toAnswers(a.Consents), Create: toChange(a.Created), Update: toChange(a.Updated),
	}
	if a.Match != "" {
		out.Match = matchName(a.Match)
	}
	return out
}

func (s *Service) lead(ctx context.Context, id identity.Identity, leadID string, stale bool) (*accordv1.LeadProposal, error) {
	var out *accordv1.LeadProposal
	err := s.read(ctx, stale, func(v registry.View) error {
		a, err := v.GetLeadAssignment(leadID, id.Member)
		if err == nil {
			out = toLead(&a)
		}
		return err
	})
	return out, err
}

// GetLeadProposal implements CoordinationService.GetLeadProposal.
func (s *Service) GetLeadProposal(ctx context.Context, req *accordv1.GetLeadProposalRequest) (*accordv1.GetLeadProposalResponse, error) {
	return call(ctx, s, req, func(ctx context.Context, id identity.Identity, req *accordv1.GetLeadProposalRequest) (*accordv1.GetLeadProposalResponse, error) {
		leadID, err := parseName("name", req.GetName(), "leadProposals", leadExample)
		if err != nil {
			return nil, err
		}
		a, err := s.lead(ctx, id, leadID, req.GetStale())
		if err != nil {
			return nil, err
		}
		return &accordv1.GetLeadProposalResponse{LeadProposal: a}, nil
	})
}

// ListLeadProposals implements CoordinationService.ListLeadProposals.
func (s *Service) ListLeadProposals(ctx context.Context, req *accordv1.ListLeadProposalsRequest) (*accordv1.ListLeadProposalsResponse, error) {
	return call(ctx, s, req, func(ctx context.Context, id identity.Identity, req *accordv1.ListLeadProposalsRequest) (*accordv1.ListLeadProposalsResponse, error) {
		if err := checkEnum("state", req.GetState(), enumNames(leadStates)); err != nil {
			return nil, err
		}
		if err := checkMember("lead", req.GetLead()); err != nil {
			return nil, err
		}
		p, err := s.pageOf(id, accordv1.CoordinationService_ListLeadProposals_FullMethodName, req.GetPageSize(), req.GetPageToken(),
			req.GetState().String(), req.GetLead(), boolKey(req.GetAwaitingAnswer()))
		if err != nil {
			return nil, err
		}
		var as []registry.LeadAssignment
		err = s.read(ctx, req.GetStale(), func(v registry.View) error {
			all, err := v.ListLeadAssignments(id.Member)
			for _, a := range all {
				switch {
				case req.GetState() != 0 && leadStates[a.Status] != req.GetState(),
					req.GetLead() != "" && a.Lead != req.GetLead(),
					req.GetAwaitingAnswer() && (a.Status != registry.LeadProposed || !awaiting(a.Consents, id.Member)):
					continue
				}
				as = append(as, a)
			}
			return err
		})
		if err != nil {
			return nil, err
		}
		pg, next := paginate(s, p, as, func(a registry.LeadAssignment) string { return a.ID })
		resp := &accordv1.ListLeadProposalsResponse{NextPageToken: next, TotalSize: int32(len(as))}
		for i := range pg {
			resp.LeadProposals = append(resp.LeadProposals, toLead(&pg[i]))
		}
		return resp, nil
	})
}

// CreateLeadProposal implements CoordinationService.CreateLeadProposal.
func (s *Service) CreateLeadProposal(ctx context.Context, req *accordv1.CreateLeadProposalRequest) (*accordv1.CreateLeadProposalResponse, error) {
	return call(ctx, s, req, func(ctx context.Context, id identity.Identity, req *accordv1.CreateLeadProposalRequest) (*accordv1.CreateLeadProposalResponse, error) {
		in := req.GetLeadProposal()
		if in == nil {
			return nil, invalidf("lead_proposal: required (lead, and cases or match)")
		}
		p := registry.ProposeLead{Cases: fromCaseRefs(in.GetCases()), Lead: in.GetLead(), Note: in.GetNote()}
		if in.GetMatch() != "" {
			var err error
			if p.Match, err = parseName("lead_proposal.match", in.GetMatch(), "matchDecisions", matchExample); err != nil {
				return nil, err
			}
		}
		out, _, err := s.write(ctx, id, req.GetRequestId(), p, map[string]string{
			"cases": "lead_proposal.cases", "match": "lead_proposal.match", "lead": "lead_proposal.lead", "note": "lead_proposal.note",
		})
		if err != nil {
			return nil, err
		}
		a, err := s.lead(ctx, id, out.ID, false)
		if err != nil {
			return nil, err
		}
		return &accordv1.CreateLeadProposalResponse{LeadProposal: a}, nil
	})
}

// ConsentLeadProposal implements CoordinationService.ConsentLeadProposal.
func (s *Service) ConsentLeadProposal(ctx context.Context, req *accordv1.ConsentLeadProposalRequest) (*accordv1.ConsentLeadProposalResponse, error) {
	return call(ctx, s, req, func(ctx context.Context, id identity.Identity, req *accordv1.ConsentLeadProposalRequest) (*accordv1.ConsentLeadProposalResponse, error) {
		leadID, err := parseName("name", req.GetName(), "leadProposals", leadExample)
		if err != nil {
			return nil, err
		}
		consent, err := yesNo("answer", req.GetAnswer())
		if err != nil {
			return nil, err
		}
		if _, _, err := s.write(ctx, id, req.GetRequestId(), registry.ConsentLead{Assignment: leadID, Consent: consent},
			map[string]string{"assignment": "name"}); err != nil {
			return nil, err
		}
		a, err := s.lead(ctx, id, leadID, false)
		if err != nil {
			return nil, err
		}
		return &accordv1.ConsentLeadProposalResponse{LeadProposal: a}, nil
	})
}

// boolKey is a filter's bool in a page token's binding.
func boolKey(b bool) string {
	if b {
		return "1"
	}
	return "0"
}
