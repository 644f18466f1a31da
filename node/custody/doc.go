// Package custody is the chain-of-custody logic of a node's evidence index:
// building the next custody event of an evidence item, hashing events in a
// canonical form, sealing them with the node's key, and verifying chains.
//
// It is pure logic: no I/O, no storage, no clock (callers pass times in), no
// logging. The node's store keeps the events and seals and calls this
// package; the EvidenceService handlers map its sentinel errors
// (errors.go) to gRPC codes, and put a [Break] into a CustodyBreak.
//
// # The chain
//
// Every evidence item has an append-only chain of CustodyEvent. Event n
// (n = 1, 2, ...) has seq n, carries the hash of event n-1 in prev_hash
// (empty for event 1), and its own hash in hash. Event 1 is REGISTERED and
// no later event is. Times never go backwards along a chain. [Next] builds
// events that obey these rules; [Verifier.VerifyChain] checks them.
//
// # Canonical event encoding (version 1)
//
// [Hash] is SHA-256 over this byte string, never over proto.Marshal output
// (whose byte order is not guaranteed stable):
//
//	str("accord-custody-event-v1")   domain-separation and version tag
//	str(evidence_id)                 UTF-8 bytes
//	u64(seq)                         int64, two's complement
//	u32(action)                      the enum number, two's complement
//	u8(0)                            when time is not set, else
//	u8(1) u64(time.seconds) u32(time.nanos)   as stored, not normalised
//	str(actor)
//	str(details)
//	str(prev_hash)
//
// where str(x) is u64(len(x)) followed by the bytes of x, and u64, u32 and
// u8 are big-endian unsigned integers of 8, 4 and 1 bytes. hash and seal_id
// are not covered: hash is the output, and seal_id is written after the
// event is sealed. Unknown fields are not covered either. The layout is
// fixed; a change makes a new tag ("...-v2") and keeps v1 verifiable.
//
// # Seals
//
// Signing events one by one is too slow for bulk imports, so events are
// signed by seals: a [Sealer] signs SHA-256 over the concatenation of the
// 32-byte hashes of one or more events (see [SealDigest]) with the node's
// key, and records the id of the seal in every sealed event. An event
// appended alone gets a seal of one; an import batch one seal over
// thousands of events, of many items. The signature is ASN.1 DER ECDSA over
// the digest (P-256, P-384 or P-521), or pure Ed25519 with the 32-byte
// digest as the message. The seal embeds the signer's public key (DER
// SubjectPublicKeyInfo), so a seal can be checked anywhere; whether that key
// is acceptable is the verifier's decision (the trustedKey function of
// [NewVerifier]).
//
// The signature covers only the event hashes. A seal's id, signer and time
// are not signed (the wire contract of accord.v1 fixes the signed bytes):
// the id is a locator that the verifier cross-checks, and signer and time
// are informational. Authenticity rests on the key alone.
//
// # What it does not do
//
// It does not detect events cut off the end of a chain: a chain of n events
// whose last k were removed is itself a valid chain. The store must keep
// each chain's length or head hash elsewhere (for instance in the evidence
// item's record) and compare. It does not store seals or events, choose
// seal ids, or decide which keys a node trusts.
package custody
