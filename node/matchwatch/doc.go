// Package matchwatch follows the match decisions the office's member is
// involved in as the registry changes them, and turns each change into an
// event: created, answered (by which member, with which answer) or state
// changed. It is the one change-following loop behind the notifications:
// the WatchMatches stream, the office webhook and the
// accord_matches_waiting metric all read it (Follow), and the Waiting
// tracker keeps, from the same events, how many proposed decisions wait
// for each involved member's answer.
//
// The registry is the queue. Follow reads the decisions changed after a
// registry index (registry.View MatchDecisionsChangedSince, in the order
// of their latest change, a batch at a time) and then waits for the local
// state machine to apply the next index: no polling, and no buffer of its
// own that could grow while a reader is slow or away. A reader resumes by
// passing the index of the last event it handled.
//
// What is lost between two reads. A decision changed several times
// between two reads (proposed, then answered by one member, then by the
// other) is read once, as it stands after its latest change: one event,
// whose kind is derived from that latest change only (Classify), whose
// decision holds every answer given so far, and whose index is that of
// the latest change. The intermediate states are not replayed: a reader
// that needs each answer reads them from the decision's Decisions (each
// member's answer with its own change). Events are at-least-once for a
// reader that resumes from the index it last handled.
//
// A member sees only the decisions it is involved in (DESIGN rule 9):
// this package never reads another member's decisions.
package matchwatch
