package coordination

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/accordfed/accord/federation/matching"
	"github.com/accordfed/accord/federation/registry"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// benchRuleDecisions is how many decisions wait for UA's answer in the
// rule and compare benchmarks (ACCORD_BENCH_RULE_DECISIONS; default
// 20,000).
func benchRuleDecisions(b *testing.B) int {
	if s := os.Getenv("ACCORD_BENCH_RULE_DECISIONS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			b.Fatalf("ACCORD_BENCH_RULE_DECISIONS=%q: want a positive count", s)
		}
		return n
	}
	return 20000
}

// benchQueue is UA's service over n decisions PL proposed, UA-i ~ PL-i,
// scored uniformly in [0.5, 1); a third of the pairs share an evidence
// item. The held cases and a matcher index over them come with it.
func benchQueue(b *testing.B, n int) (*Service, []string) {
	b.Helper()
	_, nodes := newFSMLog(b, "UA", "PL")
	held := heldCases{}
	rng := rand.New(rand.NewPCG(1, 2))
	ids := make([]string, 0, n)
	scores := map[[2]string]float64{}
	start := time.Now()
	for i := range n {
		ua, pl := fmt.Sprintf("UA-%d", i), fmt.Sprintf("PL-%d", i)
		ev := []int{3*n + i}
		if i%3 == 0 {
			ev = append(ev, i)
		}
		day := fmt.Sprintf("2022-%02d-%02dT10:00:00+02:00", 1+i%12, 1+i%28)
		held["UA/"+ua] = sharedCase(ua, "Kharkiv", 49.99, 36.23, day, ev)
		held["PL/"+pl] = sharedCase(pl, "Харків", 50.00, 36.25, day, []int{i, 4*n + i})
		cases := []registry.CaseRef{caseRef(pl), caseRef(ua)}
		score := 0.5 + rng.Float64()/2
		scores[[2]string{pl, ua}] = score
		cmd, err := registry.NewCommand("p."+strconv.Itoa(i), registry.ProposeMatch{Cases: cases, Score: score})
		if err != nil {
			b.Fatal(err)
		}
		out, _, err := nodes["PL"].ApplyIndex(context.Background(), cmd)
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, out.ID)
	}
	s := New(nodes["UA"], "UA", nil, nil)
	s.WithCompare(held, agreeing{indexOf(b, held), scores})
	b.Logf("%d decisions proposed in %s", n, time.Since(start).Round(time.Millisecond))
	return s, ids
}

// agreeing compares pairs with a real matcher index (its cost) but scores
// them as the registry does, so that this node's scores agree with the
// proposer's and the rules select what they would on an honest federation.
type agreeing struct {
	x      *matching.Index
	scores map[[2]string]float64
}

func (a agreeing) Compare(x, y string) (matching.Comparison, bool) {
	c, ok := a.x.Compare(x, y)
	if s, known := a.scores[[2]string{min(x, y), max(x, y)}]; ok && known {
		c.Score = s
	}
	return c, ok
}

// BenchmarkDecideMatchesDryRun: a rule's dry run over the review queue:
// by score alone, and with the shared-evidence condition that reads both
// cases of every decision in the score range.
func BenchmarkDecideMatchesDryRun(b *testing.B) {
	n := benchRuleDecisions(b)
	s, _ := benchQueue(b, n)
	ctx := as("UA", "analyst")
	for _, c := range []struct {
		name string
		rule *accordv1.MatchRule
	}{
		{"score>=0.99", &accordv1.MatchRule{MinScore: 0.99}},
		{"score>=0.99,evidence>=1", &accordv1.MatchRule{MinScore: 0.99, MinSharedEvidence: 1}},
		{"score>=0.95,evidence>=1", &accordv1.MatchRule{MinScore: 0.95, MinSharedEvidence: 1}},
	} {
		b.Run(c.name, func(b *testing.B) {
			var selected int
			var lat []time.Duration
			for b.Loop() {
				t0 := time.Now()
				r, err := s.DecideMatches(ctx, &accordv1.DecideMatchesRequest{Rule: c.rule, Answer: accordv1.Answer_ANSWER_YES, ValidateOnly: true, MaxDecisions: 2000})
				if err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t0))
				selected = len(r.GetAnswers())
			}
			slices.Sort(lat)
			b.ReportMetric(float64(selected), "selected")
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		})
	}
}

// BenchmarkCompareMatchDecision: one decision's cases side by side,
// scored by a matcher index over every held case.
func BenchmarkCompareMatchDecision(b *testing.B) {
	n := benchRuleDecisions(b)
	s, ids := benchQueue(b, n)
	ctx := as("UA", "analyst")
	rng := rand.New(rand.NewPCG(3, 4))
	var lat []time.Duration
	for b.Loop() {
		id := ids[rng.IntN(len(ids))]
		t0 := time.Now()
		r, err := s.CompareMatchDecision(ctx, &accordv1.CompareMatchDecisionRequest{Name: matchName(id)})
		if err != nil || len(r.GetPairs()) != 1 || !r.GetPairs()[0].GetScored() {
			b.Fatalf("%s: %v, %v", id, r, err)
		}
		lat = append(lat, time.Since(t0))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}
