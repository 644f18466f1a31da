package matcher

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/accordfed/accord/federation/feed"
	"github.com/accordfed/accord/federation/matching"
	"github.com/accordfed/accord/federation/persontoken"
	"github.com/accordfed/accord/federation/records"
	"github.com/accordfed/accord/federation/redact"
	"github.com/accordfed/accord/federation/registry"
	"github.com/accordfed/accord/federation/registryraft"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// Store is what the matcher reads of the node's store (*store.Store).
type Store interface {
	Changes(after uint64, limit int) ([]feed.Change, error)
	Feed() (feed.Info, error)
	Changed() <-chan struct{}
	FedScan(origin string, fn func(origin, caseID string, seq uint64, record []byte) error) error
	// ForEachCase calls fn with each of the office's cases.
	ForEachCase(fn func(*accordv1.Case) error) error
	// FindCase returns a case, or nil when the store does not hold it.
	FindCase(caseID string) (*accordv1.Case, error)
}

// Registry applies commands and reads the registry (*registryraft.Node).
type Registry interface {
	Apply(ctx context.Context, cmd *registry.Command) (registry.Outcome, error)
	Read(ctx context.Context, linearizable bool, fn func(registry.View)) (uint64, error)
}

// Options configure a Matcher.
type Options struct {
	// Threshold is the lowest score proposed (default 0.5).
	Threshold float64
	// Encoder returns the person encoder the office's cases are published
	// with (the federation's current key), or nil while there is none.
	Encoder func() records.PersonEncoder
	// JITVisible reports whether member may see this office's jit case
	// caseID: a JIT that lists the case has member as an accepted member
	// (the exchange's own rule). Nil: no jit case is ever proposed.
	JITVisible func(member, caseID string) bool
	// Names are the names of every person the office holds, with which the
	// publisher blanks shared free text (records.Project); the matcher
	// projects the office's cases with the same names, so that it matches
	// exactly what the other members receive. Nil: the case's own persons
	// only.
	Names *redact.Names
	// PeerTokens gives the pair tokens of the office's own persons with the
	// other members' keys (federation/persons.Asker): those compared here,
	// and those published for the others to compare; nil: own cases are
	// matched with the office's own cases only on persons.
	PeerTokens PeerTokens
	// Republish, when set, publishes again the office's cases given (nil:
	// all of them): the matcher calls it when new pair tokens were
	// obtained, so that the other members receive them.
	Republish func(caseIDs []string) error
	// Shared, when set, is called with every shared case of another
	// member the matcher reads from the federation index, and with nil
	// when one is withdrawn (the register of interviewed persons follows
	// the index through it).
	Shared func(origin, caseID string, sc *accordv1.SharedCase)
	// Present, when set, is told when a case enters the index (true) and
	// when it leaves it, withdrawn at its office or no longer shared with
	// this member (false): the incident clusters leave such a case out.
	Present func(caseID string, present bool)
	// RefitAfter is how long after a fit the model may be fitted again
	// (default 10s); it is, once the index has grown by a quarter (and at
	// least 100 cases) since the last fit, so that the model learns from the
	// cases that arrived after the node started.
	RefitAfter time.Duration
	Logger     *slog.Logger
}

// PeerTokens obtains and caches the pair tokens of the office's own
// persons with the other members' keys (*persons.Asker).
type PeerTokens interface {
	// Prefetch obtains the tokens of inputs the caches lack and says how
	// many it obtained.
	Prefetch(ctx context.Context, inputs []persontoken.Input) (int, error)
	// Cached returns the pair tokens of an input compared here, one per
	// other member's key.
	Cached(in persontoken.Input) []persontoken.Tokens
	// KeySet changes when the other members' keys change.
	KeySet() string
}

// ScorePair returns the probability under the current model that the
// indexed cases a and b concern the same incident, and false when either
// is not indexed (or the index is not built yet).
func (m *Matcher) ScorePair(a, b string) (float64, bool) {
	x := m.ready.Load()
	if x == nil {
		return 0, false
	}
	return x.ScorePair(a, b)
}

// Compare compares the indexed cases a and b under the current model
// (matching.Index.Compare): the levels, the score, the incidents the
// score rests on, the shared evidence and the persons whose tokens match;
// false when either is not indexed (or the index is not built yet).
func (m *Matcher) Compare(a, b string) (matching.Comparison, bool) {
	x := m.ready.Load()
	if x == nil {
		return matching.Comparison{}, false
	}
	return x.Compare(a, b)
}

