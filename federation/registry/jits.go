package registry

import (
	"slices"
	"strconv"

	"github.com/accordfed/accord/federation/teamkey"
)

// jitFor returns the team named id, checking the id's form.
func (s *state) jitFor(field, id string) (*JIT, error) {
	if id == "" {
		return nil, invalid("%s: is required", field)
	}
	j, ok := s.jits.get(id)
	if !ok {
		return nil, notFound("joint investigation team %q", id)
	}
	return j, nil
}

// visibleJIT returns the team named id if actor may see it (is an
// accepted or invited member); a team it may not see is refused exactly as
// a team that does not exist, as a read would (View.GetJIT).
func (s *state) visibleJIT(field, id, actor string) (*JIT, error) {
	j, err := s.jitFor(field, id)
	if err != nil {
		return nil, err
	}
	if !j.visible(actor) {
		return nil, notFound("joint investigation team %q", id)
	}
	return j, nil
}

// activeJITOf returns the team if actor is one of its accepted members and
// it is active. A team actor may not see is NotFound; one it sees as an
// invited member is PermissionDenied.
func (s *state) activeJITOf(field, id, actor string) (*JIT, error) {
	j, err := s.visibleJIT(field, id, actor)
	if err != nil {
		return nil, err
	}
	if !j.accepted(actor) {
		return nil, denied("member %s is not a member of joint investigation team %s (it is %s)", actor, id, j.state(actor))
	}
	if j.Status != JITActive {
		return nil, precondition("joint investigation team %s is %s", id, j.Status)
	}
	return j, nil
}

// setMembership returns the members with code's record replaced or added.
func setMembership(members []JITMember, jm JITMember) []JITMember {
	out := slices.Clone(members)
	i, found := slices.BinarySearchFunc(out, jm.Member, func(x JITMember, c string) int { return compareStrings(x.Member, c) })
	if found {
		out[i] = jm
		return out
	}
	return slices.Insert(out, i, jm)
}

// checkInvitee checks that a member may be invited to j by actor.
func (s *state) checkInvitee(field string, j *JIT, code, actor string) error {
	if err := checkMemberCode(field, code); err != nil {
		return err
	}
	if code == actor {
		return invalid("%s: member %s cannot invite itself", field, code)
	}
	m, ok := s.members.get(code)
	if !ok {
		return notFound("member %s", code)
	}
	if m.Status != MemberAdmitted {
		return precondition("%s: member %s is %s, not admitted", field, code, m.Status)
	}
	if j != nil {
		switch st := j.state(code); st {
		case MembershipInvited, MembershipAccepted:
			return exists("member %s in joint investigation team %s (%s)", code, j.ID, st)
		}
	}
	return nil
}

// checkPolicy checks a team's agreement rule.
func checkPolicy(field string, p JITPolicy) error {
	switch p {
	case "", JITUnanimous:
		return nil
	}
	return invalid("%s: %q is not a JIT policy; the only one is %q (every accepted member consents to invitations, lead changes and closing)", field, p, JITUnanimous)
}

