// Package feed is the vocabulary shared by a node's store (node/store),
// which keeps its change feed and federation index, and the exchange
// (federation/exchange), which publishes, serves and pulls them: changes,
// feed entries and their flags, and the records of other members.
package feed

// Entry flags.
const (
	// JIT marks a record of a jit case: only members of a JIT that lists it
	// may receive it.
	JIT byte = 1 << iota
	// Tombstone marks a tombstone.
	Tombstone
)

// Change is a case that changed at this node.
type Change struct {
	Seq    uint64
	CaseID string
}

// Info describes a node's feed.
type Info struct {
	// Epoch identifies the feed: cursors of another epoch are void.
	Epoch uint64
	// Head is the last feed seq published; Floor the seq at or below which
	// the feed no longer holds all a cursor needs (purged tombstones).
	Head, Floor uint64
	// PublishedChange is the last change seq published.
	PublishedChange uint64
	// CursorKey authenticates the node's cursors.
	CursorKey []byte
}

// Publication is a signed record to publish.
type Publication struct {
	CaseID string
	Flags  byte
	// Record is the accordv1.SignedRecord, marshalled.
	Record []byte
}

// Entry is one entry of the feed.
type Entry struct {
	Seq    uint64
	CaseID string
	Flags  byte
	Record []byte
}

// Record is another member's record in the federation index.
type Record struct {
	CaseID string
	Seq    uint64
	Flags  byte
	// Record is the accordv1.SignedRecord, marshalled.
	Record []byte
}
