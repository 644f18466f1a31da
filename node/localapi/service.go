package localapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"

	"google.golang.org/grpc"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/node/caseformat"
	"github.com/accordfed/accord/node/caseimport"
	"github.com/accordfed/accord/node/casesearch"
	"github.com/accordfed/accord/node/custody"
	"github.com/accordfed/accord/node/grpcserver"
	"github.com/accordfed/accord/node/pagetoken"
	"github.com/accordfed/accord/node/store"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// Role is what a user may do.
type Role string

// The roles.
const (
	RoleAnalyst Role = "analyst"
	RoleAdmin   Role = "admin"
)

// Service implements CaseService and EvidenceService.
type Service struct {
	accordv1.UnimplementedCaseServiceServer
	accordv1.UnimplementedEvidenceServiceServer
	st       *store.Store
	member   string
	admins   []string
	sealer   func() (*custody.Sealer, error)
	spoolDir string
	logger   *slog.Logger
	tokens   *pagetoken.Codec
	imports  ImportLimits
	// importing holds one token per running import.
	importing chan struct{}
	gauge     caseimport.Gauge
	// search answers the place, near and text filters of ListCases
	// (WithSearch); aliases are the matcher's learned place aliases.
	search  *casesearch.Index
	aliases casesearch.Aliases
}

// ImportLimits bound what the imports of one node hold.
type ImportLimits struct {
	// MaxConcurrent is how many ImportCases streams run at once (default
	// 2); one more is refused with ResourceExhausted.
	MaxConcurrent int
	// MaxBufferedBytes bounds the input one import holds in memory
	// (default caseimport.DefaultMaxBufferedBytes).
	MaxBufferedBytes int64
}

// ImportStats says what the running imports hold.
type ImportStats struct {
	// Running is the number of imports running.
	Running int
	// BufferedBytes is the input they hold; PeakBufferedBytes the most
	// they held at once since the node started.
	BufferedBytes, PeakBufferedBytes int64
}

// ImportStats returns what the running imports hold now.
func (s *Service) ImportStats() ImportStats {
	return ImportStats{Running: len(s.importing), BufferedBytes: s.gauge.Bytes(), PeakBufferedBytes: s.gauge.Peak()}
}

// New returns the service. admins are the user account ids with the admin
// role; sealer returns the custody sealer for the node's current key;
// spoolDir holds import spool files; imports bound the imports.
func New(st *store.Store, admins []string, sealer func() (*custody.Sealer, error), spoolDir string, imports ImportLimits, logger *slog.Logger) *Service {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if imports.MaxConcurrent <= 0 {
		imports.MaxConcurrent = 2
	}
	return &Service{st: st, member: st.Member(), admins: slices.Clone(admins), sealer: sealer, spoolDir: spoolDir, logger: logger,
		tokens: pagetoken.New(st.PageTokenKey()), imports: imports, importing: make(chan struct{}, imports.MaxConcurrent)}
}

// Register registers both services on a server.
func (s *Service) Register(g *grpc.Server) {
	accordv1.RegisterCaseServiceServer(g, s)
	accordv1.RegisterEvidenceServiceServer(g, s)
}

// RoleOf returns a user's role.
func (s *Service) RoleOf(id identity.Identity) Role {
	if slices.Contains(s.admins, id.Name) {
		return RoleAdmin
	}
	return RoleAnalyst
}

// Policy returns the authorisation policy of the local API: users of the
// member only; DeleteCase for admins only.
func (s *Service) Policy() *grpcserver.Policy {
	p := grpcserver.NewPolicy()
	// Health and reflection: also only the office's own users.
	ownUser := func(id identity.Identity) error {
		if id.Kind != identity.KindUser || id.Member != s.member {
			return fmt.Errorf("%w: the local API serves users of member %s only, not %s", grpcserver.ErrPermissionDenied, s.member, id)
		}
		return nil
	}
	p.AllowIntrospection(ownUser)
	for _, svc := range []string{accordv1.CaseService_ServiceDesc.ServiceName, accordv1.EvidenceService_ServiceDesc.ServiceName} {
		p.Allow("/"+svc+"/", ownUser)
	}
	p.Allow(accordv1.CaseService_DeleteCase_FullMethodName, func(id identity.Identity) error {
		if err := ownUser(id); err != nil {
			return err
		}
		if s.RoleOf(id) != RoleAdmin {
			return fmt.Errorf("%w: deleting a case needs the admin role; %s is an analyst", grpcserver.ErrPermissionDenied, id)
		}
		return nil
	})
	return p
}

