package registry

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

var queueMembers = []string{"UA", "PL", "DE", "LT", "FR"}

// randomQueueState builds a state of n random decisions through putMatch,
// then answers, rejects, confirms and reopens some of them (an answer that
// is changed sends a decision back to proposed), as later commands would.
func randomQueueState(r *rand.Rand, n int) *state {
	s := newState()
	for _, m := range queueMembers {
		s.putMember(&Member{Code: m, Status: MemberAdmitted})
	}
	for i := range n {
		a, b := r.IntN(len(queueMembers)), r.IntN(len(queueMembers)-1)
		if b >= a {
			b++
		}
		ma, mb := min(queueMembers[a], queueMembers[b]), max(queueMembers[a], queueMembers[b])
		ch := Change{Index: uint64(i + 1)}
		s.putMatch(&MatchDecision{
			ID:    fmt.Sprintf("match-%06d", i+1),
			Cases: []CaseRef{{ma, fmt.Sprint(r.IntN(20))}, {mb, fmt.Sprint(r.IntN(20))}},
			Score: float64(r.IntN(50)) / 49, Status: MatchProposed,
			Decisions: []Consent{{Member: ma, Answer: AnswerPending}, {Member: mb, Answer: AnswerPending}},
			Created:   ch, Updated: ch,
		})
	}
	for i := range 3 * n {
		d := s.matches.m[fmt.Sprintf("match-%06d", 1+r.IntN(n))].clone()
		c := &d.Decisions[r.IntN(2)]
		switch r.IntN(3) {
		case 0:
			c.Answer, d.Status = AnswerNo, MatchRejected
		case 1:
			c.Answer = AnswerYes
			if d.Status == MatchProposed && d.Decisions[0].Answer == AnswerYes && d.Decisions[1].Answer == AnswerYes {
				d.Status = MatchConfirmed
			}
		case 2: // an answer changed back
			c.Answer, d.Status = AnswerPending, MatchProposed
			for _, o := range d.Decisions {
				if o.Answer == AnswerNo {
					d.Status = MatchRejected
				}
			}
		}
		d.Updated = Change{Index: uint64(n + i + 1)}
		s.putMatch(d)
	}
	return s
}

// bruteQuery recomputes q by reading and sorting every decision.
func bruteQuery(s *state, viewer string, q MatchQuery) []string {
	maxScore := q.MaxScore
	if maxScore == 0 {
		maxScore = 1
	}
	idSet := map[string]bool{}
	for _, id := range q.IDs {
		idSet[id] = true
	}
	var ds []*MatchDecision
	for _, d := range s.matches.m {
		switch {
		case !involved(d.Decisions, viewer),
			q.Awaiting && !awaitsAnswer(d, viewer),
			q.Status != "" && d.Status != q.Status,
			q.Member != "" && !involved(d.Decisions, q.Member),
			q.Case != nil && !slices.Contains(d.Cases, *q.Case),
			q.IDs != nil && !idSet[d.ID],
			d.Score < q.MinScore || d.Score > maxScore:
			continue
		}
		ds = append(ds, d)
	}
	byID := func(a, b *MatchDecision) int { return idCompare(a.ID, b.ID) }
	slices.SortFunc(ds, func(a, b *MatchDecision) int {
		switch q.Order {
		case OrderByScoreDesc:
			return cmp.Or(-cmp.Compare(a.Score, b.Score), byID(a, b))
		case OrderByScore:
			return cmp.Or(cmp.Compare(a.Score, b.Score), -byID(a, b))
		case OrderByIDDesc:
			return -byID(a, b)
		}
		return byID(a, b)
	})
	ids := make([]string, len(ds))
	for i, d := range ds {
		ids[i] = d.ID
	}
	return ids
}

