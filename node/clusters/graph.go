package clusters

import (
	"container/heap"
	"context"
	"slices"
	"strings"
	"sync"

	"github.com/google/btree"

	"github.com/accordfed/accord/federation/registry"
)

// Link is a match decision as the graph holds it: its cases (those not
// withdrawn), its score and where it stands.
type Link struct {
	Match string
	// Cases are ordered by member, then case id.
	Cases  []registry.CaseRef
	Score  float64
	Status registry.MatchStatus
	// Answers are the involved members' current answers, by member.
	Answers []registry.Consent
	// Updated is the registry index of the decision's latest change.
	Updated uint64
}

// answerOf returns member's current answer on the link.
func (l *Link) answerOf(member string) registry.Answer {
	for _, c := range l.Answers {
		if c.Member == member {
			return c.Answer
		}
	}
	return ""
}

// cluster is one connected component. Its sets are slices: clusters are
// small (a handful of cases), and a slice costs a fraction of a map.
type cluster struct {
	id  string
	low string // the lowest decision in links (id names it)
	// lows holds the ids of its links as a min-heap (with ids of links
	// that have left it since, dropped when they come to the top), so that
	// the next lowest decision is found without a walk over every link.
	lows    idHeap
	cases   []registry.CaseRef
	links   []string // decision ids; their Links are in Graph.links
	version uint64   // bumped on every change, for the guard's cache
	guard   *Guard
	guardAt uint64 // version the guard was computed at
}

// Graph is a member's incident clusters. It is safe for concurrent use.
type Graph struct {
	member string
	scorer Scorer
	cfg    Config

	mu sync.RWMutex
	// all holds every decision seen, by id (rejected ones too), so that a
	// case that comes back links again; touch says which decisions name a
	// case id.
	all   map[string]*Link
	touch map[string][]string
	// links are the decisions that link (active), byCase those touching a
	// case, comp the cluster a case is in.
	links     map[string]*Link
	byCase    map[registry.CaseRef][]string
	comp      map[registry.CaseRef]*cluster
	byID      *btree.BTreeG[*cluster]
	withdrawn map[string]bool
	applied   uint64
	version   uint64
	// advanced is closed and replaced when applied grows (WaitApplied).
	advanced chan struct{}
}

// Scorer scores a pair of cases by their case ids: the probability that
// they concern the same incident under the node's matching model, and
// false when one of them is not known to it.
type Scorer interface {
	ScorePair(a, b string) (float64, bool)
}

// Config tunes a Graph.
type Config struct {
	// Threshold is the lowest score at which two cases of a cluster count
	// as alike (default 0.5, the matcher's proposal threshold).
	Threshold float64
	// MaxGuardCases: a cluster with more cases is flagged without its
	// pairs being compared (default 60).
	MaxGuardCases int
}

func (c *Config) setDefaults() {
	if c.Threshold <= 0 {
		c.Threshold = 0.5
	}
	if c.MaxGuardCases <= 0 {
		c.MaxGuardCases = 60
	}
}

// New returns the empty graph of member. scorer may be nil: no pair is
// then compared, and clusters are never flagged for chaining (only for
// size).
func New(member string, scorer Scorer, cfg Config) *Graph {
	cfg.setDefaults()
	return &Graph{
		member: member, scorer: scorer, cfg: cfg,
		all: map[string]*Link{}, touch: map[string][]string{},
		links: map[string]*Link{}, byCase: map[registry.CaseRef][]string{},
		comp:      map[registry.CaseRef]*cluster{},
		byID:      btree.NewG(32, func(a, b *cluster) bool { return compareIDs(a.id, b.id) < 0 }),
		withdrawn: map[string]bool{},
		advanced:  make(chan struct{}),
	}
}

// compareRefs and compareIDs order cases and decisions as the registry
// does.
var (
	compareRefs = registry.CompareCaseRefs
	compareIDs  = registry.CompareIDs
)

// clusterID names the cluster whose lowest decision is match.
func clusterID(match string) string {
	return "cluster-" + strings.TrimPrefix(match, "match-")
}

// Applied returns the registry index the graph reflects.
func (g *Graph) Applied() uint64 {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.applied
}

// Put takes a decision as it now stands, changed at registry index index
// (0: not known).
func (g *Graph) Put(d registry.MatchDecision, index uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	l := &Link{Match: d.ID, Cases: slices.Clone(d.Cases), Score: d.Score, Status: d.Status,
		Answers: slices.Clone(d.Decisions), Updated: d.Updated.Index}
	if old, ok := g.all[d.ID]; ok {
		for _, c := range old.Cases {
			g.untouch(c.CaseID, d.ID)
		}
	}
	g.all[d.ID] = l
	for _, c := range l.Cases {
		g.touch[c.CaseID] = append(g.touch[c.CaseID], d.ID)
	}
	g.relink(l)
	g.advance(max(index, d.Updated.Index))
}