// actor returns who is calling, with the node's custody sealer.
func (s *Service) actor(ctx context.Context) (store.Actor, error) {
	id, err := identity.FromContext(ctx)
	if err != nil {
		return store.Actor{}, err
	}
	sealer, err := s.sealer()
	if err != nil {
		return store.Actor{}, err
	}
	return store.Actor{ID: id.String(), Sealer: sealer}, nil
}

func invalid(errs []caseformat.FieldError) error {
	msgs := make([]string, 0, len(errs))
	for _, e := range errs {
		if e.Field != "" {
			msgs = append(msgs, e.Field+": "+e.Reason)
		} else {
			msgs = append(msgs, e.Reason)
		}
	}
	return fmt.Errorf("%w: %s", grpcserver.ErrInvalidArgument, strings.Join(msgs, "; "))
}

// CreateCase registers a new case.
func (s *Service) CreateCase(ctx context.Context, req *accordv1.CreateCaseRequest) (*accordv1.CreateCaseResponse, error) {
	if req.GetCase() == nil {
		return nil, fmt.Errorf("%w: case: required", grpcserver.ErrInvalidArgument)
	}
	if errs := caseformat.Validate(req.GetCase(), s.member); len(errs) > 0 {
		return nil, invalid(errs)
	}
	caseformat.Defaults(req.GetCase()) // without a sensitivity: national
	actor, err := s.actor(ctx)
	if err != nil {
		return nil, err
	}
	c, err := s.st.CreateCase(req.GetCase(), actor)
	if err != nil {
		return nil, err
	}
	s.logger.Info("case created", "case_id", c.GetCaseId(), "by", actor.ID)
	return &accordv1.CreateCaseResponse{Case: c}, nil
}

// UpdateCase replaces a case's content.
func (s *Service) UpdateCase(ctx context.Context, req *accordv1.UpdateCaseRequest) (*accordv1.UpdateCaseResponse, error) {
	if req.GetCase() == nil {
		return nil, fmt.Errorf("%w: case: required", grpcserver.ErrInvalidArgument)
	}
	if req.GetExpectedVersion() < 0 {
		return nil, fmt.Errorf("%w: expected_version: must not be negative", grpcserver.ErrInvalidArgument)
	}
	if errs := caseformat.Validate(req.GetCase(), s.member); len(errs) > 0 {
		return nil, invalid(errs)
	}
	caseformat.Defaults(req.GetCase()) // without a sensitivity: national
	actor, err := s.actor(ctx)
	if err != nil {
		return nil, err
	}
	c, err := s.st.UpdateCase(req.GetCase(), req.GetExpectedVersion(), actor)
	if err != nil {
		return nil, err
	}
	s.logger.Info("case updated", "case_id", c.GetCaseId(), "version", c.GetVersion(), "by", actor.ID)
	return &accordv1.UpdateCaseResponse{Case: c}, nil
}

// GetCase returns a case.
func (s *Service) GetCase(_ context.Context, req *accordv1.GetCaseRequest) (*accordv1.GetCaseResponse, error) {
	if req.GetCaseId() == "" {
		return nil, fmt.Errorf("%w: case_id: required", grpcserver.ErrInvalidArgument)
	}
	c, err := s.st.GetCase(req.GetCaseId())
	if err != nil {
		return nil, err
	}
	return &accordv1.GetCaseResponse{Case: c}, nil
}

// toFilter validates a CaseFilter; key is what the place, near and text
// filters select (casesearch.Query.Key), for page tokens.
func (s *Service) toFilter(f *accordv1.CaseFilter) (out store.Filter, key string, err error) {
	out, err = checkFilter(f)
	if err != nil {
		return out, "", err
	}
	return s.withQuery(out, f)
}