// Matcher is a node's incremental matcher.
type Matcher struct {
	member string
	st     Store
	reg    Registry
	opts   Options
	logger *slog.Logger

	index    *matching.Index // used by Run only
	fittedOn int             // records the model was last fitted on (Run only)
	fitted   time.Time       // when (Run only)
	ready    atomic.Pointer[matching.Index]
	fit      atomic.Pointer[Fit] // the model in use and its fit, once loaded
	versions sync.Map            // case id -> version (int64)
	// sens holds the sensitivity, as published, of each case in the index
	// (the office's and the others'); a national case is never there.
	sens sync.Map // case id -> accordv1.Sensitivity

	// inputs are the person-token inputs of the office's shareable cases
	// (Run only).
	inputs       map[string][]persontoken.Input
	nextPrefetch time.Time
	keySet       string // PeerTokens.KeySet at the last prefetch

	mu      sync.Mutex
	pending map[string]string // federation case id -> origin, waiting to be (re)matched
	wake    chan struct{}

	proposed, found, withheld atomic.Int64
}

// Fit is the model the matcher scores with and how it was fitted.
type Fit struct {
	Model *matching.Model
	// At is when it was fitted; zero before the first load.
	At time.Time
	// Stats are the fit's: records, candidate pairs, EM pairs, non-match
	// pairs, and the EM guard's Fallback.
	Stats matching.Stats
	// Default is true when the default model is in use: before the first
	// load, or when too few candidate pairs were found to fit one.
	Default bool
}

// Fit returns the model in use: the default model, unfitted, until the
// matcher has loaded its index.
func (m *Matcher) Fit() Fit {
	if f := m.fit.Load(); f != nil {
		return *f
	}
	return Fit{Model: matching.DefaultModel(), Default: true}
}

// New returns the matcher of member's node.
func New(member string, st Store, reg Registry, o Options) *Matcher {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Threshold == 0 {
		o.Threshold = 0.5
	}
	if o.Encoder == nil {
		o.Encoder = func() records.PersonEncoder { return nil }
	}
	if o.RefitAfter == 0 {
		o.RefitAfter = 10 * time.Second
	}
	return &Matcher{member: member, st: st, reg: reg, opts: o, logger: o.Logger,
		pending: map[string]string{}, wake: make(chan struct{}, 1), inputs: map[string][]persontoken.Input{}}
}

