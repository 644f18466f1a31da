package registry

import (
	"slices"
	"strconv"
	"strings"
)

// Team proposals: what changes a joint investigation team as a whole
// (inviting a member, changing the lead, closing it) is proposed by one
// accepted member and takes effect only once the team's agreement rule is
// met. Under JITUnanimous, the only rule, that is once every accepted member
// consents; one refusal refuses it. What a member does for itself alone
// (accepting, declining, leaving, linking its own cases) needs no one's
// consent.

// keptDecidedProposals is how many decided proposals a team keeps (the
// newest); older ones are dropped from the record. Open proposals need no
// bound of their own: a team holds at most one open proposal per change
// (per invitee, per proposed lead, one to close), so no more than its
// members and the federation's members allow.
const keptDecidedProposals = 100

// proposal returns the index of the proposal id in j, or -1.
func (j *JIT) proposal(id string) int {
	return slices.IndexFunc(j.Proposals, func(p JITProposal) bool { return p.ID == id })
}

// openProposals counts the team's open proposals.
func (j *JIT) openProposals() int {
	n := 0
	for _, p := range j.Proposals {
		if p.Status == ProposalOpen {
			n++
		}
	}
	return n
}

// acceptedMembers returns the codes of the team's accepted members, ordered.
func (j *JIT) acceptedMembers() []string {
	var out []string
	for _, m := range j.Members {
		if m.State == MembershipAccepted {
			out = append(out, m.Member)
		}
	}
	return out
}

// propose records a proposal of ch.Member's to change j, and carries it out
// at once if the proposer's own consent meets the rule (it is the only
// accepted member). j is an active team ch.Member has accepted, and the
// proposal's own checks have passed.
func (s *state) propose(ch Change, j *JIT, kind ProposalKind, member string) (Outcome, error) {
	for _, p := range j.Proposals {
		if p.Status == ProposalOpen && p.Kind == kind && p.Member == member {
			if member == "" {
				return Outcome{}, exists("open proposal %s to %s joint investigation team %s", p.ID, kind, j.ID)
			}
			return Outcome{}, exists("open proposal %s (%s %s) in joint investigation team %s", p.ID, kind, member, j.ID)
		}
	}
	n := j.clone()
	n.LastProposal++
	p := JITProposal{
		ID: n.ID + "/" + strconv.Itoa(n.LastProposal), Kind: kind, Member: member,
		Status: ProposalOpen, Created: ch, Updated: ch,
	}
	for _, code := range n.acceptedMembers() {
		c := Consent{Member: code, Answer: AnswerPending}
		if code == ch.Member {
			cc := ch
			c.Answer, c.Change = AnswerYes, &cc
		}
		p.Consents = append(p.Consents, c)
	}
	n.Proposals = append(n.Proposals, p)
	i := len(n.Proposals) - 1
	if agreed(n.Proposals[i].Consents) {
		s.carryOut(n, i, ch)
	}
	status := n.Proposals[i].Status
	n.pruneProposals()
	n.Updated = ch
	s.putJIT(n)
	return Outcome{ID: p.ID, Status: string(status)}, nil
}

// agreed reports whether every consent is yes.
func agreed(cs []Consent) bool {
	for _, c := range cs {
		if c.Answer != AnswerYes {
			return false
		}
	}
	return len(cs) > 0
}

// carryOut makes the change proposal i of n proposes, which every accepted
// member agreed to, and marks it agreed; a change that no longer applies
// (the invitee is no longer admitted, the proposed lead left) lapses.
func (s *state) carryOut(n *JIT, i int, ch Change) {
	p := &n.Proposals[i]
	p.Updated = ch
	switch p.Kind {
	case ProposalInvite:
		if s.checkInvitee("member", n, p.Member, p.Created.Member) != nil {
			p.Status = ProposalLapsed
			return
		}
		n.Members = setMembership(n.Members, JITMember{Member: p.Member, State: MembershipInvited, InvitedBy: p.Created.Member, Since: ch})
	case ProposalSetLead:
		if !n.accepted(p.Member) {
			p.Status = ProposalLapsed
			return
		}
		n.Lead = p.Member
	case ProposalClose:
		n.Status = JITClosed
	}
	p.Status = ProposalAgreed
	if n.Status == JITClosed {
		lapseOpen(n, ch)
	}
}

