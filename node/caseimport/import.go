package caseimport

import (
	"bufio"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/accordfed/accord/federation/records"
	"github.com/accordfed/accord/node/caseformat"
	"github.com/accordfed/accord/node/store"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// Line is one line of input. JSON must not be reused by the caller after
// it was handed over. TooLong marks a line the source could not read because
// it exceeds caseformat.MaxLineBytes: it counts as invalid.
type Line struct {
	Number  int64
	JSON    []byte
	TooLong bool
}

// Phase is what an import is doing.
type Phase int

// The phases of an import.
const (
	Validating Phase = iota + 1
	Writing
)

// Progress reports how far an import is.
type Progress struct {
	Phase          Phase
	LinesValidated int64
	CasesWritten   int64
	CasesTotal     int64
}

// Options tune an import.
type Options struct {
	// SkipInvalid imports the valid lines even when some are invalid.
	SkipInvalid bool
	// DryRun validates, and counts the cases an import would create,
	// update or leave unchanged; it writes nothing.
	DryRun bool
	// Member is the node's member code; every case must be its.
	Member string
	// Actor is who imports (and signs the custody events of new evidence).
	Actor store.Actor
	// SpoolDir holds the temporary file of validated cases (the node's data
	// folder; default os.TempDir()).
	SpoolDir string
	// BatchSize is the number of cases per transaction (default 10,000).
	BatchSize int
	// Workers parse lines in parallel (default GOMAXPROCS).
	Workers int
	// MaxErrors is how many line errors are kept for the result (default
	// 1000); all are counted.
	MaxErrors int
	// MaxBufferedBytes bounds the input this import holds in memory while
	// it validates (default DefaultMaxBufferedBytes; at least
	// MinBufferedBytes): lines are grouped by bytes as well as by count,
	// and reading waits while the groups in flight hold this much.
	MaxBufferedBytes int64
	// Gauge, when set, counts the bytes of input the import holds (one
	// Gauge may count many imports).
	Gauge *Gauge
	// Progress, when set, is called about every ProgressEvery.
	Progress      func(Progress)
	ProgressEvery time.Duration
}

// Result is the outcome of an import.
type Result struct {
	Lines, Valid, Invalid       int64
	Created, Updated, Unchanged int64
	Errors                      []caseformat.FieldError
	// Groups are all the errors (not only the first MaxErrors), grouped by
	// field and reason, in the order of their first line.
	Groups  []ErrorGroup
	Written bool
	// Withheld counts, by shared field, the words that are blanked when
	// the valid cases are shared (names of the case's persons in any
	// form, birth years; records.Project), federation and jit cases only.
	Withheld map[string]int64
	// DefaultNational counts the valid lines without a sensitivity: they
	// are national (caseformat.DefaultSensitivity), shared with nobody.
	DefaultNational int64
}

// ErrAborted is returned when the import was cancelled or its source failed
// before the end; nothing of phase one has been written.
var ErrAborted = errors.New("import aborted")

// ErrLineTooLong is wrapped (with ErrAborted) when the source hands over a
// line of more than caseformat.MaxLineBytes without marking it TooLong:
// nothing is imported (codes.InvalidArgument).
var ErrLineTooLong = errors.New("line too long")

// Bounds of the memory an import holds.
const (
	// chunkLines and chunkBytes: a group of lines parsed by one worker
	// closes at this many lines or bytes, whichever comes first.
	chunkLines = 256
	chunkBytes = 1 << 20
	// maxChunkBytes is the most one group can hold (it closes at the line
	// that reaches chunkBytes, which may be a whole line long).
	maxChunkBytes = chunkBytes + caseformat.MaxLineBytes
	// MinBufferedBytes is the smallest Options.MaxBufferedBytes: two
	// groups.
	MinBufferedBytes = 2 * maxChunkBytes
	// DefaultMaxBufferedBytes is the default Options.MaxBufferedBytes.
	DefaultMaxBufferedBytes = 16 << 20
)

// Gauge counts the bytes of input that imports hold, and the most they
// held at once. It is safe for concurrent use.
type Gauge struct {
	cur, peak atomic.Int64
}

func (g *Gauge) add(n int64) {
	if g == nil {
		return
	}
	v := g.cur.Add(n)
	for p := g.peak.Load(); v > p && !g.peak.CompareAndSwap(p, v); p = g.peak.Load() {
	}
}

// holding counts one import's bytes on its Gauge; after close (the import
// returned, its reader may still hand over a line) it counts nothing.
type holding struct {
	mu     sync.Mutex
	gauge  *Gauge
	held   int64
	closed bool
}

func (h *holding) add(n int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.closed {
		h.held += n
		h.gauge.add(n)
	}
}

func (h *holding) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	h.gauge.add(-h.held)
	h.held = 0
}

