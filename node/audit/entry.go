package audit

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	"github.com/accordfed/accord/federation/identity"
)

// Limits and constants of the format (see the package documentation).
const (
	// EntryHashTag opens the canonical encoding of an entry.
	EntryHashTag = "accord-audit-entry-v1"
	// HashSize is the size of an entry hash in bytes (SHA-256).
	HashSize = sha256.Size
	// MaxCaseIDs is the most case ids an entry lists; [Log.Append] keeps
	// the first MaxCaseIDs and adds the others to What.MoreCases.
	MaxCaseIDs = 16
	// MaxCaseIDBytes is the longest case id.
	MaxCaseIDBytes = 64
	// MaxCursorBytes is the longest cursor.
	MaxCursorBytes = 512
	// MaxReasonBytes is the longest reason code.
	MaxReasonBytes = 64
	// MaxPeerIDBytes is the longest peer identity URI.
	MaxPeerIDBytes = 512
	// MaxLineBytes bounds one line of the file, newline included. The
	// limits above keep every valid entry well below it.
	MaxLineBytes = 8192
	// FileName is the log's file in its directory.
	FileName = "audit.log"
)

// zeroHash is the prev of the first entry.
var zeroHash [HashSize]byte

// ZeroHash is the hex prev of the first entry, and the head of an empty
// log: 64 zeros.
var ZeroHash = hex.EncodeToString(zeroHash[:])

// Kind says what passed between this node and a peer. This node is always
// the subject: "served PL" reads "this node served PL".
type Kind uint8

// The kinds of entries. Every kind but [KindAnchor] is written by callers of
// [Log.Append]; anchors are written by the log itself.
const (
	// KindSent: this node sent data to the peer on its own initiative,
	// not as an answer to a pull (a push, a forwarded request).
	KindSent Kind = iota + 1
	// KindReceived: this node received records or a notification from the
	// peer and accepted it: a batch of the peer's feed that it pulled
	// (Records, FromSeq..ToSeq of the peer's feed, Cursor, CaseIDs), or a
	// nudge from the peer (Records 0, ToSeq the head it announced, Reason
	// "nudge").
	KindReceived
	// KindServed: the peer pulled this node's feed and was answered with
	// records (Records, FromSeq..ToSeq of this node's feed, the Cursor to
	// resume from, CaseIDs).
	KindServed
	// KindRefused: this node refused the peer: a request it did not answer
	// (unauthorised, bad cursor, national case) or records from the peer
	// it did not accept (bad signature). Reason is the code; nothing was
	// served or stored.
	KindRefused
	// KindNudged: this node nudged the peer: told it that its feed reaches
	// ToSeq so that the peer pulls. A nudge carries no records.
	KindNudged
	// KindResync: this node restarted pulling the peer's feed from the
	// beginning (its cursor was out of range, or the peer's feed was
	// reset). Reason says why.
	KindResync
	// KindAnchor: a checkpoint signed with the node's key (see the package
	// documentation). It has no peer and no what.
	KindAnchor
	// KindWithheld: this node kept names of persons or birth years found
	// in a free-text field out of the shared form of its cases (blanked
	// them) before publishing them to every member it shares with. Peer
	// and PeerID are this node's own (the records are for all); Reason is
	// the field ("title", "incidents.place", "incidents.region",
	// "perpetrators.name", "case_id" for a case not shared at all),
	// Records how many words were blanked, CaseIDs the cases. Never the
	// words themselves.
	KindWithheld
	// KindRestored: this node's data was restored from a backup (accordd
	// restore, on the stopped node). Peer and PeerID are this node's own
	// (the identity of the certificate the restore ran with). What.ToSeq is
	// the seq of the last entry of the backup's audit log (where the backup
	// stands in this chain); What.Cursor is "sha256:" and the lower-case hex
	// SHA-256 of the archive file restored, as stored (encrypted or not);
	// What.Reason says what became of the audit history:
	// [RestoreHistoryComplete], [RestoreHistoryMissing] or
	// [RestoreHistoryDiverged].
	KindRestored
	// KindEvaluated: this node evaluated blinded person-token elements for
	// the peer (federation/persons). PeerID is the asking node, or, for a
	// lookup of the register of interviewed persons, the asking member's
	// user. Records is how many elements (each one guess at a person),
	// Reason the purpose ("matching" or "lookup") or, when refused, why
	// ("budget_exhausted", ...), Cursor the asker's lookup id. Never what
	// was evaluated: the node cannot know it.
	KindEvaluated
	// KindLookup: one of this node's own users looked up a person in the
	// register of interviewed persons. Peer and PeerID are this node's
	// member and the user; Records is how many members were asked, CaseIDs
	// the other members' cases that answered, Cursor the lookup id, Reason
	// "lookup" or why it was refused. Never the name or the year.
	KindLookup

	kindLast = KindLookup
)

