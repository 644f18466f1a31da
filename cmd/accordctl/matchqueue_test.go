package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// TestMatchesQueue: the review queue on a running federation: waiting for
// this office by default, best first, filters, pages with a token, JSON,
// bad flags.
func TestMatchesQueue(t *testing.T) {
	fed := startRegistryFederation(t, "UA", "PL")
	ua, pl := fed["UA"], fed["PL"]
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var ids []string
	for i, score := range []float64{0.71, 0.99, 0.85} {
		m, err := ua.coord.CreateMatchDecision(ctx, &accordv1.CreateMatchDecisionRequest{MatchDecision: &accordv1.MatchDecision{
			Cases: []*accordv1.RegistryCaseRef{{Member: "UA", CaseId: fmt.Sprint("UA-2022-00000", i)}, {Member: "PL", CaseId: fmt.Sprint("PL-2023-", i)}},
			Score: score,
		}, RequestId: fmt.Sprint("queue-", i)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, shortID(m.GetMatchDecision().GetName()))
	}
	out := pl.must(t, "matches", "queue")
	wantIn(t, "matches queue", out, "MATCH", "SCORE", "OTHER CASES", "MY ANSWER", "UA/UA-2022-000001", "pending", "(3 shown of 3)")
	if a, b, c := strings.Index(out, ids[1]), strings.Index(out, ids[2]), strings.Index(out, ids[0]); a < 0 || a > b || b > c {
		t.Errorf("not best first:\n%s", out)
	}
	if strings.Contains(out, "PL/PL-2023") {
		t.Errorf("the queue shows this office's own cases as the other's:\n%s", out)
	}
	out = pl.must(t, "matches", "queue", "--order", "age", "--page-size", "2")
	wantIn(t, "matches queue page 1", out, ids[0], ids[1], "(2 shown of 3)", "next page: --page-token ")
	if strings.Contains(out, ids[2]+" ") {
		t.Errorf("page 1 holds the third:\n%s", out)
	}
	token := strings.TrimSpace(out[strings.Index(out, "--page-token ")+len("--page-token "):])
	out = pl.must(t, "matches", "queue", "--order", "age", "--page-size", "2", "--page-token", token)
	wantIn(t, "matches queue page 2", out, ids[2], "(1 shown of 3)")
	_, err := pl.ctl(t, "matches", "queue", "--order", "score", "--page-size", "2", "--page-token", token)
	wantExit(t, err, 1, "page_token")
	wantIn(t, "--min-score", pl.must(t, "matches", "queue", "--min-score", "0.8", "--max-score", "0.9"), ids[2], "(1 shown of 1)")

	pl.must(t, "matches", "confirm", ids[1])
	wantIn(t, "after confirming", pl.must(t, "matches", "queue", "--all"), "(2 shown of 2)")
	out = pl.must(t, "matches", "queue", "--waiting=false", "--member", "UA")
	wantIn(t, "--waiting=false", out, ids[1], "yes", "(3 shown of 3)")

	var resp accordv1.ListMatchDecisionsResponse
	ctlJSON(t, pl, &resp, "matches", "queue", "--order", "newest", "-o", "json")
	if len(resp.GetMatchDecisions()) != 2 || shortID(resp.GetMatchDecisions()[0].GetName()) != ids[2] || resp.GetTotalSize() != 2 {
		t.Errorf("json: %v", &resp)
	}
	for _, c := range []struct{ args []string }{
		{[]string{"--order", "best"}}, {[]string{"--min-score", "1.5"}}, {[]string{"--min-score", "0.9", "--max-score", "0.5"}},
		{[]string{"--state", "maybe"}}, {[]string{"--member", "pl"}}, {[]string{"--page-size", "5000"}}, {[]string{"--case", "UA"}},
	} {
		_, err := pl.ctl(t, append([]string{"matches", "queue"}, c.args...)...)
		wantExit(t, err, 1, c.args[0])
	}
}
