package audit

import (
	"bytes"
	"crypto"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Options tune [OpenWith].
type Options struct {
	// Now is the clock; nil means time.Now. Times are stored in UTC and
	// never go backwards along the log: when the clock steps back, entries
	// get the previous entry's time.
	Now func() time.Time
	// Signer, when set, makes the log write signed anchors (see the package
	// documentation), normally with the private key of the node's TLS
	// certificate. ECDSA on P-256, P-384 or P-521, or Ed25519.
	Signer crypto.Signer
	// AnchorEvery is how many entries may follow the last anchor before
	// the next batch ends with a new one (default 1000).
	AnchorEvery int
	// AnchorInterval, when positive, also ends a batch with an anchor when
	// the last anchor is older than this (the log writes nothing when
	// nothing is appended).
	AnchorInterval time.Duration
	// OnAnchor is called with each anchor once it is on disk, from the
	// log's writer: hand it to a witness (a peer, a separate store). It
	// must not call the Log. Anchors are logged at Info level too.
	OnAnchor func(Entry)
}

// DefaultAnchorEvery is the default of Options.AnchorEvery.
const DefaultAnchorEvery = 1000

// maxPending bounds the appends waiting for the writer.
const maxPending = 1024

// Log is a node's open audit log. Append is safe for concurrent use.
type Log struct {
	path     string
	file     *os.File
	logger   *slog.Logger
	now      func() time.Time
	signer   *signer
	every    int
	interval time.Duration
	onAnchor func(Entry)

	reqs     chan *request
	finished chan struct{} // closed when the writer has stopped

	closeMu sync.RWMutex
	closed  bool

	headMu sync.Mutex
	seq    uint64
	head   [HashSize]byte

	// Owned by the writer (and by Close once it has stopped).
	size        int64
	last        time.Time
	sinceAnchor int
	lastAnchor  time.Time
	failed      error
	buf         []byte
}

type request struct {
	entries []Entry
	done    chan error
}

// Open opens or creates the audit log <dir>/audit.log with default
// [Options]: no anchors. logger may be nil (discard).
func Open(dir string, logger *slog.Logger) (*Log, error) {
	return OpenWith(dir, logger, Options{})
}

// OpenWith opens or creates the audit log <dir>/audit.log (the directory
// too, mode 0700; the file mode 0600) and locks it: a second open, by this
// process or another, fails with [ErrLocked] until [Log.Close].
//
// It reads the tail of the file, not all of it, to continue the chain: the
// last complete line must be an intact entry whose prev is the hash of the
// line before it. An unfinished last line (a crash in the middle of a
// write; it held no acknowledged entry) is cut off, with a warning. Any
// other damage fails with [ErrCorrupt] naming the line; run [Verify].
func OpenWith(dir string, logger *slog.Logger, opts Options) (*Log, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	l := &Log{
		path:     filepath.Join(dir, FileName),
		logger:   logger,
		now:      opts.Now,
		every:    opts.AnchorEvery,
		interval: opts.AnchorInterval,
		onAnchor: opts.OnAnchor,
		reqs:     make(chan *request, maxPending),
		finished: make(chan struct{}),
	}
	if l.now == nil {
		l.now = time.Now
	}
	if l.every <= 0 {
		l.every = DefaultAnchorEvery
	}
	if opts.Signer != nil {
		s, err := newSigner(opts.Signer)
		if err != nil {
			return nil, fmt.Errorf("open audit log: %w", err)
		}
		l.signer = s
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open audit log: %w", err)
	}
	f, err := os.OpenFile(l.path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open audit log: %w", err)
	}
	if err := lock(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("open audit log: %w", err)
	}
	l.file = f
	if err := l.recover(); err != nil {
		f.Close()
		return nil, err
	}
	// Make the file's name durable when it was just created.
	if d, err := os.Open(dir); err == nil {
		if err := d.Sync(); err != nil {
			logger.Warn("could not sync the audit log's directory", "dir", dir, "err", err)
		}
		d.Close()
	}
	go l.run()
	return l, nil
}

// recover reads the tail of the file: it cuts off an unfinished last line
// and takes the chain's head from the last complete one.
func (l *Log) recover() error {
	st, err := l.file.Stat()
	if err != nil {
		return fmt.Errorf("open audit log: %w", err)
	}
	size := st.Size()
	end, err := lastNewline(l.file, size, size)
	if err != nil {
		return fmt.Errorf("open audit log %s: %w", l.path, err)
	}
	if torn := size - end; torn > 0 {
		line, err := lineAt(l.file, end)
		if err != nil {
			return fmt.Errorf("open audit log %s: %w", l.path, err)
		}
		l.logger.Warn("audit log ended with an unfinished line (a crash in the middle of a write); cutting it off",
			"path", l.path, "line", line, "bytes", torn)
		if err := l.file.Truncate(end); err != nil {
			return fmt.Errorf("open audit log %s: cut off the unfinished last line: %w", l.path, err)
		}
		if err := l.file.Sync(); err != nil {
			return fmt.Errorf("open audit log %s: %w", l.path, err)
		}
	}
	l.size = end
	if end == 0 {
		return nil
	}
	last, lastStart, err := l.readLineBefore(end)
	if err != nil {
		return err
	}
	e, prev, hash, reason := new(parser).parse(last)
	if reason != "" {
		return l.corrupt(lastStart, reason)
	}
	switch {
	case lastStart == 0 && e.Seq != 1:
		return l.corrupt(lastStart, fmt.Sprintf("the first entry has seq %d, not 1", e.Seq))
	case lastStart == 0 && prev != zeroHash:
		return l.corrupt(lastStart, "the first entry's prev is not zero")
	case lastStart > 0:
		before, beforeStart, err := l.readLineBefore(lastStart)
		if err != nil {
			return err
		}
		pe, _, phash, reason := new(parser).parse(before)
		switch {
		case reason != "":
			return l.corrupt(beforeStart, reason)
		case pe.Seq+1 != e.Seq:
			return l.corrupt(lastStart, fmt.Sprintf("seq is %d, but the line before has seq %d", e.Seq, pe.Seq))
		case phash != prev:
			return l.corrupt(lastStart, "prev is not the hash of the line before")
		}
	}
	l.seq, l.head, l.last = e.Seq, hash, e.Time
	if e.Kind == KindAnchor {
		l.lastAnchor = e.Time
	} else {
		// Anchor with the next batch (when there is a signer).
		l.sinceAnchor = l.every
	}
	return nil
}

// corrupt is ErrCorrupt naming the line that starts at off.
func (l *Log) corrupt(off int64, reason string) error {
	line, err := lineAt(l.file, off)
	if err != nil {
		return fmt.Errorf("%w: %s at byte %d: %s", ErrCorrupt, l.path, off, reason)
	}
	return fmt.Errorf("%w: %s line %d: %s (run audit verification for the whole file)", ErrCorrupt, l.path, line, reason)
}

// readLineBefore returns the complete line that ends (newline included) at
// end, and its offset.
func (l *Log) readLineBefore(end int64) ([]byte, int64, error) {
	start, err := lastNewline(l.file, end-1, MaxLineBytes)
	if err != nil {
		return nil, 0, fmt.Errorf("open audit log %s: %w", l.path, err)
	}
	if end-start > MaxLineBytes {
		return nil, 0, l.corrupt(start, fmt.Sprintf("line is longer than any entry (%d bytes)", MaxLineBytes))
	}
	b := make([]byte, end-start)
	if _, err := l.file.ReadAt(b, start); err != nil {
		return nil, 0, fmt.Errorf("open audit log %s: %w", l.path, err)
	}
	return b, start, nil
}

// lastNewline returns the offset just after the last '\n' in [0, end) of
// f, looking back at most limit+1 bytes (0 when there is none in range, or
// end-limit-1 when none was found within the limit).
func lastNewline(f *os.File, end, limit int64) (int64, error) {
	const chunk = 64 << 10
	buf := make([]byte, chunk)
	floor := max(0, end-limit-1)
	for pos := end; pos > floor; {
		n := min(int64(chunk), pos-floor)
		pos -= n
		if _, err := f.ReadAt(buf[:n], pos); err != nil {
			return 0, err
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			return pos + int64(i) + 1, nil
		}
	}
	return floor, nil
}

// lineAt returns the line number (from 1) of the line that starts at off.
func lineAt(f *os.File, off int64) (int, error) {
	r := io.NewSectionReader(f, 0, off)
	buf := make([]byte, 1<<20)
	line := 1
	for {
		n, err := r.Read(buf)
		line += bytes.Count(buf[:n], []byte{'\n'})
		if err == io.EOF {
			return line, nil
		}
		if err != nil {
			return 0, err
		}
	}
}

// Path returns the log's file.
func (l *Log) Path() string { return l.path }

// Head returns the seq and hash (hex) of the last entry on disk: (0,
// ZeroHash) for an empty log. Give it to a witness to anchor the log.
func (l *Log) Head() (uint64, string) {
	l.headMu.Lock()
	defer l.headMu.Unlock()
	return l.seq, hex.EncodeToString(l.head[:])
}

// Append writes entries at the end of the log, in order, and returns them
// with Seq, Time, Prev and Hash assigned (whatever they held is ignored);
// case ids beyond [MaxCaseIDs] are dropped and counted in What.MoreCases.
// It returns once the entries are written and fsynced. Appends from many
// goroutines are grouped: the log's writer writes every append waiting for
// it with one write and one fsync, so the entries of one call are
// consecutive and a sync stream costs one fsync per batch, not per record.
//
// Every entry is checked first; when one is not acceptable, nothing is
// written and the error wraps [ErrInvalid], naming the entry's index and
// the field. After [Log.Close] it returns [ErrClosed]; after a failed
// write, [ErrWriteFailed].
func (l *Log) Append(entries ...Entry) ([]Entry, error) {
	if len(entries) == 0 {
		return nil, nil
	}
	out := make([]Entry, len(entries))
	for i, e := range entries {
		e, reason := prepare(e)
		if reason != "" {
			return nil, fmt.Errorf("%w: entry %d: %s", ErrInvalid, i, reason)
		}
		out[i] = e
	}
	req := &request{entries: out, done: make(chan error, 1)}
	l.closeMu.RLock()
	if l.closed {
		l.closeMu.RUnlock()
		return nil, ErrClosed
	}
	l.reqs <- req
	l.closeMu.RUnlock()
	if err := <-req.done; err != nil {
		return nil, err
	}
	return out, nil
}

// run is the writer: it takes every append waiting and commits them
// together.
func (l *Log) run() {
	defer close(l.finished)
	var batch []*request
	for req := range l.reqs {
		batch = append(batch[:0], req)
	drain:
		for len(batch) < maxPending {
			select {
			case r, ok := <-l.reqs:
				if !ok {
					break drain
				}
				batch = append(batch, r)
			default:
				break drain
			}
		}
		err := l.commit(batch, false)
		for i, r := range batch {
			r.done <- err
			batch[i] = nil
		}
	}
}

// commit writes the entries of batch (and an anchor when one is due, or
// when final and entries follow the last anchor) with one write and one
// fsync, and moves the head.
func (l *Log) commit(batch []*request, final bool) error {
	if l.failed != nil {
		return fmt.Errorf("%w: an earlier write failed (%w); close and reopen the log", ErrWriteFailed, l.failed)
	}
	now := l.now().UTC()
	if now.Before(l.last) {
		now = l.last
	}
	seq, prev := l.seq, l.head
	buf := l.buf[:0]
	n := 0
	for _, r := range batch {
		for i := range r.entries {
			e := &r.entries[i]
			seq++
			e.Seq, e.Time, e.Prev = seq, now, hex.EncodeToString(prev[:])
			prev = e.sum(&prev)
			e.Hash = hex.EncodeToString(prev[:])
			buf = e.appendLine(buf)
			n++
		}
	}
	since := l.sinceAnchor + n
	var anchor *Entry
	if l.signer != nil && since > 0 &&
		(final || since >= l.every || (l.interval > 0 && now.Sub(l.lastAnchor) >= l.interval)) {
		a, sum, err := l.signer.anchor(seq+1, now, &prev)
		if err != nil {
			// The entries matter more than the anchor: write them, and
			// try again with the next batch.
			l.logger.Error("could not sign an audit anchor; will retry with the next batch", "err", err)
		} else {
			seq, prev, anchor = seq+1, sum, &a
			buf = a.appendLine(buf)
		}
	}
	if len(buf) == 0 {
		return nil
	}
	if err := l.write(buf); err != nil {
		l.failed = err
		l.logger.Error("audit log write failed; appends are refused until it is reopened", "path", l.path, "err", err)
		return fmt.Errorf("%w: %s: %w", ErrWriteFailed, l.path, err)
	}
	if cap(buf) <= 1<<20 {
		l.buf = buf[:0]
	}
	l.size += int64(len(buf))
	l.last = now
	l.headMu.Lock()
	l.seq, l.head = seq, prev
	l.headMu.Unlock()
	l.sinceAnchor = since
	if anchor != nil {
		l.sinceAnchor, l.lastAnchor = 0, now
		l.logger.Info("audit anchor", "seq", anchor.Seq, "hash", anchor.Hash, "key", anchor.Key)
		if l.onAnchor != nil {
			l.onAnchor(*anchor)
		}
	}
	return nil
}

// write appends buf and fsyncs. On error it tries to cut the file back to
// its previous size, so that a reopen finds the chain as it was.
func (l *Log) write(buf []byte) error {
	_, err := l.file.Write(buf)
	if err == nil {
		err = l.file.Sync()
		if err == nil {
			return nil
		}
	}
	if terr := l.file.Truncate(l.size); terr != nil {
		l.logger.Error("could not cut the audit log back after a failed write", "path", l.path, "err", terr)
	}
	return err
}

// Close stops the log: it waits for appends in progress, writes a final
// anchor when a signer is set and entries follow the last anchor, and
// releases the file and its lock. Later appends return [ErrClosed]; a
// second Close does nothing.
func (l *Log) Close() error {
	l.closeMu.Lock()
	if l.closed {
		l.closeMu.Unlock()
		return nil
	}
	l.closed = true
	close(l.reqs)
	l.closeMu.Unlock()
	<-l.finished
	var err error
	if l.signer != nil && l.failed == nil {
		err = l.commit(nil, true)
	}
	if uerr := unlock(l.file); uerr != nil && err == nil {
		err = fmt.Errorf("close audit log %s: %w", l.path, uerr)
	}
	if cerr := l.file.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("close audit log %s: %w", l.path, cerr)
	}
	return err
}
