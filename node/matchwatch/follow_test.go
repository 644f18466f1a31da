package matchwatch

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/accordfed/accord/federation/registry"
)

// fakeRegistry follows the contract of registry.View
// MatchDecisionsChangedSince and FSM.WaitApplied: decisions with their
// latest change, an applied index that grows with each change, readers
// woken on each change.
type fakeRegistry struct {
	mu       sync.Mutex
	applied  uint64
	ds       map[string]registry.MatchDecision
	admitted map[string]bool
	changed  chan struct{}
}

func newFake(admitted ...string) *fakeRegistry {
	f := &fakeRegistry{ds: map[string]registry.MatchDecision{}, admitted: map[string]bool{}, changed: make(chan struct{})}
	for _, m := range admitted {
		f.admitted[m] = true
	}
	return f
}

func (f *fakeRegistry) bump() uint64 {
	f.applied++
	close(f.changed)
	f.changed = make(chan struct{})
	return f.applied
}

// admit admits a member (an index with no decision change).
func (f *fakeRegistry) admit(m string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.admitted[m] = true
	f.bump()
}

// noop applies an entry that changes no decision.
func (f *fakeRegistry) noop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.bump()
}

func (f *fakeRegistry) propose(id, by string, members ...string) registry.MatchDecision {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := f.bump()
	ch := registry.Change{Index: i, Member: by}
	d := registry.MatchDecision{ID: id, Score: 0.9, Status: registry.MatchProposed, Created: ch, Updated: ch}
	for _, m := range members {
		d.Decisions = append(d.Decisions, registry.Consent{Member: m, Answer: registry.AnswerPending})
	}
	f.ds[id] = d
	return d
}

func (f *fakeRegistry) answer(id, member string, yes bool) registry.MatchDecision {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := f.ds[id]
	d.Decisions = append([]registry.Consent(nil), d.Decisions...)
	i := f.bump()
	ch := registry.Change{Index: i, Member: member}
	all := true
	for k := range d.Decisions {
		if d.Decisions[k].Member == member {
			a := registry.AnswerNo
			if yes {
				a = registry.AnswerYes
			}
			d.Decisions[k] = registry.Consent{Member: member, Answer: a, Change: &ch}
		}
		all = all && d.Decisions[k].Answer == registry.AnswerYes
	}
	switch {
	case !yes:
		d.Status = registry.MatchRejected
	case all:
		d.Status = registry.MatchConfirmed
	default:
		d.Status = registry.MatchProposed
	}
	d.Updated = ch
	f.ds[id] = d
	return d
}

// reopen changes the decision's state without an answer (as a new
// proposal of a rejected group with changed versions does).
func (f *fakeRegistry) reopen(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := f.ds[id]
	d.Decisions = append([]registry.Consent(nil), d.Decisions...)
	for k := range d.Decisions {
		d.Decisions[k].Answer = registry.AnswerPending
	}
	d.Status = registry.MatchProposed
	d.Updated = registry.Change{Index: f.bump()}
	f.ds[id] = d
}

func (f *fakeRegistry) since(ctx context.Context, member string, after uint64, limit int) ([]registry.MatchDecision, uint64, uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.admitted[member] {
		return nil, after, f.applied, fmt.Errorf("%w: not admitted", registry.ErrPermissionDenied)
	}
	var all []registry.MatchDecision
	for _, d := range f.ds {
		if d.Updated.Index > after {
			all = append(all, d)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Updated.Index < all[j].Updated.Index })
	var out []registry.MatchDecision
	next := after
	for _, d := range all {
		if limit > 0 && len(out) == limit {
			return out, next, f.applied, nil
		}
		next = d.Updated.Index
		if involvedIn(d, member) {
			out = append(out, d)
		}
	}
	if f.applied > next {
		next = f.applied
	}
	return out, next, f.applied, nil
}

func involvedIn(d registry.MatchDecision, m string) bool {
	for _, c := range d.Decisions {
		if c.Member == m {
			return true
		}
	}
	return false
}