// Bytes returns the bytes held now.
func (g *Gauge) Bytes() int64 { return g.cur.Load() }

// Peak returns the most bytes held at once.
func (g *Gauge) Peak() int64 { return g.peak.Load() }

// Run imports the lines that next returns until it returns io.EOF.
func Run(ctx context.Context, next func() (Line, error), st *store.Store, opts Options) (Result, error) {
	if opts.BatchSize <= 0 {
		opts.BatchSize = 10000
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	if opts.MaxErrors <= 0 {
		opts.MaxErrors = 1000
	}
	if opts.MaxBufferedBytes <= 0 {
		opts.MaxBufferedBytes = DefaultMaxBufferedBytes
	}
	opts.MaxBufferedBytes = max(opts.MaxBufferedBytes, MinBufferedBytes)
	if opts.ProgressEvery <= 0 {
		opts.ProgressEvery = 250 * time.Millisecond
	}
	if opts.SpoolDir == "" {
		opts.SpoolDir = os.TempDir()
	}
	spool, err := os.CreateTemp(opts.SpoolDir, ".import-*.spool")
	if err != nil {
		return Result{}, fmt.Errorf("import: spool: %w", err)
	}
	defer func() {
		spool.Close()
		os.Remove(spool.Name())
	}()

	var res Result
	rep := newReporter(opts)
	var order []spooled
	var groups grouper
	err = validate(ctx, next, st, spool, &order, opts, &res, &groups, rep)
	res.Groups = groups.result()
	if err != nil {
		return res, err
	}
	if (res.Invalid > 0 && !opts.SkipInvalid) || res.Valid == 0 {
		rep.final(Progress{Phase: Validating, LinesValidated: res.Lines})
		return res, nil
	}
	// Write in case-id order: case ids, evidence ids and most index keys
	// end up next to each other, so that a batch touches a few pages of
	// each index instead of rewriting pages all over it. Stable, so that of
	// two lines with one case id the later still wins.
	slices.SortStableFunc(order, func(a, b spooled) int { return strings.Compare(a.caseID, b.caseID) })
	err = write(ctx, spool, order, st, opts, &res, rep)
	return res, err
}

type chunk struct {
	index int
	lines []Line
	bytes int64    // of the lines' JSON, counted until the chunk is spooled
	cases []parsed // valid cases, in line order
	errs  []caseformat.FieldError
	bad   int64
	// withheld counts the words blanked when the chunk's cases are shared.
	withheld map[string]int64
	// national counts the valid cases that are national by default.
	national int64
}

// parsed is a valid line: the marshalled case, and what the collector needs
// to check lines against each other.
type parsed struct {
	line     int64
	caseID   string
	evidence []string
	data     []byte
}

// validate runs phase one: parse lines on all workers, spool valid cases in
// input order.
func validate(ctx context.Context, next func() (Line, error), st *store.Store, spool *os.File, order *[]spooled, opts Options, res *Result, groups *grouper, rep *reporter) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	in := make(chan *chunk, opts.Workers*2)
	out := make(chan *chunk, opts.Workers*2)
	var wg sync.WaitGroup
	for range opts.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ch := range in {
				for _, l := range ch.lines {
					if l.TooLong {
						ch.bad++
						ch.errs = append(ch.errs, caseformat.FieldError{Line: l.Number, Reason: fmt.Sprintf("line is longer than 1 MiB (%d bytes)", caseformat.MaxLineBytes)})
						continue
					}
					c, defaulted, errs := caseformat.ParseDefaulted(l.JSON, l.Number, opts.Member)
					if len(errs) == 0 {
						conflicts, err := st.CheckCase(c)
						if err != nil {
							errs = append(errs, caseformat.FieldError{Line: l.Number, CaseID: c.GetCaseId(), Reason: "cannot check against the store: " + err.Error()})
						}
						for _, cf := range conflicts {
							errs = append(errs, caseformat.FieldError{Line: l.Number, CaseID: c.GetCaseId(), Field: cf.Field, Reason: cf.Reason})
						}
					}
					if len(errs) > 0 {
						ch.bad++
						ch.errs = append(ch.errs, errs...)
						continue
					}
					countWithheld(ch, c)
					if defaulted.Sensitivity {
						ch.national++
					}
					b, err := proto.Marshal(c)
					if err != nil {
						ch.bad++
						ch.errs = append(ch.errs, caseformat.FieldError{Line: l.Number, Reason: "cannot encode: " + err.Error()})
						continue
					}
					// Clone: the parsed strings share the line's memory, which
					// the spool order must not keep alive.
					p := parsed{line: l.Number, caseID: strings.Clone(c.GetCaseId()), data: b}
					for _, e := range c.GetEvidence() {
						p.evidence = append(p.evidence, strings.Clone(e.GetId()))
					}
					ch.cases = append(ch.cases, p)
				}
				ch.lines = nil
				select {
				case out <- ch:
				case <-ctx.Done():
					return
				}
			}
		}()
	}

	// slots bounds the chunks in flight (read and not yet spooled), so
	// that the import holds at most opts.MaxBufferedBytes of input.
	slots := make(chan struct{}, opts.MaxBufferedBytes/maxChunkBytes)
	held := &holding{gauge: opts.Gauge}
	defer held.close()
	readErr := make(chan error, 1)
	go func() {
		defer close(in)
		idx := 0
		cur := &chunk{index: idx}
		send := func() bool {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return false
			}
			select {
			case in <- cur:
				idx++
				cur = &chunk{index: idx}
				return true
			case <-ctx.Done():
				return false
			}
		}
		for {
			l, err := next()
			if errors.Is(err, io.EOF) {
				if len(cur.lines) > 0 {
					send()
				}
				readErr <- nil
				return
			}
			if err != nil {
				readErr <- err
				return
			}
			if !l.TooLong && len(l.JSON) > caseformat.MaxLineBytes {
				readErr <- fmt.Errorf("%w: lines[].json: line %d has %d bytes, more than the %d bytes (1 MiB) a line may hold; send it marked too_long", ErrLineTooLong, l.Number, len(l.JSON), caseformat.MaxLineBytes)
				return
			}
			n := int64(len(l.JSON))
			cur.lines = append(cur.lines, l)
			cur.bytes += n
			held.add(n)
			if (len(cur.lines) == chunkLines || cur.bytes >= chunkBytes) && !send() {
				readErr <- ctx.Err()
				return
			}
		}
	}()
	go func() { wg.Wait(); close(out) }()

	w := bufio.NewWriterSize(spool, 1<<20)
	var off int64
	owners := map[uint64]uint64{} // hash of an evidence id -> hash of the case id that has it in this input
	pending := map[int]*chunk{}
	want := 0
	var lenBuf [binary.MaxVarintLen64]byte
	for ch := range out {
		pending[ch.index] = ch
		for {
			c, ok := pending[want]
			if !ok {
				break
			}
			delete(pending, want)
			want++
			<-slots
			held.add(-c.bytes)
			good := c.cases[:0]
			for _, p := range c.cases {
				if e := claimEvidence(owners, p); e != nil {
					c.bad++
					c.errs = append(c.errs, *e)
					continue
				}
				good = append(good, p)
			}
			c.cases = good
			slices.SortFunc(c.errs, func(a, b caseformat.FieldError) int { return cmp.Compare(a.Line, b.Line) })
			for field, n := range c.withheld {
				if res.Withheld == nil {
					res.Withheld = map[string]int64{}
				}
				res.Withheld[field] += n
			}
			res.Lines += int64(len(c.cases)) + c.bad
			res.DefaultNational += c.national
			res.Valid += int64(len(c.cases))
			res.Invalid += c.bad
			for _, e := range c.errs {
				if len(res.Errors) < opts.MaxErrors {
					res.Errors = append(res.Errors, e)
				}
				groups.add(e)
			}
			for _, p := range c.cases {
				b := p.data
				n := binary.PutUvarint(lenBuf[:], uint64(len(b)))
				if _, err := w.Write(lenBuf[:n]); err != nil {
					cancel()
					return fmt.Errorf("import: spool: %w", err)
				}
				if _, err := w.Write(b); err != nil {
					cancel()
					return fmt.Errorf("import: spool: %w", err)
				}
				*order = append(*order, spooled{caseID: p.caseID, off: off + int64(n), size: len(b)})
				off += int64(n + len(b))
			}
			rep.maybe(Progress{Phase: Validating, LinesValidated: res.Lines})
		}
	}
	if err := <-readErr; err != nil {
		return fmt.Errorf("%w: reading lines: %w", ErrAborted, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrAborted, err)
	}
	return w.Flush()
}

