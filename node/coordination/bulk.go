package coordination

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/registry"
	"github.com/accordfed/accord/federation/registryraft"
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
	// selectionLife is how long a node keeps a dry run's selection, and
	// maxSelections and maxSelectionsPerUser how many it keeps at most
	// (the oldest go first).
	selectionLife        = time.Hour
	maxSelections        = 64
	maxSelectionsPerUser = 8
)

// maxRuleScan bounds the waiting decisions one rule examines one by one
// (their cases' shared evidence, this node's score of their pairs): a rule
// that would examine more is refused, to be narrowed by score, member,
// case or cluster. A variable for tests.
var maxRuleScan = 100000

// selectionStore keeps the dry runs' selections, by token: the decisions'
// ids only, bound to the user who saw them and the answer.
type selectionStore struct {
	mu   sync.Mutex
	sels map[string]*selection
}

// selection is a dry run's: who made it, for which answer, and the ids it
// selected.
type selection struct {
	member, user string
	confirm      bool
	ids          []string
	at           time.Time
}

// put keeps sel under a fresh random token: at most maxSelectionsPerUser
// of a user's and maxSelections in all, the oldest going first.
func (st *selectionStore) put(sel *selection) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	token := selectionPrefix + hex.EncodeToString(b)
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.sels == nil {
		st.sels = map[string]*selection{}
	}
	st.expire(sel.at)
	mine := func(x *selection) bool { return x.member == sel.member && x.user == sel.user }
	for st.count(mine) >= maxSelectionsPerUser {
		st.dropOldest(mine)
	}
	for len(st.sels) >= maxSelections {
		st.dropOldest(func(*selection) bool { return true })
	}
	st.sels[token] = sel
	return token
}

func (st *selectionStore) count(match func(*selection) bool) int {
	n := 0
	for _, x := range st.sels {
		if match(x) {
			n++
		}
	}
	return n
}

func (st *selectionStore) dropOldest(match func(*selection) bool) {
	oldest := ""
	for k, x := range st.sels {
		if match(x) && (oldest == "" || x.at.Before(st.sels[oldest].at)) {
			oldest = k
		}
	}
	delete(st.sels, oldest)
}

// get returns the ids of the selection under token, if it is the user's
// for this answer and not expired.
func (st *selectionStore) get(token string, id identity.Identity, confirm bool, now time.Time) ([]string, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.expire(now)
	sel, ok := st.sels[token]
	if !ok || sel.member != id.Member || sel.user != id.Name || sel.confirm != confirm {
		return nil, false
	}
	return slices.Clone(sel.ids), true
}

func (st *selectionStore) expire(now time.Time) {
	for k, v := range st.sels {
		if now.Sub(v.at) > selectionLife {
			delete(st.sels, k)
		}
	}
}

// DecideMatches implements CoordinationService.DecideMatches.
func (s *Service) DecideMatches(ctx context.Context, req *accordv1.DecideMatchesRequest) (*accordv1.DecideMatchesResponse, error) {
	return call(ctx, s, req, func(ctx context.Context, id identity.Identity, req *accordv1.DecideMatchesRequest) (*accordv1.DecideMatchesResponse, error) {
		confirm, limit, err := checkRuleRequest(req)
		if err != nil {
			return nil, err
		}
		resp := &accordv1.DecideMatchesResponse{ValidateOnly: req.GetValidateOnly()}
		var answers []*accordv1.RuleAnswer
		switch token := req.GetExpectedSelection(); {
		case token != "" && !req.GetValidateOnly():
			ids, ok := s.selections.get(token, id, confirm, s.now())
			if !ok {
				return nil, fmt.Errorf("%w: expected_selection: this node keeps no such selection of yours for this answer (older than an hour, made by another user, on another node or before a restart, or for the other answer): run the dry run again",
					grpcserver.ErrFailedPrecondition)
			}
			if answers, err = s.ruleAnswers(ctx, id, ids); err != nil {
				return nil, err
			}
		default:
			var more bool
			if answers, more, err = s.selectByRule(ctx, id, req.GetRule(), limit); err != nil {
				return nil, err
			}
			switch {
			case req.GetValidateOnly() && more:
				resp.Answers, resp.More = answers, true
				return resp, nil
			case req.GetValidateOnly():
				ids := make([]string, len(answers))
				for i, a := range answers {
					ids[i] = strings.TrimPrefix(a.GetName(), "matchDecisions/")
				}
				resp.Answers = answers
				resp.Selection = s.selections.put(&selection{member: id.Member, user: id.Name, confirm: confirm, ids: ids, at: s.now()})
				return resp, nil
			case more:
				return nil, fmt.Errorf("%w: rule: it selects more than max_decisions (%d) decisions: narrow it, or answer in several runs", grpcserver.ErrFailedPrecondition, limit)
			}
		}
		resp.Answers = answers
		for _, a := range answers {
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
			"selected", len(answers), "answered", resp.Answered, "failed", resp.Failed)
		return resp, nil
	})
}

