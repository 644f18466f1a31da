package coordination

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/registry"
	"github.com/accordfed/accord/federation/registryraft"
	"github.com/accordfed/accord/node/clusters"
	"github.com/accordfed/accord/node/grpcserver"
	"github.com/accordfed/accord/node/pagetoken"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// Registry is what the service needs of the node's registry server
// (*registryraft.Node).
type Registry interface {
	ApplyIndex(ctx context.Context, cmd *registry.Command) (registry.Outcome, uint64, error)
	Read(ctx context.Context, linearizable bool, fn func(registry.View)) (uint64, error)
	GroupStatus(ctx context.Context) (registryraft.Status, error)
	// MatchAnswersBehind names the registry servers that do not apply
	// match answers v2 yet (reasons, changed answers); empty when all do.
	MatchAnswersBehind() []string
	// MatchAnswersBehindFor names those that do not apply match answers
	// of this version (v3: first answers only).
	MatchAnswersBehindFor(version int) []string
}

// Content seals the free text of encrypted joint investigation teams in
// the commands the node's users send, and opens it in what they read
// (*jitcontent.Keyring).
type Content interface {
	Seal(v registry.View, typ registry.CommandType, requestID string, payload []byte) ([]byte, error)
	OpenJIT(j *registry.JIT)
	OpenVersions(j *registry.JIT, vs ...*registry.StrategyVersion)
}

// Service implements accord.v1.CoordinationService.
type Service struct {
	accordv1.UnimplementedCoordinationServiceServer
	reg     Registry
	member  string
	isAdmin func(identity.Identity) bool
	content Content
	tokens  *pagetoken.Codec
	logger  *slog.Logger

	// WatchMatches: its limits, and closed by Close.
	watchHeartbeat time.Duration
	watchBuffer    int
	closing        chan struct{}
	closeOnce      sync.Once

	// clusters is the node's incident clusters graph (nil: none).
	clusters *clusters.Graph
	// cases and comparer read and score a decision's cases (WithCompare;
	// nil: none).
	cases    CaseSource
	comparer PairComparer
	// selections are the dry runs' selections of DecideMatches; now is the
	// clock they expire by (tests).
	selections selectionStore
	now        func() time.Time
}

// WithContent makes the service seal team content before sending and open
// it before answering (without it, content passes as it is: teams created
// through the service are then in the clear).
func (s *Service) WithContent(c Content) { s.content = c }

// sealed reports whether the command type carries team content to seal.
func sealed(t registry.CommandType) bool {
	switch t {
	case registry.CmdCreateJIT, registry.CmdCreateEntry, registry.CmdUpdateEntry, registry.CmdDeleteEntry:
		return true
	}
	return false
}

// New returns the service of a node of member. reg is nil when the node is
// not a registry server: every call then fails with FailedPrecondition.
// isAdmin says whether a user has the admin role.
func New(reg Registry, member string, isAdmin func(identity.Identity) bool, logger *slog.Logger) *Service {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Service{reg: reg, member: member, isAdmin: isAdmin, tokens: randomTokens(), logger: logger, closing: make(chan struct{}), now: time.Now}
}

// Allow adds the service to the local API's policy: users of the node's own
// member only (the service checks the admin role per command).
func (s *Service) Allow(p *grpcserver.Policy) {
	p.Allow("/"+accordv1.CoordinationService_ServiceDesc.ServiceName+"/", func(id identity.Identity) error {
		if id.Kind != identity.KindUser || id.Member != s.member {
			return fmt.Errorf("%w: the local API serves users of member %s only, not %s", grpcserver.ErrPermissionDenied, s.member, id)
		}
		return nil
	})
}

func (s *Service) user(ctx context.Context) (identity.Identity, error) {
	id, err := identity.FromContext(ctx)
	if err != nil {
		return identity.Identity{}, grpcserver.ToStatus(err)
	}
	if s.reg == nil {
		return identity.Identity{}, grpcserver.ToStatus(fmt.Errorf("%w: this node is not a registry server (registry.server is off in its configuration)", grpcserver.ErrFailedPrecondition))
	}
	return id, nil
}

