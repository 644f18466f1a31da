package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// How often the progress display is redrawn: on a terminal as one line that
// changes in place, elsewhere (a log, a pipe) as plain lines.
const (
	progressTTYEvery   = 100 * time.Millisecond
	progressPlainEvery = 2 * time.Second
	progressBarWidth   = 24
)

// progress shows how far a long operation is on stderr: a count against a
// total (when known), the rate and the time left. It keeps no history, so
// its memory is constant. Its methods may be called from several
// goroutines.
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	tty   bool
	now   func() time.Time
	every time.Duration

	label string // "importing", "hashing"
	unit  string // "lines", "cases"; "" for bytes
	total int64  // 0 when unknown
	count int64
	start time.Time
	drawn time.Time // when last drawn
	width int       // length of the line last drawn on a terminal
	ended bool
}

// newProgress starts a display on w; a terminal gets a redrawn line, any
// other writer plain lines. unit is "" for bytes.
func newProgress(w io.Writer, label, unit string, total int64) *progress {
	tty := isTerminal(w)
	p := &progress{w: w, tty: tty, now: time.Now, every: progressPlainEvery}
	if tty {
		p.every = progressTTYEvery
	}
	p.phase(label, unit, total)
	return p
}

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// Phase ends the current phase (with a final line) and starts another.
func (p *progress) Phase(label, unit string, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.finish()
	p.phase(label, unit, total)
}

func (p *progress) phase(label, unit string, total int64) {
	p.label, p.unit, p.total, p.count = label, unit, total, 0
	p.start = p.now()
	p.drawn = p.start
	p.ended = false
}

// Set sets the count.
func (p *progress) Set(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.count = n
	p.maybeDraw()
}

// Add adds to the count.
func (p *progress) Add(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.count += n
	p.maybeDraw()
}

// SetTotal changes the total (0: unknown).
func (p *progress) SetTotal(total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total = total
}

// Write counts bytes, so that a progress can sit in an io.MultiWriter.
func (p *progress) Write(b []byte) (int, error) {
	p.Add(int64(len(b)))
	return len(b), nil
}

// Done draws the final line of the current phase.
func (p *progress) Done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.finish()
}

func (p *progress) maybeDraw() {
	if p.ended {
		return
	}
	now := p.now()
	if now.Sub(p.drawn) < p.every {
		return
	}
	p.drawn = now
	line := formatProgress(p.label, p.unit, p.count, p.total, now.Sub(p.start), false)
	if p.tty {
		p.redraw(line)
		return
	}
	fmt.Fprintln(p.w, line)
}

// redraw replaces the terminal line.
func (p *progress) redraw(line string) {
	pad := ""
	if n := len([]rune(line)); n < p.width {
		pad = strings.Repeat(" ", p.width-n)
	}
	fmt.Fprint(p.w, "\r"+line+pad)
	p.width = len([]rune(line))
}

func (p *progress) finish() {
	if p.ended {
		return
	}
	p.ended = true
	line := formatProgress(p.label, p.unit, p.count, p.total, p.now().Sub(p.start), true)
	if p.tty {
		p.redraw(line)
		fmt.Fprintln(p.w)
		p.width = 0
		return
	}
	fmt.Fprintln(p.w, line)
}

// formatProgress formats one progress line, such as
//
//	importing [==========>             ] 45%  452,000/1,000,000 lines  38,120 lines/s  ETA 14s
//	hashing   [==>                     ] 12%  1.2 GiB/9.8 GiB  310.4 MiB/s  ETA 28s
//	exporting 12,000 cases  4,000 cases/s
//
// unit "" means bytes. final replaces the ETA by the time taken.
func formatProgress(label, unit string, count, total int64, elapsed time.Duration, final bool) string {
	var b strings.Builder
	b.WriteString(label)
	amount := func(n int64) string {
		if unit == "" {
			return formatBytes(n)
		}
		return formatCount(n)
	}
	rate := 0.0
	if s := elapsed.Seconds(); s > 0 {
		rate = float64(count) / s
	}
	if total > 0 {
		frac := float64(count) / float64(total)
		frac = min(max(frac, 0), 1)
		b.WriteByte(' ')
		b.WriteString(progressBar(frac, progressBarWidth))
		fmt.Fprintf(&b, " %3d%%  %s/%s", int(frac*100), amount(count), amount(total))
	} else {
		b.WriteString("  " + amount(count))
	}
	if unit != "" {
		b.WriteString(" " + unit)
	}
	if rate > 0 {
		if unit == "" {
			b.WriteString("  " + formatBytes(int64(rate)) + "/s")
		} else {
			b.WriteString("  " + formatCount(int64(rate)) + " " + unit + "/s")
		}
	}
	switch {
	case final:
		b.WriteString("  in " + formatDuration(elapsed))
	case total > 0 && rate > 0 && count < total:
		eta := time.Duration(float64(total-count) / rate * float64(time.Second))
		b.WriteString("  ETA " + formatDuration(eta))
	}
	return b.String()
}

// progressBar draws [=====>    ] for a fraction done.
func progressBar(frac float64, width int) string {
	full := int(frac * float64(width))
	var b strings.Builder
	b.Grow(width + 2)
	b.WriteByte('[')
	for i := range width {
		switch {
		case i < full:
			b.WriteByte('=')
		case i == full:
			b.WriteByte('>')
		default:
			b.WriteByte(' ')
		}
	}
	b.WriteByte(']')
	return b.String()
}

// formatCount writes n with thousands separators: 1,000,000.
func formatCount(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// formatBytes writes a size in B, KiB, MiB, GiB, TiB or PiB, with three
// significant digits: 812 B, 4.50 KiB, 38.1 MiB, 512 GiB.
func formatBytes(n int64) string {
	if n < 1024 {
		return strconv.FormatInt(n, 10) + " B"
	}
	units := [...]string{"KiB", "MiB", "GiB", "TiB", "PiB"}
	v, i := float64(n)/1024, 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	prec := 0
	switch {
	case v < 10:
		prec = 2
	case v < 100:
		prec = 1
	}
	return strconv.FormatFloat(v, 'f', prec, 64) + " " + units[i]
}

// formatDuration writes a duration for people: 850ms, 14s, 2m05s, 1h02m.
func formatDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
	case d < time.Minute:
		return strconv.Itoa(int(d.Seconds())) + "s"
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}
