package raftnet

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"
)

// LevelTrace is the slog level of hclog's Trace, below slog.LevelDebug.
const LevelTrace = slog.LevelDebug - 4

// NewHCLogger returns an hclog.Logger (what hashicorp/raft logs to) that
// writes to l. name, when not empty, is recorded as the "logger" attribute;
// Named appends to it with a dot. Levels are left to l's handler unless
// SetLevel raises the floor. A nil l discards.
func NewHCLogger(l *slog.Logger, name string) hclog.Logger {
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	return &hcLogger{l: l, name: name, floor: new(atomic.Int32)}
}

type hcLogger struct {
	l       *slog.Logger // implied arguments applied
	name    string
	implied []any
	floor   *atomic.Int32 // hclog.Level; NoLevel: the handler decides. Shared with derived loggers, as in hclog.
	closing func() bool   // see NewClosingHCLogger; nil: never
}

// NewClosingHCLogger is NewHCLogger for a Raft that this node is shutting
// down on purpose: while closing() is true, raft's warnings and errors —
// peers it can no longer reach, replication stopped by the new leader's
// term, a leadership transfer cut short — are what a clean shutdown looks
// like from inside, and are logged at INFO with closing=true rather than
// alarming an operator.
func NewClosingHCLogger(l *slog.Logger, name string, closing func() bool) hclog.Logger {
	h := NewHCLogger(l, name).(*hcLogger)
	h.closing = closing
	return h
}

var _ hclog.Logger = (*hcLogger)(nil)

func slogLevel(level hclog.Level) slog.Level {
	switch level {
	case hclog.Trace:
		return LevelTrace
	case hclog.Debug:
		return slog.LevelDebug
	case hclog.Warn:
		return slog.LevelWarn
	case hclog.Error:
		return slog.LevelError
	default:
		return slog.LevelInfo
	}
}

func (h *hcLogger) enabled(level hclog.Level) bool {
	if level == hclog.Off {
		return false
	}
	if level == hclog.NoLevel {
		level = hclog.Info
	}
	if floor := hclog.Level(h.floor.Load()); floor != hclog.NoLevel && level < floor {
		return false
	}
	return h.l.Enabled(context.Background(), slogLevel(level))
}

func (h *hcLogger) Log(level hclog.Level, msg string, args ...any) {
	if (level == hclog.Warn || level == hclog.Error) && h.closing != nil && h.closing() {
		level = hclog.Info
		args = append(append([]any(nil), args...), "closing", true)
	}
	if !h.enabled(level) {
		return
	}
	args = hcArgs(args)
	if h.name != "" {
		args = append([]any{"logger", h.name}, args...)
	}
	h.l.Log(context.Background(), slogLevel(level), msg, args...)
}

// hcArgs renders the values hclog formats itself (hashicorp/raft logs
// "servers", hclog.Fmt("%+v", servers)): a Format is printed with its
// format, Hex, Octal, Binary and Quote as hclog prints them. Other values
// are left to the slog handler. args is not modified.
func hcArgs(args []any) []any {
	var out []any
	for i := 1; i < len(args); i += 2 {
		v, ok := hcValue(args[i])
		if !ok {
			continue
		}
		if out == nil {
			out = append([]any(nil), args...)
		}
		out[i] = v
	}
	if out == nil {
		return args
	}
	return out
}

func hcValue(v any) (string, bool) {
	switch v := v.(type) {
	case hclog.Format:
		if len(v) == 0 {
			return "", true
		}
		if f, ok := v[0].(string); ok {
			return fmt.Sprintf(f, v[1:]...), true
		}
		return fmt.Sprint(v...), true
	case hclog.Hex:
		return "0x" + strconv.FormatUint(uint64(v), 16), true
	case hclog.Octal:
		return "0" + strconv.FormatUint(uint64(v), 8), true
	case hclog.Binary:
		return "0b" + strconv.FormatUint(uint64(v), 2), true
	case hclog.Quote:
		return strconv.Quote(string(v)), true
	}
	return "", false
}