func (f *fakeRegistry) WaitApplied(ctx context.Context, index uint64) error {
	for {
		f.mu.Lock()
		if f.applied >= index {
			f.mu.Unlock()
			return nil
		}
		ch := f.changed
		f.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (f *fakeRegistry) current(member string) []registry.MatchDecision {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []registry.MatchDecision
	for _, d := range f.ds {
		if involvedIn(d, member) {
			out = append(out, d)
		}
	}
	return out
}

// collector gathers the events a follower hands it.
type collector struct {
	mu  sync.Mutex
	evs []Event
	got chan struct{}
}

func newCollector() *collector { return &collector{got: make(chan struct{}, 1)} }

func (c *collector) handle(evs []Event) error {
	c.mu.Lock()
	c.evs = append(c.evs, evs...)
	c.mu.Unlock()
	select {
	case c.got <- struct{}{}:
	default:
	}
	return nil
}

// waitFor waits until n events were handed (no sleep: woken per batch).
func (c *collector) waitFor(t *testing.T, n int) []Event {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		c.mu.Lock()
		if len(c.evs) >= n {
			out := append([]Event(nil), c.evs...)
			c.mu.Unlock()
			return out
		}
		c.mu.Unlock()
		select {
		case <-c.got:
		case <-deadline:
			t.Fatalf("waited for %d events, got %d", n, len(c.evs))
		}
	}
}

func startFollow(t *testing.T, src changes, member string, after uint64, handle func([]Event) error) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- follow(ctx, src, member, after, handle) }()
	return func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			t.Fatal("follow did not end with its context")
			return nil
		}
	}
}

func TestFollowEventKinds(t *testing.T) {
	f := newFake("PL", "UA", "LT")
	c := newCollector()
	stop := startFollow(t, f, "UA", 0, c.handle)

	f.propose("match-000001", "PL", "PL", "UA")
	f.propose("match-000002", "PL", "LT", "PL") // UA not involved: never seen
	evs := c.waitFor(t, 1)
	if evs[0].Kind != KindCreated || evs[0].Decision.ID != "match-000001" || evs[0].Index != 1 {
		t.Fatalf("first event = %+v, want created match-000001 at 1", evs[0])
	}
	f.answer("match-000001", "PL", true)
	evs = c.waitFor(t, 2)
	if e := evs[1]; e.Kind != KindAnswered || e.Answer == nil || e.Answer.Member != "PL" || e.Answer.Answer != registry.AnswerYes ||
		e.Decision.Status != registry.MatchProposed || e.Index != 3 {
		t.Fatalf("second event = %+v, want answered by PL yes, still proposed, at 3", e)
	}
	f.answer("match-000001", "UA", false)
	evs = c.waitFor(t, 3)
	if e := evs[2]; e.Kind != KindAnswered || e.Answer.Member != "UA" || e.Answer.Answer != registry.AnswerNo || e.Decision.Status != registry.MatchRejected {
		t.Fatalf("third event = %+v, want answered by UA no, rejected", e)
	}
	f.reopen("match-000001")
	evs = c.waitFor(t, 4)
	if e := evs[3]; e.Kind != KindStateChanged || e.Answer != nil || e.Decision.Status != registry.MatchProposed {
		t.Fatalf("fourth event = %+v, want state changed to proposed", e)
	}
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("follow ended with %v, want context.Canceled", err)
	}
	for _, e := range c.evs {
		if e.Decision.ID == "match-000002" {
			t.Fatalf("UA saw a decision it is not involved in: %+v", e)
		}
	}
}

// A decision changed several times between two reads is handed once, as
// it stands, with the kind of its latest change.
func TestFollowCoalescesChangesBetweenReads(t *testing.T) {
	f := newFake("PL", "UA")
	f.propose("match-000001", "PL", "PL", "UA")
	f.answer("match-000001", "PL", true)
	f.answer("match-000001", "UA", true)
	c := newCollector()
	stop := startFollow(t, f, "UA", 0, c.handle)
	defer func() { _ = stop() }()
	c.waitFor(t, 1)
	f.noop()
	f.propose("match-000003", "UA", "PL", "UA") // a later event shows nothing else came
	evs := c.waitFor(t, 2)
	if len(evs) != 2 {
		t.Fatalf("got %d events, want 2", len(evs))
	}
	e := evs[0]
	if e.Kind != KindAnswered || e.Answer.Member != "UA" || e.Decision.Status != registry.MatchConfirmed || e.Index != 3 {
		t.Fatalf("event = %+v, want one answered by UA, confirmed, at 3", e)
	}
	if e.Decision.Decisions[0].Answer != registry.AnswerYes {
		t.Fatalf("PL's earlier answer lost: %+v", e.Decision.Decisions)
	}
}

