package persontoken

import (
	"crypto/subtle"
	"fmt"
	"strconv"
	"strings"
)

// TokenSize is the length of one token: the first 16 bytes of the
// function's 64-byte output.
const TokenSize = 16

// Token is one token.
type Token [TokenSize]byte

// Tokens are one person's tokens under one key. The origin's tokens
// ([Key.Tokens]) hold the year below and above in Near; the tokens another
// member obtains for its own persons ([Request.Finish]) do not.
type Tokens struct {
	// Key names the key the tokens were made with; tokens of different keys
	// are never compared. The caller sets it (the package does not know the
	// registry's key names).
	Key        string
	Name, Skel Token
	// HasYear: Year (and, for an origin's tokens, Near) are set.
	HasYear bool
	Year    Token
	HasNear bool
	Near    [2]Token
}

// Wire format of an origin's tokens (what a shared record carries):
// version byte 2, a flags byte (bit 0: year tokens follow), the name and
// skeleton tokens, then, with a year, the year, year−1 and year+1 tokens.
const (
	wireVersion = 2
	flagYear    = 1
)

// Marshal returns the wire form of an origin's tokens (34 bytes, or 82 with
// a year). The key name is not part of it.
func (t Tokens) Marshal() []byte {
	n := 2 + 2*TokenSize
	if t.HasYear {
		n += 3 * TokenSize
	}
	out := make([]byte, 0, n)
	flags := byte(0)
	if t.HasYear {
		flags |= flagYear
	}
	out = append(out, wireVersion, flags)
	out = append(out, t.Name[:]...)
	out = append(out, t.Skel[:]...)
	if t.HasYear {
		out = append(out, t.Year[:]...)
		out = append(out, t.Near[0][:]...)
		out = append(out, t.Near[1][:]...)
	}
	return out
}

// Unmarshal parses the wire form of an origin's tokens made with key.
func Unmarshal(key string, b []byte) (Tokens, error) {
	if len(b) < 2 || b[0] != wireVersion || b[1]&^flagYear != 0 {
		return Tokens{}, fmt.Errorf("%w: not a version-%d token record", ErrMalformed, wireVersion)
	}
	want := 2 + 2*TokenSize
	hasYear := b[1]&flagYear != 0
	if hasYear {
		want += 3 * TokenSize
	}
	if len(b) != want {
		return Tokens{}, fmt.Errorf("%w: %d bytes, want %d", ErrMalformed, len(b), want)
	}
	t := Tokens{Key: key, HasYear: hasYear, HasNear: hasYear}
	b = b[2:]
	copy(t.Name[:], b)
	copy(t.Skel[:], b[TokenSize:])
	if hasYear {
		copy(t.Year[:], b[2*TokenSize:])
		copy(t.Near[0][:], b[3*TokenSize:])
		copy(t.Near[1][:], b[4*TokenSize:])
	}
	return t, nil
}

// YearRelation says how two persons' birth years relate.
type YearRelation int

const (
	// YearUnknown means that either side has no year (or the tokens are not
	// comparable).
	YearUnknown YearRelation = iota
	// YearDifferent means that both have a year, more than one apart.
	YearDifferent
	// YearNear means one year apart.
	YearNear
	// YearSame means the same year.
	YearSame
)

// Agreement is what the comparison of two persons' tokens says.
type Agreement struct {
	// Comparable: both tokens were made with the same key. Nothing else is
	// set otherwise.
	Comparable bool
	// Name: the folded names are equal. Similar: the skeletons are (always
	// true when Name is).
	Name, Similar bool
	// Year relates the birth years; it is known only when Similar is (the
	// year tokens are bound to the skeleton).
	Year YearRelation
}

