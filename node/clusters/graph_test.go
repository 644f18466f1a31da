package clusters

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/accordfed/accord/federation/registry"
)

// world is the decisions a test has made, to recompute the clusters from
// scratch and compare them with the graph's.
type world struct {
	decisions map[string]registry.MatchDecision
	withdrawn map[string]bool
	next      int
	index     uint64
}

func newWorld() *world {
	return &world{decisions: map[string]registry.MatchDecision{}, withdrawn: map[string]bool{}}
}

func ref(caseID string) registry.CaseRef {
	m, _, _ := strings.Cut(caseID, "-")
	return registry.CaseRef{Member: m, CaseID: caseID}
}

// propose makes a decision of the cases, pending for each member.
func (w *world) propose(score float64, caseIDs ...string) registry.MatchDecision {
	w.next++
	w.index++
	var cases []registry.CaseRef
	for _, id := range caseIDs {
		cases = append(cases, ref(id))
	}
	slices.SortFunc(cases, compareRefs)
	var answers []registry.Consent
	for _, c := range cases {
		if !slices.ContainsFunc(answers, func(a registry.Consent) bool { return a.Member == c.Member }) {
			answers = append(answers, registry.Consent{Member: c.Member, Answer: registry.AnswerPending})
		}
	}
	d := registry.MatchDecision{ID: fmt.Sprintf("match-%06d", w.next), Cases: cases, Score: score,
		Status: registry.MatchProposed, Decisions: answers,
		Created: registry.Change{Index: w.index}, Updated: registry.Change{Index: w.index}}
	w.decisions[d.ID] = d
	return d
}

// answer records member's answer and the status it makes.
func (w *world) answer(id, member string, yes bool) registry.MatchDecision {
	w.index++
	d := w.decisions[id]
	d.Decisions = slices.Clone(d.Decisions)
	all := true
	for i := range d.Decisions {
		if d.Decisions[i].Member == member {
			d.Decisions[i].Answer = registry.AnswerNo
			if yes {
				d.Decisions[i].Answer = registry.AnswerYes
			}
		}
		all = all && d.Decisions[i].Answer == registry.AnswerYes
	}
	d.Status = registry.MatchProposed
	switch {
	case slices.ContainsFunc(d.Decisions, func(c registry.Consent) bool { return c.Answer == registry.AnswerNo }):
		d.Status = registry.MatchRejected
	case all:
		d.Status = registry.MatchConfirmed
	}
	d.Updated = registry.Change{Index: w.index}
	w.decisions[id] = d
	return d
}

// components recomputes the clusters from scratch: union-find over the
// decisions that link. Each is "id: case case ...".
func (w *world) components() []string {
	parent := map[registry.CaseRef]registry.CaseRef{}
	var find func(x registry.CaseRef) registry.CaseRef
	find = func(x registry.CaseRef) registry.CaseRef {
		if p, ok := parent[x]; ok && p != x {
			r := find(p)
			parent[x] = r
			return r
		}
		parent[x] = x
		return x
	}
	lowest := map[registry.CaseRef]string{}
	var linking []registry.MatchDecision
	for _, d := range w.decisions {
		if d.Status == registry.MatchRejected {
			continue
		}
		var present []registry.CaseRef
		for _, c := range d.Cases {
			if !w.withdrawn[c.CaseID] {
				present = append(present, c)
			}
		}
		if len(present) < 2 {
			continue
		}
		d.Cases = present
		linking = append(linking, d)
		for _, c := range present[1:] {
			parent[find(c)] = find(present[0])
		}
	}
	members := map[registry.CaseRef][]string{}
	for x := range parent {
		members[find(x)] = append(members[find(x)], x.String())
	}
	for _, d := range linking {
		r := find(d.Cases[0])
		if low, ok := lowest[r]; !ok || compareIDs(d.ID, low) < 0 {
			lowest[r] = d.ID
		}
	}
	var out []string
	for r, cs := range members {
		sort.Strings(cs)
		out = append(out, clusterID(lowest[r])+": "+strings.Join(cs, " "))
	}
	sort.Strings(out)
	return out
}

