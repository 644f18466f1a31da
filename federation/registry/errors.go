package registry

import (
	"errors"
	"fmt"
)

// The sentinels every refused command wraps. Test with errors.Is; the gRPC
// layer maps each to the status code of the same name.
var (
	// ErrInvalidArgument means the command or one of its fields is malformed,
	// whatever the registry's state (codes.InvalidArgument).
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrNotFound means the command names a record the registry does not
	// hold, or one the caller may not see (codes.NotFound).
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists means the command would create a record that exists
	// (codes.AlreadyExists).
	ErrAlreadyExists = errors.New("already exists")
	// ErrPermissionDenied means the acting member may not do this: it acts for
	// another member, is not admitted, is not a member of the team, or does
	// not own the record (codes.PermissionDenied).
	ErrPermissionDenied = errors.New("permission denied")
	// ErrFailedPrecondition means the command is well formed and allowed but
	// the registry is not in a state where it applies: a team is closed, an
	// invitation was already answered, a version moved on
	// (codes.FailedPrecondition).
	ErrFailedPrecondition = errors.New("failed precondition")
)

// ErrNeedsVersion3 is wrapped (with ErrFailedPrecondition) when a command
// is to be written as a version 2 (JSON) entry but carries what only
// version 3 may (DecideMatch.FirstOnly): the node sends it otherwise, or
// not at all.
var ErrNeedsVersion3 = errors.New("needs command version 3")

// sentinels lists the sentinels with the codes they are stored under in the
// dedupe table of a snapshot. The order is the order of errors.Is tests.
var sentinels = []struct {
	code string
	err  error
}{
	{"invalid_argument", ErrInvalidArgument},
	{"not_found", ErrNotFound},
	{"already_exists", ErrAlreadyExists},
	{"permission_denied", ErrPermissionDenied},
	{"failed_precondition", ErrFailedPrecondition},
}

// refusal is the canonical form of a refused command's error: the sentinel
// it wraps and its full message. Apply returns refusals only, so the first
// answer to a command and the answer replayed from the dedupe table (also
// after a snapshot restore) are the same.
type refusal struct {
	kind error
	msg  string
}

func (r *refusal) Error() string { return r.msg }
func (r *refusal) Unwrap() error { return r.kind }

func refuse(kind error, format string, args ...any) error {
	return &refusal{kind: kind, msg: kind.Error() + ": " + fmt.Sprintf(format, args...)}
}

func invalid(format string, args ...any) error { return refuse(ErrInvalidArgument, format, args...) }
func notFound(format string, args ...any) error {
	return refuse(ErrNotFound, format, args...)
}
func exists(format string, args ...any) error { return refuse(ErrAlreadyExists, format, args...) }
func denied(format string, args ...any) error { return refuse(ErrPermissionDenied, format, args...) }
func precondition(format string, args ...any) error {
	return refuse(ErrFailedPrecondition, format, args...)
}

// canonical turns any error into a refusal; an error that wraps none of the
// sentinels (a bug) becomes a failed precondition so that it is still
// refused cleanly rather than half-applied.
func canonical(err error) *refusal {
	var r *refusal
	if errors.As(err, &r) {
		return r
	}
	for _, s := range sentinels {
		if errors.Is(err, s.err) {
			return &refusal{kind: s.err, msg: err.Error()}
		}
	}
	return &refusal{kind: ErrFailedPrecondition, msg: ErrFailedPrecondition.Error() + ": " + err.Error()}
}

func codeOf(r *refusal) string {
	for _, s := range sentinels {
		if errors.Is(r.kind, s.err) {
			return s.code
		}
	}
	return "failed_precondition"
}

// sentinelOf returns the sentinel stored under code; an unknown code (a
// snapshot of a later version) reads as a failed precondition.
func sentinelOf(code string) error {
	for _, s := range sentinels {
		if s.code == code {
			return s.err
		}
	}
	return ErrFailedPrecondition
}
