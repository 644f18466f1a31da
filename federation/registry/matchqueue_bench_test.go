package registry

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"
)

// The review queue at the scale of a large federation: 500,000 match
// decisions over 20 members, UA in 40% of them. Skipped unless -bench:
//
//	go test -run '^$' -bench BenchmarkMatchQueue -benchtime 300x ./federation/registry/
//
// The state is built through putMatch, the path every command that stores
// a decision takes (ProposeMatch, DecideMatch), without signing and
// replicating 500,000 commands.

const (
	benchDecisions = 500_000
	benchMembers   = 20
)

var (
	benchOnce  sync.Once
	benchState *state
	benchBuild time.Duration
)

func queueBenchState() *state {
	benchOnce.Do(func() {
		r := rand.New(rand.NewPCG(500, 20))
		members := []string{"UA"}
		for i := 1; i < benchMembers; i++ {
			members = append(members, fmt.Sprintf("M%02d", i))
		}
		s := newState()
		for _, m := range members {
			s.putMember(&Member{Code: m, Status: MemberAdmitted})
		}
		start := time.Now()
		for i := range benchDecisions {
			a := 0
			if r.Float64() >= 0.4 {
				a = 1 + r.IntN(benchMembers-1)
			}
			b := 1 + r.IntN(benchMembers-1)
			for b == a {
				b = 1 + r.IntN(benchMembers-1)
			}
			ma, mb := min(members[a], members[b]), max(members[a], members[b])
			d := &MatchDecision{
				ID:    fmt.Sprintf("match-%06d", i+1),
				Cases: []CaseRef{{ma, fmt.Sprintf("%s-%07d", ma, r.IntN(200_000))}, {mb, fmt.Sprintf("%s-%07d", mb, r.IntN(200_000))}},
				Score: 0.5 + float64(r.IntN(50_000))/100_000, Status: MatchProposed,
				Decisions: []Consent{{Member: ma, Answer: AnswerPending}, {Member: mb, Answer: AnswerPending}},
				Created:   Change{Index: uint64(i + 1)}, Updated: Change{Index: uint64(i + 1)},
			}
			switch x := r.Float64(); {
			case x < 0.25:
				d.Status, d.Decisions[0].Answer, d.Decisions[1].Answer = MatchConfirmed, AnswerYes, AnswerYes
			case x < 0.40:
				d.Status, d.Decisions[r.IntN(2)].Answer = MatchRejected, AnswerNo
			case x < 0.55:
				d.Decisions[r.IntN(2)].Answer = AnswerYes
			}
			s.putMatch(d)
		}
		benchBuild = time.Since(start)
		benchState = s
	})
	return benchState
}

// percentiles reports the p50, p95 and p99 of ds in milliseconds.
func percentiles(b *testing.B, ds []time.Duration) {
	slices.Sort(ds)
	at := func(p float64) float64 {
		return float64(ds[min(len(ds)-1, int(p*float64(len(ds))))].Microseconds()) / 1000
	}
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.95), "p95-ms")
	b.ReportMetric(at(0.99), "p99-ms")
	b.ReportMetric(0, "ns/op")
}

func BenchmarkMatchQueue(b *testing.B) {
	s := queueBenchState()
	v := View{s}
	b.Logf("%d decisions built through putMatch in %v", len(s.matches.m), benchBuild)
	// A cursor 10,000 decisions deep into UA's queue by score.
	deep := MatchQuery{Awaiting: true, Order: OrderByScoreDesc, Limit: 10_000}
	_, _, deepCursor, err := v.QueryMatchDecisions("UA", deep)
	if err != nil || deepCursor == "" {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		q    MatchQuery
	}{
		{"waiting-by-score", MatchQuery{Awaiting: true, Order: OrderByScoreDesc}},
		{"waiting-by-age", MatchQuery{Awaiting: true, Order: OrderByID}},
		{"waiting-newest", MatchQuery{Awaiting: true, Order: OrderByIDDesc}},
		{"waiting-member", MatchQuery{Awaiting: true, Member: "M07", Order: OrderByScoreDesc}},
		{"waiting-score-range", MatchQuery{Awaiting: true, MinScore: 0.9, MaxScore: 0.95, Order: OrderByScoreDesc}},
		{"waiting-score-range-by-age", MatchQuery{Awaiting: true, MinScore: 0.9, MaxScore: 0.95, Order: OrderByID}},
		{"waiting-deep-page", MatchQuery{Awaiting: true, Order: OrderByScoreDesc, After: deepCursor}},
		{"all-by-score", MatchQuery{Order: OrderByScoreDesc}},
		{"confirmed-member", MatchQuery{Status: MatchConfirmed, Member: "M07", Order: OrderByID}},
		{"case", MatchQuery{Case: &s.matches.m["match-250000"].Cases[0]}},
	} {
		b.Run(c.name, func(b *testing.B) {
			q := c.q
			q.Limit = 100
			ds := make([]time.Duration, 0, b.N)
			total := 0
			for b.Loop() {
				start := time.Now()
				page, n, _, err := v.QueryMatchDecisions("UA", q)
				ds = append(ds, time.Since(start))
				if err != nil || len(page) == 0 {
					b.Fatalf("%d decisions, %v", len(page), err)
				}
				total = n
			}
			b.ReportMetric(float64(total), "selected")
			percentiles(b, ds)
		})
	}

	// What the index adds to an apply: moving a decision when an answer
	// changes (UA answers, then changes it back), p50/p95/p99.
	b.Run("apply-answer", func(b *testing.B) {
		ids := make([]string, 0, 1000)
		for id, d := range s.matches.m {
			if awaitsAnswer(d, "UA") && len(ids) < cap(ids) {
				ids = append(ids, id)
			}
		}
		ds := make([]time.Duration, 0, b.N)
		i := 0
		for b.Loop() {
			old := s.matches.m[ids[i%len(ids)]]
			d := old.clone()
			for j := range d.Decisions {
				if d.Decisions[j].Member == "UA" {
					d.Decisions[j].Answer = map[Answer]Answer{AnswerPending: AnswerYes, AnswerYes: AnswerPending}[d.Decisions[j].Answer]
				}
			}
			start := time.Now()
			s.matchQueue.put(old, d)
			ds = append(ds, time.Since(start))
			s.matches.m[d.ID] = d
			i++
		}
		percentiles(b, ds)
	})

	b.Run("memory", func(b *testing.B) {
		// Measured once (two collections of a large heap), last: the index
		// is dropped and the state not queried again.
		var with, without runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&with)
		s.matchQueue = newMatchQueues()
		runtime.GC()
		runtime.ReadMemStats(&without)
		for b.Loop() {
		}
		b.ReportMetric(float64(with.HeapAlloc-without.HeapAlloc)/(1<<20), "index-MiB")
		b.ReportMetric(float64(without.HeapAlloc)/(1<<20), "rest-MiB")
		b.ReportMetric(0, "ns/op")
	})
}
