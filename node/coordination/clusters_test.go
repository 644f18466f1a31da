package coordination

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/accordfed/accord/federation/registry"
	"github.com/accordfed/accord/node/clusters"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// WaitApplied makes an fsmNode a clusters.Source.
func (n *fsmNode) WaitApplied(ctx context.Context, index uint64) error {
	return n.log.fsm.WaitApplied(ctx, index)
}

// alike scores the pairs it holds 0.9 and any other pair of known cases
// 0.02.
type alike map[[2]string]bool

func (a alike) ScorePair(x, y string) (float64, bool) {
	if a[[2]string{min(x, y), max(x, y)}] {
		return 0.9, true
	}
	return 0.02, true
}

func (a alike) group(ids ...string) {
	for i, x := range ids {
		for _, y := range ids[i+1:] {
			a[[2]string{min(x, y), max(x, y)}] = true
		}
	}
}

func caseRef(id string) registry.CaseRef {
	m, _, _ := strings.Cut(id, "-")
	return registry.CaseRef{Member: m, CaseID: id}
}

func apiRef(id string) *accordv1.RegistryCaseRef { return toCaseRef(caseRef(id)) }

// propose has member's node propose a match of two cases and returns its
// id.
func propose(t *testing.T, n *fsmNode, a, b string) string {
	t.Helper()
	return proposeScored(t, n, a, b, 0.8)
}

// clusterFixture is UA's node with its clusters graph following the
// registry, and the other members' nodes.
type clusterFixture struct {
	nodes map[string]*fsmNode
	graph *clusters.Graph
	api   *ClusterAPI
	ctx   context.Context
}

func newClusterFixture(t *testing.T, scorer clusters.Scorer) *clusterFixture {
	t.Helper()
	_, nodes := newFSMLog(t, "UA", "PL", "DE", "LT")
	g := clusters.New("UA", scorer, clusters.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Follow(ctx, nodes["UA"]) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && ctx.Err() == nil {
			t.Errorf("Follow: %v", err)
		}
	})
	s := New(nodes["UA"], "UA", nil, nil)
	return &clusterFixture{nodes: nodes, graph: g, api: NewClusters(s, g, scorer), ctx: as("UA", "analyst")}
}

// settled waits until the graph reflects the registry.
func (f *clusterFixture) settled(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := f.graph.WaitApplied(ctx, f.nodes["UA"].log.fsm.AppliedIndex()); err != nil {
		t.Fatalf("the clusters did not follow the registry: %v", err)
	}
}

func (f *clusterFixture) list(t *testing.T, req *accordv1.ListClustersRequest) []*accordv1.Cluster {
	t.Helper()
	var out []*accordv1.Cluster
	for {
		r, err := f.api.ListClusters(f.ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r.GetClusters()...)
		if r.GetNextPageToken() == "" {
			return out
		}
		req.PageToken = r.GetNextPageToken()
	}
}

func names(cs []*accordv1.Cluster) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.GetName())
	}
	return out
}

