package registry

import (
	"maps"
	"math"
	"slices"
	"strconv"

	"github.com/accordfed/accord/federation/matching"
	"github.com/accordfed/accord/federation/safetext"
)

// explainVocabulary maps each of the matcher's comparisons to its levels'
// names: the only words an explanation may carry.
var explainVocabulary = func() map[string][]string {
	names, levels := matching.Vocabulary()
	m := make(map[string][]string, len(names))
	for i, n := range names {
		m[n] = levels[i]
	}
	return m
}()

// Lead assignments and match decisions are both proposals about a group of
// cases that every involved member (every member holding one of the cases)
// answers for itself: agreed once all say yes, refused once one says no.

// checkInvolved checks that every involved member is admitted and that the
// proposer is one of them, and returns a pending answer for each.
func (s *state) checkInvolved(field string, members []string, proposer string) ([]Consent, error) {
	for _, code := range members {
		m, ok := s.members.get(code)
		if !ok {
			return nil, notFound("%s: member %s", field, code)
		}
		if m.Status != MemberAdmitted {
			return nil, precondition("%s: member %s is %s, not admitted", field, code, m.Status)
		}
	}
	if !slices.Contains(members, proposer) {
		return nil, denied("%s: member %s holds none of the cases; only an involved member may propose", field, proposer)
	}
	consents := make([]Consent, len(members))
	for i, code := range members {
		consents[i] = Consent{Member: code, Answer: AnswerPending}
	}
	return consents, nil
}

// answer records member's answer in a copy of consents. It reports whether
// every involved member has now said yes.
func answer(consents []Consent, member string, yes bool, ch Change) ([]Consent, bool) {
	out := cloneConsents(consents)
	all := true
	for i := range out {
		if out[i].Member == member {
			out[i].Answer = AnswerNo
			if yes {
				out[i].Answer = AnswerYes
			}
			c := ch
			out[i].Change = &c
		}
		all = all && out[i].Answer == AnswerYes
	}
	return out, all
}

// pendingAnswer checks that member is involved and has not answered yet.
func pendingAnswer(consents []Consent, member, what string) error {
	for _, c := range consents {
		if c.Member != member {
			continue
		}
		if c.Answer != AnswerPending {
			return precondition("member %s already answered %s on %s", member, c.Answer, what)
		}
		return nil
	}
	return denied("member %s is not involved in %s", member, what)
}

func (s *state) proposeLead(ch Change, p *ProposeLead) (Outcome, error) {
	var cases []CaseRef
	var members []string
	switch {
	case p.Match != "" && len(p.Cases) > 0:
		return Outcome{}, invalid("cases: give either cases or match, not both")
	case p.Match != "":
		d, ok := s.matches.get(p.Match)
		if !ok || !involved(d.Decisions, ch.Member) {
			// A decision the proposer is not involved in is refused as one
			// that does not exist, as a read would (View.GetMatchDecision).
			return Outcome{}, notFound("match decision %q", p.Match)
		}
		if d.Status != MatchConfirmed {
			return Outcome{}, precondition("match: match decision %s is %s, not confirmed", d.ID, d.Status)
		}
		cases = slices.Clone(d.Cases)
		for _, c := range d.Decisions {
			members = append(members, c.Member)
		}
	default:
		var err error
		if cases, members, err = checkCaseGroup("cases", p.Cases); err != nil {
			return Outcome{}, err
		}
	}
	if err := checkMemberCode("lead", p.Lead); err != nil {
		return Outcome{}, err
	}
	if err := checkProse("note", p.Note, maxReasonLen, false); err != nil {
		return Outcome{}, err
	}
	consents, err := s.checkInvolved("cases", members, ch.Member)
	if err != nil {
		return Outcome{}, err
	}
	if !slices.Contains(members, p.Lead) {
		return Outcome{}, invalid("lead: member %s holds none of the cases; the lead must be an involved member", p.Lead)
	}
	if id, ok := s.leadGroups[groupKey(cases)]; ok {
		return Outcome{}, exists("lead assignment %s for these cases", id)
	}
	a := &LeadAssignment{
		ID:    nextID(&s.meta.LastLead, "lead"),
		Cases: cases, Lead: p.Lead, Match: p.Match, Note: p.Note,
		Status: LeadProposed, Consents: consents, Created: ch, Updated: ch,
	}
	s.putLead(a)
	return Outcome{ID: a.ID, Status: string(a.Status)}, nil
}