// The reasons of a [KindRestored] entry.
const (
	// RestoreHistoryComplete: the log holds every entry ever written: the
	// node's own log was kept (the backup's log is a part of it) or the
	// backup's log continued it.
	RestoreHistoryComplete = "history_complete"
	// RestoreHistoryMissing: the node's own log was missing or damaged
	// (disaster recovery on a new machine, a lost disk): the backup's log
	// was put back, and whatever was written after entry What.ToSeq before
	// the restore is missing from this log.
	RestoreHistoryMissing = "history_missing"
	// RestoreHistoryDiverged: the node's own log and the backup's are of
	// different histories (neither continues the other): the node's own
	// log was kept, and the backup's was kept beside it, unchanged.
	RestoreHistoryDiverged = "history_diverged"
)

var kindNames = [...]string{
	KindSent:     "sent",
	KindReceived: "received",
	KindServed:   "served",
	KindRefused:  "refused",
	KindNudged:   "nudged",
	KindResync:   "resync",
	KindAnchor:   "anchor",
	KindWithheld: "withheld",
	KindRestored: "restored",

	KindEvaluated: "evaluated",
	KindLookup:    "lookup",
}

// Valid reports whether k is one of the kinds above.
func (k Kind) Valid() bool { return k >= KindSent && k <= kindLast }

