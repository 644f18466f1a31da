package coordination

import (
	"context"
	"fmt"
	"strconv"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/registry"
	"github.com/accordfed/accord/federation/teamkey"
	"github.com/accordfed/accord/node/grpcserver"
	"github.com/accordfed/accord/node/jitcontent"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// Strategy entries: strategyEntries/{entry}, and their versions,
// strategyEntries/{entry}/revisions/{version}.

const entryExample = "strategyEntries/entry-000001"

var (
	entryKinds = map[registry.EntryKind]accordv1.StrategyEntryKind{
		registry.KindPriority: accordv1.StrategyEntryKind_STRATEGY_ENTRY_KIND_PRIORITY,
		registry.KindTarget:   accordv1.StrategyEntryKind_STRATEGY_ENTRY_KIND_TARGET,
		registry.KindTheme:    accordv1.StrategyEntryKind_STRATEGY_ENTRY_KIND_THEME,
	}
	entryKindOf = invert(entryKinds)
	targetTypes = map[registry.TargetType]accordv1.StrategyTargetType{
		registry.TargetUnit:   accordv1.StrategyTargetType_STRATEGY_TARGET_TYPE_UNIT,
		registry.TargetPerson: accordv1.StrategyTargetType_STRATEGY_TARGET_TYPE_PERSON,
	}
	targetTypeOf = invert(targetTypes)
)

func entryName(id string) string { return "strategyEntries/" + id }

func toTargets(ts []registry.TargetRef) []*accordv1.StrategyTarget {
	out := make([]*accordv1.StrategyTarget, len(ts))
	for i, t := range ts {
		out[i] = &accordv1.StrategyTarget{Type: targetTypes[t.Type], Ref: t.Ref, Key: t.Key, KeyVersion: int32(t.KeyVersion)}
	}
	return out
}

func toEntry(e *registry.StrategyEntry) *accordv1.StrategyEntry {
	out := &accordv1.StrategyEntry{
		Name: entryName(e.ID), Owner: e.Owner, Kind: entryKinds[e.Current.Kind], Title: e.Current.Title, Text: e.Current.Text,
		Targets: toTargets(e.Current.Targets), Version: int32(e.Current.Version), Deleted: e.Current.Deleted,
		Etag: etagOf(e.Current.Version), Create: toChange(e.Created), Update: toChange(e.Current.Change),
	}
	if e.JIT != "" {
		out.Jit = jitName(e.JIT)
	}
	if e.Current.Deleted {
		out.DeleteReason = e.Current.Reason
	}
	return out
}

func toRevision(entryID string, v *registry.StrategyVersion) *accordv1.StrategyEntryRevision {
	out := &accordv1.StrategyEntryRevision{
		Name: entryName(entryID) + "/revisions/" + strconv.Itoa(v.Version), Version: int32(v.Version),
		Kind: entryKinds[v.Kind], Title: v.Title, Text: v.Text, Targets: toTargets(v.Targets), Deleted: v.Deleted,
		Change: toChange(v.Change),
	}
	if v.Deleted {
		out.DeleteReason = v.Reason
	}
	return out
}

// fromKind reads a required entry kind.
func fromKind(field string, k accordv1.StrategyEntryKind) (registry.EntryKind, error) {
	if k == accordv1.StrategyEntryKind_STRATEGY_ENTRY_KIND_UNSPECIFIED {
		return "", invalidf("%s: required: STRATEGY_ENTRY_KIND_PRIORITY, _TARGET or _THEME", field)
	}
	kind, ok := entryKindOf[k]
	if !ok {
		return "", invalidf("%s: %d is not a strategy entry kind", field, int32(k))
	}
	return kind, nil
}

// fromTargets reads targets; a person's key version 0 becomes the key's
// current version, read in v.
func fromTargets(v registry.View, viewer, field string, ts []*accordv1.StrategyTarget) ([]registry.TargetRef, error) {
	if len(ts) == 0 {
		return nil, nil
	}
	out := make([]registry.TargetRef, len(ts))
	for i, t := range ts {
		f := field + "[" + strconv.Itoa(i) + "]"
		typ, ok := targetTypeOf[t.GetType()]
		if !ok {
			return nil, invalidf("%s.type: required: STRATEGY_TARGET_TYPE_UNIT or STRATEGY_TARGET_TYPE_PERSON", f)
		}
		if t.GetKeyVersion() < 0 {
			return nil, invalidf("%s.key_version: must not be negative", f)
		}
		r := registry.TargetRef{Type: typ, Ref: t.GetRef(), Key: t.GetKey(), KeyVersion: int(t.GetKeyVersion())}
		if typ == registry.TargetPerson && r.KeyVersion == 0 && r.Key != "" {
			// An unknown key is left to the registry, which names the field.
			if k, err := v.FederationKey(r.Key, viewer); err == nil && len(k.Versions) > 0 {
				r.KeyVersion = k.Current().Version
			}
		}
		out[i] = r
	}
	return out, nil
}

// entry reads a strategy entry as the user's member sees it, opened.
func (s *Service) entry(ctx context.Context, id identity.Identity, entryID string, stale bool) (*registry.StrategyEntry, error) {
	var e registry.StrategyEntry
	err := s.read(ctx, stale, func(v registry.View) error {
		var err error
		if e, err = v.GetEntry(entryID, id.Member); err == nil {
			s.openEntries(v, id.Member, &e)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return &e, nil
}

// GetStrategyEntry implements CoordinationService.GetStrategyEntry.
func (s *Service) GetStrategyEntry(ctx context.Context, req *accordv1.GetStrategyEntryRequest) (*accordv1.GetStrategyEntryResponse, error) {
	return call(ctx, s, req, func(ctx context.Context, id identity.Identity, req *accordv1.GetStrategyEntryRequest) (*accordv1.GetStrategyEntryResponse, error) {
		entryID, err := parseName("name", req.GetName(), "strategyEntries", entryExample)
		if err != nil {
			return nil, err
		}
		e, err := s.entry(ctx, id, entryID, req.GetStale())
		if err != nil {
			return nil, err
		}
		return &accordv1.GetStrategyEntryResponse{StrategyEntry: toEntry(e)}, nil
	})
}

// ListStrategyEntries implements CoordinationService.ListStrategyEntries.
func (s *Service) ListStrategyEntries(ctx context.Context, req *accordv1.ListStrategyEntriesRequest) (*accordv1.ListStrategyEntriesResponse, error) {
	return call(ctx, s, req, func(ctx context.Context, id identity.Identity, req *accordv1.ListStrategyEntriesRequest) (*accordv1.ListStrategyEntriesResponse, error) {
		f := registry.StrategyFilter{FederationWide: req.GetFederationWide(), Owner: req.GetOwner(), IncludeDeleted: req.GetShowDeleted()}
		if req.GetJit() != "" {
			jitID, err := parseName("jit", req.GetJit(), "jits", jitExample)
			if err != nil {
				return nil, err
			}
			if f.FederationWide {
				return nil, invalidf("federation_wide: excludes jit (a team's entries are not federation-wide)")
			}
			f.JIT = jitID
		}
		if req.GetKind() != 0 {
			k, err := fromKind("kind", req.GetKind())
			if err != nil {
				return nil, err
			}
			f.Kind = k
		}
		if err := checkMember("owner", f.Owner); err != nil {
			return nil, err
		}
		p, err := s.pageOf(id, accordv1.CoordinationService_ListStrategyEntries_FullMethodName, req.GetPageSize(), req.GetPageToken(),
			f.JIT, strconv.FormatBool(f.FederationWide), string(f.Kind), f.Owner, strconv.FormatBool(f.IncludeDeleted))
		if err != nil {
			return nil, err
		}
		resp := &accordv1.ListStrategyEntriesResponse{}
		err = s.read(ctx, req.GetStale(), func(v registry.View) error {
			es, err := v.ListStrategy(id.Member, f)
			if err != nil {
				return err
			}
			pg, next := paginate(s, p, es, func(e registry.StrategyEntry) string { return e.ID })
			resp.NextPageToken, resp.TotalSize = next, int32(len(es))
			for i := range pg {
				s.openEntries(v, id.Member, &pg[i])
				resp.StrategyEntries = append(resp.StrategyEntries, toEntry(&pg[i]))
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		return resp, nil
	})
}

// entryFields are the payload fields of the entry commands by the request
// fields that carry them.
var entryFields = map[string]string{
	"kind": "strategy_entry.kind", "title": "strategy_entry.title", "text": "strategy_entry.text",
	"targets": "strategy_entry.targets", "jit": "strategy_entry.jit", "entry": "strategy_entry.name",
}

// CreateStrategyEntry implements CoordinationService.CreateStrategyEntry.
func (s *Service) CreateStrategyEntry(ctx context.Context, req *accordv1.CreateStrategyEntryRequest) (*accordv1.CreateStrategyEntryResponse, error) {
	return call(ctx, s, req, func(ctx context.Context, id identity.Identity, req *accordv1.CreateStrategyEntryRequest) (*accordv1.CreateStrategyEntryResponse, error) {
		in := req.GetStrategyEntry()
		if in == nil {
			return nil, invalidf("strategy_entry: required (kind and title at least)")
		}
		kind, err := fromKind("strategy_entry.kind", in.GetKind())
		if err != nil {
			return nil, err
		}
		p := registry.CreateEntry{Kind: kind, Title: in.GetTitle(), Text: in.GetText()}
		if in.GetJit() != "" {
			if p.JIT, err = parseName("strategy_entry.jit", in.GetJit(), "jits", jitExample); err != nil {
				return nil, err
			}
		}
		if err := s.read(ctx, false, func(v registry.View) error {
			p.Targets, err = fromTargets(v, id.Member, "strategy_entry.targets", in.GetTargets())
			return err
		}); err != nil {
			return nil, err
		}
		out, _, err := s.write(ctx, id, req.GetRequestId(), p, entryFields)
		if err != nil {
			return nil, err
		}
		e, err := s.entry(ctx, id, out.ID, false)
		if err != nil {
			return nil, err
		}
		return &accordv1.CreateStrategyEntryResponse{StrategyEntry: toEntry(e)}, nil
	})
}

// updatable are the fields UpdateStrategyEntry changes.
var updatable = []string{"kind", "title", "text", "targets"}

// updateMask returns the fields an update changes: the mask's paths, all
// four for "*", or those set in the entry when the mask is empty.
func updateMask(in *accordv1.StrategyEntry, paths []string) (map[string]bool, error) {
	mask := map[string]bool{}
	if len(paths) == 0 {
		mask["kind"] = in.GetKind() != 0
		mask["title"] = in.GetTitle() != ""
		mask["text"] = in.GetText() != ""
		mask["targets"] = len(in.GetTargets()) > 0
	}
	for i, p := range paths {
		switch p {
		case "*":
			for _, f := range updatable {
				mask[f] = true
			}
		case "kind", "title", "text", "targets":
			mask[p] = true
		case "name", "owner", "jit", "version", "deleted", "delete_reason", "etag", "create", "update":
			return nil, invalidf("update_mask.paths[%d]: %q cannot be changed; the fields an update changes are kind, title, text and targets", i, p)
		default:
			return nil, invalidf("update_mask.paths[%d]: %q is not a field of StrategyEntry (kind, title, text, targets, or *)", i, p)
		}
	}
	for _, f := range updatable {
		if mask[f] {
			return mask, nil
		}
	}
	return nil, invalidf("update_mask: names no field to change (kind, title, text, targets)")
}

// unopened reports whether a field of a team's entry that was sealed is
// still closed after opening: this node holds no team key for it.
func unopened(raw, opened string) bool {
	return teamkey.IsSealed(raw) && (opened == jitcontent.Waiting || opened == jitcontent.Unreadable)
}

// UpdateStrategyEntry implements CoordinationService.UpdateStrategyEntry.
//
// The node reads the entry's current version and sends a strategy.update
// with the masked fields changed and the others as they are, for the
// version it read. With an etag the update applies only to that version
// (Aborted otherwise); without, the node reads the entry again and retries
// when another update came between its read and its write, so that
// concurrent updates of different fields all stay. The version is checked
// by the registry as it applies the update, not here; a client's retry
// under the same request id gets the first call's answer (updateFresh).
func (s *Service) UpdateStrategyEntry(ctx context.Context, req *accordv1.UpdateStrategyEntryRequest) (*accordv1.UpdateStrategyEntryResponse, error) {
	return call(ctx, s, req, func(ctx context.Context, id identity.Identity, req *accordv1.UpdateStrategyEntryRequest) (*accordv1.UpdateStrategyEntryResponse, error) {
		in := req.GetStrategyEntry()
		if in == nil {
			return nil, invalidf("strategy_entry: required (its name and the fields to change)")
		}
		entryID, err := parseName("strategy_entry.name", in.GetName(), "strategyEntries", entryExample)
		if err != nil {
			return nil, err
		}
		mask, err := updateMask(in, req.GetUpdateMask().GetPaths())
		if err != nil {
			return nil, err
		}
		expected, err := parseEtag("strategy_entry.etag", in.GetEtag())
		if err != nil {
			return nil, err
		}
		if req.GetRequestId() == "" {
			return nil, invalidf("request_id: required: the client's id for the request, the same on every retry")
		}
		build := func(v registry.View) (registry.Payload, error) {
			e, err := v.GetEntry(entryID, id.Member)
			if err != nil {
				return nil, err
			}
			raw := e.Current
			s.openEntries(v, id.Member, &e)
			cur := e.Current
			version := expected
			if version == 0 {
				version = cur.Version
			}
			p := registry.UpdateEntry{Entry: entryID, ExpectedVersion: version, Kind: cur.Kind, Title: cur.Title, Text: cur.Text, Targets: cur.Targets}
			if (!mask["title"] && unopened(raw.Title, cur.Title)) || (!mask["text"] && unopened(raw.Text, cur.Text)) {
				return nil, fmt.Errorf("%w: strategy_entry: this node cannot open the entry's current title or text yet (it holds no team key): give them in the update (update_mask \"*\") or try again later", grpcserver.ErrFailedPrecondition)
			}
			if mask["kind"] {
				if p.Kind, err = fromKind("strategy_entry.kind", in.GetKind()); err != nil {
					return nil, err
				}
			}
			if mask["title"] {
				p.Title = in.GetTitle()
			}
			if mask["text"] {
				p.Text = in.GetText()
			}
			if mask["targets"] {
				if p.Targets, err = fromTargets(v, id.Member, "strategy_entry.targets", in.GetTargets()); err != nil {
					return nil, err
				}
			}
			return p, nil
		}
		send := func(ctx context.Context, requestID string, p registry.Payload) (registry.Outcome, error) {
			out, _, err := s.write(ctx, id, requestID, p, entryFields)
			return out, err
		}
		if _, err := s.updateFresh(ctx, id, req.GetRequestId(), "strategy_entry.etag", expected != 0, build, send); err != nil {
			return nil, err
		}
		e, err := s.entry(ctx, id, entryID, false)
		if err != nil {
			return nil, err
		}
		return &accordv1.UpdateStrategyEntryResponse{StrategyEntry: toEntry(e)}, nil
	})
}

// DeleteStrategyEntry implements CoordinationService.DeleteStrategyEntry.
func (s *Service) DeleteStrategyEntry(ctx context.Context, req *accordv1.DeleteStrategyEntryRequest) (*accordv1.DeleteStrategyEntryResponse, error) {
	return call(ctx, s, req, func(ctx context.Context, id identity.Identity, req *accordv1.DeleteStrategyEntryRequest) (*accordv1.DeleteStrategyEntryResponse, error) {
		entryID, err := parseName("name", req.GetName(), "strategyEntries", entryExample)
		if err != nil {
			return nil, err
		}
		expected, err := parseEtag("etag", req.GetEtag())
		if err != nil {
			return nil, err
		}
		_, _, err = s.write(ctx, id, req.GetRequestId(), registry.DeleteEntry{Entry: entryID, ExpectedVersion: expected, Reason: req.GetReason()},
			map[string]string{"entry": "name", "reason": "reason"})
		if err != nil {
			return nil, aborted("etag", err)
		}
		e, err := s.entry(ctx, id, entryID, false)
		if err != nil {
			return nil, err
		}
		return &accordv1.DeleteStrategyEntryResponse{StrategyEntry: toEntry(e)}, nil
	})
}

// ListStrategyEntryRevisions implements
// CoordinationService.ListStrategyEntryRevisions.
func (s *Service) ListStrategyEntryRevisions(ctx context.Context, req *accordv1.ListStrategyEntryRevisionsRequest) (*accordv1.ListStrategyEntryRevisionsResponse, error) {
	return call(ctx, s, req, func(ctx context.Context, id identity.Identity, req *accordv1.ListStrategyEntryRevisionsRequest) (*accordv1.ListStrategyEntryRevisionsResponse, error) {
		entryID, err := parseName("name", req.GetName(), "strategyEntries", entryExample)
		if err != nil {
			return nil, err
		}
		p, err := s.pageOf(id, accordv1.CoordinationService_ListStrategyEntryRevisions_FullMethodName, req.GetPageSize(), req.GetPageToken(), entryID)
		if err != nil {
			return nil, err
		}
		resp := &accordv1.ListStrategyEntryRevisionsResponse{}
		err = s.read(ctx, req.GetStale(), func(v registry.View) error {
			vs, err := v.History(entryID, id.Member)
			if err != nil {
				return err
			}
			pg, next := paginate(s, p, vs, func(v registry.StrategyVersion) string { return strconv.Itoa(v.Version) })
			resp.NextPageToken = next
			if s.content != nil {
				e, _ := v.GetEntry(entryID, id.Member)
				ptrs := make([]*registry.StrategyVersion, len(pg))
				for i := range pg {
					ptrs[i] = &pg[i]
				}
				s.content.OpenVersions(teamOf(v, id.Member, e.JIT), ptrs...)
			}
			for i := range pg {
				resp.Revisions = append(resp.Revisions, toRevision(entryID, &pg[i]))
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		return resp, nil
	})
}