// Federated queues cases of origin that were stored in or removed from
// the federation index (the exchange's puller calls it).
func (m *Matcher) Federated(origin string, caseIDs []string) {
	m.mu.Lock()
	for _, id := range caseIDs {
		m.pending[id] = origin
	}
	m.mu.Unlock()
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// Stats says how many cross-member matches involving the member the
// matcher found (on every involved member's node, each time it finds one,
// refits included) and proposed (the first member of a pair only).
func (m *Matcher) Stats() (found, proposed int64, indexed int) {
	n := 0
	if x := m.ready.Load(); x != nil {
		n = x.Len()
	}
	return m.found.Load(), m.proposed.Load(), n
}

// PlaceAliases returns the folded place names the matching index learned,
// from incident coordinates, at a location within km of fold's
// (federation/matching.Index.PlaceAliases): nil before the index is
// loaded. Read-only; node/casesearch uses it for place search.
func (m *Matcher) PlaceAliases(fold string, km float64) []string {
	ix := m.ready.Load()
	if ix == nil {
		return nil
	}
	return ix.PlaceAliases(fold, km)
}

// Withheld says how many matches the matcher found but did not propose
// because the other member may not see the office's case (a jit case
// outside the other member's JITs).
func (m *Matcher) Withheld() int64 { return m.withheld.Load() }

// ownRecord returns the record of one of the office's cases as the other
// members receive it: built from its shared projection (records.Project,
// what the publisher sends), never from the fields the office keeps home,
// so that neither a score nor a reason rests on anything the other member
// did not get. ok is false for a case that never leaves the office
// (national), which is then not matched at all, and for one the engine
// cannot read.
func (m *Matcher) ownRecord(c *accordv1.Case, enc records.PersonEncoder) (r matching.Record, ok bool) {
	if !records.Shareable(c) {
		return matching.Record{}, false
	}
	sc, _, err := records.Project(c, enc, m.opts.Names)
	if err != nil || sc == nil {
		// nil: the case's id carries a name, and the case is not shared.
		return matching.Record{}, false
	}
	r, err = matching.FromShared(sc)
	if err != nil {
		return matching.Record{}, false
	}
	if m.opts.PeerTokens != nil {
		for _, in := range m.inputs[c.GetCaseId()] {
			r.Persons = append(r.Persons, m.opts.PeerTokens.Cached(in)...)
		}
	}
	m.versions.Store(c.GetCaseId(), c.GetVersion())
	m.sens.Store(c.GetCaseId(), sc.GetSensitivity())
	return r, true
}

// personInputs records the person-token inputs of one of the office's
// cases (none for a case that is not shared) and returns them.
func (m *Matcher) personInputs(c *accordv1.Case) []persontoken.Input {
	var ins []persontoken.Input
	if m.opts.PeerTokens != nil {
		ins = records.PersonInputs(c)
	}
	if len(ins) == 0 {
		delete(m.inputs, c.GetCaseId())
		return nil
	}
	m.inputs[c.GetCaseId()] = ins
	return ins
}

// allInputs returns the inputs of every shareable case of the office.
func (m *Matcher) allInputs() []persontoken.Input {
	var out []persontoken.Input
	for _, ins := range m.inputs {
		out = append(out, ins...)
	}
	return out
}

// prefetch obtains the tokens of inputs under the other members' keys and
// reports whether it obtained any; a member that cannot be asked now is
// asked again later.
func (m *Matcher) prefetch(ctx context.Context, inputs []persontoken.Input) bool {
	if m.opts.PeerTokens == nil || len(inputs) == 0 {
		return false
	}
	// Looking again costs a digest per person and key: every 30 s after
	// a round that obtained everything, every 5 s after one that did not.
	m.nextPrefetch = time.Now().Add(30 * time.Second)
	n, err := m.opts.PeerTokens.Prefetch(ctx, inputs)
	if err != nil && ctx.Err() == nil {
		m.nextPrefetch = time.Now().Add(5 * time.Second)
		m.logger.Debug("person tokens of some members not obtained yet", "err", err)
	}
	return n > 0
}

// republish publishes the office's cases again (nil: all) so that the
// other members receive the pair tokens obtained since.
func (m *Matcher) republish(ids []string) {
	if m.opts.Republish == nil {
		return
	}
	if err := m.opts.Republish(ids); err != nil {
		m.logger.Warn("publishing cases again with new pair tokens failed", "err", err)
	}
}

// forget drops a case from what is matched.
func (m *Matcher) forget(caseID string) {
	delete(m.inputs, caseID)
	if m.index.Remove(caseID) && m.opts.Present != nil {
		m.opts.Present(caseID, false)
	}
	m.versions.Delete(caseID)
	m.sens.Delete(caseID)
}

// Run builds the index from the store and the federation index, proposes
// what it finds, and then follows changes until ctx ends.
func (m *Matcher) Run(ctx context.Context) {
	fi, err := m.st.Feed()
	if err != nil {
		m.logger.Error("matcher cannot start", "err", err)
		return
	}
	cursor := fi.PublishedChange
	if c, err := m.st.Changes(cursor, 1<<30); err == nil && len(c) > 0 {
		cursor = c[len(c)-1].Seq
	}
	if err := m.load(ctx); err != nil {
		if ctx.Err() == nil {
			m.logger.Error("matcher cannot load the cases", "err", err)
		}
		return
	}
	for {
		changed := m.st.Changed()
		var err error
		cursor, err = m.localChanges(ctx, cursor)
		if err != nil {
			m.logger.Warn("matching local changes failed", "err", err)
		}
		m.federatedChanges(ctx)
		if m.opts.PeerTokens != nil {
			// New members' keys, rotated keys, members that answer
			// again: their tokens of the office's persons change
			// what the office's cases match.
			// Only tokens this round obtained for cases already
			// matched and published call for matching and publishing
			// them again (the publisher obtains those of the cases it
			// publishes, and the changed cases are matched with them).
			if ks := m.opts.PeerTokens.KeySet(); time.Now().After(m.nextPrefetch) || ks != m.keySet {
				m.keySet = ks
				if m.prefetch(ctx, m.allInputs()) {
					if err := m.load(ctx); err != nil && ctx.Err() == nil {
						m.logger.Warn("matching again with new person tokens failed", "err", err)
					}
					m.republish(nil)
				}
			}
		}
		if n := m.index.Len(); n >= m.fittedOn+max(100, m.fittedOn/4) && time.Since(m.fitted) >= m.opts.RefitAfter {
			if err := m.load(ctx); err != nil && ctx.Err() == nil {
				m.logger.Warn("refitting the matching model failed", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-m.wake:
		case <-time.After(5 * time.Second):
		}
	}
}

// load indexes every case that leaves the office (as it leaves it) and
// every shared case of the others, fits the model on them, and proposes
// the matches found (the registry refuses what was proposed before).
func (m *Matcher) load(ctx context.Context) error {
	enc := m.opts.Encoder()
	if m.opts.PeerTokens != nil {
		clear(m.inputs)
		if err := m.st.ForEachCase(func(c *accordv1.Case) error {
			m.personInputs(c)
			return nil
		}); err != nil {
			return err
		}
		if m.prefetch(ctx, m.allInputs()) {
			m.republish(nil)
		}
	}
	var recs []matching.Record
	err := m.st.ForEachCase(func(c *accordv1.Case) error {
		r, ok := m.ownRecord(c, enc)
		if !ok {
			// National, or a case the engine cannot read: matches
			// nothing. A case made national since the last fit is gone
			// from the new index.
			m.versions.Delete(c.GetCaseId())
			m.sens.Delete(c.GetCaseId())
			return nil
		}
		recs = append(recs, r)
		return nil
	})
	if err != nil {
		return err
	}
	err = m.st.FedScan("", func(origin, caseID string, _ uint64, raw []byte) error {
		sc := sharedCase(raw)
		if m.opts.Shared != nil {
			m.opts.Shared(origin, caseID, sc)
		}
		if sc == nil {
			return nil
		}
		r, err := matching.FromShared(sc)
		if err != nil {
			return nil
		}
		m.versions.Store(caseID, sc.GetVersion())
		m.sens.Store(caseID, sc.GetSensitivity())
		recs = append(recs, r)
		return nil
	})
	if err != nil {
		return err
	}
	// The full pass gives up when ctx ends (the node is stopping).
	batch := matching.NewBatch(matching.Config{Threshold: m.opts.Threshold})
	if err := batch.Add(recs); err != nil {
		return err
	}
	matches, model, stats, err := batch.RunContext(ctx, true)
	if err != nil {
		return err
	}
	m.index = matching.NewIndex(matching.Config{Threshold: m.opts.Threshold, Model: model})
	for _, r := range recs {
		if err := m.index.Add(r); err != nil {
			return err
		}
		if m.opts.Present != nil {
			m.opts.Present(r.ID, true)
		}
	}
	m.ready.Store(m.index)
	m.fittedOn, m.fitted = len(recs), time.Now()
	m.fit.Store(&Fit{Model: model, At: m.fitted, Stats: stats, Default: stats.EMPairs < matching.MinTrainingPairs})
	m.logger.Info("matching model fitted", "stats", stats.String())
	m.propose(ctx, matches)
	return nil
}

// sharedCase decodes a federation-index record's case (nil for anything
// else).
func sharedCase(raw []byte) *accordv1.SharedCase {
	var sr accordv1.SignedRecord
	if err := proto.Unmarshal(raw, &sr); err != nil {
		return nil
	}
	var fr accordv1.FeedRecord
	if err := proto.Unmarshal(sr.GetRecord(), &fr); err != nil || fr.GetTombstone() {
		return nil
	}
	return fr.GetCase()
}

// localChanges matches the office's cases that changed after cursor.
func (m *Matcher) localChanges(ctx context.Context, cursor uint64) (uint64, error) {
	for {
		changes, err := m.st.Changes(cursor, 1000)
		if err != nil || len(changes) == 0 {
			return cursor, err
		}
		enc := m.opts.Encoder()
		// The cases first, and the tokens of all their persons under
		// the other members' keys in one round (a batch per member, not
		// a request per case).
		cases := make([]*accordv1.Case, len(changes))
		var inputs []persontoken.Input
		for i, ch := range changes {
			c, err := m.st.FindCase(ch.CaseID)
			if err != nil {
				return cursor, err
			}
			cases[i] = c
			if c != nil {
				inputs = append(inputs, m.personInputs(c)...)
			}
		}
		if m.opts.PeerTokens != nil && len(inputs) > 0 {
			// Usually the publisher has obtained them already; tokens
			// obtained only now came after the cases were published.
			if m.prefetch(ctx, inputs) {
				ids := make([]string, 0, len(changes))
				for _, ch := range changes {
					ids = append(ids, ch.CaseID)
				}
				m.republish(ids)
			}
		}
		for i, ch := range changes {
			c := cases[i]
			if c == nil {
				m.forget(ch.CaseID)
				continue
			}
			r, ok := m.ownRecord(c, enc)
			if !ok {
				m.forget(ch.CaseID) // deleted, or made national
				continue
			}
			m.matchOne(ctx, r)
		}
		cursor = changes[len(changes)-1].Seq
	}
}

// federatedChanges matches the other members' cases that arrived or
// changed, and drops those withdrawn (gone, or a tombstone in their
// place).
func (m *Matcher) federatedChanges(ctx context.Context) {
	m.mu.Lock()
	pending := m.pending
	m.pending = map[string]string{}
	m.mu.Unlock()
	byOrigin := map[string]map[string]bool{}
	for id, origin := range pending {
		if byOrigin[origin] == nil {
			byOrigin[origin] = map[string]bool{}
		}
		byOrigin[origin][id] = true
	}
	for origin, ids := range byOrigin {
		seen := map[string]bool{}
		err := m.st.FedScan(origin, func(_, caseID string, _ uint64, raw []byte) error {
			if !ids[caseID] {
				return nil
			}
			sc := sharedCase(raw)
			if m.opts.Shared != nil {
				m.opts.Shared(origin, caseID, sc)
			}
			if sc == nil {
				return nil // a tombstone: the case is withdrawn from this office
			}
			r, err := matching.FromShared(sc)
			if err != nil {
				return nil
			}
			seen[caseID] = true
			m.versions.Store(caseID, sc.GetVersion())
			m.sens.Store(caseID, sc.GetSensitivity())
			m.matchOne(ctx, r)
			return nil
		})
		if err != nil {
			m.logger.Warn("reading the federation index failed", "origin", origin, "err", err)
			continue
		}
		for id := range ids {
			if !seen[id] {
				if m.opts.Shared != nil {
					m.opts.Shared(origin, id, nil)
				}
				m.forget(id)
			}
		}
	}
}

// matchOne adds (or replaces) a record and proposes its new matches.
func (m *Matcher) matchOne(ctx context.Context, r matching.Record) {
	if err := m.index.Add(r); err != nil {
		return
	}
	if m.opts.Present != nil {
		m.opts.Present(r.ID, true)
	}
	matches, err := m.index.Match(r)
	if err != nil {
		return
	}
	m.propose(ctx, matches)
}

// propose sends the registry the cross-member matches this member is to
// propose, leaving out those the registry already holds (open or
// confirmed, or rejected with the same case versions), so that a refit
// does not send them again.
func (m *Matcher) propose(ctx context.Context, matches []matching.Match) {
	m.proposeWith(ctx, matches, nil)
}

// proposeWith is propose with the registry's decisions given (nil: read
// them when the first pair to propose comes).
func (m *Matcher) proposeWith(ctx context.Context, matches []matching.Match, known map[string]registry.MatchDecision) {
	for _, mt := range matches {
		a, b := memberOf(mt.A), memberOf(mt.B)
		if a == b || (a != m.member && b != m.member) {
			continue
		}
		// Found on every involved member's node; proposed by the first
		// member of the pair only.
		m.found.Add(1)
		if min(a, b) != m.member {
			continue
		}
		own, otherCase, other := mt.A, mt.B, b
		if b == m.member {
			own, otherCase, other = mt.B, mt.A, a
		}
		sens, visible := m.visibleTo(own, other)
		if !visible {
			m.withheld.Add(1)
			continue
		}
		if sens != accordv1.Sensitivity_SENSITIVITY_FEDERATION || m.sensitivity(otherCase) != accordv1.Sensitivity_SENSITIVITY_FEDERATION {
			// The registry replicates every decision to every member's
			// registry server: of a jit case, no value (place, unit,
			// victim count) goes into the words.
			mt.Reasons = mt.Bare
		}
		cmd, err := m.command(mt, a, b)
		if err != nil {
			continue
		}
		if known == nil {
			known = m.decisions(ctx)
		}
		if d, ok := known[mt.A+"\n"+mt.B]; ok {
			p, _ := cmd.Payload.(registry.ProposeMatch)
			if d.Status != registry.MatchRejected || maps.Equal(d.Versions, p.Versions) {
				continue
			}
		}
		actx, cancel := context.WithTimeout(ctx, 30*time.Second)
		_, err = m.reg.Apply(actx, cmd)
		if p, ok := cmd.Payload.(registry.ProposeMatch); ok && p.Explanation != nil && registryraft.IsMatchAnswersRefusal(err) {
			// This node's view of the servers is ahead of the leader's:
			// propose without the explanation (under a request id of its
			// own: the refused one may be remembered with its refusal).
			p.Explanation = nil
			if plain, perr := registry.NewCommand(cmd.RequestID+".plain", p); perr == nil {
				_, err = m.reg.Apply(actx, plain)
			}
		}
		cancel()
		switch {
		case err == nil:
			m.proposed.Add(1)
		case errors.Is(err, registry.ErrAlreadyExists), errors.Is(err, registry.ErrFailedPrecondition):
			// Proposed before, or rejected and unchanged.
		case errors.Is(err, registry.ErrNotFound), errors.Is(err, registry.ErrPermissionDenied):
			// The other member is not admitted (any more).
		default:
			m.logger.Warn("proposing a match failed", "a", mt.A, "b", mt.B, "err", err)
		}
	}
}

// visibleTo says whether member may see the office's case caseID, and so
// whether a match naming it may be proposed to member: a case shared with
// the federation yes; a jit case only when a JIT that lists it has member
// as an accepted member; anything else (national, or not indexed at all)
// never.
func (m *Matcher) visibleTo(caseID, member string) (accordv1.Sensitivity, bool) {
	if memberOf(caseID) != m.member {
		return accordv1.Sensitivity_SENSITIVITY_UNSPECIFIED, false
	}
	switch s := m.sensitivity(caseID); s {
	case accordv1.Sensitivity_SENSITIVITY_FEDERATION:
		return s, true
	case accordv1.Sensitivity_SENSITIVITY_JIT:
		return s, m.opts.JITVisible != nil && m.opts.JITVisible(member, caseID)
	default:
		return s, false
	}
}

// sensitivity returns the published sensitivity of an indexed case
// (unspecified for one not in the index).
func (m *Matcher) sensitivity(caseID string) accordv1.Sensitivity {
	if v, ok := m.sens.Load(caseID); ok {
		return v.(accordv1.Sensitivity)
	}
	return accordv1.Sensitivity_SENSITIVITY_UNSPECIFIED
}

// decisions returns the registry's match decisions this member is involved
// in, by their pair of case ids ("A\nB", A < B), read linearizably (a
// decision answered a moment ago must be seen); the latest decision of a
// pair wins. Nil when the registry cannot be read: every pair is then
// sent, and the registry refuses what it holds.
func (m *Matcher) decisions(ctx context.Context) map[string]registry.MatchDecision {
	out := map[string]registry.MatchDecision{}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := m.reg.Read(rctx, true, func(v registry.View) {
		ds, err := v.ListMatchDecisions(m.member)
		if err != nil {
			return
		}
		for _, d := range ds {
			if len(d.Cases) != 2 {
				continue
			}
			x, y := d.Cases[0].CaseID, d.Cases[1].CaseID
			if y < x {
				x, y = y, x
			}
			out[x+"\n"+y] = d
		}
	}); err != nil {
		return map[string]registry.MatchDecision{}
	}
	return out
}

// command builds the match decision of a pair; its request id is derived
// from the pair and versions, so that a retry is applied once.
func (m *Matcher) command(mt matching.Match, a, b string) (*registry.Command, error) {
	cases := []registry.CaseRef{{Member: a, CaseID: mt.A}, {Member: b, CaseID: mt.B}}
	versions := map[string]int64{}
	for _, c := range cases {
		if v, ok := m.versions.Load(c.CaseID); ok && v.(int64) > 0 {
			versions[c.String()] = v.(int64)
		}
	}
	reasons := mt.Reasons
	if len(reasons) > 20 {
		reasons = reasons[:20]
	}
	for i, r := range reasons {
		if len(r) > 200 {
			reasons[i] = r[:200]
		}
	}
	score := min(max(mt.Score, 0), 1)
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n%d\n%d", mt.A, mt.B, versions[cases[0].String()], versions[cases[1].String()])
	rid := "match." + hex.EncodeToString(h.Sum(nil))[:32]
	p := registry.ProposeMatch{Cases: cases, Score: score, Reasons: slices.Clone(reasons), Versions: versions}
	if m.explains() {
		p.Explanation = registry.ExplanationOf(mt)
	}
	return registry.NewCommand(rid, p)
}

// explains reports whether proposals carry their explanation: only once
// every registry server applies match answers v2 (an earlier build refuses
// the field), when the registry says so.
func (m *Matcher) explains() bool {
	r, ok := m.reg.(interface{ MatchAnswersBehind() []string })
	return ok && len(r.MatchAnswersBehind()) == 0
}

func memberOf(caseID string) string {
	m, _, _ := strings.Cut(caseID, "-")
	return m
}
