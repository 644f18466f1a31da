package registry

import (
	"slices"
	"strings"

	"github.com/accordfed/accord/federation/identity"
)

// View is a read-only, consistent view of the registry, valid only inside
// the function given to FSM.Read. Every record it returns is a copy.
//
// Visibility: the member directory (members, their certificates, keys and
// nodes) is public within the federation. Everything else is read on behalf
// of a viewer, the member the caller's certificate names, which must be
// admitted (else ErrPermissionDenied):
//
//   - a joint investigation team is visible to its accepted and invited
//     members; its linked cases and its proposals only to accepted ones (a
//     member proposed for invitation sees nothing until it is invited);
//   - a federation-wide strategy entry is visible to every admitted member,
//     a team's entry only to the team's accepted members;
//   - lead assignments and match decisions are visible to the members
//     involved in them;
//   - federation keys, with their material, to every admitted member.
//
// A record the viewer may not see is reported as ErrNotFound, as if it did
// not exist.
type View struct {
	s *state
}

// Federation returns the federation's name; empty before bootstrap.
func (v View) Federation() string { return v.s.meta.Federation }

// Bootstrapped reports whether the registry has been bootstrapped.
func (v View) Bootstrapped() bool { return v.s.meta.Bootstrapped }

// Policy returns the federation's policy.
func (v View) Policy() Policy { return v.s.meta.Policy }

// Remembered returns what the exactly-once table remembers of member's
// request id: found is false when it remembers nothing (the request was
// never applied, or is older than the policy's dedupe window); else the
// outcome, or the refusal as err. A node that derives request ids of its
// own from a client's (the attempts of a read-modify-write it retries)
// reads here how the client's earlier tries ended.
func (v View) Remembered(member, requestID string) (out Outcome, found bool, err error) {
	rec, ok := v.s.dedupe.get(dedupeKey(member, requestID))
	if !ok {
		return Outcome{}, false, nil
	}
	out, err = rec.result()
	return out, true, err
}

// GetMember returns a member.
func (v View) GetMember(code string) (Member, error) {
	m, ok := v.s.members.get(code)
	if !ok {
		return Member{}, notFound("member %q", code)
	}
	return *m.clone(), nil
}

// ListMembers returns every member, whatever its status, by code.
func (v View) ListMembers() []Member {
	out := make([]Member, 0, v.s.members.len())
	for _, k := range v.s.members.sortedKeys(strings.Compare) {
		out = append(out, *v.s.members.m[k].clone())
	}
	return out
}

// GetNode returns a registered node and its member's status.
func (v View) GetNode(uri string) (Node, MemberStatus, error) {
	id, err := identity.Parse(uri)
	if err != nil || id.Kind != identity.KindNode {
		return Node{}, "", invalid("uri: %q is not a node identity", uri)
	}
	if m, ok := v.s.members.get(id.Member); ok {
		i, found := slices.BinarySearchFunc(m.Nodes, uri, func(n Node, u string) int { return compareStrings(n.URI, u) })
		if found {
			return m.Nodes[i], m.Status, nil
		}
	}
	return Node{}, "", notFound("node %q", uri)
}

// RegistryServers returns the nodes of admitted members that take part in
// the registry's Raft group, by URI: the servers Raft may accept.
func (v View) RegistryServers() []Node {
	var out []Node
	for _, m := range v.s.members.m {
		if m.Status != MemberAdmitted {
			continue
		}
		for _, n := range m.Nodes {
			if n.RegistryServer {
				out = append(out, n)
			}
		}
	}
	slices.SortFunc(out, func(a, b Node) int { return compareStrings(a.URI, b.URI) })
	return out
}

// viewer checks that code may read on its own behalf.
func (v View) viewer(code string) error {
	if _, ok := v.s.admitted(code); !ok {
		return denied("viewer %q is not an admitted member", code)
	}
	return nil
}