// countWithheld adds to the chunk what sharing a valid case would blank
// (against the case's own persons; the publisher also checks against every
// person of the office).
func countWithheld(ch *chunk, c *accordv1.Case) {
	if !records.Shareable(c) {
		return
	}
	_, w, err := records.Project(c, nil, nil)
	if err != nil {
		return // no encoder: Project cannot fail
	}
	for field, n := range w.Fields {
		if ch.withheld == nil {
			ch.withheld = map[string]int64{}
		}
		ch.withheld[field] += int64(n)
	}
}

// claimEvidence records that a line's case holds its evidence ids, and
// refuses the line when another case of the input claimed one of them first
// (the store would refuse it half-way through the writing phase). Ids are
// kept as 64-bit hashes to bound memory on million-line inputs; a collision
// merely reports a false conflict, with both ids named.
func claimEvidence(owners map[uint64]uint64, p parsed) *caseformat.FieldError {
	caseKey := maphash.String(seed, p.caseID)
	for i, id := range p.evidence {
		k := maphash.String(seed, id)
		if owner, ok := owners[k]; ok && owner != caseKey {
			return &caseformat.FieldError{Line: p.line, CaseID: p.caseID, Field: fmt.Sprintf("evidence[%d].id", i),
				Reason: fmt.Sprintf("%s is also used by another case earlier in this input", id)}
		}
	}
	for _, id := range p.evidence {
		owners[maphash.String(seed, id)] = caseKey
	}
	return nil
}