// checkRuleRequest checks what a DecideMatches request needs besides its
// rule, before anything is read or written: the answer and its reason, the
// bound and the request id.
func checkRuleRequest(req *accordv1.DecideMatchesRequest) (confirm bool, limit int, err error) {
	if confirm, err = yesNo("answer", req.GetAnswer()); err != nil {
		return false, 0, err
	}
	if err := checkReason(confirm, req.GetReason()); err != nil {
		return false, 0, err
	}
	if err := registry.CheckMatchReason(req.GetReason()); err != nil {
		return false, 0, invalidf("%s", strings.TrimPrefix(err.Error(), registry.ErrInvalidArgument.Error()+": "))
	}
	limit = int(req.GetMaxDecisions())
	switch {
	case limit < 0 || limit > maxRuleDecisions:
		return false, 0, invalidf("max_decisions: must be between 1 and %d (0: %d), got %d", maxRuleDecisions, defaultRuleDecisions, limit)
	case limit == 0:
		limit = defaultRuleDecisions
	}
	if !req.GetValidateOnly() {
		if req.GetRequestId() == "" {
			return false, 0, invalidf("request_id: required unless validate_only: the client's id for the request, the same on every retry (1 to 128 letters, digits, '.', '_', ':', '-')")
		}
		if err := registry.CheckRequestID(req.GetRequestId()); err != nil {
			return false, 0, invalidf("%s", strings.TrimPrefix(err.Error(), registry.ErrInvalidArgument.Error()+": "))
		}
	}
	if e := req.GetExpectedSelection(); e != "" && (!strings.HasPrefix(e, selectionPrefix) || len(e) > 64) {
		return false, 0, invalidf("expected_selection: %q is not a selection token (the selection a dry run returned, %s...)", e, selectionPrefix)
	}
	return confirm, limit, nil
}

// ruleAnswers reads the decisions of a kept selection, as the run's
// answers (a decision the member no longer sees is left for the write to
// refuse).
func (s *Service) ruleAnswers(ctx context.Context, id identity.Identity, ids []string) ([]*accordv1.RuleAnswer, error) {
	out := make([]*accordv1.RuleAnswer, 0, len(ids))
	err := s.read(ctx, false, func(v registry.View) error {
		for _, m := range ids {
			a := &accordv1.RuleAnswer{Name: matchName(m), LocalScore: -1}
			if d, err := v.GetMatchDecision(m, id.Member); err == nil {
				a.Score, a.Cases = d.Score, toCaseRefs(d.Cases)
			}
			out = append(out, a)
		}
		return nil
	})
	return out, err
}

// ruleRequestID derives the request id of one answer of a rule's run from
// the run's, so that a retried run answers nothing twice (and no cluster
// act's derived id is the same).
func ruleRequestID(requestID, matchID string) string { return subRequestID(requestID, "rule."+matchID) }

// answerByRule answers one selected decision as a first answer only: the
// registry refuses it when the member has answered meanwhile (a rule never
// changes an answer). A retried run's answers are answered from the
// registry's memory of their request ids, derived from the run's. While a
// registry server does not apply first answers only (match answers v3),
// or the group still writes version 2 entries, the node checks, with a
// linearizable read, just before the write instead.
func (s *Service) answerByRule(ctx context.Context, id identity.Identity, requestID, name string, confirm bool, reason string) error {
	matchID := strings.TrimPrefix(name, "matchDecisions/")
	rid := ruleRequestID(requestID, matchID)
	p := s.answerPayload(matchID, confirm, reason)
	if len(s.reg.MatchAnswersBehindFor(registry.MatchAnswersV3)) == 0 {
		first := p
		first.FirstOnly = true
		_, _, err := s.write(ctx, id, rid, first, map[string]string{"match": "name"})
		if err == nil || (!errors.Is(err, registry.ErrNeedsVersion3) && !registryraft.IsMatchAnswersRefusal(err)) {
			return err
		}
		// The leader, or the group's write version, is behind this
		// node's view: the check below.
	}
	var waits, done bool
	if err := s.read(ctx, false, func(v registry.View) error {
		if _, found, err := v.Remembered(id.Member, rid); found && err == nil {
			done = true
			return nil
		}
		d, err := v.GetMatchDecision(matchID, id.Member)
		if err != nil {
			return err
		}
		waits = d.Status == registry.MatchProposed && awaiting(d.Decisions, id.Member)
		return nil
	}); err != nil {
		return err
	}
	if done {
		return nil
	}
	if !waits {
		return fmt.Errorf("%w: %s no longer waits for %s's answer (answered meanwhile): a rule changes no answer", grpcserver.ErrFailedPrecondition, name, id.Member)
	}
	_, _, err := s.write(ctx, id, rid, p, map[string]string{"match": "name"})
	return err
}

