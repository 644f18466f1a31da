package daemon_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/accordfed/accord/federation/pki/pkitest"
	"github.com/accordfed/accord/federation/raftnet/raftnettest"
	"github.com/accordfed/accord/node/daemon"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// transportNode is a node started with short connection limits, so that
// the attacks on its connections end within seconds.
type transportNode struct {
	t       *testing.T
	d       *daemon.Daemon
	fed     *pkitest.Federation
	honest  accordv1.FederationServiceClient
	limits  transportLimits
	results []transportResult
}

type transportLimits struct {
	handshake, keepalive, age, grace time.Duration
	streams                          uint32
	headerBytes                      uint32
}

// transportResult is one row of the transport matrix.
type transportResult struct {
	name, outcome string
	ops           int
	took          time.Duration
}

const (
	whoAmIMethod = "/accord.v1.FederationService/WhoAmI"
	watchMethod  = "/grpc.health.v1.Health/Watch"
	checkMethod  = "/grpc.health.v1.Health/Check"
	createMethod = "/accord.v1.CaseService/CreateCase"
)

// TestAttackTransport attacks a node's connections below gRPC: TLS
// handshakes that never complete, stream floods, HTTP/2 rapid resets, ping
// floods, idle streams, oversized and endless header blocks, and
// compressed messages (decompression bombs). After each the node must
// still serve, and its goroutines and tracked connections must come back to
// what they were: nothing an attacker opens may outlive the limits.
func TestAttackTransport(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA", "PL")
	cfg := nodeConfig(t, fed.Node("UA", "ua-1"))
	// The handshake limit leaves a loaded machine (2 cores, -race) time for
	// honest handshakes.
	lim := transportLimits{handshake: 2 * time.Second, keepalive: time.Second, age: 3 * time.Second, grace: time.Second, streams: 16, headerBytes: 16 << 10}
	cfg.GRPC.HandshakeTimeout = lim.handshake
	cfg.GRPC.KeepaliveTime, cfg.GRPC.KeepaliveTimeout = lim.keepalive, lim.keepalive
	cfg.GRPC.MaxConnectionAge, cfg.GRPC.MaxConnectionAgeGrace = lim.age, lim.grace
	cfg.GRPC.MaxConcurrentStreams = lim.streams
	cfg.GRPC.MaxHeaderListBytes = lim.headerBytes
	cfg.Log.Level = "warn"
	n := &transportNode{t: t, fed: fed, limits: lim, d: start(t, cfg)}
	n.honest = accordv1.NewFederationServiceClient(dialWith(t, n.d.Addr(), honestCreds(t, fed.Node("PL", "pl-1"), "UA")))
	n.alive()

	rounds := 0
	deadline := time.Now().Add(soak(t, 0))
	for {
		rounds++
		for _, a := range []struct {
			name string
			run  func(*transportNode) (string, int)
		}{
			{"TLS handshake never started", (*transportNode).silentTCP},
			{"TLS handshake stalled after a partial ClientHello", (*transportNode).partialHello},
			{"HTTP/2 preface never sent after TLS", (*transportNode).noPreface},
			{"stream flood beyond max_concurrent_streams", (*transportNode).streamFlood},
			{"HTTP/2 rapid reset", (*transportNode).rapidReset},
			{"ping flood", (*transportNode).pingFlood},
			{"idle stream, peer silent", func(n *transportNode) (string, int) { return n.idleStream(false) }},
			{"idle stream, peer answers pings", func(n *transportNode) (string, int) { return n.idleStream(true) }},
			{"oversized header list", (*transportNode).bigHeaders},
			{"endless CONTINUATION frames", (*transportNode).continuationFlood},
			{"gzip decompression bomb", func(n *transportNode) (string, int) { return n.compressed(true) }},
			{"compressed flag without an encoding", func(n *transportNode) (string, int) { return n.compressed(false) }},
		} {
			ok := t.Run(a.name, func(t *testing.T) {
				n.t = t
				goroutines, conns := n.settled()
				start := time.Now()
				outcome, ops := a.run(n)
				took := time.Since(start)
				n.alive()
				n.back(goroutines, conns)
				n.results = append(n.results, transportResult{name: a.name, outcome: outcome, ops: ops, took: took})
			})
			if !ok {
				n.results = append(n.results, transportResult{name: a.name, outcome: "FAILED"})
			}
		}
		if !time.Now().Before(deadline) {
			break
		}
	}
	t.Logf("transport attacks, %d round(s):", rounds)
	for _, r := range n.results {
		t.Logf("  %-50s | %6d ops | %8s | %s", r.name, r.ops, r.took.Round(time.Millisecond), r.outcome)
	}
}

