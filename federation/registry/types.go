package registry

import (
	"cmp"
	"maps"
	"slices"
	"time"
)

// Change says who made a change to the registry, when and under which
// request: the certificate identity of the node that sent the command, the
// user who acted through it (if any), the member both belong to, the time
// the leader stamped on the command, and the Raft log index it was applied
// at.
type Change struct {
	Index     uint64    `json:"index"`
	Time      time.Time `json:"time"`
	RequestID string    `json:"request_id"`
	Member    string    `json:"member"`
	Node      string    `json:"node"`
	User      string    `json:"user,omitempty"`
}

// MemberStatus is where a member stands in the federation.
type MemberStatus string

// The member statuses.
const (
	// MemberProposed: proposed by an admitted member, waiting for the votes
	// that admit it. A proposed member cannot act.
	MemberProposed MemberStatus = "proposed"
	// MemberAdmitted: a full member. Only admitted members act and see.
	MemberAdmitted MemberStatus = "admitted"
	// MemberSuspended: suspended by itself or by a vote of the others. Its
	// records stay; it can no longer act or see.
	MemberSuspended MemberStatus = "suspended"
)

// Member is a member office of the federation.
type Member struct {
	Code   string       `json:"code"`
	Name   string       `json:"name"`
	Status MemberStatus `json:"status"`
	// CACerts are the PEM-encoded certificates of the member's certificate
	// authorities: CA:true, one URI SAN naming the member.
	CACerts []string `json:"ca_certs"`
	// SigningKeys are the public keys that verify the member's signed
	// records.
	SigningKeys []SigningKey `json:"signing_keys,omitempty"`
	// EncryptionKeys are the X25519 public keys of the member's nodes that
	// JIT team keys are wrapped for (federation/teamkey).
	EncryptionKeys []EncryptionKey `json:"encryption_keys,omitempty"`
	// PersonKeys are the public keys of the member's nodes' person-token
	// keys (federation/persontoken): what pins each node's evaluations to
	// one key. The secret keys never leave their nodes.
	PersonKeys []PersonKey `json:"person_keys,omitempty"`
	// Nodes are the member's registered nodes, ordered by URI.
	Nodes []Node `json:"nodes,omitempty"`
	// AdmissionVotes are the admitted members' votes on admitting this
	// member, ordered by voter.
	AdmissionVotes []Vote `json:"admission_votes,omitempty"`
	// SuspensionVotes are the other members' votes to suspend this member,
	// ordered by voter.
	SuspensionVotes []Vote  `json:"suspension_votes,omitempty"`
	SuspendReason   string  `json:"suspend_reason,omitempty"`
	Proposed        Change  `json:"proposed"`
	Admitted        *Change `json:"admitted,omitempty"`
	Suspended       *Change `json:"suspended,omitempty"`
	Updated         Change  `json:"updated"`
}

// SigningKey is a public key a member signs its shared records with.
type SigningKey struct {
	// ID names the key within its member (lower-case letters, digits, '.',
	// '_', '-').
	ID string `json:"id"`
	// PublicKeyPEM is a PKIX "PUBLIC KEY" PEM block.
	PublicKeyPEM string `json:"public_key_pem"`
}

// EncryptionKey is a node's X25519 public key that the team keys of the
// member's JITs are wrapped for.
type EncryptionKey struct {
	// ID names the key within its member, as a signing key's id.
	ID string `json:"id"`
	// PublicKey is the standard base64 of the 32-byte X25519 public key.
	PublicKey string `json:"public_key"`
}

// PersonKey is the public key of one version of a node's person-token key.
// A member's shared records name it as "<member>/<node>" with the version.
type PersonKey struct {
	// Node is the node's name (the last part of its identity).
	Node string `json:"node"`
	// Version counts the node's keys from 1; a rotation adds the next.
	Version int `json:"version"`
	// PublicKey is the standard base64 of the 32-byte ristretto255 public
	// key (persontoken.PublicKeySize).
	PublicKey string `json:"public_key"`
}

