package matchwatch

import (
	"context"
	"errors"
	"fmt"

	"github.com/accordfed/accord/federation/registry"
)

// ErrStopped is returned by Follow when the handler asks to stop.
var ErrStopped = errors.New("matchwatch: stopped by the handler")

// Source is what Follow needs of the node's registry
// (*registryraft.Node).
type Source interface {
	// Read calls fn with a view of the registry and returns the applied
	// index the view reflects.
	Read(ctx context.Context, linearizable bool, fn func(registry.View)) (uint64, error)
	// WaitApplied waits until the local state has applied index.
	WaitApplied(ctx context.Context, index uint64) error
}

// changes is the contract Follow is built on: the decisions member is
// involved in changed after index after (at most limit, in the order of
// their latest change), the index to pass next, and the applied index the
// read reflects; and a wait for an applied index.
type changes interface {
	since(ctx context.Context, member string, after uint64, limit int) (ds []registry.MatchDecision, next, applied uint64, err error)
	WaitApplied(ctx context.Context, index uint64) error
}

// registryChanges reads a Source.
type registryChanges struct{ Source }

func (r registryChanges) since(ctx context.Context, member string, after uint64, limit int) ([]registry.MatchDecision, uint64, uint64, error) {
	var (
		ds      []registry.MatchDecision
		next    uint64
		readErr error
	)
	applied, err := r.Read(ctx, false, func(v registry.View) {
		ds, next, readErr = v.MatchDecisionsChangedSince(member, after, limit)
	})
	if err != nil {
		return nil, after, 0, err
	}
	return ds, next, applied, readErr
}

// batch is how many changed decisions one read takes (the registry's lock
// is held for one batch only).
const batch = 2000

// Now returns the registry's applied index: the position "from now" (only
// what changes after the call).
func Now(ctx context.Context, src Source) (uint64, error) {
	return src.Read(ctx, false, func(registry.View) {})
}

// Follow calls handle with the events of the decisions member is involved
// in changed after index after, in the order of their latest change, then
// waits for the registry to change and goes on, until ctx ends or handle
// returns an error (returned, wrapped). While the member is not (yet)
// admitted, it waits for the registry to change. handle is called with at
// most one batch of events at a time, never with none; each event's Index
// is the position to resume from once it is handled.
func Follow(ctx context.Context, src Source, member string, after uint64, handle func([]Event) error) error {
	return follow(ctx, registryChanges{src}, member, after, handle)
}

func follow(ctx context.Context, src changes, member string, after uint64, handle func([]Event) error) error {
	for {
		ds, next, applied, err := src.since(ctx, member, after, batch)
		switch {
		case errors.Is(err, registry.ErrPermissionDenied):
			// Not admitted (yet): nothing to see; wait for a change.
			ds, next = nil, after
		case err != nil:
			return fmt.Errorf("matchwatch: reading the match decisions changed since %d: %w", after, err)
		}
		if len(ds) > 0 {
			evs := make([]Event, len(ds))
			for i, d := range ds {
				evs[i] = Classify(d)
			}
			if err := handle(evs); err != nil {
				return fmt.Errorf("%w: %w", ErrStopped, err)
			}
		}
		if len(ds) == batch {
			after = next
			continue
		}
		if err == nil && applied > after {
			after = applied
		}
		if err := src.WaitApplied(ctx, max(applied, after)+1); err != nil {
			return err
		}
	}
}
