package pagetoken

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

func codec(t testing.TB, key []byte) *Codec {
	t.Helper()
	return New(key)
}

var (
	alice    = Binding{Caller: "spiffe://accord.test/member/UA/user/alice", Query: "cases.v1\x00place=kharkiv"}
	bob      = Binding{Caller: "spiffe://accord.test/member/UA/user/bob", Query: alice.Query}
	aliceAll = Binding{Caller: alice.Caller, Query: "cases.v1\x00"}
)

func TestRoundTrip(t *testing.T) {
	c := codec(t, testKey)
	for _, pos := range []string{"UA-2022-000001", "PL/PL-1", "", "\x00\xff", strings.Repeat("x", MaxPositionLen)} {
		tok := c.Encode(alice, pos)
		if len(tok) > MaxLen {
			t.Errorf("token of %d characters for a position of %d bytes", len(tok), len(pos))
		}
		got, err := c.Decode(alice, tok)
		if err != nil || got != pos {
			t.Errorf("Decode(Encode(%q)) = %q, %v", pos, got, err)
		}
		if c.Encode(alice, pos) != tok {
			t.Error("Encode is not deterministic")
		}
	}
	if got, err := c.Decode(alice, ""); got != "" || err != nil {
		t.Errorf("empty token: %q, %v", got, err)
	}
}

func TestRefused(t *testing.T) {
	c := codec(t, testKey)
	tok := c.Encode(alice, "UA-2022-000001")
	raw, _ := base64.RawURLEncoding.DecodeString(tok)
	other := codec(t, []byte("another node's key, 32 bytes ..."))
	reencode := func(f func(b []byte) []byte) string {
		return base64.RawURLEncoding.EncodeToString(f(bytes.Clone(raw)))
	}
	for _, tc := range []struct {
		name string
		b    Binding
		tok  string
		want error
	}{
		{"another caller", bob, tok, ErrOtherCaller},
		{"another query", aliceAll, tok, ErrOtherQuery},
		{"another caller and query", Binding{Caller: bob.Caller, Query: aliceAll.Query}, tok, ErrOtherCaller},
		{"another node", alice, other.Encode(alice, "UA-2022-000001"), ErrForged},
		{"query digest changed", alice, reencode(func(b []byte) []byte { b[headerLen-1] ^= 0x80; return b }), ErrForged},
		{"position changed", alice, reencode(func(b []byte) []byte { b[headerLen] = 'P'; return b }), ErrForged},
		{"last byte flipped", alice, reencode(func(b []byte) []byte { b[len(b)-1] ^= 1; return b }), ErrForged},
		{"caller digest swapped", alice, reencode(func(b []byte) []byte {
			bt, _ := base64.RawURLEncoding.DecodeString(c.Encode(bob, "UA-2022-000001"))
			copy(b[1:9], bt[1:9])
			return b
		}), ErrForged},
		{"version", alice, reencode(func(b []byte) []byte { b[0] = 2; return b }), ErrMalformed},
		{"truncated by a byte", alice, reencode(func(b []byte) []byte { return b[:len(b)-1] }), ErrForged},
		{"truncated to the header", alice, reencode(func(b []byte) []byte { return b[:headerLen] }), ErrMalformed},
		{"truncated text", alice, tok[:len(tok)-1], ErrMalformed},
		{"padding", alice, tok + "==", ErrMalformed},
		{"line break", alice, tok[:10] + "\n" + tok[10:], ErrMalformed},
		{"standard base64", alice, base64.RawStdEncoding.EncodeToString(append(raw, 0xfb, 0xff)), ErrMalformed},
		{"garbage", alice, "garbage!", ErrMalformed},
		{"too long", alice, strings.Repeat("A", MaxLen+4), ErrMalformed},
		{"old json token", alice, "eyJ2IjoxLCJmIjoieCIsImEiOiJ4In0", ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pos, err := c.Decode(tc.b, tc.tok)
			if !errors.Is(err, tc.want) || pos != "" {
				t.Errorf("Decode = %q, %v; want %v", pos, err, tc.want)
			}
		})
	}
}

func TestNew(t *testing.T) {
	func() {
		defer func() {
			if recover() == nil {
				t.Error("a short key was accepted")
			}
		}()
		New(make([]byte, MinKeyLen-1))
	}()
	key := bytes.Clone(testKey)
	c := codec(t, key)
	tok := c.Encode(alice, "x")
	key[0] ^= 1 // the codec keeps its own copy
	if _, err := c.Decode(alice, tok); err != nil {
		t.Error(err)
	}
}

func TestEncodePanicsOnLongPosition(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic")
		}
	}()
	codec(t, testKey).Encode(alice, strings.Repeat("x", MaxPositionLen+1))
}
