package coordination

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/registry"
	"github.com/accordfed/accord/node/clusters"
	"github.com/accordfed/accord/node/grpcserver"
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

// matchOrders are the orders ListMatchDecisions takes (order_by).
var matchOrders = map[string]registry.MatchOrder{
	"":                 registry.OrderByID,
	"name":             registry.OrderByID,
	"create_time":      registry.OrderByID, // ids are numbered in order of creation
	"create_time desc": registry.OrderByIDDesc,
	"score desc":       registry.OrderByScoreDesc,
	"score":            registry.OrderByScore,
}

// matchQuery checks a ListMatchDecisionsRequest's filters and order and
// returns them as a registry query (without its page) and the strings the
// page token is bound to.
func (s *Service) matchQuery(req *accordv1.ListMatchDecisionsRequest) (registry.MatchQuery, []string, error) {
	var q registry.MatchQuery
	if err := checkEnum("state", req.GetState(), enumNames(matchStates)); err != nil {
		return q, nil, err
	}
	if err := checkMember("member", req.GetMember()); err != nil {
		return q, nil, err
	}
	if c := req.GetCaseRef(); c != nil {
		if err := checkMember("case_ref.member", c.GetMember()); err != nil || c.GetMember() == "" {
			return q, nil, invalidf("case_ref.member: required with case_ref: a member code (e.g. UA)")
		}
		if c.GetCaseId() == "" {
			return q, nil, invalidf("case_ref.case_id: required with case_ref")
		}
		ref := fromCaseRef(c)
		q.Case = &ref
	}
	minScore, maxScore := req.GetMinScore(), req.GetMaxScore()
	switch {
	case math.IsNaN(minScore) || minScore < 0 || minScore > 1:
		return q, nil, invalidf("min_score: must be between 0 and 1 (got %v)", minScore)
	case math.IsNaN(maxScore) || maxScore < 0 || maxScore > 1:
		return q, nil, invalidf("max_score: must be between 0 and 1 (got %v; 0: no upper bound)", maxScore)
	case maxScore > 0 && minScore > maxScore:
		return q, nil, invalidf("min_score: must not exceed max_score (got %v > %v)", minScore, maxScore)
	}
	order, ok := matchOrders[strings.Join(strings.Fields(req.GetOrderBy()), " ")]
	if !ok {
		return q, nil, invalidf("order_by: %q is not an order: one of name, score desc, score, create_time, create_time desc", req.GetOrderBy())
	}
	if req.GetCluster() != "" {
		if _, err := parseName("cluster", req.GetCluster(), "clusters", clusterExample); err != nil {
			return q, nil, err
		}
	}
	for st, v := range matchStates {
		if v == req.GetState() {
			q.Status = st
		}
	}
	q.Member, q.Awaiting, q.MinScore, q.MaxScore, q.Order = req.GetMember(), req.GetAwaitingAnswer(), minScore, maxScore, order
	caseKey := ""
	if q.Case != nil {
		caseKey = q.Case.String()
	}
	bind := []string{req.GetState().String(), caseKey, req.GetMember(), boolKey(req.GetAwaitingAnswer()),
		strconv.FormatFloat(minScore, 'g', -1, 64), strconv.FormatFloat(maxScore, 'g', -1, 64), order.String(), req.GetCluster()}
	return q, bind, nil
}

// clusterDecisions returns the ids of the decisions of the cluster a
// request names.
func (s *Service) clusterDecisions(name string) ([]string, error) {
	if s.clusters == nil {
		return nil, fmt.Errorf("%w: cluster: this node keeps no incident clusters (it runs no matcher exchange)", grpcserver.ErrFailedPrecondition)
	}
	c, ok := s.clusters.Get(strings.TrimPrefix(name, "clusters/"))
	if !ok {
		return nil, fmt.Errorf("%w: cluster: cluster %q (a cluster is renamed when its lowest decision no longer links it: list the clusters again)", grpcserver.ErrNotFound, name)
	}
	ids := make([]string, 0, len(c.Links))
	for _, l := range c.Links {
		ids = append(ids, l.Match)
	}
	return ids, nil
}

// ListMatchDecisions implements CoordinationService.ListMatchDecisions: a
// page read from the registry's review queue index, O(page + skipped).
func (s *Service) ListMatchDecisions(ctx context.Context, req *accordv1.ListMatchDecisionsRequest) (*accordv1.ListMatchDecisionsResponse, error) {
	return call(ctx, s, req, func(ctx context.Context, id identity.Identity, req *accordv1.ListMatchDecisionsRequest) (*accordv1.ListMatchDecisionsResponse, error) {
		q, bind, err := s.matchQuery(req)
		if err != nil {
			return nil, err
		}
		p, err := s.pageOf(id, accordv1.CoordinationService_ListMatchDecisions_FullMethodName, req.GetPageSize(), req.GetPageToken(), bind...)
		if err != nil {
			return nil, err
		}
		if req.GetCluster() != "" {
			if q.IDs, err = s.clusterDecisions(req.GetCluster()); err != nil {
				return nil, err
			}
		}
		q.After, q.Limit = p.after, p.size
		var (
			ds    []registry.MatchDecision
			total int
			next  string
		)
		err = s.read(ctx, req.GetStale(), func(v registry.View) error {
			var err error
			ds, total, next, err = v.QueryMatchDecisions(id.Member, q)
			return err
		})
		if err != nil {
			return nil, err
		}
		resp := &accordv1.ListMatchDecisionsResponse{TotalSize: int32(total)}
		if next != "" {
			resp.NextPageToken = s.tokens.Encode(p.bind, next)
		}
		for i := range ds {
			resp.MatchDecisions = append(resp.MatchDecisions, toMatch(&ds[i]))
		}
		return resp, nil
	})
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
		if err := checkReason(confirm, reason); err != nil {
			return nil, err
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

// answerPayload is the registry payload of one answer of a cluster act or
// a rule. While a registry server does not apply match answers v2 yet the
// reason stays home (such a server would refuse it; a changed answer is
// then refused by the leader, naming the server: docs/registry.md "Match
// answers").
func (s *Service) answerPayload(match string, confirm bool, reason string) registry.DecideMatch {
	if len(s.reg.MatchAnswersBehind()) > 0 {
		reason = ""
	}
	return registry.DecideMatch{Match: match, Confirm: confirm, Reason: reason}
}

// checkReason checks an answer's reason as the API takes it: required
// with a rejection.
func checkReason(confirm bool, reason string) error {
	if !confirm && strings.TrimSpace(reason) == "" {
		return invalidf("reason: required with ANSWER_NO: say why the cases do not concern the same incident (never a person's name: every member's registry holds it)")
	}
	return nil
}

// WithClusters lets ListMatchDecisions filter by incident cluster (the
// node's clusters graph; without it, a cluster filter is
// FailedPrecondition).
func (s *Service) WithClusters(g *clusters.Graph) { s.clusters = g }
