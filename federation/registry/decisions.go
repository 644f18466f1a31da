package registry

import (
	"maps"
	"slices"
	"strconv"
)

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
	if id, ok := s.rejected[groupKey(cases)]; ok {
		if old, _ := s.matches.get(id); old != nil && (len(p.Versions) == 0 || maps.Equal(old.Versions, p.Versions)) {
			return Outcome{}, precondition("match decision %s for these cases was rejected; they may be proposed again only when a case changed (give versions that differ)", id)
		}
	}
	d := &MatchDecision{
		ID:    nextID(&s.meta.LastMatch, "match"),
		Cases: cases, Score: p.Score, Reasons: slices.Clone(p.Reasons), Versions: maps.Clone(p.Versions),
		Status: MatchProposed, Decisions: decisions, Created: ch, Updated: ch,
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
	d, ok := s.matches.get(p.Match)
	if !ok || !involved(d.Decisions, ch.Member) {
		// A decision the member is not involved in is refused as one that
		// does not exist, as a read would (View.GetMatchDecision).
		return Outcome{}, notFound("match decision %q", p.Match)
	}
	what := "match decision " + d.ID
	if err := pendingAnswer(d.Decisions, ch.Member, what); err != nil {
		return Outcome{}, err
	}
	if d.Status != MatchProposed {
		return Outcome{}, precondition("%s is %s", what, d.Status)
	}
	n := d.clone()
	var all bool
	n.Decisions, all = answer(n.Decisions, ch.Member, p.Confirm, ch)
	switch {
	case !p.Confirm:
		n.Status = MatchRejected
	case all:
		n.Status = MatchConfirmed
	}
	n.Updated = ch
	s.putMatch(n)
	return Outcome{ID: n.ID, Status: string(n.Status)}, nil
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
