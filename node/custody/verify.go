package custody

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// Kind classifies a [Break]. Its String form is short and stable enough for
// a metric label.
type Kind uint8

// The kinds of broken links, in no particular order.
const (
	// KindInvalid: an event is nil, or a field fails the rules of [Next]
	// (unknown action, empty actor, details too long, time missing or out
	// of range) although its hash and seal are good.
	KindInvalid Kind = iota + 1
	// KindEvidenceID: an intact event of another evidence item is stored in
	// this chain.
	KindEvidenceID
	// KindSequence: an event is missing, duplicated or out of order (or the
	// chain is empty).
	KindSequence
	// KindFirstEvent: the first event is not REGISTERED, or a later one is.
	KindFirstEvent
	// KindPrevHash: prev_hash is not the previous event's hash (or the first
	// event has one).
	KindPrevHash
	// KindHash: the stored hash does not match the event's content.
	KindHash
	// KindTime: the event's time is before the previous event's.
	KindTime
	// KindSealMissing: the event is not sealed, or its seal is missing or
	// could not be read.
	KindSealMissing
	// KindSealInvalid: the event's seal is malformed, its signature does not
	// verify, or the store returned another seal.
	KindSealInvalid
	// KindUntrustedKey: the seal verifies, but with a key that is not
	// trusted.
	KindUntrustedKey
	// KindNotInSeal: the event's hash is not among its seal's event hashes.
	KindNotInSeal
)

var kindNames = [...]string{
	KindInvalid:      "invalid_event",
	KindEvidenceID:   "evidence_id",
	KindSequence:     "sequence",
	KindFirstEvent:   "first_event",
	KindPrevHash:     "prev_hash",
	KindHash:         "hash",
	KindTime:         "time",
	KindSealMissing:  "seal_missing",
	KindSealInvalid:  "seal_invalid",
	KindUntrustedKey: "untrusted_key",
	KindNotInSeal:    "not_in_seal",
}

// String returns the kind's label, e.g. "hash" or "seal_missing".
func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Break is the first broken link of a custody chain, as found by
// [Verifier.VerifyChain]. It is an error.
type Break struct {
	// EvidenceID is the item whose chain is broken.
	EvidenceID string
	// Seq is the position in the chain (from 1) of the first event that
	// fails: the seq the event stored there should have. For a missing
	// event it is the seq of the missing one. 0 means the chain as a whole
	// (no evidence id was given).
	Seq int64
	// Kind classifies the break.
	Kind Kind
	// Reason says what is wrong, in words.
	Reason string
	// Err is the underlying error, when there is one: the seal lookup's
	// error, the trustedKey function's error, or the [VerifySeal] error.
	Err error
}

// Error returns, for example, "custody chain of UA-2022-000001-E002 broken
// at event 3: hash does not match the event's content (altered after it was
// written)".
func (b *Break) Error() string {
	if b.Seq == 0 {
		return fmt.Sprintf("custody chain of %q broken: %s", b.EvidenceID, b.Reason)
	}
	return fmt.Sprintf("custody chain of %s broken at event %d: %s", b.EvidenceID, b.Seq, b.Reason)
}

// Unwrap returns Err.
func (b *Break) Unwrap() error { return b.Err }

// Proto returns the break as the API's CustodyBreak.
func (b *Break) Proto() *accordv1.CustodyBreak {
	return &accordv1.CustodyBreak{EvidenceId: b.EvidenceID, Seq: b.Seq, Reason: b.Reason}
}

// DefaultCacheLimit is how many event hashes a [Verifier] keeps of verified
// seals unless [Verifier.SetCacheLimit] says otherwise: 2^21, about 100 MB,
// enough for the seals of two million events.
const DefaultCacheLimit = 1 << 21

// Stats counts a [Verifier]'s work since it was made.
type Stats struct {
	// SealLookups is how many times the seal lookup function was called.
	SealLookups uint64
	// SignatureChecks is how many seals were verified.
	SignatureChecks uint64
	// CachedSeals is how many seals the cache holds now, valid or not.
	CachedSeals int
	// CachedHashes is how many event hashes the cache holds now.
	CachedHashes int
}

