package audit

import (
	"bufio"
	"bytes"
	"crypto"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// parser checks lines on their own. Its zero value works; a reader keeps
// one for the whole file, with caches.
type parser struct {
	buf     []byte            // scratch for the re-encoded line
	peers   map[string]string // valid peer_id -> peer; nil: no cache
	intern  map[string]string // peer and peer_id strings; nil: no interning
	prevHex string            // the previous entry's hash, reused for prev
}

// parse decodes one line of the file (newline included) and checks it on
// its own: its form, the field rules, and its hash. It returns the entry,
// its raw prev and hash, and why it is not acceptable ("" when it is).
func (p *parser) parse(line []byte) (e Entry, prev, hash [HashSize]byte, reason string) {
	e, reason = decodeLine(line, p)
	if reason == notCanonical && !json.Valid(line) {
		reason = "not a JSON entry"
	}
	if reason != "" {
		return e, prev, hash, reason
	}
	switch {
	case e.Seq == 0:
		return e, prev, hash, "seq is 0"
	case !isHash(e.Prev):
		return e, prev, hash, "prev is not 64 lower-case hex digits"
	case !isHash(e.Hash):
		return e, prev, hash, "hash is not 64 lower-case hex digits"
	}
	if r := checkContent(&e, p.peers); r != "" {
		return e, prev, hash, r
	}
	p.buf = e.appendLine(p.buf[:0])
	if !bytes.Equal(p.buf, line) {
		return e, prev, hash, notCanonical
	}
	_, _ = hex.Decode(prev[:], []byte(e.Prev)) // both checked by isHash above
	_, _ = hex.Decode(hash[:], []byte(e.Hash))
	if e.sum(&prev) != hash {
		return e, prev, hash, "hash does not match the entry's content (altered after it was written)"
	}
	return e, prev, hash, ""
}

// chainReader reads a log file from its start and checks every line and
// link.
type chainReader struct {
	path string
	br   *bufio.Reader
	line int // lines read
	seq  uint64
	prev [HashSize]byte
	last time.Time
	keys map[[HashSize]byte]crypto.PublicKey // nil: anchor signatures are not checked
	p    parser
	torn int64 // bytes of an unfinished last line, set at the end
}

func newChainReader(path string, r io.Reader) *chainReader {
	return &chainReader{path: path, br: bufio.NewReaderSize(r, 1<<20), p: parser{
		buf:    make([]byte, 0, 1024),
		peers:  make(map[string]string),
		intern: make(map[string]string),
	}}
}

func (r *chainReader) broken(format string, args ...any) *Break {
	return &Break{Path: r.path, Line: r.line, Seq: r.seq + 1, Reason: fmt.Sprintf(format, args...)}
}

// next returns the next intact entry. At the end it returns io.EOF, with
// r.torn set when an unfinished line follows the last complete one; at the
// first problem a *Break; on a read error that error.
func (r *chainReader) next() (Entry, error) {
	line, err := r.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		// Longer than any entry: either an unfinished tail (garbage that a
		// crash left, with no newline up to the end) or a broken line.
		n := int64(len(line))
		for errors.Is(err, bufio.ErrBufferFull) {
			line, err = r.br.ReadSlice('\n')
			n += int64(len(line))
		}
		if errors.Is(err, io.EOF) {
			r.torn = n
			return Entry{}, io.EOF
		}
		if err != nil {
			return Entry{}, fmt.Errorf("read %s: %w", r.path, err)
		}
		r.line++
		return Entry{}, r.broken("line has %d bytes, more than any entry (%d)", n, MaxLineBytes)
	}
	if errors.Is(err, io.EOF) {
		r.torn = int64(len(line))
		return Entry{}, io.EOF
	}
	if err != nil {
		return Entry{}, fmt.Errorf("read %s: %w", r.path, err)
	}
	r.line++
	if len(line) > MaxLineBytes {
		return Entry{}, r.broken("line has %d bytes, more than any entry (%d)", len(line), MaxLineBytes)
	}
	e, prev, hash, reason := r.p.parse(line)
	switch {
	case reason != "":
		return e, r.broken("%s", reason)
	case e.Seq != r.seq+1:
		return e, r.broken("seq is %d where %d was expected: an entry is missing, repeated or out of order", e.Seq, r.seq+1)
	case prev != r.prev:
		return e, r.broken("prev is not the hash of the entry before it (an entry was removed, replaced or reordered)")
	case e.Time.Before(r.last):
		return e, r.broken("time %s is before the previous entry's time %s", e.Time.Format(time.RFC3339Nano), r.last.Format(time.RFC3339Nano))
	}
	if e.Kind == KindAnchor && r.keys != nil {
		if reason := checkAnchor(&e, &prev, r.keys); reason != "" {
			return e, r.broken("%s", reason)
		}
	}
	r.seq, r.prev, r.last, r.p.prevHex = e.Seq, hash, e.Time, e.Hash
	return e, nil
}