// Node is one of a member's nodes.
type Node struct {
	// URI is the node's certificate identity,
	// spiffe://<federation>/member/<MEMBER>/node/<name>; it is also its Raft
	// server id.
	URI string `json:"uri"`
	// RegistryServer says whether the node takes part in the registry's
	// Raft group. Only registry servers may connect to Raft.
	RegistryServer bool `json:"registry_server"`
	// Address is the node's Raft address (host:port), if it is a registry
	// server.
	Address string `json:"address,omitempty"`
	// FederationAddress is the node's federation gRPC address (host:port):
	// where registry servers forward writes to it and where peers reach it.
	FederationAddress string `json:"federation_address,omitempty"`
	Registered        Change `json:"registered"`
}

// Vote is one member's vote.
type Vote struct {
	Member  string `json:"member"`
	Approve bool   `json:"approve"`
	Change  Change `json:"change"`
}

// JITStatus is whether a joint investigation team is working.
type JITStatus string

// The JIT statuses.
const (
	JITActive JITStatus = "active"
	JITClosed JITStatus = "closed"
)

// Membership is where a member stands in a joint investigation team.
type Membership string

// The JIT membership states. Only accepted members are "JIT members" for
// every rule: they see the team's cases and entries and may act in it.
// Invited members see the team itself so that they can answer.
const (
	MembershipInvited  Membership = "invited"
	MembershipAccepted Membership = "accepted"
	MembershipDeclined Membership = "declined"
	MembershipLeft     Membership = "left"
)

// JITMember is a member's place in a joint investigation team.
type JITMember struct {
	Member    string     `json:"member"`
	State     Membership `json:"state"`
	InvitedBy string     `json:"invited_by,omitempty"`
	// Since is the change that put the member in its current state.
	Since Change `json:"since"`
}

// CaseRef names a case by the member that holds it and its case id.
type CaseRef struct {
	Member string `json:"member"`
	CaseID string `json:"case_id"`
}

// String returns "<member>/<case id>".
func (c CaseRef) String() string { return c.Member + "/" + c.CaseID }

// CompareCaseRefs orders case references as the registry keeps them: by
// member, then case id.
func CompareCaseRefs(a, b CaseRef) int { return compareCaseRefs(a, b) }

// CompareIDs orders the ids the registry generates as it does:
// numerically when they share a prefix ("match-000010" after
// "match-000009", also past a million).
func CompareIDs(a, b string) int { return idCompare(a, b) }

func compareCaseRefs(a, b CaseRef) int {
	if a.Member != b.Member {
		if a.Member < b.Member {
			return -1
		}
		return 1
	}
	switch {
	case a.CaseID < b.CaseID:
		return -1
	case a.CaseID > b.CaseID:
		return 1
	}
	return 0
}

// LinkedCase is a case linked to a joint investigation team.
type LinkedCase struct {
	Case   CaseRef `json:"case"`
	Linked Change  `json:"linked"`
}

// JITPolicy is the rule of a team's agreement for changing the team:
// whose consent an invitation, a change of lead and closing need.
type JITPolicy string

// The JIT policies.
const (
	// JITUnanimous: an invitation, a change of lead and closing the team
	// take effect only once every accepted member consents (the EU JIT
	// model agreement: the parties amend the agreement together). The
	// default, and for now the only rule.
	JITUnanimous JITPolicy = "unanimous"
)

// ProposalKind is what a team proposal would change.
type ProposalKind string

// The proposal kinds.
const (
	ProposalInvite  ProposalKind = "invite"
	ProposalSetLead ProposalKind = "set_lead"
	ProposalClose   ProposalKind = "close"
)

// ProposalStatus is where a team proposal stands.
type ProposalStatus string