// lapseOpen lapses every open proposal of n.
func lapseOpen(n *JIT, ch Change) {
	for i := range n.Proposals {
		if n.Proposals[i].Status == ProposalOpen {
			n.Proposals[i].Status = ProposalLapsed
			n.Proposals[i].Updated = ch
		}
	}
}

// reviseProposals brings n's open proposals in line with its accepted
// members after a member accepted or left: a proposal whose proposer (or
// proposed lead) is no longer an accepted member lapses; a newly accepted
// member's consent is asked for; a member that left no longer answers, and
// a proposal every remaining member has agreed to is carried out. A closed
// team's open proposals lapse.
func (s *state) reviseProposals(n *JIT, ch Change) {
	if n.Status != JITActive {
		lapseOpen(n, ch)
		return
	}
	accepted := n.acceptedMembers()
	for i := range n.Proposals {
		p := &n.Proposals[i]
		if p.Status != ProposalOpen {
			continue
		}
		if !n.accepted(p.Created.Member) || (p.Kind == ProposalSetLead && !n.accepted(p.Member)) {
			p.Status, p.Updated = ProposalLapsed, ch
			continue
		}
		var cs []Consent
		changed := false
		for _, code := range accepted {
			j := slices.IndexFunc(p.Consents, func(c Consent) bool { return c.Member == code })
			if j < 0 {
				cs = append(cs, Consent{Member: code, Answer: AnswerPending})
				changed = true
				continue
			}
			cs = append(cs, p.Consents[j])
		}
		if len(cs) != len(p.Consents) {
			changed = true
		}
		if !changed {
			continue
		}
		p.Consents, p.Updated = cs, ch
		if agreed(p.Consents) {
			s.carryOut(n, i, ch)
		}
	}
	n.pruneProposals()
}

// pruneProposals drops the oldest decided proposals beyond
// keptDecidedProposals.
func (j *JIT) pruneProposals() {
	decided := len(j.Proposals) - j.openProposals()
	if decided <= keptDecidedProposals {
		return
	}
	drop := decided - keptDecidedProposals
	j.Proposals = slices.DeleteFunc(j.Proposals, func(p JITProposal) bool {
		if drop > 0 && p.Status != ProposalOpen {
			drop--
			return true
		}
		return false
	})
}

// proposalJIT splits a proposal id "<jit id>/<number>" into the team's id.
func proposalJIT(id string) (string, error) {
	if id == "" {
		return "", invalid("proposal: is required")
	}
	i := strings.LastIndexByte(id, '/')
	if i <= 0 {
		return "", invalid("proposal: %q is not a proposal id, <jit id>/<number> (e.g. jit-000001/2)", id)
	}
	if k, err := strconv.Atoi(id[i+1:]); err != nil || k < 1 || strconv.Itoa(k) != id[i+1:] {
		return "", invalid("proposal: %q is not a proposal id, <jit id>/<number> (e.g. jit-000001/2)", id)
	}
	return id[:i], nil
}

func (s *state) consentJIT(ch Change, p *ConsentJIT) (Outcome, error) {
	if err := checkSelf("member", p.Member, ch.Member); err != nil {
		return Outcome{}, err
	}
	jitID, err := proposalJIT(p.Proposal)
	if err != nil {
		return Outcome{}, err
	}
	// Only accepted members see a team's proposals: to anyone else a
	// proposal is refused as one that does not exist.
	j, ok := s.jits.get(jitID)
	if !ok || !j.accepted(ch.Member) {
		return Outcome{}, notFound("joint investigation team proposal %q", p.Proposal)
	}
	i := j.proposal(p.Proposal)
	if i < 0 {
		return Outcome{}, notFound("joint investigation team proposal %q", p.Proposal)
	}
	what := "joint investigation team proposal " + p.Proposal
	if st := j.Proposals[i].Status; st != ProposalOpen {
		return Outcome{}, precondition("%s is %s", what, st)
	}
	if err := pendingAnswer(j.Proposals[i].Consents, ch.Member, what); err != nil {
		return Outcome{}, err
	}
	n := j.clone()
	var all bool
	n.Proposals[i].Consents, all = answer(n.Proposals[i].Consents, ch.Member, p.Consent, ch)
	n.Proposals[i].Updated = ch
	switch {
	case !p.Consent:
		n.Proposals[i].Status = ProposalRefused
	case all:
		s.carryOut(n, i, ch)
	}
	status := n.Proposals[i].Status
	n.pruneProposals()
	n.Updated = ch
	s.putJIT(n)
	return Outcome{ID: p.Proposal, Status: string(status)}, nil
}
