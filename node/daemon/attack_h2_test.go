package daemon_test

import (
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc/codes"

	"github.com/accordfed/accord/federation/mtls"
)

// h2Client speaks HTTP/2 to a gRPC server frame by frame over mutual TLS,
// as an attacker would: it sends what it likes, in any order, and reads
// what the server answers.
type h2Client struct {
	t    testing.TB
	conn *tls.Conn
	fr   *http2.Framer
	hbuf bytes.Buffer
	henc *hpack.Encoder
	next uint32
	host string
	// AckPings makes reads answer the server's pings.
	AckPings bool
	// wmu serialises writes: a reader answering settings and pings may
	// run beside a writer.
	wmu sync.Mutex
}

// dialH2 opens a TLS connection with ALPN h2 presenting cfg's certificate
// (none when cfg is zero), sends the client preface and settings.
func dialH2(t testing.TB, addr string, cfg mtls.Config) *h2Client {
	t.Helper()
	return dialH2Config(t, addr, attackerTLS(t, cfg))
}

// dialH2Config is dialH2 with a TLS configuration of the caller's.
func dialH2Config(t testing.TB, addr string, tc *tls.Config) *h2Client {
	t.Helper()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, tc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if p := conn.ConnectionState().NegotiatedProtocol; p != "h2" {
		t.Fatalf("ALPN negotiated %q, want h2", p)
	}
	c := &h2Client{t: t, conn: conn, next: 1, host: addr, AckPings: true}
	c.henc = hpack.NewEncoder(&c.hbuf)
	c.fr = http2.NewFramer(conn, conn)
	c.fr.ReadMetaHeaders = hpack.NewDecoder(64<<10, nil)
	c.fr.MaxHeaderListSize = 1 << 20
	_ = conn.SetWriteDeadline(time.Now().Add(30 * time.Second))
	if _, err := conn.Write([]byte(http2.ClientPreface)); err != nil {
		t.Fatal(err)
	}
	if err := c.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	return c
}

// headerBlock encodes a gRPC request's headers for method, with extra
// headers after the standard ones.
func (c *h2Client) headerBlock(method string, extra ...hpack.HeaderField) []byte {
	c.hbuf.Reset()
	for _, f := range append([]hpack.HeaderField{
		{Name: ":method", Value: "POST"}, {Name: ":scheme", Value: "https"}, {Name: ":path", Value: method},
		{Name: ":authority", Value: c.host}, {Name: "content-type", Value: "application/grpc"}, {Name: "te", Value: "trailers"},
	}, extra...) {
		if err := c.henc.WriteField(f); err != nil {
			c.t.Fatal(err)
		}
	}
	return bytes.Clone(c.hbuf.Bytes())
}

// open starts a stream of method and returns its id; with endStream the
// request has no body.
func (c *h2Client) open(method string, endStream bool, extra ...hpack.HeaderField) (uint32, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	id := c.next
	c.next += 2
	return id, c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: c.headerBlock(method, extra...), EndHeaders: true, EndStream: endStream})
}

// write runs fn with the framer, serialised with the other writes.
func (c *h2Client) write(fn func(*http2.Framer) error) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return fn(c.fr)
}

// grpcFrame is a gRPC length-prefixed message.
func grpcFrame(msg []byte, compressed bool) []byte {
	b := make([]byte, 5, 5+len(msg))
	if compressed {
		b[0] = 1
	}
	binary.BigEndian.PutUint32(b[1:], uint32(len(msg)))
	return append(b, msg...)
}

// send writes one gRPC message on a stream, in DATA frames of at most 16
// KiB.
func (c *h2Client) send(id uint32, frame []byte, endStream bool) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	for len(frame) > 16<<10 {
		if err := c.fr.WriteData(id, false, frame[:16<<10]); err != nil {
			return err
		}
		frame = frame[16<<10:]
	}
	return c.fr.WriteData(id, endStream, frame)
}

