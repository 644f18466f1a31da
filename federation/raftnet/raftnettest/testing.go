package raftnettest

import (
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// NewLogger returns a logger that writes to t's log at level and above.
// Records made after the test's cleanups started are dropped, so
// goroutines that outlive a test (raft's, for one) cannot make it panic.
// Create it before what logs to it, so that its cleanup runs last.
func NewLogger(t testing.TB, level slog.Leveler) *slog.Logger {
	t.Helper()
	w := &tbWriter{t: t}
	t.Cleanup(w.stop)
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

type tbWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *tbWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (w *tbWriter) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.done = true
}

// WaitFor polls f every few milliseconds until it returns nil, and fails
// the test with f's last error if timeout passes first.
func WaitFor(t testing.TB, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %v", timeout, err)
		}
		<-tick.C
	}
}
