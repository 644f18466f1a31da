package audit

import (
	"strconv"
	"time"
)

// notCanonical is the reason for a line that is JSON but not in the form
// the log writes.
const notCanonical = "line is not in the form the log writes (a field added, repeated, reordered or spelt differently)"

// decoder reads one line in exactly the form appendLine writes: the fields
// in their order, no spaces, strings without escapes. It is much faster
// than encoding/json, and anything else is refused (parseLine then says
// whether the line is JSON at all). The caller re-encodes the entry and
// compares, so the decoder may accept a little more than the canonical
// form (leading zeros, say) but never less.
type decoder struct {
	b   []byte
	i   int
	err string
}

func (d *decoder) fail(reason string) {
	if d.err == "" {
		d.err = reason
	}
}

// lit consumes s, or fails.
func (d *decoder) lit(s string) bool {
	if d.has(s) {
		d.i += len(s)
		return true
	}
	d.fail(notCanonical)
	return false
}

// has reports whether the line continues with s.
func (d *decoder) has(s string) bool {
	return d.err == "" && len(d.b)-d.i >= len(s) && string(d.b[d.i:d.i+len(s)]) == s
}

// key consumes `"name":`, after a comma unless it is the object's first
// field, when the line continues with it.
func (d *decoder) key(first bool, name string) bool {
	i := d.i
	if !first {
		if i >= len(d.b) || d.b[i] != ',' {
			return false
		}
		i++
	}
	if d.err != "" || len(d.b)-i < len(name)+3 || d.b[i] != '"' ||
		string(d.b[i+1:i+1+len(name)]) != name || d.b[i+1+len(name)] != '"' || d.b[i+2+len(name)] != ':' {
		return false
	}
	d.i = i + len(name) + 3
	return true
}

// peek consumes s when the line continues with it.
func (d *decoder) peek(s string) bool {
	if d.has(s) {
		d.i += len(s)
		return true
	}
	return false
}

// str reads the rest of a string whose opening quote was consumed, and the
// closing quote. Only printable ASCII other than '\\' is accepted.
func (d *decoder) str() []byte {
	if d.err != "" {
		return nil
	}
	start := d.i
	for ; d.i < len(d.b); d.i++ {
		switch c := d.b[d.i]; {
		case c == '"':
			s := d.b[start:d.i]
			d.i++
			return s
		case c < 0x20 || c >= 0x7f || c == '\\':
			d.fail(notCanonical)
			return nil
		}
	}
	d.fail(notCanonical)
	return nil
}

// uint reads a decimal number.
func (d *decoder) uint(field string) uint64 {
	if d.err != "" {
		return 0
	}
	start := d.i
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		d.i++
	}
	if d.i == start {
		d.fail(notCanonical)
		return 0
	}
	v, err := strconv.ParseUint(string(d.b[start:d.i]), 10, 64)
	if err != nil {
		d.fail(field + " is not a number in range")
	}
	return v
}

// int reads a decimal number that fits an int.
func (d *decoder) int(field string) int {
	v := d.uint(field)
	if v > uint64(maxInt) {
		d.fail(field + " is out of range")
		return 0
	}
	return int(v)
}

const maxInt = int(^uint(0) >> 1)

// decodeLine decodes a line (newline included) written by appendLine. It
// returns why it cannot ("" when it can); the fields are not validated.
func decodeLine(line []byte, p *parser) (Entry, string) {
	d := decoder{b: line}
	var e Entry
	d.lit(`{"seq":`)
	e.Seq = d.uint("seq")
	d.lit(`,"time":"`)
	if ts := d.str(); d.err == "" {
		t, err := time.Parse(time.RFC3339Nano, string(ts))
		if err != nil {
			return e, "time is not an RFC 3339 time"
		}
		e.Time = t
	}
	d.lit(`,"kind":"`)
	if ks := d.str(); d.err == "" {
		e.Kind = kindOf(ks)
		if e.Kind == 0 {
			return e, "kind " + strconv.Quote(string(ks)) + " is not a known kind"
		}
	}
	if d.peek(`,"peer":"`) {
		e.Peer = p.internString(d.str())
	}
	if d.peek(`,"peer_id":"`) {
		e.PeerID = p.internString(d.str())
	}
	if d.peek(`,"what":{`) {
		d.what(&e.What)
	}
	if d.peek(`,"key":"`) {
		e.Key = string(d.str())
	}
	if d.peek(`,"sig":"`) {
		e.Sig = string(d.str())
	}
	d.lit(`,"prev":"`)
	if b := d.str(); p.prevHex != "" && string(b) == p.prevHex {
		e.Prev = p.prevHex
	} else {
		e.Prev = string(b)
	}
	d.lit(`,"hash":"`)
	e.Hash = string(d.str())
	d.lit("}\n")
	if d.err == "" && d.i != len(line) {
		d.fail(notCanonical)
	}
	return e, d.err
}

// what reads the fields of a what object, after its '{', and its '}'.
func (d *decoder) what(w *What) {
	first := true
	field := func(name string) bool {
		if d.key(first, name) {
			first = false
			return true
		}
		return false
	}
	if field("records") {
		w.Records = d.int("what.records")
	}
	if field("from_seq") {
		w.FromSeq = d.uint("what.from_seq")
	}
	if field("to_seq") {
		w.ToSeq = d.uint("what.to_seq")
	}
	if field("case_ids") {
		d.lit(`["`)
		for d.err == "" {
			w.CaseIDs = append(w.CaseIDs, string(d.str()))
			if len(w.CaseIDs) > MaxCaseIDs {
				d.fail("what.case_ids has more than " + strconv.Itoa(MaxCaseIDs) + " ids")
			}
			if !d.peek(`,"`) {
				break
			}
		}
		d.lit("]")
	}
	if field("more_cases") {
		w.MoreCases = d.int("what.more_cases")
	}
	if field("cursor") {
		d.lit(`"`)
		w.Cursor = string(d.str())
	}
	if field("reason") {
		d.lit(`"`)
		w.Reason = string(d.str())
	}
	d.lit("}")
}

// kindOf returns the kind named b, or 0.
func kindOf(b []byte) Kind {
	for k := KindSent; k <= kindLast; k++ {
		if kindNames[k] == string(b) {
			return k
		}
	}
	return 0
}

// internString returns b as a string, the same string for the same bytes
// while the cache is small (peers and their identities repeat).
func (p *parser) internString(b []byte) string {
	if s, ok := p.intern[string(b)]; ok {
		return s
	}
	s := string(b)
	if p.intern != nil && len(p.intern) < maxCachedPeers {
		p.intern[s] = s
	}
	return s
}
