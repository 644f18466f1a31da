package raftnet_test

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

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