// The proposal statuses.
const (
	// ProposalOpen: waiting for the consent of every accepted member.
	ProposalOpen ProposalStatus = "proposed"
	// ProposalAgreed: every accepted member consented; the change was made.
	ProposalAgreed ProposalStatus = "agreed"
	// ProposalRefused: an accepted member refused; nothing changed.
	ProposalRefused ProposalStatus = "refused"
	// ProposalLapsed: the team changed under it (its proposer or the member
	// it names left, the team closed, the invitee is no longer admitted);
	// nothing changed.
	ProposalLapsed ProposalStatus = "lapsed"
)

// JITProposal is a proposed change to a team that needs the consent of
// its accepted members: inviting a member, making a member the lead,
// closing the team. Until it is agreed nothing changes: a proposed invitee
// is not invited, sees nothing of the team and receives none of its cases.
type JITProposal struct {
	// ID is "<jit id>/<number>", numbered within the team from 1.
	ID   string       `json:"id"`
	Kind ProposalKind `json:"kind"`
	// Member is the member to invite or to make lead; empty for close.
	Member string         `json:"member,omitempty"`
	Status ProposalStatus `json:"status"`
	// Consents has one entry per accepted member while the proposal is
	// open (a member that accepts meanwhile is added, one that leaves is
	// removed), ordered by member; the proposer's is yes.
	Consents []Consent `json:"consents"`
	Created  Change    `json:"created"`
	Updated  Change    `json:"updated"`
}

// KeyWrap is a team key of one epoch wrapped for one key of one accepted
// member (federation/teamkey.Wrap, with teamkey.WrapAD(JIT.Scope(), Epoch,
// Member, KeyID)).
type KeyWrap struct {
	Epoch   int    `json:"epoch"`
	Member  string `json:"member"`
	KeyID   string `json:"key_id"`
	Wrapped string `json:"wrapped"`
	// Change is who wrapped it, and when.
	Change Change `json:"change"`
}

// JIT is a joint investigation team.
//
// In an encrypted team (KeyEpoch > 0) Name, LegalBasis and AgreementRef,
// and the title, text and deletion reason of the team's strategy entries,
// are sealed to the team key (federation/teamkey); only the team's
// accepted members hold wraps of it. Teams created in the clear (before
// encryption) stay readable as they were.
type JIT struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// LegalBasis is the legal instrument the team rests on (for example
	// "Art. 13 of the EU Convention on Mutual Assistance 2000").
	LegalBasis string `json:"legal_basis"`
	// AgreementRef is the reference of the signed JIT agreement.
	AgreementRef string `json:"agreement_ref,omitempty"`
	// KeyEpoch is the epoch of the team key new content is sealed with;
	// 0 for a team created in the clear.
	KeyEpoch int `json:"key_epoch,omitempty"`
	// KeyWraps are the team keys of every epoch wrapped for the members'
	// keys, by epoch, member and key id.
	KeyWraps []KeyWrap `json:"key_wraps,omitempty"`
	Status   JITStatus `json:"status"`
	// Policy is the team's agreement rule for invitations, lead changes
	// and closing; empty in teams created before it was recorded, which
	// read as JITUnanimous.
	Policy JITPolicy `json:"policy,omitempty"`
	// Lead is the lead member; empty once the lead left, until the members
	// agree on another.
	Lead string `json:"lead,omitempty"`
	// Members are ordered by member code.
	Members []JITMember `json:"members"`
	// Cases are ordered by member, then case id. GetJIT and ListJITs leave
	// them out for a viewer that has not accepted.
	Cases []LinkedCase `json:"cases,omitempty"`
	// LastProposal is the number of the team's latest proposal.
	LastProposal int `json:"last_proposal,omitempty"`
	// Proposals are the team's open proposals and its latest decided ones,
	// oldest first. GetJIT and ListJITs leave them out for a viewer that
	// has not accepted.
	Proposals []JITProposal `json:"proposals,omitempty"`
	Created   Change        `json:"created"`
	Updated   Change        `json:"updated"`
}