func (s *state) consentLead(ch Change, p *ConsentLead) (Outcome, error) {
	if err := checkSelf("member", p.Member, ch.Member); err != nil {
		return Outcome{}, err
	}
	if p.Assignment == "" {
		return Outcome{}, invalid("assignment: is required")
	}
	a, ok := s.leads.get(p.Assignment)
	if !ok || !involved(a.Consents, ch.Member) {
		// An assignment the member is not involved in is refused as one
		// that does not exist, as a read would (View.GetLeadAssignment).
		return Outcome{}, notFound("lead assignment %q", p.Assignment)
	}
	what := "lead assignment " + a.ID
	if err := pendingAnswer(a.Consents, ch.Member, what); err != nil {
		return Outcome{}, err
	}
	if a.Status != LeadProposed {
		return Outcome{}, precondition("%s is %s", what, a.Status)
	}
	if p.Consent && a.Match != "" {
		// A yes to a lead that rests on a match decision needs that
		// decision still confirmed: an involved member may have changed
		// its answer to no since (match answers v2, docs/registry.md).
		if d, ok := s.matches.get(a.Match); ok && d.Status != MatchConfirmed {
			return Outcome{}, precondition("match: match decision %s that %s rests on is %s now, not confirmed", d.ID, what, d.Status)
		}
	}
	n := a.clone()
	var all bool
	n.Consents, all = answer(n.Consents, ch.Member, p.Consent, ch)
	switch {
	case !p.Consent:
		n.Status = LeadRefused
	case all:
		n.Status = LeadAgreed
	}
	n.Updated = ch
	s.putLead(n)
	return Outcome{ID: n.ID, Status: string(n.Status)}, nil
}

func (s *state) proposeMatch(ch Change, p *ProposeMatch) (Outcome, error) {
	cases, members, err := checkCaseGroup("cases", p.Cases)
	if err != nil {
		return Outcome{}, err
	}
	if !(p.Score >= 0 && p.Score <= 1) {
		return Outcome{}, invalid("score: must be between 0 and 1 (got %v)", p.Score)
	}
	if len(p.Reasons) > maxListLen {
		return Outcome{}, invalid("reasons: at most %d (got %d)", maxListLen, len(p.Reasons))
	}
	for i, r := range p.Reasons {
		if err := checkLine("reasons["+strconv.Itoa(i)+"]", r, maxReasonLen, true); err != nil {
			return Outcome{}, err
		}
	}
	if err := checkExplanation(p.Explanation, p.Score); err != nil {
		return Outcome{}, err
	}
	decisions, err := s.checkInvolved("cases", members, ch.Member)
	if err != nil {
		return Outcome{}, err
	}
	for k, v := range p.Versions {
		ref, ok := findRef(cases, k)
		if !ok {
			return Outcome{}, invalid("versions: %q is not one of the cases", k)
		}
		if v < 1 {
			return Outcome{}, invalid("versions[%s]: must be at least 1", ref)
		}
	}
	if id, ok := s.matchGroups[groupKey(cases)]; ok {
		return Outcome{}, exists("match decision %s for these cases", id)
	}
	// With no open decision, the group's newest decision is rejected.
	if id, ok := s.latestMatch[groupKey(cases)]; ok {
		if old, _ := s.matches.get(id); old != nil && (len(p.Versions) == 0 || maps.Equal(old.Versions, p.Versions)) {
			return Outcome{}, precondition("match decision %s for these cases was rejected; they may be proposed again only when a case changed (give versions that differ)", id)
		}
	}
	d := &MatchDecision{
		ID:    nextID(&s.meta.LastMatch, "match"),
		Cases: cases, Score: p.Score, Reasons: slices.Clone(p.Reasons), Versions: maps.Clone(p.Versions),
		Status: MatchProposed, Decisions: decisions, Explanation: p.Explanation.clone(), Created: ch, Updated: ch,
	}
	if p.Explanation != nil {
		s.meta.MatchAnswers = MatchAnswersV2
	}
	s.putMatch(d)
	return Outcome{ID: d.ID, Status: string(d.Status)}, nil
}