func TestClusterListAndGet(t *testing.T) {
	f := newClusterFixture(t, nil)
	ua := f.nodes["UA"]
	m1 := propose(t, ua, "UA-1", "PL-1")
	propose(t, ua, "UA-1", "DE-1")
	m3 := propose(t, f.nodes["LT"], "UA-2", "LT-2")
	f.settled(t)

	all := f.list(t, &accordv1.ListClustersRequest{PageSize: 1})
	if got := names(all); !slices.Equal(got, []string{"clusters/cluster-" + strings.TrimPrefix(m1, "match-"), "clusters/cluster-" + strings.TrimPrefix(m3, "match-")}) {
		t.Fatalf("clusters %v", got)
	}
	if c := all[0]; len(c.GetCases()) != 3 || !slices.Equal(c.GetMembers(), []string{"DE", "PL", "UA"}) || c.GetAwaitingAnswer() != 2 || len(c.GetLinks()) != 2 {
		t.Fatalf("first cluster %v", c)
	}
	if got := names(f.list(t, &accordv1.ListClustersRequest{Member: "LT"})); len(got) != 1 || got[0] != all[1].GetName() {
		t.Fatalf("member LT: %v", got)
	}
	if got := f.list(t, &accordv1.ListClustersRequest{MinCases: 3}); len(got) != 1 {
		t.Fatalf("min_cases 3: %v", names(got))
	}
	// Bad input names the field.
	_, err := f.api.ListClusters(f.ctx, &accordv1.ListClustersRequest{Member: "ua"})
	wantCode(t, "bad member", err, codes.InvalidArgument, "member")
	_, err = f.api.ListClusters(f.ctx, &accordv1.ListClustersRequest{MinCases: -1})
	wantCode(t, "negative min_cases", err, codes.InvalidArgument, "min_cases")
	r, err := f.api.ListClusters(f.ctx, &accordv1.ListClustersRequest{PageSize: 1})
	if err != nil || r.GetNextPageToken() == "" {
		t.Fatalf("first page: %v %v", r, err)
	}
	_, err = f.api.ListClusters(f.ctx, &accordv1.ListClustersRequest{PageSize: 1, PageToken: r.GetNextPageToken(), Member: "LT"})
	wantCode(t, "a token of other filters", err, codes.InvalidArgument, "page_token")

	got, err := f.api.GetCluster(f.ctx, &accordv1.GetClusterRequest{CaseRef: apiRef("DE-1")})
	if err != nil || got.GetCluster().GetName() != all[0].GetName() {
		t.Fatalf("cluster of DE-1: %v %v", got, err)
	}
	got, err = f.api.GetCluster(f.ctx, &accordv1.GetClusterRequest{Name: all[1].GetName()})
	if err != nil || len(got.GetCluster().GetCases()) != 2 {
		t.Fatalf("get %s: %v %v", all[1].GetName(), got, err)
	}
	_, err = f.api.GetCluster(f.ctx, &accordv1.GetClusterRequest{Name: "clusters/cluster-999999"})
	wantCode(t, "unknown cluster", err, codes.NotFound, "name")
	_, err = f.api.GetCluster(f.ctx, &accordv1.GetClusterRequest{CaseRef: apiRef("UA-77")})
	wantCode(t, "case in no cluster", err, codes.NotFound, "case_ref")
	_, err = f.api.GetCluster(f.ctx, &accordv1.GetClusterRequest{Name: all[0].GetName(), CaseRef: apiRef("DE-1")})
	wantCode(t, "name and case_ref", err, codes.InvalidArgument, "case_ref")
	_, err = f.api.GetCluster(f.ctx, &accordv1.GetClusterRequest{Name: "cluster-1"})
	wantCode(t, "not a resource name", err, codes.InvalidArgument, "name")

	// A lead proposal on one of its decisions is linked from the cluster.
	for _, m := range []string{"PL", "UA"} {
		cmd, _ := registry.NewCommand("c."+m, registry.DecideMatch{Match: m1, Confirm: true})
		if _, _, err := f.nodes[m].ApplyIndex(context.Background(), cmd); err != nil {
			t.Fatal(err)
		}
	}
	cmd, _ := registry.NewCommand("lead", registry.ProposeLead{Match: m1, Lead: "UA"})
	out, _, err := ua.ApplyIndex(context.Background(), cmd)
	if err != nil {
		t.Fatal(err)
	}
	f.settled(t)
	got, err = f.api.GetCluster(f.ctx, &accordv1.GetClusterRequest{CaseRef: apiRef("PL-1")})
	if err != nil || !slices.Contains(got.GetCluster().GetLeadProposals(), leadName(out.ID)) {
		t.Fatalf("cluster of PL-1 does not name %s: %v %v", out.ID, got.GetCluster().GetLeadProposals(), err)
	}
}