// Scope is the value that binds the team's ciphertexts to the team: the
// member and request id of the command that created it (known to the
// creating node before the team has an id; unique per team).
func (j *JIT) Scope() string { return j.Created.Member + "/" + j.Created.RequestID }

// Wrap returns the wrap of the team key of epoch for a member's key, or
// nil.
func (j *JIT) Wrap(epoch int, member, keyID string) *KeyWrap {
	for i := range j.KeyWraps {
		w := &j.KeyWraps[i]
		if w.Epoch == epoch && w.Member == member && w.KeyID == keyID {
			return w
		}
	}
	return nil
}

// hasWrap reports whether member holds a wrap of the key of epoch.
func (j *JIT) hasWrap(epoch int, member string) bool {
	for _, w := range j.KeyWraps {
		if w.Epoch == epoch && w.Member == member {
			return true
		}
	}
	return false
}

// member returns the team's record of a member, or nil.
func (j *JIT) member(code string) *JITMember {
	i, ok := slices.BinarySearchFunc(j.Members, code, func(m JITMember, c string) int { return compareStrings(m.Member, c) })
	if !ok {
		return nil
	}
	return &j.Members[i]
}

func (j *JIT) state(code string) Membership {
	if m := j.member(code); m != nil {
		return m.State
	}
	return ""
}

// accepted reports whether code is a JIT member (has accepted).
func (j *JIT) accepted(code string) bool { return j.state(code) == MembershipAccepted }

// visible reports whether code may see the team at all.
func (j *JIT) visible(code string) bool {
	s := j.state(code)
	return s == MembershipAccepted || s == MembershipInvited
}

// LeadStatus is where a lead-jurisdiction assignment stands.
type LeadStatus string

// The lead assignment statuses.
const (
	LeadProposed LeadStatus = "proposed"
	LeadAgreed   LeadStatus = "agreed"
	LeadRefused  LeadStatus = "refused"
)

// Answer is an involved member's answer to a proposal that needs everyone's
// agreement (a lead assignment, a match decision).
type Answer string

// The answers.
const (
	AnswerPending Answer = "pending"
	AnswerYes     Answer = "yes"
	AnswerNo      Answer = "no"
)

// Consent is one involved member's answer and when it gave it.
type Consent struct {
	Member string  `json:"member"`
	Answer Answer  `json:"answer"`
	Change *Change `json:"change,omitempty"`
	// Reason is the reason the member gave with its answer (match
	// decisions only; required with a rejection).
	Reason string `json:"reason,omitempty"`
}

// LeadAssignment proposes which member leads the prosecution of a group of
// matched cases; it is agreed once every involved member consents and
// refused once one refuses.
type LeadAssignment struct {
	ID string `json:"id"`
	// Cases are ordered by member, then case id.
	Cases []CaseRef `json:"cases"`
	Lead  string    `json:"lead"`
	// Match is the confirmed match decision the group comes from, if any.
	Match  string     `json:"match,omitempty"`
	Note   string     `json:"note,omitempty"`
	Status LeadStatus `json:"status"`
	// Consents has one entry per involved member, ordered by member.
	Consents []Consent `json:"consents"`
	Created  Change    `json:"created"`
	Updated  Change    `json:"updated"`
}

// MatchStatus is where a match decision stands.
type MatchStatus string

// The match decision statuses.
const (
	MatchProposed  MatchStatus = "proposed"
	MatchConfirmed MatchStatus = "confirmed"
	MatchRejected  MatchStatus = "rejected"
)