func checkFilter(f *accordv1.CaseFilter) (store.Filter, error) {
	out := store.Filter{Status: f.GetStatus(), CrimeCode: f.GetCrimeCode(), Place: f.GetPlace(), TitleContains: f.GetTitleContains()}
	if _, ok := accordv1.CaseStatus_name[int32(f.GetStatus())]; !ok {
		return out, fmt.Errorf("%w: filter.status: unknown value %d", grpcserver.ErrInvalidArgument, f.GetStatus())
	}
	if f.GetIncidentAfter() != nil {
		if err := f.GetIncidentAfter().CheckValid(); err != nil {
			return out, fmt.Errorf("%w: filter.incident_after: %w", grpcserver.ErrInvalidArgument, err)
		}
		out.After = f.GetIncidentAfter().AsTime()
	}
	if f.GetIncidentBefore() != nil {
		if err := f.GetIncidentBefore().CheckValid(); err != nil {
			return out, fmt.Errorf("%w: filter.incident_before: %w", grpcserver.ErrInvalidArgument, err)
		}
		out.Before = f.GetIncidentBefore().AsTime()
	}
	if !out.After.IsZero() && !out.Before.IsZero() && !out.Before.After(out.After) {
		return out, fmt.Errorf("%w: filter.incident_before: must be after filter.incident_after", grpcserver.ErrInvalidArgument)
	}
	if len(out.TitleContains) > 500 || len(out.Place) > 200 || len(out.CrimeCode) > 64 {
		return out, fmt.Errorf("%w: filter: a text filter is too long", grpcserver.ErrInvalidArgument)
	}
	return out, nil
}

// ListCases lists a page of cases. Its page tokens are bound to the
// caller and the filter (node/pagetoken).
func (s *Service) ListCases(ctx context.Context, req *accordv1.ListCasesRequest) (*accordv1.ListCasesResponse, error) {
	if req.GetPageSize() < 0 {
		return nil, fmt.Errorf("%w: page_size: must not be negative", grpcserver.ErrInvalidArgument)
	}
	f, qkey, err := s.toFilter(req.GetFilter())
	if err != nil {
		return nil, err
	}
	id, err := identity.FromContext(ctx)
	if err != nil {
		return nil, err
	}
	bind := pagetoken.Binding{Caller: id.String(), Query: accordv1.CaseService_ListCases_FullMethodName + "\x00" + f.Key() + "\x00" + qkey}
	after, err := s.tokens.Decode(bind, req.GetPageToken())
	if err != nil {
		return nil, fmt.Errorf("%w: page_token: %w; start again without a token", grpcserver.ErrInvalidArgument, err)
	}
	cases, next, err := s.st.ListCases(f, int(req.GetPageSize()), after)
	if err != nil {
		return nil, err
	}
	resp := &accordv1.ListCasesResponse{Cases: cases}
	if next != "" {
		resp.NextPageToken = s.tokens.Encode(bind, next)
	}
	return resp, nil
}

// DeleteCase removes a case, recording why.
func (s *Service) DeleteCase(ctx context.Context, req *accordv1.DeleteCaseRequest) (*accordv1.DeleteCaseResponse, error) {
	if req.GetCaseId() == "" {
		return nil, fmt.Errorf("%w: case_id: required", grpcserver.ErrInvalidArgument)
	}
	if strings.TrimSpace(req.GetReason()) == "" {
		return nil, fmt.Errorf("%w: reason: a deletion must say why", grpcserver.ErrInvalidArgument)
	}
	if len(req.GetReason()) > 2000 {
		return nil, fmt.Errorf("%w: reason: at most 2000 characters", grpcserver.ErrInvalidArgument)
	}
	actor, err := s.actor(ctx)
	if err != nil {
		return nil, err
	}
	c, err := s.st.DeleteCase(req.GetCaseId(), req.GetReason(), actor)
	if err != nil {
		return nil, err
	}
	s.logger.Warn("case deleted", "case_id", c.GetCaseId(), "version", c.GetVersion(), "by", actor.ID)
	return &accordv1.DeleteCaseResponse{Case: c}, nil
}

