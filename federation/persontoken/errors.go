package persontoken

import "errors"

// The messages of these errors never contain a name, a token or key
// material: they may be logged and sent to peers.
var (
	// ErrInvalidKey is wrapped when key bytes or a public key do not parse.
	ErrInvalidKey = errors.New("invalid person token key")
	// ErrMalformed is wrapped for tokens, blinded or evaluated elements and
	// proofs that do not parse, and for element counts out of range.
	ErrMalformed = errors.New("malformed person token data")
	// ErrProof is wrapped by [Request.Finish] when the origin's proof does
	// not show that it evaluated with the key it published.
	ErrProof = errors.New("person token evaluation proof does not verify")
	// ErrTooMany is wrapped when a request holds more than [MaxBatch]
	// elements.
	ErrTooMany = errors.New("too many person token elements in one request")
)
