package personenc

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"hash"
	"strconv"
	"sync"
)

// MinKeyMaterial is the least number of bytes of federation key material
// [NewKey] accepts.
const MinKeyMaterial = 16

// purpose is the HKDF info prefix: it binds derived keys to this use, so
// that the registry's key material, if ever used for something else, never
// yields the same bytes.
const purpose = "accord person encoding v1"

// hkdfSalt is a fixed, public salt (RFC 5869 allows one; it only has to be
// independent of the material).
var hkdfSalt = []byte("accord/federation/personenc")

// Key is the derived keying of one federation and one key version. It holds
// only derived subkeys, never the registry's key material. The zero Key is
// not usable; make one with [NewKey].
type Key struct {
	version int
	gram    []byte // HMAC key for name bigrams
	year    []byte // HMAC key for birth-year tags
	noise   []byte // HMAC key seeding the randomized response (BLIP)
	// macs holds keyed HMAC states for reuse (an HMAC's key schedule
	// costs as much as a few grams); shared by copies of the key.
	macs *sync.Pool
}

// keyMACs are the HMACs of one encoding under a key, reset before use,
// and the gram HMAC's outputs for bigrams (at most maxCachedGrams; never
// whole tokens, which are name words).
type keyMACs struct {
	gram, noise, year hash.Hash
	grams             map[string][sha256.Size]byte
}

// maxCachedGrams bounds a keyMACs' outputs kept (about 100 bytes each).
const maxCachedGrams = 1 << 15

// getMACs returns reusable HMACs under k (put them back with putMACs).
func (k Key) getMACs() *keyMACs {
	if k.macs != nil {
		return k.macs.Get().(*keyMACs)
	}
	return k.newMACs()
}

func (k Key) putMACs(m *keyMACs) {
	if k.macs != nil {
		k.macs.Put(m)
	}
}

func (k Key) newMACs() *keyMACs {
	return &keyMACs{gram: hmac.New(sha256.New, k.gram), noise: hmac.New(sha256.New, k.noise), year: hmac.New(sha256.New, k.year),
		grams: make(map[string][sha256.Size]byte)}
}

// Version is the key version the key was made for.
func (k Key) Version() int { return k.version }

// NewKey derives the encoding keys for federation (its trust-domain name)
// and key version from the registry's key material (at least
// [MinKeyMaterial] bytes, high entropy). Each subkey is
//
//	HKDF-SHA256(secret = material, salt = "accord/federation/personenc",
//	            info = "accord person encoding v1" 0x00 federation 0x00
//	                   decimal(version) 0x00 subkey-name, length 32)
//
// with subkey-name "gram", "year" or "noise", so the same material gives
// unrelated keys in another federation, another version or another use.
// The material is not retained.
func NewKey(federation string, version int, material []byte) (Key, error) {
	switch {
	case federation == "":
		return Key{}, fmt.Errorf("%w: empty federation name", ErrInvalidKey)
	case version < 0:
		return Key{}, fmt.Errorf("%w: negative version %d", ErrInvalidKey, version)
	case len(material) < MinKeyMaterial:
		return Key{}, fmt.Errorf("%w: %d bytes of key material, need at least %d",
			ErrInvalidKey, len(material), MinKeyMaterial)
	}
	derive := func(sub string) ([]byte, error) {
		info := purpose + "\x00" + federation + "\x00" + strconv.Itoa(version) + "\x00" + sub
		return hkdf.Key(sha256.New, material, hkdfSalt, info, 32)
	}
	k := Key{version: version}
	var err error
	if k.gram, err = derive("gram"); err != nil {
		return Key{}, fmt.Errorf("%w: %w", ErrInvalidKey, err)
	}
	if k.year, err = derive("year"); err != nil {
		return Key{}, fmt.Errorf("%w: %w", ErrInvalidKey, err)
	}
	if k.noise, err = derive("noise"); err != nil {
		return Key{}, fmt.Errorf("%w: %w", ErrInvalidKey, err)
	}
	k.macs = &sync.Pool{New: func() any { return k.newMACs() }}
	return k, nil
}

func (k Key) valid() bool { return len(k.gram) == 32 && len(k.year) == 32 && len(k.noise) == 32 }
