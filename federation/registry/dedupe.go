package registry

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"maps"
	"slices"
)

// The exactly-once table.
//
// Every command with a valid envelope is remembered under its acting member
// and request id, with a digest of its type and payload and its result (the
// outcome, or the refusal). A command whose (member, request id) is
// remembered is not applied again: it gets the first result. The same
// request id with a different command is refused.
//
// Keying by member rather than by node lets a client retry through another
// node of its member, or after a leader change, and still be recognised,
// while a member can never reach another member's entries.
//
// The table keeps the last Policy.DedupeWindow request ids of each member,
// evicting the oldest by log index when a new one comes: bounded by members
// times window, identical on every replica, and written into snapshots so
// that a node restored from a snapshot answers retries as the others do.

// dedupeRecord is one remembered command.
type dedupeRecord struct {
	Member    string   `json:"member"`
	Node      string   `json:"node,omitempty"`
	RequestID string   `json:"request_id"`
	Index     uint64   `json:"index"`
	Digest    string   `json:"digest"`
	Outcome   *Outcome `json:"outcome,omitempty"`
	Code      string   `json:"code,omitempty"`
	Message   string   `json:"message,omitempty"`
}

func dedupeKey(member, requestID string) string { return member + "\x00" + requestID }

// commandDigest hashes what makes a command the same command: its type and
// its payload's JSON (compacted, so that whitespace does not matter).
//
// A version 2 command's JSON is the bytes of its log entry, as the
// previous build hashed them, so that the digests in its snapshots still
// compare. A version 3 command's is the JSON of its payload (json.Marshal
// of the Go value), which is what this build writes into a version 2
// entry: a request a node sent as version 2 and retries as version 3 once
// the whole group applies version 3 (an upgrade between two attempts)
// has the same digest and is answered from the table, not refused as a
// reused request id. (The previous build sent a user's JSON as the user
// wrote it; a retry of such a request is recognised when that JSON was the
// payload's own encoding, as accordctl writes it: fields in order, none
// given empty.)
func commandDigest(cmd *Command) string {
	raw := []byte(cmd.PayloadJSON)
	if cmd.Version == CommandVersion && cmd.Payload != nil {
		if b, err := json.Marshal(legacyPayload(cmd.Payload)); err == nil {
			raw = b
		}
	}
	h := sha256.New()
	h.Write([]byte(cmd.Type))
	h.Write([]byte{0})
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err == nil {
		h.Write(buf.Bytes())
	} else {
		h.Write(raw)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// result returns the remembered result.
func (r *dedupeRecord) result() (Outcome, error) {
	if r.Code != "" {
		return Outcome{}, &refusal{kind: sentinelOf(r.Code), msg: r.Message}
	}
	if r.Outcome == nil {
		return Outcome{}, nil
	}
	return *r.Outcome, nil
}

// remember stores a command's result and evicts the member's oldest entries
// beyond the window.
func (s *state) remember(cmd *Command, index uint64, digest string, out Outcome, err error) {
	rec := &dedupeRecord{Member: cmd.Member, Node: cmd.Actor.Node, RequestID: cmd.RequestID, Index: index, Digest: digest}
	if err != nil {
		r := canonical(err)
		rec.Code, rec.Message = codeOf(r), r.msg
	} else {
		o := out
		rec.Outcome = &o
	}
	s.dedupe = s.dedupe.writable(s.gen)
	s.dedupe.m[dedupeKey(rec.Member, rec.RequestID)] = rec
	q := s.queues[rec.Member]
	if q == nil {
		q = &requestQueue{}
		s.queues[rec.Member] = q
	}
	q.push(rec.RequestID)
	window := s.meta.Policy.normalized().DedupeWindow
	for q.len() > window {
		k := dedupeKey(rec.Member, q.pop())
		if old, ok := s.dedupe.m[k]; ok && old.Index > s.meta.ReplayFloor[old.Node] {
			floor := maps.Clone(s.meta.ReplayFloor)
			if floor == nil {
				floor = map[string]uint64{}
			}
			floor[old.Node] = old.Index
			s.meta.ReplayFloor = floor
		}
		delete(s.dedupe.m, k)
	}
}

// rebuildQueues derives the per-member queues from the dedupe table, oldest
// (lowest log index) first, after a restore.
func (s *state) rebuildQueues() {
	byMember := map[string][]*dedupeRecord{}
	for _, r := range s.dedupe.m {
		byMember[r.Member] = append(byMember[r.Member], r)
	}
	s.queues = make(map[string]*requestQueue, len(byMember))
	for m, recs := range byMember {
		slices.SortFunc(recs, func(a, b *dedupeRecord) int {
			switch {
			case a.Index < b.Index:
				return -1
			case a.Index > b.Index:
				return 1
			}
			return compareStrings(a.RequestID, b.RequestID)
		})
		q := &requestQueue{ids: make([]string, 0, len(recs))}
		for _, r := range recs {
			q.push(r.RequestID)
		}
		s.queues[m] = q
	}
}

// requestQueue is a FIFO of request ids.
type requestQueue struct {
	ids  []string
	head int
}

func (q *requestQueue) len() int { return len(q.ids) - q.head }

func (q *requestQueue) push(id string) { q.ids = append(q.ids, id) }

func (q *requestQueue) pop() string {
	id := q.ids[q.head]
	q.ids[q.head] = ""
	q.head++
	// Compact once the dead prefix is larger than the live part.
	if q.head >= 64 && q.head*2 >= len(q.ids) {
		q.ids = slices.Clone(q.ids[q.head:])
		q.head = 0
	}
	return id
}
