package custody

import "errors"

var (
	// ErrInvalidEvent is wrapped by [Next] when an argument or the previous
	// event is not acceptable; the message names the field and the reason.
	ErrInvalidEvent = errors.New("invalid custody event")
	// ErrInvalidSeal is wrapped by [Sealer.Seal] when its arguments are not
	// acceptable, and by [VerifySeal] when a seal is malformed (no event
	// hashes, a hash of the wrong length, no signature, an unreadable key).
	ErrInvalidSeal = errors.New("invalid custody seal")
	// ErrBadSignature is wrapped by [VerifySeal] when a well-formed seal's
	// signature does not verify with its embedded key.
	ErrBadSignature = errors.New("custody seal signature does not verify")
	// ErrUnsupportedKey is wrapped when a key is neither ECDSA on P-256,
	// P-384 or P-521 nor Ed25519, or when a signer's key fails its self-test.
	ErrUnsupportedKey = errors.New("unsupported custody seal key")
	// ErrInvalidSigner is wrapped by [NewSealer] when the signer identity is
	// not an absolute URI.
	ErrInvalidSigner = errors.New("invalid custody seal signer")
	// ErrSealNotFound is what a seal lookup passed to [NewVerifier] should
	// return (wrapped or not) for a seal id it does not know; other lookup
	// errors are reported as a seal that could not be read.
	ErrSealNotFound = errors.New("custody seal not found")
)

// ErrUntrustedKey is returned by the function [TrustKeys] makes, for a key
// that is not one of those it was given.
var ErrUntrustedKey = errors.New("custody seal key is not trusted")
