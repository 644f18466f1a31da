package fedindex

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/accordfed/accord/federation/exchange"
	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/records"
	"github.com/accordfed/accord/node/casesearch"
	"github.com/accordfed/accord/node/grpcserver"
	"github.com/accordfed/accord/node/pagetoken"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// Index is what the service needs of the node's store (*store.Store): the
// federation index.
type Index interface {
	// FedScan calls fn for each record of the index, of origin only when
	// origin is not empty, in (origin, case id) order.
	FedScan(origin string, fn func(origin, caseID string, seq uint64, record []byte) error) error
	// FedGet returns the record of origin's case caseID; ok is false when
	// the index holds none.
	FedGet(origin, caseID string) (seq uint64, record []byte, ok bool, err error)
	// SharedRecord returns what this node last published of its own
	// case caseID; ok is false when it publishes none.
	SharedRecord(caseID string) (seq uint64, record []byte, ok bool, err error)
	// FedCounts returns how many records the index holds per origin.
	FedCounts() (map[string]int, error)
	// PageTokenKey returns the node's secret key for page tokens.
	PageTokenKey() []byte
}

// Page sizes of ListFederationCases.
const (
	DefaultPageSize = 100
	MaxPageSize     = 1000
)

// Limits of the text filters.
const (
	maxCrimeBytes  = 64
	maxCaseIDBytes = 256
)

// dateLayout is the form of the from and to filters.
const dateLayout = "2006-01-02"

// Service implements accord.v1.FederationIndexService.
type Service struct {
	accordv1.UnimplementedFederationIndexServiceServer
	idx        Index
	status     func() []exchange.PeerStatus
	feed       func() (head, pending uint64, err error)
	member     string
	logger     *slog.Logger
	now        func() time.Time
	storeBytes func() uint64
	trust      func() *accordv1.TrustStatus
	tokens     *pagetoken.Codec
	// search, when set, answers place, near and text filters from memory
	// (Search); aliases, when set, gives the place names the matcher
	// learned at one location.
	search  *Search
	aliases casesearch.Aliases
}

// New returns the service of a node of member. status returns the
// puller's status of every peer (nil when the node does not pull); feed
// returns this node's feed head and how many changes wait to be published
// (nil: both 0).
func New(idx Index, status func() []exchange.PeerStatus, feed func() (head, pending uint64, err error), member string, logger *slog.Logger) *Service {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if status == nil {
		status = func() []exchange.PeerStatus { return nil }
	}
	if feed == nil {
		feed = func() (uint64, uint64, error) { return 0, 0, nil }
	}
	return &Service{idx: idx, status: status, feed: feed, member: member, logger: logger, now: time.Now,
		storeBytes: func() uint64 { return 0 }, tokens: pagetoken.New(idx.PageTokenKey())}
}

// WithStoreSize makes FederationStatus report the store's size from fn.
func (s *Service) WithStoreSize(fn func() uint64) *Service {
	s.storeBytes = fn
	return s
}

// WithTrustStatus makes FederationStatus report how the node's trust
// material is kept current from fn.
func (s *Service) WithTrustStatus(fn func() *accordv1.TrustStatus) *Service {
	s.trust = fn
	return s
}

// WithSearch makes ListFederationCases answer place, near and text
// filters from sx (built and kept current by the caller), and fold place
// names with the aliases the matcher learned (aliases may be nil: no
// matcher).
func (s *Service) WithSearch(sx *Search, aliases casesearch.Aliases) *Service {
	s.search, s.aliases = sx, aliases
	return s
}

// Allow adds the service to the local API's policy: users of the node's own
// member only.
func (s *Service) Allow(p *grpcserver.Policy) {
	p.Allow("/"+accordv1.FederationIndexService_ServiceDesc.ServiceName+"/", func(id identity.Identity) error {
		if id.Kind != identity.KindUser || id.Member != s.member {
			return fmt.Errorf("%w: the local API serves users of member %s only, not %s", grpcserver.ErrPermissionDenied, s.member, id)
		}
		return nil
	})
}

// filter is a validated ListFederationCasesRequest.
type filter struct {
	member string
	q      casesearch.Query // place, near and text
	crime  string
	// from and to are the dates as given; lo and hi the window they make,
	// [from 00:00Z, to+1 day 00:00Z), zero when not given.
	from, to string
	lo, hi   time.Time
}

// key is what the page token is bound to, with the caller.
func (f filter) key() string {
	return strings.Join([]string{"fedindex.v2", f.member, f.q.Key(), f.crime, f.from, f.to}, "\x00")
}

func invalid(field, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", grpcserver.ErrInvalidArgument, field, fmt.Sprintf(format, args...))
}