// alive checks that the node serves an honest peer.
func (n *transportNode) alive() {
	n.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := n.honest.WhoAmI(ctx, &accordv1.WhoAmIRequest{}); err != nil {
		n.t.Fatalf("the node no longer serves an honest peer: %v", err)
	}
}

// settled returns the goroutines of the process and the node's tracked
// connections before an attack.
func (n *transportNode) settled() (int, int) {
	return runtime.NumGoroutine(), n.d.TLS().OpenConnections()
}

// back waits until the goroutines and tracked connections are back to
// (about) what they were before an attack.
func (n *transportNode) back(goroutines, conns int) {
	n.t.Helper()
	const slack = 12 // an honest client reconnecting, timers
	raftnettest.WaitFor(n.t, 30*time.Second, func() error {
		if g := runtime.NumGoroutine(); g > goroutines+slack {
			return fmt.Errorf("%d goroutines, %d before the attack", g, goroutines)
		}
		if c := n.d.TLS().OpenConnections(); c > conns+1 {
			return fmt.Errorf("%d tracked connections, %d before the attack", c, conns)
		}
		return nil
	})
}

// closedBy checks that the server closed each connection within limit of
// its dialling.
func (n *transportNode) closedBy(conns []net.Conn, dialled []time.Time, limit time.Duration) time.Duration {
	n.t.Helper()
	var slowest time.Duration
	for i, c := range conns {
		closed, _ := closedWithin(c, limit+5*time.Second)
		took := time.Since(dialled[i])
		if !closed {
			n.t.Fatalf("connection %d still open %s after it was dialled; handshake_timeout is %s", i, took, n.limits.handshake)
		}
		slowest = max(slowest, took)
		c.Close()
	}
	if slowest > limit {
		n.t.Errorf("the slowest connection was closed after %s, want at most %s", slowest, limit)
	}
	return slowest
}

// silentTCP opens TCP connections to both listeners that never say a
// word: each must be closed after handshake_timeout.
func (n *transportNode) silentTCP() (string, int) {
	var conns []net.Conn
	var dialled []time.Time
	for i := range 20 {
		addr := n.d.Addr()
		if i%2 == 1 {
			addr = n.d.LocalAddr()
		}
		c, err := net.Dial("tcp", addr)
		if err != nil {
			n.t.Fatal(err)
		}
		conns, dialled = append(conns, c), append(dialled, time.Now())
	}
	slowest := n.closedBy(conns, dialled, n.limits.handshake+3*time.Second)
	return fmt.Sprintf("all 20 closed by the server, slowest after %s", slowest.Round(10*time.Millisecond)), 20
}

// partialHello sends the first bytes of a ClientHello and stops.
func (n *transportNode) partialHello() (string, int) {
	var conns []net.Conn
	var dialled []time.Time
	for range 10 {
		c, err := net.Dial("tcp", n.d.Addr())
		if err != nil {
			n.t.Fatal(err)
		}
		// A handshake record header announcing 512 bytes, and 4 of them.
		if _, err := c.Write([]byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc}); err != nil {
			n.t.Fatal(err)
		}
		conns, dialled = append(conns, c), append(dialled, time.Now())
	}
	slowest := n.closedBy(conns, dialled, n.limits.handshake+3*time.Second)
	return fmt.Sprintf("all 10 closed by the server, slowest after %s", slowest.Round(10*time.Millisecond)), 10
}

// noPreface completes TLS with a valid certificate and then sends nothing:
// the HTTP/2 preface is part of the connection's set-up and has the same
// deadline.
func (n *transportNode) noPreface() (string, int) {
	var conns []net.Conn
	var dialled []time.Time
	for range 10 {
		c, err := tls.Dial("tcp", n.d.Addr(), attackerTLS(n.t, n.fed.Node("PL", "pl-1")))
		if err != nil {
			n.t.Fatal(err)
		}
		conns, dialled = append(conns, c), append(dialled, time.Now())
	}
	slowest := n.closedBy(conns, dialled, n.limits.handshake+3*time.Second)
	return fmt.Sprintf("all 10 closed by the server, slowest after %s", slowest.Round(10*time.Millisecond)), 10
}