// Head is a position in a log: an entry's seq and hash.
type Head struct {
	Seq  uint64
	Hash string
}

// VerifyOptions are the optional checks of [VerifyWith].
type VerifyOptions struct {
	// PublicKeys verify anchors: each anchor must be signed by one of them,
	// and its signature must verify. Without keys, anchors are checked like
	// other entries but their signatures are not (Report.AnchorsVerified is
	// false). Each key must be ECDSA on P-256, P-384 or P-521, or Ed25519.
	PublicKeys []crypto.PublicKey
	// Witnesses are heads seen elsewhere: anchors that [Options].OnAnchor
	// passed on, that the node's system log recorded, or that a peer or a
	// backup holds. The log must hold each of them, same seq and hash; a
	// log that ends before one lost its tail.
	Witnesses []Head
	// RequireAnchoredTail makes a log whose last entry is not an anchor (or
	// that has a torn tail) broken. Use it for the log of a node that was
	// shut down cleanly with an anchor signer: [Log.Close] ends the file
	// with an anchor, so whole lines cut off its end show.
	RequireAnchoredTail bool
}

// Report is what [Verify] found.
type Report struct {
	// Path is the file.
	Path string
	// Entries is how many intact entries were read (up to the break, if
	// any); LastSeq is the last one's seq (equal to Entries), Head its hash
	// (ZeroHash when there is none).
	Entries uint64
	LastSeq uint64
	Head    string
	// First and Last are the times of the first and last intact entries.
	First, Last time.Time
	// Anchors counts anchor entries; LastAnchorSeq is the last one's seq
	// and Unanchored how many entries follow it (all of them when there is
	// no anchor). AnchorsVerified says whether their signatures were
	// checked (public keys were given).
	Anchors         int
	LastAnchorSeq   uint64
	Unanchored      uint64
	AnchorsVerified bool
	// TornBytes is the size of an unfinished last line: what a crash in
	// the middle of a write leaves, or a write in progress when the file
	// was read. It held no acknowledged entry; [Open] removes it. It is not
	// a break (unless RequireAnchoredTail).
	TornBytes int64
	// Break is the first broken entry, or nil; Verify returns it as its
	// error too.
	Break *Break
}

// Verify reads the whole log file at path, recomputes every entry's hash
// and checks every link (seq without gaps, prev, times in order, the
// canonical form of every line). It returns a [Report] and, at the first
// broken entry, a [*Break] (matching [ErrBroken]) naming its seq and line;
// the report then covers the entries before it. Other errors are I/O
// errors. It can run while a [Log] appends to the file.
//
// Verify cannot see whole entries cut off the end of the file: the rest is
// a valid log. [VerifyWith] can, with witnesses or an anchored tail.
func Verify(path string) (Report, error) {
	return VerifyWith(path, VerifyOptions{})
}