func parseFilter(req *accordv1.ListFederationCasesRequest, aliases casesearch.Aliases) (filter, error) {
	f := filter{member: req.GetMember(), crime: req.GetCrimeCode(), from: req.GetFrom(), to: req.GetTo()}
	if f.member != "" {
		if err := identity.ValidateMember(f.member); err != nil {
			return f, invalid("member", "%q is not a member code (2-16 upper-case letters or digits starting with a letter, e.g. PL)", f.member)
		}
	}
	q, err := casesearch.Parse(casesearch.Input{Place: req.GetPlace(), Text: req.GetText(),
		NearLat: req.GetNearLat(), NearLon: req.GetNearLon(), RadiusKm: req.GetRadiusKm()}, "", aliases)
	if err != nil {
		return f, err
	}
	f.q = q
	if len(f.crime) > maxCrimeBytes {
		return f, invalid("crime_code", "at most %d bytes", maxCrimeBytes)
	}
	if strings.TrimSpace(f.crime) != f.crime {
		return f, invalid("crime_code", "%q has leading or trailing spaces", f.crime)
	}
	if f.from != "" {
		t, err := time.Parse(dateLayout, f.from)
		if err != nil {
			return f, invalid("from", "%q is not a date (YYYY-MM-DD)", f.from)
		}
		f.lo = t
	}
	if f.to != "" {
		t, err := time.Parse(dateLayout, f.to)
		if err != nil {
			return f, invalid("to", "%q is not a date (YYYY-MM-DD)", f.to)
		}
		f.hi = t.AddDate(0, 0, 1)
	}
	if !f.lo.IsZero() && !f.hi.IsZero() && !f.hi.After(f.lo) {
		return f, invalid("to", "%s is before from (%s)", f.to, f.from)
	}
	f.q = f.q.WithWindow(f.lo, f.hi)
	return f, nil
}

// matches checks the crime code and the incident filters on a case.
func (f filter) matches(c *accordv1.SharedCase) bool {
	if f.crime != "" && !slices.Contains(c.GetCrimeCodes(), f.crime) {
		return false
	}
	if !f.q.MatchTitle(c.GetTitle()) {
		return false
	}
	if !f.q.HasIncident() && f.lo.IsZero() && f.hi.IsZero() {
		return true
	}
	for _, inc := range c.GetIncidents() {
		if !f.q.MatchIncident(inc) {
			continue
		}
		if f.lo.IsZero() && f.hi.IsZero() {
			return true
		}
		start, end, ok := records.IncidentWindow(inc)
		if !ok {
			continue
		}
		if !f.hi.IsZero() && !start.Before(f.hi) {
			continue
		}
		if !f.lo.IsZero() && !end.After(f.lo) && (!end.Equal(start) || start.Before(f.lo)) {
			continue // ended before the window (an instant at its start touches it)
		}
		return true
	}
	return false
}

// binding is what a page token is bound to: the caller and the filters.
func binding(ctx context.Context, f filter) (pagetoken.Binding, error) {
	id, err := identity.FromContext(ctx)
	if err != nil {
		return pagetoken.Binding{}, err
	}
	return pagetoken.Binding{Caller: id.String(), Query: f.key()}, nil
}

// decodeToken returns the position after which the page starts: a member
// and a case id.
func (s *Service) decodeToken(b pagetoken.Binding, tok string) (member, caseID string, err error) {
	pos, err := s.tokens.Decode(b, tok)
	if err != nil {
		return "", "", fmt.Errorf("%w: page_token: %w; start again without a token", grpcserver.ErrInvalidArgument, err)
	}
	if pos == "" {
		return "", "", nil
	}
	m, id, ok := strings.Cut(pos, "/")
	if !ok || identity.ValidateMember(m) != nil || id == "" {
		// Authentic, so made by this node: a bug, not bad input.
		return "", "", fmt.Errorf("page token position %q is not member/case id", pos)
	}
	return m, id, nil
}

// errPageFull stops a scan.
var errPageFull = errors.New("page full")

// ListFederationCases implements FederationIndexService.ListFederationCases.
func (s *Service) ListFederationCases(ctx context.Context, req *accordv1.ListFederationCasesRequest) (*accordv1.ListFederationCasesResponse, error) {
	f, err := parseFilter(req, s.aliases)
	if err != nil {
		return nil, err
	}
	size := int(req.GetPageSize())
	switch {
	case size == 0:
		size = DefaultPageSize
	case size < 0 || size > MaxPageSize:
		return nil, invalid("page_size", "%d: must be 1 to %d (0 for %d)", size, MaxPageSize, DefaultPageSize)
	}
	bind, err := binding(ctx, f)
	if err != nil {
		return nil, err
	}
	afterMember, afterCase, err := s.decodeToken(bind, req.GetPageToken())
	if err != nil {
		return nil, err
	}
	resp := &accordv1.ListFederationCasesResponse{}
	if s.search != nil && !f.q.Empty() {
		return s.listSearched(ctx, f, bind, afterMember, afterCase, size)
	}
	err = s.idx.FedScan(f.member, func(origin, caseID string, seq uint64, record []byte) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if afterMember != "" && (origin < afterMember || origin == afterMember && caseID <= afterCase) {
			return nil
		}
		fc, ok := s.decode(origin, caseID, seq, record)
		if !ok || !f.matches(fc.GetCase()) {
			return nil
		}
		if len(resp.Cases) == size {
			last := resp.Cases[len(resp.Cases)-1]
			resp.NextPageToken = s.tokens.Encode(bind, last.GetMember()+"/"+last.GetCase().GetCaseId())
			return errPageFull
		}
		resp.Cases = append(resp.Cases, fc)
		return nil
	})
	if err != nil && !errors.Is(err, errPageFull) {
		return nil, err
	}
	return resp, nil
}

