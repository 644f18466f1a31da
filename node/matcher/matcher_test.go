package matcher

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/accordfed/accord/federation/matching"
	"github.com/accordfed/accord/federation/registry"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// fakeRegistry records proposals.
type fakeRegistry struct {
	proposed []registry.ProposeMatch
}

func (f *fakeRegistry) Apply(_ context.Context, cmd *registry.Command) (registry.Outcome, error) {
	p, ok := cmd.Payload.(registry.ProposeMatch)
	if !ok {
		return registry.Outcome{}, fmt.Errorf("payload %T", cmd.Payload)
	}
	f.proposed = append(f.proposed, p)
	return registry.Outcome{ID: "match-x"}, nil
}

// Read is not used: the tests give proposeWith the decisions.
func (f *fakeRegistry) Read(context.Context, bool, func(registry.View)) (uint64, error) {
	return 0, nil
}

func TestProposeRules(t *testing.T) {
	reg := &fakeRegistry{}
	m := New("PL", nil, reg, Options{})
	m.versions.Store("PL-1", int64(1))
	m.versions.Store("UA-1", int64(3))
	for _, id := range []string{"PL-1", "PL-2", "PL-3", "PL-4", "UA-1"} {
		m.sens.Store(id, accordv1.Sensitivity_SENSITIVITY_FEDERATION)
	}
	matches := []matching.Match{
		{A: "PL-1", B: "UA-1", Score: 0.97, Reasons: []string{"same evidence item (1)"}}, // PL < UA: PL proposes
		{A: "DE-1", B: "PL-2", Score: 0.9},                                               // DE proposes, not PL
		{A: "PL-3", B: "PL-4", Score: 0.9},                                               // same member: never
		{A: "LT-1", B: "UA-2", Score: 0.9},                                               // PL not involved
	}
	ctx := context.Background()
	m.proposeWith(ctx, matches, map[string]registry.MatchDecision{})
	if len(reg.proposed) != 1 {
		t.Fatalf("proposed %d, want 1: %+v", len(reg.proposed), reg.proposed)
	}
	p := reg.proposed[0]
	if p.Cases[0].CaseID != "PL-1" || p.Cases[1].CaseID != "UA-1" || p.Versions["UA/UA-1"] != 3 || p.Versions["PL/PL-1"] != 1 || p.Reasons[0] != "same evidence item (1)" {
		t.Fatalf("proposal %+v", p)
	}

	// Held by the registry: open, or rejected with the same versions: not
	// sent again; rejected with other versions: sent.
	for _, tc := range []struct {
		name string
		d    registry.MatchDecision
		send bool
	}{
		{"open", registry.MatchDecision{Status: registry.MatchProposed}, false},
		{"confirmed", registry.MatchDecision{Status: registry.MatchConfirmed}, false},
		{"rejected, unchanged", registry.MatchDecision{Status: registry.MatchRejected, Versions: map[string]int64{"PL/PL-1": 1, "UA/UA-1": 3}}, false},
		{"rejected, UA's case changed since", registry.MatchDecision{Status: registry.MatchRejected, Versions: map[string]int64{"PL/PL-1": 1, "UA/UA-1": 2}}, true},
	} {
		reg.proposed = nil
		m.proposeWith(ctx, matches[:1], map[string]registry.MatchDecision{"PL-1\nUA-1": tc.d})
		if sent := len(reg.proposed) == 1; sent != tc.send {
			t.Errorf("%s: sent %v, want %v", tc.name, sent, tc.send)
		}
	}
}

// v2Registry is a fakeRegistry that reports which registry servers do not
// apply match answers v2.
type v2Registry struct {
	fakeRegistry
	behind []string
}

func (r *v2Registry) MatchAnswersBehind() []string { return r.behind }

