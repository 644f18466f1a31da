package persontoken

import (
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/accordfed/accord/federation/voprf"
)

// SuiteName names the ciphersuite (for documentation and status).
const SuiteName = "ristretto255-SHA512 VOPRF (RFC 9497)"

// MaxBatch is the most elements one evaluation request may hold.
const MaxBatch = 4096

// KeySize and PublicKeySize are the lengths of a marshalled key and public
// key.
const (
	KeySize       = 32
	PublicKeySize = 32
)

// Key is one node's secret token key. It never leaves its node.
type Key struct {
	sk  *voprf.PrivateKey
	pub []byte
	// memo remembers the key's recent direct evaluations: a node projects
	// the same persons again at every change of their case, at every
	// restart of its matcher and for every member it asks for pair tokens.
	memo memo
}

// memoSize is how many evaluations a key remembers per generation (two
// generations: about 2 × 2^17 × 80 bytes, 20 MiB, at most).
const memoSize = 1 << 17

// memo is a bounded cache of direct evaluations, keyed by the SHA-256 of
// the input (so that it holds no name), in two generations: when the
// current one is full it becomes the previous one, and what is found in the
// previous one moves back to the current one.
type memo struct {
	mu        sync.Mutex
	cur, prev map[[sha256.Size]byte]Token
}

func (m *memo) get(h [sha256.Size]byte) (Token, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if t, ok := m.cur[h]; ok {
		return t, true
	}
	t, ok := m.prev[h]
	if ok {
		m.putLocked(h, t)
	}
	return t, ok
}

func (m *memo) put(h [sha256.Size]byte, t Token) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.putLocked(h, t)
}

func (m *memo) putLocked(h [sha256.Size]byte, t Token) {
	if m.cur == nil || len(m.cur) >= memoSize {
		m.prev, m.cur = m.cur, make(map[[sha256.Size]byte]Token, 1024)
	}
	m.cur[h] = t
}

// GenerateKey makes a new key from rnd (crypto/rand when nil).
func GenerateKey(rnd io.Reader) (*Key, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	sk, err := voprf.GenerateKey(rnd)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidKey, err)
	}
	return newKey(sk), nil
}

// DeriveKey derives a key deterministically from a secret seed of 32
// bytes and a context string (RFC 9497 DeriveKeyPair), for offline
// matching of files (`accordctl match`), where no node and no peer are
// involved.
func DeriveKey(seed []byte, info string) (*Key, error) {
	if len(seed) != voprf.SeedSize {
		return nil, fmt.Errorf("%w: seed of %d bytes, want %d", ErrInvalidKey, len(seed), voprf.SeedSize)
	}
	sk, err := voprf.DeriveKeyPair(seed, []byte(info))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidKey, err)
	}
	return newKey(sk), nil
}

// ParseKey reads a key marshalled by [Key.Marshal] (the RFC's 32-byte
// little-endian scalar, as earlier builds wrote it with
// cloudflare/circl).
func ParseKey(b []byte) (*Key, error) {
	if len(b) != KeySize {
		return nil, fmt.Errorf("%w: %d bytes, want %d", ErrInvalidKey, len(b), KeySize)
	}
	sk, err := voprf.ParsePrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidKey, err)
	}
	return newKey(sk), nil
}

func newKey(sk *voprf.PrivateKey) *Key {
	return &Key{sk: sk, pub: sk.Public().Bytes()}
}

// Marshal returns the secret key's bytes (for the node's key file only).
func (k *Key) Marshal() []byte { return k.sk.Bytes() }

// Public returns the public key that pins evaluations to this key (it goes
// in the registry).
func (k *Key) Public() []byte { return append([]byte(nil), k.pub...) }

// Tokens computes a person's tokens under this key directly, with the
// years below and above: what the origin publishes.
func (k *Key) Tokens(key string, in Input) (Tokens, error) {
	t := Tokens{Key: key}
	if err := k.full(&t.Name, in.Name); err != nil {
		return Tokens{}, err
	}
	if err := k.full(&t.Skel, in.Skel); err != nil {
		return Tokens{}, err
	}
	if in.Year != nil {
		t.HasYear = true
		if err := k.full(&t.Year, in.Year); err != nil {
			return Tokens{}, err
		}
		if in.Near[0] != nil && in.Near[1] != nil {
			t.HasNear = true
			for i := range in.Near {
				if err := k.full(&t.Near[i], in.Near[i]); err != nil {
					return Tokens{}, err
				}
			}
		}
	}
	return t, nil
}