// streamFlood opens four times max_concurrent_streams long-lived streams
// on one connection: those beyond the limit are refused.
func (n *transportNode) streamFlood() (string, int) {
	c := dialH2(n.t, n.d.Addr(), n.fed.Node("PL", "pl-1"))
	total := int(4 * n.limits.streams)
	empty := grpcFrame(nil, false) // HealthCheckRequest{}
	for range total {
		id, err := c.open(watchMethod, false)
		if err != nil {
			n.t.Fatal(err)
		}
		if err := c.send(id, empty, true); err != nil {
			n.t.Fatal(err)
		}
	}
	refused, answered := 0, map[uint32]bool{}
	deadline := time.Now().Add(15 * time.Second)
	for refused+len(answered) < total {
		f, err := c.readFrame(deadline)
		if err != nil {
			n.t.Fatalf("after %d refused and %d answered streams: %v", refused, len(answered), err)
		}
		switch f := f.(type) {
		case *http2.RSTStreamFrame:
			if f.ErrCode != http2.ErrCodeRefusedStream {
				n.t.Fatalf("stream %d reset with %s, want REFUSED_STREAM", f.StreamID, f.ErrCode)
			}
			refused++
		case *http2.MetaHeadersFrame:
			answered[f.StreamID] = true
		}
	}
	if len(answered) > int(n.limits.streams) {
		n.t.Errorf("%d streams served at once, max_concurrent_streams is %d", len(answered), n.limits.streams)
	}
	c.conn.Close()
	return fmt.Sprintf("%d served, %d refused with REFUSED_STREAM", len(answered), refused), total
}

// rapidReset opens streams and resets each at once (CVE-2023-44487),
// while an honest peer keeps calling: the honest calls keep succeeding and
// the handler goroutines stay bounded by max_concurrent_streams.
func (n *transportNode) rapidReset() (string, int) {
	c := dialH2(n.t, n.d.Addr(), n.fed.Node("PL", "pl-1"))
	c.AckPings = false
	total := 20000
	if testing.Short() {
		total = 5000
	}
	base := runtime.NumGoroutine()
	var peak atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var honestCalls, honestFailed atomic.Int64
	var slowest atomic.Int64
	wg.Add(3)
	go func() { // the server's answers, read and dropped
		defer wg.Done()
		for {
			if _, err := c.fr.ReadFrame(); err != nil {
				return
			}
		}
	}()
	go func() { // the process's goroutines, sampled
		defer wg.Done()
		tk := time.NewTicker(20 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tk.C:
				if g := int64(runtime.NumGoroutine()); g > peak.Load() {
					peak.Store(g)
				}
			}
		}
	}()
	go func() { // an honest peer meanwhile
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			start := time.Now()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, err := n.honest.WhoAmI(ctx, &accordv1.WhoAmIRequest{})
			cancel()
			honestCalls.Add(1)
			if err != nil {
				honestFailed.Add(1)
			}
			if d := int64(time.Since(start)); d > slowest.Load() {
				slowest.Store(d)
			}
		}
	}()
	block := c.headerBlock(checkMethod)
	sent := 0
	var werr error
	for ; sent < total; sent++ {
		werr = c.write(func(fr *http2.Framer) error {
			id := c.next
			c.next += 2
			if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block, EndHeaders: true}); err != nil {
				return err
			}
			return fr.WriteRSTStream(id, http2.ErrCodeCancel)
		})
		if werr != nil {
			break
		}
	}
	close(stop)
	c.conn.Close()
	wg.Wait()
	if honestFailed.Load() > 0 {
		n.t.Errorf("%d of %d honest calls failed during the attack", honestFailed.Load(), honestCalls.Load())
	}
	// Handlers run at most max_concurrent_streams at a time per connection;
	// the rest of the margin is the test's own goroutines and timers.
	if limit := int64(base) + 2*int64(n.limits.streams) + 40; peak.Load() > limit {
		n.t.Errorf("goroutines peaked at %d during the attack (%d before; limit %d)", peak.Load(), base, limit)
	}
	how := "the connection stayed open"
	if werr != nil {
		how = "the server closed the connection: " + werr.Error()
	}
	return fmt.Sprintf("%d streams opened and reset; goroutines peaked at %d (%d before); %d honest calls, slowest %s; %s",
		sent, peak.Load(), base, honestCalls.Load(), time.Duration(slowest.Load()).Round(time.Millisecond), how), sent
}

