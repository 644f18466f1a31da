package caseformat

import (
	"strconv"
	"unicode/utf8"
)

// decoder is a strict JSON scanner over one line. It reports JSON syntax
// errors (after which it stops: the rest of the line cannot be read) and
// problems with single values (wrong type, null, invalid UTF-8), after which
// it goes on with the next field.
type decoder struct {
	data    []byte
	pos     int
	errs    *errList
	failed  bool   // a syntax error was reported; nothing more is read
	scratch []byte // unescaped strings
	// text is the line as a string, made on the first string value: the
	// values without escapes are its substrings, which saves an allocation
	// per value.
	text string
}

// maxDepth bounds the nesting of values that are skipped (unknown fields,
// values of the wrong type).
const maxDepth = 64

// special marks the bytes that end the fast path of a string: '"', '\\',
// control characters and the bytes of non-ASCII UTF-8.
var special = func() (t [256]bool) {
	for i := range 0x20 {
		t[i] = true
	}
	t['"'] = true
	t['\\'] = true
	for i := 0x80; i < 0x100; i++ {
		t[i] = true
	}
	return t
}()

func (d *decoder) syntax(msg string) {
	if d.failed {
		return
	}
	d.failed = true
	d.errs.addField("", "invalid JSON at column "+strconv.Itoa(d.pos+1)+": "+msg)
	d.pos = len(d.data)
}

func (d *decoder) ws() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// peek returns the next byte, or 0 (after a syntax error) at the end.
func (d *decoder) peek() byte {
	if d.pos >= len(d.data) {
		d.syntax("unexpected end of line")
		return 0
	}
	return d.data[d.pos]
}

// kind names the JSON type of the value that starts with c.
func kind(c byte) string {
	switch {
	case c == '"':
		return "string"
	case c == '{':
		return "object"
	case c == '[':
		return "array"
	case c == 't' || c == 'f':
		return "boolean"
	case c == 'n':
		return "null"
	case c == '-' || (c >= '0' && c <= '9'):
		return "number"
	}
	return ""
}

func (d *decoder) unexpected() {
	c := d.data[d.pos]
	if c >= 0x20 && c < 0x7f {
		d.syntax("unexpected character " + strconv.QuoteRune(rune(c)))
		return
	}
	if d.pos == 0 && len(d.data) >= 3 && d.data[0] == 0xEF && d.data[1] == 0xBB && d.data[2] == 0xBF {
		d.syntax("unexpected byte order mark (only the first line of a file may start with one)")
		return
	}
	d.syntax("unexpected byte 0x" + strconv.FormatUint(uint64(c), 16))
}

// skip reads over one value of any type, checking its syntax.
func (d *decoder) skip() { d.skipDepth(0) }

func (d *decoder) skipDepth(depth int) {
	c := d.peek()
	if d.failed {
		return
	}
	switch kind(c) {
	case "string":
		d.scanString()
	case "number":
		d.scanNumber()
	case "boolean", "null":
		d.literal()
	case "object", "array":
		if depth >= maxDepth {
			d.syntax("values nested more than " + strconv.Itoa(maxDepth) + " deep")
			return
		}
		d.pos++
		if c == '{' {
			for first := true; ; first = false {
				if _, ok := d.member(first); !ok {
					return
				}
				d.skipDepth(depth + 1)
			}
		}
		for first := true; d.element(first); first = false {
			d.skipDepth(depth + 1)
		}
	default:
		d.unexpected()
	}
}

func (d *decoder) literal() {
	for _, lit := range [...]string{"true", "false", "null"} {
		if len(d.data)-d.pos >= len(lit) && string(d.data[d.pos:d.pos+len(lit)]) == lit {
			d.pos += len(lit)
			return
		}
	}
	d.syntax("invalid literal (true, false and null are lower-case)")
}

// member moves to the next member of an object whose '{' has been read and
// returns its key (valid until the next string is read), leaving the decoder
// at the value. It returns false at the object's end (reading the '}') or
// after a syntax error.
func (d *decoder) member(first bool) ([]byte, bool) {
	if d.failed {
		return nil, false
	}
	d.ws()
	c := d.peek()
	if d.failed {
		return nil, false
	}
	if c == '}' {
		d.pos++
		return nil, false
	}
	if !first {
		if c != ',' {
			d.syntax("expected ',' or '}' after an object member")
			return nil, false
		}
		d.pos++
		d.ws()
		c = d.peek()
	}
	if c != '"' {
		if !d.failed {
			d.syntax("expected a key in double quotes")
		}
		return nil, false
	}
	key, _, ok := d.scanString()
	if !ok {
		return nil, false
	}
	d.ws()
	if d.peek() != ':' {
		d.syntax("expected ':' after an object key")
		return nil, false
	}
	d.pos++
	d.ws()
	return key, true
}

