package grpcserver

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/accordfed/accord/federation/exchange"
	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/persons"
	"github.com/accordfed/accord/federation/registry"
	"github.com/accordfed/accord/federation/registryraft"
	"github.com/accordfed/accord/federation/trust"
	"github.com/accordfed/accord/node/caseformat"
	"github.com/accordfed/accord/node/caseimport"
	"github.com/accordfed/accord/node/custody"
	"github.com/accordfed/accord/node/store"
)

var (
	// ErrPermissionDenied is returned when the caller's verified identity may
	// not call a method.
	ErrPermissionDenied = errors.New("permission denied")
	// ErrInvalidArgument is wrapped by validation errors that name the field
	// and the reason.
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrNotFound is wrapped when a requested object does not exist.
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists is wrapped when an object to create already exists.
	ErrAlreadyExists = errors.New("already exists")
	// ErrFailedPrecondition is wrapped when the system is not in a state in
	// which the request can be carried out.
	ErrFailedPrecondition = errors.New("failed precondition")
	// ErrResourceExhausted is wrapped when the caller asks for more of a
	// bounded resource (concurrent imports) than the node grants.
	ErrResourceExhausted = errors.New("resource exhausted")
	// ErrUnavailable is wrapped when a dependency (a peer, the registry
	// leader) cannot be reached right now; the caller may retry.
	ErrUnavailable = errors.New("unavailable")
)

// codeTable maps sentinel errors to gRPC codes. The first match wins.
var codeTable = []struct {
	err  error
	code codes.Code
}{
	{identity.ErrNoIdentity, codes.Unauthenticated},
	{trust.ErrNoCertificate, codes.Unauthenticated},
	{ErrPermissionDenied, codes.PermissionDenied},
	{ErrInvalidArgument, codes.InvalidArgument},
	{identity.ErrInvalid, codes.InvalidArgument},
	{ErrNotFound, codes.NotFound},
	{ErrAlreadyExists, codes.AlreadyExists},
	{ErrFailedPrecondition, codes.FailedPrecondition},
	{ErrUnavailable, codes.Unavailable},
	{ErrResourceExhausted, codes.ResourceExhausted},
	{store.ErrNotFound, codes.NotFound},
	{store.ErrExists, codes.AlreadyExists},
	{store.ErrDuplicateContent, codes.FailedPrecondition},
	{store.ErrVersionMismatch, codes.Aborted},
	{store.ErrInvalid, codes.InvalidArgument},
	{store.ErrCorrupt, codes.DataLoss},
	{caseformat.ErrInvalid, codes.InvalidArgument},
	{caseimport.ErrLineTooLong, codes.InvalidArgument},
	{custody.ErrInvalidEvent, codes.InvalidArgument},
	{registry.ErrInvalidArgument, codes.InvalidArgument},
	{registry.ErrNotFound, codes.NotFound},
	{registry.ErrAlreadyExists, codes.AlreadyExists},
	{registry.ErrPermissionDenied, codes.PermissionDenied},
	{registry.ErrFailedPrecondition, codes.FailedPrecondition},
	{registryraft.ErrClosed, codes.Unavailable},
	{exchange.ErrCursor, codes.InvalidArgument},
	{exchange.ErrRequest, codes.InvalidArgument},
	{exchange.ErrCursorExpired, codes.OutOfRange},
	{exchange.ErrNotMember, codes.PermissionDenied},
	{exchange.ErrTooManyStreams, codes.ResourceExhausted},
	{persons.ErrNotMember, codes.PermissionDenied},
	{persons.ErrRequest, codes.InvalidArgument},
	{persons.ErrUnknownKey, codes.NotFound},
	{persons.ErrBudget, codes.ResourceExhausted},
	{persons.ErrRateLimited, codes.ResourceExhausted},
	{persons.ErrPeer, codes.Unavailable},
	{context.DeadlineExceeded, codes.DeadlineExceeded},
	{context.Canceled, codes.Canceled},
}

// ToStatus converts an error returned by a handler into a gRPC status
// error. An error that already is a status passes through; an error that
// wraps none of the known sentinels becomes Internal with a generic message,
// so that internals do not leak to callers (the full error is logged).
func ToStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	for _, e := range codeTable {
		if errors.Is(err, e.err) {
			return status.Error(e.code, err.Error())
		}
	}
	return status.Error(codes.Internal, "internal error")
}
