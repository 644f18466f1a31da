package persons

import (
	"context"
	"runtime"
)

// cores bounds the person-token cryptography that runs at once in the
// process, asking (blinding, checking, the outer key) and answering
// (evaluating) together, to all cores but one (one on a single core). The
// token work of a large import (each person with every other member, both
// ways) is background work: unbounded, it made hundreds of goroutines
// runnable at once, and the node's publisher and Sync streams, which the
// other members' indexes wait for, got a sliver of the CPU.
var cores = make(chan struct{}, max(1, runtime.GOMAXPROCS(0)-1))

// onCore runs fn once a core is free for it, or returns ctx's error
// without running it when ctx ends first.
func onCore(ctx context.Context, fn func()) error {
	select {
	case cores <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-cores }()
	fn()
	return nil
}
