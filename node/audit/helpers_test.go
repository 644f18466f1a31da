package audit_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accordfed/accord/node/audit"
)

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

const (
	plID = "spiffe://accord.example/member/PL/node/pl-1"
	deID = "spiffe://accord.example/member/DE/node/de-1"
)

// clock is a test clock that moves step forward at every reading.
type clock struct {
	mu   sync.Mutex
	t    time.Time
	step time.Duration
}

func newClock() *clock { return &clock{t: t0, step: time.Second} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(c.step)
	return c.t
}

// set makes the next reading t (step is added after).
func (c *clock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t.Add(-c.step)
}

// logBuffer is a goroutine-safe buffer for a slog handler.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newLogger() (*slog.Logger, *logBuffer) {
	buf := &logBuffer{}
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

func served(i int) audit.Entry {
	return audit.Entry{
		Kind:   audit.KindServed,
		Peer:   "PL",
		PeerID: plID,
		What: audit.What{
			Records: 120, FromSeq: uint64(1000*i + 1), ToSeq: uint64(1000*i + 120),
			CaseIDs: []string{fmt.Sprintf("UA-2022-%06d", i)}, MoreCases: 119,
			Cursor: fmt.Sprintf("c%d", 1000*i+120),
		},
	}
}

func received(i int) audit.Entry {
	return audit.Entry{
		Kind:   audit.KindReceived,
		Peer:   "DE",
		PeerID: deID,
		What:   audit.What{Records: 3, FromSeq: uint64(i*3 + 1), ToSeq: uint64(i*3 + 3), CaseIDs: []string{"DE-1", "DE-2", "DE-3"}},
	}
}

func refused(reason string) audit.Entry {
	return audit.Entry{Kind: audit.KindRefused, Peer: "DE", PeerID: deID, What: audit.What{Reason: reason}}
}

// openLog opens a log in a new directory with the test clock.
func openLog(t testing.TB, opts audit.Options) (*audit.Log, string) {
	t.Helper()
	dir := t.TempDir()
	if opts.Now == nil {
		opts.Now = newClock().Now
	}
	l, err := audit.OpenWith(dir, nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, dir
}

// appendN appends n entries (served and received alternating), in batches
// of batch.
func appendN(t testing.TB, l *audit.Log, n, batch int) []audit.Entry {
	t.Helper()
	var all []audit.Entry
	for i := 0; i < n; i += batch {
		var es []audit.Entry
		for j := i; j < min(n, i+batch); j++ {
			if j%2 == 0 {
				es = append(es, served(j))
			} else {
				es = append(es, received(j))
			}
		}
		out, err := l.Append(es...)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, out...)
	}
	return all
}

// readLines returns the lines of the file, newlines included.
func readLines(t testing.TB, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.SplitAfter(string(b), "\n")
}

func writeLines(t testing.TB, path string, lines []string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(strings.Join(lines, "")), 0o600); err != nil {
		t.Fatal(err)
	}
}

// wantBreak checks that err is a *Break at line and seq.
func wantBreak(t *testing.T, err error, line int, seq uint64, reason string) {
	t.Helper()
	if !errors.Is(err, audit.ErrBroken) {
		t.Fatalf("err = %v, want ErrBroken", err)
	}
	b, ok := errors.AsType[*audit.Break](err)
	if !ok {
		t.Fatalf("err = %T, want *audit.Break", err)
	}
	if b.Line != line || b.Seq != seq || !strings.Contains(b.Reason, reason) {
		t.Fatalf("break at line %d seq %d (%s), want line %d seq %d with %q", b.Line, b.Seq, b.Reason, line, seq, reason)
	}
}

func logPath(dir string) string { return filepath.Join(dir, audit.FileName) }

func newEd25519(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newECDSA(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
