package coordination

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/registry"
	"github.com/accordfed/accord/node/grpcserver"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// Answers by rule (DecideMatches).

const (
	// defaultRuleDecisions and maxRuleDecisions bound the decisions one
	// DecideMatches call answers (max_decisions).
	defaultRuleDecisions = 500
	maxRuleDecisions     = 2000
	// rulePage is how many decisions a selection reads from the registry
	// per read.
	rulePage = 1000
	// selectionPrefix starts a selection token (its version).
	selectionPrefix = "sel1."
)

// maxRuleScan bounds the waiting decisions one rule examines for shared
// evidence (each costs reads of its cases): a rule that would examine more
// is refused, to be narrowed by score, member, case or cluster. A
// variable for tests.
var maxRuleScan = 100000

// ruleSelection is what a rule selects.
type ruleSelection struct {
	answers []*accordv1.RuleAnswer
	more    bool
}

// token names the selection: the caller's member, the answer and the ids,
// in order, so that a dry run's token stands for exactly what it showed.
func (r ruleSelection) token(member string, confirm bool) string {
	if r.more {
		return ""
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%t\n", member, confirm)
	for _, a := range r.answers {
		fmt.Fprintf(h, "%s\n", a.GetName())
	}
	return selectionPrefix + hex.EncodeToString(h.Sum(nil)[:16])
}

// DecideMatches implements CoordinationService.DecideMatches.
func (s *Service) DecideMatches(ctx context.Context, req *accordv1.DecideMatchesRequest) (*accordv1.DecideMatchesResponse, error) {
	return call(ctx, s, req, func(ctx context.Context, id identity.Identity, req *accordv1.DecideMatchesRequest) (*accordv1.DecideMatchesResponse, error) {
		confirm, err := yesNo("answer", req.GetAnswer())
		if err != nil {
			return nil, err
		}
		if err := checkReason(confirm, req.GetReason()); err != nil {
			return nil, err
		}
		limit := int(req.GetMaxDecisions())
		switch {
		case limit < 0 || limit > maxRuleDecisions:
			return nil, invalidf("max_decisions: must be between 1 and %d (0: %d), got %d", maxRuleDecisions, defaultRuleDecisions, limit)
		case limit == 0:
			limit = defaultRuleDecisions
		}
		if !req.GetValidateOnly() && req.GetRequestId() == "" {
			return nil, invalidf("request_id: required unless validate_only: the client's id for the request, the same on every retry (1 to 128 letters, digits, '.', '_', ':', '-')")
		}
		if e := req.GetExpectedSelection(); e != "" && !strings.HasPrefix(e, selectionPrefix) {
			return nil, invalidf("expected_selection: %q is not a selection token (the selection a dry run returned, %s...)", e, selectionPrefix)
		}
		sel, err := s.selectByRule(ctx, id, req.GetRule(), limit)
		if err != nil {
			return nil, err
		}
		token := sel.token(id.Member, confirm)
		resp := &accordv1.DecideMatchesResponse{Answers: sel.answers, Selection: token, ValidateOnly: req.GetValidateOnly(), More: sel.more}
		if req.GetValidateOnly() {
			return resp, nil
		}
		if sel.more {
			return nil, fmt.Errorf("%w: rule: it selects more than max_decisions (%d) decisions: narrow it, or answer in several runs", grpcserver.ErrFailedPrecondition, limit)
		}
		if e := req.GetExpectedSelection(); e != "" && e != token {
			return nil, errAborted(fmt.Sprintf("expected_selection: the rule now selects other decisions than the dry run showed (%d now): run the dry run again", len(sel.answers)))
		}
		for _, a := range sel.answers {
			if err := ctx.Err(); err != nil {
				a.Error = "not answered: " + err.Error()
				resp.Failed++
				continue
			}
			if err := s.answerByRule(ctx, id, req.GetRequestId(), a.GetName(), confirm, req.GetReason()); err != nil {
				a.Error = grpcserver.ToStatus(err).Error()
				resp.Failed++
				continue
			}
			a.Answered = true
			resp.Answered++
		}
		s.logger.Info("match decisions answered by rule", "member", id.Member, "user", id.Name, "answer", req.GetAnswer().String(),
			"selected", len(sel.answers), "answered", resp.Answered, "failed", resp.Failed)
		return resp, nil
	})
}

// answerByRule answers one selected decision, unless it no longer waits for
// the member's answer (a colleague answered it meanwhile: a rule never
// changes an answer).
func (s *Service) answerByRule(ctx context.Context, id identity.Identity, requestID, name string, confirm bool, reason string) error {
	matchID := strings.TrimPrefix(name, "matchDecisions/")
	var waits bool
	if err := s.read(ctx, true, func(v registry.View) error {
		d, err := v.GetMatchDecision(matchID, id.Member)
		if err != nil {
			return err
		}
		waits = d.Status == registry.MatchProposed && awaiting(d.Decisions, id.Member)
		return nil
	}); err != nil {
		return err
	}
	if !waits {
		return fmt.Errorf("%w: %s no longer waits for %s's answer (answered meanwhile): a rule changes no answer", grpcserver.ErrFailedPrecondition, name, id.Member)
	}
	_, _, err := s.write(ctx, id, subRequestID(requestID, matchID), s.answerPayload(matchID, confirm, reason), map[string]string{"match": "name"})
	return err
}

// selectByRule returns the decisions waiting for the member's answer that
// rule selects, highest score first: at most limit, and whether there are
// more.
func (s *Service) selectByRule(ctx context.Context, id identity.Identity, rule *accordv1.MatchRule, limit int) (ruleSelection, error) {
	minEvidence := int(rule.GetMinSharedEvidence())
	if minEvidence < 0 {
		return ruleSelection{}, invalidf("rule.min_shared_evidence: must not be negative, got %d", minEvidence)
	}
	var src CaseSource
	if minEvidence > 0 {
		var err error
		if src, err = s.caseSource(); err != nil {
			return ruleSelection{}, fmt.Errorf("rule.min_shared_evidence: %w", err)
		}
	}
	q, _, err := s.matchQuery(&accordv1.ListMatchDecisionsRequest{
		AwaitingAnswer: true, MinScore: rule.GetMinScore(), MaxScore: rule.GetMaxScore(), Member: rule.GetMember(),
		CaseRef: rule.GetCaseRef(), Cluster: rule.GetCluster(), OrderBy: "score desc",
	})
	if err != nil {
		return ruleSelection{}, ruleField(err)
	}
	if rule.GetCluster() != "" {
		if q.IDs, err = s.clusterDecisions(rule.GetCluster()); err != nil {
			return ruleSelection{}, ruleField(err)
		}
	}
	var sel ruleSelection
	examined := 0
	cases := map[registry.CaseRef]*accordv1.SharedCase{} // read once per call
	shared := func(ref registry.CaseRef) (*accordv1.SharedCase, error) {
		if c, ok := cases[ref]; ok {
			return c, nil
		}
		fc, _, err := src.Case(ref.Member, ref.CaseID)
		cases[ref] = fc.GetCase()
		return fc.GetCase(), err
	}
	for {
		var page []registry.MatchDecision
		var next string
		q.Limit = rulePage
		if err := s.read(ctx, false, func(v registry.View) error {
			var err error
			page, _, next, err = v.QueryMatchDecisions(id.Member, q)
			return err
		}); err != nil {
			return ruleSelection{}, err
		}
		for i := range page {
			d := &page[i]
			a := &accordv1.RuleAnswer{Name: matchName(d.ID), Score: d.Score, Cases: toCaseRefs(d.Cases)}
			if minEvidence > 0 {
				if examined++; examined > maxRuleScan {
					return ruleSelection{}, fmt.Errorf("%w: rule: it would examine more than %d waiting decisions for shared evidence: narrow it by score, member, case or cluster",
						grpcserver.ErrFailedPrecondition, maxRuleScan)
				}
				n, err := fewestShared(d.Cases, shared)
				if err != nil {
					return ruleSelection{}, err
				}
				if n < minEvidence {
					continue
				}
				a.SharedEvidence = int32(n)
			}
			if len(sel.answers) == limit {
				sel.more = true
				return sel, nil
			}
			sel.answers = append(sel.answers, a)
		}
		if next == "" {
			return sel, nil
		}
		q.After = next
	}
}

// fewestShared is the fewest evidence items any pair of cases names in
// common (0 when a case is not held here).
func fewestShared(refs []registry.CaseRef, shared func(registry.CaseRef) (*accordv1.SharedCase, error)) (int, error) {
	fewest := -1
	for i := range refs {
		a, err := shared(refs[i])
		if err != nil || a == nil {
			return 0, err
		}
		for j := i + 1; j < len(refs); j++ {
			b, err := shared(refs[j])
			if err != nil || b == nil {
				return 0, err
			}
			if n := sharedEvidence(a, b); fewest < 0 || n < fewest {
				fewest = n
			}
		}
	}
	return max(fewest, 0), nil
}

// ruleField names a rule's field in a refusal of the filters it shares
// with ListMatchDecisions ("min_score: ..." becomes "rule.min_score: ...").
func ruleField(err error) error {
	for _, sentinel := range []error{grpcserver.ErrInvalidArgument, grpcserver.ErrNotFound, grpcserver.ErrFailedPrecondition} {
		if rest, ok := strings.CutPrefix(err.Error(), sentinel.Error()+": "); ok && errors.Is(err, sentinel) {
			return fmt.Errorf("%w: rule.%s", sentinel, rest)
		}
	}
	return err
}