var seed = maphash.MakeSeed()

// spooled locates a valid case in the spool file.
type spooled struct {
	caseID string
	off    int64
	size   int
}

// write runs phase two: store the spooled cases in batches, in the given
// order. One goroutine reads and prepares the next batch (on every core)
// while the store writes the current one.
func write(ctx context.Context, spool *os.File, order []spooled, st *store.Store, opts Options, res *Result, rep *reporter) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type batch struct {
		prepared []*store.Prepared
		err      error
	}
	batches := make(chan batch, 1)
	go func() {
		defer close(batches)
		buf := make([]byte, 0, 64<<10)
		cases := make([]*accordv1.Case, 0, opts.BatchSize)
		send := func() bool {
			b := batch{prepared: st.Prepare(cases, opts.Actor)}
			cases = make([]*accordv1.Case, 0, opts.BatchSize)
			select {
			case batches <- b:
				return true
			case <-ctx.Done():
				return false
			}
		}
		for i, e := range order {
			if cap(buf) < e.size {
				buf = make([]byte, e.size)
			}
			buf = buf[:e.size]
			if _, err := spool.ReadAt(buf, e.off); err != nil {
				batches <- batch{err: fmt.Errorf("import: spool: %w", err)}
				return
			}
			c := &accordv1.Case{}
			if err := proto.Unmarshal(buf, c); err != nil {
				batches <- batch{err: fmt.Errorf("import: spool: %w", err)}
				return
			}
			cases = append(cases, c)
			// Lines of one case id stay in one batch, so that a dry run,
			// whose batches do not see each other's writes, counts the
			// later ones as updates.
			if len(cases) >= opts.BatchSize && (i+1 == len(order) || order[i+1].caseID != e.caseID) && !send() {
				return
			}
		}
		if len(cases) > 0 {
			send()
		}
	}()

	var written int64
	total := int64(len(order))
	defer func() {
		if written < total && written > 0 && !opts.DryRun {
			// Stopped early after batches that did not write the freelist.
			_ = st.SyncFreelist()
		}
	}()
	for b := range batches {
		if b.err != nil {
			return b.err
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("%w after %d cases were written: %w", ErrAborted, written, err)
		}
		var n store.ImportCounts
		var err error
		if opts.DryRun {
			if n, err = st.DryRunPrepared(b.prepared, opts.Actor); err != nil {
				return fmt.Errorf("import (dry run): %w", err)
			}
		} else {
			more := written+int64(len(b.prepared)) < total
			if n, err = st.ImportPrepared(b.prepared, opts.Actor, more); err != nil {
				return fmt.Errorf("import: writing cases (%d written before): %w", written, err)
			}
			// Keep the node's resident memory to what the next batch
			// touches.
			_ = st.Trim()
			res.Written = true
		}
		res.Created += int64(n.Created)
		res.Updated += int64(n.Updated)
		res.Unchanged += int64(n.Unchanged)
		written += int64(len(b.prepared))
		rep.maybe(Progress{Phase: Writing, CasesWritten: written, CasesTotal: res.Valid})
	}
	rep.final(Progress{Phase: Writing, CasesWritten: written, CasesTotal: res.Valid})
	return nil
}

// reporter rate-limits progress callbacks.
type reporter struct {
	fn    func(Progress)
	every time.Duration
	last  time.Time
}

func newReporter(opts Options) *reporter {
	return &reporter{fn: opts.Progress, every: opts.ProgressEvery}
}

func (r *reporter) maybe(p Progress) {
	if r.fn == nil {
		return
	}
	if now := time.Now(); now.Sub(r.last) >= r.every {
		r.last = now
		r.fn(p)
	}
}

func (r *reporter) final(p Progress) {
	if r.fn != nil {
		r.fn(p)
	}
}

// FromReader returns a line source over r in the interchange format (see
// caseformat.Reader): each line's bytes are copied, and a line that is too
// long is handed on as TooLong.
func FromReader(r io.Reader) func() (Line, error) {
	rd := caseformat.NewReader(r)
	return func() (Line, error) {
		b, n, err := rd.Next()
		var fe caseformat.FieldError
		if errors.As(err, &fe) {
			return Line{Number: n, TooLong: true}, nil
		}
		if err != nil {
			return Line{}, err
		}
		return Line{Number: n, JSON: append([]byte(nil), b...)}, nil
	}
}
