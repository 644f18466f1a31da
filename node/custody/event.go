package custody

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/types/known/timestamppb"

	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// Limits of [Next]; [Verifier.VerifyChain] checks stored events against
// them too.
const (
	// EventHashTag is the domain-separation and version tag that opens the
	// canonical encoding of an event (see the package documentation).
	EventHashTag = "accord-custody-event-v1"
	// HashSize is the size of an event hash in bytes (SHA-256).
	HashSize = sha256.Size
	// MaxDetailsChars is the most characters (Unicode code points) an
	// event's details may have.
	MaxDetailsChars = 2000
	// MaxEvidenceIDBytes is the longest evidence item id, in bytes.
	MaxEvidenceIDBytes = 256
	// MaxActorBytes is the longest actor identity, in bytes.
	MaxActorBytes = 1024
)

// Hash returns the SHA-256 of an event's canonical encoding: every field
// except hash and seal_id, in the fixed, length-prefixed binary layout that
// the package documentation describes, opened by [EventHashTag]. It does not
// use proto.Marshal. A nil event hashes like an empty one.
func Hash(ev *accordv1.CustodyEvent) []byte {
	h := sum(ev)
	return h[:]
}

// sum is Hash without the allocation of the result.
func sum(ev *accordv1.CustodyEvent) [HashSize]byte {
	// Events are a few hundred bytes; the buffer stays on the stack unless
	// the details are long.
	var stack [512]byte
	return sha256.Sum256(appendCanonical(stack[:0], ev))
}

// appendCanonical appends the canonical encoding of ev to b.
func appendCanonical(b []byte, ev *accordv1.CustodyEvent) []byte {
	b = appendString(b, EventHashTag)
	b = appendString(b, ev.GetEvidenceId())
	b = binary.BigEndian.AppendUint64(b, uint64(ev.GetSeq()))
	b = binary.BigEndian.AppendUint32(b, uint32(ev.GetAction()))
	if t := ev.GetTime(); t != nil {
		b = append(b, 1)
		b = binary.BigEndian.AppendUint64(b, uint64(t.GetSeconds()))
		b = binary.BigEndian.AppendUint32(b, uint32(t.GetNanos()))
	} else {
		b = append(b, 0)
	}
	b = appendString(b, ev.GetActor())
	b = appendString(b, ev.GetDetails())
	b = binary.BigEndian.AppendUint64(b, uint64(len(ev.GetPrevHash())))
	return append(b, ev.GetPrevHash()...)
}

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(len(s)))
	return append(b, s...)
}

// Next builds the next event of an evidence item's chain: seq is prev's seq
// plus one (1 when prev is nil, for the first event), prev_hash a copy of
// prev's hash (empty for the first), time at, and hash computed with
// [Hash]. seal_id stays 0 until the event is sealed. prev is not modified.
//
// It validates, and wraps [ErrInvalidEvent] in an error naming the field:
//   - evidence_id: not empty, valid UTF-8, at most [MaxEvidenceIDBytes], and
//     equal to prev's;
//   - action: a known action, not UNSPECIFIED; REGISTERED for the first
//     event and only for the first;
//   - actor: not empty, valid UTF-8, at most [MaxActorBytes];
//   - details: valid UTF-8, at most [MaxDetailsChars] characters;
//   - time: not the zero time, representable as a protobuf Timestamp, and
//     not before prev's time;
//   - prev (when not nil): seq at least 1, a hash of [HashSize] bytes and a
//     valid time.
//
// Next trusts prev's hash; [Verifier.VerifyChain] is what checks stored
// chains.
func Next(prev *accordv1.CustodyEvent, evidenceID string, action accordv1.CustodyAction, actor, details string, at time.Time) (*accordv1.CustodyEvent, error) {
	if reason := checkEvidenceID(evidenceID); reason != "" {
		return nil, fmt.Errorf("%w: %s", ErrInvalidEvent, reason)
	}
	seq := int64(1)
	var prevHash []byte
	if prev != nil {
		switch pt := prev.GetTime(); {
		case prev.GetEvidenceId() != evidenceID:
			return nil, fmt.Errorf("%w: evidence_id %q is not the previous event's %q", ErrInvalidEvent, evidenceID, prev.GetEvidenceId())
		case prev.GetSeq() < 1 || prev.GetSeq() == math.MaxInt64:
			return nil, fmt.Errorf("%w: prev.seq %d is out of range", ErrInvalidEvent, prev.GetSeq())
		case len(prev.GetHash()) != HashSize:
			return nil, fmt.Errorf("%w: prev.hash has %d bytes, want %d", ErrInvalidEvent, len(prev.GetHash()), HashSize)
		case pt == nil:
			return nil, fmt.Errorf("%w: prev.time is missing", ErrInvalidEvent)
		case pt.CheckValid() != nil:
			return nil, fmt.Errorf("%w: prev.time: %w", ErrInvalidEvent, pt.CheckValid())
		case at.Before(pt.AsTime()):
			return nil, fmt.Errorf("%w: time %s is before the previous event's time %s", ErrInvalidEvent,
				at.UTC().Format(time.RFC3339Nano), pt.AsTime().Format(time.RFC3339Nano))
		}
		seq = prev.GetSeq() + 1
		prevHash = bytes.Clone(prev.GetHash())
	}
	if _, reason := checkFields(seq == 1, action, actor, details); reason != "" {
		return nil, fmt.Errorf("%w: %s", ErrInvalidEvent, reason)
	}
	if at.IsZero() {
		return nil, fmt.Errorf("%w: time is the zero time", ErrInvalidEvent)
	}
	ts := timestamppb.New(at)
	if err := ts.CheckValid(); err != nil {
		return nil, fmt.Errorf("%w: time: %w", ErrInvalidEvent, err)
	}
	ev := &accordv1.CustodyEvent{
		EvidenceId: evidenceID,
		Seq:        seq,
		Action:     action,
		Time:       ts,
		Actor:      actor,
		Details:    details,
		PrevHash:   prevHash,
	}
	ev.Hash = Hash(ev)
	return ev, nil
}