// Verifier checks custody chains. It caches every seal it has fetched and
// checked (the outcome, and the set of hashes of a valid one), so that
// verifying many events sealed by few seals costs one lookup and one
// signature check per seal. The cache holds at most [DefaultCacheLimit]
// event hashes, dropping the oldest seals first. Lookups that fail are not
// cached.
//
// A Verifier is safe for concurrent use. Its cache assumes that seals do
// not change and that the trust decision about a key does not either: make
// a new Verifier (or call [Verifier.Reset]) when the set of trusted keys
// changes.
type Verifier struct {
	lookup  func(id uint64) (*accordv1.CustodySeal, error)
	trusted func(spkiDER []byte) error

	mu    sync.Mutex
	cache map[uint64]*sealEntry
	fifo  []uint64 // cached ids, oldest first
	size  int      // event hashes held, counting 1 for a failed seal
	limit int

	lookups atomic.Uint64
	checks  atomic.Uint64
}

// sealEntry is what the cache knows about one seal. It is not changed after
// it is made.
type sealEntry struct {
	hashes map[[HashSize]byte]struct{} // of a usable seal
	kind   Kind                        // not 0: the seal is unusable
	reason string
	err    error
}

func (e *sealEntry) cost() int {
	if e.kind != 0 {
		return 1
	}
	return len(e.hashes)
}

// NewVerifier returns a Verifier that fetches seals with seals, which
// should return an error wrapping [ErrSealNotFound] (or a nil seal) for an
// unknown id. trustedKey, when not nil, decides whether a seal's signing key
// (DER SubjectPublicKeyInfo) is acceptable, returning nil if it is (see
// [TrustKeys]); a nil trustedKey accepts any key that verifies the seal.
// A nil seals finds no seal.
func NewVerifier(seals func(id uint64) (*accordv1.CustodySeal, error), trustedKey func(spkiDER []byte) error) *Verifier {
	if seals == nil {
		seals = func(uint64) (*accordv1.CustodySeal, error) { return nil, ErrSealNotFound }
	}
	return &Verifier{
		lookup:  seals,
		trusted: trustedKey,
		cache:   make(map[uint64]*sealEntry),
		limit:   DefaultCacheLimit,
	}
}

// TrustKeys returns a trustedKey function for [NewVerifier] that accepts
// exactly the given keys (DER SubjectPublicKeyInfo, as from
// [Sealer.PublicKey] or x509.MarshalPKIXPublicKey), and refuses others with
// an error wrapping [ErrUntrustedKey] that names the key's type and
// fingerprint. It keeps copies of the keys.
func TrustKeys(spkiDER ...[]byte) func(spkiDER []byte) error {
	keys := make(map[string]struct{}, len(spkiDER))
	for _, k := range spkiDER {
		keys[string(k)] = struct{}{}
	}
	return func(k []byte) error {
		if _, ok := keys[string(k)]; ok {
			return nil
		}
		return &untrustedKeyError{key: KeyFingerprint(k)}
	}
}

// untrustedKeyError is the error of the functions TrustKeys makes.
type untrustedKeyError struct{ key string }

func (e *untrustedKeyError) Error() string { return e.key + " is not one of the trusted keys" }
func (e *untrustedKeyError) Unwrap() error { return ErrUntrustedKey }

// KeyFingerprint describes a public key (DER SubjectPublicKeyInfo) for
// messages and logs: its type and the first 8 bytes of the SHA-256 of the
// DER, e.g. "ECDSA P-256 key sha256:3f2a9c01d4e5b6a7".
func KeyFingerprint(spkiDER []byte) string {
	sum := sha256.Sum256(spkiDER)
	fp := "sha256:" + hex.EncodeToString(sum[:8])
	pub, err := x509.ParsePKIXPublicKey(spkiDER)
	if err != nil {
		return "unreadable key " + fp
	}
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != nil {
			return "ECDSA " + k.Curve.Params().Name + " key " + fp
		}
	case ed25519.PublicKey:
		return "Ed25519 key " + fp
	}
	return fmt.Sprintf("%T key %s", pub, fp)
}

// SetCacheLimit sets how many event hashes the cache may hold; n ≤ 0 turns
// caching off (a chain then fetches and checks a seal once per run of
// consecutive events that it covers). It drops the oldest seals as needed.
func (v *Verifier) SetCacheLimit(n int) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.limit = n
	v.evictLocked(0)
}

// Reset empties the cache.
func (v *Verifier) Reset() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.cache = make(map[uint64]*sealEntry)
	v.fifo = nil
	v.size = 0
}