// jitFor returns a copy of the team as viewer may see it.
func jitFor(j *JIT, viewer string) JIT {
	c := *j.clone()
	if !j.accepted(viewer) {
		c.Cases = nil
		c.Proposals = nil
		c.LastProposal = 0
	}
	if c.Policy == "" {
		c.Policy = JITUnanimous
	}
	return c
}

// GetJIT returns a team the viewer is an accepted or invited member of.
func (v View) GetJIT(id, viewer string) (JIT, error) {
	if err := v.viewer(viewer); err != nil {
		return JIT{}, err
	}
	j, ok := v.s.jits.get(id)
	if !ok || !j.visible(viewer) {
		return JIT{}, notFound("joint investigation team %q", id)
	}
	return jitFor(j, viewer), nil
}

// ListJITs returns the teams the viewer is an accepted or invited member
// of, by id.
func (v View) ListJITs(viewer string) ([]JIT, error) {
	if err := v.viewer(viewer); err != nil {
		return nil, err
	}
	var out []JIT
	for _, k := range v.s.jits.sortedKeys(idCompare) {
		if j := v.s.jits.m[k]; j.visible(viewer) {
			out = append(out, jitFor(j, viewer))
		}
	}
	return out, nil
}

// entryVisible reports whether viewer may see a strategy entry.
func (v View) entryVisible(r *strategyRecord, viewer string) bool {
	if r.JIT == "" {
		return true
	}
	j, ok := v.s.jits.get(r.JIT)
	return ok && j.accepted(viewer)
}

func (v View) entryFor(id, viewer string) (*strategyRecord, error) {
	if err := v.viewer(viewer); err != nil {
		return nil, err
	}
	r, ok := v.s.entries.get(id)
	if !ok || !v.entryVisible(r, viewer) {
		return nil, notFound("strategy entry %q", id)
	}
	return r, nil
}

// GetEntry returns a strategy entry at its current version (also a deleted
// one).
func (v View) GetEntry(id, viewer string) (StrategyEntry, error) {
	r, err := v.entryFor(id, viewer)
	if err != nil {
		return StrategyEntry{}, err
	}
	return r.entry(), nil
}

// History returns every version of a strategy entry, oldest first.
func (v View) History(id, viewer string) ([]StrategyVersion, error) {
	r, err := v.entryFor(id, viewer)
	if err != nil {
		return nil, err
	}
	return r.clone().Versions, nil
}

// StrategyFilter narrows ListStrategy. The zero filter lists every live
// entry the viewer may see.
type StrategyFilter struct {
	// JIT lists only the entries scoped to this team.
	JIT string
	// FederationWide lists only federation-wide entries.
	FederationWide bool
	// Kind lists only entries of this kind.
	Kind EntryKind
	// Owner lists only entries of this member.
	Owner string
	// IncludeDeleted lists deleted entries too.
	IncludeDeleted bool
}

// ListStrategy returns the strategy entries the viewer may see, by id:
// federation-wide entries and the entries of the teams it has accepted.
func (v View) ListStrategy(viewer string, f StrategyFilter) ([]StrategyEntry, error) {
	if err := v.viewer(viewer); err != nil {
		return nil, err
	}
	if f.JIT != "" && f.FederationWide {
		return nil, invalid("filter: jit and federation_wide exclude each other")
	}
	var out []StrategyEntry
	for _, k := range v.s.entries.sortedKeys(idCompare) {
		r := v.s.entries.m[k]
		cur := r.current()
		switch {
		case f.JIT != "" && r.JIT != f.JIT,
			f.FederationWide && r.JIT != "",
			f.Kind != "" && cur.Kind != f.Kind,
			f.Owner != "" && r.Owner != f.Owner,
			!f.IncludeDeleted && cur.Deleted,
			!v.entryVisible(r, viewer):
			continue
		}
		out = append(out, r.entry())
	}
	return out, nil
}