// MatchDecision is a proposed group of cases of several members that
// concern the same incident, and each involved member's confirmation or
// rejection. It is confirmed once every involved member confirms and
// rejected once one rejects.
type MatchDecision struct {
	ID string `json:"id"`
	// Cases are ordered by member, then case id.
	Cases   []CaseRef `json:"cases"`
	Score   float64   `json:"score"`
	Reasons []string  `json:"reasons,omitempty"`
	// Versions are the case versions the match was found on, when given.
	Versions map[string]int64 `json:"versions,omitempty"`
	Status   MatchStatus      `json:"status"`
	// Decisions has one entry per involved member, ordered by member: its
	// current answer (the latest it gave).
	Decisions []Consent `json:"decisions"`
	// Earlier are the answers that a later answer of the same member
	// replaced, oldest first; with the current answers in Decisions they
	// are the decision's whole history (History).
	Earlier []Consent `json:"earlier,omitempty"`
	// Explanation is how the matcher's score came about, when the
	// proposer gave it.
	Explanation *Explanation `json:"explanation,omitempty"`
	Created     Change       `json:"created"`
	Updated     Change       `json:"updated"`
}

// History returns every answer given on the decision, current and
// replaced, in the order they were given (by log index).
func (d *MatchDecision) History() []Consent {
	out := cloneConsents(d.Earlier)
	for _, c := range d.Decisions {
		if c.Answer != AnswerPending && c.Change != nil {
			out = append(out, c)
		}
	}
	slices.SortStableFunc(out, func(a, b Consent) int { return cmp.Compare(a.Change.Index, b.Change.Index) })
	return out
}

// Explanation is how a match's score came about under the matcher's
// Fellegi-Sunter model: the prior's match weight plus each comparison's
// is the total weight, whose probability 1/(1+2^-weight) is the score
// (rounded as the matcher rounds it). Labels name levels, never values of
// a record.
type Explanation struct {
	// Prior is the share of matches among candidate pairs (the model's
	// lambda); PriorWeight is log2(Prior/(1-Prior)).
	Prior       float64 `json:"prior"`
	PriorWeight float64 `json:"prior_weight"`
	// Comparisons are in the model's order.
	Comparisons []ComparisonWeight `json:"comparisons"`
	// Weight is PriorWeight plus every comparison's weight; Probability
	// is 1/(1+2^-Weight).
	Weight      float64 `json:"weight"`
	Probability float64 `json:"probability"`
}

// ComparisonWeight is one comparison's part in a match's weight.
type ComparisonWeight struct {
	Name string `json:"name"`
	// Level is the index of the level the pair fell in, and Label its
	// words; -1 and "" when the comparison was not observed (a record
	// lacks what it compares), and Weight is then 0.
	Level  int     `json:"level"`
	Label  string  `json:"label,omitempty"`
	Weight float64 `json:"weight"`
}

// Observed reports whether the comparison was observed.
func (c ComparisonWeight) Observed() bool { return c.Level >= 0 }

// EntryKind is the kind of a strategy entry.
type EntryKind string

// The strategy entry kinds.
const (
	KindPriority EntryKind = "priority"
	KindTarget   EntryKind = "target"
	KindTheme    EntryKind = "theme"
)

// TargetType says what a target reference names.
type TargetType string

// The target types.
const (
	// TargetUnit names a military or police unit by its public designation.
	TargetUnit TargetType = "unit"
	// TargetPerson names a person by keyed reference only: the hex-encoded
	// keyed encoding made with a federation key, never a name.
	TargetPerson TargetType = "person"
)

// TargetRef is a target of a strategy entry.
type TargetRef struct {
	Type TargetType `json:"type"`
	// Ref is a unit's designation, or a person's keyed encoding (lower-case
	// hex).
	Ref string `json:"ref"`
	// Key and KeyVersion name the federation key a person's encoding was
	// made with.
	Key        string `json:"key,omitempty"`
	KeyVersion int    `json:"key_version,omitempty"`
}