// pingFlood sends pings back to back: the server answers the first few and
// then ends the connection with ENHANCE_YOUR_CALM (too_many_pings).
func (n *transportNode) pingFlood() (string, int) {
	c := dialH2(n.t, n.d.Addr(), n.fed.Node("PL", "pl-1"))
	sent := 0
	for i := range 100 {
		err := c.write(func(fr *http2.Framer) error { return fr.WritePing(false, [8]byte{byte(i)}) })
		if err != nil {
			break
		}
		sent++
	}
	took, away := c.untilClosed(10 * time.Second)
	if away == nil || away.code != http2.ErrCodeEnhanceYourCalm || away.debug != "too_many_pings" {
		n.t.Fatalf("after a ping flood the server sent GOAWAY %+v, want ENHANCE_YOUR_CALM too_many_pings", away)
	}
	return fmt.Sprintf("GOAWAY ENHANCE_YOUR_CALM %q, connection closed after %s", away.debug, took.Round(10*time.Millisecond)), sent
}

// idleStream opens a stream that never sends its request. A peer that does
// not answer pings is cut after keepalive_time + keepalive_timeout; one
// that does is told to go away at max_connection_age and cut after the
// grace.
func (n *transportNode) idleStream(answerPings bool) (string, int) {
	c := dialH2(n.t, n.d.Addr(), n.fed.Node("PL", "pl-1"))
	c.AckPings = answerPings
	if _, err := c.open(checkMethod, false); err != nil {
		n.t.Fatal(err)
	}
	limit := 2*n.limits.keepalive + 5*time.Second
	if answerPings {
		limit = n.limits.age*11/10 + n.limits.grace + 5*time.Second
	}
	took, away := c.untilClosed(limit + 10*time.Second)
	if took > limit {
		n.t.Errorf("the idle connection lived %s, want at most %s", took, limit)
	}
	how := "no GOAWAY"
	if away != nil {
		how = fmt.Sprintf("GOAWAY %s %q", away.code, away.debug)
	}
	return fmt.Sprintf("closed by the server after %s (%s)", took.Round(10*time.Millisecond), how), 1
}

// headerFields encodes count header fields of size bytes each (literal,
// never indexed: a block can be repeated without changing the decoder's
// state) and returns them with their size as the server counts it.
func headerFields(count, size int) ([]byte, int) {
	var b bytes.Buffer
	enc := hpack.NewEncoder(&b)
	total := 0
	for i := range count {
		f := hpack.HeaderField{Name: fmt.Sprintf("x-pad-%d", i), Value: strings.Repeat("a", size), Sensitive: true}
		_ = enc.WriteField(f)
		total += int(f.Size())
	}
	return b.Bytes(), total
}

// bigHeaders sends a request whose metadata is far above
// max_header_list_bytes, in HEADERS and CONTINUATION frames.
func (n *transportNode) bigHeaders() (string, int) {
	c := dialH2(n.t, n.d.Addr(), n.fed.Node("PL", "pl-1"))
	pad, size := headerFields(int(n.limits.headerBytes)/1000+8, 1000)
	block := append(c.headerBlock(checkMethod), pad...)
	id := c.next
	c.next += 2
	err := c.write(func(fr *http2.Framer) error {
		first := min(len(block), 16<<10)
		if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block[:first], EndHeaders: first == len(block)}); err != nil {
			return err
		}
		for rest := block[first:]; len(rest) > 0; {
			k := min(len(rest), 16<<10)
			if err := fr.WriteContinuation(id, k == len(rest), rest[:k]); err != nil {
				return err
			}
			rest = rest[k:]
		}
		return c.fr.WriteData(id, true, grpcFrame(nil, false))
	})
	if err != nil {
		n.t.Fatal(err)
	}
	res, err := c.result(id, 10*time.Second)
	switch {
	case errors.Is(err, errH2Closed):
		return fmt.Sprintf("%d bytes of metadata: connection closed by the server", size), 1
	case err != nil:
		n.t.Fatal(err)
	case res.reset:
		return fmt.Sprintf("%d bytes of metadata: stream reset with %s", size, res.rstCode), 1
	}
	n.t.Fatalf("a request with %d bytes of metadata was answered %s %q; max_header_list_bytes is %d", size, res.code, res.message, n.limits.headerBytes)
	return "", 0
}

