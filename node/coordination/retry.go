package coordination

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/registry"
)

// Read-modify-write updates and idempotent retries.
//
// A masked update (UpdateStrategyEntry, UpdateMember) reads the record,
// changes the masked fields and sends the whole record back with the
// version it read; the registry applies it only if that is still the
// current version, so that an update that came in between is never undone
// (it is refused as a stale expected_version instead). With the client's
// etag the version is the client's, and a stale one is the client's
// Aborted. Without, the node reads again and sends a new attempt.
//
// Every attempt is a command of its own, with its own request id: the
// registry's exactly-once table refuses a request id reused for a
// different command, and the second attempt differs from the first (it
// carries the record as re-read). Attempt 0 is the client's request id
// itself (what the node sent before it retried, so that a client's retry
// across an upgrade is still recognised); attempt n is "<request id>#n"
// (attemptID). A client that retries its request id, because it did not
// hear the answer, must get the answer of its first call and never apply
// the update twice: so the node first reads, from the exactly-once table
// (View.Remembered), how the attempts of that request id ended. The last
// attempt the table remembers decides: applied, its outcome is the answer;
// refused for another reason, that refusal is; refused as stale, the node
// goes on with the next attempt. When the table remembers none, the
// request is new (or older than the dedupe window, as for any request).
// Two concurrent calls with the same request id that send different
// commands for one attempt: the registry applies the first and refuses the
// second as a reused request id; the second then follows the first's
// remembered answer, as a retry would.

// maxAttempts bounds the attempts of one update without an etag; a record
// that changes under the node this often is reported as Aborted.
const maxAttempts = 8

// attemptID returns the request id of attempt n of the client's request
// id rid: rid itself for the first, "<rid>#n" after (within the registry's
// 128 characters: a long rid is replaced by its digest).
func attemptID(rid string, n int) string {
	if n == 0 {
		return rid
	}
	suffix := "#" + strconv.Itoa(n)
	if len(rid)+len(suffix) > 128 {
		sum := sha256.Sum256([]byte(rid))
		rid = "sha256:" + hex.EncodeToString(sum[:])
	}
	return rid + suffix
}

// isStale reports whether err is the registry's refusal of a stale
// expected_version.
func isStale(err error) bool {
	return errors.Is(err, registry.ErrFailedPrecondition) && strings.Contains(err.Error(), "expected_version:")
}

// updateFresh runs a read-modify-write update under the client's request
// id rid for the user id (see above): build reads the record (in a
// linearizable read) and returns the command to send, carrying the version
// it read, or the client's when checked; send sends it under a request id.
// checked says the client gave the version (in etagField): one attempt
// only, whose stale refusal is the client's Aborted naming etagField. It
// returns the outcome or the refusal, Aborted also when the record kept
// changing under the node.
func (s *Service) updateFresh(ctx context.Context, id identity.Identity, rid, etagField string, checked bool,
	build func(v registry.View) (registry.Payload, error),
	send func(ctx context.Context, requestID string, p registry.Payload) (registry.Outcome, error),
) (registry.Outcome, error) {
	attempts := maxAttempts
	if checked {
		attempts = 1
	}
	// How the client's earlier tries of rid ended.
	next := 0
	var (
		out  registry.Outcome
		rerr error
	)
	if err := s.read(ctx, false, func(v registry.View) error {
		for n := attempts - 1; n >= 0; n-- {
			o, found, err := v.Remembered(id.Member, attemptID(rid, n))
			if found {
				out, rerr, next = o, err, n+1
				break
			}
		}
		return nil
	}); err != nil {
		return registry.Outcome{}, err
	}
	if next > 0 && (rerr == nil || !isStale(rerr) || next == attempts) {
		return out, aborted(etagField, rerr)
	}
	var err error
	for n := next; n < attempts; n++ {
		var p registry.Payload
		if err = s.read(ctx, false, func(v registry.View) error {
			var berr error
			p, berr = build(v)
			return berr
		}); err != nil {
			return registry.Outcome{}, err
		}
		aid := attemptID(rid, n)
		out, err = send(ctx, aid, p)
		if err != nil {
			// The answer the registry remembers for the attempt is the
			// one that counts: a concurrent call with the same request id
			// may have sent it first.
			var found bool
			if rerr := s.read(ctx, false, func(v registry.View) error {
				var o registry.Outcome
				var e error
				if o, found, e = v.Remembered(id.Member, aid); found {
					out, err = o, e
				}
				return nil
			}); rerr != nil {
				return registry.Outcome{}, errors.Join(err, rerr)
			}
		}
		if err == nil || !isStale(err) || checked {
			return out, aborted(etagField, err)
		}
		s.logger.Info("record changed during an update; reading it again", "request_id", rid, "attempt", n+1)
	}
	return registry.Outcome{}, errAborted(fmt.Sprintf("%s: changed %d times between this node's read and its write, each time by another update: try again",
		strings.TrimSuffix(etagField, ".etag"), attempts))
}