func (s *state) decideMatch(ch Change, p *DecideMatch) (Outcome, error) {
	if err := checkSelf("member", p.Member, ch.Member); err != nil {
		return Outcome{}, err
	}
	if p.Match == "" {
		return Outcome{}, invalid("match: is required")
	}
	if err := checkReason(p.Reason); err != nil {
		return Outcome{}, err
	}
	if !p.Confirm && p.Reason == "" && s.meta.MatchAnswers >= MatchAnswersV2 {
		return Outcome{}, invalid("reason: is required with a rejection (say why the cases do not concern the same incident)")
	}
	d, ok := s.matches.get(p.Match)
	if !ok || !involved(d.Decisions, ch.Member) {
		// A decision the member is not involved in is refused as one that
		// does not exist, as a read would (View.GetMatchDecision).
		return Outcome{}, notFound("match decision %q", p.Match)
	}
	what := "match decision " + d.ID
	if p.FirstOnly && answersV2(d, p, ch.Member) {
		return Outcome{}, precondition("%s no longer waits for %s's first answer (answered meanwhile, or %s): a first answer only changes none", what, ch.Member, d.Status)
	}
	if !answersV2(d, p, ch.Member) {
		// The previous build's rules, which every build applies.
		if err := pendingAnswer(d.Decisions, ch.Member, what); err != nil {
			return Outcome{}, err
		}
		if d.Status != MatchProposed {
			return Outcome{}, precondition("%s is %s", what, d.Status)
		}
	} else if newer, ok := s.newerMatch(d); ok {
		// Every decision of a group but its newest is rejected (a group is
		// proposed again only once its decision is rejected); changing an
		// answer there could reopen it beside the newer one.
		return Outcome{}, precondition("%s was superseded by match decision %s for the same cases; answer that one", what, newer)
	}
	// Every answer is kept, on every server: a member's answers to one
	// decision are bounded, so that flipping without end cannot grow it.
	given := 0
	for _, c := range d.Earlier {
		if c.Member == ch.Member {
			given++
		}
	}
	if given+1 >= maxMemberAnswers {
		return Outcome{}, precondition("member %s answered %s %d times, the most a member may", ch.Member, what, maxMemberAnswers)
	}
	n := d.clone()
	for _, c := range d.Decisions {
		if c.Member == ch.Member && c.Answer != AnswerPending {
			n.Earlier = append(n.Earlier, c)
		}
	}
	n.Decisions, _ = answer(n.Decisions, ch.Member, p.Confirm, ch)
	for i := range n.Decisions {
		if n.Decisions[i].Member == ch.Member {
			n.Decisions[i].Reason = p.Reason
		}
	}
	n.Status = matchStatus(n.Decisions)
	n.Updated = ch
	if p.Reason != "" || answersV2(d, p, ch.Member) {
		s.meta.MatchAnswers = MatchAnswersV2
	}
	s.putMatch(n)
	return Outcome{ID: n.ID, Status: string(n.Status)}, nil
}

// matchStatus is a match decision's status from its current answers:
// rejected if one is no, confirmed when all are yes, else proposed.
func matchStatus(answers []Consent) MatchStatus {
	all := true
	for _, c := range answers {
		if c.Answer == AnswerNo {
			return MatchRejected
		}
		all = all && c.Answer == AnswerYes
	}
	if all {
		return MatchConfirmed
	}
	return MatchProposed
}

// answersV2 reports whether member's answer p on d needs match answers v2:
// the member answered already (a change, or the same answer with a new
// reason), or d is no longer proposed (the previous build refuses both).
func answersV2(d *MatchDecision, p *DecideMatch, member string) bool {
	if d.Status != MatchProposed {
		return true
	}
	for _, c := range d.Decisions {
		if c.Member == member {
			return c.Answer != AnswerPending
		}
	}
	return false
}

// newerMatch returns the newest decision for d's cases when it is not d.
func (s *state) newerMatch(d *MatchDecision) (string, bool) {
	id, ok := s.latestMatch[groupKey(d.Cases)]
	if !ok || id == d.ID {
		return "", false
	}
	return id, true
}

// CheckMatchReason checks an answer's reason as the registry does (at most
// 1000 bytes, no control or bidirectional formatting characters).
func CheckMatchReason(reason string) error { return checkReason(reason) }

