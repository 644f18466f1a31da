package importclient

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/accordfed/accord/node/caseformat"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// A chunk closes at about this many bytes or lines, whichever comes first:
// the most of the input Send holds at once is about ChunkBytes plus one
// line (caseformat.MaxLineBytes).
const (
	ChunkBytes = 1 << 20
	ChunkLines = 1000
)

// ErrRead is wrapped by Send's error when the input cannot be read to its
// end; the caller must then cancel the stream, so that the node imports
// nothing of a file it did not get whole.
var ErrRead = errors.New("reading the input")

// Stream is the sending side of an ImportCases stream.
type Stream interface {
	Send(*accordv1.ImportCasesRequest) error
	CloseSend() error
}

// Sent is what Send sent: the input's bytes read and its lines (blank
// lines not counted).
type Sent struct {
	Bytes, Lines int64
}

// Send sends opts, then in's lines in chunks of ChunkBytes or ChunkLines,
// then closes the sending side. A line longer than caseformat.MaxLineBytes
// is sent marked too long (the node counts it invalid). progress, when not
// nil, is called with the bytes read after each chunk. Send returns an
// error only when in cannot be read (wrapping ErrRead and in's error, named
// as name); a failure of the stream itself is the receiver's to report.
func Send(stream Stream, in io.Reader, name string, opts *accordv1.ImportOptions, progress func(Sent)) (Sent, error) {
	cr := &countingReader{r: in}
	var sent Sent
	if err := stream.Send(&accordv1.ImportCasesRequest{Body: &accordv1.ImportCasesRequest_Options{Options: opts}}); err != nil {
		return sent, nil // the receiver reports the stream's status
	}
	r := caseformat.NewReader(cr)
	var (
		lines []*accordv1.ImportLine
		size  int
	)
	flush := func() bool {
		sent.Bytes = cr.n
		if len(lines) == 0 {
			return true
		}
		err := stream.Send(&accordv1.ImportCasesRequest{Body: &accordv1.ImportCasesRequest_Chunk{Chunk: &accordv1.ImportChunk{Lines: lines}}})
		lines, size = nil, 0
		if progress != nil {
			progress(sent)
		}
		return err == nil
	}
	for {
		line, n, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		var fe caseformat.FieldError
		switch {
		case errors.As(err, &fe):
			// Too long to send (it could exceed the node's message limit):
			// the node counts it as invalid, so that a partly invalid file
			// imports nothing.
			lines = append(lines, &accordv1.ImportLine{Number: n, TooLong: true})
			sent.Lines++
			continue
		case err != nil:
			return sent, fmt.Errorf("%w %s: %w (nothing was imported)", ErrRead, name, err)
		}
		lines = append(lines, &accordv1.ImportLine{Number: n, Json: bytes.Clone(line)}) // the reader reuses its buffer
		sent.Lines++
		size += len(line)
		if (size >= ChunkBytes || len(lines) >= ChunkLines) && !flush() {
			return sent, nil
		}
	}
	if !flush() {
		return sent, nil
	}
	_ = stream.CloseSend()
	return sent, nil
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
