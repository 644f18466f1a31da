package raftnet_test

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/accordfed/accord/federation/raftnet"
)

func TestHCLoggerWritesToSlog(t *testing.T) {
	var buf bytes.Buffer
	l := raftnet.NewHCLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), "raft")

	l.Info("elected", "term", 3)
	l.Named("net").With("peer", "ua-1").Warn("heartbeat failed", "error", errors.New("EOF"))
	l.Trace("not shown")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d lines, want 2:\n%s", len(lines), buf.String())
	}
	for i, want := range [][]string{
		{"level=INFO", "msg=elected", "logger=raft", "term=3"},
		{"level=WARN", `msg="heartbeat failed"`, "logger=raft.net", "peer=ua-1", "error=EOF"},
	} {
		for _, w := range want {
			if !strings.Contains(lines[i], w) {
				t.Errorf("line %d %q lacks %q", i, lines[i], w)
			}
		}
	}

	if l.IsTrace() || !l.IsDebug() || l.GetLevel() != hclog.Debug {
		t.Errorf("levels: trace %v debug %v level %v; want the handler's (debug)", l.IsTrace(), l.IsDebug(), l.GetLevel())
	}
	l.SetLevel(hclog.Warn)
	if l.IsInfo() || !l.IsWarn() {
		t.Error("SetLevel(Warn) did not raise the floor")
	}
	buf.Reset()
	l.Info("dropped")
	l.StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true}).Print("[ERROR] disk full")
	if s := buf.String(); strings.Contains(s, "dropped") || !strings.Contains(s, "level=ERROR") || !strings.Contains(s, `msg="disk full"`) {
		t.Errorf("after SetLevel(Warn) and a standard logger line: %q", s)
	}
	if got := l.With("a", 1).ImpliedArgs(); len(got) != 2 || got[0] != "a" {
		t.Errorf("ImpliedArgs = %v", got)
	}
	if raftnet.NewHCLogger(nil, "x").IsError() {
		t.Error("a nil logger should discard")
	}
}

// TestHCLoggerFormatsHCLogValues: values that hclog formats itself, as
// hashicorp/raft's "servers", hclog.Fmt("%+v", configuration.Servers),
// print as hclog prints them, not as "[%+v [...]]".
func TestHCLoggerFormatsHCLogValues(t *testing.T) {
	var buf bytes.Buffer
	l := raftnet.NewHCLogger(slog.New(slog.NewTextHandler(&buf, nil)), "raft")
	servers := []raft.Server{
		{Suffrage: raft.Voter, ID: "spiffe://accord.test/member/UA/node/ua-1", Address: "127.0.0.1:7501"},
		{Suffrage: raft.Nonvoter, ID: "spiffe://accord.test/member/PL/node/pl-1", Address: "127.0.0.1:7502"},
	}
	l.Info("initial configuration", "index", 1, "servers", hclog.Fmt("%+v", servers))
	l.Info("initial configuration", "index", 0, "servers", hclog.Fmt("%+v", []raft.Server(nil)))
	l.With("percent", hclog.Fmt("%0.2f%%", 12.5)).Info("snapshot progress", "mask", hclog.Hex(255), "mode", hclog.Octal(8),
		"bits", hclog.Binary(5), "name", hclog.Quote("a b"))
	out := buf.String()
	if strings.Contains(out, "%+v") || strings.Contains(out, "%0.2f") {
		t.Errorf("a format string was printed:\n%s", out)
	}
	for _, w := range []string{
		`servers="[{Suffrage:Voter ID:spiffe://accord.test/member/UA/node/ua-1 Address:127.0.0.1:7501} {Suffrage:Nonvoter ID:spiffe://accord.test/member/PL/node/pl-1 Address:127.0.0.1:7502}]"`,
		`servers=[]`, `percent=12.50%`, `mask=0xff`, `mode=010`, `bits=0b101`, `name="\"a b\""`,
	} {
		if !strings.Contains(out, w) {
			t.Errorf("log lacks %s:\n%s", w, out)
		}
	}
}

// TestClosingHCLoggerCalmsShutdown: while the node closes on purpose,
// raft's warnings and errors (peers gone, replication stopped) are logged
// at INFO, marked closing; before, and for a node that is not closing, at
// their own level.
func TestClosingHCLoggerCalmsShutdown(t *testing.T) {
	var buf bytes.Buffer
	var closing bool
	l := raftnet.NewClosingHCLogger(slog.New(slog.NewTextHandler(&buf, nil)), "raft", func() bool { return closing })
	l.Error("failed to appendEntries to", "peer", "pl-1")
	closing = true
	l.Named("replication").Error("peer has newer term, stopping replication")
	l.Warn("failed to heartbeat to")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("got %d lines, want 3:\n%s", len(lines), buf.String())
	}
	if !strings.Contains(lines[0], "level=ERROR") || strings.Contains(lines[0], "closing") {
		t.Errorf("before closing: %s", lines[0])
	}
	for _, line := range lines[1:] {
		if !strings.Contains(line, "level=INFO") || !strings.Contains(line, "closing=true") {
			t.Errorf("while closing: %s", line)
		}
	}
}