// listSearched answers a page from the search index: candidates in
// (member, case id) order, each read from the store and checked on its
// record.
func (s *Service) listSearched(ctx context.Context, f filter, bind pagetoken.Binding, afterMember, afterCase string, size int) (*accordv1.ListFederationCasesResponse, error) {
	resp := &accordv1.ListFederationCasesResponse{}
	after := ""
	if afterMember != "" {
		after = docKey(afterMember, afterCase)
	}
	if f.member != "" && after < f.member {
		after = f.member // the member's keys start after its code
	}
	batch := size + 1
	for {
		keys, more := s.search.ix.Search(f.q, after, batch)
		for _, k := range keys {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			after = k
			origin, caseID, _ := strings.Cut(k, "\x00")
			if f.member != "" && origin != f.member {
				if origin > f.member {
					return resp, nil
				}
				continue
			}
			seq, record, ok, err := s.idx.FedGet(origin, caseID)
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
			fc, ok := s.decode(origin, caseID, seq, record)
			if !ok || !f.matches(fc.GetCase()) {
				continue
			}
			if len(resp.Cases) == size {
				last := resp.Cases[len(resp.Cases)-1]
				resp.NextPageToken = s.tokens.Encode(bind, last.GetMember()+"/"+last.GetCase().GetCaseId())
				return resp, nil
			}
			resp.Cases = append(resp.Cases, fc)
		}
		if !more {
			return resp, nil
		}
		batch = min(4*batch, 4096)
	}
}