// graphComponents lists the graph's clusters in the same form, checking
// that its indexes agree with each other.
func graphComponents(t *testing.T, g *Graph) []string {
	t.Helper()
	var out []string
	after := ""
	for {
		page, more := g.List(Query{After: after, Limit: 7})
		for _, c := range page {
			var cs []string
			for _, x := range c.Cases {
				cs = append(cs, x.String())
				if o, ok := g.Of(x); !ok || o.ID != c.ID {
					t.Fatalf("case %s is in %s but Of says %s (%v)", x, c.ID, o.ID, ok)
				}
			}
			sort.Strings(cs)
			out = append(out, c.ID+": "+strings.Join(cs, " "))
			after = c.ID
		}
		if !more {
			break
		}
	}
	if len(out) != g.Len() {
		t.Fatalf("List gave %d clusters, Len says %d", len(out), g.Len())
	}
	sort.Strings(out)
	return out
}

func sameComponents(t *testing.T, step string, w *world, g *Graph) {
	t.Helper()
	want, got := w.components(), graphComponents(t, g)
	if !slices.Equal(got, want) {
		for i := 0; i < max(len(got), len(want)); i++ {
			var a, b string
			if i < len(got) {
				a = got[i]
			}
			if i < len(want) {
				b = want[i]
			}
			if a != b {
				t.Fatalf("%s: clusters differ from a full recomputation (%d vs %d)\n got: %s\nwant: %s", step, len(got), len(want), a, b)
			}
		}
	}
}

func TestComponentsFollowChanges(t *testing.T) {
	w, g := newWorld(), New("UA", nil, Config{})
	put := func(d registry.MatchDecision) { g.Put(d, d.Updated.Index) }

	a := w.propose(0.9, "UA-1", "PL-1")
	put(a)
	b := w.propose(0.8, "PL-1", "DE-1")
	put(b)
	c := w.propose(0.7, "UA-2", "LT-2")
	put(c)
	sameComponents(t, "three decisions", w, g)
	if g.Len() != 2 {
		t.Fatalf("%d clusters, want 2", g.Len())
	}
	got, ok := g.Of(ref("DE-1"))
	if !ok || got.ID != "cluster-000001" || len(got.Cases) != 3 || got.Awaiting != 1 || got.MinScore != 0.8 || got.MaxScore != 0.9 ||
		!slices.Equal(got.Members, []string{"DE", "PL", "UA"}) {
		t.Fatalf("cluster of DE-1: %+v", got)
	}
	// A decision joining the two clusters merges them.
	d := w.propose(0.6, "DE-1", "LT-2")
	put(d)
	sameComponents(t, "merge", w, g)
	if g.Len() != 1 {
		t.Fatalf("%d clusters after the merge, want 1", g.Len())
	}
	// UA confirms one: it no longer waits for UA.
	put(w.answer(a.ID, "UA", true))
	if got, _ := g.Of(ref("UA-1")); got.Awaiting != 1 {
		t.Fatalf("awaiting %d after UA answered one of two, want 1", got.Awaiting)
	}
	// Rejecting the joining decision splits them again, as they were.
	put(w.answer(d.ID, "DE", false))
	sameComponents(t, "split by rejection", w, g)
	if g.Len() != 2 {
		t.Fatalf("%d clusters after the rejection, want 2", g.Len())
	}
	// Rejecting the lowest decision renames the cluster and lets UA-1 go.
	put(w.answer(a.ID, "PL", false))
	sameComponents(t, "lowest rejected", w, g)
	if _, ok := g.Of(ref("UA-1")); ok {
		t.Fatal("UA-1 is still in a cluster with no decision linking it")
	}
	if _, ok := g.Get("cluster-000002"); !ok {
		t.Fatal("the cluster of PL-1 and DE-1 is not named after match-000002")
	}
	// A withdrawn case links nothing; it links again when it comes back.
	g.Withdraw("PL-1")
	w.withdrawn["PL-1"] = true
	sameComponents(t, "withdrawn", w, g)
	g.Restore("PL-1")
	delete(w.withdrawn, "PL-1")
	sameComponents(t, "restored", w, g)
	// A group decision of three cases links all three.
	put(w.propose(0.95, "UA-9", "PL-9", "DE-9"))
	sameComponents(t, "group", w, g)
}

