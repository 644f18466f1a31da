package custody

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"net/url"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// MaxSealEvents is the most events one seal may cover. A seal of that size
// is about 2.2 MB on the wire (34 bytes per hash), which keeps a
// GetCustodyChain response that carries it well under gRPC's default 4 MiB
// message limit.
const MaxSealEvents = 1 << 16

// SealDigest returns the bytes a seal's signature signs: SHA-256 over the
// concatenation of the event hashes, in order. Each hash is expected to be
// [HashSize] bytes long, which [VerifySeal] and [Sealer.Seal] check.
func SealDigest(eventHashes [][]byte) []byte {
	d := sealDigest(eventHashes)
	return d[:]
}

func sealDigest(eventHashes [][]byte) [sha256.Size]byte {
	h := sha256.New()
	for _, e := range eventHashes {
		h.Write(e)
	}
	var d [sha256.Size]byte
	h.Sum(d[:0])
	return d
}

// Sealer signs seals with a node's private key. It is safe for concurrent
// use when the key is (the standard library's ECDSA and Ed25519 keys are).
type Sealer struct {
	key    crypto.Signer
	opts   crypto.SignerOpts
	signer string
	spki   []byte
}

// NewSealer returns a Sealer that signs with key, normally the private key
// of the node's TLS certificate, in the name of signer, the node's identity
// URI (spiffe://<federation>/member/<MEMBER>/node/<name>). The key must be
// ECDSA on P-256, P-384 or P-521, or Ed25519 ([ErrUnsupportedKey]
// otherwise); NewSealer signs and verifies a test digest once, so that a
// signer whose private and public keys do not match (a misconfigured
// hardware key, say) is refused here rather than producing seals that never
// verify. signer must be an absolute URI ([ErrInvalidSigner]).
func NewSealer(key crypto.Signer, signer string) (*Sealer, error) {
	if key == nil {
		return nil, fmt.Errorf("%w: no key", ErrUnsupportedKey)
	}
	pub := key.Public()
	if err := checkKey(pub); err != nil {
		return nil, err
	}
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnsupportedKey, err)
	}
	if u, err := url.Parse(signer); signer == "" || err != nil || !u.IsAbs() {
		return nil, fmt.Errorf("%w: %q is not an absolute URI", ErrInvalidSigner, signer)
	}
	s := &Sealer{key: key, opts: crypto.SHA256, signer: signer, spki: spki}
	if _, ok := pub.(ed25519.PublicKey); ok {
		s.opts = crypto.Hash(0) // pure Ed25519 over the digest
	}
	probe := sha256.Sum256([]byte("accord custody sealer self-test"))
	sig, err := s.sign(probe[:])
	if err != nil {
		return nil, fmt.Errorf("%w: self-test: %w", ErrUnsupportedKey, err)
	}
	if !verifyDigest(pub, probe[:], sig) {
		return nil, fmt.Errorf("%w: self-test: the key's signature does not verify with its public key", ErrUnsupportedKey)
	}
	return s, nil
}

// Signer returns the identity the seals are made in the name of.
func (s *Sealer) Signer() string { return s.signer }

// PublicKey returns a copy of the signing key as DER SubjectPublicKeyInfo,
// the form seals embed (and the one a trustedKey function receives).
func (s *Sealer) PublicKey() []byte { return append([]byte(nil), s.spki...) }

func (s *Sealer) sign(digest []byte) ([]byte, error) {
	return s.key.Sign(rand.Reader, digest, s.opts)
}

