package registry

import (
	"slices"
	"strconv"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/trust"
)

func (s *state) bootstrap(ch Change, p *Bootstrap) (Outcome, error) {
	if s.meta.Bootstrapped {
		return Outcome{}, precondition("the registry is already bootstrapped (federation %s)", s.meta.Federation)
	}
	if err := identity.ValidateFederation(p.Federation); err != nil {
		return Outcome{}, invalid("federation: %q must be lower-case DNS labels separated by dots", p.Federation)
	}
	if fed := actorFederation(ch); fed != p.Federation {
		return Outcome{}, denied("actor node %s is not in federation %s", ch.Node, p.Federation)
	}
	pol := p.Policy
	if pol.AdmissionThresholdPercent < 0 || pol.AdmissionThresholdPercent > 99 {
		return Outcome{}, invalid("policy.admission_threshold_percent: must be 1-99, or 0 for the default %d (got %d)",
			DefaultAdmissionThresholdPercent, pol.AdmissionThresholdPercent)
	}
	if pol.DedupeWindow < 0 || pol.DedupeWindow > MaxDedupeWindow {
		return Outcome{}, invalid("policy.dedupe_window: must be 1-%d, or 0 for the default %d (got %d)",
			MaxDedupeWindow, DefaultDedupeWindow, pol.DedupeWindow)
	}
	if len(p.Founders) == 0 {
		return Outcome{}, invalid("founders: at least one founding member is required")
	}
	if len(p.Founders) > maxListLen {
		return Outcome{}, invalid("founders: at most %d (got %d)", maxListLen, len(p.Founders))
	}
	members := make([]*Member, 0, len(p.Founders))
	seen := map[string]bool{}
	actorIsFounder := false
	for i, f := range p.Founders {
		field := "founders[" + strconv.Itoa(i) + "]"
		if err := checkMemberCode(field+".code", f.Code); err != nil {
			return Outcome{}, err
		}
		if seen[f.Code] {
			return Outcome{}, invalid("%s.code: %s is listed twice", field, f.Code)
		}
		seen[f.Code] = true
		actorIsFounder = actorIsFounder || f.Code == ch.Member
		if err := checkLine(field+".name", f.Name, maxNameLen, true); err != nil {
			return Outcome{}, err
		}
		if err := checkCACerts(field+".ca_certs", p.Federation, f.Code, f.CACerts, ch.Time); err != nil {
			return Outcome{}, err
		}
		if err := checkSigningKeys(field+".signing_keys", f.SigningKeys); err != nil {
			return Outcome{}, err
		}
		if err := checkEncryptionKeys(field+".encryption_keys", f.EncryptionKeys); err != nil {
			return Outcome{}, err
		}
		nodes, err := checkNodes(field+".nodes", p.Federation, f.Code, f.Nodes, ch)
		if err != nil {
			return Outcome{}, err
		}
		// A CA is one founder's only: a founder listed later may not reuse
		// an earlier founder's CA, subject, key id or public key.
		owners := newCAOwners()
		for _, g := range p.Founders[:i] {
			owners.add(g.Code, g.CACerts)
		}
		if err := owners.check(field+".ca_certs", f.Code, f.CACerts); err != nil {
			return Outcome{}, err
		}
		admitted := ch
		members = append(members, &Member{
			Code: f.Code, Name: f.Name, Status: MemberAdmitted,
			CACerts: slices.Clone(f.CACerts), SigningKeys: slices.Clone(f.SigningKeys),
			EncryptionKeys: slices.Clone(f.EncryptionKeys), Nodes: nodes,
			Proposed: ch, Admitted: &admitted, Updated: ch,
		})
	}
	if !actorIsFounder {
		return Outcome{}, denied("member %s is not one of the founders", ch.Member)
	}

	s.meta.Federation = p.Federation
	s.meta.Policy = pol.normalized()
	s.meta.Bootstrapped = true
	for _, m := range members {
		s.putMember(m)
	}
	return Outcome{ID: p.Federation, Status: "bootstrapped"}, nil
}

