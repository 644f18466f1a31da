package pagetoken

import (
	"encoding/base64"
	"errors"
	"testing"
)

// FuzzDecode checks that Decode never panics, that every error is one of
// the package's, and that the only tokens it accepts are exactly what
// Encode writes for the binding and the position it returns (nothing else
// decodes: not another spelling of a token, not a token of another
// binding, not an altered one).
func FuzzDecode(f *testing.F) {
	c := codec(f, testKey)
	for _, b := range []Binding{alice, bob, aliceAll, {}} {
		for _, pos := range []string{"UA-2022-000001", "PL/PL-2022-000010", "", "\xff"} {
			f.Add(c.Encode(b, pos), b.Caller, b.Query)
		}
	}
	tok := c.Encode(alice, "UA-2022-000001")
	for _, bad := range []string{"", "garbage!", tok + "==", tok[:len(tok)-1], tok[:8] + "\r\n" + tok[8:], "AQ", "eyJ2IjoxLCJmIjoieCIsImEiOiJ4In0"} {
		f.Add(bad, alice.Caller, alice.Query)
	}
	f.Add(tok, bob.Caller, alice.Query)
	f.Add(tok, alice.Caller, aliceAll.Query)
	f.Fuzz(func(t *testing.T, tok, caller, query string) {
		b := Binding{Caller: caller, Query: query}
		pos, err := c.Decode(b, tok)
		if err != nil {
			if pos != "" {
				t.Errorf("a position %q with error %v", pos, err)
			}
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrForged) && !errors.Is(err, ErrOtherCaller) && !errors.Is(err, ErrOtherQuery) {
				t.Errorf("error %v is none of the package's", err)
			}
			return
		}
		if tok == "" {
			if pos != "" {
				t.Errorf("empty token decoded to %q", pos)
			}
			return
		}
		if want := c.Encode(b, pos); tok != want {
			t.Errorf("accepted %q, which is not the token %q of position %q", tok, want, pos)
		}
	})
}

// FuzzBinding checks, for any caller, query and position, that a token
// decodes to its position for its own binding only (another caller:
// ErrOtherCaller; the same caller, another query: ErrOtherQuery), and that
// any single byte changed in it, or any cut of it, is refused.
func FuzzBinding(f *testing.F) {
	f.Add(alice.Caller, alice.Query, "UA-2022-000001", bob.Caller, alice.Query, uint(3), byte(1), uint(5))
	f.Add(alice.Caller, alice.Query, "UA-2022-000001", alice.Caller, aliceAll.Query, uint(20), byte(0x80), uint(30))
	f.Add(alice.Caller, alice.Query, "PL/PL-1", alice.Caller, alice.Query, uint(0), byte(0xff), uint(1))
	f.Add("", "", "", "", "", uint(16), byte(2), uint(44))
	f.Add("a", "q", "\x00", "a", "q\x00", uint(1000), byte(4), uint(1000))
	c := codec(f, testKey)
	f.Fuzz(func(t *testing.T, caller, query, pos, caller2, query2 string, at uint, mask byte, cut uint) {
		if len(pos) > MaxPositionLen {
			return
		}
		b, b2 := Binding{caller, query}, Binding{caller2, query2}
		tok := c.Encode(b, pos)
		if got, err := c.Decode(b, tok); err != nil || got != pos {
			t.Fatalf("Decode(Encode(%q)) = %q, %v", pos, got, err)
		}
		got, err := c.Decode(b2, tok)
		switch {
		case b2 == b:
			if err != nil || got != pos {
				t.Errorf("same binding: %q, %v", got, err)
			}
		case caller2 != caller:
			if !errors.Is(err, ErrOtherCaller) {
				t.Errorf("another caller: %q, %v", got, err)
			}
		default:
			if !errors.Is(err, ErrOtherQuery) {
				t.Errorf("another query: %q, %v", got, err)
			}
		}
		raw, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil {
			t.Fatal(err)
		}
		if mask != 0 {
			raw[at%uint(len(raw))] ^= mask
			if got, err := c.Decode(b, base64.RawURLEncoding.EncodeToString(raw)); err == nil {
				t.Errorf("byte %d changed (^%#x): accepted as %q", at%uint(len(raw)), mask, got)
			}
		}
		if n := cut % uint(len(tok)); n > 0 {
			if got, err := c.Decode(b, tok[:n]); err == nil {
				t.Errorf("cut to %d characters: accepted as %q", n, got)
			}
		}
	})
}