// checkEvidenceID returns why id is not an acceptable evidence id, or "".
func checkEvidenceID(id string) string {
	switch {
	case id == "":
		return "evidence_id is empty"
	case len(id) > MaxEvidenceIDBytes:
		return fmt.Sprintf("evidence_id has %d bytes, at most %d", len(id), MaxEvidenceIDBytes)
	case !utf8.ValidString(id):
		return "evidence_id is not valid UTF-8"
	}
	return ""
}

// checkFields returns the kind of problem and why action, actor and details
// are not acceptable for an event (the first of its chain when first is
// true), or "" when they are.
func checkFields(first bool, action accordv1.CustodyAction, actor, details string) (Kind, string) {
	_, known := accordv1.CustodyAction_name[int32(action)]
	switch {
	case action == accordv1.CustodyAction_CUSTODY_ACTION_UNSPECIFIED:
		return KindInvalid, "action is unspecified"
	case !known:
		return KindInvalid, fmt.Sprintf("action %d is not a known custody action", int32(action))
	case first && action != accordv1.CustodyAction_CUSTODY_ACTION_REGISTERED:
		return KindFirstEvent, fmt.Sprintf("action of the first event must be registered, not %s", ActionName(action))
	case !first && action == accordv1.CustodyAction_CUSTODY_ACTION_REGISTERED:
		return KindFirstEvent, "action is registered, which only the first event may be"
	case actor == "":
		return KindInvalid, "actor is empty"
	case len(actor) > MaxActorBytes:
		return KindInvalid, fmt.Sprintf("actor has %d bytes, at most %d", len(actor), MaxActorBytes)
	case !utf8.ValidString(actor):
		return KindInvalid, "actor is not valid UTF-8"
	case !utf8.ValidString(details):
		return KindInvalid, "details is not valid UTF-8"
	}
	// Count runes only when the byte length could exceed the limit.
	if len(details) > MaxDetailsChars {
		if n := utf8.RuneCountInString(details); n > MaxDetailsChars {
			return KindInvalid, fmt.Sprintf("details has %d characters, at most %d", n, MaxDetailsChars)
		}
	}
	return 0, ""
}

// ActionName returns the short lower-case name of a custody action, as used
// in messages ("registered", "transferred"), or its number for an unknown
// one.
func ActionName(a accordv1.CustodyAction) string {
	if name, ok := accordv1.CustodyAction_name[int32(a)]; ok {
		return strings.ToLower(strings.TrimPrefix(name, "CUSTODY_ACTION_"))
	}
	return fmt.Sprintf("action %d", int32(a))
}