// element moves to the next element of an array whose '[' has been read. It
// returns false at the array's end (reading the ']') or after a syntax
// error.
func (d *decoder) element(first bool) bool {
	if d.failed {
		return false
	}
	d.ws()
	c := d.peek()
	if d.failed {
		return false
	}
	if c == ']' {
		d.pos++
		return false
	}
	if !first {
		if c != ',' {
			d.syntax("expected ',' or ']' after an array element")
			return false
		}
		d.pos++
		d.ws()
		if d.peek() == ']' {
			d.syntax("expected a value after ','")
			return false
		}
	}
	return !d.failed
}

// scanString reads the string at d.pos (its opening quote). It returns the
// content, a sub-slice of the line or, when the string has escapes,
// d.scratch. bad is non-empty when the string is well-formed JSON but not
// valid text (invalid UTF-8, an unpaired surrogate escape).
func (d *decoder) scanString() (s []byte, bad string, ok bool) {
	data := d.data
	start := d.pos + 1
	i := start
	for i < len(data) {
		c := data[i]
		if !special[c] {
			i++
			continue
		}
		switch {
		case c == '"':
			d.pos = i + 1
			return data[start:i], bad, true
		case c == '\\':
			d.pos = i
			return d.scanEscaped(start, i, bad)
		case c < 0x20:
			d.pos = i
			d.syntax("control character in a string (write it as an escape such as \\n)")
			return nil, "", false
		default:
			r, size := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && size == 1 {
				bad = "must be valid UTF-8"
			}
			i += size
		}
	}
	d.pos = len(data)
	d.syntax("unterminated string")
	return nil, "", false
}

// scanEscaped finishes a string that has escapes: data[start:i] is read and
// data[i] is a backslash.
func (d *decoder) scanEscaped(start, i int, bad string) ([]byte, string, bool) {
	data := d.data
	buf := append(d.scratch[:0], data[start:i]...)
	for i < len(data) {
		c := data[i]
		switch {
		case c == '"':
			d.pos = i + 1
			d.scratch = buf
			return buf, bad, true
		case c == '\\':
			if i+1 >= len(data) {
				d.pos = len(data)
				d.syntax("unterminated string")
				return nil, "", false
			}
			switch e := data[i+1]; e {
			case '"', '\\', '/':
				buf = append(buf, e)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				r, ok := hex4(data, i+2)
				if !ok {
					d.pos = i
					d.syntax("invalid \\u escape (four hex digits expected)")
					return nil, "", false
				}
				i += 6
				if r >= 0xD800 && r < 0xDC00 {
					if lo, ok := hex4(data, i+2); ok && i+1 < len(data) && data[i] == '\\' && data[i+1] == 'u' && lo >= 0xDC00 && lo < 0xE000 {
						buf = utf8.AppendRune(buf, 0x10000+(r-0xD800)<<10+(lo-0xDC00))
						i += 6
						continue
					}
				}
				if r >= 0xD800 && r < 0xE000 {
					bad = "must be valid text (a \\u escape is an unpaired UTF-16 surrogate)"
					r = utf8.RuneError
				}
				buf = utf8.AppendRune(buf, r)
				continue
			default:
				d.pos = i
				d.syntax("invalid escape \\" + string(rune(e)) + " in a string")
				return nil, "", false
			}
			i += 2
		case c < 0x20:
			d.pos = i
			d.syntax("control character in a string (write it as an escape such as \\n)")
			return nil, "", false
		case c < 0x80:
			buf = append(buf, c)
			i++
		default:
			r, size := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && size == 1 {
				bad = "must be valid UTF-8"
			}
			buf = append(buf, data[i:i+size]...)
			i += size
		}
	}
	d.pos = len(data)
	d.syntax("unterminated string")
	return nil, "", false
}

func hex4(data []byte, i int) (rune, bool) {
	if i+4 > len(data) {
		return 0, false
	}
	var r rune
	for _, c := range data[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// scanNumber reads a number as RFC 8259 writes it and says whether it is
// written as an integer (no fraction, no exponent).
func (d *decoder) scanNumber() (isInt, ok bool) {
	data := d.data
	i := d.pos
	if i < len(data) && data[i] == '-' {
		i++
	}
	digits := func() bool {
		j := i
		for i < len(data) && data[i] >= '0' && data[i] <= '9' {
			i++
		}
		return i > j
	}
	switch {
	case i < len(data) && data[i] == '0':
		i++
	case !digits():
		d.pos = i
		d.syntax("invalid number")
		return false, false
	}
	isInt = true
	if i < len(data) && data[i] == '.' {
		isInt = false
		i++
		if !digits() {
			d.pos = i
			d.syntax("invalid number (digits expected after '.')")
			return false, false
		}
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		isInt = false
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		if !digits() {
			d.pos = i
			d.syntax("invalid number (digits expected in the exponent)")
			return false, false
		}
	}
	d.pos = i
	return isInt, true
}