func TestClusterActs(t *testing.T) {
	sc := alike{}
	sc.group("UA-1", "PL-1", "DE-1")
	sc.group("UA-2", "LT-2")
	f := newClusterFixture(t, sc)
	ua := f.nodes["UA"]
	propose(t, ua, "UA-1", "PL-1")
	propose(t, ua, "UA-1", "DE-1")
	bridge := propose(t, ua, "UA-2", "PL-1") // chains two incidents through PL-1
	propose(t, f.nodes["LT"], "UA-2", "LT-2")
	f.settled(t)

	cs := f.list(t, &accordv1.ListClustersRequest{})
	if len(cs) != 1 || len(cs[0].GetCases()) != 5 {
		t.Fatalf("want one chained cluster of 5 cases: %v", cs)
	}
	c := cs[0]
	if !c.GetGuard().GetFlagged() || c.GetGuard().GetSplit().GetMatchDecision() != matchName(bridge) {
		t.Fatalf("guard %v: want flagged, split at %s", c.GetGuard(), bridge)
	}
	if got := f.list(t, &accordv1.ListClustersRequest{Flagged: true}); len(got) != 1 {
		t.Fatalf("flagged: %v", names(got))
	}

	// Confirming a flagged cluster needs force; a stale read is refused.
	_, err := f.api.ConfirmCluster(f.ctx, &accordv1.ConfirmClusterRequest{Name: c.GetName(), RequestId: "conf-1"})
	wantCode(t, "confirm flagged", err, codes.FailedPrecondition, "chaining guard")
	_, err = f.api.ConfirmCluster(f.ctx, &accordv1.ConfirmClusterRequest{Name: c.GetName(), RequestId: "conf-1", Force: true, ExpectedUpdateIndex: c.GetUpdateIndex() - 1})
	if status.Code(err) != codes.Aborted {
		t.Fatalf("stale expected_update_index: %v, want Aborted", err)
	}
	_, err = f.api.ConfirmCluster(f.ctx, &accordv1.ConfirmClusterRequest{Name: c.GetName(), Force: true})
	wantCode(t, "no request id", err, codes.InvalidArgument, "request_id")

	// Split where the guard says, with a reason; bad splits change nothing.
	before := f.nodes["UA"].log.fsm.AppliedIndex()
	for _, bad := range []struct {
		req   *accordv1.SplitClusterRequest
		code  codes.Code
		field string
	}{
		{&accordv1.SplitClusterRequest{Name: c.GetName(), AtMatchDecision: matchName(bridge), RequestId: "s"}, codes.InvalidArgument, "reason"},
		{&accordv1.SplitClusterRequest{Name: c.GetName(), Reason: "x", RequestId: "s"}, codes.InvalidArgument, "part"},
		{&accordv1.SplitClusterRequest{Name: c.GetName(), Reason: "x", RequestId: "s", Part: []*accordv1.RegistryCaseRef{apiRef("FR-1")}}, codes.InvalidArgument, "part[0]"},
		{&accordv1.SplitClusterRequest{Name: c.GetName(), Reason: "x", RequestId: "s", Part: []*accordv1.RegistryCaseRef{apiRef("UA-1"), apiRef("UA-1")}}, codes.InvalidArgument, "part[1]"},
		{&accordv1.SplitClusterRequest{Name: c.GetName(), Reason: "x", RequestId: "s", Part: toCaseRefs(caseRefs("UA-1", "PL-1", "DE-1", "UA-2", "LT-2"))}, codes.InvalidArgument, "part"},
		{&accordv1.SplitClusterRequest{Name: c.GetName(), Reason: "x", RequestId: "s", AtMatchDecision: "matchDecisions/match-999999"}, codes.NotFound, "at_match_decision"},
	} {
		_, err := f.api.SplitCluster(f.ctx, bad.req)
		wantCode(t, "split "+bad.field, err, bad.code, bad.field)
	}
	if after := f.nodes["UA"].log.fsm.AppliedIndex(); after != before {
		t.Fatalf("refused splits wrote to the registry (%d -> %d)", before, after)
	}
	sp, err := f.api.SplitCluster(f.ctx, &accordv1.SplitClusterRequest{Name: c.GetName(), AtMatchDecision: c.GetGuard().GetSplit().GetMatchDecision(),
		Reason: "another day, another village", RequestId: "split-1", ExpectedUpdateIndex: c.GetUpdateIndex()})
	if err != nil {
		t.Fatal(err)
	}
	if len(sp.GetResults()) != 1 || sp.GetResults()[0].GetMatchDecision() != matchName(bridge) || sp.GetResults()[0].GetError() != "" {
		t.Fatalf("split results %v", sp.GetResults())
	}
	if len(sp.GetClusters()) != 2 {
		t.Fatalf("after the split: %v", names(sp.GetClusters()))
	}
	for _, k := range sp.GetClusters() {
		if k.GetGuard().GetFlagged() {
			t.Errorf("%s still flagged: %v", k.GetName(), k.GetGuard())
		}
	}
	f.nodes["UA"].log.fsm.Read(func(v registry.View) {
		d, err := v.GetMatchDecision(bridge, "UA")
		if err != nil || d.Status != registry.MatchRejected || d.Decisions[len(d.Decisions)-1].Change.User == "" {
			t.Errorf("the bridge after the split: %+v %v", d, err)
		}
	})

	// Confirm the cluster of incident 1: both its decisions, once.
	k, err := f.api.GetCluster(f.ctx, &accordv1.GetClusterRequest{CaseRef: apiRef("DE-1")})
	if err != nil {
		t.Fatal(err)
	}
	conf := &accordv1.ConfirmClusterRequest{Name: k.GetCluster().GetName(), Reason: "same shelling", RequestId: "conf-2"}
	r, err := f.api.ConfirmCluster(f.ctx, conf)
	if err != nil || len(r.GetResults()) != 2 || r.GetCluster().GetAwaitingAnswer() != 0 {
		t.Fatalf("confirm: %v %v", r, err)
	}
	applied := f.nodes["UA"].log.fsm.AppliedIndex()
	if _, err := f.api.ConfirmCluster(f.ctx, conf); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("confirming again: %v, want FailedPrecondition (nothing waits)", err)
	}
	if f.nodes["UA"].log.fsm.AppliedIndex() != applied {
		t.Fatal("confirming again wrote to the registry")
	}

	// The reasons are the registry's: each answer carries the act's.
	f.nodes["UA"].log.fsm.Read(func(v registry.View) {
		for _, l := range r.GetCluster().GetLinks() {
			d, err := v.GetMatchDecision(strings.TrimPrefix(l.GetMatchDecision(), "matchDecisions/"), "UA")
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range d.Decisions {
				if c.Member == "UA" && (c.Answer != registry.AnswerYes || c.Reason != "same shelling") {
					t.Errorf("%s: UA's answer %+v, want yes with the act's reason", d.ID, c)
				}
			}
		}
	})
	// A confirmed cluster can still be split: UA changes its answer on the
	// decision that links the part, and the history keeps the yes.
	k1 := r.GetCluster()
	at := k1.GetLinks()[len(k1.GetLinks())-1].GetMatchDecision()
	sp2, err := f.api.SplitCluster(f.ctx, &accordv1.SplitClusterRequest{Name: k1.GetName(), AtMatchDecision: at,
		Reason: "on a second look, another day", RequestId: "split-2"})
	if err != nil || len(sp2.GetResults()) != 1 || sp2.GetResults()[0].GetError() != "" {
		t.Fatalf("splitting a confirmed cluster: %v %v", sp2, err)
	}
	f.nodes["UA"].log.fsm.Read(func(v registry.View) {
		d, err := v.GetMatchDecision(strings.TrimPrefix(at, "matchDecisions/"), "UA")
		if err != nil {
			t.Fatal(err)
		}
		h := d.History()
		if d.Status != registry.MatchRejected || len(h) < 2 || h[len(h)-1].Reason != "on a second look, another day" {
			t.Errorf("%s after the split: status %s, history %+v", d.ID, d.Status, h)
		}
	})
	f.settled(t)
	k, err = f.api.GetCluster(f.ctx, &accordv1.GetClusterRequest{CaseRef: apiRef("UA-1")})
	if err != nil {
		t.Fatal(err)
	}

	// Merge the two clusters back, with a reason: UA proposes and confirms.
	k2, err := f.api.GetCluster(f.ctx, &accordv1.GetClusterRequest{CaseRef: apiRef("LT-2")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.api.MergeClusters(f.ctx, &accordv1.MergeClustersRequest{Names: []string{k.GetCluster().GetName(), k2.GetCluster().GetName()}, RequestId: "m"})
	wantCode(t, "merge without reason", err, codes.InvalidArgument, "reason")
	_, err = f.api.MergeClusters(f.ctx, &accordv1.MergeClustersRequest{Names: []string{k.GetCluster().GetName(), k2.GetCluster().GetName()}, RequestId: "m", Reason: "x",
		Cases: []*accordv1.RegistryCaseRef{apiRef("PL-1"), apiRef("LT-2")}})
	wantCode(t, "merge of two other members' cases", err, codes.InvalidArgument, "cases")
	m, err := f.api.MergeClusters(f.ctx, &accordv1.MergeClustersRequest{Names: []string{k.GetCluster().GetName(), k2.GetCluster().GetName()},
		RequestId: "merge-1", Reason: "one convoy", Cases: []*accordv1.RegistryCaseRef{apiRef("UA-1"), apiRef("LT-2")}})
	if err != nil {
		t.Fatal(err)
	}
	if d := m.GetMatchDecision(); len(d.GetCases()) != 2 || d.GetAnswers()[1].GetMember() != "UA" || d.GetAnswers()[1].GetAnswer() != accordv1.Answer_ANSWER_YES {
		t.Fatalf("merge decision %v", d)
	}
	f.settled(t)
	if n := f.graph.Len(); n != 1 {
		t.Fatalf("%d clusters after the merge, want 1", n)
	}
}

func caseRefs(ids ...string) []registry.CaseRef {
	var out []registry.CaseRef
	for _, id := range ids {
		out = append(out, caseRef(id))
	}
	return out
}
