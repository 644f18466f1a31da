package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestFormatProgress(t *testing.T) {
	for _, c := range []struct {
		label, unit  string
		count, total int64
		elapsed      time.Duration
		final        bool
		want         string
	}{
		{"importing", "lines", 452_000, 1_000_000, 11857 * time.Millisecond, false,
			"importing [==========>             ]  45%  452,000/1,000,000 lines  38,120 lines/s  ETA 14s"},
		{"hashing", "", 3 << 30, 12 << 30, 10 * time.Second, false,
			"hashing [======>                 ]  25%  3.00 GiB/12.0 GiB  307 MiB/s  ETA 30s"},
		{"exporting", "cases", 12_000, 0, 3 * time.Second, false,
			"exporting  12,000 cases  4,000 cases/s"},
		{"writing", "cases", 10, 10, 1500 * time.Millisecond, true,
			"writing [========================] 100%  10/10 cases  6 cases/s  in 1s"},
		{"validating", "", 0, 0, 0, true,
			"validating  0 B  in 0ms"},
	} {
		got := formatProgress(c.label, c.unit, c.count, c.total, c.elapsed, c.final)
		if got != c.want {
			t.Errorf("formatProgress(%s, %d/%d) =\n  %q\nwant\n  %q", c.label, c.count, c.total, got, c.want)
		}
	}
}

func TestFormatNumbers(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -1234: "-1,234"} {
		if got := formatCount(n); got != want {
			t.Errorf("formatCount(%d) = %q, want %q", n, got, want)
		}
	}
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.00 KiB", 1536: "1.50 KiB", 38 << 20: "38.0 MiB",
		512 << 30: "512 GiB", 3 << 40: "3.00 TiB"} {
		if got := formatBytes(n); got != want {
			t.Errorf("formatBytes(%d) = %q, want %q", n, got, want)
		}
	}
	for d, want := range map[time.Duration]string{850 * time.Millisecond: "850ms", 14 * time.Second: "14s",
		125 * time.Second: "2m05s", 62 * time.Minute: "1h02m"} {
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%s) = %q, want %q", d, got, want)
		}
	}
	if got := formatSize(12_902_400); got != "12.3 MiB (12,902,400 bytes)" {
		t.Errorf("formatSize = %q", got)
	}
}

// fakeClock is a clock the test moves.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func TestProgressPlainLinesAreThrottled(t *testing.T) {
	var buf bytes.Buffer
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	p := newProgress(&buf, "importing", "lines", 100)
	p.now = clock.now
	p.phase("importing", "lines", 100)
	if p.tty {
		t.Fatal("a buffer is not a terminal")
	}
	for i := range 50 {
		clock.t = clock.t.Add(100 * time.Millisecond) // 5 s in all
		p.Set(int64(i + 1))
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 { // at 2 s and 4 s
		t.Fatalf("%d lines, want 2:\n%s", len(lines), buf.String())
	}
	p.Phase("writing", "cases", 10)
	p.Set(10)
	p.Done()
	p.Done() // a second Done prints nothing
	lines = strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[2], "importing [") || !strings.Contains(lines[2], "50/100 lines") ||
		!strings.HasPrefix(lines[3], "writing [") || !strings.Contains(lines[3], "10/10 cases") {
		t.Errorf("lines:\n%s", buf.String())
	}
}

func TestProgressTerminalRedrawsOneLine(t *testing.T) {
	var buf bytes.Buffer
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	p := &progress{w: &buf, tty: true, now: clock.now, every: progressTTYEvery}
	p.phase("hashing", "", 10<<20)
	for range 10 {
		clock.t = clock.t.Add(50 * time.Millisecond)
		p.Add(1 << 20)
	}
	p.Done()
	out := buf.String()
	if n := strings.Count(out, "\r"); n != 6 { // 5 redraws at 100 ms, and the final one
		t.Errorf("%d redraws, want 6: %q", n, out)
	}
	if strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") {
		t.Errorf("want one final newline: %q", out)
	}
	if !strings.Contains(out, "10.0 MiB/10.0 MiB") {
		t.Errorf("final line: %q", out)
	}
}