// VerifyWith is [Verify] with anchor signatures, witnesses and the
// anchored-tail rule checked too (see [VerifyOptions]).
func VerifyWith(path string, opts VerifyOptions) (Report, error) {
	rep := Report{Path: path, Head: ZeroHash}
	f, err := os.Open(path)
	if err != nil {
		return rep, fmt.Errorf("verify audit log: %w", err)
	}
	defer f.Close()
	r := newChainReader(path, f)
	if len(opts.PublicKeys) > 0 {
		r.keys = make(map[[HashSize]byte]crypto.PublicKey, len(opts.PublicKeys))
		for _, pub := range opts.PublicKeys {
			id, err := keyID(pub)
			if err != nil {
				return rep, fmt.Errorf("verify audit log: %w", err)
			}
			r.keys[id] = pub
		}
		rep.AnchorsVerified = true
	}
	witness := make(map[uint64]string, len(opts.Witnesses))
	for _, w := range opts.Witnesses {
		witness[w.Seq] = w.Hash
	}
	fail := func(b *Break) (Report, error) {
		rep.Break = b
		return rep, b
	}
	var lastKind Kind
	for {
		e, err := r.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if b, ok := errors.AsType[*Break](err); ok {
			return fail(b)
		}
		if err != nil {
			return rep, err
		}
		if h, ok := witness[e.Seq]; ok && h != e.Hash {
			return fail(r.brokenAt(e.Seq, "hash is not the witnessed %s: the log was rewritten", h))
		}
		if rep.Entries == 0 {
			rep.First = e.Time
		}
		rep.Entries++
		rep.LastSeq, rep.Head, rep.Last = e.Seq, e.Hash, e.Time
		rep.Unanchored++
		if e.Kind == KindAnchor {
			rep.Anchors++
			rep.LastAnchorSeq, rep.Unanchored = e.Seq, 0
		}
		lastKind = e.Kind
	}
	rep.TornBytes = r.torn
	r.line++ // the line after the last one
	for _, w := range opts.Witnesses {
		if w.Seq > rep.LastSeq {
			return fail(r.broken("the log ends at entry %d, but entry %d (%s) was witnessed: entries were cut off its end", rep.LastSeq, w.Seq, w.Hash))
		}
	}
	if opts.RequireAnchoredTail {
		switch {
		case rep.TornBytes > 0:
			return fail(r.broken("the log ends with an unfinished line of %d bytes, not an anchor", rep.TornBytes))
		case lastKind != KindAnchor:
			return fail(r.broken("the log does not end with an anchor (%d entries after the last one): cut off its end, or not closed cleanly", rep.Unanchored))
		}
	}
	return rep, nil
}

// brokenAt is a break at the current line for the entry seq (already
// read).
func (r *chainReader) brokenAt(seq uint64, format string, args ...any) *Break {
	return &Break{Path: r.path, Line: r.line, Seq: seq, Reason: fmt.Sprintf(format, args...)}
}

// Filter selects entries for [Scan]. Zero fields select everything.
type Filter struct {
	// Peer keeps the entries of this member code.
	Peer string
	// Kind keeps the entries of this kind.
	Kind Kind
	// Since keeps entries at or after it; Until entries before it.
	Since, Until time.Time
	// Limit stops after this many entries passed to fn.
	Limit int
}

func (f *Filter) match(e *Entry) bool {
	return (f.Peer == "" || e.Peer == f.Peer) &&
		(f.Kind == 0 || e.Kind == f.Kind) &&
		(f.Since.IsZero() || !e.Time.Before(f.Since))
}

// Scan reads the log file at path in order and calls fn with every entry
// that f selects, until fn returns an error (which Scan returns as it is),
// f.Limit entries were passed, or an entry at or after f.Until is reached
// (entries are in time order). It checks every line and link it reads, like
// [Verify], and returns a [*Break] at the first broken one: fn has then
// seen only entries before it. An unfinished last line is ignored. It can
// run while a [Log] appends to the file.
func Scan(path string, f Filter, fn func(Entry) error) error {
	file, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("scan audit log: %w", err)
	}
	defer file.Close()
	r := newChainReader(path, file)
	n := 0
	for f.Limit <= 0 || n < f.Limit {
		e, err := r.next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if !f.Until.IsZero() && !e.Time.Before(f.Until) {
			return nil
		}
		if !f.match(&e) {
			continue
		}
		if err := fn(e); err != nil {
			return err
		}
		n++
	}
	return nil
}
