package gateway

import (
	"errors"
	"fmt"
	"io"
)

// ErrValueTooLarge means a JSON value in a request body is larger than the
// gateway takes (Options.GRPC.MaxRecvMsgBytes times jsonExpansion).
var ErrValueTooLarge = errors.New("JSON value too large")

// jsonExpansion is how much larger than its protobuf encoding a message's
// JSON may be (field names, base64 of bytes, escapes): a body value is
// refused beyond jsonExpansion × the gRPC server's message limit, which the
// message would exceed anyway once converted.
const jsonExpansion = 4

// valueLimit reads a request body of JSON values (one for a unary call,
// one per message for a streaming import) and fails once a single value
// grows past max bytes. The gateway's JSON decoder holds a whole value in
// memory before it converts it: without this, one request could make the
// node buffer as much as it is sent. Whitespace and separators between
// values count toward the next.
type valueLimit struct {
	r        io.Reader
	max      int64
	n        int64 // bytes of the current value so far
	depth    int
	inString bool
	escape   bool
	err      error
}

func newValueLimit(r io.Reader, limit int64) *valueLimit {
	return &valueLimit{r: r, max: limit}
}

func (v *valueLimit) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	k, err := v.r.Read(p)
	for i, c := range p[:k] {
		v.n++
		if v.n > v.max {
			v.err = fmt.Errorf("%w: a JSON value of the request body is larger than %d bytes", ErrValueTooLarge, v.max)
			return i, v.err
		}
		switch {
		case v.inString:
			switch {
			case v.escape:
				v.escape = false
			case c == '\\':
				v.escape = true
			case c == '"':
				v.inString = false
			}
		case c == '"':
			v.inString = true
		case c == '{' || c == '[':
			v.depth++
		case c == '}' || c == ']':
			if v.depth > 0 {
				v.depth--
			}
			if v.depth == 0 {
				v.n = 0 // the value ended
			}
		}
	}
	return k, err
}

func (v *valueLimit) Close() error {
	if c, ok := v.r.(io.Closer); ok {
		return c.Close()
	}
	return nil
}