// String returns the kind's name as written in the log ("served"), or
// "kind(N)" for an unknown one.
func (k Kind) String() string {
	if k.Valid() {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// ParseKind returns the kind named s ("sent", "received", "served",
// "refused", "nudged", "resync", "anchor", "withheld", "restored",
// "evaluated" or "lookup").
func ParseKind(s string) (Kind, error) {
	for k := KindSent; k <= kindLast; k++ {
		if kindNames[k] == s {
			return k, nil
		}
	}
	return 0, fmt.Errorf("%w: unknown kind %q", ErrInvalid, s)
}

// MarshalText returns the kind's name; an unknown kind is an error.
func (k Kind) MarshalText() ([]byte, error) {
	if !k.Valid() {
		return nil, fmt.Errorf("%w: unknown kind %d", ErrInvalid, uint8(k))
	}
	return []byte(kindNames[k]), nil
}

// UnmarshalText parses a kind's name.
func (k *Kind) UnmarshalText(b []byte) error {
	v, err := ParseKind(string(b))
	if err != nil {
		return err
	}
	*k = v
	return nil
}

// What is the object of an entry: counts, sequence ranges and identifiers,
// never content and never a person's name. Every field is optional; zero
// fields are left out of the line.
type What struct {
	// Records is how many records were sent, received or served.
	Records int `json:"records,omitempty"`
	// FromSeq and ToSeq are the first and last feed sequence numbers
	// concerned (of this node's feed for served, of the peer's for
	// received); for a nudge, ToSeq is the head announced. When both are
	// set, FromSeq <= ToSeq.
	FromSeq uint64 `json:"from_seq,omitempty"`
	ToSeq   uint64 `json:"to_seq,omitempty"`
	// CaseIDs are ids of the cases concerned, at most [MaxCaseIDs] (each a
	// member code, '-', then A-Z a-z 0-9 '-' '_' '.' '/', at most
	// [MaxCaseIDBytes]).
	CaseIDs []string `json:"case_ids,omitempty"`
	// MoreCases is how many cases were concerned beyond those listed.
	MoreCases int `json:"more_cases,omitempty"`
	// Cursor is the feed cursor (opaque; A-Z a-z 0-9 and "-_=.:+/", at
	// most [MaxCursorBytes]).
	Cursor string `json:"cursor,omitempty"`
	// Reason is a machine-readable code, e.g. "permission_denied",
	// "cursor_out_of_range", "nudge" (a-z, 0-9, '_', '.', '-', starting
	// with a letter, at most [MaxReasonBytes]). It is a code, not prose, so
	// that no free text (and no name) can enter the log through it.
	Reason string `json:"reason,omitempty"`
}

// isZero reports whether every field of w is zero.
func (w *What) isZero() bool {
	return w.Records == 0 && w.FromSeq == 0 && w.ToSeq == 0 && len(w.CaseIDs) == 0 &&
		w.MoreCases == 0 && w.Cursor == "" && w.Reason == ""
}

// Entry is one line of the audit log.
type Entry struct {
	// Seq numbers the entries from 1, without gaps. Assigned by Append.
	Seq uint64 `json:"seq"`
	// Time is when the entry was written, in UTC, never before the previous
	// entry's. Assigned by Append.
	Time time.Time `json:"time"`
	// Kind says what happened.
	Kind Kind `json:"kind"`
	// Peer is the other member's code ("PL"); empty only for anchors.
	Peer string `json:"peer,omitempty"`
	// PeerID is the identity URI of the other node, from its certificate
	// (spiffe://<federation>/member/<Peer>/node/<name>); its member must be
	// Peer. Empty only for anchors.
	PeerID string `json:"peer_id,omitempty"`
	// What is the object.
	What What `json:"what,omitzero"`
	// Key is, for an anchor, the lower-case hex SHA-256 of the signing
	// key's DER SubjectPublicKeyInfo; empty otherwise.
	Key string `json:"key,omitempty"`
	// Sig is, for an anchor, the signature (standard base64, padded);
	// empty otherwise.
	Sig string `json:"sig,omitempty"`
	// Prev is the previous entry's Hash (ZeroHash for the first), in
	// lower-case hex. Assigned by Append.
	Prev string `json:"prev"`
	// Hash is the lower-case hex SHA-256 of the entry's canonical encoding.
	// Assigned by Append.
	Hash string `json:"hash"`
}

// Character classes of the identifiers an entry may hold.
var (
	idChars     = charClass("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._/-")
	cursorChars = charClass("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_=.:+/-")
	reasonChars = charClass("abcdefghijklmnopqrstuvwxyz0123456789_.-")
	memberChars = charClass("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
	hexChars    = charClass("0123456789abcdef")
)

func charClass(chars string) *[256]bool {
	var c [256]bool
	for i := 0; i < len(chars); i++ {
		c[chars[i]] = true
	}
	return &c
}

// allIn reports whether every byte of s is in class c.
func allIn(s string, c *[256]bool) bool {
	for i := 0; i < len(s); i++ {
		if !c[s[i]] {
			return false
		}
	}
	return true
}

// isHash reports whether s is 64 lower-case hex digits.
func isHash(s string) bool { return len(s) == 2*HashSize && allIn(s, hexChars) }

// isCaseID reports whether s is a member code (an upper-case letter and 1
// to 15 upper-case letters or digits), '-', and one or more of A-Z a-z 0-9
// '.' '_' '/' '-', at most MaxCaseIDBytes in all.
func isCaseID(s string) bool {
	if len(s) > MaxCaseIDBytes || len(s) < 4 || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	i := 1
	for i < len(s) && i <= 16 && memberChars[s[i]] {
		i++
	}
	return i >= 2 && i <= 16 && i+1 < len(s) && s[i] == '-' && allIn(s[i+1:], idChars)
}

// isReason reports whether s is a reason code: a lower-case letter, then
// a-z 0-9 '_' '.' '-'.
func isReason(s string) bool { return s != "" && s[0] >= 'a' && s[0] <= 'z' && allIn(s, reasonChars) }

// prepare copies e for Append: it clears what Append assigns, copies
// CaseIDs and moves ids beyond MaxCaseIDs into MoreCases, and returns why e
// is not acceptable ("" when it is).
func prepare(e Entry) (Entry, string) {
	e.Seq, e.Time, e.Prev, e.Hash = 0, time.Time{}, "", ""
	if e.Kind == KindAnchor {
		return e, "kind anchor is written by the log itself"
	}
	if e.Key != "" || e.Sig != "" {
		return e, "key and sig belong to anchors, which the log writes itself"
	}
	if n := len(e.What.CaseIDs); n > 0 {
		keep := min(n, MaxCaseIDs)
		e.What.CaseIDs = append([]string(nil), e.What.CaseIDs[:keep]...)
		if e.What.MoreCases >= 0 {
			e.What.MoreCases += n - keep
		}
	}
	return e, checkContent(&e, nil)
}

// checkContent returns why the kind, peer, what, key and sig of e are not
// acceptable in a stored entry, or "". peers, when not nil, caches the peer
// of every peer_id found valid (readers see few distinct peers).
func checkContent(e *Entry, peers map[string]string) string {
	if !e.Kind.Valid() {
		return fmt.Sprintf("kind %d is not a known kind", uint8(e.Kind))
	}
	if e.Kind == KindAnchor {
		switch {
		case e.Peer != "" || e.PeerID != "":
			return "an anchor has no peer"
		case !e.What.isZero():
			return "an anchor has no what"
		case !isHash(e.Key):
			return "anchor key is not 64 lower-case hex digits"
		case e.Sig == "":
			return "anchor sig is empty"
		}
		sig, err := base64.StdEncoding.Strict().DecodeString(e.Sig)
		if err != nil || len(sig) > 256 {
			return "anchor sig is not a standard base64 signature"
		}
		return ""
	}
	if e.Key != "" || e.Sig != "" {
		return "key and sig are set, but the entry is not an anchor"
	}
	if p, ok := peers[e.PeerID]; !ok || p != e.Peer {
		if reason := checkPeer(e.Peer, e.PeerID); reason != "" {
			return reason
		}
		if peers != nil && len(peers) < maxCachedPeers {
			peers[e.PeerID] = e.Peer
		}
	}
	w := &e.What
	switch {
	case w.Records < 0:
		return fmt.Sprintf("what.records is %d, must not be negative", w.Records)
	case w.MoreCases < 0:
		return fmt.Sprintf("what.more_cases is %d, must not be negative", w.MoreCases)
	case w.FromSeq != 0 && w.ToSeq != 0 && w.FromSeq > w.ToSeq:
		return fmt.Sprintf("what.from_seq %d is after what.to_seq %d", w.FromSeq, w.ToSeq)
	case len(w.CaseIDs) > MaxCaseIDs:
		return fmt.Sprintf("what.case_ids has %d ids, at most %d", len(w.CaseIDs), MaxCaseIDs)
	case len(w.Cursor) > MaxCursorBytes:
		return fmt.Sprintf("what.cursor has %d bytes, at most %d", len(w.Cursor), MaxCursorBytes)
	case !allIn(w.Cursor, cursorChars):
		return "what.cursor may contain only A-Z, a-z, 0-9 and -_=.:+/"
	case len(w.Reason) > MaxReasonBytes:
		return fmt.Sprintf("what.reason has %d bytes, at most %d", len(w.Reason), MaxReasonBytes)
	case w.Reason != "" && !isReason(w.Reason):
		return fmt.Sprintf("what.reason %q is not a code (a-z, 0-9, '_', '.', '-', starting with a letter)", w.Reason)
	}
	for i, id := range w.CaseIDs {
		if !isCaseID(id) {
			return fmt.Sprintf("what.case_ids[%d] is not a case id (a member code, '-', then A-Z a-z 0-9 '-' '_' '.' '/'; at most %d bytes)", i, MaxCaseIDBytes)
		}
	}
	return ""
}

// maxCachedPeers bounds the peers a reader remembers as valid.
const maxCachedPeers = 4096

// checkPeer returns why peer and peerID are not a member code and the
// canonical identity URI of a node or user of that member, or "".
func checkPeer(peer, peerID string) string {
	if err := identity.ValidateMember(peer); err != nil {
		return fmt.Sprintf("peer %q is not a member code (2-16 upper-case letters or digits, starting with a letter)", peer)
	}
	switch id, err := identity.Parse(peerID); {
	case peerID == "":
		return "peer_id is empty"
	case len(peerID) > MaxPeerIDBytes:
		return fmt.Sprintf("peer_id has %d bytes, at most %d", len(peerID), MaxPeerIDBytes)
	case err != nil:
		return fmt.Sprintf("peer_id is not an identity URI: %v", err)
	case id.String() != peerID:
		return fmt.Sprintf("peer_id is not in canonical form (%s)", id.String())
	case id.Member != peer:
		return fmt.Sprintf("peer_id names member %s, but peer is %s", id.Member, peer)
	}
	return ""
}

// sum returns the SHA-256 of e's canonical encoding, with prev the raw
// previous hash (e.Prev is not read). Key and Sig must be valid (see
// checkContent).
func (e *Entry) sum(prev *[HashSize]byte) [HashSize]byte {
	var stack [1024]byte
	return sha256.Sum256(e.appendCanonical(stack[:0], prev))
}

// appendCanonical appends the canonical encoding of e (the package
// documentation specifies it).
func (e *Entry) appendCanonical(b []byte, prev *[HashSize]byte) []byte {
	b = appendStr(b, EntryHashTag)
	b = binary.BigEndian.AppendUint64(b, e.Seq)
	b = binary.BigEndian.AppendUint64(b, uint64(e.Time.Unix()))
	b = binary.BigEndian.AppendUint32(b, uint32(e.Time.Nanosecond()))
	b = appendStr(b, e.Kind.String())
	b = appendStr(b, e.Peer)
	b = appendStr(b, e.PeerID)
	w := &e.What
	b = binary.BigEndian.AppendUint64(b, uint64(w.Records))
	b = binary.BigEndian.AppendUint64(b, w.FromSeq)
	b = binary.BigEndian.AppendUint64(b, w.ToSeq)
	b = binary.BigEndian.AppendUint64(b, uint64(len(w.CaseIDs)))
	for _, id := range w.CaseIDs {
		b = appendStr(b, id)
	}
	b = binary.BigEndian.AppendUint64(b, uint64(w.MoreCases))
	b = appendStr(b, w.Cursor)
	b = appendStr(b, w.Reason)
	var key [HashSize]byte
	if e.Key != "" {
		_, _ = hex.Decode(key[:], []byte(e.Key)) // checked by checkContent
		b = binary.BigEndian.AppendUint64(b, HashSize)
		b = append(b, key[:]...)
	} else {
		b = binary.BigEndian.AppendUint64(b, 0)
	}
	if e.Sig != "" {
		sig, _ := base64.StdEncoding.DecodeString(e.Sig)
		b = binary.BigEndian.AppendUint64(b, uint64(len(sig)))
		b = append(b, sig...)
	} else {
		b = binary.BigEndian.AppendUint64(b, 0)
	}
	return append(b, prev[:]...)
}

func appendStr(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(len(s)))
	return append(b, s...)
}

// appendLine appends e as one line of the file, newline included. Every
// string of a valid entry is printable ASCII without '"' or '\\' (the
// rules of checkContent and the hex and base64 alphabets), so strings are
// written between quotes as they are.
func (e *Entry) appendLine(b []byte) []byte {
	b = append(b, `{"seq":`...)
	b = strconv.AppendUint(b, e.Seq, 10)
	b = append(b, `,"time":"`...)
	b = e.Time.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","kind":"`...)
	b = append(b, e.Kind.String()...)
	b = append(b, '"')
	if e.Peer != "" {
		b = appendField(b, "peer", e.Peer)
	}
	if e.PeerID != "" {
		b = appendField(b, "peer_id", e.PeerID)
	}
	if w := &e.What; !w.isZero() {
		b = append(b, `,"what":{`...)
		n := len(b)
		if w.Records != 0 {
			b = append(b, `,"records":`...)
			b = strconv.AppendInt(b, int64(w.Records), 10)
		}
		if w.FromSeq != 0 {
			b = append(b, `,"from_seq":`...)
			b = strconv.AppendUint(b, w.FromSeq, 10)
		}
		if w.ToSeq != 0 {
			b = append(b, `,"to_seq":`...)
			b = strconv.AppendUint(b, w.ToSeq, 10)
		}
		if len(w.CaseIDs) != 0 {
			b = append(b, `,"case_ids":[`...)
			for i, id := range w.CaseIDs {
				if i > 0 {
					b = append(b, ',')
				}
				b = append(b, '"')
				b = append(b, id...)
				b = append(b, '"')
			}
			b = append(b, ']')
		}
		if w.MoreCases != 0 {
			b = append(b, `,"more_cases":`...)
			b = strconv.AppendInt(b, int64(w.MoreCases), 10)
		}
		if w.Cursor != "" {
			b = appendField(b, "cursor", w.Cursor)
		}
		if w.Reason != "" {
			b = appendField(b, "reason", w.Reason)
		}
		b = append(b[:n], b[n+1:]...) // drop the comma before the first field
		b = append(b, '}')
	}
	if e.Key != "" {
		b = appendField(b, "key", e.Key)
	}
	if e.Sig != "" {
		b = appendField(b, "sig", e.Sig)
	}
	b = appendField(b, "prev", e.Prev)
	b = appendField(b, "hash", e.Hash)
	return append(b, "}\n"...)
}

func appendField(b []byte, name, value string) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, `":"`...)
	b = append(b, value...)
	return append(b, '"')
}