// Resuming from the index of the last event handled hands what came
// after it, and nothing before.
func TestFollowResumes(t *testing.T) {
	f := newFake("PL", "UA")
	f.propose("match-000001", "PL", "PL", "UA")
	f.propose("match-000002", "PL", "PL", "UA")
	c := newCollector()
	stop := startFollow(t, f, "UA", 0, c.handle)
	last := c.waitFor(t, 2)[1].Index
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	f.answer("match-000001", "PL", true) // while nobody follows
	f.propose("match-000003", "PL", "PL", "UA")
	c2 := newCollector()
	stop = startFollow(t, f, "UA", last, c2.handle)
	defer func() { _ = stop() }()
	evs := c2.waitFor(t, 2)
	if evs[0].Decision.ID != "match-000001" || evs[0].Kind != KindAnswered || evs[1].Decision.ID != "match-000003" || evs[1].Kind != KindCreated {
		t.Fatalf("resumed events = %+v %+v", evs[0], evs[1])
	}
}

// A member not admitted yet sees nothing and waits; once admitted it
// sees its decisions.
func TestFollowWaitsForAdmission(t *testing.T) {
	f := newFake("PL")
	c := newCollector()
	stop := startFollow(t, f, "UA", 0, c.handle)
	defer func() { _ = stop() }()
	f.noop()
	f.admit("UA")
	f.propose("match-000001", "PL", "PL", "UA")
	if evs := c.waitFor(t, 1); evs[0].Decision.ID != "match-000001" {
		t.Fatalf("events = %+v", evs)
	}
}

// A handler's error stops the follower, wrapped.
func TestFollowStopsOnHandlerError(t *testing.T) {
	f := newFake("PL", "UA")
	f.propose("match-000001", "PL", "PL", "UA")
	errFull := errors.New("buffer full")
	err := follow(context.Background(), f, "UA", 0, func([]Event) error { return errFull })
	if !errors.Is(err, ErrStopped) || !errors.Is(err, errFull) {
		t.Fatalf("follow = %v, want ErrStopped wrapping the handler's error", err)
	}
}

// More decisions than one batch: each handed once, in order of change.
func TestFollowBatches(t *testing.T) {
	f := newFake("PL", "UA")
	n := batch*2 + 7
	for i := range n {
		f.propose(fmt.Sprintf("match-%06d", i+1), "PL", "PL", "UA")
	}
	c := newCollector()
	stop := startFollow(t, f, "UA", 0, c.handle)
	defer func() { _ = stop() }()
	evs := c.waitFor(t, n)
	for i, e := range evs {
		if e.Index != uint64(i+1) {
			t.Fatalf("event %d at index %d, want %d", i, e.Index, i+1)
		}
	}
	if len(evs) != n {
		t.Fatalf("%d events, want %d", len(evs), n)
	}
}

// The incremental waiting counts equal a recount of the decisions as they
// stand, after random proposals and answers.
func TestWaitingAgainstRecount(t *testing.T) {
	members := []string{"DE", "LT", "PL", "UA", "CZ"}
	f := newFake(members...)
	w := NewWaiting("UA")
	applied := make(chan struct{}, 1)
	stop := startFollow(t, f, "UA", 0, func(evs []Event) error {
		err := w.Apply(evs)
		select {
		case applied <- struct{}{}:
		default:
		}
		return err
	})
	defer func() { _ = stop() }()
	rng := rand.New(rand.NewPCG(16, 7))
	var ids []string
	for i := range 600 {
		if len(ids) == 0 || rng.IntN(3) == 0 {
			a, b := members[rng.IntN(len(members))], members[rng.IntN(len(members))]
			if a == b {
				continue
			}
			id := fmt.Sprintf("match-%06d", i)
			ids = append(ids, id)
			f.propose(id, a, a, b)
			continue
		}
		id := ids[rng.IntN(len(ids))]
		f.mu.Lock()
		d := f.ds[id]
		f.mu.Unlock()
		c := d.Decisions[rng.IntN(len(d.Decisions))]
		f.answer(id, c.Member, rng.IntN(4) != 0)
	}
	// Wait until the tracker reached the last change UA is involved in.
	want := Recount(f.current("UA"))
	var last uint64
	for _, d := range f.current("UA") {
		last = max(last, d.Updated.Index)
	}
	deadline := time.After(10 * time.Second)
	for w.Index() < last {
		select {
		case <-applied:
		case <-deadline:
			t.Fatalf("tracker at %d, want %d", w.Index(), last)
		}
	}
	got, here, learned := w.Counts()
	for m := range got {
		if _, ok := want[m]; !ok {
			want[m] = 0
		}
	}
	if !maps.Equal(got, want) {
		t.Fatalf("waiting = %v, recount = %v", got, want)
	}
	if here+learned != len(f.current("UA")) || here == 0 || learned == 0 {
		t.Fatalf("proposed here %d + learned %d, want %d decisions involving UA, both kinds", here, learned, len(f.current("UA")))
	}
}