// StrategyVersion is one version of a strategy entry. A deleted entry ends
// with a version that has Deleted set and the content of the one before.
type StrategyVersion struct {
	Version int         `json:"version"`
	Kind    EntryKind   `json:"kind"`
	Title   string      `json:"title"`
	Text    string      `json:"text,omitempty"`
	Targets []TargetRef `json:"targets,omitempty"`
	Deleted bool        `json:"deleted,omitempty"`
	Reason  string      `json:"reason,omitempty"`
	// Sealed, in an entry of an encrypted team, is "<member>/<request id>"
	// of the command that wrote the title and text: the record part of
	// their associated data (teamkey.FieldAD(jit scope, "entry:"+Sealed,
	// field)). A deletion keeps it; its reason is bound to the deletion's
	// own change.
	Sealed string `json:"sealed,omitempty"`
	Change Change `json:"change"`
}

// StrategyEntry is a strategy entry as reads return it: its current
// version. History returns every version.
type StrategyEntry struct {
	ID    string `json:"id"`
	Owner string `json:"owner"`
	// JIT is the team the entry is scoped to; empty for a federation-wide
	// entry.
	JIT     string          `json:"jit,omitempty"`
	Created Change          `json:"created"`
	Current StrategyVersion `json:"current"`
}

// strategyRecord is a strategy entry as the state holds it, with its full
// history, oldest version first.
type strategyRecord struct {
	ID       string            `json:"id"`
	Owner    string            `json:"owner"`
	JIT      string            `json:"jit,omitempty"`
	Created  Change            `json:"created"`
	Versions []StrategyVersion `json:"versions"`
}

func (r *strategyRecord) current() *StrategyVersion { return &r.Versions[len(r.Versions)-1] }

func (r *strategyRecord) entry() StrategyEntry {
	return StrategyEntry{ID: r.ID, Owner: r.Owner, JIT: r.JIT, Created: r.Created, Current: r.current().clone()}
}

// KeyState is where a version of a federation key stands.
type KeyState string

// The key version states. The current version makes new encodings; the
// previous one still matches what was encoded with it while members
// re-encode; a retired version's material is dropped.
const (
	KeyCurrent  KeyState = "current"
	KeyPrevious KeyState = "previous"
	KeyRetired  KeyState = "retired"
)

// KeyVersion is one version of a federation key.
type KeyVersion struct {
	Version int      `json:"version"`
	State   KeyState `json:"state"`
	// Material is the key's bytes as the creating member supplied them (the
	// registry does not interpret them); empty once retired.
	Material []byte  `json:"material,omitempty"`
	Created  Change  `json:"created"`
	Retired  *Change `json:"retired,omitempty"`
}

// FederationKey is a key the members need in common, for example the key of
// the privacy-preserving person encodings, with its versions, oldest first.
type FederationKey struct {
	Name     string       `json:"name"`
	Purpose  string       `json:"purpose,omitempty"`
	Owner    string       `json:"owner"`
	Versions []KeyVersion `json:"versions"`
	Created  Change       `json:"created"`
	Updated  Change       `json:"updated"`
}

func (k *FederationKey) version(v int) *KeyVersion {
	if v < 1 || v > len(k.Versions) {
		return nil
	}
	return &k.Versions[v-1]
}

// Current returns the current version.
func (k *FederationKey) Current() KeyVersion { return k.Versions[len(k.Versions)-1] }

// Policy holds the federation's replicated settings. It is fixed at
// bootstrap so that every replica applies the same rules.
type Policy struct {
	// AdmissionThresholdPercent: admitting a member takes the approval of
	// strictly more than this percentage of the admitted members (50, the
	// default when zero, is a simple majority); suspending one takes the same
	// share of the other admitted members. 1 to 99.
	AdmissionThresholdPercent int `json:"admission_threshold_percent"`
	// DedupeWindow is how many request ids per member the exactly-once table
	// remembers (default 10,000 when zero). A retry older than that is
	// applied again.
	DedupeWindow int `json:"dedupe_window"`
}

// The policy defaults and bounds.
const (
	DefaultAdmissionThresholdPercent = 50
	DefaultDedupeWindow              = 10000
	MaxDedupeWindow                  = 1000000
)

