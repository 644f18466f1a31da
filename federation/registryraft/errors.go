package registryraft

import (
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/accordfed/accord/federation/registry"
)

var (
	// ErrConfig is wrapped by every configuration error.
	ErrConfig = errors.New("invalid registry raft configuration")
	// ErrClosed is returned once the node is closed or Raft has shut down.
	ErrClosed = errors.New("registry raft node is closed")
	// ErrNotLeader is returned by operations that only the leader can carry
	// out (membership changes) when this node is not the leader.
	ErrNotLeader = errors.New("not the registry leader")
	// ErrExistingState is returned by Bootstrap when the node already has
	// Raft state: a node bootstraps once, when it is new.
	ErrExistingState = errors.New("raft state exists already")
	// ErrCorrupt is wrapped by New when the node's Raft data (raft.db or a
	// snapshot) is damaged: the node must not serve from it. The message
	// names the file and what to do.
	ErrCorrupt = errors.New("registry data is damaged")
	// ErrNotRegistryServer is wrapped when a caller of RegistryService is not
	// a server of the registry's Raft group (codes.PermissionDenied).
	ErrNotRegistryServer = errors.New("not a registry server")
	// ErrForeignCommand is wrapped when a server submits (or a joining node
	// sends) a command that another node signed or acts for: a server may
	// speak only for itself (codes.PermissionDenied).
	ErrForeignCommand = errors.New("command of another node")
)

// refusal is a command refusal that crossed gRPC: it keeps the message and
// wraps the registry sentinel of its code, so that errors.Is works on a
// follower as on the leader.
type refusal struct {
	kind error
	msg  string
}

func (r *refusal) Error() string { return r.msg }
func (r *refusal) Unwrap() error { return r.kind }

// codeTable maps the registry's sentinels to gRPC codes, in errors.Is order.
var codeTable = []struct {
	err  error
	code codes.Code
}{
	{registry.ErrInvalidArgument, codes.InvalidArgument},
	{registry.ErrNotFound, codes.NotFound},
	{registry.ErrAlreadyExists, codes.AlreadyExists},
	{registry.ErrPermissionDenied, codes.PermissionDenied},
	{registry.ErrFailedPrecondition, codes.FailedPrecondition},
}

// refusalStatus converts a refusal of the state machine into a status with
// the code of the same name.
func refusalStatus(err error) error {
	for _, e := range codeTable {
		if errors.Is(err, e.err) {
			return status.Error(e.code, err.Error())
		}
	}
	return status.Error(codes.Internal, "internal error")
}

// statusRefusal converts a refusal status back into an error wrapping the
// registry sentinel, or returns nil for other codes.
func statusRefusal(st *status.Status) error {
	for _, e := range codeTable {
		if st.Code() == e.code {
			return &refusal{kind: e.err, msg: st.Message()}
		}
	}
	return nil
}

// unavailable is the status of a server that cannot serve a call right now
// (not the leader); the caller retries.
func unavailable(format string, args ...any) error {
	return status.Error(codes.Unavailable, fmt.Sprintf(format, args...))
}
