// Package records makes and checks the records members share: the shared
// form of a case (Project), and signed batches of feed records (Signer,
// Verifier).
//
// What crosses, by construction: case id, title, status, sensitivity,
// crime codes, incidents (time windows, place names and regions as
// written, coordinates with their precision), perpetrators that are units
// or organisations as recorded, victim count, evidence references as SHA-256, media type and collection
// date, and keyed encodings of persons (victims, witnesses, suspects, and
// perpetrators recorded as persons). Never: evidence ids, descriptions,
// content or vault locations, custody details, person names or birth years.
// Every free-text field (title, place, region, unit and organisation name)
// is blanked by federation/redact of any form of a name of the case's
// persons or of the office's (inflected, in any script or normalisation
// form) and of birth-year phrases; Project says per field how many words it
// withheld ([Withheld]), and a case whose id carries a name is not shared.
//
// Signing. The origin signs a batch of records at once: the leaves are the
// records' deterministic protobuf encodings, the tree is RFC 6962's (leaf
// hash SHA-256(0x00 || record), node hash SHA-256(0x01 || left || right)),
// and the origin's Ed25519 key signs
//
//	"accord-records-v1" || 0x00 || uint32be(leaf count) || root
//
// Each SignedRecord carries the record's bytes verbatim, the key id, the
// signature, its leaf index, the leaf count and its audit path, so it can
// be verified alone, later and elsewhere (relayed copies included), while
// a receiver of a whole batch verifies one Ed25519 signature per batch
// (Verifier caches verified roots). A record is accepted only if its bytes
// are the canonical (deterministic) encoding of what they decode to: a
// record with unknown fields, or any other encoding of the same content,
// is refused.
package records
