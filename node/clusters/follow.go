package clusters

import (
	"context"
	"errors"

	"github.com/accordfed/accord/federation/registry"
)

// Source is what Follow needs of the node's registry
// (*registryraft.Node).
type Source interface {
	// Read calls fn with a view of the registry and returns the applied
	// index the view reflects.
	Read(ctx context.Context, linearizable bool, fn func(registry.View)) (uint64, error)
	// WaitApplied waits until the local state has applied index.
	WaitApplied(ctx context.Context, index uint64) error
}

// followBatch is how many changed decisions one read takes.
const followBatch = 2000

// Follow keeps the graph up to date with the registry until ctx ends: it
// reads the decisions changed since the graph's applied index, in the
// order of their changes, a batch at a time (the registry's lock is held
// for one batch only), and waits for the next change. While the member is
// not (yet) admitted, it waits for the registry to change.
func (g *Graph) Follow(ctx context.Context, src Source) error {
	for {
		var (
			ds      []registry.MatchDecision
			next    uint64
			readErr error
		)
		after := g.Applied()
		index, err := src.Read(ctx, false, func(v registry.View) {
			ds, next, readErr = v.MatchDecisionsChangedSince(g.member, after, followBatch)
		})
		if err != nil {
			return err
		}
		switch {
		case errors.Is(readErr, registry.ErrPermissionDenied):
			// Not admitted (yet): nothing to see.
		case readErr != nil:
			return readErr
		}
		for _, d := range ds {
			g.Put(d, d.Updated.Index)
		}
		if len(ds) == followBatch {
			g.SetApplied(next)
			continue
		}
		if readErr == nil {
			g.SetApplied(index)
		}
		if err := src.WaitApplied(ctx, index+1); err != nil {
			return err
		}
	}
}
