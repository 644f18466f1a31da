package caseformat

import (
	"bufio"
	"errors"
	"io"
	"strconv"
)

// MaxLineBytes is the length of the longest line Reader returns, without its
// line ending: 1 MiB.
const MaxLineBytes = 1 << 20

var bom = []byte{0xEF, 0xBB, 0xBF}

// Reader splits the format's input into numbered lines. Lines end with LF or
// CRLF (the last may have no ending); a UTF-8 byte order mark at the start of
// the first line is dropped; lines that are empty or hold only spaces and
// tabs are skipped but counted.
type Reader struct {
	br   *bufio.Reader
	line int64
	buf  []byte
	err  error
}

// NewReader returns a Reader that reads from r.
func NewReader(r io.Reader) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, 64<<10)}
}

// Next returns the next line that is not blank, without its line ending,
// and its number (from 1). The bytes are valid until the next call. At the
// end of the input it returns io.EOF.
//
// A line longer than MaxLineBytes is returned as a FieldError ("line is
// longer than 1 MiB", wrapping ErrInvalid) with its number and no bytes; the
// line is read over and the next call goes on after it. Any other error is
// the source's and ends the reading.
func (r *Reader) Next() ([]byte, int64, error) {
	for {
		if r.err != nil {
			return nil, 0, r.err
		}
		r.buf = r.buf[:0]
		total := 0
		for {
			chunk, err := r.br.ReadSlice('\n')
			total += len(chunk)
			// Keep up to the limit plus a CRLF; anything longer is too long.
			if total <= MaxLineBytes+2 {
				r.buf = append(r.buf, chunk...)
			}
			if errors.Is(err, bufio.ErrBufferFull) {
				continue
			}
			if err != nil {
				r.err = err
				if !errors.Is(err, io.EOF) || total == 0 {
					return nil, 0, err
				}
				// The last line has no line ending: it is returned now and
				// io.EOF on the next call.
			}
			break
		}
		r.line++
		if total > MaxLineBytes+2 {
			return nil, r.line, r.tooLong()
		}
		line := r.buf
		if n := len(line); n > 0 && line[n-1] == '\n' {
			line = line[:n-1]
		}
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		if len(line) > MaxLineBytes {
			return nil, r.line, r.tooLong()
		}
		if r.line == 1 && len(line) >= 3 && string(line[:3]) == string(bom) {
			line = line[3:]
		}
		if !blank(line) {
			return line, r.line, nil
		}
	}
}

func (r *Reader) tooLong() error {
	return FieldError{Line: r.line, Reason: "line is longer than 1 MiB (" + strconv.Itoa(MaxLineBytes) + " bytes)"}
}

func blank(line []byte) bool {
	for _, c := range line {
		if c != ' ' && c != '\t' {
			return false
		}
	}
	return true
}