func (s *state) createJIT(ch Change, p *CreateJIT) (Outcome, error) {
	// A team is encrypted when its creator sends wraps (or sealed text):
	// its text is then checked as ciphertext of epoch 1.
	encrypted := len(p.Wraps) > 0 || teamkey.IsSealed(p.Name) || teamkey.IsSealed(p.LegalBasis)
	if encrypted {
		if err := checkSealed("name", p.Name, 1, maxNameLen, true); err != nil {
			return Outcome{}, err
		}
		if err := checkSealed("legal_basis", p.LegalBasis, 1, maxRefLen, true); err != nil {
			return Outcome{}, err
		}
		if err := checkSealed("agreement_ref", p.AgreementRef, 1, maxRefLen, false); err != nil {
			return Outcome{}, err
		}
	} else if err := p.CheckPlain(); err != nil {
		return Outcome{}, err
	}
	if err := checkPolicy("policy", p.Policy); err != nil {
		return Outcome{}, err
	}
	if len(p.Invite) > maxListLen {
		return Outcome{}, invalid("invite: at most %d members (got %d)", maxListLen, len(p.Invite))
	}
	members := []JITMember{{Member: ch.Member, State: MembershipAccepted, Since: ch}}
	for i, code := range p.Invite {
		field := "invite[" + strconv.Itoa(i) + "]"
		if err := s.checkInvitee(field, nil, code, ch.Member); err != nil {
			return Outcome{}, err
		}
		if slices.ContainsFunc(members, func(m JITMember) bool { return m.Member == code }) {
			return Outcome{}, invalid("%s: member %s is listed twice", field, code)
		}
		members = setMembership(members, JITMember{Member: code, State: MembershipInvited, InvitedBy: ch.Member, Since: ch})
	}
	j := &JIT{
		Name: p.Name, LegalBasis: p.LegalBasis, AgreementRef: p.AgreementRef,
		Status: JITActive, Policy: JITUnanimous, Lead: ch.Member, Members: members,
		Created: ch, Updated: ch,
	}
	if encrypted {
		// At creation the creator is the only accepted member: the others
		// receive the key when they accept (WrapJITKey).
		ws, err := s.checkWraps("wraps", j, p.Wraps, ch, func(f string, e int) error {
			if e != 1 {
				return invalid("%s: a new team's key is of epoch 1 (got %d)", f, e)
			}
			return nil
		})
		if err != nil {
			return Outcome{}, err
		}
		j.KeyEpoch, j.KeyWraps = 1, addWraps(nil, ws)
	}
	j.ID = nextID(&s.meta.LastJIT, "jit")
	s.putJIT(j)
	return Outcome{ID: j.ID, Status: string(j.Status)}, nil
}

func (s *state) inviteToJIT(ch Change, p *InviteToJIT) (Outcome, error) {
	j, err := s.activeJITOf("jit", p.JIT, ch.Member)
	if err != nil {
		return Outcome{}, err
	}
	if err := s.checkInvitee("member", j, p.Member, ch.Member); err != nil {
		return Outcome{}, err
	}
	return s.propose(ch, j, ProposalInvite, p.Member)
}

func (s *state) respondToJIT(ch Change, p *RespondToJIT) (Outcome, error) {
	if err := checkSelf("member", p.Member, ch.Member); err != nil {
		return Outcome{}, err
	}
	j, err := s.visibleJIT("jit", p.JIT, ch.Member)
	if err != nil {
		return Outcome{}, err
	}
	jm := j.member(ch.Member)
	switch {
	case jm.State != MembershipInvited:
		return Outcome{}, precondition("member %s has no open invitation to joint investigation team %s (it is %s)", ch.Member, j.ID, jm.State)
	case j.Status != JITActive:
		return Outcome{}, precondition("joint investigation team %s is %s", j.ID, j.Status)
	}
	state := MembershipDeclined
	if p.Accept {
		state = MembershipAccepted
	}
	n := j.clone()
	n.Members = setMembership(n.Members, JITMember{Member: ch.Member, State: state, InvitedBy: jm.InvitedBy, Since: ch})
	s.reviseProposals(n, ch)
	n.Updated = ch
	s.putJIT(n)
	return Outcome{ID: n.ID, Status: string(state)}, nil
}

func (s *state) leaveJIT(ch Change, p *LeaveJIT) (Outcome, error) {
	if err := checkSelf("member", p.Member, ch.Member); err != nil {
		return Outcome{}, err
	}
	j, err := s.visibleJIT("jit", p.JIT, ch.Member)
	if err != nil {
		return Outcome{}, err
	}
	jm := j.member(ch.Member)
	if jm.State != MembershipAccepted {
		return Outcome{}, precondition("member %s is not a member of joint investigation team %s (it is %s)", ch.Member, j.ID, jm.State)
	}
	others := 0
	for _, m := range j.Members {
		if m.State == MembershipAccepted && m.Member != ch.Member {
			others++
		}
	}
	// Leaving is the member's own act and needs no one's consent. A lead
	// that leaves leaves the team without a lead until the others agree on
	// one (SetJITLead).
	n := j.clone()
	if n.Lead == ch.Member {
		n.Lead = ""
	}
	n.Members = setMembership(n.Members, JITMember{Member: ch.Member, State: MembershipLeft, InvitedBy: jm.InvitedBy, Since: ch})
	n.Cases = slices.DeleteFunc(n.Cases, func(c LinkedCase) bool { return c.Case.Member == ch.Member })
	if len(n.Cases) == 0 {
		n.Cases = nil
	}
	if others == 0 {
		n.Status = JITClosed
	}
	s.reviseProposals(n, ch)
	n.Updated = ch
	s.putJIT(n)
	return Outcome{ID: n.ID, Status: string(n.Status)}, nil
}