// h2Result is what the server did with a stream.
type h2Result struct {
	code    codes.Code
	message string
	// reset is set when the server reset the stream instead of answering.
	reset   bool
	rstCode http2.ErrCode
}

// errH2Closed is returned when the server ended the connection.
var errH2Closed = errors.New("connection closed by the server")

// readFrame reads one frame, answering settings and (when AckPings)
// pings. A GOAWAY is returned like any frame; the end of the connection
// is errH2Closed.
func (c *h2Client) readFrame(deadline time.Time) (http2.Frame, error) {
	_ = c.conn.SetReadDeadline(deadline)
	f, err := c.fr.ReadFrame()
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %w", errH2Closed, err)
	}
	switch f := f.(type) {
	case *http2.SettingsFrame:
		if !f.IsAck() {
			if err := c.write(func(fr *http2.Framer) error { return fr.WriteSettingsAck() }); err != nil {
				return nil, fmt.Errorf("%w: %w", errH2Closed, err)
			}
		}
	case *http2.PingFrame:
		if c.AckPings && !f.IsAck() {
			if err := c.write(func(fr *http2.Framer) error { return fr.WritePing(true, f.Data) }); err != nil {
				return nil, fmt.Errorf("%w: %w", errH2Closed, err)
			}
		}
	}
	return f, nil
}

// result reads until the server ends stream id (trailers or a reset),
// the connection ends or the deadline passes.
func (c *h2Client) result(id uint32, within time.Duration) (h2Result, error) {
	deadline := time.Now().Add(within)
	for {
		f, err := c.readFrame(deadline)
		if err != nil {
			return h2Result{}, err
		}
		if f.Header().StreamID != id {
			continue
		}
		switch f := f.(type) {
		case *http2.RSTStreamFrame:
			return h2Result{reset: true, rstCode: f.ErrCode}, nil
		case *http2.MetaHeadersFrame:
			if s := f.PseudoValue("status"); s != "" && s != "200" {
				return h2Result{code: codes.Unknown, message: "HTTP status " + s}, nil
			}
			if v := field(f, "grpc-status"); v != "" {
				n, err := strconv.Atoi(v)
				if err != nil {
					return h2Result{}, fmt.Errorf("grpc-status %q", v)
				}
				msg, _ := url.PathUnescape(field(f, "grpc-message"))
				return h2Result{code: codes.Code(n), message: msg}, nil
			}
		}
	}
}

// field returns the value of a regular header field, "" when absent.
func field(f *http2.MetaHeadersFrame, name string) string {
	for _, hf := range f.RegularFields() {
		if hf.Name == name {
			return hf.Value
		}
	}
	return ""
}

// goAway is a GOAWAY the server sent.
type goAway struct {
	code  http2.ErrCode
	debug string
}

// untilClosed reads (and discards) frames until the server closes the
// connection, and returns how long that took and the last GOAWAY it sent,
// if any; it fails the test after within.
func (c *h2Client) untilClosed(within time.Duration) (time.Duration, *goAway) {
	c.t.Helper()
	start := time.Now()
	deadline := start.Add(within)
	var away *goAway
	for {
		f, err := c.readFrame(deadline)
		if errors.Is(err, errH2Closed) {
			return time.Since(start), away
		}
		if err != nil {
			c.t.Fatalf("the server kept the connection open for %s: %v", within, err)
		}
		if g, ok := f.(*http2.GoAwayFrame); ok {
			away = &goAway{code: g.ErrCode, debug: string(g.DebugData())}
		}
	}
}

// closedWithin reports whether the server closed a raw connection within
// d (reading until then).
func closedWithin(conn net.Conn, d time.Duration) (bool, time.Duration) {
	start := time.Now()
	_ = conn.SetReadDeadline(start.Add(d))
	_, err := io.Copy(io.Discard, conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false, time.Since(start)
	}
	return true, time.Since(start)
}
