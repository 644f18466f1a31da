package coordination

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"time"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/registry"
	"github.com/accordfed/accord/node/clusters"
	"github.com/accordfed/accord/node/grpcserver"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// Incident clusters: clusters/{cluster}, the node's own view
// (node/clusters), answered through the registry's match decisions.

const clusterExample = "clusters/cluster-000001"

// clusterWait bounds how long an act waits for the node's clusters to
// reflect its answers before it returns them.
const clusterWait = 5 * time.Second

// ClusterAPI implements accord.v1.ClusterService on the coordination
// service's registry access: every act is match decisions written for the
// calling user, as DecideMatch and CreateMatchDecision would.
type ClusterAPI struct {
	accordv1.UnimplementedClusterServiceServer
	s      *Service
	graph  *clusters.Graph
	scorer clusters.Scorer
}

// NewClusters returns the cluster API of the node's clusters graph; scorer
// (the node's matcher; nil: none) chooses the pair that merges two
// clusters.
func NewClusters(s *Service, graph *clusters.Graph, scorer clusters.Scorer) *ClusterAPI {
	return &ClusterAPI{s: s, graph: graph, scorer: scorer}
}

// Allow adds the service to the local API's policy: users of the node's own
// member only.
func (a *ClusterAPI) Allow(p *grpcserver.Policy) {
	p.Allow("/"+accordv1.ClusterService_ServiceDesc.ServiceName+"/", func(id identity.Identity) error {
		if id.Kind != identity.KindUser || id.Member != a.s.member {
			return fmt.Errorf("%w: the local API serves users of member %s only, not %s", grpcserver.ErrPermissionDenied, a.s.member, id)
		}
		return nil
	})
}

func clusterName(id string) string { return "clusters/" + id }

// links says which teams and lead proposals the viewer may see name one of
// the cases or decisions, by case and by decision.
type links struct {
	jits  map[registry.CaseRef][]string
	leads map[string][]string // case ref string or match id -> lead names
}

func (a *ClusterAPI) linksOf(ctx context.Context, viewer string) links {
	l := links{jits: map[registry.CaseRef][]string{}, leads: map[string][]string{}}
	_ = a.s.read(ctx, true, func(v registry.View) error {
		if js, err := v.ListJITs(viewer); err == nil {
			for _, j := range js {
				for _, c := range j.Cases {
					l.jits[c.Case] = append(l.jits[c.Case], jitName(j.ID))
				}
			}
		}
		if ls, err := v.ListLeadAssignments(viewer); err == nil {
			for _, x := range ls {
				if x.Match != "" {
					l.leads[x.Match] = append(l.leads[x.Match], leadName(x.ID))
				}
				for _, c := range x.Cases {
					l.leads[c.String()] = append(l.leads[c.String()], leadName(x.ID))
				}
			}
		}
		return nil
	})
	return l
}

func toCluster(c *clusters.Cluster, l links) *accordv1.Cluster {
	out := &accordv1.Cluster{
		Name: clusterName(c.ID), Cases: toCaseRefs(c.Cases), Members: c.Members, AwaitingAnswer: int32(c.Awaiting),
		MinScore: c.MinScore, MaxScore: c.MaxScore, UpdateIndex: c.Updated,
		Guard: &accordv1.ClusterGuard{Flagged: c.Guard.Flagged, Reason: c.Guard.Why, UnscoredPairs: int32(c.Guard.Unscored)},
	}
	for _, k := range c.Links {
		out.Links = append(out.Links, &accordv1.ClusterLink{MatchDecision: matchName(k.Match), Cases: toCaseRefs(k.Cases),
			Score: k.Score, State: matchStates[k.Status], Answers: toAnswers(k.Answers)})
	}
	for _, p := range c.Guard.Weak {
		out.Guard.WeakPairs = append(out.Guard.WeakPairs, &accordv1.ClusterPair{A: toCaseRef(p.A), B: toCaseRef(p.B), Score: p.Score})
	}
	if sp := c.Guard.Split; sp != nil {
		out.Guard.Split = &accordv1.ClusterSplit{MatchDecision: matchName(sp.Match), Score: sp.Score,
			SideA: toCaseRefs(sp.Sides[0]), SideB: toCaseRefs(sp.Sides[1]), Separates: int32(sp.Separates)}
	}
	seen := map[string]bool{}
	add := func(to *[]string, names []string) {
		for _, n := range names {
			if !seen[n] {
				seen[n] = true
				*to = append(*to, n)
			}
		}
	}
	for _, ref := range c.Cases {
		add(&out.Jits, l.jits[ref])
		add(&out.LeadProposals, l.leads[ref.String()])
	}
	for _, k := range c.Links {
		add(&out.LeadProposals, l.leads[k.Match])
	}
	slices.SortFunc(out.Jits, idCompare)
	slices.SortFunc(out.LeadProposals, idCompare)
	return out
}

