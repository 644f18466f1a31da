package clusters

import (
	"maps"
	"slices"

	"github.com/accordfed/accord/federation/registry"
)

// Cluster is a copy of one cluster as it stands.
type Cluster struct {
	ID string
	// Cases are ordered by member, then case id.
	Cases []registry.CaseRef
	// Links are the decisions that link them, by id.
	Links []Link
	// Members hold the cases, in order.
	Members []string
	// Awaiting counts the decisions that wait for the graph's member's
	// answer.
	Awaiting int
	// MinScore and MaxScore are the lowest and highest decision scores.
	MinScore, MaxScore float64
	// Updated is the registry index of the latest change of a decision.
	Updated uint64
	// Guard is the chaining guard's finding.
	Guard Guard
}

// Query filters and pages List.
type Query struct {
	// After: clusters after this id only (the last id of the page before).
	After string
	// Limit: at most this many (0: 100).
	Limit int
	// Awaiting: only clusters with a decision waiting for the member's
	// answer.
	Awaiting bool
	// Member: only clusters that hold a case of this member.
	Member string
	// Flagged: only clusters the chaining guard flags.
	Flagged bool
	// MinCases: only clusters of at least this many cases.
	MinCases int
}

// Get returns the cluster id as it stands.
func (g *Graph) Get(id string) (Cluster, bool) {
	g.mu.Lock() // the guard's cache is written
	defer g.mu.Unlock()
	c, ok := g.byID.Get(&cluster{id: id})
	if !ok {
		return Cluster{}, false
	}
	return g.copyOf(c), true
}

// Of returns the cluster a case is in.
func (g *Graph) Of(ref registry.CaseRef) (Cluster, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	c := g.comp[ref]
	if c == nil {
		return Cluster{}, false
	}
	return g.copyOf(c), true
}

// Len returns how many clusters there are.
func (g *Graph) Len() int {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.byID.Len()
}

// List returns the clusters q asks for, by id, and whether more follow.
func (g *Graph) List(q Query) ([]Cluster, bool) {
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []Cluster
	more := false
	visit := func(c *cluster) bool {
		if !g.wanted(c, q) {
			return true
		}
		if len(out) == limit {
			more = true
			return false
		}
		out = append(out, g.copyOf(c))
		return true
	}
	if q.After == "" {
		g.byID.Ascend(visit)
	} else {
		g.byID.AscendGreaterOrEqual(&cluster{id: q.After}, func(c *cluster) bool {
			return c.id == q.After || visit(c)
		})
	}
	return out, more
}

func (g *Graph) wanted(c *cluster, q Query) bool {
	if len(c.cases) < q.MinCases {
		return false
	}
	if q.Member != "" {
		found := false
		for _, ref := range c.cases {
			if ref.Member == q.Member {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	if q.Awaiting && g.awaiting(c) == 0 {
		return false
	}
	if q.Flagged && !g.guardOf(c).Flagged {
		return false
	}
	return true
}

func (g *Graph) awaiting(c *cluster) int {
	n := 0
	for _, id := range c.links {
		if l := g.links[id]; l.Status == registry.MatchProposed && l.answerOf(g.member) == registry.AnswerPending {
			n++
		}
	}
	return n
}

// copyOf copies a cluster out; call with mu held for writing.
func (g *Graph) copyOf(c *cluster) Cluster {
	out := Cluster{ID: c.id, Awaiting: g.awaiting(c), Guard: g.guardOf(c)}
	out.Cases = slices.SortedFunc(slices.Values(c.cases), compareRefs)
	members := map[string]bool{}
	for _, ref := range out.Cases {
		if !members[ref.Member] {
			members[ref.Member] = true
			out.Members = append(out.Members, ref.Member)
		}
	}
	for i, id := range slices.SortedFunc(slices.Values(c.links), compareIDs) {
		l := g.links[id]
		out.Links = append(out.Links, *l)
		out.Updated = max(out.Updated, l.Updated)
		if i == 0 || l.Score < out.MinScore {
			out.MinScore = l.Score
		}
		out.MaxScore = max(out.MaxScore, l.Score)
	}
	return out
}

// Cut returns the cases of cluster id on the side of decision match's
// first case once match no longer links, and whether that cuts the
// cluster (false too when there is no such cluster or decision in it).
func (g *Graph) Cut(id, match string) ([]registry.CaseRef, bool) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	c, ok := g.byID.Get(&cluster{id: id})
	if !ok {
		return nil, false
	}
	if !slices.Contains(c.links, match) {
		return nil, false
	}
	l := g.links[match]
	side := g.reach(c, l.Cases[0], match)
	if len(side) == len(c.cases) {
		return nil, false
	}
	return slices.SortedFunc(maps.Keys(side), compareRefs), true
}
