package persons

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"time"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/persontoken"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// Directory answers the service's questions from the registry and the
// federation index.
type Directory interface {
	// NodeAdmitted reports whether id is a registered node of an admitted
	// member.
	NodeAdmitted(id identity.Identity) bool
	// SharedPersons returns how many persons the member's shared cases
	// that this node holds list (its matching budget grows with them).
	SharedPersons(member string) int
}

// EventKind says what an audit event is.
type EventKind int

// The events the service and the lookup audit.
const (
	// Evaluated: elements evaluated for a peer (or refused: Reason).
	Evaluated EventKind = iota + 1
	// LookedUp: one of the office's users looked up a person (or was
	// refused: Reason).
	LookedUp
)

// Event is what the service writes in the node's audit log. Never a name,
// a year or a token.
type Event struct {
	Kind EventKind
	// Who is the asking node, or the user on whose behalf it asked.
	Who      identity.Identity
	Records  int
	Reason   string
	LookupID string
	CaseIDs  []string
}

// Auditor writes events to the node's audit log.
type Auditor interface {
	Audit(Event)
}

// Service is the node's PersonTokenService.
type Service struct {
	accordv1.UnimplementedPersonTokenServiceServer

	self    identity.Identity
	ring    *KeyRing
	dir     Directory
	audit   Auditor
	budgets Budgets
	b       *buckets
	logger  *slog.Logger
}

// NewService returns the service of the node self with keys ring. now may
// be nil (time.Now).
func NewService(self identity.Identity, ring *KeyRing, dir Directory, audit Auditor, budgets Budgets, now func() time.Time, logger *slog.Logger) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{self: self, ring: ring, dir: dir, audit: audit, budgets: budgets,
		b: &buckets{now: now, m: map[string]*bucket{}}, logger: logger}
}

// lookupIDRE is a lookup id.
var lookupIDRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// caller returns the calling node: a registered node of another admitted
// member.
func (s *Service) caller(ctx context.Context) (identity.Identity, error) {
	id, err := identity.FromContext(ctx)
	if err != nil {
		return identity.Identity{}, err
	}
	if id.Kind != identity.KindNode || id.Member == s.self.Member || !s.dir.NodeAdmitted(id) {
		return identity.Identity{}, fmt.Errorf("%w: %s", ErrNotMember, id)
	}
	return id, nil
}

// userOf is the identity of the asking member's user.
func userOf(node identity.Identity, user string) (identity.Identity, error) {
	u := identity.Identity{Federation: node.Federation, Member: node.Member, Kind: identity.KindUser, Name: user}
	if err := identity.ValidateName(user); err != nil {
		return identity.Identity{}, fmt.Errorf("%w: user: %q must be the user's name in its certificate (1-63 of a-z, 0-9, '.', '_', '-')", ErrRequest, user)
	}
	return u, nil
}

