// Package exchange shares case metadata between members: each node
// publishes its shareable cases as a signed change feed and serves it
// (accord.v1.ExchangeService), and pulls every other member's feed into its
// federation index.
//
// Publishing (Publisher). Every change of a case in the node's store is
// queued in the store's change list in the same transaction. The publisher
// takes the changes in order, makes each case's shared record
// (federation/records.Project: no names, no evidence content or location,
// keyed person encodings) or, for a case deleted, made national or
// otherwise withdrawn that was shared before, a tombstone; signs them a
// batch at a time; and appends them to the feed (a case's new entry
// replaces its old one). A peer that has an open Sync stream gets them at
// once; the others are nudged (Nudge).
//
// Serving (Service.Sync). A caller must be a node the registry lists for
// an admitted member; it is checked again whenever the registry changes
// (Directory.Changed) and before every response, and an open stream is cut
// when the member is suspended or the node removed. A member may hold
// ServiceOptions.MaxStreamsPerPeer streams at once; a response holds at
// most MaxBatchBytes, and a stream is audited when it opens and closes,
// not per response.
// Its cursor is authenticated (HMAC with a key of this node's store) and
// bound to its member: another member's cursor is refused
// (InvalidArgument), a cursor of another feed epoch or older than the
// retained feed is OutOfRange and the caller must resync in full; so is an
// open stream once tombstones it has not read yet are purged (the floor
// rose past its position).
// Sensitivity is enforced here, at the source, per record and per caller:
// national cases never enter the feed; a jit case goes only to members of a
// JIT that lists it (from the registry, read at serve time), signed again
// for that member alone (FeedRecord.recipient: a member of the JIT cannot
// pass it on, since every other member refuses a jit record that is not
// meant for it), and to others as a tombstone meant for them alone, so a
// member that left a JIT, or was never in it, loses or never gets its copy.
//
// Pulling (Puller). For each admitted member's node the puller holds a
// Sync stream in follow mode, resuming from the cursor stored with the
// federation index. Every record is verified before it is stored: the
// Merkle audit path and the batch signature against the origin's signing
// key in the registry, the canonical encoding, the origin and case id, the
// recipient (a jit record must name this member), and that it is newer
// than the copy held (a replayed or older record is skipped; a tombstone of
// the same seq as the copy held withdraws it). A record that fails is refused and audited; the
// batch's other records are kept. OutOfRange (or a cursor refused) makes
// the puller drop that member's records and resync from the start.
//
// Everything sent, served, received and refused is audited through the
// Auditor the node passes in.
package exchange