// Stats returns the verifier's counters.
func (v *Verifier) Stats() Stats {
	v.mu.Lock()
	defer v.mu.Unlock()
	return Stats{
		SealLookups:     v.lookups.Load(),
		SignatureChecks: v.checks.Load(),
		CachedSeals:     len(v.cache),
		CachedHashes:    v.size,
	}
}

// VerifyChain checks one evidence item's chain, its events in stored
// order, and returns nil when it is intact or the first broken link.
//
// For each event, in order, it checks: that it belongs to evidenceID and
// stands at its place (seq n at position n; otherwise an event is missing,
// duplicated or out of order); that prev_hash is the previous event's hash
// (empty for the first); that hash matches [Hash] of the content; that
// seal_id names a seal that can be found, is well formed, verifies with its
// key, has a trusted key, and lists the event's hash; that the fields obey
// the rules of [Next] (first event REGISTERED and only the first, known
// action, actor, details length, time present); and that time does not go
// backwards. An event whose content does not match its hash is reported as
// altered even when the alteration also puts it out of place (a flipped
// byte in seq or evidence_id), since its other fields cannot be trusted.
//
// It cannot see events removed from the end of the chain (see the package
// documentation).
//
// The result is a *Break, not an error, so that callers get the fields
// without a type assertion; compare it with nil before storing it in an
// error variable (a nil *Break in an error is not a nil error).
func (v *Verifier) VerifyChain(evidenceID string, events []*accordv1.CustodyEvent) *Break {
	fail := func(seq int64, kind Kind, err error, format string, args ...any) *Break {
		return &Break{EvidenceID: evidenceID, Seq: seq, Kind: kind, Reason: fmt.Sprintf(format, args...), Err: err}
	}
	if evidenceID == "" {
		return fail(0, KindEvidenceID, nil, "no evidence id to check the chain against")
	}
	if len(events) == 0 {
		return fail(1, KindSequence, nil, "the chain has no events: event 1 (registered) is missing")
	}
	const altered = "hash does not match the event's content (altered after it was written)"
	var (
		prev   *accordv1.CustodyEvent
		memoID uint64
		memo   *sealEntry
	)
	for i, ev := range events {
		pos := int64(i) + 1
		if ev == nil {
			return fail(pos, KindInvalid, nil, "the stored event is empty (nil)")
		}
		h := sum(ev)
		intact := string(h[:]) == string(ev.GetHash())
		switch {
		case ev.GetEvidenceId() != evidenceID && intact:
			return fail(pos, KindEvidenceID, nil, "the event stored here belongs to evidence item %q", ev.GetEvidenceId())
		case ev.GetSeq() != pos && intact:
			return fail(pos, KindSequence, nil, "%s", sequenceProblem(events, i))
		case ev.GetEvidenceId() != evidenceID, ev.GetSeq() != pos:
			return fail(pos, KindHash, nil, altered)
		}
		if prev == nil {
			if len(ev.GetPrevHash()) != 0 {
				return fail(pos, KindPrevHash, nil, "the first event has a prev_hash; it must have none")
			}
		} else if !bytes.Equal(ev.GetPrevHash(), prev.GetHash()) {
			return fail(pos, KindPrevHash, nil, "prev_hash is not the hash of event %d (the link was altered, or an event was replaced)", pos-1)
		}
		if !intact {
			return fail(pos, KindHash, nil, altered)
		}

		id := ev.GetSealId()
		if id == 0 {
			return fail(pos, KindSealMissing, nil, "the event is not sealed (seal_id is 0)")
		}
		if memo == nil || id != memoID {
			memo, memoID = v.seal(id), id
		}
		if memo.kind != 0 {
			return fail(pos, memo.kind, memo.err, "%s", memo.reason)
		}
		if _, ok := memo.hashes[h]; !ok {
			return fail(pos, KindNotInSeal, nil, "seal %d does not cover this event (its hash is not among the seal's event hashes)", id)
		}

		if kind, reason := checkFields(pos == 1, ev.GetAction(), ev.GetActor(), ev.GetDetails()); reason != "" {
			return fail(pos, kind, nil, "%s", reason)
		}
		t := ev.GetTime()
		if t == nil {
			return fail(pos, KindInvalid, nil, "time is missing")
		}
		if err := t.CheckValid(); err != nil {
			return fail(pos, KindInvalid, err, "time is invalid: %v", err)
		}
		if prev != nil {
			pt := prev.GetTime()
			if t.GetSeconds() < pt.GetSeconds() || (t.GetSeconds() == pt.GetSeconds() && t.GetNanos() < pt.GetNanos()) {
				return fail(pos, KindTime, nil, "time %s is before the previous event's time %s",
					t.AsTime().Format(time.RFC3339Nano), pt.AsTime().Format(time.RFC3339Nano))
			}
		}
		prev = ev
	}
	return nil
}

