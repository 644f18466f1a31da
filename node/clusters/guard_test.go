package clusters

import (
	"slices"
	"testing"

	"github.com/accordfed/accord/federation/registry"
)

// pairScores scores the pairs it lists, and 0.01 every other pair of
// known cases.
type pairScores struct {
	scores map[[2]string]float64
	known  map[string]bool
}

func (p pairScores) ScorePair(a, b string) (float64, bool) {
	if !p.known[a] || !p.known[b] {
		return 0, false
	}
	if a > b {
		a, b = b, a
	}
	if s, ok := p.scores[[2]string{a, b}]; ok {
		return s, true
	}
	return 0.01, true
}

func TestChainingGuard(t *testing.T) {
	sc := pairScores{scores: map[[2]string]float64{}, known: map[string]bool{}}
	for _, id := range []string{"UA-1", "PL-1", "DE-1", "UA-2", "LT-2", "FR-2"} {
		sc.known[id] = true
	}
	alike := func(ids ...string) {
		for i, a := range ids {
			for _, b := range ids[i+1:] {
				sc.scores[[2]string{min(a, b), max(a, b)}] = 0.9
			}
		}
	}
	// Two incidents: UA-1, PL-1, DE-1 all alike; UA-2, LT-2, FR-2 all
	// alike; one weak decision (DE-1 ~ LT-2) chains them.
	alike("UA-1", "PL-1", "DE-1")
	alike("UA-2", "LT-2", "FR-2")
	w, g := newWorld(), New("UA", sc, Config{})
	for _, d := range []registry.MatchDecision{
		w.propose(0.9, "UA-1", "PL-1"), w.propose(0.9, "PL-1", "DE-1"),
		w.propose(0.9, "UA-2", "LT-2"), w.propose(0.9, "LT-2", "FR-2"),
	} {
		g.Put(d, d.Updated.Index)
	}
	for _, id := range []string{"cluster-000001", "cluster-000003"} {
		if c, ok := g.Get(id); !ok || c.Guard.Flagged || len(c.Guard.Weak) != 0 {
			t.Fatalf("%s: %+v %v, want unflagged", id, c.Guard, ok)
		}
	}
	chain := w.propose(0.55, "DE-1", "LT-2")
	g.Put(chain, chain.Updated.Index)
	c, ok := g.Get("cluster-000001")
	if !ok || len(c.Cases) != 6 {
		t.Fatalf("merged cluster: %+v %v", c, ok)
	}
	gd := c.Guard
	if !gd.Flagged || len(gd.Weak) != 3*3-1 || gd.Why == "" {
		t.Fatalf("guard %+v: want flagged with 8 weak pairs (9 across, one linked)", gd)
	}
	if gd.Split == nil || gd.Split.Match != chain.ID || gd.Split.Separates != 8 {
		t.Fatalf("split %+v: want at %s separating 8", gd.Split, chain.ID)
	}
	want := [2][]registry.CaseRef{
		{ref("DE-1"), ref("PL-1"), ref("UA-1")},
		{ref("FR-2"), ref("LT-2"), ref("UA-2")},
	}
	if !slices.Equal(gd.Split.Sides[0], want[0]) || !slices.Equal(gd.Split.Sides[1], want[1]) {
		t.Fatalf("sides %v, want %v", gd.Split.Sides, want)
	}
	if fl, _ := g.List(Query{Flagged: true}); len(fl) != 1 || fl[0].ID != c.ID {
		t.Fatalf("flagged list %v", fl)
	}
	// Were the two incidents one after all (every pair alike), nothing
	// is flagged.
	alike("UA-1", "PL-1", "DE-1", "UA-2", "LT-2", "FR-2")
	sc2 := pairScores{scores: sc.scores, known: sc.known}
	g2 := New("UA", sc2, Config{})
	for _, d := range w.decisions {
		g2.Put(d, d.Updated.Index)
	}
	if c, _ := g2.Get("cluster-000001"); c.Guard.Flagged {
		t.Fatalf("all alike, yet flagged: %+v", c.Guard)
	}
	// A pair the scorer does not know is neither weak nor alike.
	delete(sc.known, "FR-2")
	g3 := New("UA", sc, Config{})
	for _, d := range w.decisions {
		g3.Put(d, d.Updated.Index)
	}
	if c, _ := g3.Get("cluster-000001"); c.Guard.Unscored != 4 {
		t.Fatalf("unscored %d, want 4 (FR-2 with the others it is not linked to)", c.Guard.Unscored)
	}
	// Too large: flagged without comparing.
	g4 := New("UA", nil, Config{MaxGuardCases: 3})
	for _, d := range w.decisions {
		g4.Put(d, d.Updated.Index)
	}
	if c, _ := g4.Get("cluster-000001"); !c.Guard.Flagged || c.Guard.Split == nil {
		t.Fatalf("a cluster larger than MaxGuardCases: %+v", c.Guard)
	}
}