// ImportCases imports lines of the interchange format.
func (s *Service) ImportCases(stream grpc.BidiStreamingServer[accordv1.ImportCasesRequest, accordv1.ImportCasesResponse]) error {
	ctx := stream.Context()
	select {
	case s.importing <- struct{}{}:
		defer func() { <-s.importing }()
	default:
		return fmt.Errorf("%w: %d imports are running on this node, the most it runs at once (local_api.max_concurrent_imports); try again when one has finished",
			grpcserver.ErrResourceExhausted, s.imports.MaxConcurrent)
	}
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	opts := first.GetOptions()
	if opts == nil {
		return fmt.Errorf("%w: the first message of ImportCases must carry options", grpcserver.ErrInvalidArgument)
	}
	actor, err := s.actor(ctx)
	if err != nil {
		return err
	}
	var buf []*accordv1.ImportLine
	var lastLine int64
	next := func() (caseimport.Line, error) {
		for len(buf) == 0 {
			req, err := stream.Recv()
			if err != nil {
				return caseimport.Line{}, err // io.EOF ends the input
			}
			if req.GetChunk() == nil {
				return caseimport.Line{}, fmt.Errorf("%w: only the first message carries options", grpcserver.ErrInvalidArgument)
			}
			buf = req.GetChunk().GetLines()
		}
		l := buf[0]
		buf = buf[1:]
		if l.GetNumber() <= lastLine {
			return caseimport.Line{}, fmt.Errorf("%w: lines[].number: %d after %d: line numbers must increase", grpcserver.ErrInvalidArgument, l.GetNumber(), lastLine)
		}
		lastLine = l.GetNumber()
		return caseimport.Line{Number: l.GetNumber(), JSON: l.GetJson(), TooLong: l.GetTooLong()}, nil
	}
	var sendErr error
	res, err := caseimport.Run(ctx, next, s.st, caseimport.Options{
		SkipInvalid: opts.GetSkipInvalid(), DryRun: opts.GetDryRun(), Member: s.member, Actor: actor, SpoolDir: s.spoolDir,
		MaxBufferedBytes: s.imports.MaxBufferedBytes, Gauge: &s.gauge,
		Progress: func(p caseimport.Progress) {
			if sendErr != nil {
				return
			}
			sendErr = stream.Send(&accordv1.ImportCasesResponse{Body: &accordv1.ImportCasesResponse_Progress{Progress: &accordv1.ImportProgress{
				Phase: accordv1.ImportPhase(p.Phase), LinesValidated: p.LinesValidated, CasesWritten: p.CasesWritten, CasesTotal: p.CasesTotal,
			}}})
		},
	})
	if err != nil {
		s.logger.Error("import failed", "source", sourceID(opts.GetSource()), "by", actor.ID, "err", err, "created", res.Created, "updated", res.Updated)
		return err
	}
	if sendErr != nil {
		return sendErr
	}
	// An import of a large register leaves a large, now free heap; give it
	// back to the system now rather than over the next minutes.
	debug.FreeOSMemory()
	s.logger.Info("import", "source", sourceID(opts.GetSource()), "by", actor.ID, "lines", res.Lines, "invalid", res.Invalid,
		"created", res.Created, "updated", res.Updated, "unchanged", res.Unchanged, "written", res.Written, "dry_run", opts.GetDryRun())
	out := &accordv1.ImportResult{Lines: res.Lines, Valid: res.Valid, Invalid: res.Invalid, Created: res.Created,
		Updated: res.Updated, Unchanged: res.Unchanged, Written: res.Written, Withheld: res.Withheld, DefaultNational: res.DefaultNational}
	for _, e := range res.Errors {
		out.Errors = append(out.Errors, &accordv1.LineError{Line: e.Line, Field: e.Field, Reason: e.Reason, CaseId: e.CaseID})
	}
	for _, g := range res.Groups {
		out.ErrorGroups = append(out.ErrorGroups, &accordv1.ImportErrorGroup{Field: g.Field, Reason: g.Reason, Example: g.Example, Lines: g.Lines, FirstLines: g.FirstLines})
	}
	return stream.Send(&accordv1.ImportCasesResponse{Body: &accordv1.ImportCasesResponse_Result{Result: out}})
}

