package safetext

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// ErrControl is returned by [Check] for text that carries a refused
// character.
var ErrControl = errors.New("control character")

// Refused reports whether r may not appear in text at all (multiline: tab
// and line feed excepted).
func Refused(r rune, multiline bool) bool {
	switch {
	case r == '\t' || r == '\n':
		return !multiline
	case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f:
		return true
	}
	return bidi(r)
}

// bidi reports whether r is a bidirectional formatting character.
func bidi(r rune) bool {
	return r == 0x061c || r == 0x200e || r == 0x200f || r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069
}

// Check returns an error wrapping [ErrControl] that names the first refused
// character and its position (in characters, from 1), or nil. The error
// never quotes the text.
func Check(s string, multiline bool) error {
	pos := 0
	for _, r := range s {
		pos++
		if Refused(r, multiline) {
			return fmt.Errorf("%w %s at character %d: %s", ErrControl, codePoint(r), pos, what(r, multiline))
		}
	}
	return nil
}

func what(r rune, multiline bool) string {
	switch {
	case (r == '\t' || r == '\n') && !multiline:
		return "tabs and line breaks are not allowed in this field"
	case bidi(r):
		return "bidirectional formatting characters are not allowed (they make text read differently from what it is)"
	}
	return "control characters are not allowed (a terminal would run them as escape sequences)"
}

func codePoint(r rune) string { return fmt.Sprintf("U+%04X", r) }

// Clean returns s with every refused character replaced by U+FFFD (text
// stored before such characters were refused, on its way out).
func Clean(s string, multiline bool) string {
	if Check(s, multiline) == nil {
		return s
	}
	return strings.Map(func(r rune) rune {
		if Refused(r, multiline) {
			return utf8.RuneError
		}
		return r
	}, s)
}

// Escape returns s with every character a terminal would act on written
// as a visible \uXXXX escape (valid in JSON strings too): the characters
// Check refuses, and the line and paragraph separators U+2028 and U+2029.
// Tab and line feed are escaped too unless keepLines. Invalid UTF-8 bytes
// become \xNN. Everything else, spaces included, is returned as is.
func Escape(s string, keepLines bool) string {
	if !needsEscape(s, keepLines) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case escaped(r, keepLines):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

func escaped(r rune, keepLines bool) bool {
	return Refused(r, keepLines) || r == 0x2028 || r == 0x2029
}

func needsEscape(s string, keepLines bool) bool {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || escaped(r, keepLines) {
			return true
		}
		i += size
	}
	return false
}
