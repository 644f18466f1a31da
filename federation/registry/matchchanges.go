package registry

import (
	"slices"
	"sort"
)

// matchChanges orders the match decisions by their latest change
// (Updated.Index), so that a reader can follow what changed since an
// index it saw (View.MatchDecisionsChangedSince) without reading every
// decision: the review queue's watchers, the incident clusters and the
// notifications do.
//
// It is a derived index: rebuilt on restore, never snapshotted, changed in
// place. A decision changed again leaves its earlier entry behind, stale
// (its index is no longer the decision's Updated.Index) and skipped on
// reading; the list is compacted when stale entries outnumber live ones.
type matchChanges struct {
	entries []matchChange // by index
	stale   int
}

type matchChange struct {
	index uint64
	id    string
}

// put records that decision id changed at index. replaced says whether the
// decision existed before (its earlier entry becomes stale).
func (c *matchChanges) put(index uint64, id string, replaced bool) {
	e := matchChange{index: index, id: id}
	n := len(c.entries)
	if n > 0 && c.entries[n-1] == e {
		return // changed twice by one command: one entry
	}
	if replaced {
		c.stale++
	}
	if n == 0 || c.entries[n-1].index <= index {
		c.entries = append(c.entries, e)
	} else {
		// Not in log order: only for entries written without an index
		// (tests); keep the list ordered.
		i := sort.Search(n, func(i int) bool { return c.entries[i].index > index })
		c.entries = slices.Insert(c.entries, i, e)
	}
}

// compact drops stale entries once they outnumber the live ones.
func (c *matchChanges) compact(live func(matchChange) bool) {
	if c.stale < 1024 || c.stale < len(c.entries)/2 {
		return
	}
	c.entries = slices.DeleteFunc(c.entries, func(e matchChange) bool { return !live(e) })
	c.stale = 0
}

// rebuild derives the list from the decisions.
func (c *matchChanges) rebuild(m map[string]*MatchDecision) {
	c.entries = c.entries[:0]
	c.stale = 0
	for id, d := range m {
		c.entries = append(c.entries, matchChange{index: d.Updated.Index, id: id})
	}
	slices.SortFunc(c.entries, func(a, b matchChange) int {
		if a.index != b.index {
			if a.index < b.index {
				return -1
			}
			return 1
		}
		return idCompare(a.id, b.id)
	})
}

// after returns the position of the first entry whose index is after index.
func (c *matchChanges) after(index uint64) int {
	return sort.Search(len(c.entries), func(i int) bool { return c.entries[i].index > index })
}