// EvaluatePersons implements accordv1.PersonTokenServiceServer.
func (s *Service) EvaluatePersons(ctx context.Context, req *accordv1.EvaluatePersonsRequest) (*accordv1.EvaluatePersonsResponse, error) {
	node, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	who, names, caps, err := s.check(node, req)
	if err != nil {
		s.audit.Audit(Event{Kind: Evaluated, Who: node, Records: len(req.GetElements()), Reason: "invalid_request"})
		return nil, err
	}
	key, ok := s.ring.Key(int(req.GetKeyVersion()))
	if !ok {
		s.audit.Audit(Event{Kind: Evaluated, Who: who, Records: len(req.GetElements()), Reason: "unknown_key", LookupID: req.GetLookupId()})
		return nil, fmt.Errorf("%w: key_version: %d (this node holds %v)", ErrUnknownKey, req.GetKeyVersion(), s.ring.Versions())
	}
	n := len(req.GetElements())
	// The budget is drawn only once a core is free: a request given up
	// while it waited (its deadline) costs the asker nothing.
	var (
		remaining int64
		ev        [][]byte
		proof     []byte
		refused   bool
	)
	if err := onCore(ctx, func() {
		if remaining, ok = s.b.take(s.budgets.Window, n, names, caps); !ok {
			refused = true
			return
		}
		ev, proof, err = key.Evaluate(req.GetElements())
	}); err != nil {
		return nil, fmt.Errorf("waiting for a core to evaluate on: %w", err)
	}
	if refused {
		s.audit.Audit(Event{Kind: Evaluated, Who: who, Records: n, Reason: "budget_exhausted", LookupID: req.GetLookupId()})
		s.logger.Warn("person-token evaluations refused: budget exhausted", "member", node.Member, "node", node.String(),
			"purpose", purposeName(req.GetPurpose()), "asked", n, "left", remaining)
		return nil, fmt.Errorf("%w: %s asked %d %s evaluations, %d left in this window (%s); they refill evenly",
			ErrBudget, node.Member, n, purposeName(req.GetPurpose()), remaining, s.budgets.Window)
	}
	if err != nil {
		s.audit.Audit(Event{Kind: Evaluated, Who: who, Records: n, Reason: "invalid_request", LookupID: req.GetLookupId()})
		return nil, fmt.Errorf("%w: elements: %w", ErrRequest, err)
	}
	s.audit.Audit(Event{Kind: Evaluated, Who: who, Records: n, Reason: purposeName(req.GetPurpose()), LookupID: req.GetLookupId()})
	return &accordv1.EvaluatePersonsResponse{Elements: ev, Proof: proof, Remaining: remaining}, nil
}

// check validates a request and returns whom the audit names and the
// budgets it draws on.
func (s *Service) check(node identity.Identity, req *accordv1.EvaluatePersonsRequest) (who identity.Identity, names []string, caps []int, err error) {
	n := len(req.GetElements())
	switch {
	case n == 0:
		return who, nil, nil, fmt.Errorf("%w: elements: at least one is required", ErrRequest)
	case n > persontoken.MaxBatch:
		return who, nil, nil, fmt.Errorf("%w: elements: at most %d (got %d)", ErrRequest, persontoken.MaxBatch, n)
	case req.GetKeyVersion() < 1:
		return who, nil, nil, fmt.Errorf("%w: key_version: must be at least 1", ErrRequest)
	}
	for i, e := range req.GetElements() {
		if len(e) != persontoken.PublicKeySize {
			return who, nil, nil, fmt.Errorf("%w: elements[%d]: must be %d bytes (got %d)", ErrRequest, i, persontoken.PublicKeySize, len(e))
		}
	}
	b := s.budgets
	switch req.GetPurpose() {
	case accordv1.EvaluationPurpose_EVALUATION_PURPOSE_MATCHING:
		if req.GetUser() != "" || req.GetLookupId() != "" {
			return who, nil, nil, fmt.Errorf("%w: user and lookup_id: only for a lookup", ErrRequest)
		}
		c := b.MatchingFloor + b.MatchingPerPerson*min(s.dir.SharedPersons(node.Member), MaxBudgetPersons)
		return node, []string{"matching/" + node.Member}, []int{c}, nil
	case accordv1.EvaluationPurpose_EVALUATION_PURPOSE_LOOKUP:
		u, err := userOf(node, req.GetUser())
		if err != nil {
			return who, nil, nil, err
		}
		if !lookupIDRE.MatchString(req.GetLookupId()) {
			return who, nil, nil, fmt.Errorf("%w: lookup_id: must be 1-64 of A-Z, a-z, 0-9, '.', '_', '-'", ErrRequest)
		}
		return u, []string{"lookup/" + node.Member, "lookup/" + node.Member + "/" + u.Name}, []int{b.LookupPerMember, b.LookupPerUser}, nil
	}
	return who, nil, nil, fmt.Errorf("%w: purpose: must be MATCHING or LOOKUP", ErrRequest)
}

func purposeName(p accordv1.EvaluationPurpose) string {
	switch p {
	case accordv1.EvaluationPurpose_EVALUATION_PURPOSE_MATCHING:
		return "matching"
	case accordv1.EvaluationPurpose_EVALUATION_PURPOSE_LOOKUP:
		return "lookup"
	}
	return "unspecified"
}