// ListClusters implements ClusterService.ListClusters.
func (a *ClusterAPI) ListClusters(ctx context.Context, req *accordv1.ListClustersRequest) (*accordv1.ListClustersResponse, error) {
	return call(ctx, a.s, req, func(ctx context.Context, id identity.Identity, req *accordv1.ListClustersRequest) (*accordv1.ListClustersResponse, error) {
		if err := checkMember("member", req.GetMember()); err != nil {
			return nil, err
		}
		if req.GetMinCases() < 0 {
			return nil, invalidf("min_cases: must not be negative (got %d)", req.GetMinCases())
		}
		p, err := a.s.pageOf(id, accordv1.ClusterService_ListClusters_FullMethodName, req.GetPageSize(), req.GetPageToken(),
			boolKey(req.GetAwaitingAnswer()), req.GetMember(), boolKey(req.GetFlagged()), fmt.Sprint(req.GetMinCases()))
		if err != nil {
			return nil, err
		}
		page, more := a.graph.List(clusters.Query{After: p.after, Limit: p.size, Awaiting: req.GetAwaitingAnswer(),
			Member: req.GetMember(), Flagged: req.GetFlagged(), MinCases: int(req.GetMinCases())})
		resp := &accordv1.ListClustersResponse{}
		l := a.linksOf(ctx, id.Member)
		for i := range page {
			resp.Clusters = append(resp.Clusters, toCluster(&page[i], l))
		}
		if more && len(page) > 0 {
			resp.NextPageToken = a.s.tokens.Encode(p.bind, page[len(page)-1].ID)
		}
		return resp, nil
	})
}

// cluster finds the cluster a request names.
func (a *ClusterAPI) cluster(field, name string) (clusters.Cluster, error) {
	cid, err := parseName(field, name, "clusters", clusterExample)
	if err != nil {
		return clusters.Cluster{}, err
	}
	c, ok := a.graph.Get(cid)
	if !ok {
		return clusters.Cluster{}, fmt.Errorf("%w: %s: cluster %q (a cluster is renamed when its lowest decision no longer links it: list the clusters again)", grpcserver.ErrNotFound, field, name)
	}
	return c, nil
}

// GetCluster implements ClusterService.GetCluster.
func (a *ClusterAPI) GetCluster(ctx context.Context, req *accordv1.GetClusterRequest) (*accordv1.GetClusterResponse, error) {
	return call(ctx, a.s, req, func(ctx context.Context, id identity.Identity, req *accordv1.GetClusterRequest) (*accordv1.GetClusterResponse, error) {
		var c clusters.Cluster
		switch ref := req.GetCaseRef(); {
		case req.GetName() != "" && ref != nil:
			return nil, invalidf("case_ref: give either name or case_ref, not both")
		case ref != nil:
			r, err := checkCaseRef("case_ref", ref)
			if err != nil {
				return nil, err
			}
			var ok bool
			if c, ok = a.graph.Of(r); !ok {
				return nil, fmt.Errorf("%w: case_ref: %s is in no cluster (no proposed or confirmed decision of %s links it)", grpcserver.ErrNotFound, r, id.Member)
			}
		default:
			var err error
			if c, err = a.cluster("name", req.GetName()); err != nil {
				return nil, err
			}
		}
		return &accordv1.GetClusterResponse{Cluster: toCluster(&c, a.linksOf(ctx, id.Member))}, nil
	})
}