// checkReason checks an answer's reason: replicated free text, so bounded
// and free of control and bidirectional formatting characters as other
// members' text must be (federation/safetext).
func checkReason(reason string) error {
	if err := checkProse("reason", reason, maxReasonLen, false); err != nil {
		return err
	}
	if err := safetext.Check(reason, true); err != nil {
		return invalid("reason: %v", err)
	}
	return nil
}

// findRef finds the case "MEMBER/CASE_ID" among cases.
func findRef(cases []CaseRef, key string) (CaseRef, bool) {
	for _, c := range cases {
		if c.String() == key {
			return c, true
		}
	}
	return CaseRef{}, false
}

// MatchAnswersV2 is the version of match answers that carries reasons,
// changed answers and explained scores (ServerStatusResponse.match_answers).
// A server of an earlier build refuses all three (a reason or an
// explanation as an unknown field, a changed answer as already given), so
// a node sends them only once every registry server applies this version.
const MatchAnswersV2 = 2

// MatchAnswersV3 adds first answers only (DecideMatch.FirstOnly), which a
// server of an earlier build refuses as an unknown field: a node sends
// them only once every server applies this version, and never in a
// version 2 (JSON) entry (DecideMatch.legacyRefusal).
const MatchAnswersV3 = 3

// MatchAnswers is the version of match answers this build applies
// (ServerStatusResponse.match_answers).
const MatchAnswers = MatchAnswersV3

// Bounds of an explanation.
const (
	maxComparisons   = 32
	maxLevel         = 64
	maxExplainWeight = 1e6
	// scoreSlack is how far an explanation's probability may be from the
	// score: the matcher rounds scores to four decimals.
	scoreSlack = 0.00005 + 1e-12
	// maxMemberAnswers is how many answers one member may give one match
	// decision (its current one and those it replaced).
	maxMemberAnswers = 16
)

// ExplanationOf is the registry's copy of a match's explanation, under the
// model that scored it (so that it adds up to the score even after a
// refit); nil for a match without a model. Its labels are the model's
// level names, never values of a record, so that it is safe for jit cases
// too.
func ExplanationOf(mt matching.Match) *Explanation {
	e, ok := mt.Explain()
	if !ok {
		return nil
	}
	out := &Explanation{Prior: e.Prior, PriorWeight: e.PriorWeight, Weight: e.Weight, Probability: e.Probability}
	for _, c := range e.Comparisons {
		out.Comparisons = append(out.Comparisons, ComparisonWeight{Name: c.Name, Level: c.Level, Label: c.Label, Weight: c.Weight})
	}
	return out
}