// advance records that the graph reflects the registry up to index; call
// with mu held for writing.
func (g *Graph) advance(index uint64) {
	if index > g.applied {
		g.applied = index
		close(g.advanced)
		g.advanced = make(chan struct{})
	}
}

// WaitApplied waits until the graph reflects the registry up to index, or
// ctx ends.
func (g *Graph) WaitApplied(ctx context.Context, index uint64) error {
	for {
		g.mu.RLock()
		done, ch := g.applied >= index, g.advanced
		g.mu.RUnlock()
		if done {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (g *Graph) untouch(caseID, match string) {
	if t := without(g.touch[caseID], match); len(t) > 0 {
		g.touch[caseID] = t
	} else {
		delete(g.touch, caseID)
	}
}

// without returns ids without id (in place).
func without(ids []string, id string) []string {
	if i := slices.Index(ids, id); i >= 0 {
		ids[i] = ids[len(ids)-1]
		return ids[:len(ids)-1]
	}
	return ids
}

// SetApplied records that the graph reflects the registry up to index.
func (g *Graph) SetApplied(index uint64) {
	g.mu.Lock()
	g.advance(index)
	g.mu.Unlock()
}

// Withdraw leaves a case out (deleted at its office, or no longer shared
// with this member); Restore takes it back.
func (g *Graph) Withdraw(caseID string) { g.setWithdrawn(caseID, true) }

// Restore takes back a case Withdraw left out.
func (g *Graph) Restore(caseID string) { g.setWithdrawn(caseID, false) }

func (g *Graph) setWithdrawn(caseID string, w bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.withdrawn[caseID] == w {
		return
	}
	if w {
		g.withdrawn[caseID] = true
	} else {
		delete(g.withdrawn, caseID)
	}
	for _, id := range slices.Clone(g.touch[caseID]) {
		g.relink(g.all[id])
	}
}

// active returns the cases through which l links, or nil when it links
// nothing: rejected, or fewer than two cases not withdrawn.
func (g *Graph) active(l *Link) []registry.CaseRef {
	if l.Status == registry.MatchRejected {
		return nil
	}
	n := 0
	for _, c := range l.Cases {
		if !g.withdrawn[c.CaseID] {
			n++
		}
	}
	switch {
	case n < 2:
		return nil
	case n == len(l.Cases):
		return l.Cases
	}
	out := make([]registry.CaseRef, 0, n)
	for _, c := range l.Cases {
		if !g.withdrawn[c.CaseID] {
			out = append(out, c)
		}
	}
	return out
}

// linkOf returns l as it links through cases: l itself when they are all
// its cases, else a copy.
func linkOf(l *Link, cases []registry.CaseRef) *Link {
	if len(cases) == len(l.Cases) {
		return l
	}
	nl := *l
	nl.Cases = cases
	return &nl
}

// relink brings the components in line with l as it now stands.
func (g *Graph) relink(l *Link) {
	g.version++
	cases := g.active(l)
	old, had := g.links[l.Match]
	if had && cases != nil && slices.Equal(old.Cases, cases) {
		// Same cases: the score, status or answers changed.
		g.links[l.Match] = linkOf(l, cases)
		g.comp[cases[0]].version = g.version
		return
	}
	if had {
		g.removeLink(old)
	}
	if cases != nil {
		g.addLink(linkOf(l, cases))
	}
}

func (g *Graph) addLink(l *Link) {
	g.links[l.Match] = l
	var target *cluster
	var others []*cluster
	for _, c := range l.Cases {
		g.byCase[c] = append(g.byCase[c], l.Match)
		k := g.comp[c]
		if k == nil || k == target || slices.Contains(others, k) {
			continue
		}
		switch {
		case target == nil:
			target = k
		case len(k.cases) > len(target.cases):
			others = append(others, target)
			target = k
		default:
			others = append(others, k)
		}
	}
	if target == nil {
		target = &cluster{}
	} else {
		g.byID.Delete(target)
	}
	for _, k := range others {
		g.byID.Delete(k)
		for _, c := range k.cases {
			g.comp[c] = target
		}
		target.cases = append(target.cases, k.cases...)
		target.links = append(target.links, k.links...)
		for _, id := range k.lows {
			heap.Push(&target.lows, id)
		}
	}
	for _, c := range l.Cases {
		if g.comp[c] != target {
			g.comp[c] = target
			target.cases = append(target.cases, c)
		}
	}
	target.links = append(target.links, l.Match)
	heap.Push(&target.lows, l.Match)
	// The lowest decision of the merged cluster is the lowest of the
	// parts' and l: no walk over every link (a member that proposes many
	// decisions around one case must not make each one cost the whole
	// component).
	low := l.Match
	for _, k := range append(others, target) {
		if k.low != "" && compareIDs(k.low, low) < 0 {
			low = k.low
		}
	}
	target.low, target.id, target.version = low, clusterID(low), g.version
	g.byID.ReplaceOrInsert(target)
}

// seat names a cluster after its lowest decision and files it.
func (g *Graph) seat(c *cluster) {
	c.low = g.lowest(c)
	c.id = clusterID(c.low)
	c.version = g.version
	c.cases = slices.Clip(c.cases)
	g.byID.ReplaceOrInsert(c)
}

// lowest returns the lowest decision of c, dropping from the top of its
// heap the ids of links that left it.
func (g *Graph) lowest(c *cluster) string {
	for len(c.lows) > 0 {
		id := c.lows[0]
		if l, ok := g.links[id]; ok && g.comp[l.Cases[0]] == c {
			return id
		}
		heap.Pop(&c.lows)
	}
	return ""
}

// idHeap is a min-heap of decision ids (container/heap).
type idHeap []string

func (h idHeap) Len() int           { return len(h) }
func (h idHeap) Less(i, j int) bool { return compareIDs(h[i], h[j]) < 0 }
func (h idHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *idHeap) Push(x any)        { *h = append(*h, x.(string)) }
func (h *idHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// heapOf returns the ids as a heap.
func heapOf(ids []string) idHeap {
	h := idHeap(slices.Clone(ids))
	heap.Init(&h)
	return h
}

func (g *Graph) removeLink(l *Link) {
	delete(g.links, l.Match)
	for _, c := range l.Cases {
		if ids := without(g.byCase[c], l.Match); len(ids) > 0 {
			g.byCase[c] = ids
		} else {
			delete(g.byCase, c)
		}
	}
	c := g.comp[l.Cases[0]]
	g.byID.Delete(c)
	// A link whose cases but one have no other link only drops those
	// cases: the rest stays connected (every path through the link ended
	// at them). No search of the component (a member rejecting its many
	// proposals around one case must not make each cost the component).
	var stay int
	var leaves []registry.CaseRef
	for _, x := range l.Cases {
		if len(g.byCase[x]) > 0 {
			stay++
		} else {
			leaves = append(leaves, x)
		}
	}
	if stay == 1 {
		for _, x := range leaves {
			delete(g.comp, x)
			if i := slices.Index(c.cases, x); i >= 0 {
				c.cases[i] = c.cases[len(c.cases)-1]
				c.cases = c.cases[:len(c.cases)-1]
			}
		}
		c.links = without(c.links, l.Match)
		if c.low == l.Match {
			g.seat(c) // a new lowest decision: a new id
			return
		}
		c.version = g.version
		g.byID.ReplaceOrInsert(c)
		return
	}
	// Search the component again from each case: the parts that still
	// hold a link are the new clusters; a case left without links leaves.
	seen := make(map[registry.CaseRef]bool, len(c.cases))
	var parts []*cluster
	for _, start := range c.cases {
		if seen[start] {
			continue
		}
		part := &cluster{}
		linked := map[string]bool{}
		queue := []registry.CaseRef{start}
		seen[start] = true
		for len(queue) > 0 {
			x := queue[len(queue)-1]
			queue = queue[:len(queue)-1]
			part.cases = append(part.cases, x)
			for _, id := range g.byCase[x] {
				if linked[id] {
					continue
				}
				linked[id] = true
				part.links = append(part.links, id)
				for _, y := range g.links[id].Cases {
					if !seen[y] {
						seen[y] = true
						queue = append(queue, y)
					}
				}
			}
		}
		if len(part.links) == 0 {
			delete(g.comp, start)
			continue
		}
		parts = append(parts, part)
	}
	if len(parts) == 1 {
		// Still one: keep the cluster (and its place), without the link.
		c.cases, c.links = parts[0].cases, parts[0].links
		g.seat(c)
		return
	}
	for _, p := range parts {
		for _, x := range p.cases {
			g.comp[x] = p
		}
		p.lows = heapOf(p.links)
		g.seat(p)
	}
}