// ExportCases streams cases.
func (s *Service) ExportCases(req *accordv1.ExportCasesRequest, stream grpc.ServerStreamingServer[accordv1.ExportCasesResponse]) error {
	f, _, err := s.toFilter(req.GetFilter())
	if err != nil {
		return err
	}
	const perMessage = 256
	batch := make([]*accordv1.Case, 0, perMessage)
	err = s.st.ExportCases(f, func(c *accordv1.Case) error {
		batch = append(batch, c)
		if len(batch) == perMessage {
			if err := stream.Send(&accordv1.ExportCasesResponse{Cases: batch}); err != nil {
				return err
			}
			batch = make([]*accordv1.Case, 0, perMessage)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(batch) > 0 {
		return stream.Send(&accordv1.ExportCasesResponse{Cases: batch})
	}
	return nil
}

var (
	sha256RE    = regexp.MustCompile(`^[0-9a-f]{64}$`)
	mediaTypeRE = regexp.MustCompile(`^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$`)
	dateRE      = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)
	itemIDRE    = regexp.MustCompile(`^[A-Za-z0-9._/-]{1,128}$`)
)

// RegisterEvidence adds a vault item to a case.
func (s *Service) RegisterEvidence(ctx context.Context, req *accordv1.RegisterEvidenceRequest) (*accordv1.RegisterEvidenceResponse, error) {
	bad := func(field, reason string) error {
		return fmt.Errorf("%w: %s: %s", grpcserver.ErrInvalidArgument, field, reason)
	}
	switch {
	case req.GetCaseId() == "":
		return nil, bad("case_id", "required")
	case req.GetId() != "" && !itemIDRE.MatchString(req.GetId()):
		return nil, bad("id", "1-128 characters of A-Z a-z 0-9 - _ . /")
	case !sha256RE.MatchString(req.GetSha256()):
		return nil, bad("sha256", "must be 64 lower-case hex digits")
	case req.GetSizeBytes() < 0:
		return nil, bad("size_bytes", "must not be negative")
	case req.GetMediaType() != "" && !mediaTypeRE.MatchString(req.GetMediaType()):
		return nil, bad("media_type", "must be an IANA media type such as video/mp4")
	case strings.TrimSpace(req.GetLocation()) == "":
		return nil, bad("location", "required: where the content is kept in the vault (path or URI)")
	case len(req.GetLocation()) > 4096:
		return nil, bad("location", "at most 4096 characters")
	case req.GetCollected() != "" && !dateRE.MatchString(req.GetCollected()):
		return nil, bad("collected", "must be YYYY-MM-DD")
	case len(req.GetDescription()) > 2000:
		return nil, bad("description", "at most 2000 characters")
	}
	actor, err := s.actor(ctx)
	if err != nil {
		return nil, err
	}
	item, first, err := s.st.RegisterEvidence(&accordv1.EvidenceItem{
		Id: req.GetId(), CaseId: req.GetCaseId(), Sha256: req.GetSha256(), MediaType: req.GetMediaType(),
		Collected: req.GetCollected(), Description: req.GetDescription(), Location: req.GetLocation(), SizeBytes: req.GetSizeBytes(),
	}, store.RegisterOptions{AllowDuplicate: req.GetAllowDuplicate()}, actor)
	if err != nil {
		return nil, err
	}
	s.logger.Info("evidence registered", "evidence_id", item.GetId(), "case_id", item.GetCaseId(), "by", actor.ID)
	return &accordv1.RegisterEvidenceResponse{Item: item, Registered: first}, nil
}

// GetEvidence returns an item.
func (s *Service) GetEvidence(_ context.Context, req *accordv1.GetEvidenceRequest) (*accordv1.GetEvidenceResponse, error) {
	if req.GetId() == "" {
		return nil, fmt.Errorf("%w: id: required", grpcserver.ErrInvalidArgument)
	}
	item, err := s.st.GetEvidence(req.GetId())
	if err != nil {
		return nil, err
	}
	return &accordv1.GetEvidenceResponse{Item: item}, nil
}

// FindEvidenceByHash returns the items with a content hash.
func (s *Service) FindEvidenceByHash(_ context.Context, req *accordv1.FindEvidenceByHashRequest) (*accordv1.FindEvidenceByHashResponse, error) {
	if !sha256RE.MatchString(req.GetSha256()) {
		return nil, fmt.Errorf("%w: sha256: must be 64 lower-case hex digits", grpcserver.ErrInvalidArgument)
	}
	items, err := s.st.FindEvidenceByHash(req.GetSha256())
	if err != nil {
		return nil, err
	}
	return &accordv1.FindEvidenceByHashResponse{Items: items}, nil
}

// AppendCustodyEvent adds a custody event.
func (s *Service) AppendCustodyEvent(ctx context.Context, req *accordv1.AppendCustodyEventRequest) (*accordv1.AppendCustodyEventResponse, error) {
	if req.GetEvidenceId() == "" {
		return nil, fmt.Errorf("%w: evidence_id: required", grpcserver.ErrInvalidArgument)
	}
	switch req.GetAction() {
	case accordv1.CustodyAction_CUSTODY_ACTION_UNSPECIFIED:
		return nil, fmt.Errorf("%w: action: required", grpcserver.ErrInvalidArgument)
	case accordv1.CustodyAction_CUSTODY_ACTION_REGISTERED:
		return nil, fmt.Errorf("%w: action: registered is the first event, made when the item is registered", grpcserver.ErrInvalidArgument)
	}
	if _, ok := accordv1.CustodyAction_name[int32(req.GetAction())]; !ok {
		return nil, fmt.Errorf("%w: action: unknown value %d", grpcserver.ErrInvalidArgument, req.GetAction())
	}
	actor, err := s.actor(ctx)
	if err != nil {
		return nil, err
	}
	ev, err := s.st.AppendCustody(req.GetEvidenceId(), req.GetAction(), req.GetDetails(), actor)
	if err != nil {
		return nil, err
	}
	s.logger.Info("custody event", "evidence_id", ev.GetEvidenceId(), "seq", ev.GetSeq(), "action", ev.GetAction().String(), "by", actor.ID)
	return &accordv1.AppendCustodyEventResponse{Event: ev}, nil
}

// GetCustodyChain returns a chain with its seals.
func (s *Service) GetCustodyChain(_ context.Context, req *accordv1.GetCustodyChainRequest) (*accordv1.GetCustodyChainResponse, error) {
	if req.GetEvidenceId() == "" {
		return nil, fmt.Errorf("%w: evidence_id: required", grpcserver.ErrInvalidArgument)
	}
	events, seals, err := s.st.CustodyChain(req.GetEvidenceId())
	if err != nil {
		return nil, err
	}
	return &accordv1.GetCustodyChainResponse{Events: events, Seals: seals}, nil
}

// VerifyCustody checks chains.
func (s *Service) VerifyCustody(_ context.Context, req *accordv1.VerifyCustodyRequest) (*accordv1.VerifyCustodyResponse, error) {
	rep, err := s.st.VerifyCustody(req.GetEvidenceId(), s.st.KnownSealKey)
	if err != nil {
		return nil, err
	}
	out := &accordv1.VerifyCustodyResponse{Chains: int64(rep.Chains), Events: int64(rep.Events)}
	for _, b := range rep.Breaks {
		out.Breaks = append(out.Breaks, &accordv1.CustodyBreak{EvidenceId: b.EvidenceID, Seq: b.Seq, Reason: b.Reason})
	}
	return out, nil
}

// sourceID is what the log says of an import's source: a client's file
// name may name a person (a register named after the accused), and no
// name of a person goes into the node's log; a digest lets an operator
// match the log line with the file the user names.
func sourceID(source string) string {
	if source == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(source))
	return "sha256:" + hex.EncodeToString(sum[:6])
}
