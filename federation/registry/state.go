package registry

import (
	"fmt"
	"strings"
)

// meta is the small part of the state that is not a table.
type meta struct {
	Federation   string `json:"federation,omitempty"`
	Bootstrapped bool   `json:"bootstrapped"`
	Policy       Policy `json:"policy"`
	// The last number given to an id of each kind.
	LastJIT   uint64 `json:"last_jit"`
	LastEntry uint64 `json:"last_entry"`
	LastLead  uint64 `json:"last_lead"`
	LastMatch uint64 `json:"last_match"`
	// MatchAnswers is MatchAnswersV2 once the registry applied a match
	// answer or proposal that needs it (a reason, a changed answer, an
	// explanation), which an honest leader appends only once every server
	// applies it; from then on a rejection needs a reason. 0 before.
	MatchAnswers int `json:"match_answers,omitempty"`
	// ReplayFloor is, per acting node, the log index of the newest of its
	// requests the exactly-once table has forgotten: a command of that node
	// signed before that index could replay it, and is refused
	// (signature.go).
	// Copied on write: snapshots share meta.
	ReplayFloor map[string]uint64 `json:"replay_floor,omitempty"`
}

// state is the registry's replicated state. It is not safe for concurrent
// use: the FSM serialises Apply and guards reads. Apply changes it only
// through the put methods, which keep the copy-on-write tables' promise to
// snapshots (see table).
type state struct {
	gen  uint64
	meta meta

	members *table[*Member]
	jits    *table[*JIT]
	leads   *table[*LeadAssignment]
	entries *table[*strategyRecord]
	matches *table[*MatchDecision]
	keys    *table[*FederationKey]
	dedupe  *table[*dedupeRecord]

	// Derived indexes, rebuilt on restore and never read by a snapshot, so
	// changed in place.
	leadGroups  map[string]string        // group key of a proposed or agreed assignment -> id
	matchGroups map[string]string        // group key of a proposed or confirmed match -> id
	latestMatch map[string]string        // group key -> id of its newest match decision
	matchLog    matchChanges             // match decisions by their latest change
	matchQueue  matchQueues              // match decisions per viewer, by id and by score (matchqueue.go)
	queues      map[string]*requestQueue // member -> its remembered request ids, oldest first

	// certs caches parsed signer certificates and verified chains; a pure
	// cache, never snapshotted.
	certs *certCache

	// version is the envelope version of the command being applied (set by
	// apply), for the rules that hold for version 3 commands only; never
	// snapshotted.
	version int
}

func newState() *state {
	const gen = 1
	return &state{
		gen:         gen,
		members:     newTable[*Member](gen),
		jits:        newTable[*JIT](gen),
		leads:       newTable[*LeadAssignment](gen),
		entries:     newTable[*strategyRecord](gen),
		matches:     newTable[*MatchDecision](gen),
		keys:        newTable[*FederationKey](gen),
		dedupe:      newTable[*dedupeRecord](gen),
		leadGroups:  map[string]string{},
		matchGroups: map[string]string{},
		latestMatch: map[string]string{},
		matchQueue:  newMatchQueues(),
		queues:      map[string]*requestQueue{},
		certs:       newCertCache(),
	}
}

// frozen is a state's tables as a snapshot saw them. Nothing changes them
// after Snapshot returns.
type frozen struct {
	index   uint64
	chain   [32]byte // the log chain at index
	meta    meta
	members *table[*Member]
	jits    *table[*JIT]
	leads   *table[*LeadAssignment]
	entries *table[*strategyRecord]
	matches *table[*MatchDecision]
	keys    *table[*FederationKey]
	dedupe  *table[*dedupeRecord]
}

// freeze captures the tables and starts a new generation, so that every
// later change copies a table before writing to it.
func (s *state) freeze(index uint64) *frozen {
	f := &frozen{index: index, meta: s.meta, members: s.members, jits: s.jits, leads: s.leads,
		entries: s.entries, matches: s.matches, keys: s.keys, dedupe: s.dedupe}
	s.gen++
	return f
}

func (s *state) putMember(m *Member) {
	s.members = s.members.writable(s.gen)
	s.members.m[m.Code] = m
}

func (s *state) putJIT(j *JIT) {
	s.jits = s.jits.writable(s.gen)
	s.jits.m[j.ID] = j
}

func (s *state) putLead(a *LeadAssignment) {
	s.leads = s.leads.writable(s.gen)
	s.leads.m[a.ID] = a
	key := groupKey(a.Cases)
	if a.Status == LeadRefused {
		if s.leadGroups[key] == a.ID {
			delete(s.leadGroups, key)
		}
		return
	}
	s.leadGroups[key] = a.ID
}

func (s *state) putEntry(r *strategyRecord) {
	s.entries = s.entries.writable(s.gen)
	s.entries.m[r.ID] = r
}

func (s *state) putMatch(d *MatchDecision) {
	s.matches = s.matches.writable(s.gen)
	old, replaced := s.matches.m[d.ID] // read before overwriting: the queue index needs the old value
	s.matches.m[d.ID] = d
	s.matchQueue.put(old, d)
	s.matchLog.put(d.Updated.Index, d.ID, replaced)
	s.matchLog.compact(func(e matchChange) bool {
		cur, ok := s.matches.m[e.id]
		return ok && cur.Updated.Index == e.index
	})
	key := groupKey(d.Cases)
	if old, ok := s.latestMatch[key]; !ok || idCompare(old, d.ID) < 0 {
		s.latestMatch[key] = d.ID
	}
	if d.Status == MatchRejected {
		if s.matchGroups[key] == d.ID {
			delete(s.matchGroups, key)
		}
		return
	}
	s.matchGroups[key] = d.ID
}

func (s *state) putKey(k *FederationKey) {
	s.keys = s.keys.writable(s.gen)
	s.keys.m[k.Name] = k
}

// groupKey names a set of cases independently of their order. Cases are
// kept sorted, so joining them is enough.
func groupKey(cases []CaseRef) string {
	var b strings.Builder
	for i, c := range cases {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(c.Member)
		b.WriteByte('/')
		b.WriteString(c.CaseID)
	}
	return b.String()
}

func nextID(last *uint64, prefix string) string {
	*last++
	return fmt.Sprintf("%s-%06d", prefix, *last)
}

// admitted returns the member if it is admitted.
func (s *state) admitted(code string) (*Member, bool) {
	m, ok := s.members.get(code)
	if !ok || m.Status != MemberAdmitted {
		return nil, false
	}
	return m, true
}

// admittedCount returns how many members are admitted.
func (s *state) admittedCount() int {
	n := 0
	for _, m := range s.members.m {
		if m.Status == MemberAdmitted {
			n++
		}
	}
	return n
}

// apply runs one command against the state with the handler of its type
// (commandTable). The envelope has been checked; ch describes the change.
// On error nothing has changed.
func (s *state) apply(cmd *Command, ch Change) (Outcome, error) {
	spec, ok := commands.byType[cmd.Type]
	if !ok || spec.apply == nil {
		return Outcome{}, invalid("type: unknown command type %q", cmd.Type)
	}
	if !spec.founding {
		if !s.meta.Bootstrapped {
			return Outcome{}, precondition("the registry is not bootstrapped yet")
		}
		if _, ok := s.admitted(ch.Member); !ok {
			return Outcome{}, denied("member %s is not an admitted member", ch.Member)
		}
	}
	if cmd.payloadErr != nil {
		return Outcome{}, cmd.payloadErr
	}
	s.version = cmd.Version
	return spec.apply(s, ch, cmd.Payload)
}
