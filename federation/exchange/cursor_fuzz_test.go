package exchange

import (
	"errors"
	"strings"
	"testing"

	"github.com/accordfed/accord/federation/feed"
	"github.com/accordfed/accord/federation/identity"
)

var (
	fuzzKey      = []byte("0123456789abcdef0123456789abcdef")
	fuzzOtherKey = []byte("another node's cursor key.......")
)

// cursorSeeds are cursors of every shape: members of 2 to 16 letters,
// epochs and seqs small and large, an empty peer, and one of another node.
func cursorSeeds() []string {
	var out []string
	for _, c := range []cursor{
		{Epoch: 1, Seq: 0, Peer: "PL"},
		{Epoch: 7, Seq: 42, Peer: "DE"},
		{Epoch: 1<<64 - 1, Seq: 1<<64 - 1, Peer: "ICC"},
		{Epoch: 0x0102030405060708, Seq: 1000, Peer: "ABCDEFGHIJKLMNOP"},
		{Epoch: 9, Seq: 3, Peer: ""},
		{Epoch: 9, Seq: 3, Peer: "LTU"},
	} {
		out = append(out, encodeCursor(fuzzKey, c))
	}
	return append(out, encodeCursor(fuzzOtherKey, cursor{Epoch: 7, Seq: 42, Peer: "DE"}))
}

// FuzzDecodeCursor checks that decoding never panics, that every error is
// ErrCursor, and that a cursor that decodes is exactly the one this node
// encodes for what it decodes to (no other spelling of a cursor, and no
// cursor made with another key, is accepted).
func FuzzDecodeCursor(f *testing.F) {
	for _, s := range cursorSeeds() {
		f.Add(s)
		f.Add(s[:len(s)-1])
		f.Add(strings.ToUpper(s))
	}
	for _, s := range []string{"", "AQ", "garbage!", strings.Repeat("A", 129), "AQAAAAAAAAABAAAAAAAAAAAC"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := decodeCursor(fuzzKey, s)
		if err != nil {
			if !errors.Is(err, ErrCursor) {
				t.Errorf("error %v is not ErrCursor", err)
			}
			if c != (cursor{}) {
				t.Errorf("a cursor %+v with error %v", c, err)
			}
			return
		}
		if s == "" {
			if c != (cursor{}) {
				t.Errorf("the empty cursor decoded to %+v", c)
			}
			return
		}
		if again := encodeCursor(fuzzKey, c); again != s {
			t.Errorf("cursor %q decoded to %+v, which encodes as %q", s, c, again)
		}
		if _, err := decodeCursor(fuzzOtherKey, s); err == nil {
			t.Errorf("cursor %q decoded under another key", s)
		}
	})
}

// FuzzResumeCursor checks the rules a Sync caller's cursor must pass, for
// any cursor string, caller and feed: an accepted cursor is authentic,
// issued to this very caller, of the feed's epoch and within [floor, head];
// a refused one is ErrCursor (malformed, forged, another member's, ahead
// of the feed) or ErrCursorExpired (another epoch, older than the floor).
// A cursor made for a member (a valid member code) is then checked for
// another one: refused.
func FuzzResumeCursor(f *testing.F) {
	for _, s := range cursorSeeds() {
		f.Add(s, "PL", uint64(7), uint64(0), uint64(100))
		f.Add(s, "DE", uint64(7), uint64(0), uint64(100))
		f.Add(s, "DE", uint64(7), uint64(43), uint64(100))
		f.Add(s, "DE", uint64(7), uint64(0), uint64(41))
	}
	f.Add("", "PL", uint64(1), uint64(5), uint64(3))
	f.Fuzz(func(t *testing.T, s, member string, epoch, floor, head uint64) {
		fi := feed.Info{Epoch: epoch, Floor: floor, Head: head, CursorKey: fuzzKey}
		c, err := resumeCursor(fi, member, s)
		switch {
		case err != nil:
			if !errors.Is(err, ErrCursor) && !errors.Is(err, ErrCursorExpired) {
				t.Errorf("error %v is neither ErrCursor nor ErrCursorExpired", err)
			}
		case s == "":
			if c != (cursor{}) {
				t.Errorf("the empty cursor resumed at %+v", c)
			}
		default:
			if c.Peer != member || c.Epoch != epoch || c.Seq < floor || c.Seq > head || encodeCursor(fuzzKey, c) != s {
				t.Errorf("accepted %+v for member %q, feed %+v", c, member, fi)
			}
		}
		// The same position issued to member, presented by another: refused.
		// Cursors are issued to members, whose codes are at most 16
		// characters (decodeCursor refuses cursors of more than 128).
		if identity.ValidateMember(member) != nil {
			return
		}
		own := encodeCursor(fuzzKey, cursor{Epoch: epoch, Seq: head, Peer: member})
		got, err := resumeCursor(fi, member, own)
		switch {
		case floor <= head && (err != nil || got.Seq != head):
			t.Errorf("own cursor at the head: %+v, %v", got, err)
		case floor > head && !errors.Is(err, ErrCursorExpired):
			t.Errorf("own cursor below the floor: %+v, %v", got, err)
		}
		if _, err := resumeCursor(fi, member+"X", own); !errors.Is(err, ErrCursor) {
			t.Errorf("cursor of %q accepted for %q: %v", member, member+"X", err)
		}
	})
}

// TestCursorSpelling: a cursor is accepted only as it was issued; the
// base64 decoder alone would also take it with line breaks (which it
// skips) or with the unused bits of its last character set (what
// FuzzDecodeCursor found).
func TestCursorSpelling(t *testing.T) {
	s := encodeCursor(fuzzKey, cursor{Epoch: 9, Seq: 3, Peer: "LTU"}) // 37 bytes: 4 unused bits
	if _, err := decodeCursor(fuzzKey, s); err != nil {
		t.Fatal(err)
	}
	last := strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", s[len(s)-1])
	if last&0xf != 0 {
		t.Fatalf("last character %q has its unused bits set", s[len(s)-1])
	}
	for name, bad := range map[string]string{
		"unused bits set": s[:len(s)-1] + string("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[last|1]),
		"line feed":       s[:10] + "\n" + s[10:],
		"carriage return": s + "\r",
		"padding":         s + "==",
	} {
		if c, err := decodeCursor(fuzzKey, bad); !errors.Is(err, ErrCursor) {
			t.Errorf("%s: %q decoded to %+v, %v", name, bad, c, err)
		}
	}
}
