package coordination

import (
	"context"
	"fmt"
	"strings"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/registry"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// Match decisions: matchDecisions/{match}.

const matchExample = "matchDecisions/match-000001"

var matchStates = map[registry.MatchStatus]accordv1.MatchDecisionState{
	registry.MatchProposed:  accordv1.MatchDecisionState_MATCH_DECISION_STATE_PROPOSED,
	registry.MatchConfirmed: accordv1.MatchDecisionState_MATCH_DECISION_STATE_CONFIRMED,
	registry.MatchRejected:  accordv1.MatchDecisionState_MATCH_DECISION_STATE_REJECTED,
}

func matchName(id string) string { return "matchDecisions/" + id }

func toMatch(d *registry.MatchDecision) *accordv1.MatchDecision {
	return &accordv1.MatchDecision{
		Name: matchName(d.ID), Cases: toCaseRefs(d.Cases), Score: d.Score, Reasons: d.Reasons, CaseVersions: d.Versions,
		State: matchStates[d.Status], Answers: toAnswers(d.Decisions), Create: toChange(d.Created), Update: toChange(d.Updated),
		History: toAnswers(d.History()), Explanation: toExplanation(d.Explanation),
	}
}

func toExplanation(e *registry.Explanation) *accordv1.MatchExplanation {
	if e == nil {
		return nil
	}
	out := &accordv1.MatchExplanation{Prior: e.Prior, PriorWeight: e.PriorWeight, Weight: e.Weight, Probability: e.Probability}
	for _, c := range e.Comparisons {
		out.Comparisons = append(out.Comparisons, &accordv1.ComparisonWeight{
			Name: c.Name, Observed: c.Observed(), Level: int32(c.Level), Label: c.Label, Weight: c.Weight,
		})
	}
	return out
}

func (s *Service) match(ctx context.Context, id identity.Identity, matchID string, stale bool) (*accordv1.MatchDecision, error) {
	var out *accordv1.MatchDecision
	err := s.read(ctx, stale, func(v registry.View) error {
		d, err := v.GetMatchDecision(matchID, id.Member)
		if err == nil {
			out = toMatch(&d)
		}
		return err
	})
	return out, err
}

// GetMatchDecision implements CoordinationService.GetMatchDecision.
func (s *Service) GetMatchDecision(ctx context.Context, req *accordv1.GetMatchDecisionRequest) (*accordv1.GetMatchDecisionResponse, error) {
	return call(ctx, s, req, func(ctx context.Context, id identity.Identity, req *accordv1.GetMatchDecisionRequest) (*accordv1.GetMatchDecisionResponse, error) {
		matchID, err := parseName("name", req.GetName(), "matchDecisions", matchExample)
		if err != nil {
			return nil, err
		}
		d, err := s.match(ctx, id, matchID, req.GetStale())
		if err != nil {
			return nil, err
		}
		return &accordv1.GetMatchDecisionResponse{MatchDecision: d}, nil
	})
}

// ListMatchDecisions implements CoordinationService.ListMatchDecisions.
func (s *Service) ListMatchDecisions(ctx context.Context, req *accordv1.ListMatchDecisionsRequest) (*accordv1.ListMatchDecisionsResponse, error) {
	return call(ctx, s, req, func(ctx context.Context, id identity.Identity, req *accordv1.ListMatchDecisionsRequest) (*accordv1.ListMatchDecisionsResponse, error) {
		if err := checkEnum("state", req.GetState(), enumNames(matchStates)); err != nil {
			return nil, err
		}
		if err := checkMember("member", req.GetMember()); err != nil {
			return nil, err
		}
		var caseKey string
		if c := req.GetCaseRef(); c != nil {
			if err := checkMember("case_ref.member", c.GetMember()); err != nil || c.GetMember() == "" {
				return nil, invalidf("case_ref.member: required with case_ref: a member code (e.g. UA)")
			}
			if c.GetCaseId() == "" {
				return nil, invalidf("case_ref.case_id: required with case_ref")
			}
			caseKey = fromCaseRef(c).String()
		}
		p, err := s.pageOf(id, accordv1.CoordinationService_ListMatchDecisions_FullMethodName, req.GetPageSize(), req.GetPageToken(),
			req.GetState().String(), caseKey, req.GetMember(), boolKey(req.GetAwaitingAnswer()))
		if err != nil {
			return nil, err
		}
		var ds []registry.MatchDecision
		err = s.read(ctx, req.GetStale(), func(v registry.View) error {
			all, err := v.ListMatchDecisions(id.Member)
			for _, d := range all {
				switch {
				case req.GetState() != 0 && matchStates[d.Status] != req.GetState(),
					caseKey != "" && !hasCase(d.Cases, caseKey),
					req.GetMember() != "" && !involves(d.Decisions, req.GetMember()),
					req.GetAwaitingAnswer() && (d.Status != registry.MatchProposed || !awaiting(d.Decisions, id.Member)):
					continue
				}
				ds = append(ds, d)
			}
			return err
		})
		if err != nil {
			return nil, err
		}
		pg, next := paginate(s, p, ds, func(d registry.MatchDecision) string { return d.ID })
		resp := &accordv1.ListMatchDecisionsResponse{NextPageToken: next, TotalSize: int32(len(ds))}
		for i := range pg {
			resp.MatchDecisions = append(resp.MatchDecisions, toMatch(&pg[i]))
		}
		return resp, nil
	})
}

func hasCase(cs []registry.CaseRef, key string) bool {
	for _, c := range cs {
		if c.String() == key {
			return true
		}
	}
	return false
}

func involves(cs []registry.Consent, member string) bool {
	for _, c := range cs {
		if c.Member == member {
			return true
		}
	}
	return false
}

// CreateMatchDecision implements CoordinationService.CreateMatchDecision.
func (s *Service) CreateMatchDecision(ctx context.Context, req *accordv1.CreateMatchDecisionRequest) (*accordv1.CreateMatchDecisionResponse, error) {
	return call(ctx, s, req, func(ctx context.Context, id identity.Identity, req *accordv1.CreateMatchDecisionRequest) (*accordv1.CreateMatchDecisionResponse, error) {
		in := req.GetMatchDecision()
		if in == nil {
			return nil, invalidf("match_decision: required (cases at least)")
		}
		out, _, err := s.write(ctx, id, req.GetRequestId(), registry.ProposeMatch{
			Cases: fromCaseRefs(in.GetCases()), Score: in.GetScore(), Reasons: in.GetReasons(), Versions: in.GetCaseVersions(),
		}, map[string]string{"cases": "match_decision.cases", "score": "match_decision.score", "reasons": "match_decision.reasons", "versions": "match_decision.case_versions"})
		if err != nil {
			return nil, err
		}
		d, err := s.match(ctx, id, out.ID, false)
		if err != nil {
			return nil, err
		}
		return &accordv1.CreateMatchDecisionResponse{MatchDecision: d}, nil
	})
}

// DecideMatch implements CoordinationService.DecideMatch.
func (s *Service) DecideMatch(ctx context.Context, req *accordv1.DecideMatchRequest) (*accordv1.DecideMatchResponse, error) {
	return call(ctx, s, req, func(ctx context.Context, id identity.Identity, req *accordv1.DecideMatchRequest) (*accordv1.DecideMatchResponse, error) {
		matchID, err := parseName("name", req.GetName(), "matchDecisions", matchExample)
		if err != nil {
			return nil, err
		}
		confirm, err := yesNo("answer", req.GetAnswer())
		if err != nil {
			return nil, err
		}
		reason := req.GetReason()
		if !confirm && strings.TrimSpace(reason) == "" {
			return nil, invalidf("reason: required with ANSWER_NO: say why the cases do not concern the same incident (never a person's name: every member's registry holds it)")
		}
		p := registry.DecideMatch{Match: matchID, Confirm: confirm, Reason: reason}
		if behind := s.reg.MatchAnswersBehind(); len(behind) > 0 {
			// A server of an earlier build would refuse a reason or a
			// changed answer and keep a state without it: a first
			// answer goes without its reason, a change is refused.
			var change bool
			if err := s.read(ctx, false, func(v registry.View) error {
				change = registry.NeedsMatchAnswersV2(v, &registry.Command{Member: id.Member, Payload: registry.DecideMatch{Match: matchID, Confirm: confirm}})
				return nil
			}); err != nil {
				return nil, err
			}
			if change {
				return nil, fmt.Errorf("%w: answer: changing an answer needs every registry server to apply match answers v2; %s still run an earlier build",
					registry.ErrFailedPrecondition, strings.Join(behind, ", "))
			}
			p.Reason = ""
		}
		if _, _, err := s.write(ctx, id, req.GetRequestId(), p, map[string]string{"match": "name"}); err != nil {
			return nil, err
		}
		d, err := s.match(ctx, id, matchID, false)
		if err != nil {
			return nil, err
		}
		return &accordv1.DecideMatchResponse{MatchDecision: d}, nil
	})
}
