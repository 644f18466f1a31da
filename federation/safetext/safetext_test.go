package safetext

import (
	"errors"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	for _, c := range []struct {
		s         string
		multiline bool
		bad       string // "" when accepted; else a piece of the error
	}{
		{"Kharkiv, Харків — 64-та бригада", false, ""},
		{"two\nlines\tand a tab", true, ""},
		{"two\nlines", false, "U+000A at character 4: tabs and line breaks"},
		{"clear\x1b[2Jscreen", false, "U+001B at character 6: control characters"},
		{"csi\u009b31m", true, "U+009B"},
		{"del\x7f", true, "U+007F"},
		{"nul\x00", true, "U+0000"},
		{"abc\u202edcba", false, "U+202E at character 4: bidirectional"},
		{"\u2066isolate", false, "U+2066"},
		{"zero\u200bwidth space is no control", false, ""},
	} {
		err := Check(c.s, c.multiline)
		switch {
		case c.bad == "" && err != nil:
			t.Errorf("%q: %v", c.s, err)
		case c.bad != "" && (err == nil || !errors.Is(err, ErrControl) || !strings.Contains(err.Error(), c.bad)):
			t.Errorf("%q: %v, want %q", c.s, err, c.bad)
		case err != nil && strings.Contains(err.Error(), c.s):
			t.Errorf("%q: the error quotes the text", c.s)
		}
	}
}

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		"Kharkiv, Харків 😀":        "Kharkiv, Харків 😀",
		"\x1b[2J\x1b[31mred":       `\u001b[2J\u001b[31mred`,
		"\x1b]8;;http://x\x07link": `\u001b]8;;http://x\u0007link`,
		"a\u202eb":                 `a\u202eb`,
		"tab\there\nline\rover":    `tab\u0009here\u000aline\u000dover`,
		"\u009b1m\x7f":             `\u009b1m\u007f`,
		"sep\u2028arator":          `sep\u2028arator`,
		"bad \xff byte":            `bad \xff byte`,
		"":                         "",
	} {
		got := Escape(in, false)
		if got != want {
			t.Errorf("Escape(%q) = %q, want %q", in, got, want)
		}
		if strings.ContainsFunc(got, func(r rune) bool { return Refused(r, false) }) {
			t.Errorf("Escape(%q) still holds a refused character", in)
		}
	}
	if got := Escape("two\nlines\tand\x1b", true); got != "two\nlines\tand\\u001b" {
		t.Errorf("Escape keeping lines: %q", got)
	}
}

func TestClean(t *testing.T) {
	if got := Clean("a\x1b[2Jb\u202ec\nd", true); got != "a\ufffd[2Jb\ufffdc\nd" {
		t.Errorf("Clean: %q", got)
	}
	if got := Clean("plain", false); got != "plain" {
		t.Errorf("Clean: %q", got)
	}
}