// checkCaseRef checks a case reference field.
func checkCaseRef(field string, c *accordv1.RegistryCaseRef) (registry.CaseRef, error) {
	if c.GetMember() == "" || checkMember(field+".member", c.GetMember()) != nil {
		return registry.CaseRef{}, invalidf("%s.member: required: a member code (e.g. UA)", field)
	}
	if c.GetCaseId() == "" {
		return registry.CaseRef{}, invalidf("%s.case_id: required", field)
	}
	return fromCaseRef(c), nil
}

// subRequestID derives the request id of one decision of a cluster act
// from the act's, so that a retried act answers nothing twice.
func subRequestID(requestID, part string) string {
	id := requestID + "." + part
	if len(id) <= 128 {
		return id
	}
	h := sha256.Sum256([]byte(requestID + "\x00" + part))
	return "cluster." + hex.EncodeToString(h[:24])
}

// checkAct checks what every act needs: a request id, and the cluster as
// the caller read it.
func checkAct(requestID string, expected uint64, c clusters.Cluster) error {
	if requestID == "" {
		return invalidf("request_id: required: the client's id for the request, the same on every retry (1 to 128 letters, digits, '.', '_', ':', '-')")
	}
	if expected != 0 && expected != c.Updated {
		return errAborted(fmt.Sprintf("expected_update_index: %s changed at index %d after %d (read it again)", clusterName(c.ID), c.Updated, expected))
	}
	return nil
}

// answer writes the caller's answer on each decision, and returns one
// result per decision and the index of the last write.
func (a *ClusterAPI) answer(ctx context.Context, id identity.Identity, requestID string, matches []string, confirm bool, reason string) ([]*accordv1.ClusterActResult, uint64) {
	var out []*accordv1.ClusterActResult
	var last uint64
	for _, m := range matches {
		r := &accordv1.ClusterActResult{MatchDecision: matchName(m)}
		_, index, err := a.s.write(ctx, id, subRequestID(requestID, m), a.s.answerPayload(m, confirm, reason), map[string]string{"match": "name"})
		if err != nil {
			r.Error = grpcserver.ToStatus(err).Error()
		}
		last = max(last, index)
		out = append(out, r)
	}
	return out, last
}

// settle waits, bounded, until the node's clusters reflect index.
func (a *ClusterAPI) settle(ctx context.Context, index uint64) {
	wctx, cancel := context.WithTimeout(ctx, clusterWait)
	defer cancel()
	_ = a.graph.WaitApplied(wctx, index)
}

// ConfirmCluster implements ClusterService.ConfirmCluster.
func (a *ClusterAPI) ConfirmCluster(ctx context.Context, req *accordv1.ConfirmClusterRequest) (*accordv1.ConfirmClusterResponse, error) {
	return call(ctx, a.s, req, func(ctx context.Context, id identity.Identity, req *accordv1.ConfirmClusterRequest) (*accordv1.ConfirmClusterResponse, error) {
		c, err := a.cluster("name", req.GetName())
		if err != nil {
			return nil, err
		}
		if err := checkAct(req.GetRequestId(), req.GetExpectedUpdateIndex(), c); err != nil {
			return nil, err
		}
		if c.Guard.Flagged && !req.GetForce() {
			return nil, fmt.Errorf("%w: name: %s is flagged by the chaining guard (%s); look at its weak pairs and split it, or confirm it with force", grpcserver.ErrFailedPrecondition, req.GetName(), c.Guard.Why)
		}
		var waiting []string
		for _, l := range c.Links {
			if l.Status == registry.MatchProposed && awaiting(l.Answers, id.Member) {
				waiting = append(waiting, l.Match)
			}
		}
		if len(waiting) == 0 {
			return nil, fmt.Errorf("%w: name: no decision of %s waits for %s's answer", grpcserver.ErrFailedPrecondition, req.GetName(), id.Member)
		}
		results, last := a.answer(ctx, id, req.GetRequestId(), waiting, true, req.GetReason())
		a.settle(ctx, last)
		resp := &accordv1.ConfirmClusterResponse{Results: results}
		if after, ok := a.graph.Of(c.Cases[0]); ok {
			resp.Cluster = toCluster(&after, a.linksOf(ctx, id.Member))
		}
		return resp, nil
	})
}