// selectByRule returns the decisions waiting for the member's answer that
// rule selects, highest score first: at most limit, and whether there are
// more.
func (s *Service) selectByRule(ctx context.Context, id identity.Identity, rule *accordv1.MatchRule, limit int) ([]*accordv1.RuleAnswer, bool, error) {
	minEvidence := int(rule.GetMinSharedEvidence())
	if minEvidence < 0 {
		return nil, false, invalidf("rule.min_shared_evidence: must not be negative, got %d", minEvidence)
	}
	q, _, err := s.matchQuery(&accordv1.ListMatchDecisionsRequest{
		AwaitingAnswer: true, MinScore: rule.GetMinScore(), MaxScore: rule.GetMaxScore(), Member: rule.GetMember(),
		CaseRef: rule.GetCaseRef(), Cluster: rule.GetCluster(), OrderBy: "score desc",
	})
	if err != nil {
		return nil, false, ruleField(err)
	}
	scored := rule.GetMinScore() > 0 || rule.GetMaxScore() > 0
	var src CaseSource
	if minEvidence > 0 {
		if src, err = s.caseSource(); err != nil {
			return nil, false, fmt.Errorf("rule.min_shared_evidence: %w", err)
		}
	}
	if scored && s.comparer == nil {
		return nil, false, fmt.Errorf("%w: rule.min_score: this node scores no pairs (it runs no matcher): a rule with a score range needs its own scores, a proposer's are its claim",
			grpcserver.ErrFailedPrecondition)
	}
	if rule.GetCluster() != "" {
		if q.IDs, err = s.clusterDecisions(rule.GetCluster()); err != nil {
			return nil, false, ruleField(err)
		}
	}
	ev := newEvidenceSets(src)
	examined := 0
	var out []*accordv1.RuleAnswer
	for {
		var page []registry.MatchDecision
		var next string
		q.Limit = rulePage
		if err := s.read(ctx, false, func(v registry.View) error {
			var err error
			page, _, next, err = v.QueryMatchDecisions(id.Member, q)
			return err
		}); err != nil {
			return nil, false, err
		}
		for i := range page {
			d := &page[i]
			a := &accordv1.RuleAnswer{Name: matchName(d.ID), Score: d.Score, Cases: toCaseRefs(d.Cases), LocalScore: -1}
			if scored || minEvidence > 0 {
				if err := ctx.Err(); err != nil {
					return nil, false, err
				}
				if examined += pairsOf(len(d.Cases)); examined > maxRuleScan {
					return nil, false, fmt.Errorf("%w: rule: it would examine more than %d pairs of waiting decisions' cases one by one: narrow it by score, member, case or cluster",
						grpcserver.ErrFailedPrecondition, maxRuleScan)
				}
			}
			if scored {
				local, ok := s.lowestLocalScore(d.Cases)
				if !ok || local < q.MinScore || (q.MaxScore > 0 && local > q.MaxScore) {
					continue
				}
				a.LocalScore = local
			}
			if minEvidence > 0 {
				n, err := ev.fewestShared(d.Cases)
				if err != nil {
					return nil, false, err
				}
				if n < minEvidence {
					continue
				}
				a.SharedEvidence = int32(n)
			}
			if len(out) == limit {
				return out, true, nil
			}
			out = append(out, a)
		}
		if next == "" {
			return out, false, nil
		}
		q.After = next
	}
}

func pairsOf(n int) int { return max(n*(n-1)/2, 1) }

// lowestLocalScore is the lowest score this node's matcher gives a pair of
// cases now; false when it does not score one of them.
func (s *Service) lowestLocalScore(refs []registry.CaseRef) (float64, bool) {
	lowest := math.Inf(1)
	for i := range refs {
		for j := i + 1; j < len(refs); j++ {
			c, ok := s.comparer.Compare(refs[i].CaseID, refs[j].CaseID)
			if !ok {
				return 0, false
			}
			lowest = math.Min(lowest, math.Round(c.Score*10000)/10000)
		}
	}
	return lowest, !math.IsInf(lowest, 1)
}

// evidenceSets reads the cases' evidence hashes once per call (only the
// hashes are kept, not the cases).
type evidenceSets struct {
	src  CaseSource
	sets map[registry.CaseRef]map[string]bool
}

func newEvidenceSets(src CaseSource) *evidenceSets {
	return &evidenceSets{src: src, sets: map[registry.CaseRef]map[string]bool{}}
}

// of returns a case's evidence hashes; nil when the node does not hold it.
func (e *evidenceSets) of(ref registry.CaseRef) (map[string]bool, error) {
	if set, ok := e.sets[ref]; ok {
		return set, nil
	}
	fc, ok, err := e.src.Case(ref.Member, ref.CaseID)
	if err != nil {
		return nil, err
	}
	var set map[string]bool
	if ok {
		set = map[string]bool{}
		for _, x := range fc.GetCase().GetEvidence() {
			set[x.GetSha256()] = true
		}
	}
	e.sets[ref] = set
	return set, nil
}

// fewestShared is the fewest evidence items any pair of cases names in
// common (0 when a case is not held here).
func (e *evidenceSets) fewestShared(refs []registry.CaseRef) (int, error) {
	fewest := -1
	for i := range refs {
		a, err := e.of(refs[i])
		if err != nil || a == nil {
			return 0, err
		}
		for j := i + 1; j < len(refs); j++ {
			b, err := e.of(refs[j])
			if err != nil || b == nil {
				return 0, err
			}
			n := 0
			for h := range a {
				if b[h] {
					n++
				}
			}
			if fewest < 0 || n < fewest {
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