func (k *Key) full(dst *Token, input []byte) error {
	h := sha256.Sum256(input)
	if t, ok := k.memo.get(h); ok {
		*dst = t
		return nil
	}
	out, err := k.sk.Evaluate(input)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	copy(dst[:], out)
	k.memo.put(h, *dst)
	return nil
}

// Evaluate evaluates blinded elements (as [Request.Elements] made them)
// and returns the evaluated elements with a batched proof that this key
// evaluated them. It learns nothing of the inputs.
func (k *Key) Evaluate(blinded [][]byte) (evaluated [][]byte, proof []byte, err error) {
	if len(blinded) == 0 {
		return nil, nil, fmt.Errorf("%w: no elements", ErrMalformed)
	}
	if len(blinded) > MaxBatch {
		return nil, nil, fmt.Errorf("%w: %d elements, at most %d", ErrTooMany, len(blinded), MaxBatch)
	}
	evaluated, proof, err = k.sk.BlindEvaluate(nil, blinded)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return evaluated, proof, nil
}

// CheckPublicKey reports whether b is a public key (as [Key.Public] gives
// it), wrapping [ErrInvalidKey] when not.
func CheckPublicKey(b []byte) error {
	if len(b) != PublicKeySize {
		return fmt.Errorf("%w: public key of %d bytes, want %d", ErrInvalidKey, len(b), PublicKeySize)
	}
	if _, err := voprf.ParsePublicKey(b); err != nil {
		return fmt.Errorf("%w: public key: %w", ErrInvalidKey, err)
	}
	return nil
}

// Request is one blinded evaluation request for some persons' tokens under
// another node's key.
type Request struct {
	// Elements are the blinded elements to send to the key's node.
	Elements [][]byte

	key     string
	pub     *voprf.PublicKey
	blinded *voprf.Request
	shape   []shape
	persons int
}

// shape says which elements belong to which person.
type shape struct {
	first         int
	hasYear, near bool
}

// NewRequest blinds the inputs of persons for the key whose public key is
// pub (named key in the tokens it returns). Each person costs two
// evaluations, three with a year.
func NewRequest(key string, pub []byte, inputs []Input) (*Request, error) {
	return newRequest(key, pub, inputs, false)
}

// NewRequestWithNear is NewRequest with the year below and above as well
// (five evaluations a person with a year): what a pair token's origin side
// needs ([OuterInputs]).
func NewRequestWithNear(key string, pub []byte, inputs []Input) (*Request, error) {
	return newRequest(key, pub, inputs, true)
}

func newRequest(key string, pub []byte, inputs []Input, near bool) (*Request, error) {
	pk, err := voprf.ParsePublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("%w: public key: %w", ErrInvalidKey, err)
	}
	r := &Request{key: key, pub: pk, persons: len(inputs)}
	var raw [][]byte
	for _, in := range inputs {
		withNear := near && in.Year != nil && in.Near[0] != nil && in.Near[1] != nil
		r.shape = append(r.shape, shape{first: len(raw), hasYear: in.Year != nil, near: withNear})
		raw = append(raw, in.Name, in.Skel)
		if in.Year != nil {
			raw = append(raw, in.Year)
		}
		if withNear {
			raw = append(raw, in.Near[0], in.Near[1])
		}
	}
	if len(raw) == 0 {
		return nil, fmt.Errorf("%w: no persons", ErrMalformed)
	}
	if len(raw) > MaxBatch {
		return nil, fmt.Errorf("%w: %d elements, at most %d", ErrTooMany, len(raw), MaxBatch)
	}
	if r.blinded, err = voprf.Blind(nil, raw); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	r.Elements = r.blinded.Elements
	return r, nil
}

// Finish checks the origin's answer and returns the persons' tokens, in the
// order of the inputs.
func (r *Request) Finish(evaluated [][]byte, proof []byte) ([]Tokens, error) {
	if len(evaluated) != len(r.Elements) {
		return nil, fmt.Errorf("%w: %d evaluated elements for %d sent", ErrMalformed, len(evaluated), len(r.Elements))
	}
	outs, err := r.blinded.Finalize(r.pub, evaluated, proof)
	if errors.Is(err, voprf.ErrVerify) {
		return nil, fmt.Errorf("%w: %w", ErrProof, err)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	res := make([]Tokens, r.persons)
	for i, s := range r.shape {
		t := Tokens{Key: r.key, HasYear: s.hasYear}
		copy(t.Name[:], outs[s.first])
		copy(t.Skel[:], outs[s.first+1])
		if s.hasYear {
			copy(t.Year[:], outs[s.first+2])
		}
		if s.near {
			t.HasNear = true
			copy(t.Near[0][:], outs[s.first+3])
			copy(t.Near[1][:], outs[s.first+4])
		}
		res[i] = t
	}
	return res, nil
}