// SplitCluster implements ClusterService.SplitCluster.
func (a *ClusterAPI) SplitCluster(ctx context.Context, req *accordv1.SplitClusterRequest) (*accordv1.SplitClusterResponse, error) {
	return call(ctx, a.s, req, func(ctx context.Context, id identity.Identity, req *accordv1.SplitClusterRequest) (*accordv1.SplitClusterResponse, error) {
		c, err := a.cluster("name", req.GetName())
		if err != nil {
			return nil, err
		}
		if err := checkAct(req.GetRequestId(), req.GetExpectedUpdateIndex(), c); err != nil {
			return nil, err
		}
		if req.GetReason() == "" {
			return nil, invalidf("reason: required: say why these cases are not one incident")
		}
		part, err := a.part(c, req)
		if err != nil {
			return nil, err
		}
		in := map[registry.CaseRef]bool{}
		for _, r := range part {
			in[r] = true
		}
		var cut []string
		for _, l := range c.Links {
			inside, outside := false, false
			for _, r := range l.Cases {
				inside = inside || in[r]
				outside = outside || !in[r]
			}
			if inside && outside {
				cut = append(cut, l.Match)
			}
		}
		results, last := a.answer(ctx, id, req.GetRequestId(), cut, false, req.GetReason())
		a.settle(ctx, last)
		resp := &accordv1.SplitClusterResponse{Results: results}
		l := a.linksOf(ctx, id.Member)
		seen := map[string]bool{}
		for _, r := range c.Cases {
			if after, ok := a.graph.Of(r); ok && !seen[after.ID] {
				seen[after.ID] = true
				resp.Clusters = append(resp.Clusters, toCluster(&after, l))
			}
		}
		return resp, nil
	})
}

// part returns the cases a split request puts apart from the rest.
func (a *ClusterAPI) part(c clusters.Cluster, req *accordv1.SplitClusterRequest) ([]registry.CaseRef, error) {
	switch {
	case len(req.GetPart()) > 0 && req.GetAtMatchDecision() != "":
		return nil, invalidf("at_match_decision: give either part or at_match_decision, not both")
	case req.GetAtMatchDecision() != "":
		m, err := parseName("at_match_decision", req.GetAtMatchDecision(), "matchDecisions", matchExample)
		if err != nil {
			return nil, err
		}
		if !slices.ContainsFunc(c.Links, func(l clusters.Link) bool { return l.Match == m }) {
			return nil, fmt.Errorf("%w: at_match_decision: %s does not link %s", grpcserver.ErrNotFound, req.GetAtMatchDecision(), req.GetName())
		}
		side, ok := a.graph.Cut(c.ID, m)
		if !ok {
			return nil, fmt.Errorf("%w: at_match_decision: rejecting %s alone does not split %s (other decisions link the same cases); give the part instead", grpcserver.ErrFailedPrecondition, req.GetAtMatchDecision(), req.GetName())
		}
		return side, nil
	case len(req.GetPart()) == 0:
		return nil, invalidf("part: required: the cases that go apart from the rest (or at_match_decision)")
	}
	var part []registry.CaseRef
	for i, r := range req.GetPart() {
		field := fmt.Sprintf("part[%d]", i)
		ref, err := checkCaseRef(field, r)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(c.Cases, ref) {
			return nil, invalidf("%s: %s is not a case of %s", field, ref, req.GetName())
		}
		if slices.Contains(part, ref) {
			return nil, invalidf("%s: %s is given twice", field, ref)
		}
		part = append(part, ref)
	}
	if len(part) == len(c.Cases) {
		return nil, invalidf("part: holds every case of %s; give the cases that go apart from the rest", req.GetName())
	}
	return part, nil
}

