package matchwatch

import (
	"sync"

	"github.com/accordfed/accord/federation/registry"
)

// Waiting keeps, from the events of one member's decisions, how many
// proposed decisions wait for each involved member's answer, and how many
// decisions involving the member there are, by who proposed them. It is
// updated per event (Apply: constant work per decision) and read at
// scrape time (Counts): no scan of the registry.
type Waiting struct {
	self string

	mu sync.Mutex
	// waits holds, per decision seen, the members it waits for (nil when
	// none); a decision is never removed from the registry.
	waits        map[string][]string
	counts       map[string]int
	proposedHere int
	learned      int
	index        uint64
}

// NewWaiting returns an empty tracker for member self's decisions.
func NewWaiting(self string) *Waiting {
	return &Waiting{self: self, waits: map[string][]string{}, counts: map[string]int{}}
}

// Apply takes a batch of events (as Follow hands them).
func (w *Waiting) Apply(evs []Event) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := range evs {
		d := &evs[i].Decision
		prev, seen := w.waits[d.ID]
		if !seen {
			if d.Created.Member == w.self {
				w.proposedHere++
			} else {
				w.learned++
			}
		}
		for _, m := range prev {
			w.counts[m]--
		}
		var now []string
		for _, c := range d.Decisions {
			if Waits(*d, c.Member) {
				now = append(now, c.Member)
				w.counts[c.Member]++
			}
		}
		w.waits[d.ID] = now
		w.index = max(w.index, evs[i].Index)
	}
	return nil
}

// Counts returns, per member that any seen decision involves, the
// decisions waiting for its answer (0 included), and the decisions
// involving the member proposed here and learned from the registry.
func (w *Waiting) Counts() (waiting map[string]int, proposedHere, learned int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	waiting = make(map[string]int, len(w.counts)+1)
	waiting[w.self] = 0
	for m, n := range w.counts {
		waiting[m] = n
	}
	return waiting, w.proposedHere, w.learned
}

// Index returns the index of the latest change applied.
func (w *Waiting) Index() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.index
}

// Recount counts from the decisions as they stand (for a check against
// the incremental counts): waiting per member.
func Recount(ds []registry.MatchDecision) map[string]int {
	out := map[string]int{}
	for _, d := range ds {
		for _, c := range d.Decisions {
			if Waits(d, c.Member) {
				out[c.Member]++
			}
		}
	}
	return out
}