func (h *hcLogger) Trace(msg string, args ...any) { h.Log(hclog.Trace, msg, args...) }
func (h *hcLogger) Debug(msg string, args ...any) { h.Log(hclog.Debug, msg, args...) }
func (h *hcLogger) Info(msg string, args ...any)  { h.Log(hclog.Info, msg, args...) }
func (h *hcLogger) Warn(msg string, args ...any)  { h.Log(hclog.Warn, msg, args...) }
func (h *hcLogger) Error(msg string, args ...any) { h.Log(hclog.Error, msg, args...) }

func (h *hcLogger) IsTrace() bool { return h.enabled(hclog.Trace) }
func (h *hcLogger) IsDebug() bool { return h.enabled(hclog.Debug) }
func (h *hcLogger) IsInfo() bool  { return h.enabled(hclog.Info) }
func (h *hcLogger) IsWarn() bool  { return h.enabled(hclog.Warn) }
func (h *hcLogger) IsError() bool { return h.enabled(hclog.Error) }

func (h *hcLogger) ImpliedArgs() []any { return append([]any(nil), h.implied...) }

func (h *hcLogger) With(args ...any) hclog.Logger {
	args = hcArgs(args)
	c := *h
	c.l = h.l.With(args...)
	c.implied = append(append([]any(nil), h.implied...), args...)
	return &c
}

func (h *hcLogger) Name() string { return h.name }

func (h *hcLogger) Named(name string) hclog.Logger {
	if h.name != "" {
		name = h.name + "." + name
	}
	return h.ResetNamed(name)
}

func (h *hcLogger) ResetNamed(name string) hclog.Logger {
	c := *h
	c.name = name
	return &c
}

func (h *hcLogger) SetLevel(level hclog.Level) { h.floor.Store(int32(level)) }

func (h *hcLogger) GetLevel() hclog.Level {
	if floor := hclog.Level(h.floor.Load()); floor != hclog.NoLevel {
		return floor
	}
	for _, lvl := range []hclog.Level{hclog.Trace, hclog.Debug, hclog.Info, hclog.Warn, hclog.Error} {
		if h.enabled(lvl) {
			return lvl
		}
	}
	return hclog.Off
}

func (h *hcLogger) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return log.New(h.StandardWriter(opts), "", 0)
}

func (h *hcLogger) StandardWriter(opts *hclog.StandardLoggerOptions) io.Writer {
	if opts == nil {
		opts = &hclog.StandardLoggerOptions{}
	}
	return &stdWriter{h: h, opts: *opts}
}

// stdWriter turns lines of a *log.Logger into log records, reading a
// leading "[LEVEL]" when asked to.
type stdWriter struct {
	h    *hcLogger
	opts hclog.StandardLoggerOptions
}

func (w *stdWriter) Write(p []byte) (int, error) {
	line := string(bytes.TrimRight(p, " \t\n"))
	level := hclog.Info
	if w.opts.InferLevels || w.opts.ForceLevel != hclog.NoLevel {
		if w.opts.InferLevelsWithTimestamp {
			line = strings.TrimLeft(line, "0123456789 :/.+-TZ")
		}
		level, line = pickLevel(line)
	}
	if w.opts.ForceLevel != hclog.NoLevel {
		level = w.opts.ForceLevel
	}
	w.h.Log(level, line)
	return len(p), nil
}

func pickLevel(line string) (hclog.Level, string) {
	for _, p := range []struct {
		prefix string
		level  hclog.Level
	}{
		{"[TRACE]", hclog.Trace}, {"[DEBUG]", hclog.Debug}, {"[INFO]", hclog.Info},
		{"[WARN]", hclog.Warn}, {"[ERROR]", hclog.Error}, {"[ERR]", hclog.Error},
	} {
		if rest, ok := strings.CutPrefix(line, p.prefix); ok {
			return p.level, strings.TrimSpace(rest)
		}
	}
	return hclog.Info, line
}
