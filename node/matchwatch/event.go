package matchwatch

import (
	"github.com/accordfed/accord/federation/registry"
)

// Kind is what a decision's latest change did.
type Kind string

// The event kinds.
const (
	// KindCreated: the decision was proposed by its latest change
	// (Created.Index == Updated.Index).
	KindCreated Kind = "created"
	// KindAnswered: an involved member answered (or changed its answer)
	// by the decision's latest change; the state may have changed with
	// it (the last confirmation confirms, a rejection rejects).
	KindAnswered Kind = "answered"
	// KindStateChanged: the latest change changed the decision otherwise
	// (no member's answer carries its index).
	KindStateChanged Kind = "state_changed"
)

// Event is one decision as it stands after its latest change.
type Event struct {
	Kind Kind
	// Index is the registry index of the decision's latest change: the
	// position to resume from.
	Index uint64
	// Answer is, for KindAnswered, the answering member's consent (its
	// member, answer and change).
	Answer *registry.Consent
	// Decision is the decision as it stands (a copy).
	Decision registry.MatchDecision
}

// Classify derives an event from a decision as it stands: created when
// its latest change created it, answered when a member's answer carries
// the latest change's index, state changed otherwise.
func Classify(d registry.MatchDecision) Event {
	e := Event{Index: d.Updated.Index, Decision: d}
	if d.Created.Index == d.Updated.Index {
		e.Kind = KindCreated
		return e
	}
	for i := range d.Decisions {
		c := d.Decisions[i]
		if c.Change != nil && c.Change.Index == d.Updated.Index && c.Answer != registry.AnswerPending {
			e.Kind = KindAnswered
			e.Answer = &c
			return e
		}
	}
	e.Kind = KindStateChanged
	return e
}

// Waits says whether the decision waits for member's answer: it is
// proposed, and member has not answered.
func Waits(d registry.MatchDecision, member string) bool {
	if d.Status != registry.MatchProposed {
		return false
	}
	for _, c := range d.Decisions {
		if c.Member == member {
			return c.Answer == registry.AnswerPending
		}
	}
	return false
}