// actorFederation returns the federation of the change's node (checked by
// the envelope).
func actorFederation(ch Change) string {
	id, err := identity.Parse(ch.Node)
	if err != nil {
		return ""
	}
	return id.Federation
}

func checkNodes(field, federation, code string, specs []NodeSpec, ch Change) ([]Node, error) {
	if len(specs) > maxListLen {
		return nil, invalid("%s: at most %d nodes (got %d)", field, maxListLen, len(specs))
	}
	nodes := make([]Node, 0, len(specs))
	for i, n := range specs {
		if err := checkNode(field+"["+strconv.Itoa(i)+"]", federation, code, n); err != nil {
			return nil, err
		}
		nodes = append(nodes, Node{URI: n.URI, RegistryServer: n.RegistryServer, Address: n.Address, FederationAddress: n.FederationAddress, Registered: ch})
	}
	slices.SortFunc(nodes, func(a, b Node) int { return compareStrings(a.URI, b.URI) })
	for i := 1; i < len(nodes); i++ {
		if nodes[i].URI == nodes[i-1].URI {
			return nil, invalid("%s: node %s is listed twice", field, nodes[i].URI)
		}
	}
	if len(nodes) == 0 {
		nodes = nil
	}
	return nodes, nil
}

func (s *state) proposeMember(ch Change, p *ProposeMember) (Outcome, error) {
	if err := checkMemberCode("code", p.Code); err != nil {
		return Outcome{}, err
	}
	if _, ok := s.members.get(p.Code); ok {
		return Outcome{}, exists("member %s", p.Code)
	}
	if err := checkLine("name", p.Name, maxNameLen, true); err != nil {
		return Outcome{}, err
	}
	if err := checkCACerts("ca_certs", s.meta.Federation, p.Code, p.CACerts, ch.Time); err != nil {
		return Outcome{}, err
	}
	if err := checkSigningKeys("signing_keys", p.SigningKeys); err != nil {
		return Outcome{}, err
	}
	if err := checkEncryptionKeys("encryption_keys", p.EncryptionKeys); err != nil {
		return Outcome{}, err
	}
	if err := s.caOwners().check("ca_certs", p.Code, p.CACerts); err != nil {
		return Outcome{}, err
	}
	s.putMember(&Member{
		Code: p.Code, Name: p.Name, Status: MemberProposed,
		CACerts: slices.Clone(p.CACerts), SigningKeys: slices.Clone(p.SigningKeys),
		EncryptionKeys: slices.Clone(p.EncryptionKeys),
		Proposed:       ch, Updated: ch,
	})
	return Outcome{ID: p.Code, Status: string(MemberProposed)}, nil
}

// putVote returns votes with the voter's vote set (sorted by voter).
func putVote(votes []Vote, v Vote) []Vote {
	out := slices.Clone(votes)
	i, found := slices.BinarySearchFunc(out, v.Member, func(x Vote, m string) int { return compareStrings(x.Member, m) })
	if found {
		out[i] = v
		return out
	}
	return slices.Insert(out, i, v)
}

// approvals counts the approving votes of currently admitted members other
// than except.
func (s *state) approvals(votes []Vote, except string) int {
	n := 0
	for _, v := range votes {
		if !v.Approve || v.Member == except {
			continue
		}
		if _, ok := s.admitted(v.Member); ok {
			n++
		}
	}
	return n
}