// Execute implements CoordinationService.Execute.
func (s *Service) Execute(ctx context.Context, req *accordv1.ExecuteRequest) (*accordv1.ExecuteResponse, error) {
	id, err := s.user(ctx)
	if err != nil {
		return nil, err
	}
	out, index, err := s.execute(ctx, id, registry.CommandType(req.GetType()), req.GetRequestId(), req.GetPayload())
	if err != nil {
		return nil, grpcserver.ToStatus(err)
	}
	return &accordv1.ExecuteResponse{Id: out.ID, Version: int32(out.Version), Status: out.Status, Index: index}, nil
}

// execute sends one command for the user id: it checks that the user may
// send the type, adds key material where a key needs it, seals team content
// and applies the command through the registry. Errors are the registry's
// and grpcserver's sentinels (grpcserver.ToStatus maps them).
func (s *Service) execute(ctx context.Context, id identity.Identity, typ registry.CommandType, requestID string, payload []byte) (registry.Outcome, uint64, error) {
	switch sender, ok := registry.SenderOf(typ); {
	case !ok || sender == registry.SenderNode:
		return registry.Outcome{}, 0, fmt.Errorf("%w: type: %q is not a command users may send (see docs/registry.md)", grpcserver.ErrInvalidArgument, typ)
	case sender == registry.SenderAdmin:
		if !s.isAdmin(id) {
			return registry.Outcome{}, 0, fmt.Errorf("%w: type: %s needs the admin role; %s is an analyst", grpcserver.ErrPermissionDenied, typ, id)
		}
	}
	if len(payload) == 0 {
		return registry.Outcome{}, 0, fmt.Errorf("%w: payload: required (the command as JSON)", grpcserver.ErrInvalidArgument)
	}
	var err error
	if typ == registry.CmdCreateKey || typ == registry.CmdRotateKey {
		if payload, err = withMaterial(payload); err != nil {
			return registry.Outcome{}, 0, err
		}
	}
	if s.content != nil && sealed(typ) {
		if payload, err = s.seal(ctx, typ, requestID, payload); err != nil {
			return registry.Outcome{}, 0, err
		}
	}
	cmd, err := registry.NewCommandJSON(typ, requestID, payload)
	if err != nil {
		return registry.Outcome{}, 0, err
	}
	cmd.Actor.User = id.String()
	out, index, err := s.reg.ApplyIndex(ctx, cmd)
	if err != nil {
		s.logger.Info("registry command refused", "type", string(typ), "request_id", requestID, "err", err)
		return registry.Outcome{}, 0, err
	}
	s.logger.Info("registry command applied", "type", string(typ), "request_id", requestID, "user", id.Name, "id", out.ID, "index", index)
	return out, index, nil
}

// sealWait bounds how long a write waits for this node's key: its
// encryption key registered (just after its first start), or the team's
// current key wrapped for it (just after accepting, or a rotation).
const sealWait = 15 * time.Second

// seal seals the team content of a payload with the team's current key,
// read at once (linearizable) so that the epoch is the newest. While this
// node holds no key yet (FailedPrecondition) it waits, within the caller's
// deadline and sealWait.
func (s *Service) seal(ctx context.Context, typ registry.CommandType, requestID string, payload []byte) ([]byte, error) {
	wctx, cancel := context.WithTimeout(ctx, sealWait)
	defer cancel()
	for {
		var (
			out  []byte
			serr error
		)
		if _, err := s.reg.Read(ctx, true, func(v registry.View) {
			out, serr = s.content.Seal(v, typ, requestID, payload)
		}); err != nil {
			return nil, err
		}
		if !errors.Is(serr, registry.ErrFailedPrecondition) {
			return out, serr
		}
		t := time.NewTimer(200 * time.Millisecond)
		select {
		case <-wctx.Done():
			t.Stop()
			return nil, serr
		case <-t.C:
		}
	}
}

