package records

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"

	"google.golang.org/protobuf/proto"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/merkle"
	"github.com/accordfed/accord/federation/safetext"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// KeyLookup returns the public key a member registered under keyID.
type KeyLookup func(member, keyID string) (ed25519.PublicKey, error)

// Verifier verifies signed records against the members' keys. It
// remembers the batch signatures it has verified, so that the records of
// one batch cost one Ed25519 verification. Safe for concurrent use.
type Verifier struct {
	keys KeyLookup

	mu   sync.Mutex
	seen map[string]struct{} // verified (member, key id, count, root, signature)
}

// NewVerifier returns a verifier that looks keys up with keys.
func NewVerifier(keys KeyLookup) *Verifier {
	return &Verifier{keys: keys, seen: map[string]struct{}{}}
}

// maxSeen bounds the verified-batch cache.
const maxSeen = 4096

// MaxIncidents is the most incidents a case may have (FORMAT.md): an
// office's own cases are checked against it when they enter its store
// (node/caseformat), a shared case when it arrives from another member.
const MaxIncidents = 100

// Verify checks a signed record and returns what it says: the audit path
// leads from the record to a root that the origin's key signed, the bytes
// are the canonical encoding of the record (no unknown fields), and the
// record is well formed.
func (v *Verifier) Verify(sr *accordv1.SignedRecord) (*accordv1.FeedRecord, error) {
	var r accordv1.FeedRecord
	if err := (proto.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(sr.GetRecord(), &r); err != nil {
		return nil, fmt.Errorf("%w: record: %w", ErrInvalid, err)
	}
	canon, err := marshal.Marshal(&r)
	if err != nil || !bytes.Equal(canon, sr.GetRecord()) {
		return nil, fmt.Errorf("%w: record: not in canonical encoding (unknown fields or reordered)", ErrInvalid)
	}
	if err := check(&r); err != nil {
		return nil, err
	}
	if sr.GetLeafCount() == 0 || sr.GetLeafCount() > MaxBatch || sr.GetLeafIndex() >= sr.GetLeafCount() {
		return nil, fmt.Errorf("%w: leaf %d of %d", ErrSignature, sr.GetLeafIndex(), sr.GetLeafCount())
	}
	rt, ok := merkle.RootFromPath(merkle.LeafHash(sr.GetRecord()), uint64(sr.GetLeafIndex()), uint64(sr.GetLeafCount()), sr.GetProof())
	if !ok {
		return nil, fmt.Errorf("%w: audit path does not fit leaf %d of %d", ErrSignature, sr.GetLeafIndex(), sr.GetLeafCount())
	}
	key := r.GetOrigin() + "\x00" + sr.GetKeyId() + "\x00" + fmt.Sprint(sr.GetLeafCount()) + "\x00" + hex.EncodeToString(rt[:]) + hex.EncodeToString(sr.GetSignature())
	v.mu.Lock()
	_, done := v.seen[key]
	v.mu.Unlock()
	if done {
		return &r, nil
	}
	pub, err := v.keys(r.GetOrigin(), sr.GetKeyId())
	if err != nil {
		return nil, fmt.Errorf("%w: %s of %s: %w", ErrUnknownKey, sr.GetKeyId(), r.GetOrigin(), err)
	}
	if !ed25519.Verify(pub, signedMessage(sr.GetLeafCount(), rt), sr.GetSignature()) {
		return nil, fmt.Errorf("%w: record %s of %s, key %s", ErrSignature, r.GetCaseId(), r.GetOrigin(), sr.GetKeyId())
	}
	v.mu.Lock()
	if len(v.seen) >= maxSeen {
		clear(v.seen)
	}
	v.seen[key] = struct{}{}
	v.mu.Unlock()
	return &r, nil
}

// check validates a feed record's own fields.
func check(r *accordv1.FeedRecord) error {
	if err := identity.ValidateMember(r.GetOrigin()); err != nil {
		return fmt.Errorf("%w: origin: %w", ErrInvalid, err)
	}
	if !strings.HasPrefix(r.GetCaseId(), r.GetOrigin()+"-") || len(r.GetCaseId()) > 64 {
		return fmt.Errorf("%w: case_id: %q is not a case id of %s", ErrInvalid, r.GetCaseId(), r.GetOrigin())
	}
	if r.GetSeq() == 0 {
		return fmt.Errorf("%w: seq: required", ErrInvalid)
	}
	c := r.GetCase()
	switch {
	case r.GetTombstone() && c != nil:
		return fmt.Errorf("%w: case: a tombstone carries no case", ErrInvalid)
	case !r.GetTombstone() && c == nil:
		return fmt.Errorf("%w: case: required", ErrInvalid)
	case c == nil:
		return nil
	case c.GetCaseId() != r.GetCaseId():
		return fmt.Errorf("%w: case.case_id: %q differs from the record's %q", ErrInvalid, c.GetCaseId(), r.GetCaseId())
	case c.GetSensitivity() != accordv1.Sensitivity_SENSITIVITY_FEDERATION && c.GetSensitivity() != accordv1.Sensitivity_SENSITIVITY_JIT:
		return fmt.Errorf("%w: case.sensitivity: %s cases are not shared", ErrInvalid, c.GetSensitivity())
	}
	if n := len(c.GetIncidents()); n > MaxIncidents {
		// No honest node publishes more (its own cases are checked against
		// the format); a case of thousands would cost every member's index,
		// matcher and maps what one member chose.
		return fmt.Errorf("%w: case.incidents: %d: at most %d (FORMAT.md)", ErrInvalid, n, MaxIncidents)
	}
	for i, e := range c.GetEvidence() {
		if len(e.GetSha256()) != 64 || strings.Trim(e.GetSha256(), "0123456789abcdef") != "" {
			return fmt.Errorf("%w: case.evidence[%d].sha256: must be 64 lower-case hex digits", ErrInvalid, i)
		}
	}
	return checkText(c)
}

// checkText refuses a shared case whose text carries a control or
// bidirectional formatting character (federation/safetext; tab and line
// feed allowed): another member's text must not reach an analyst's
// terminal as escape sequences. Every string field is checked, field by
// field (no reflection: it runs for every record a node receives);
// TestVerifyChecksEveryStringField fails when a new one is not.
func checkText(c *accordv1.SharedCase) error {
	for _, f := range [...]struct {
		path string
		v    string
	}{{"case_id", c.GetCaseId()}, {"title", c.GetTitle()}, {"opened", c.GetOpened()}} {
		if err := safetext.Check(f.v, true); err != nil {
			return textError("case."+f.path, err)
		}
	}
	for i, v := range c.GetCrimeCodes() {
		if err := safetext.Check(v, true); err != nil {
			return textError(fmt.Sprintf("case.crime_codes[%d]", i), err)
		}
	}
	for i, in := range c.GetIncidents() {
		for _, f := range [...]struct {
			path string
			v    string
		}{{"start", in.GetStart()}, {"end", in.GetEnd()}, {"place", in.GetPlace()}, {"region", in.GetRegion()}} {
			if err := safetext.Check(f.v, true); err != nil {
				return textError(fmt.Sprintf("case.incidents[%d].%s", i, f.path), err)
			}
		}
	}
	for i, pe := range c.GetPerpetrators() {
		if err := safetext.Check(pe.GetName(), true); err != nil {
			return textError(fmt.Sprintf("case.perpetrators[%d].name", i), err)
		}
	}
	for i, e := range c.GetEvidence() {
		for _, f := range [...]struct {
			path string
			v    string
		}{{"sha256", e.GetSha256()}, {"media_type", e.GetMediaType()}, {"collected", e.GetCollected()}} {
			if err := safetext.Check(f.v, true); err != nil {
				return textError(fmt.Sprintf("case.evidence[%d].%s", i, f.path), err)
			}
		}
	}
	for i, pe := range c.GetPersons() {
		if err := safetext.Check(pe.GetKeyName(), true); err != nil {
			return textError(fmt.Sprintf("case.persons[%d].key_name", i), err)
		}
	}
	return nil
}

func textError(path string, err error) error {
	return fmt.Errorf("%w: %s: %w", ErrInvalid, path, err)
}