// sequenceProblem says why the intact event events[i] is not at its place.
func sequenceProblem(events []*accordv1.CustodyEvent, i int) string {
	pos := int64(i) + 1
	s := events[i].GetSeq()
	switch {
	case s < 1:
		return fmt.Sprintf("seq %d is not a position in a chain (they start at 1)", s)
	case s < pos:
		return fmt.Sprintf("event %d is stored again where event %d belongs (duplicated or out of order)", s, pos)
	}
	for _, later := range events[i+1:] {
		if later.GetSeq() == pos {
			return fmt.Sprintf("event %d is stored where event %d belongs (out of order)", s, pos)
		}
	}
	if pos == 1 {
		return fmt.Sprintf("event 1 is missing: the chain starts at event %d", s)
	}
	return fmt.Sprintf("event %d is missing: event %d follows event %d", pos, s, pos-1)
}

// seal returns what the verifier knows about seal id, fetching and checking
// it when it is not cached.
func (v *Verifier) seal(id uint64) *sealEntry {
	v.mu.Lock()
	e := v.cache[id]
	v.mu.Unlock()
	if e != nil {
		return e
	}
	v.lookups.Add(1)
	s, err := v.lookup(id)
	switch {
	case errors.Is(err, ErrSealNotFound) || (err == nil && s == nil):
		if err == nil {
			err = ErrSealNotFound
		}
		return &sealEntry{kind: KindSealMissing, reason: fmt.Sprintf("seal %d is missing", id), err: err}
	case err != nil:
		return &sealEntry{kind: KindSealMissing, reason: fmt.Sprintf("seal %d could not be read: %v", id, err), err: err}
	case s.GetId() != id:
		return &sealEntry{kind: KindSealInvalid, reason: fmt.Sprintf("the store returned seal %d for seal %d", s.GetId(), id)}
	}
	e = v.check(s)
	v.put(id, e)
	return e
}

// check verifies a seal and its key, and indexes its hashes.
func (v *Verifier) check(s *accordv1.CustodySeal) *sealEntry {
	v.checks.Add(1)
	if err := verifySeal(s); err != nil {
		if errors.Is(err, ErrBadSignature) {
			return &sealEntry{kind: KindSealInvalid, err: err,
				reason: fmt.Sprintf("seal %d's signature does not verify with its key (the seal or the hashes it lists were altered)", s.GetId())}
		}
		return &sealEntry{kind: KindSealInvalid, err: err, reason: fmt.Sprintf("seal %d is malformed: %v", s.GetId(), err)}
	}
	if v.trusted != nil {
		if err := v.trusted(s.GetSignerPublicKey()); err != nil {
			return &sealEntry{kind: KindUntrustedKey, err: err,
				reason: fmt.Sprintf("seal %d is signed by a key that is not trusted (%v)", s.GetId(), err)}
		}
	}
	hashes := make(map[[HashSize]byte]struct{}, len(s.GetEventHashes()))
	for _, h := range s.GetEventHashes() {
		hashes[[HashSize]byte(h)] = struct{}{} // verifySeal checked the length
	}
	return &sealEntry{hashes: hashes}
}

// put caches e as seal id, dropping the oldest seals to stay in the limit.
func (v *Verifier) put(id uint64, e *sealEntry) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, ok := v.cache[id]; ok || e.cost() > v.limit {
		return // another goroutine was faster, or it can never fit
	}
	v.evictLocked(e.cost())
	v.cache[id] = e
	v.fifo = append(v.fifo, id)
	v.size += e.cost()
}

// evictLocked drops the oldest seals until room more hashes fit.
func (v *Verifier) evictLocked(room int) {
	for len(v.fifo) > 0 && v.size+room > v.limit {
		id := v.fifo[0]
		v.fifo = v.fifo[1:]
		v.size -= v.cache[id].cost()
		delete(v.cache, id)
	}
}
