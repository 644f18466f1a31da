package exchange

import "errors"

var (
	// ErrCursor is wrapped when a cursor is malformed, forged, or was issued
	// to another member (codes.InvalidArgument).
	ErrCursor = errors.New("invalid cursor")
	// ErrCursorExpired is wrapped when a cursor is of another feed epoch or
	// older than the retained feed: the caller must resync from the start
	// (codes.OutOfRange).
	ErrCursorExpired = errors.New("cursor expired: resync from the start")
	// ErrNotMember is wrapped when the caller is not a registered node of an
	// admitted member, and when an open Sync stream is cut because the
	// registry no longer shows it as one (codes.PermissionDenied).
	ErrNotMember = errors.New("not a node of an admitted member")
	// ErrRequest is wrapped when a request field is invalid
	// (codes.InvalidArgument).
	ErrRequest = errors.New("invalid request")
	// ErrTooManyStreams is wrapped when a member already has as many Sync
	// streams open on this node as it may (codes.ResourceExhausted).
	ErrTooManyStreams = errors.New("too many open Sync streams")
	// ErrPeerSilent is wrapped when the puller closes a Sync stream because
	// the peer sent nothing, not even a heartbeat, for longer than
	// PullerOptions.SilentAfter (a frozen or cut-off node).
	ErrPeerSilent = errors.New("peer not answering")
)