func (s *state) voteAdmission(ch Change, p *VoteAdmission) (Outcome, error) {
	if err := checkMemberCode("candidate", p.Candidate); err != nil {
		return Outcome{}, err
	}
	cand, ok := s.members.get(p.Candidate)
	if !ok {
		return Outcome{}, notFound("member %s", p.Candidate)
	}
	if cand.Status != MemberProposed {
		return Outcome{}, precondition("member %s is %s, not proposed", p.Candidate, cand.Status)
	}
	if err := s.checkVoteFingerprint(p, cand); err != nil {
		return Outcome{}, err
	}
	m := cand.clone()
	m.AdmissionVotes = putVote(m.AdmissionVotes, Vote{Member: ch.Member, Approve: p.Approve, Change: ch})
	m.Updated = ch
	if s.approvals(m.AdmissionVotes, "") >= s.meta.Policy.Required(s.admittedCount()) {
		m.Status = MemberAdmitted
		admitted := ch
		m.Admitted = &admitted
	}
	s.putMember(m)
	return Outcome{ID: m.Code, Status: string(m.Status)}, nil
}

// checkVoteFingerprint checks the fingerprint of the candidate's CA set
// an approving vote names: required in version 3, and when given (in either
// version) it must be that of the CAs registered for the candidate. A
// refusal carries no fingerprint: the voter compares with the candidate,
// not with the registry.
func (s *state) checkVoteFingerprint(p *VoteAdmission, cand *Member) error {
	fp := p.CAFingerprint
	if fp != "" && (len(fp) != 64 || !hexRE.MatchString(fp)) {
		return invalid("ca_fingerprint: must be 64 lower-case hex digits, the SHA-256 fingerprint of the candidate's CA certificates")
	}
	if !p.Approve {
		return nil
	}
	if fp == "" {
		if s.version == LegacyCommandVersion {
			return nil // the previous build's votes bind no CA
		}
		return invalid("ca_fingerprint: is required to approve: the fingerprint of candidate %s's CA certificates, checked with the candidate over a second channel", p.Candidate)
	}
	want, err := trust.CASetFingerprint(cand.CACerts)
	if err != nil {
		return precondition("member %s: its CA certificates have no fingerprint: %v", p.Candidate, err)
	}
	if fp != want {
		return precondition("ca_fingerprint: %s is not the fingerprint of the CA certificates registered for candidate %s (%s): the CA the proposer registered is not the one the candidate gave you; do not approve, and tell the other members", fp, p.Candidate, want)
	}
	return nil
}

func (s *state) suspendMember(ch Change, p *SuspendMember) (Outcome, error) {
	if err := checkMemberCode("code", p.Code); err != nil {
		return Outcome{}, err
	}
	if err := checkProse("reason", p.Reason, maxReasonLen, false); err != nil {
		return Outcome{}, err
	}
	target, ok := s.members.get(p.Code)
	if !ok {
		return Outcome{}, notFound("member %s", p.Code)
	}
	if target.Status != MemberAdmitted {
		return Outcome{}, precondition("member %s is %s, not admitted", p.Code, target.Status)
	}
	admitted := s.admittedCount()
	m := target.clone()
	m.Updated = ch
	suspend := false
	if p.Code == ch.Member {
		if admitted == 1 {
			return Outcome{}, precondition("member %s is the last admitted member and cannot suspend itself", p.Code)
		}
		suspend = true
	} else {
		m.SuspensionVotes = putVote(m.SuspensionVotes, Vote{Member: ch.Member, Approve: true, Change: ch})
		suspend = s.approvals(m.SuspensionVotes, p.Code) >= s.meta.Policy.Required(admitted-1)
	}
	if suspend {
		m.Status = MemberSuspended
		suspended := ch
		m.Suspended = &suspended
		m.SuspendReason = p.Reason
	}
	s.putMember(m)
	return Outcome{ID: m.Code, Status: string(m.Status)}, nil
}