// Seal makes seal id over events: it signs [SealDigest] of their hashes, in
// the order given, and on success sets each event's seal_id to id and
// returns the seal. On error no event is changed.
//
// It refuses ([ErrInvalidSeal]) an id of 0 (seal_id 0 means "not sealed"),
// no events or more than [MaxSealEvents], a nil event, an event whose hash
// is not [HashSize] bytes or does not match [Hash] of its content (it was
// changed after [Next]), an event already sealed (seal_id not 0), and a
// time that is zero or not representable. The seal keeps copies of the
// hashes.
func (s *Sealer) Seal(id uint64, events []*accordv1.CustodyEvent, at time.Time) (*accordv1.CustodySeal, error) {
	switch {
	case id == 0:
		return nil, fmt.Errorf("%w: id 0 is reserved for \"not sealed\"", ErrInvalidSeal)
	case len(events) == 0:
		return nil, fmt.Errorf("%w: no events", ErrInvalidSeal)
	case len(events) > MaxSealEvents:
		return nil, fmt.Errorf("%w: %d events, at most %d", ErrInvalidSeal, len(events), MaxSealEvents)
	case at.IsZero():
		return nil, fmt.Errorf("%w: time is the zero time", ErrInvalidSeal)
	}
	ts := timestamppb.New(at)
	if err := ts.CheckValid(); err != nil {
		return nil, fmt.Errorf("%w: time: %w", ErrInvalidSeal, err)
	}
	// One backing array for all hashes: the seal's event_hashes slice it,
	// and the digest is taken over it in one call.
	all := make([]byte, 0, len(events)*HashSize)
	for i, ev := range events {
		switch {
		case ev == nil:
			return nil, fmt.Errorf("%w: events[%d] is nil", ErrInvalidSeal, i)
		case len(ev.GetHash()) != HashSize:
			return nil, fmt.Errorf("%w: events[%d] (%s event %d): hash has %d bytes, want %d", ErrInvalidSeal, i, ev.GetEvidenceId(), ev.GetSeq(), len(ev.GetHash()), HashSize)
		case ev.GetSealId() != 0:
			return nil, fmt.Errorf("%w: events[%d] (%s event %d) is already sealed by seal %d", ErrInvalidSeal, i, ev.GetEvidenceId(), ev.GetSeq(), ev.GetSealId())
		}
		if h := sum(ev); string(h[:]) != string(ev.GetHash()) {
			return nil, fmt.Errorf("%w: events[%d] (%s event %d): hash does not match the event's content", ErrInvalidSeal, i, ev.GetEvidenceId(), ev.GetSeq())
		}
		all = append(all, ev.GetHash()...)
	}
	digest := sha256.Sum256(all)
	sig, err := s.sign(digest[:])
	if err != nil {
		return nil, fmt.Errorf("sign custody seal %d: %w", id, err)
	}
	hashes := make([][]byte, len(events))
	for i := range hashes {
		hashes[i] = all[i*HashSize : (i+1)*HashSize : (i+1)*HashSize]
	}
	for _, ev := range events {
		ev.SealId = id
	}
	return &accordv1.CustodySeal{
		Id:              id,
		EventHashes:     hashes,
		Signature:       sig,
		SignerPublicKey: append([]byte(nil), s.spki...),
		Signer:          s.signer,
		Time:            ts,
	}, nil
}

// VerifySeal checks a seal's signature with the public key it embeds. It
// returns an error wrapping [ErrInvalidSeal] for a malformed seal (nil, id
// 0, no event hashes or more than [MaxSealEvents], a hash that is not
// [HashSize] bytes, no signature, an unreadable key), [ErrUnsupportedKey]
// for a key of another type, and [ErrBadSignature] when the signature does
// not verify. It does not decide whether the key is trusted, and it cannot
// check the seal's signer and time, which the signature does not cover.
func VerifySeal(seal *accordv1.CustodySeal) error {
	if seal == nil {
		return fmt.Errorf("%w: no seal", ErrInvalidSeal)
	}
	if err := verifySeal(seal); err != nil {
		return fmt.Errorf("seal %d: %w", seal.GetId(), err)
	}
	return nil
}

// verifySeal is VerifySeal without the seal's id in the error.
func verifySeal(seal *accordv1.CustodySeal) error {
	switch n := len(seal.GetEventHashes()); {
	case seal.GetId() == 0:
		return fmt.Errorf("%w: id is 0", ErrInvalidSeal)
	case n == 0:
		return fmt.Errorf("%w: no event hashes", ErrInvalidSeal)
	case n > MaxSealEvents:
		return fmt.Errorf("%w: %d event hashes, at most %d", ErrInvalidSeal, n, MaxSealEvents)
	case len(seal.GetSignature()) == 0:
		return fmt.Errorf("%w: no signature", ErrInvalidSeal)
	}
	for i, h := range seal.GetEventHashes() {
		if len(h) != HashSize {
			return fmt.Errorf("%w: event_hashes[%d] has %d bytes, want %d", ErrInvalidSeal, i, len(h), HashSize)
		}
	}
	pub, err := x509.ParsePKIXPublicKey(seal.GetSignerPublicKey())
	if err != nil {
		return fmt.Errorf("%w: signer_public_key: %w", ErrInvalidSeal, err)
	}
	if err := checkKey(pub); err != nil {
		return err
	}
	d := sealDigest(seal.GetEventHashes())
	if !verifyDigest(pub, d[:], seal.GetSignature()) {
		return ErrBadSignature
	}
	return nil
}

// checkKey refuses keys other than ECDSA on P-256, P-384, P-521 and Ed25519.
func checkKey(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
			return nil
		}
		if k.Curve == nil {
			return fmt.Errorf("%w: ECDSA key without a curve", ErrUnsupportedKey)
		}
		return fmt.Errorf("%w: ECDSA on %s", ErrUnsupportedKey, k.Curve.Params().Name)
	case ed25519.PublicKey:
		if len(k) == ed25519.PublicKeySize {
			return nil
		}
		return fmt.Errorf("%w: Ed25519 key of %d bytes", ErrUnsupportedKey, len(k))
	case nil:
		return fmt.Errorf("%w: no public key", ErrUnsupportedKey)
	}
	return fmt.Errorf("%w: %T", ErrUnsupportedKey, pub)
}

// verifyDigest checks sig over digest with a key that passed checkKey.
func verifyDigest(pub crypto.PublicKey, digest, sig []byte) bool {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		return ecdsa.VerifyASN1(k, digest, sig)
	case ed25519.PublicKey:
		return ed25519.Verify(k, digest, sig)
	}
	return false
}
