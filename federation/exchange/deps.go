package exchange

import (
	"crypto/ed25519"

	"github.com/accordfed/accord/federation/feed"
	"github.com/accordfed/accord/federation/identity"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// Store is what the exchange needs of the node's store (node/store).
type Store interface {
	// Changes returns up to limit changes after change seq after.
	Changes(after uint64, limit int) ([]feed.Change, error)
	// FindCase returns a case, or nil when the store does not hold it.
	FindCase(caseID string) (*accordv1.Case, error)
	// SharedState returns a case's feed entry, if it was ever published.
	SharedState(caseID string) (seq uint64, flags byte, ok bool, err error)
	Feed() (feed.Info, error)
	Publish(upTo, first uint64, pubs []feed.Publication) error
	ReadFeed(after uint64, limit int, fn func(feed.Entry) error) error
	// Changed and Published are closed at the next change and publication.
	Changed() <-chan struct{}
	Published() <-chan struct{}

	// The federation index.
	FedApply(origin, cursor string, recs []feed.Record) (applied, stale int, err error)
	FedCursor(origin string) (string, error)
	FedReset(origin string) (int, error)
}

// Directory answers from the registry: who is a member, who may see what,
// and the members' keys and nodes.
type Directory interface {
	// Admitted reports whether member is an admitted member.
	Admitted(member string) bool
	// NodeAdmitted reports whether node is a registered node of an
	// admitted member (not suspended, not removed).
	NodeAdmitted(node identity.Identity) bool
	// Changed returns a channel that is closed at the next change of the
	// registry (membership, nodes, JITs): open streams re-check their
	// caller then, at once.
	Changed() <-chan struct{}
	// JITVisible reports whether member may see this node's jit case
	// caseID: a JIT that lists the case has member as an accepted member.
	JITVisible(member, caseID string) bool
	// Key returns a member's record-signing key registered as keyID.
	Key(member, keyID string) (ed25519.PublicKey, error)
	// Peers lists the nodes to pull from: one per other admitted member.
	Peers() []Peer
}

// Peer is another member's node.
type Peer struct {
	Member  string
	Node    identity.Identity
	Address string
}

// Auditor records what crossed. Implementations must be safe for
// concurrent use and must not block for long.
type Auditor interface {
	Audit(Event)
}

// EventKind says what happened.
type EventKind string

// The audited events.
const (
	// Served: records sent to a peer in a Sync stream.
	Served EventKind = "served"
	// Received: records received from a peer and stored.
	Received EventKind = "received"
	// Refused: a record (or request) refused, with the reason.
	Refused EventKind = "refused"
	// Resync: the federation index of a member dropped for a full resync.
	Resync EventKind = "resync"
	// Nudged: a peer was told of new records.
	Nudged EventKind = "nudged"
)

// Event is one audited exchange.
type Event struct {
	Kind EventKind
	// Peer is the other member; PeerNode its node's identity.
	Peer     string
	PeerNode string
	Records  int
	FromSeq  uint64
	ToSeq    uint64
	CaseIDs  []string
	// Err is why a record or request was refused, or a resync started.
	Err error
	// Stream says, for Served, which summary of a Sync stream this is:
	// StreamOpened, StreamProgress or StreamClosed.
	Stream StreamPhase
}

// StreamPhase says which summary of a Sync stream a Served event is: the
// service audits each stream when it opens, when it closes, and in between
// when a follow stream has caught up (at the pace of this node's own
// publications) or every ServiceOptions.AuditEvery; never per batch (a
// caller asking for small batches must not be able to fill the audit log).
type StreamPhase string

// The phases of a Sync stream's audit.
const (
	// StreamOpened: the stream was accepted; FromSeq is the first feed
	// seq it may serve, ToSeq the head then.
	StreamOpened StreamPhase = "stream_opened"
	// StreamProgress: the records served since the last summary, when a
	// follow stream has caught up or a long catch-up goes on.
	StreamProgress StreamPhase = "stream_progress"
	// StreamClosed: the stream ended; Records, FromSeq..ToSeq since the
	// last summary, Err why it ended when it was cut.
	StreamClosed StreamPhase = "stream_closed"
)