// TestProposalCarriesExplanation: a proposal carries the match's
// explanation once every registry server applies match answers v2, and
// not before.
func TestProposalCarriesExplanation(t *testing.T) {
	mt := matching.Match{A: "PL-1", B: "UA-1", Model: matching.DefaultModel()}
	for i := range mt.Levels {
		mt.Levels[i] = int8(i % 2) // observed at levels 0 and 1 ...
	}
	mt.Levels[4] = -1 // ... and one comparison not observed
	exp, _ := mt.Explain()
	mt.Weight, mt.Score = exp.Weight, math.Round(exp.Probability*10000)/10000
	for _, behind := range [][]string{{"ua-1"}, nil} {
		reg := &v2Registry{behind: behind}
		m := New("PL", nil, reg, Options{})
		for _, id := range []string{"PL-1", "UA-1"} {
			m.sens.Store(id, accordv1.Sensitivity_SENSITIVITY_FEDERATION)
		}
		m.proposeWith(context.Background(), []matching.Match{mt}, map[string]registry.MatchDecision{})
		if len(reg.proposed) != 1 {
			t.Fatalf("proposed %d", len(reg.proposed))
		}
		e := reg.proposed[0].Explanation
		if behind != nil {
			if e != nil {
				t.Errorf("explanation sent while %v are behind", behind)
			}
			continue
		}
		if e == nil || e.Weight != exp.Weight || e.Probability != exp.Probability || len(e.Comparisons) != matching.Comparisons ||
			e.Comparisons[0].Label != "same hour" || e.Comparisons[4].Level != -1 || e.Comparisons[4].Label != "" {
			t.Fatalf("explanation %+v", e)
		}
	}
}

// leaderBehind is a registry whose leader has not yet heard a server that
// this node has: it refuses a proposal with an explanation as the leader
// does (registryraft's refusal), and takes one without.
type leaderBehind struct {
	fakeRegistry
	refused []string // request ids refused
	applied []string
}

func (r *leaderBehind) MatchAnswersBehind() []string { return nil }

func (r *leaderBehind) Apply(ctx context.Context, cmd *registry.Command) (registry.Outcome, error) {
	if p, ok := cmd.Payload.(registry.ProposeMatch); ok && p.Explanation != nil {
		r.refused = append(r.refused, cmd.RequestID)
		return registry.Outcome{}, fmt.Errorf("%w: reasons, changed answers, explained scores and first answers only of matches are not yet applied by every registry server; still on an earlier build: spiffe://accord.test/member/FR/node/fr-1", registry.ErrFailedPrecondition)
	}
	r.applied = append(r.applied, cmd.RequestID)
	return r.fakeRegistry.Apply(ctx, cmd)
}

// TestProposalWithoutExplanationWhenTheLeaderIsBehind: a node that sees
// every server apply match answers v2 before the leader does (a server
// that just joined answered it first) has its proposal refused by the
// leader; it proposes again without the explanation, under a request id
// of its own, and the match is not lost.
func TestProposalWithoutExplanationWhenTheLeaderIsBehind(t *testing.T) {
	mt := matching.Match{A: "FR-1", B: "UA-1", Model: matching.DefaultModel()}
	exp, _ := mt.Explain()
	mt.Weight, mt.Score = exp.Weight, math.Round(exp.Probability*10000)/10000
	reg := &leaderBehind{}
	m := New("FR", nil, reg, Options{})
	for _, id := range []string{"FR-1", "UA-1"} {
		m.sens.Store(id, accordv1.Sensitivity_SENSITIVITY_FEDERATION)
	}
	m.proposeWith(context.Background(), []matching.Match{mt}, map[string]registry.MatchDecision{})
	if len(reg.refused) != 1 || len(reg.applied) != 1 || reg.applied[0] != reg.refused[0]+".plain" {
		t.Fatalf("refused %v, applied %v: want the proposal sent again without its explanation", reg.refused, reg.applied)
	}
	if len(reg.proposed) != 1 || reg.proposed[0].Explanation != nil {
		t.Fatalf("proposed %+v", reg.proposed)
	}
	if m.proposed.Load() != 1 {
		t.Fatalf("proposed counter %d", m.proposed.Load())
	}
}
