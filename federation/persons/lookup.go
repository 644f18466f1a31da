package persons

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/personenc"
	"github.com/accordfed/accord/federation/persontoken"
	"github.com/accordfed/accord/federation/safetext"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// LookupLimits bound the lookups of the office's own users, on top of the
// budgets of the members asked.
type LookupLimits struct {
	// Window is the period over which the limits refill (default 1h).
	Window time.Duration
	// PerUser is the lookups one user may make per window (default 20).
	PerUser int
	// PerNode is the lookups all users together may make per window
	// (default 200).
	PerNode int
	// Timeout bounds the whole lookup (default 20s); members that have not
	// answered by then are reported unreachable.
	Timeout time.Duration
}

// DefaultLookupLimits returns the defaults documented on [LookupLimits].
func DefaultLookupLimits() LookupLimits {
	return LookupLimits{Window: time.Hour, PerUser: 20, PerNode: 200, Timeout: 20 * time.Second}
}

// Validate names the first field out of range.
func (l LookupLimits) Validate() error {
	switch {
	case l.Window < time.Minute:
		return fmt.Errorf("%w: lookup.window: must be at least 1m (got %s)", ErrRequest, l.Window)
	case l.PerUser < 1 || l.PerNode < 1:
		return fmt.Errorf("%w: lookup.per_user and lookup.per_node: must be at least 1", ErrRequest)
	case l.Timeout < time.Second:
		return fmt.Errorf("%w: lookup.timeout: must be at least 1s (got %s)", ErrRequest, l.Timeout)
	}
	return nil
}

// Lookup is the node's PersonLookupService: the register of interviewed
// persons.
type Lookup struct {
	accordv1.UnimplementedPersonLookupServiceServer

	self   identity.Identity
	asker  *Asker
	peers  Peers
	index  *Index
	audit  Auditor
	limits LookupLimits
	b      *buckets
	logger *slog.Logger
}

// NewLookup returns the lookup service of node self. now may be nil.
func NewLookup(self identity.Identity, asker *Asker, peers Peers, index *Index, audit Auditor, limits LookupLimits, now func() time.Time, logger *slog.Logger) *Lookup {
	if now == nil {
		now = time.Now
	}
	return &Lookup{self: self, asker: asker, peers: peers, index: index, audit: audit, limits: limits,
		b: &buckets{now: now, m: map[string]*bucket{}}, logger: logger}
}

// Lookup statuses of a member (PersonLookupMember.status).
const (
	StatusAnswered    = "answered"
	StatusNoKey       = "no_key"
	StatusUnreachable = "unreachable"
	StatusRefused     = "refused"
)

