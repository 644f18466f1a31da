package exchange

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"

	"github.com/accordfed/accord/federation/feed"
)

// cursorVersion is the first byte of every cursor.
const cursorVersion = 1

// cursor is a position in a node's feed, issued to one member.
type cursor struct {
	Epoch uint64
	Seq   uint64
	Peer  string
}

// encodeCursor returns the cursor as an opaque, authenticated string:
// base64url(version | epoch | seq | len(peer) | peer | HMAC-SHA256[:16]).
func encodeCursor(key []byte, c cursor) string {
	b := make([]byte, 0, 1+8+8+1+len(c.Peer)+16)
	b = append(b, cursorVersion)
	b = binary.BigEndian.AppendUint64(b, c.Epoch)
	b = binary.BigEndian.AppendUint64(b, c.Seq)
	b = append(b, byte(len(c.Peer)))
	b = append(b, c.Peer...)
	m := hmac.New(sha256.New, key)
	m.Write(b)
	b = m.Sum(b)[:len(b)+16]
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor checks a cursor's encoding and authenticity. An empty
// cursor is the start of the feed.
func decodeCursor(key []byte, s string) (cursor, error) {
	if s == "" {
		return cursor{}, nil
	}
	if len(s) > 128 {
		return cursor{}, fmt.Errorf("%w: cursor: too long", ErrCursor)
	}
	// Strict, and no line breaks (which the decoder skips): a cursor is
	// accepted only as encodeCursor spells it.
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || base64.RawURLEncoding.EncodedLen(len(b)) != len(s) || len(b) < 1+8+8+1+16 || b[0] != cursorVersion {
		return cursor{}, fmt.Errorf("%w: cursor: not a cursor of this node", ErrCursor)
	}
	n := int(b[17])
	if len(b) != 18+n+16 {
		return cursor{}, fmt.Errorf("%w: cursor: not a cursor of this node", ErrCursor)
	}
	m := hmac.New(sha256.New, key)
	m.Write(b[:18+n])
	if !hmac.Equal(m.Sum(nil)[:16], b[18+n:]) {
		return cursor{}, fmt.Errorf("%w: cursor: not issued by this node (forged or of another node)", ErrCursor)
	}
	return cursor{Epoch: binary.BigEndian.Uint64(b[1:9]), Seq: binary.BigEndian.Uint64(b[9:17]), Peer: string(b[18 : 18+n])}, nil
}

// resumeCursor checks a caller's cursor against the feed: it must be
// authentic, issued to member, of the feed's epoch, and within the retained
// feed. An empty cursor is the start of the feed.
func resumeCursor(fi feed.Info, member, s string) (cursor, error) {
	c, err := decodeCursor(fi.CursorKey, s)
	if err != nil || s == "" {
		return c, err
	}
	switch {
	case c.Peer != member:
		return cursor{}, fmt.Errorf("%w: cursor: issued to member %s, not to %s", ErrCursor, c.Peer, member)
	case c.Epoch != fi.Epoch:
		return cursor{}, fmt.Errorf("%w: the cursor is of an earlier feed of this node (reset)", ErrCursorExpired)
	case c.Seq < fi.Floor:
		return cursor{}, fmt.Errorf("%w: the cursor (feed seq %d) is older than the retained feed (from %d)", ErrCursorExpired, c.Seq, fi.Floor)
	case c.Seq > fi.Head:
		return cursor{}, fmt.Errorf("%w: cursor: feed seq %d is ahead of this feed (%d)", ErrCursor, c.Seq, fi.Head)
	}
	return c, nil
}