func (s *state) updateMember(ch Change, p *UpdateMember) (Outcome, error) {
	if err := checkMemberCode("code", p.Code); err != nil {
		return Outcome{}, err
	}
	if p.Code != ch.Member {
		return Outcome{}, denied("code: member %s may update only its own record, not %s", ch.Member, p.Code)
	}
	if err := checkLine("name", p.Name, maxNameLen, true); err != nil {
		return Outcome{}, err
	}
	if err := checkCACerts("ca_certs", s.meta.Federation, p.Code, p.CACerts, ch.Time); err != nil {
		return Outcome{}, err
	}
	if err := checkSigningKeys("signing_keys", p.SigningKeys); err != nil {
		return Outcome{}, err
	}
	if err := checkEncryptionKeys("encryption_keys", p.EncryptionKeys); err != nil {
		return Outcome{}, err
	}
	if err := checkPersonKeys("person_keys", p.PersonKeys); err != nil {
		return Outcome{}, err
	}
	if err := s.caOwners().check("ca_certs", p.Code, p.CACerts); err != nil {
		return Outcome{}, err
	}
	cur, _ := s.members.get(p.Code)
	if p.ExpectedVersion != 0 && p.ExpectedVersion != cur.Updated.Index {
		return Outcome{}, precondition("expected_version: member %s is at version %d, not %d", p.Code, cur.Updated.Index, p.ExpectedVersion)
	}
	m := cur.clone()
	m.Name = p.Name
	m.CACerts = slices.Clone(p.CACerts)
	m.SigningKeys = slices.Clone(p.SigningKeys)
	m.EncryptionKeys = slices.Clone(p.EncryptionKeys)
	m.PersonKeys = slices.Clone(p.PersonKeys)
	m.Updated = ch
	s.putMember(m)
	return Outcome{ID: m.Code, Status: string(m.Status)}, nil
}

func (s *state) registerNode(ch Change, p *RegisterNode) (Outcome, error) {
	if err := checkNode("node", s.meta.Federation, ch.Member, p.Node); err != nil {
		return Outcome{}, err
	}
	cur, _ := s.members.get(ch.Member)
	m := cur.clone()
	n := Node{URI: p.Node.URI, RegistryServer: p.Node.RegistryServer, Address: p.Node.Address, FederationAddress: p.Node.FederationAddress, Registered: ch}
	status := "registered"
	i, found := slices.BinarySearchFunc(m.Nodes, n.URI, func(x Node, u string) int { return compareStrings(x.URI, u) })
	if found {
		m.Nodes[i] = n
		status = "updated"
	} else {
		if len(m.Nodes) >= maxListLen {
			return Outcome{}, precondition("member %s already has %d nodes", m.Code, maxListLen)
		}
		m.Nodes = slices.Insert(m.Nodes, i, n)
	}
	m.Updated = ch
	s.putMember(m)
	return Outcome{ID: n.URI, Status: status}, nil
}

func (s *state) removeNode(ch Change, p *RemoveNode) (Outcome, error) {
	id, err := identity.Parse(p.URI)
	if err != nil || id.Kind != identity.KindNode {
		return Outcome{}, invalid("uri: %q is not a node identity", p.URI)
	}
	if id.Member != ch.Member {
		return Outcome{}, denied("uri: node %s belongs to member %s; member %s may remove only its own nodes", p.URI, id.Member, ch.Member)
	}
	cur, _ := s.members.get(ch.Member)
	i, found := slices.BinarySearchFunc(cur.Nodes, p.URI, func(x Node, u string) int { return compareStrings(x.URI, u) })
	if !found {
		return Outcome{}, notFound("node %s", p.URI)
	}
	m := cur.clone()
	m.Nodes = slices.Delete(m.Nodes, i, i+1)
	if len(m.Nodes) == 0 {
		m.Nodes = nil
	}
	m.Updated = ch
	s.putMember(m)
	return Outcome{ID: p.URI, Status: "removed"}, nil
}

// caOwners indexes the CAs every member registered, whatever its status
// (proposed, admitted or suspended: a suspended member's CAs stay its own,
// and a proposed member's are claimed from its proposal on), members in
// code order. The first registration of a CA, subject, key id or public key
// wins on every replica: a later member claiming one is refused.
func (s *state) caOwners() *caOwners {
	o := newCAOwners()
	for _, code := range s.members.sortedKeys(compareStrings) {
		m, _ := s.members.get(code)
		o.add(m.Code, m.CACerts)
	}
	return o
}