// LookupPerson implements accordv1.PersonLookupServiceServer.
func (l *Lookup) LookupPerson(ctx context.Context, req *accordv1.LookupPersonRequest) (*accordv1.LookupPersonResponse, error) {
	user, err := identity.FromContext(ctx)
	if err != nil {
		return nil, err
	}
	if user.Kind != identity.KindUser || user.Member != l.self.Member {
		return nil, fmt.Errorf("%w: only %s's own users look up persons", ErrNotMember, l.self.Member)
	}
	in, roles, members, err := l.check(req)
	if err != nil {
		l.audit.Audit(Event{Kind: LookedUp, Who: user, Reason: "invalid_request"})
		return nil, err
	}
	lookupID := newLookupID()
	if left, ok := l.b.take(l.limits.Window, 1, []string{"node", "user/" + user.Name}, []int{l.limits.PerNode, l.limits.PerUser}); !ok {
		l.audit.Audit(Event{Kind: LookedUp, Who: user, Reason: "rate_limited", LookupID: lookupID})
		return nil, fmt.Errorf("%w: %d lookups left for user %s or this node in this window (%s; at most %d per user, %d per node)",
			ErrRateLimited, left, user.Name, l.limits.Window, l.limits.PerUser, l.limits.PerNode)
	}
	ctx, cancel := context.WithTimeout(ctx, l.limits.Timeout)
	defer cancel()

	keys := map[string][]PeerKey{}
	for _, k := range l.peers.PeerKeys() {
		if members == nil || members[k.Member] {
			keys[k.Member] = append(keys[k.Member], k)
		}
	}
	var (
		mu      sync.Mutex
		wg      sync.WaitGroup
		hits    []Hit
		answers []*accordv1.PersonLookupMember
	)
	asked := map[string]bool{}
	for m := range members {
		if len(keys[m]) == 0 {
			answers = append(answers, &accordv1.PersonLookupMember{Member: m, Status: StatusNoKey,
				Detail: "the member has published no person-token key (not admitted, or its node has not started since the upgrade)"})
		}
	}
	for member, ks := range keys {
		asked[member] = true
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := &accordv1.PersonLookupMember{Member: member, Status: StatusAnswered}
			var found []Hit
			for _, k := range ks {
				toks, err := l.asker.Evaluate(ctx, k, accordv1.EvaluationPurpose_EVALUATION_PURPOSE_LOOKUP, user.Name, lookupID, []persontoken.Input{in})
				if err != nil {
					// The detail quotes the member's node: no control or
					// bidi character reaches the office's terminals.
					a.Status, a.Detail = statusOf(err), safetext.Clean(err.Error(), false)
					continue
				}
				found = append(found, l.index.Find(toks[0], roles)...)
			}
			// Counted after the search, not before the round trip to
			// the member's node: cases the index took in meanwhile were
			// compared too (a hit is never reported with none compared).
			a.CasesCompared = int64(l.index.CasesOf(member))
			mu.Lock()
			hits = append(hits, found...)
			answers = append(answers, a)
			mu.Unlock()
		}()
	}
	wg.Wait()

	slices.SortFunc(hits, func(a, b Hit) int {
		return cmp.Or(-cmp.Compare(a.Similarity, b.Similarity), cmp.Compare(a.Member, b.Member), cmp.Compare(a.CaseID, b.CaseID), cmp.Compare(a.Role, b.Role))
	})
	slices.SortFunc(answers, func(a, b *accordv1.PersonLookupMember) int { return cmp.Compare(a.GetMember(), b.GetMember()) })
	resp := &accordv1.LookupPersonResponse{LookupId: lookupID, Members: answers}
	ids := make([]string, 0, len(hits))
	for _, h := range hits {
		resp.Hits = append(resp.Hits, &accordv1.PersonLookupHit{Member: h.Member, CaseId: h.CaseID, Role: h.Role, Similarity: h.Similarity})
		ids = append(ids, h.CaseID)
	}
	slices.Sort(ids)
	l.audit.Audit(Event{Kind: LookedUp, Who: user, Records: len(asked), Reason: "lookup", LookupID: lookupID, CaseIDs: slices.Compact(ids)})
	l.logger.Info("person lookup", "user", user.Name, "lookup_id", lookupID, "members", len(asked), "hits", len(hits))
	return resp, nil
}

func statusOf(err error) string {
	if errors.Is(err, ErrPeer) && isRefusal(err) {
		return StatusRefused
	}
	return StatusUnreachable
}

// check validates a lookup and returns the person's input, the roles and
// the members asked (nil: all).
func (l *Lookup) check(req *accordv1.LookupPersonRequest) (persontoken.Input, map[accordv1.PersonRole]bool, map[string]bool, error) {
	in, err := persontoken.Inputs(persontoken.Person{Name: req.GetName(), BirthYear: int(req.GetBirthYear())})
	switch {
	case errors.Is(err, personenc.ErrEmptyName):
		return in, nil, nil, fmt.Errorf("%w: name: must hold at least one letter", ErrRequest)
	case errors.Is(err, personenc.ErrNameTooLong):
		return in, nil, nil, fmt.Errorf("%w: name: at most %d bytes", ErrRequest, personenc.MaxNameBytes)
	case errors.Is(err, personenc.ErrInvalidBirthYear):
		return in, nil, nil, fmt.Errorf("%w: birth_year: %d to %d, or 0 when unknown (got %d)", ErrRequest, personenc.MinBirthYear, personenc.MaxBirthYear, req.GetBirthYear())
	case err != nil:
		return in, nil, nil, fmt.Errorf("%w: name: %w", ErrRequest, err)
	}
	roles := map[accordv1.PersonRole]bool{}
	for i, r := range req.GetRoles() {
		if _, ok := accordv1.PersonRole_name[int32(r)]; !ok || r == accordv1.PersonRole_PERSON_ROLE_UNSPECIFIED {
			return in, nil, nil, fmt.Errorf("%w: roles[%d]: must be VICTIM, WITNESS or SUSPECT", ErrRequest, i)
		}
		roles[r] = true
	}
	if len(roles) == 0 {
		roles[accordv1.PersonRole_PERSON_ROLE_VICTIM] = true
		roles[accordv1.PersonRole_PERSON_ROLE_WITNESS] = true
	}
	var members map[string]bool
	if len(req.GetMembers()) > 0 {
		members = map[string]bool{}
		for i, m := range req.GetMembers() {
			if err := identity.ValidateMember(m); err != nil || m == l.self.Member {
				return in, nil, nil, fmt.Errorf("%w: members[%d]: %q must be another member's code", ErrRequest, i, m)
			}
			members[m] = true
		}
	}
	return in, roles, members, nil
}

func newLookupID() string {
	b := make([]byte, 9)
	_, _ = rand.Read(b)
	return "lk-" + hex.EncodeToString(b)
}
