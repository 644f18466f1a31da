package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/accordfed/accord/node/store"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// TestPrintingEscapesTerminalControls: text that carries terminal escape
// codes (a case stored before they were refused; another member's text)
// is printed as visible escapes by every command, in text and JSON, and
// never reaches the terminal raw.
func TestPrintingEscapesTerminalControls(t *testing.T) {
	e := startLocalNode(t)
	const title = "clear\x1b[2J\x1b[31m red \x1b]8;;https://evil.example\x07link\x1b]8;;\x07 \u009b1m \u202eusbac\r forged"
	c := &accordv1.Case{CaseId: "UA-ESC-1", Country: "UA", Title: title,
		Incidents: []*accordv1.Incident{{Start: "2022-03-01T10:00:00Z", Place: "Irpin\x1b[8m"}}}
	if _, err := e.node.Store().CreateCase(c, store.Actor{ID: "spiffe://accord.test/member/UA/user/u-1"}); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"cases", "get", "UA-ESC-1"}, {"cases", "list"}, {"-o", "json", "cases", "get", "UA-ESC-1"}} {
		out := e.must(t, args...)
		if i := strings.IndexFunc(out, func(r rune) bool {
			return r == 0x1b || r == 0x07 || r == '\r' || r == 0x9b || r == 0x202e
		}); i >= 0 {
			t.Errorf("accordctl %s printed a raw control character at byte %d:\n%q", strings.Join(args, " "), i, out)
		}
		if !strings.Contains(out, `\u001b`) {
			t.Errorf("accordctl %s does not show the escape codes as escapes:\n%q", strings.Join(args, " "), out)
		}
	}
}

func TestTerminalWriterHoldsSplitCharacters(t *testing.T) {
	var b bytes.Buffer
	w := printTo(&b)
	in := []byte("Харків \x1b[2J é\u202e")
	for i := range in {
		if _, err := w.Write(in[i : i+1]); err != nil {
			t.Fatal(err)
		}
	}
	if want := `Харків \u001b[2J é\u202e`; b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
	if printTo(w) != w {
		t.Error("a printer wrapped twice")
	}
}