// withMaterial adds 32 random bytes as a key's material when the payload
// has none.
func withMaterial(payload []byte) ([]byte, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(payload, &m); err != nil {
		return nil, fmt.Errorf("%w: payload: %w", grpcserver.ErrInvalidArgument, err)
	}
	if raw, ok := m["material"]; ok && string(raw) != "null" && string(raw) != `""` {
		return payload, nil
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	b, _ := json.Marshal(key)
	m["material"] = b
	return json.Marshal(m)
}

// Query implements CoordinationService.Query.
func (s *Service) Query(ctx context.Context, req *accordv1.QueryRequest) (*accordv1.QueryResponse, error) {
	id, err := s.user(ctx)
	if err != nil {
		return nil, err
	}
	q, err := s.query(req, id.Member)
	if err != nil {
		return nil, grpcserver.ToStatus(err)
	}
	var (
		result any
		qerr   error
	)
	index, err := s.reg.Read(ctx, !req.GetStale(), func(v registry.View) { result, qerr = q(v) })
	if err == nil {
		err = qerr
	}
	if err != nil {
		return nil, grpcserver.ToStatus(err)
	}
	data, err := json.Marshal(result)
	if err != nil {
		return nil, grpcserver.ToStatus(err)
	}
	return &accordv1.QueryResponse{Result: data, Index: index}, nil
}

// query returns the read a request asks for, as the member viewer may see
// it.
func (s *Service) query(req *accordv1.QueryRequest, viewer string) (func(registry.View) (any, error), error) {
	id := req.GetId()
	needID := func() error {
		if id == "" {
			return fmt.Errorf("%w: id: required for kind %s", grpcserver.ErrInvalidArgument, req.GetKind())
		}
		return nil
	}
	one := map[string]func(registry.View) (any, error){
		"member": func(v registry.View) (any, error) { return v.GetMember(id) },
		"jit": func(v registry.View) (any, error) {
			j, err := v.GetJIT(id, viewer)
			if err == nil {
				s.openJITs(j2s(&j)...)
			}
			return j, err
		},
		"entry": func(v registry.View) (any, error) {
			e, err := v.GetEntry(id, viewer)
			if err == nil {
				s.openEntries(v, viewer, e2s(&e)...)
			}
			return e, err
		},
		"history": func(v registry.View) (any, error) {
			vs, err := v.History(id, viewer)
			if err == nil && s.content != nil {
				e, _ := v.GetEntry(id, viewer)
				ptrs := make([]*registry.StrategyVersion, len(vs))
				for i := range vs {
					ptrs[i] = &vs[i]
				}
				s.content.OpenVersions(teamOf(v, viewer, e.JIT), ptrs...)
			}
			return vs, err
		},
		"lead":  func(v registry.View) (any, error) { return v.GetLeadAssignment(id, viewer) },
		"match": func(v registry.View) (any, error) { return v.GetMatchDecision(id, viewer) },
		"key": func(v registry.View) (any, error) {
			k, err := v.FederationKey(id, viewer)
			return withoutMaterial(k), err
		},
	}
	if f, ok := one[req.GetKind()]; ok {
		return f, needID()
	}
	if id != "" {
		return nil, fmt.Errorf("%w: id: kind %s lists records and takes no id", grpcserver.ErrInvalidArgument, req.GetKind())
	}
	switch req.GetKind() {
	case "members":
		return func(v registry.View) (any, error) { return v.ListMembers(), nil }, nil
	case "jits":
		return func(v registry.View) (any, error) {
			js, err := v.ListJITs(viewer)
			for i := range js {
				s.openJITs(&js[i])
			}
			return js, err
		}, nil
	case "strategy":
		var f strategyFilter
		if len(req.GetFilter()) > 0 {
			if err := strictJSON(req.GetFilter(), &f); err != nil {
				return nil, fmt.Errorf("%w: filter: %w", grpcserver.ErrInvalidArgument, err)
			}
		}
		return func(v registry.View) (any, error) {
			es, err := v.ListStrategy(viewer, registry.StrategyFilter{JIT: f.JIT, FederationWide: f.FederationWide, Kind: f.Kind, Owner: f.Owner, IncludeDeleted: f.IncludeDeleted})
			ptrs := make([]*registry.StrategyEntry, len(es))
			for i := range es {
				ptrs[i] = &es[i]
			}
			s.openEntries(v, viewer, ptrs...)
			return es, err
		}, nil
	case "leads":
		return func(v registry.View) (any, error) { return v.ListLeadAssignments(viewer) }, nil
	case "matches":
		return func(v registry.View) (any, error) { return v.ListMatchDecisions(viewer) }, nil
	case "keys":
		return func(v registry.View) (any, error) {
			keys, err := v.ListFederationKeys(viewer)
			for i := range keys {
				keys[i] = withoutMaterial(keys[i])
			}
			return keys, err
		}, nil
	}
	return nil, fmt.Errorf("%w: kind: %q: must be one of members, member, jits, jit, strategy, entry, history, leads, lead, matches, match, keys, key", grpcserver.ErrInvalidArgument, req.GetKind())
}

func j2s(j *registry.JIT) []*registry.JIT                     { return []*registry.JIT{j} }
func e2s(e *registry.StrategyEntry) []*registry.StrategyEntry { return []*registry.StrategyEntry{e} }

// openJITs opens the sealed fields of teams for the node's users.
func (s *Service) openJITs(js ...*registry.JIT) {
	if s.content == nil {
		return
	}
	for _, j := range js {
		s.content.OpenJIT(j)
	}
}

// openEntries opens the sealed fields of team entries for the node's
// users.
func (s *Service) openEntries(v registry.View, viewer string, es ...*registry.StrategyEntry) {
	if s.content == nil {
		return
	}
	teams := map[string]*registry.JIT{}
	for _, e := range es {
		if e.JIT == "" {
			continue
		}
		j, ok := teams[e.JIT]
		if !ok {
			j = teamOf(v, viewer, e.JIT)
			teams[e.JIT] = j
		}
		s.content.OpenVersions(j, &e.Current)
	}
}

// teamOf returns the team id as viewer sees it, or nil.
func teamOf(v registry.View, viewer, id string) *registry.JIT {
	if id == "" {
		return nil
	}
	j, err := v.GetJIT(id, viewer)
	if err != nil {
		return nil
	}
	return &j
}

// strategyFilter is the JSON form of registry.StrategyFilter.
type strategyFilter struct {
	JIT            string             `json:"jit"`
	FederationWide bool               `json:"federation_wide"`
	Kind           registry.EntryKind `json:"kind"`
	Owner          string             `json:"owner"`
	IncludeDeleted bool               `json:"include_deleted"`
}

func withoutMaterial(k registry.FederationKey) registry.FederationKey {
	vs := make([]registry.KeyVersion, len(k.Versions))
	for i, v := range k.Versions {
		v.Material = nil
		vs[i] = v
	}
	k.Versions = vs
	return k
}

// RegistryStatus implements CoordinationService.RegistryStatus.
func (s *Service) RegistryStatus(ctx context.Context, _ *accordv1.RegistryStatusRequest) (*accordv1.RegistryStatusResponse, error) {
	if _, err := s.user(ctx); err != nil {
		return nil, err
	}
	sctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	st, err := s.reg.GroupStatus(sctx)
	if err != nil {
		return nil, grpcserver.ToStatus(fmt.Errorf("%w: %w", grpcserver.ErrUnavailable, err))
	}
	resp := &accordv1.RegistryStatusResponse{
		Id: string(st.ID), Address: string(st.Address), State: st.State, Term: st.Term,
		LeaderId: string(st.LeaderID), LeaderAddress: string(st.LeaderAddress),
		AppliedIndex: st.AppliedIndex, CommitIndex: st.CommitIndex, LastIndex: st.LastIndex,
		DivergedFromMajority: st.DivergedFromMajority,
	}
	_, _ = s.reg.Read(ctx, false, func(v registry.View) {
		resp.Federation, resp.Bootstrapped = v.Federation(), v.Bootstrapped()
	})
	for _, sv := range st.Servers {
		rs := &accordv1.RegistryServer{
			Id: string(sv.ID), Address: string(sv.Address), Suffrage: sv.Suffrage, Leader: sv.Leader,
			Reachable: sv.Reachable, State: sv.State, AppliedIndex: sv.AppliedIndex, Lag: sv.Lag,
			Diverged: sv.Diverged, DivergedAt: sv.DivergedAt,
		}
		if sv.Err != nil {
			rs.Error = sv.Err.Error()
		}
		resp.Servers = append(resp.Servers, rs)
	}
	return resp, nil
}
