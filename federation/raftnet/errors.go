package raftnet

import "errors"

var (
	// ErrConfig is wrapped by every configuration error.
	ErrConfig = errors.New("invalid raftnet configuration")
	// ErrClosed is returned by Accept and Dial once the layer is closed.
	ErrClosed = errors.New("raft stream layer closed")
	// ErrNotAllowed is wrapped when a verified peer may not take part in
	// Raft: it is a user, or Allow refused it.
	ErrNotAllowed = errors.New("peer may not take part in raft")
	// ErrUnknownAddress is returned by Dial when no identity is expected at
	// an address; nothing is dialled.
	ErrUnknownAddress = errors.New("no identity is expected at this raft address")
	// ErrProtocol is wrapped when a peer does not speak this package's
	// protocol (wrong or missing ALPN, no acceptance byte).
	ErrProtocol = errors.New("raft protocol mismatch")
	// ErrBadServerID is returned when a raft.ServerID is not a node
	// identity URI.
	ErrBadServerID = errors.New("raft server id is not a node identity")
)
