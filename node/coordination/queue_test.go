package coordination_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/accordfed/accord/federation/raftnet/raftnettest"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// The review queue (ListMatchDecisions' filters, orders and pages) on a
// running two-member federation.
func TestMatchQueue(t *testing.T) {
	f := startTyped(t)
	ctx := ctxT(t)
	const n = 12
	scores := map[string]float64{}
	var created []string
	for i := range n {
		score := float64((i*7)%n) / n // distinct, not in id order
		m := must(f.ua.CreateMatchDecision(ctx, &accordv1.CreateMatchDecisionRequest{MatchDecision: &accordv1.MatchDecision{
			Cases: []*accordv1.RegistryCaseRef{{Member: "UA", CaseId: fmt.Sprintf("UA-%d", i)}, {Member: "PL", CaseId: fmt.Sprintf("PL-%d", i)}},
			Score: score,
		}, RequestId: fmt.Sprintf("q-%d", i)}))(t).GetMatchDecision()
		scores[m.GetName()] = score
		created = append(created, m.GetName())
	}
	// PL answers the first three: they no longer wait for PL.
	for i, name := range created[:3] {
		must(f.pl.DecideMatch(ctx, &accordv1.DecideMatchRequest{Name: name, Answer: accordv1.Answer_ANSWER_NO, Reason: "different days", RequestId: fmt.Sprint("pl-q-", i)}))(t)
	}

	// listAll reads every page of req, page_size 5.
	listAll := func(req *accordv1.ListMatchDecisionsRequest) ([]string, int32) {
		t.Helper()
		req.PageSize = 5
		var names []string
		for pages := 0; ; pages++ {
			resp := must(f.pl.ListMatchDecisions(ctx, req))(t)
			for _, m := range resp.GetMatchDecisions() {
				names = append(names, m.GetName())
			}
			if resp.GetNextPageToken() == "" || pages > n {
				return names, resp.GetTotalSize()
			}
			req.PageToken = resp.GetNextPageToken()
		}
	}
	waiting := slices.Clone(created[3:])
	byScoreDesc := slices.Clone(waiting)
	slices.SortFunc(byScoreDesc, func(a, b string) int {
		switch {
		case scores[a] > scores[b]:
			return -1
		case scores[a] < scores[b]:
			return 1
		}
		return 0
	})
	reversed := slices.Clone(waiting)
	slices.Reverse(reversed)
	for _, c := range []struct {
		order string
		want  []string
	}{
		{"", waiting}, {"name", waiting}, {"create_time", waiting}, {"create_time desc", reversed},
		{"score desc", byScoreDesc}, {" score   desc ", byScoreDesc}, {"score", reverse(byScoreDesc)},
	} {
		got, total := listAll(&accordv1.ListMatchDecisionsRequest{AwaitingAnswer: true, OrderBy: c.order})
		if !slices.Equal(got, c.want) || total != int32(len(c.want)) {
			t.Errorf("order_by %q: %v (total %d), want %v", c.order, got, total, c.want)
		}
	}

	// A score range, with the state and member filters.
	var inRange []string
	for _, name := range created {
		if s := scores[name]; s >= 0.25 && s <= 0.75 {
			inRange = append(inRange, name)
		}
	}
	got, total := listAll(&accordv1.ListMatchDecisionsRequest{MinScore: 0.25, MaxScore: 0.75, Member: "UA"})
	if !slices.Equal(got, inRange) || total != int32(len(inRange)) || len(inRange) < 3 {
		t.Errorf("score 0.25..0.75: %v (total %d), want %v", got, total, inRange)
	}
	got, total = listAll(&accordv1.ListMatchDecisionsRequest{State: accordv1.MatchDecisionState_MATCH_DECISION_STATE_REJECTED, Member: "UA", OrderBy: "score desc"})
	if want := 3; len(got) != want || total != int32(want) {
		t.Errorf("rejected: %v (total %d), want %d", got, total, want)
	}

	// The decisions of one incident cluster: one pair here, its cluster
	// named after its decision. The node's clusters follow the registry:
	// poll.
	cluster := "clusters/cluster-" + strings.TrimPrefix(created[5], "matchDecisions/match-")
	raftnettest.WaitFor(t, 20*time.Second, func() error {
		resp, err := f.pl.ListMatchDecisions(ctx, &accordv1.ListMatchDecisionsRequest{Cluster: cluster})
		switch {
		case status.Code(err) == codes.NotFound:
			return err // the cluster is not there yet
		case err != nil:
			t.Fatalf("cluster %s: %v", cluster, err)
		case len(resp.GetMatchDecisions()) != 1 || resp.GetMatchDecisions()[0].GetName() != created[5] || resp.GetTotalSize() != 1:
			t.Fatalf("cluster %s: %v", cluster, resp)
		}
		return nil
	})

	// A page token is bound to the filters and the order.
	first := must(f.pl.ListMatchDecisions(ctx, &accordv1.ListMatchDecisionsRequest{AwaitingAnswer: true, OrderBy: "score desc", PageSize: 2}))(t)
	_, err := f.pl.ListMatchDecisions(ctx, &accordv1.ListMatchDecisionsRequest{AwaitingAnswer: true, OrderBy: "score", PageSize: 2, PageToken: first.GetNextPageToken()})
	wantCode(t, err, codes.InvalidArgument, "page_token")
	_, err = f.pl.ListMatchDecisions(ctx, &accordv1.ListMatchDecisionsRequest{AwaitingAnswer: true, OrderBy: "score desc", MinScore: 0.1, PageSize: 2, PageToken: first.GetNextPageToken()})
	wantCode(t, err, codes.InvalidArgument, "page_token")

	// Bad input names its field.
	for _, c := range []struct {
		req   *accordv1.ListMatchDecisionsRequest
		code  codes.Code
		field string
	}{
		{&accordv1.ListMatchDecisionsRequest{MinScore: -0.5}, codes.InvalidArgument, "min_score"},
		{&accordv1.ListMatchDecisionsRequest{MinScore: 1.5}, codes.InvalidArgument, "min_score"},
		{&accordv1.ListMatchDecisionsRequest{MaxScore: 2}, codes.InvalidArgument, "max_score"},
		{&accordv1.ListMatchDecisionsRequest{MinScore: 0.8, MaxScore: 0.2}, codes.InvalidArgument, "min_score"},
		{&accordv1.ListMatchDecisionsRequest{OrderBy: "score up"}, codes.InvalidArgument, "order_by"},
		{&accordv1.ListMatchDecisionsRequest{OrderBy: "age"}, codes.InvalidArgument, "order_by"},
		{&accordv1.ListMatchDecisionsRequest{Cluster: "cluster-1"}, codes.InvalidArgument, "cluster"},
		{&accordv1.ListMatchDecisionsRequest{Cluster: "clusters/cluster-999999"}, codes.NotFound, "cluster"},
		{&accordv1.ListMatchDecisionsRequest{PageSize: -1}, codes.InvalidArgument, "page_size"},
	} {
		_, err := f.pl.ListMatchDecisions(ctx, c.req)
		wantCode(t, err, c.code, c.field)
	}
}

func reverse(s []string) []string {
	r := slices.Clone(s)
	slices.Reverse(r)
	return r
}
