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
	// this node holds, evaluations per window (default 6: each of its
	// persons evaluated twice, name, skeleton and year). A member that
	// invents persons to raise its budget publishes them, signed, to
	// every member.
	MatchingPerPerson int
	// LookupPerMember is the lookup evaluations per member per window
	// (default 900: 300 lookups of a person with a birth year).
	LookupPerMember int
	// LookupPerUser is the lookup evaluations per user of a member per
	// window (default 150: 50 lookups).
	LookupPerUser int
}

// DefaultBudgets returns the defaults documented on [Budgets].
func DefaultBudgets() Budgets {
	return Budgets{Window: 24 * time.Hour, MatchingFloor: 3000, MatchingPerPerson: 6, LookupPerMember: 900, LookupPerUser: 150}
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

// buckets are token buckets by name.
type buckets struct {
	mu  sync.Mutex
	now func() time.Time
	m   map[string]*bucket
}

type bucket struct {
	level float64
	at    time.Time
}

// take takes n from every named bucket (capacity caps[i], refilled over
// window) or from none, and returns what is left in the emptiest.
func (b *buckets) take(window time.Duration, n int, names []string, caps []int) (remaining int64, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	remaining = -1
	levels := make([]float64, len(names))
	for i, name := range names {
		bk := b.m[name]
		c := float64(caps[i])
		if bk == nil {
			bk = &bucket{level: c, at: now}
			b.m[name] = bk
		}
		if el := now.Sub(bk.at); el > 0 {
			bk.level = min(c, bk.level+c*el.Seconds()/window.Seconds())
			bk.at = now
		}
		bk.level = min(bk.level, c)
		levels[i] = bk.level
	}
	for _, l := range levels {
		if l < float64(n) {
			for _, l := range levels {
				if remaining < 0 || int64(l) < remaining {
					remaining = int64(l)
				}
			}
			return remaining, false
		}
	}
	for i, name := range names {
		b.m[name].level -= float64(n)
		if r := int64(levels[i] - float64(n)); remaining < 0 || r < remaining {
			remaining = r
		}
	}
	return remaining, true
}
