package persons

import "errors"

// The errors of this package never contain a name or a token.
var (
	// ErrNotMember is wrapped when the caller is not a registered node of
	// another admitted member (codes.PermissionDenied).
	ErrNotMember = errors.New("not a node of another admitted member")
	// ErrRequest is wrapped when a request field is invalid; the message
	// names the field (codes.InvalidArgument).
	ErrRequest = errors.New("invalid person-token request")
	// ErrUnknownKey is wrapped when a request names a key version the node
	// does not hold (codes.NotFound).
	ErrUnknownKey = errors.New("unknown person-token key version")
	// ErrBudget is wrapped when a request would exceed the asking member's
	// or user's budget of evaluations (codes.ResourceExhausted).
	ErrBudget = errors.New("person-token evaluation budget exhausted")
	// ErrRateLimited is wrapped when one of the office's users, or the
	// node as a whole, has made as many lookups as the window allows
	// (codes.ResourceExhausted).
	ErrRateLimited = errors.New("lookup limit reached")
	// ErrPeer is wrapped when another member's node could not be asked or
	// its answer did not verify (codes.Unavailable).
	ErrPeer = errors.New("person tokens not obtained from the member's node")
)