// checkExplanation checks an explanation's form and that it adds up: the
// prior weight and the comparisons' weights sum to its weight, whose
// probability is its probability, which is the score up to the matcher's
// rounding.
func checkExplanation(e *Explanation, score float64) error {
	if e == nil {
		return nil
	}
	finite := func(field string, v, lo, hi float64) error {
		if math.IsNaN(v) || v < lo || v > hi {
			return invalid("explanation.%s: must be a finite number between %v and %v (got %v)", field, lo, hi, v)
		}
		return nil
	}
	if err := finite("prior", e.Prior, 0, 1); err != nil {
		return err
	}
	if e.Prior == 0 || e.Prior == 1 {
		return invalid("explanation.prior: must be strictly between 0 and 1 (got %v)", e.Prior)
	}
	if pw := math.Log2(e.Prior / (1 - e.Prior)); math.Abs(pw-e.PriorWeight) > 1e-9*math.Max(1, math.Abs(pw)) {
		return invalid("explanation.prior_weight: %v is not log2(prior/(1-prior)) (%v)", e.PriorWeight, pw)
	}
	if len(e.Comparisons) == 0 || len(e.Comparisons) > maxComparisons {
		return invalid("explanation.comparisons: 1 to %d (got %d)", maxComparisons, len(e.Comparisons))
	}
	total := e.PriorWeight
	for _, x := range []struct {
		f      string
		v, lim float64
	}{{"prior_weight", e.PriorWeight, maxExplainWeight}, {"weight", e.Weight, maxExplainWeight}} {
		if err := finite(x.f, x.v, -x.lim, x.lim); err != nil {
			return err
		}
	}
	seen := map[string]bool{}
	for i, c := range e.Comparisons {
		f := "explanation.comparisons[" + strconv.Itoa(i) + "]"
		// Names and labels are the matcher's words, never a record's
		// values: anything else is refused (they reach every member).
		levels, known := explainVocabulary[c.Name]
		if !known {
			return invalid("%s.name: not a comparison of the matcher", f)
		}
		if seen[c.Name] {
			return invalid("%s.name: %q given twice", f, c.Name)
		}
		seen[c.Name] = true
		if c.Level >= len(levels) {
			return invalid("%s.level: %q has levels 0 to %d (got %d)", f, c.Name, len(levels)-1, c.Level)
		}
		if c.Level >= 0 && c.Label != levels[c.Level] {
			return invalid("%s.label: not the name of level %d of %q", f, c.Level, c.Name)
		}
		if err := finite("comparisons["+strconv.Itoa(i)+"].weight", c.Weight, -maxExplainWeight, maxExplainWeight); err != nil {
			return err
		}
		switch {
		case c.Level < -1 || c.Level > maxLevel:
			return invalid("%s.level: must be -1 (not observed) to %d (got %d)", f, maxLevel, c.Level)
		case c.Level == -1 && (c.Label != "" || c.Weight != 0):
			return invalid("%s: a comparison not observed (level -1) has no label and weight 0", f)
		case c.Level >= 0:
			if err := checkLine(f+".label", c.Label, maxNameLen, true); err != nil {
				return err
			}
			if err := safetext.Check(c.Label+c.Name, false); err != nil {
				return invalid("%s: %v", f, err)
			}
		}
		total += c.Weight
	}
	if len(seen) != len(explainVocabulary) {
		// Every comparison, not observed ones included: one left out
		// (with the prior raised to make up for it) would hide what spoke
		// against the match.
		return invalid("explanation.comparisons: every comparison of the matcher, once (%d given of %d)", len(seen), len(explainVocabulary))
	}
	if total != e.Weight {
		return invalid("explanation.weight: %v is not the sum of the prior's and the comparisons' weights (%v)", e.Weight, total)
	}
	if p := 1 / (1 + math.Exp2(-e.Weight)); math.Abs(p-e.Probability) > 1e-12 {
		return invalid("explanation.probability: %v is not the probability of weight %v (%v)", e.Probability, e.Weight, p)
	}
	if math.Abs(e.Probability-score) > scoreSlack {
		return invalid("explanation.probability: %v does not round to the score %v", e.Probability, score)
	}
	return nil
}

// NeedsMatchAnswersV2 reports whether c needs match answers v2 on the
// state v: a proposal with an explanation, or an answer with a reason, by
// a member that answered already, or on a decision that is not proposed.
// A node sends such a command, and a leader appends it, only once every
// registry server applies match answers v2.
func NeedsMatchAnswersV2(v View, c *Command) bool { return MatchAnswersNeeded(v, c) >= MatchAnswersV2 }

// MatchAnswersNeeded returns the version of match answers c needs on the
// state v (0: none): MatchAnswersV3 for a first answer only, MatchAnswersV2
// for a reason, a changed answer or an explained proposal.
func MatchAnswersNeeded(v View, c *Command) int {
	var d *DecideMatch
	switch p := c.Payload.(type) {
	case *DecideMatch:
		d = p
	case DecideMatch:
		d = &p
	}
	if d != nil && d.FirstOnly {
		return MatchAnswersV3
	}
	if needsV2(v, c) {
		return MatchAnswersV2
	}
	return 0
}

func needsV2(v View, c *Command) bool {
	switch p := c.Payload.(type) {
	case *ProposeMatch:
		return p.Explanation != nil
	case ProposeMatch:
		return p.Explanation != nil
	case *DecideMatch:
		return decideNeedsV2(v, c.Member, p)
	case DecideMatch:
		return decideNeedsV2(v, c.Member, &p)
	}
	return false
}

func decideNeedsV2(v View, member string, p *DecideMatch) bool {
	if p.Reason != "" {
		return true
	}
	d, ok := v.s.matches.get(p.Match)
	return ok && answersV2(d, p, member)
}
