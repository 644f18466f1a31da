package voprf

import (
	"crypto/rand"
	"fmt"
	"io"

	"github.com/gtank/ristretto255"
)

// PrivateKey is a server's secret key skS with its public key, made by
// [GenerateKey], [DeriveKeyPair] or [ParsePrivateKey] (the zero value is
// no key until UnmarshalBinary sets it). Its methods may be called from
// several goroutines at once.
type PrivateKey struct {
	k   ristretto255.Scalar
	pub PublicKey
}

// PublicKey is a server's public key pkS = skS·G, which pins its
// evaluations.
type PublicKey struct {
	e   ristretto255.Element
	enc [ElementSize]byte
}

// GenerateKey makes a new key from rnd (crypto/rand when nil): RFC 9497
// GenerateKeyPair.
func GenerateKey(rnd io.Reader) (*PrivateKey, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	k, err := randomScalar(rnd)
	if err != nil {
		return nil, err
	}
	return newPrivateKey(k), nil
}

// DeriveKeyPair derives a key deterministically from a seed of [SeedSize]
// bytes and an info string: RFC 9497 §3.2.1 DeriveKeyPair for the VOPRF
// mode.
func DeriveKeyPair(seed, info []byte) (*PrivateKey, error) {
	if len(seed) != SeedSize {
		return nil, fmt.Errorf("%w: seed of %d bytes, want %d", ErrDeriveKeyPair, len(seed), SeedSize)
	}
	if len(info) > MaxInputSize {
		return nil, fmt.Errorf("%w: info of %d bytes, at most %d", ErrDeriveKeyPair, len(info), MaxInputSize)
	}
	// deriveInput = seed || I2OSP(len(info), 2) || info
	deriveInput := make([]byte, 0, len(seed)+2+len(info))
	deriveInput = append(deriveInput, seed...)
	deriveInput = append(deriveInput, i2osp2(len(info))...)
	deriveInput = append(deriveInput, info...)
	for counter := range 256 {
		// skS = HashToScalar(deriveInput || I2OSP(counter, 1), DST = "DeriveKeyPair" || contextString)
		k := hashToScalar(dstDeriveKeyPair, deriveInput, []byte{byte(counter)})
		if k.Equal(zeroScalar) == 0 {
			return newPrivateKey(k), nil
		}
	}
	return nil, fmt.Errorf("%w: no non-zero scalar", ErrDeriveKeyPair)
}

// ParsePrivateKey reads a key as [PrivateKey.Bytes] (and circl's
// oprf.PrivateKey.MarshalBinary) writes it.
func ParsePrivateKey(b []byte) (*PrivateKey, error) {
	k := new(PrivateKey)
	if err := k.UnmarshalBinary(b); err != nil {
		return nil, err
	}
	return k, nil
}

func newPrivateKey(k *ristretto255.Scalar) *PrivateKey {
	sk := &PrivateKey{k: *k}
	sk.pub.e.ScalarBaseMult(k)
	sk.pub.e.Encode(sk.pub.enc[:0])
	return sk
}

// Bytes returns the key's SerializeScalar: 32 bytes, little endian.
func (k *PrivateKey) Bytes() []byte {
	return k.k.Encode(make([]byte, 0, ScalarSize))
}

// MarshalBinary is [PrivateKey.Bytes] (encoding.BinaryMarshaler); it
// never fails.
func (k *PrivateKey) MarshalBinary() ([]byte, error) {
	return k.Bytes(), nil
}

// UnmarshalBinary sets k to the key b encodes: a canonical non-zero
// scalar of [ScalarSize] bytes (encoding.BinaryUnmarshaler). On error k is
// unchanged.
func (k *PrivateKey) UnmarshalBinary(b []byte) error {
	var s ristretto255.Scalar
	if !decodeScalar(&s, b) {
		return fmt.Errorf("%w: not a canonical scalar of %d bytes", ErrInvalidKey, ScalarSize)
	}
	if s.Equal(zeroScalar) == 1 {
		return fmt.Errorf("%w: zero scalar", ErrInvalidKey)
	}
	*k = *newPrivateKey(&s)
	return nil
}

// Public returns the key's public key.
func (k *PrivateKey) Public() *PublicKey {
	p := k.pub
	return &p
}

// ParsePublicKey reads a public key as [PublicKey.Bytes] writes it: a
// canonical encoding of an element other than the identity.
func ParsePublicKey(b []byte) (*PublicKey, error) {
	p := new(PublicKey)
	if err := decodeElement(&p.e, b); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidKey, err)
	}
	copy(p.enc[:], b)
	return p, nil
}

// Bytes returns the public key's SerializeElement (32 bytes).
func (p *PublicKey) Bytes() []byte {
	return append([]byte(nil), p.enc[:]...)
}