// TestComponentsRandom changes a random federation's decisions at random
// and compares the graph with a full recomputation after every change.
func TestComponentsRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	members := []string{"UA", "PL", "DE", "LT", "FR"}
	caseIDs := func(n int) []string {
		var out []string
		for len(out) < n {
			m := members[rng.IntN(len(members))]
			id := fmt.Sprintf("%s-%d", m, rng.IntN(40))
			if !slices.ContainsFunc(out, func(x string) bool { return x == id || strings.HasPrefix(x, m+"-") }) {
				out = append(out, id)
			}
		}
		return out
	}
	for round := range 3 {
		w, g := newWorld(), New("UA", nil, Config{})
		var ids []string
		for step := range 400 {
			switch r := rng.IntN(10); {
			case r < 5 || len(ids) == 0:
				n := 2
				if rng.IntN(8) == 0 {
					n = 3
				}
				d := w.propose(rng.Float64(), caseIDs(n)...)
				ids = append(ids, d.ID)
				g.Put(d, d.Updated.Index)
			case r < 9:
				d := w.decisions[ids[rng.IntN(len(ids))]]
				m := d.Decisions[rng.IntN(len(d.Decisions))].Member
				nd := w.answer(d.ID, m, rng.IntN(3) > 0)
				g.Put(nd, nd.Updated.Index)
			default:
				m := members[rng.IntN(len(members))]
				id := fmt.Sprintf("%s-%d", m, rng.IntN(40))
				if w.withdrawn[id] {
					delete(w.withdrawn, id)
					g.Restore(id)
				} else {
					w.withdrawn[id] = true
					g.Withdraw(id)
				}
			}
			sameComponents(t, fmt.Sprintf("round %d step %d", round, step), w, g)
		}
	}
}

// TestComponentsDevDataset feeds the dev dataset's true cross-member
// pairs as decisions in a random order, rejects a tenth of them and
// withdraws some cases, and compares with a full recomputation.
func TestComponentsDevDataset(t *testing.T) {
	path := filepath.Join("..", "..", "..", "shared", "datasets", "dedup-dev", "truth.jsonl")
	fh, err := os.Open(path)
	if err != nil {
		t.Skipf("dataset not present (expected ../shared/datasets beside the repository: %v); skipping", err)
	}
	defer fh.Close()
	var pairs [][2]string
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		var p struct{ A, B string }
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			t.Fatal(err)
		}
		if ref(p.A).Member != ref(p.B).Member {
			pairs = append(pairs, [2]string{p.A, p.B})
		}
	}
	rng := rand.New(rand.NewPCG(3, 4))
	rng.Shuffle(len(pairs), func(i, j int) { pairs[i], pairs[j] = pairs[j], pairs[i] })
	w, g := newWorld(), New("UA", nil, Config{})
	var ids []string
	for i, p := range pairs {
		d := w.propose(0.9, p[0], p[1])
		g.Put(d, d.Updated.Index)
		ids = append(ids, d.ID)
		if i%500 == 0 {
			sameComponents(t, fmt.Sprintf("after %d pairs", i+1), w, g)
		}
	}
	sameComponents(t, "every pair", w, g)
	sizes := map[int]int{}
	for _, c := range w.components() {
		sizes[strings.Count(c, " ")]++
	}
	t.Logf("%d cross-member pairs make %d clusters; by cases: %v", len(pairs), len(w.components()), sizes)
	for i, id := range ids {
		if i%10 == 0 {
			d := w.decisions[id]
			nd := w.answer(id, d.Decisions[0].Member, false)
			g.Put(nd, nd.Updated.Index)
		}
	}
	sameComponents(t, "a tenth rejected", w, g)
	for i, p := range pairs {
		if i%37 == 0 {
			w.withdrawn[p[0]] = true
			g.Withdraw(p[0])
		}
	}
	sameComponents(t, "cases withdrawn", w, g)
}