func involved(consents []Consent, member string) bool {
	return slices.ContainsFunc(consents, func(c Consent) bool { return c.Member == member })
}

// GetLeadAssignment returns a lead assignment the viewer is involved in.
func (v View) GetLeadAssignment(id, viewer string) (LeadAssignment, error) {
	if err := v.viewer(viewer); err != nil {
		return LeadAssignment{}, err
	}
	a, ok := v.s.leads.get(id)
	if !ok || !involved(a.Consents, viewer) {
		return LeadAssignment{}, notFound("lead assignment %q", id)
	}
	return *a.clone(), nil
}

// ListLeadAssignments returns the lead assignments the viewer is involved
// in, by id.
func (v View) ListLeadAssignments(viewer string) ([]LeadAssignment, error) {
	if err := v.viewer(viewer); err != nil {
		return nil, err
	}
	var out []LeadAssignment
	for _, k := range v.s.leads.sortedKeys(idCompare) {
		if a := v.s.leads.m[k]; involved(a.Consents, viewer) {
			out = append(out, *a.clone())
		}
	}
	return out, nil
}

// GetMatchDecision returns a match decision the viewer is involved in.
func (v View) GetMatchDecision(id, viewer string) (MatchDecision, error) {
	if err := v.viewer(viewer); err != nil {
		return MatchDecision{}, err
	}
	d, ok := v.s.matches.get(id)
	if !ok || !involved(d.Decisions, viewer) {
		return MatchDecision{}, notFound("match decision %q", id)
	}
	return *d.clone(), nil
}

// ListMatchDecisions returns the match decisions the viewer is involved in,
// by id.
func (v View) ListMatchDecisions(viewer string) ([]MatchDecision, error) {
	if err := v.viewer(viewer); err != nil {
		return nil, err
	}
	var out []MatchDecision
	for _, k := range v.s.matches.sortedKeys(idCompare) {
		if d := v.s.matches.m[k]; involved(d.Decisions, viewer) {
			out = append(out, *d.clone())
		}
	}
	return out, nil
}

// FederationKey returns a federation key with its versions; the current and
// previous versions carry their material.
func (v View) FederationKey(name, viewer string) (FederationKey, error) {
	if err := v.viewer(viewer); err != nil {
		return FederationKey{}, err
	}
	k, ok := v.s.keys.get(name)
	if !ok {
		return FederationKey{}, notFound("federation key %q", name)
	}
	return *k.clone(), nil
}

// ListFederationKeys returns every federation key by name, without key
// material.
func (v View) ListFederationKeys(viewer string) ([]FederationKey, error) {
	if err := v.viewer(viewer); err != nil {
		return nil, err
	}
	var out []FederationKey
	for _, name := range v.s.keys.sortedKeys(strings.Compare) {
		k := v.s.keys.m[name].clone()
		for i := range k.Versions {
			k.Versions[i].Material = nil
		}
		out = append(out, *k)
	}
	return out, nil
}

// MatchDecisionsChangedSince returns the match decisions the viewer is
// involved in whose latest change (Updated.Index) is after index after, in
// the order of those changes, at most limit of them (limit <= 0: all), and
// the index to pass next time: that of the last decision returned, or the
// view's last change seen when fewer than limit were returned. A decision
// changed several times since after is returned once, as it stands.
func (v View) MatchDecisionsChangedSince(viewer string, after uint64, limit int) ([]MatchDecision, uint64, error) {
	if err := v.viewer(viewer); err != nil {
		return nil, after, err
	}
	var out []MatchDecision
	next := after
	log := &v.s.matchLog
	for _, e := range log.entries[log.after(after):] {
		if limit > 0 && len(out) == limit {
			return out, next, nil
		}
		next = e.index
		d, ok := v.s.matches.get(e.id)
		if !ok || d.Updated.Index != e.index || !involved(d.Decisions, viewer) {
			continue
		}
		out = append(out, *d.clone())
	}
	return out, next, nil
}
