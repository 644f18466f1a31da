package store

import (
	"crypto/sha256"
	"encoding/binary"
	"strings"
	"unicode"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// SchemaVersion is the version of the layout below. A store written by a
// newer version is refused; an older one is migrated when this code learns
// how (version 1 is the first).
const SchemaVersion = 1

// The store's schema: every bucket and key encoding, in one place. Integers
// in keys are big-endian so that keys sort in numeric order. "seq" is a
// case's internal sequence number (uint64, assigned once, never reused), and
// "eseq" an evidence item's; records are keyed by them so that bulk imports
// append rather than insert at random places.
var (
	// bucketMeta holds the store's identity: schema version, member code,
	// creation time, and the sequence counters.
	bucketMeta = []byte("meta")
	// bucketCases: seq -> accordv1.Case (protobuf). The case record,
	// with incidents, perpetrators, persons and evidence references.
	// Persons stay in this store and are never shared.
	bucketCases = []byte("cases")
	// bucketCaseIDs: case_id -> seq.
	bucketCaseIDs = []byte("case_ids")
	// bucketTitles: seq -> lower-cased title, for free-text search
	// without decoding whole records.
	bucketTitles = []byte("titles")
	// bucketEvidence: eseq -> evidenceRecord (protobuf EvidenceItem with
	// the case's seq in the key of bucketEvidenceIDs).
	bucketEvidence = []byte("evidence")
	// bucketEvidenceIDs: evidence id -> eseq.
	bucketEvidenceIDs = []byte("evidence_ids")
	// bucketCustody: eseq + event seq (uint32) -> accordv1.CustodyEvent.
	// Custody events are never deleted, not even with their case.
	bucketCustody = []byte("custody")
	// bucketCustodyHeads: eseq -> seq (uint32) + hash of the chain's last
	// event, so that events cut off the end of a chain are noticed (any
	// prefix of a valid chain is itself valid).
	bucketCustodyHeads = []byte("custody_heads")
	// bucketSeals: seal id -> accordv1.CustodySeal.
	bucketSeals = []byte("seals")
	// bucketDeleted: case_id + 0x00 + unix nanoseconds -> deletion record
	// (protobuf DeletedCase): who, when, why, and the case as it was.
	bucketDeleted = []byte("deleted")

	// Indexes. Each key ends with the case id, so that a scan of one index
	// value lists cases in case-id order (what pagination needs); the value
	// is the seq.
	//
	// idxSHA256: nested buckets, one per sorted run (run id, uint64; 0 is
	// the hot run), each holding sha256 (32 bytes) + eseq -> nil (evidence
	// by content); see runs.go.
	idxSHA256 = []byte("idx_sha256")
	// idxStatus: status (1 byte) + case_id -> seq.
	idxStatus = []byte("idx_status")
	// idxPlace: normalised place + 0x00 + case_id -> seq.
	idxPlace = []byte("idx_place")
	// idxCrime: crime code + 0x00 + case_id -> seq.
	idxCrime = []byte("idx_crime")
	// idxDay: UTC day number (uint32, days since 1970-01-01) + case_id ->
	// seq, for every day an incident window touches (up to maxIndexedDays;
	// longer windows go to idxLongWindow).
	idxDay = []byte("idx_day")
	// idxLongWindow: case_id -> seq, cases with an incident window longer
	// than maxIndexedDays, checked by every time-window query.
	idxLongWindow = []byte("idx_long_window")

	allBuckets = [][]byte{bucketMeta, bucketCases, bucketCaseIDs, bucketTitles, bucketEvidence, bucketEvidenceIDs,
		bucketCustody, bucketCustodyHeads, bucketSeals, bucketDeleted, idxSHA256, idxStatus, idxPlace, idxCrime, idxDay, idxLongWindow,
		bucketChanges, bucketFeed, bucketShared, bucketFedRecords, bucketFedCursors}
)

// Keys of bucketMeta.
var (
	metaSchemaVersion = []byte("schema_version")
	metaMember        = []byte("member")
	metaCreated       = []byte("created")
	metaCaseSeq       = []byte("case_seq")
	metaEvidenceSeq   = []byte("evidence_seq")
	metaSealSeq       = []byte("seal_seq")
	metaRunSeq        = []byte("sha_run_seq")
	// metaPageTokenKey: 32 random bytes, made when the store is first
	// opened; the local API authenticates its page tokens with them
	// (node/pagetoken), so tokens stay valid across restarts.
	metaPageTokenKey = []byte("page_token_key")
)

// sealKeyKey is the bucketMeta key under which a custody signing key is
// recorded when it first seals: "seal_key/" + SHA-256 of its DER SPKI.
func sealKeyKey(spki []byte) []byte {
	sum := sha256.Sum256(spki)
	return append([]byte("seal_key/"), sum[:]...)
}

// maxIndexedDays is the longest incident window indexed day by day.
const maxIndexedDays = 62

func u64(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}

func getU64(b []byte) uint64 {
	if len(b) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

func custodyKey(eseq uint64, seq int64) []byte {
	k := make([]byte, 12)
	binary.BigEndian.PutUint64(k, eseq)
	binary.BigEndian.PutUint32(k[8:], uint32(seq))
	return k
}

func shaKey(sum []byte, eseq uint64) []byte {
	k := make([]byte, 0, len(sum)+8)
	k = append(k, sum...)
	return binary.BigEndian.AppendUint64(k, eseq)
}

func statusKey(status byte, caseID string) []byte {
	return append([]byte{status}, caseID...)
}

func textKey(text, caseID string) []byte {
	k := make([]byte, 0, len(text)+1+len(caseID))
	k = append(k, text...)
	k = append(k, 0)
	return append(k, caseID...)
}

func dayKey(day uint32, caseID string) []byte {
	k := make([]byte, 4, 4+len(caseID))
	binary.BigEndian.PutUint32(k, day)
	return append(k, caseID...)
}

// NormalizePlace folds a place name for the place index: Unicode NFKD with
// combining marks removed, lower case, spaces collapsed. "Charków" and
// "charkow" meet; scripts are not transliterated ("Харків" stays Cyrillic).
func NormalizePlace(s string) string {
	t := transform.Chain(norm.NFKD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
	out, _, err := transform.String(t, s)
	if err != nil {
		out = s
	}
	return strings.Join(strings.Fields(strings.ToLower(out)), " ")
}
