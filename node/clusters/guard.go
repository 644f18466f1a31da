package clusters

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/accordfed/accord/federation/registry"
)

// Guard is the chaining guard's finding on a cluster.
type Guard struct {
	// Flagged: the cluster's cases are not all alike (a weak pair), or it
	// is too large to compare them all.
	Flagged bool
	// Why says so in words (empty when not flagged).
	Why string
	// Weak are the pairs of cases that no decision links and that the
	// model scores below the threshold, lowest first.
	Weak []Pair
	// Unscored counts the pairs the scorer did not know (a case it does
	// not hold); they are neither weak nor alike.
	Unscored int
	// Split, when the cluster is flagged, is where it would split: the
	// decision whose rejection separates the most weak pairs.
	Split *Split
}

// Pair is two cases of a cluster and their score under the model.
type Pair struct {
	A, B  registry.CaseRef
	Score float64
}

// Split is a decision of a cluster whose rejection would cut the cluster
// in two, and the two sides.
type Split struct {
	Match string
	Score float64
	// Sides are the two parts' cases, each ordered; the side holding the
	// lowest case first.
	Sides [2][]registry.CaseRef
	// Separates counts the weak pairs the split puts apart.
	Separates int
}

// guardOf returns the cluster's guard, computed at its current version
// (cached); call with mu held for writing.
func (g *Graph) guardOf(c *cluster) Guard {
	if c.guard != nil && c.guardAt == c.version {
		return *c.guard
	}
	gd := g.check(c)
	c.guard, c.guardAt = &gd, c.version
	return gd
}

func (g *Graph) check(c *cluster) Guard {
	cases := slices.SortedFunc(slices.Values(c.cases), compareRefs)
	var gd Guard
	if len(cases) > g.cfg.MaxGuardCases {
		gd.Flagged = true
		gd.Why = fmt.Sprintf("%d cases: more than %d, too many to be one incident without a look; its pairs were not compared", len(cases), g.cfg.MaxGuardCases)
		gd.Split = g.split(c, nil)
		return gd
	}
	linked := map[[2]registry.CaseRef]bool{}
	for _, id := range c.links {
		l := g.links[id]
		for i, a := range l.Cases {
			for _, b := range l.Cases[i+1:] {
				linked[[2]registry.CaseRef{a, b}] = true
			}
		}
	}
	if g.scorer != nil {
		for i, a := range cases {
			for _, b := range cases[i+1:] {
				if linked[[2]registry.CaseRef{a, b}] {
					continue
				}
				s, ok := g.scorer.ScorePair(a.CaseID, b.CaseID)
				switch {
				case !ok:
					gd.Unscored++
				case s < g.cfg.Threshold:
					gd.Weak = append(gd.Weak, Pair{A: a, B: b, Score: s})
				}
			}
		}
	}
	if len(gd.Weak) == 0 {
		return gd
	}
	slices.SortStableFunc(gd.Weak, func(x, y Pair) int { return cmp.Compare(x.Score, y.Score) })
	gd.Flagged = true
	w := gd.Weak[0]
	gd.Why = fmt.Sprintf("%d pairs of its cases are not alike (lowest: %s and %s, score %.3f); linked only through other cases", len(gd.Weak), w.A, w.B, w.Score)
	gd.Split = g.split(c, gd.Weak)
	return gd
}

// maxSplitLinks bounds the search for a split: each candidate decision
// costs a search of the cluster.
const maxSplitLinks = 400

// split finds the decision whose removal cuts the cluster in two and puts
// the most weak pairs apart (all else equal, the lowest score; without
// weak pairs, the lowest-scored such decision). Nil when no single
// decision cuts it.
func (g *Graph) split(c *cluster, weak []Pair) *Split {
	if len(c.links) > maxSplitLinks {
		return nil
	}
	var best *Split
	for _, id := range slices.SortedFunc(slices.Values(c.links), compareIDs) {
		l := g.links[id]
		side := g.reach(c, l.Cases[0], id)
		if len(side) == len(c.cases) {
			continue // not a bridge
		}
		n := 0
		for _, p := range weak {
			if side[p.A] != side[p.B] {
				n++
			}
		}
		if best != nil && (n < best.Separates || n == best.Separates && l.Score >= best.Score) {
			continue
		}
		var a, b []registry.CaseRef
		for _, ref := range c.cases {
			if side[ref] {
				a = append(a, ref)
			} else {
				b = append(b, ref)
			}
		}
		slices.SortFunc(a, compareRefs)
		slices.SortFunc(b, compareRefs)
		if compareRefs(b[0], a[0]) < 0 {
			a, b = b, a
		}
		best = &Split{Match: id, Score: l.Score, Sides: [2][]registry.CaseRef{a, b}, Separates: n}
	}
	if best != nil && len(weak) > 0 && best.Separates == 0 {
		return nil
	}
	return best
}

// reach returns the cases of c reachable from start without decision
// skip.
func (g *Graph) reach(c *cluster, start registry.CaseRef, skip string) map[registry.CaseRef]bool {
	seen := map[registry.CaseRef]bool{start: true}
	queue := []registry.CaseRef{start}
	for len(queue) > 0 {
		x := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		for _, id := range g.byCase[x] {
			if id == skip {
				continue
			}
			for _, y := range g.links[id].Cases {
				if !seen[y] {
					seen[y] = true
					queue = append(queue, y)
				}
			}
		}
	}
	return seen
}
