package voprf

import "errors"

// The messages of these errors never contain an input, an output or key
// material.
var (
	// ErrInvalidKey is wrapped when private or public key bytes do not
	// parse: a wrong length, a non-canonical encoding, a zero scalar or the
	// identity element.
	ErrInvalidKey = errors.New("voprf: invalid key")
	// ErrDeriveKeyPair is wrapped by [DeriveKeyPair] when the seed is not
	// [SeedSize] bytes, the info is longer than [MaxInputSize], or no
	// non-zero scalar is found (RFC 9497 DeriveKeyPairError).
	ErrDeriveKeyPair = errors.New("voprf: cannot derive key pair")
	// ErrInvalidInput is wrapped when an input is longer than
	// [MaxInputSize] or hashes to the identity (RFC 9497
	// InvalidInputError).
	ErrInvalidInput = errors.New("voprf: invalid input")
	// ErrInvalidElement is wrapped when an element does not decode: a
	// wrong length, a non-canonical encoding, not a group element, or the
	// identity (RFC 9497 DeserializeError).
	ErrInvalidElement = errors.New("voprf: invalid element")
	// ErrInvalidProof is wrapped when a proof does not decode: a wrong
	// length or a non-canonical scalar.
	ErrInvalidProof = errors.New("voprf: invalid proof encoding")
	// ErrVerify is wrapped by [Request.Finalize] when the proof does not
	// show that the evaluated elements were made with the public key's
	// secret key (RFC 9497 VerifyError).
	ErrVerify = errors.New("voprf: proof does not verify")
	// ErrBatch is wrapped when a batch is empty, holds more than
	// [MaxBatch] elements, or the evaluated elements are not as many as
	// the blinded ones.
	ErrBatch = errors.New("voprf: bad batch size")
	// ErrRandom is wrapped when the random source fails.
	ErrRandom = errors.New("voprf: random source failed")
)