// MergeClusters implements ClusterService.MergeClusters.
func (a *ClusterAPI) MergeClusters(ctx context.Context, req *accordv1.MergeClustersRequest) (*accordv1.MergeClustersResponse, error) {
	return call(ctx, a.s, req, func(ctx context.Context, id identity.Identity, req *accordv1.MergeClustersRequest) (*accordv1.MergeClustersResponse, error) {
		if len(req.GetNames()) != 2 {
			return nil, invalidf("names: give the two clusters to merge (got %d)", len(req.GetNames()))
		}
		if req.GetNames()[0] == req.GetNames()[1] {
			return nil, invalidf("names[1]: the same cluster as names[0]")
		}
		var cs [2]clusters.Cluster
		for i, n := range req.GetNames() {
			c, err := a.cluster(fmt.Sprintf("names[%d]", i), n)
			if err != nil {
				return nil, err
			}
			cs[i] = c
		}
		if req.GetRequestId() == "" {
			return nil, checkAct("", 0, cs[0])
		}
		if req.GetReason() == "" {
			return nil, invalidf("reason: required: say why these clusters are one incident")
		}
		pair, score, err := a.mergePair(id.Member, cs, req.GetCases())
		if err != nil {
			return nil, err
		}
		slices.SortFunc(pair, registry.CompareCaseRefs)
		out, _, err := a.s.write(ctx, id, subRequestID(req.GetRequestId(), "propose"), registry.ProposeMatch{
			Cases: pair, Score: score,
			Reasons: []string{fmt.Sprintf("linked by an analyst of %s to merge %s and %s", id.Member, cs[0].ID, cs[1].ID)},
		}, map[string]string{"cases": "cases"})
		if err != nil {
			return nil, err
		}
		results, last := a.answer(ctx, id, req.GetRequestId(), []string{out.ID}, true, req.GetReason())
		if results[0].GetError() != "" {
			return nil, fmt.Errorf("%w: the decision %s was proposed, but confirming it failed: %s", grpcserver.ErrFailedPrecondition, matchName(out.ID), results[0].GetError())
		}
		a.settle(ctx, last)
		d, err := a.s.match(ctx, id, out.ID, false)
		if err != nil {
			return nil, err
		}
		return &accordv1.MergeClustersResponse{MatchDecision: d}, nil
	})
}

// mergePair returns the two cases a merge links: those given (one in each
// cluster, of two members, one the caller's member's), or the most alike
// such pair under the node's model (the first in order without one).
func (a *ClusterAPI) mergePair(member string, cs [2]clusters.Cluster, given []*accordv1.RegistryCaseRef) ([]registry.CaseRef, float64, error) {
	score := func(x, y registry.CaseRef) float64 {
		if a.scorer == nil {
			return 0
		}
		s, _ := a.scorer.ScorePair(x.CaseID, y.CaseID)
		return s
	}
	if len(given) > 0 {
		if len(given) != 2 {
			return nil, 0, invalidf("cases: give two cases, one in each cluster (got %d)", len(given))
		}
		var refs [2]registry.CaseRef
		for i, g := range given {
			r, err := checkCaseRef(fmt.Sprintf("cases[%d]", i), g)
			if err != nil {
				return nil, 0, err
			}
			if !slices.Contains(cs[i].Cases, r) {
				return nil, 0, invalidf("cases[%d]: %s is not a case of %s", i, r, clusterName(cs[i].ID))
			}
			refs[i] = r
		}
		switch {
		case refs[0].Member == refs[1].Member:
			return nil, 0, invalidf("cases: both cases are %s's; a decision links cases of two members", refs[0].Member)
		case refs[0].Member != member && refs[1].Member != member:
			return nil, 0, invalidf("cases: one of the cases must be %s's (a member proposes decisions on its own cases only)", member)
		}
		return refs[:], score(refs[0], refs[1]), nil
	}
	var best []registry.CaseRef
	bestScore := -1.0
	for _, x := range cs[0].Cases {
		for _, y := range cs[1].Cases {
			if x.Member == y.Member || x.Member != member && y.Member != member {
				continue
			}
			if s := score(x, y); s > bestScore {
				best, bestScore = []registry.CaseRef{x, y}, s
			}
		}
	}
	if best == nil {
		return nil, 0, fmt.Errorf("%w: names: no pair of cases of the two clusters has one case of %s and one of another member", grpcserver.ErrFailedPrecondition, member)
	}
	return best, bestScore, nil
}