// caseOf checks a case reference of the acting member.
func caseOf(field string, c CaseRef, actor string) error {
	if err := checkCaseRef(field, c); err != nil {
		return err
	}
	if c.Member != actor {
		return denied("%s: case %s belongs to member %s; member %s may link only its own cases", field, c, c.Member, actor)
	}
	return nil
}

func (s *state) linkCase(ch Change, p *LinkCase) (Outcome, error) {
	j, err := s.activeJITOf("jit", p.JIT, ch.Member)
	if err != nil {
		return Outcome{}, err
	}
	if err := caseOf("case", p.Case, ch.Member); err != nil {
		return Outcome{}, err
	}
	i, found := slices.BinarySearchFunc(j.Cases, p.Case, func(x LinkedCase, c CaseRef) int { return compareCaseRefs(x.Case, c) })
	if found {
		return Outcome{}, exists("case %s in joint investigation team %s", p.Case, j.ID)
	}
	if len(j.Cases) >= 10000 {
		return Outcome{}, precondition("joint investigation team %s already links %d cases", j.ID, len(j.Cases))
	}
	n := j.clone()
	n.Cases = slices.Insert(n.Cases, i, LinkedCase{Case: p.Case, Linked: ch})
	n.Updated = ch
	s.putJIT(n)
	return Outcome{ID: n.ID, Status: "linked"}, nil
}

func (s *state) unlinkCase(ch Change, p *UnlinkCase) (Outcome, error) {
	j, err := s.activeJITOf("jit", p.JIT, ch.Member)
	if err != nil {
		return Outcome{}, err
	}
	if err := caseOf("case", p.Case, ch.Member); err != nil {
		return Outcome{}, err
	}
	i, found := slices.BinarySearchFunc(j.Cases, p.Case, func(x LinkedCase, c CaseRef) int { return compareCaseRefs(x.Case, c) })
	if !found {
		return Outcome{}, notFound("case %s in joint investigation team %s", p.Case, j.ID)
	}
	n := j.clone()
	n.Cases = slices.Delete(n.Cases, i, i+1)
	if len(n.Cases) == 0 {
		n.Cases = nil
	}
	n.Updated = ch
	s.putJIT(n)
	return Outcome{ID: n.ID, Status: "unlinked"}, nil
}

func (s *state) setJITLead(ch Change, p *SetJITLead) (Outcome, error) {
	j, err := s.activeJITOf("jit", p.JIT, ch.Member)
	if err != nil {
		return Outcome{}, err
	}
	if err := checkMemberCode("lead", p.Lead); err != nil {
		return Outcome{}, err
	}
	if !j.accepted(p.Lead) {
		return Outcome{}, precondition("lead: member %s has not accepted membership of joint investigation team %s", p.Lead, j.ID)
	}
	if j.Lead == p.Lead {
		return Outcome{}, precondition("lead: member %s already leads joint investigation team %s", p.Lead, j.ID)
	}
	return s.propose(ch, j, ProposalSetLead, p.Lead)
}

func (s *state) closeJIT(ch Change, p *CloseJIT) (Outcome, error) {
	j, err := s.activeJITOf("jit", p.JIT, ch.Member)
	if err != nil {
		return Outcome{}, err
	}
	return s.propose(ch, j, ProposalClose, "")
}