// continuationFlood starts a header block and never ends it: the server
// must end the connection soon after the block outgrows
// max_header_list_bytes, not read on (CVE-2024-27316 and kin).
func (n *transportNode) continuationFlood() (string, int) {
	c := dialH2(n.t, n.d.Addr(), n.fed.Node("PL", "pl-1"))
	frag, _ := headerFields(15, 1000)
	id := c.next
	c.next += 2
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		for {
			if _, err := c.fr.ReadFrame(); err != nil {
				return
			}
		}
	}()
	const most = 64 << 20
	sent := 0
	err := c.write(func(fr *http2.Framer) error {
		if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: c.headerBlock(checkMethod)}); err != nil {
			return err
		}
		for sent < most {
			select {
			case <-closed:
				return errH2Closed
			default:
			}
			if err := fr.WriteContinuation(id, false, frag); err != nil {
				return err
			}
			sent += len(frag)
		}
		return nil
	})
	if err == nil {
		select {
		case <-closed:
		case <-time.After(10 * time.Second):
			n.t.Fatalf("the server took %d MiB of one header block and kept the connection", sent>>20)
		}
	}
	c.conn.Close()
	// What was sent includes what the sockets' buffers took after the
	// server stopped reading, so it only bounds what the server read.
	if sent >= most {
		n.t.Errorf("the server read %d MiB of one header block without closing", sent>>20)
	}
	return fmt.Sprintf("connection closed after %d KiB of CONTINUATION frames", sent>>10), sent / len(frag)
}

// compressed sends CreateCase as a compressed message: a gzip bomb (a
// request followed by 6 MiB of zeros, 6 KiB compressed; max_recv_msg_bytes
// is 4 MiB) with grpc-encoding gzip, or a message flagged
// compressed without any encoding. The node has no decompressor: it must
// refuse both without inflating anything or storing anything.
func (n *transportNode) compressed(bomb bool) (string, int) {
	before, err := n.d.Store().Stats()
	if err != nil {
		n.t.Fatal(err)
	}
	msg, err := proto.Marshal(&accordv1.CreateCaseRequest{Case: &accordv1.Case{CaseId: "UA-2024-BOMB", Country: "UA", Title: "bomb"}})
	if err != nil {
		n.t.Fatal(err)
	}
	var extra []hpack.HeaderField
	if bomb {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		_, _ = zw.Write(msg)
		_, _ = zw.Write(make([]byte, 6<<20))
		_ = zw.Close()
		msg = b.Bytes()
		extra = append(extra, hpack.HeaderField{Name: "grpc-encoding", Value: "gzip"})
	}
	// Dialled only now: the peer must not sit idle past keepalive.
	c := dialH2(n.t, n.d.LocalAddr(), n.fed.User("UA", "analyst"))
	id, err := c.open(createMethod, false, extra...)
	if err != nil {
		n.t.Fatal(err)
	}
	if err := c.send(id, grpcFrame(msg, true), true); err != nil {
		n.t.Fatal(err)
	}
	res, err := c.result(id, 10*time.Second)
	if err != nil {
		n.t.Fatal(err)
	}
	want, says := codes.Internal, "compressed flag set with identity or empty encoding"
	if bomb {
		want, says = codes.Unimplemented, `Decompressor is not installed for grpc-encoding "gzip"`
	}
	if res.code != want || !strings.Contains(res.message, says) {
		n.t.Fatalf("answered %s %q (reset %v), want %s naming %q", res.code, res.message, res.reset, want, says)
	}
	after, err := n.d.Store().Stats()
	if err != nil {
		n.t.Fatal(err)
	}
	if after.Cases != before.Cases {
		n.t.Errorf("cases %d -> %d", before.Cases, after.Cases)
	}
	return fmt.Sprintf("%d bytes sent: %s %q, nothing stored", len(msg), res.code, res.message), 1
}