// pagedQuery reads every page of q and checks each page's total.
func pagedQuery(t *testing.T, s *state, viewer string, q MatchQuery, want int) []string {
	t.Helper()
	var ids []string
	q.After = ""
	for pages := 0; ; pages++ {
		page, total, next, err := View{s}.QueryMatchDecisions(viewer, q)
		if err != nil {
			t.Fatal(err)
		}
		if total != want {
			t.Fatalf("query %+v: total %d, want %d", q, total, want)
		}
		if q.Limit > 0 && len(page) > q.Limit || pages > 10000 {
			t.Fatalf("page of %d over limit %d", len(page), q.Limit)
		}
		for _, d := range page {
			ids = append(ids, d.ID)
		}
		if next == "" {
			return ids
		}
		q.After = next
	}
}

func TestQueryMatchDecisionsAgainstBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(16, 7))
	s := randomQueueState(r, 600)
	restored := newState()
	restored.members = s.members
	restored.matches = s.matches
	restored.rebuildIndexes()
	pl3 := CaseRef{"PL", "3"}
	checked := 0
	for _, viewer := range []string{"UA", "DE"} {
		for order := OrderByID; order <= OrderByScore; order++ {
			for _, q := range []MatchQuery{
				{}, {Awaiting: true}, {Member: "PL"}, {Awaiting: true, Member: "LT"}, {Member: viewer},
				{Status: MatchRejected}, {Status: MatchConfirmed, MinScore: 0.5}, {Status: MatchProposed, Member: "FR"},
				{MinScore: 0.3, MaxScore: 0.7}, {Awaiting: true, MinScore: 0.99}, {Awaiting: true, Status: MatchRejected},
				{Case: &pl3}, {Case: &pl3, Awaiting: true}, {MaxScore: 0.2},
				{IDs: []string{"match-000001", "match-000002", "match-000010", "match-000100", "match-000599"}}, {IDs: []string{}},
			} {
				q.Order = order
				want := bruteQuery(s, viewer, q)
				for _, limit := range []int{0, 1, 7, 1000} {
					q.Limit = limit
					if got := pagedQuery(t, s, viewer, q, len(want)); !slices.Equal(got, want) {
						t.Fatalf("viewer %s, query %+v: got %d ids, want %d", viewer, q, len(got), len(want))
					}
					if got := pagedQuery(t, restored, viewer, q, len(want)); !slices.Equal(got, want) {
						t.Fatalf("after restore, viewer %s, query %+v: got %d ids, want %d", viewer, q, len(got), len(want))
					}
					if len(want) > 0 {
						checked++
					}
				}
			}
		}
	}
	if checked < 300 {
		t.Fatalf("only %d queries selected anything: the test would not test much", checked)
	}
}

// TestQueryMatchDecisionsStableWhileChanging pages while decisions are
// answered between pages: every decision that stays selected is returned
// exactly once.
func TestQueryMatchDecisionsStableWhileChanging(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	s := randomQueueState(r, 300)
	for _, order := range []MatchOrder{OrderByID, OrderByScoreDesc, OrderByScore, OrderByIDDesc} {
		q := MatchQuery{Order: order, Limit: 9}
		seen := map[string]int{}
		before := bruteQuery(s, "UA", q)
		for {
			page, _, next, err := View{s}.QueryMatchDecisions("UA", q)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range page {
				seen[d.ID]++
			}
			// Answer a random decision of UA's between pages.
			d := s.matches.m[before[r.IntN(len(before))]].clone()
			d.Decisions[0].Answer = AnswerYes
			s.putMatch(d)
			if next == "" {
				break
			}
			q.After = next
		}
		for _, id := range before {
			if seen[id] != 1 {
				t.Fatalf("order %v: %s seen %d times", order, id, seen[id])
			}
		}
	}
}

func TestQueryMatchDecisionsBadCursorAndViewer(t *testing.T) {
	s := randomQueueState(rand.New(rand.NewPCG(1, 2)), 20)
	if _, _, _, err := (View{s}).QueryMatchDecisions("UA", MatchQuery{Order: OrderByScoreDesc, After: "match-000001"}); err == nil {
		t.Error("a cursor without a score was taken in score order")
	}
	if _, _, _, err := (View{s}).QueryMatchDecisions("XX", MatchQuery{Limit: 1}); err == nil {
		t.Error("a viewer that is not a member was answered")
	}
}
