package audit

import (
	"errors"
	"fmt"
)

// Sentinel errors. Each is wrapped with %w and a message naming the entry,
// line or file.
var (
	// ErrInvalid is wrapped by [Log.Append] when an entry breaks a rule of
	// the log (unknown kind, malformed peer, a what field out of bounds);
	// the message names the entry's index in the call and the field.
	// Nothing of the call is written.
	ErrInvalid = errors.New("invalid audit entry")
	// ErrCorrupt is wrapped by [Open] when the file is damaged otherwise
	// than by a torn last line: the message names the line. The log is not
	// opened; [Verify] tells more.
	ErrCorrupt = errors.New("audit log is damaged")
	// ErrBroken is what a [*Break] matches (errors.Is): [Verify] or [Scan]
	// found an entry that is altered, missing, out of order or badly signed.
	ErrBroken = errors.New("audit log chain is broken")
	// ErrLocked is wrapped by [Open] when another process (or another open
	// [Log] of this process) holds the file.
	ErrLocked = errors.New("audit log is locked by another process")
	// ErrClosed is returned by [Log.Append] after [Log.Close].
	ErrClosed = errors.New("audit log is closed")
	// ErrWriteFailed is wrapped by [Log.Append] when writing or syncing the
	// file failed. The log then refuses every later append (the state of
	// the file's tail is unknown): close it and open it again, which
	// recovers the tail.
	ErrWriteFailed = errors.New("audit log write failed")
	// ErrUnsupportedKey is wrapped by [OpenWith] and [VerifyWith] for an
	// anchor key that is neither ECDSA (P-256, P-384, P-521) nor Ed25519,
	// or a signer whose signature does not verify with its own public key.
	ErrUnsupportedKey = errors.New("unsupported audit anchor key")
)

// Break is the first broken entry of an audit log, as found by [Verify] or
// [Scan]. It is an error that matches [ErrBroken].
type Break struct {
	// Path is the file.
	Path string
	// Line is the line of the file (from 1) where the break is. For a
	// problem of the log as a whole (it ends before a witnessed head, or
	// its tail is not anchored) it is the line after the last one.
	Line int
	// Seq is the sequence number the entry at Line should have: the
	// previous entry's plus one. For a missing entry it is the missing one.
	Seq uint64
	// Reason says what is wrong, in words.
	Reason string
}

// Error returns, for example, "audit log /var/lib/accord/audit/audit.log
// broken at line 12 (entry 12): hash does not match the entry's content
// (altered after it was written)".
func (b *Break) Error() string {
	return fmt.Sprintf("audit log %s broken at line %d (entry %d): %s", b.Path, b.Line, b.Seq, b.Reason)
}

// Is reports whether target is [ErrBroken].
func (b *Break) Is(target error) bool { return target == ErrBroken }