func (p Policy) normalized() Policy {
	if p.AdmissionThresholdPercent == 0 {
		p.AdmissionThresholdPercent = DefaultAdmissionThresholdPercent
	}
	if p.DedupeWindow == 0 {
		p.DedupeWindow = DefaultDedupeWindow
	}
	return p
}

// Required returns how many approvals are needed out of n voters: strictly
// more than AdmissionThresholdPercent of n, and at least one, at most n.
func (p Policy) Required(n int) int {
	p = p.normalized()
	r := n*p.AdmissionThresholdPercent/100 + 1
	if r > n {
		r = n
	}
	if r < 1 {
		r = 1
	}
	return r
}

// Outcome is the value of an applied command: the id of the record it
// created or changed, its new version where records have versions, and its
// new status where records have statuses.
type Outcome struct {
	ID      string `json:"id,omitempty"`
	Version int    `json:"version,omitempty"`
	Status  string `json:"status,omitempty"`
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// The clone methods return deep copies: records in the state are never
// changed in place, and reads hand out copies the caller may change.

func cloneChange(c *Change) *Change {
	if c == nil {
		return nil
	}
	cc := *c
	return &cc
}

func (m *Member) clone() *Member {
	c := *m
	c.CACerts = slices.Clone(m.CACerts)
	c.SigningKeys = slices.Clone(m.SigningKeys)
	c.EncryptionKeys = slices.Clone(m.EncryptionKeys)
	c.PersonKeys = slices.Clone(m.PersonKeys)
	c.Nodes = slices.Clone(m.Nodes)
	c.AdmissionVotes = slices.Clone(m.AdmissionVotes)
	c.SuspensionVotes = slices.Clone(m.SuspensionVotes)
	c.Admitted = cloneChange(m.Admitted)
	c.Suspended = cloneChange(m.Suspended)
	return &c
}

func (j *JIT) clone() *JIT {
	c := *j
	c.Members = slices.Clone(j.Members)
	c.KeyWraps = slices.Clone(j.KeyWraps)
	c.Cases = slices.Clone(j.Cases)
	c.Proposals = slices.Clone(j.Proposals)
	for i := range c.Proposals {
		c.Proposals[i].Consents = cloneConsents(c.Proposals[i].Consents)
	}
	return &c
}

func cloneConsents(cs []Consent) []Consent {
	out := slices.Clone(cs)
	for i := range out {
		out[i].Change = cloneChange(out[i].Change)
	}
	return out
}

func (a *LeadAssignment) clone() *LeadAssignment {
	c := *a
	c.Cases = slices.Clone(a.Cases)
	c.Consents = cloneConsents(a.Consents)
	return &c
}

func (d *MatchDecision) clone() *MatchDecision {
	c := *d
	c.Cases = slices.Clone(d.Cases)
	c.Reasons = slices.Clone(d.Reasons)
	c.Versions = maps.Clone(d.Versions)
	c.Decisions = cloneConsents(d.Decisions)
	c.Earlier = cloneConsents(d.Earlier)
	c.Explanation = d.Explanation.clone()
	return &c
}

func (e *Explanation) clone() *Explanation {
	if e == nil {
		return nil
	}
	c := *e
	c.Comparisons = slices.Clone(e.Comparisons)
	return &c
}

func (v StrategyVersion) clone() StrategyVersion {
	v.Targets = slices.Clone(v.Targets)
	return v
}

func (r *strategyRecord) clone() *strategyRecord {
	c := *r
	c.Versions = make([]StrategyVersion, len(r.Versions))
	for i, v := range r.Versions {
		c.Versions[i] = v.clone()
	}
	return &c
}

func (k *FederationKey) clone() *FederationKey {
	c := *k
	c.Versions = make([]KeyVersion, len(k.Versions))
	for i, v := range k.Versions {
		v.Material = slices.Clone(v.Material)
		v.Retired = cloneChange(v.Retired)
		c.Versions[i] = v
	}
	return &c
}