// Compare compares two persons' tokens. Equal tokens are compared in
// constant time.
func Compare(a, b *Tokens) Agreement {
	if a.Key != b.Key {
		return Agreement{}
	}
	ag := Agreement{Comparable: true, Similar: eq(&a.Skel, &b.Skel)}
	if !ag.Similar {
		return ag
	}
	ag.Name = eq(&a.Name, &b.Name)
	if a.HasYear && b.HasYear {
		switch {
		case eq(&a.Year, &b.Year):
			ag.Year = YearSame
		case a.HasNear && (eq(&b.Year, &a.Near[0]) || eq(&b.Year, &a.Near[1])),
			b.HasNear && (eq(&a.Year, &b.Near[0]) || eq(&a.Year, &b.Near[1])):
			ag.Year = YearNear
		default:
			ag.Year = YearDifferent
		}
	}
	return ag
}

func eq(a, b *Token) bool { return subtle.ConstantTimeCompare(a[:], b[:]) == 1 }

// KeyID is the name of a key in [Tokens.Key]: the key name a shared record
// gives (the origin's member code, a slash and the node's name) and the
// key's version.
func KeyID(keyName string, version int) string {
	return keyName + "#" + strconv.Itoa(version)
}

// Pair tokens. A comparison whose result another member sees (a match
// proposal) must not rest on tokens that member could make alone: an
// origin computes tokens of its own key for free, so comparing under the
// origin's key would let it publish tokens of guessed names and read the
// answers from the proposals. The node that compares (the outer key) and
// the origin of the record (the inner key) therefore both take part in
// every token compared: a pair token is the outer key's function of the
// inner key's token, F_outer(F_inner(input)). The origin obtains those of
// its persons from the comparing node (blinded, counted, audited there);
// the comparing node obtains its own persons' inner tokens from the origin
// (blinded, counted, audited there). Neither can make a pair token of a
// guess without the other.

// MaxPersonsPerCase bounds the persons of one case, per key, that a
// receiver compares: beyond it a case's tokens are ignored, so that a
// member cannot make one case test a whole dictionary, nor one case cost
// another node unbounded memory and comparisons.
const MaxPersonsPerCase = 500

// PairKeyID names the pair key of inner (the record origin's key id) and
// outer (the comparing node's key id): "<inner>><outer>".
func PairKeyID(inner, outer string) string { return inner + ">" + outer }

// SplitPairKeyID returns the inner and outer key ids of a pair key id; ok
// is false for a single key id.
func SplitPairKeyID(id string) (inner, outer string, ok bool) {
	return strings.Cut(id, ">")
}

const prefixPair = "accord person pair token v1\x00"

// OuterInputs returns the inputs of the outer function for inner tokens:
// each token, domain-separated by kind (the year below and above only when
// the inner tokens have them).
func OuterInputs(inner Tokens) Input {
	in := func(kind string, t *Token) []byte {
		return append([]byte(prefixPair+kind+"\x00"), t[:]...)
	}
	out := Input{Name: in("n", &inner.Name), Skel: in("s", &inner.Skel)}
	if inner.HasYear {
		out.Year = in("y", &inner.Year)
		if inner.HasNear {
			out.Near = [2][]byte{in("y", &inner.Near[0]), in("y", &inner.Near[1])}
		}
	}
	return out
}

// EncodingKeyID returns the key id of person tokens that a shared record of
// member names with keyName and version: a key of member itself
// ("<member>/<node>", version ≥ 1), or a pair key whose inner key is one of
// member's (version 0). ok is false for anything else: a member may
// publish only tokens that its own key went into.
func EncodingKeyID(member, keyName string, version int) (id string, ok bool) {
	own := member + "/"
	if inner, outer, pair := SplitPairKeyID(keyName); pair {
		if version != 0 || !strings.HasPrefix(inner, own) || !strings.Contains(inner, "#") || !strings.Contains(outer, "/") || !strings.Contains(outer, "#") {
			return "", false
		}
		return keyName, true
	}
	if member == "" || len(keyName) <= len(own) || !strings.HasPrefix(keyName, own) || version < 1 || strings.Contains(keyName, "#") {
		return "", false
	}
	return KeyID(keyName, version), true
}
