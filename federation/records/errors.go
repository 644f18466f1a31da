package records

import "errors"

var (
	// ErrInvalid is wrapped when a record or case is malformed; the
	// message names the field.
	ErrInvalid = errors.New("invalid record")
	// ErrSignature is wrapped when a record's signature or audit path does
	// not verify.
	ErrSignature = errors.New("record signature does not verify")
	// ErrUnknownKey is wrapped when the signing key is not a key of the
	// record's origin in the registry.
	ErrUnknownKey = errors.New("unknown signing key")
)