// AggregateFederationCases implements
// FederationIndexService.AggregateFederationCases: every case that
// ListFederationCases returns for the same filters, counted into grid
// cells and weeks from the search index (without one, from a scan of the
// index's records).
func (s *Service) AggregateFederationCases(ctx context.Context, req *accordv1.AggregateFederationCasesRequest) (*accordv1.AggregateFederationCasesResponse, error) {
	f, err := parseFilter(&accordv1.ListFederationCasesRequest{Member: req.GetMember(), Place: req.GetPlace(), CrimeCode: req.GetCrimeCode(),
		From: req.GetFrom(), To: req.GetTo(), NearLat: req.GetNearLat(), NearLon: req.GetNearLon(), RadiusKm: req.GetRadiusKm(), Text: req.GetText()}, s.aliases)
	if err != nil {
		return nil, err
	}
	grid, err := casesearch.ParseGrid(req.GetCellDeg(), casesearch.BoxOf(req.GetBounds()), "")
	if err != nil {
		return nil, err
	}
	var agg casesearch.Aggregate
	if s.search != nil {
		prefix := ""
		if f.member != "" {
			prefix = docKey(f.member, "")
		}
		agg = s.search.ix.Aggregate(casesearch.Filter{Query: f.q, KeyPrefix: prefix, CrimeCode: f.crime,
			Window: casesearch.Window{After: f.lo, Before: f.hi, InstantAtAfter: true}}, grid)
	} else {
		a := casesearch.NewAggregator(grid)
		err := s.idx.FedScan(f.member, func(origin, caseID string, seq uint64, record []byte) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			if fc, ok := s.decode(origin, caseID, seq, record); ok && f.matches(fc.GetCase()) {
				a.Add(docKey(origin, caseID), docOf(fc.GetCase()))
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		agg = a.Result()
	}
	resp := &accordv1.AggregateFederationCasesResponse{}
	resp.CaseCount, resp.Cells, resp.Weeks = agg.Proto(splitKey)
	return resp, nil
}

// GetFederationCase implements FederationIndexService.GetFederationCase:
// a direct read of the index.
func (s *Service) GetFederationCase(_ context.Context, req *accordv1.GetFederationCaseRequest) (*accordv1.GetFederationCaseResponse, error) {
	member, caseID := req.GetMember(), req.GetCaseId()
	if err := identity.ValidateMember(member); err != nil {
		return nil, invalid("member", "%q is not a member code (2-16 upper-case letters or digits starting with a letter, e.g. PL)", member)
	}
	switch {
	case caseID == "":
		return nil, invalid("case_id", "required")
	case len(caseID) > maxCaseIDBytes:
		return nil, invalid("case_id", "at most %d bytes", maxCaseIDBytes)
	case strings.ContainsRune(caseID, 0):
		return nil, invalid("case_id", "contains a NUL byte")
	}
	seq, record, ok, err := s.idx.FedGet(member, caseID)
	if err != nil {
		return nil, err
	}
	var fc *accordv1.FederationCase
	if ok {
		fc, ok = s.decode(member, caseID, seq, record)
	}
	if !ok {
		return nil, fmt.Errorf("%w: case %s of member %s: this node holds no such shared case", grpcserver.ErrNotFound, caseID, member)
	}
	return &accordv1.GetFederationCaseResponse{Case: fc}, nil
}

// Case returns what member shares of its case caseID as this node holds
// it: another member's from the federation index, this node's own member's
// as the node last published it. ok is false when the node holds none
// (not received yet, deleted, or not shareable).
func (s *Service) Case(member, caseID string) (*accordv1.FederationCase, bool, error) {
	get := s.idx.FedGet
	if member == s.member {
		get = func(_, caseID string) (uint64, []byte, bool, error) { return s.idx.SharedRecord(caseID) }
	}
	seq, record, ok, err := get(member, caseID)
	if err != nil || !ok {
		return nil, false, err
	}
	fc, ok := s.decode(member, caseID, seq, record)
	return fc, ok, nil
}

// decode turns an index entry into a FederationCase. An entry that does not
// decode, or whose record is not the case's (the puller verified it before
// storing it, so this is damage), is logged and skipped.
func (s *Service) decode(origin, caseID string, seq uint64, record []byte) (*accordv1.FederationCase, bool) {
	var sr accordv1.SignedRecord
	var r accordv1.FeedRecord
	err := proto.Unmarshal(record, &sr)
	if err == nil {
		err = proto.Unmarshal(sr.GetRecord(), &r)
	}
	switch {
	case err != nil:
	case r.GetOrigin() != origin || r.GetCaseId() != caseID:
		err = fmt.Errorf("record of %s %s is filed under %s %s", r.GetOrigin(), r.GetCaseId(), origin, caseID)
	case r.GetTombstone() || r.GetCase() == nil:
		return nil, false // the index keeps no tombstones; nothing to list
	case r.GetCase().GetCaseId() != caseID:
		err = fmt.Errorf("record of %s carries case %s", caseID, r.GetCase().GetCaseId())
	}
	if err != nil {
		s.logger.Warn("federation index entry skipped: it does not decode", "origin", origin, "case_id", caseID, "seq", seq, "err", err)
		return nil, false
	}
	if r.GetSeq() != 0 {
		seq = r.GetSeq()
	}
	return &accordv1.FederationCase{Member: origin, Case: r.GetCase(), Seq: seq, PublishTime: r.GetPublishTime()}, true
}

// FederationStatus implements FederationIndexService.FederationStatus.
func (s *Service) FederationStatus(context.Context, *accordv1.FederationStatusRequest) (*accordv1.FederationStatusResponse, error) {
	counts, err := s.idx.FedCounts()
	if err != nil {
		return nil, err
	}
	head, pending, err := s.feed()
	if err != nil {
		return nil, err
	}
	now := s.now()
	resp := &accordv1.FederationStatusResponse{FeedHead: head, FeedPending: pending, StoreBytes: s.storeBytes()}
	if s.trust != nil {
		resp.Trust = s.trust()
	}
	seen := map[string]bool{}
	for _, p := range s.status() {
		seen[p.Member] = true
		resp.Peers = append(resp.Peers, &accordv1.PeerSyncStatus{
			Member: p.Member, Node: p.Node, Address: p.Address, Connected: p.Connected,
			Answering: p.Answering, LastHeard: stamp(p.LastHeard),
			LastSync: stamp(p.LastChange), CaughtUp: stamp(p.CaughtUp),
			LagRecords: p.Lag(), LagSeconds: p.BehindFor(now).Seconds(),
			RecordsHeld: int64(counts[p.Member]),
			Received:    int64(p.Received), Refused: int64(p.Refused), Stale: int64(p.Stale), Resyncs: int64(p.Resyncs),
			LastError: p.LastError,
		})
	}
	// Members whose records the index still holds but that the node does
	// not pull (no longer admitted, or the node does not pull at all).
	for m, n := range counts {
		if !seen[m] {
			resp.Peers = append(resp.Peers, &accordv1.PeerSyncStatus{Member: m, RecordsHeld: int64(n)})
		}
	}
	sort.Slice(resp.Peers, func(i, j int) bool { return resp.Peers[i].GetMember() < resp.Peers[j].GetMember() })
	return resp, nil
}

func stamp(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}
