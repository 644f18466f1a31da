package pagetoken

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
)

// Errors of Decode; each is wrapped with %w.
var (
	// ErrMalformed: the token is not a page token of this format (garbage,
	// cut, or of another version).
	ErrMalformed = errors.New("not a page token")
	// ErrForged: the token has the format but its authenticator does not
	// verify: it was altered, or made by another node (or with a key this
	// node no longer has).
	ErrForged = errors.New("not a page token of this node (altered, or issued by another node)")
	// ErrOtherCaller: the token was issued to another caller.
	ErrOtherCaller = errors.New("issued to another caller")
	// ErrOtherQuery: the token was issued for another query (other
	// filters, or another RPC).
	ErrOtherQuery = errors.New("issued for another query (other filters)")
)

// MinKeyLen is the shortest key New accepts.
const MinKeyLen = 16

// MaxLen is the longest token Decode reads; a position must be short
// enough for its token to fit (MaxPositionLen).
const MaxLen = 512

// The token's layout: base64url, without padding, of
//
//	version (1) | caller digest (8) | query digest (8) | position | tag (16)
//
// where the digests are HMAC-SHA256 of the caller and of the query under
// the key, and the tag is HMAC-SHA256 of everything before it.
const (
	version    = 1
	digestLen  = 8
	tagLen     = 16
	headerLen  = 1 + 2*digestLen
	overhead   = headerLen + tagLen
	domainTag  = "accord-page-token-v1\x00tag\x00"
	domainWho  = "accord-page-token-v1\x00caller\x00"
	domainWhat = "accord-page-token-v1\x00query\x00"
)

// MaxPositionLen is the longest position a token carries: what fits in
// MaxLen characters of base64 (6 bits each) with the rest of the token.
const MaxPositionLen = MaxLen*6/8 - overhead

// Binding is what a token is bound to.
type Binding struct {
	// Caller is the identity of the caller (its SPIFFE URI).
	Caller string
	// Query names the RPC and its normalised filters: two requests with
	// the same Query ask for the same list.
	Query string
}

// Codec makes and checks tokens with one key. Safe for concurrent use.
type Codec struct {
	key []byte
}

// New returns a codec with key, which must be secret, random and at
// least MinKeyLen bytes long (node/store makes one of 32); the key is
// copied. It panics on a shorter key, a programming error.
func New(key []byte) *Codec {
	if len(key) < MinKeyLen {
		panic(fmt.Sprintf("pagetoken: key of %d bytes: at least %d are needed", len(key), MinKeyLen))
	}
	return &Codec{key: append([]byte(nil), key...)}
}

func (c *Codec) mac(domain string, parts ...[]byte) []byte {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte(domain))
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

// Encode returns the token of position for b. It panics when position is
// longer than MaxPositionLen (positions are the services' own record
// keys, which are much shorter).
func (c *Codec) Encode(b Binding, position string) string {
	if len(position) > MaxPositionLen {
		panic(fmt.Sprintf("pagetoken: position of %d bytes: at most %d", len(position), MaxPositionLen))
	}
	buf := make([]byte, 0, overhead+len(position))
	buf = append(buf, version)
	buf = append(buf, c.mac(domainWho, []byte(b.Caller))[:digestLen]...)
	buf = append(buf, c.mac(domainWhat, []byte(b.Query))[:digestLen]...)
	buf = append(buf, position...)
	buf = append(buf, c.mac(domainTag, buf)[:tagLen]...)
	return base64.RawURLEncoding.EncodeToString(buf)
}

// Decode checks tok for b and returns its position. An empty token is the
// first page: position "". The errors wrap ErrMalformed, ErrForged,
// ErrOtherCaller or ErrOtherQuery, checked in that order.
func (c *Codec) Decode(b Binding, tok string) (string, error) {
	if tok == "" {
		return "", nil
	}
	if len(tok) > MaxLen {
		return "", fmt.Errorf("%w: longer than %d characters", ErrMalformed, MaxLen)
	}
	buf, err := base64.RawURLEncoding.Strict().DecodeString(tok)
	// The decoder skips line breaks; a token is exactly what Encode wrote.
	if err != nil || base64.RawURLEncoding.EncodedLen(len(buf)) != len(tok) {
		return "", fmt.Errorf("%w: not base64url", ErrMalformed)
	}
	if len(buf) < overhead || buf[0] != version {
		return "", fmt.Errorf("%w: too short or of another version", ErrMalformed)
	}
	body, tag := buf[:len(buf)-tagLen], buf[len(buf)-tagLen:]
	if !hmac.Equal(tag, c.mac(domainTag, body)[:tagLen]) {
		return "", ErrForged
	}
	if !hmac.Equal(body[1:1+digestLen], c.mac(domainWho, []byte(b.Caller))[:digestLen]) {
		return "", ErrOtherCaller
	}
	if !hmac.Equal(body[1+digestLen:headerLen], c.mac(domainWhat, []byte(b.Query))[:digestLen]) {
		return "", ErrOtherQuery
	}
	return string(body[headerLen:]), nil
}
