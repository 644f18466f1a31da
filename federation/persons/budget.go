package persons

import (
	"fmt"
	"sync"
	"time"
)

// Budgets bound the evaluations other members may ask of this node, per
// rolling window: each is a bucket that refills evenly over Window. Every
// evaluation is one guess at a person, so a budget is also the most
// guesses a dishonest member can make, and every one is in the audit log.
type Budgets struct {
	// Window is the period over which a budget refills (default 24h).
	Window time.Duration
	// MatchingFloor is the matching evaluations any member may ask per
	// window (default 3,000: a thousand persons).
	MatchingFloor int
	// MatchingPerPerson adds, per person in the member's shared cases that
	// this node holds (at most MaxBudgetPersons of them), evaluations per
	// window (default 16: each of its persons evaluated twice on both
	// sides of a pair, three and five elements). A member that invents
	// persons to raise its budget publishes them, signed, to every member.
	MatchingPerPerson int
	// LookupPerMember is the lookup evaluations per member per window
	// (default 900: 300 lookups of a person with a birth year).
	LookupPerMember int
	// LookupPerUser is the lookup evaluations per user of a member per
	// window (default 150: 50 lookups).
	LookupPerUser int
}

// MaxBudgetPersons bounds the persons of one member that raise its
// matching budget, however many it publishes.
const MaxBudgetPersons = 200_000

// DefaultBudgets returns the defaults documented on [Budgets].
func DefaultBudgets() Budgets {
	return Budgets{Window: 24 * time.Hour, MatchingFloor: 3000, MatchingPerPerson: 16, LookupPerMember: 900, LookupPerUser: 150}
}

// Validate names the first field out of range.
func (b Budgets) Validate() error {
	switch {
	case b.Window < time.Minute:
		return fmt.Errorf("%w: budgets.window: must be at least 1m (got %s)", ErrRequest, b.Window)
	case b.MatchingFloor < 0 || b.MatchingPerPerson < 0 || b.LookupPerMember < 0 || b.LookupPerUser < 0:
		return fmt.Errorf("%w: budgets: must not be negative", ErrRequest)
	}
	return nil
}

// buckets are token buckets by name. A bucket exists only once something
// was taken from it, and one that has refilled is forgotten (it would
// start full anyway), so refused requests under ever new names cost no
// memory.
type buckets struct {
	mu  sync.Mutex
	now func() time.Time
	m   map[string]*bucket
}

type bucket struct {
	level, cap float64
	at         time.Time
}

// maxIdleBuckets is how many buckets are kept before refilled ones are
// swept.
const maxIdleBuckets = 4096

// take takes n from every named bucket (capacity caps[i], refilled over
// window) or from none, and returns what is left in the emptiest.
func (b *buckets) take(window time.Duration, n int, names []string, caps []int) (remaining int64, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	level := func(bk *bucket, c float64) float64 {
		if bk == nil {
			return c
		}
		l := bk.level
		if el := now.Sub(bk.at); el > 0 {
			l += c * el.Seconds() / window.Seconds()
		}
		return min(l, c)
	}
	remaining = -1
	levels := make([]float64, len(names))
	for i, name := range names {
		levels[i] = level(b.m[name], float64(caps[i]))
		if remaining < 0 || int64(levels[i]) < remaining {
			remaining = int64(levels[i])
		}
	}
	for _, l := range levels {
		if l < float64(n) {
			return remaining, false
		}
	}
	remaining = -1
	for i, name := range names {
		l := levels[i] - float64(n)
		b.m[name] = &bucket{level: l, cap: float64(caps[i]), at: now}
		if remaining < 0 || int64(l) < remaining {
			remaining = int64(l)
		}
	}
	if len(b.m) > maxIdleBuckets {
		for name, bk := range b.m {
			if level(bk, bk.cap) >= bk.cap {
				delete(b.m, name)
			}
		}
	}
	return remaining, true
}
