package registry

import (
	"maps"
	"slices"
)

// table is one copy-on-write map of the registry's state.
//
// The records a table holds are immutable once stored: a change stores a
// modified copy. A table itself is changed in place only while it belongs to
// the state's current generation. Snapshot starts a new generation, so the
// first change after a snapshot copies the map (pointers only) and the
// snapshot keeps reading the old one without locks while Apply goes on.
type table[V any] struct {
	gen uint64
	m   map[string]V
}

func newTable[V any](gen uint64) *table[V] {
	return &table[V]{gen: gen, m: map[string]V{}}
}

func (t *table[V]) get(k string) (V, bool) {
	v, ok := t.m[k]
	return v, ok
}

func (t *table[V]) len() int { return len(t.m) }

// writable returns a table of generation gen that may be changed: t itself
// if it already belongs to gen, else a copy.
func (t *table[V]) writable(gen uint64) *table[V] {
	if t.gen == gen {
		return t
	}
	return &table[V]{gen: gen, m: maps.Clone(t.m)}
}

// sortedKeys returns the keys in the order cmp gives (strings.Compare for
// names and codes, idCompare for generated ids).
func (t *table[V]) sortedKeys(cmp func(a, b string) int) []string {
	keys := slices.Collect(maps.Keys(t.m))
	slices.SortFunc(keys, cmp)
	return keys
}

// idCompare orders ids numerically when they share a prefix ("jit-000010"
// after "jit-000009", also past a million) by comparing lengths first.
func idCompare(a, b string) int {
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
