package raftnet

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/mtls"
)

// ALPN is the TLS application protocol of Raft connections. Servers refuse
// clients that do not offer it and clients refuse servers that do not
// select it, so Raft and gRPC (h2) connections cannot be confused.
const ALPN = "accord-raft/1"

// Defaults of Config.
const (
	DefaultHandshakeTimeout       = 3 * time.Second
	DefaultDialTimeout            = 10 * time.Second
	DefaultMaxPendingHandshakes   = 64
	DefaultMaxHandshakesPerSource = 8
)

// Reasons given to Config.Dropped for an inbound connection closed before
// its handshake finished.
const (
	// DropSourceLimit: its source already had MaxHandshakesPerSource
	// handshakes in progress.
	DropSourceLimit = "source_limit"
	// DropBusy: the shared handshake slots (MaxPendingHandshakes) were all
	// taken and its source has no reserved ones.
	DropBusy = "busy"
	// DropTimeout: the handshake did not finish within HandshakeTimeout.
	DropTimeout = "timeout"
)

// acceptedByte is what a server writes once it has accepted a client.
const acceptedByte = 0x01

// Config is what a StreamLayer needs.
type Config struct {
	// Listener accepts the raw TCP connections. The layer owns it once New
	// succeeds and closes it on Close.
	Listener net.Listener
	// Source is the node's TLS material.
	Source *mtls.Source
	// Allow decides whether a verified node may take part in Raft (whether
	// it is a registry server). Every client and every dialled server must
	// pass. Required; it is called during handshakes, so it must be quick
	// and must not call into raft.
	Allow func(identity.Identity) error
	// Expect returns the identity that must answer at a raft address (for
	// example AddressBook.Expect). Dial refuses any other server, and dials
	// nothing when Expect fails. Required.
	Expect func(raft.ServerAddress) (identity.Identity, error)
	// Advertise is the address other servers reach this node at: the
	// ServerAddress of this node in raft's configuration. Default: the
	// listener's address, which must then not be unspecified (0.0.0.0).
	Advertise string
	// HandshakeTimeout bounds an inbound handshake, from the TCP accept to
	// the acceptance byte (default 3s). Until it is done the client is not
	// authenticated, so this is what an idle or slow client can hold a
	// handshake slot for.
	HandshakeTimeout time.Duration
	// MaxPendingHandshakes bounds the inbound handshakes in progress at
	// once from sources that Reserved does not name (default 64). A
	// connection that finds them all taken is closed at once (DropBusy);
	// the accept loop never waits, so a connection from a reserved source
	// is never queued behind a flood.
	MaxPendingHandshakes int
	// MaxHandshakesPerSource bounds the inbound handshakes in progress at
	// once from one source (default 8): an IPv4 address, or an IPv6 /64
	// (one host usually holds a whole /64). Beyond it a connection is
	// closed at once (DropSourceLimit).
	MaxHandshakesPerSource int
	// Reserved, when set, names the sources of known registry servers (the
	// hosts of the configured and registered servers' Raft addresses). Each
	// such source has MaxHandshakesPerSource handshake slots of its own,
	// outside the shared MaxPendingHandshakes, so that a flood from
	// elsewhere cannot keep a registry server out. It is called for every
	// inbound connection, so it must be quick (Sources.Contains).
	Reserved func(netip.Addr) bool
	// Dropped, when set, is called whenever an inbound connection is
	// closed before its handshake finished for want of capacity or time:
	// reason is DropSourceLimit, DropBusy or DropTimeout; remote is the
	// peer's address. It may be called from several goroutines at once.
	Dropped func(reason, remote string)
	// DialContext opens the TCP connection under Dial (default a
	// net.Dialer). Tests inject faults here (raftnettest.Network.Dialer).
	DialContext func(ctx context.Context, network, address string) (net.Conn, error)
	// Refused, when set, is called whenever a peer is refused during a
	// handshake: side is "server" (this node refused a client) or "client"
	// (this node refused a server); remote is the peer's address. It may
	// be called from several goroutines at once.
	Refused func(side, remote string, err error)
	// Logger receives refusals and accept errors; nil discards.
	Logger *slog.Logger
}

// Validate checks the configuration and fills in defaults.
func (c *Config) Validate() error {
	switch {
	case c.Listener == nil:
		return fmt.Errorf("%w: listener: required", ErrConfig)
	case c.Source == nil:
		return fmt.Errorf("%w: source: required", ErrConfig)
	case c.Allow == nil:
		return fmt.Errorf("%w: allow: required (which nodes are registry servers)", ErrConfig)
	case c.Expect == nil:
		return fmt.Errorf("%w: expect: required (which node answers at each raft address)", ErrConfig)
	case c.HandshakeTimeout < 0:
		return fmt.Errorf("%w: handshake_timeout: %s: must not be negative", ErrConfig, c.HandshakeTimeout)
	case c.MaxPendingHandshakes < 0:
		return fmt.Errorf("%w: max_pending_handshakes: %d: must not be negative", ErrConfig, c.MaxPendingHandshakes)
	case c.MaxHandshakesPerSource < 0:
		return fmt.Errorf("%w: max_handshakes_per_source: %d: must not be negative", ErrConfig, c.MaxHandshakesPerSource)
	}
	if c.HandshakeTimeout == 0 {
		c.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if c.MaxPendingHandshakes == 0 {
		c.MaxPendingHandshakes = DefaultMaxPendingHandshakes
	}
	if c.MaxHandshakesPerSource == 0 {
		c.MaxHandshakesPerSource = DefaultMaxHandshakesPerSource
	}
	if c.DialContext == nil {
		c.DialContext = (&net.Dialer{}).DialContext
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Advertise == "" {
		c.Advertise = c.Listener.Addr().String()
	}
	host, port, err := net.SplitHostPort(c.Advertise)
	if err != nil {
		return fmt.Errorf("%w: advertise: %q: %w", ErrConfig, c.Advertise, err)
	}
	if p, err := strconv.Atoi(port); err != nil || p <= 0 || p > 65535 {
		return fmt.Errorf("%w: advertise: %q: port must be 1-65535", ErrConfig, c.Advertise)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		return fmt.Errorf("%w: advertise: %q: unspecified host; give the address other servers reach this node at", ErrConfig, c.Advertise)
	}
	return nil
}

// StreamLayer is a raft.StreamLayer over mutual TLS. It is safe for
// concurrent use.
type StreamLayer struct {
	cfg       Config
	logger    *slog.Logger
	serverTLS *tls.Config

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	ready  chan *conn // handshaken inbound connections for Accept
	slots  handshakeSlots
	// loopDone is closed when the accept loop ends; loopErr says why.
	loopDone chan struct{}
	loopErr  error
	wg       sync.WaitGroup

	closeOnce sync.Once
	closeErr  error

	mu     sync.Mutex
	closed bool
	live   map[*conn]struct{}

	accepted, inboundFailed, dialled, dialFailed, refused atomic.Uint64
	droppedSource, droppedBusy, timedOut                  atomic.Uint64
}

var _ raft.StreamLayer = (*StreamLayer)(nil)

// New validates cfg and starts accepting. On error the caller still owns
// the listener.
func New(cfg Config) (*StreamLayer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &StreamLayer{
		cfg:      cfg,
		logger:   cfg.Logger,
		ctx:      ctx,
		cancel:   cancel,
		ready:    make(chan *conn),
		slots:    handshakeSlots{shared: cfg.MaxPendingHandshakes, perSource: cfg.MaxHandshakesPerSource, held: map[netip.Addr]int{}},
		loopDone: make(chan struct{}),
		live:     map[*conn]struct{}{},
	}
	l.serverTLS = l.serverConfig()
	l.wg.Add(1)
	go l.acceptLoop()
	return l, nil
}

// Accept returns the next inbound connection whose handshake succeeded:
// the peer is a node that Allow accepts, speaking ALPN. It implements
// net.Listener.
func (l *StreamLayer) Accept() (net.Conn, error) {
	select {
	case c := <-l.ready:
		return c, nil
	case <-l.ctx.Done():
		return nil, ErrClosed
	case <-l.loopDone:
		if l.ctx.Err() != nil {
			return nil, ErrClosed
		}
		return nil, fmt.Errorf("%w: listener: %w", ErrClosed, l.loopErr)
	}
}

// Addr returns the advertised address. It implements net.Listener; raft
// takes it as this node's ServerAddress.
func (l *StreamLayer) Addr() net.Addr { return advertiseAddr(l.cfg.Advertise) }

// Close stops accepting, closes the listener and every connection the
// layer made or accepted, and waits for its goroutines. It implements
// net.Listener; raft's transport calls it when it shuts down.
func (l *StreamLayer) Close() error {
	l.closeOnce.Do(func() {
		l.cancel()
		if err := l.cfg.Listener.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			l.closeErr = err
		}
		l.mu.Lock()
		l.closed = true
		conns := make([]*conn, 0, len(l.live))
		for c := range l.live {
			conns = append(conns, c)
		}
		l.mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
		l.wg.Wait()
	})
	return l.closeErr
}

// Dial connects to the raft server at address, which must present the
// identity Expect gives for it (else the error wraps
// mtls.ErrUnexpectedPeer) and be allowed (else ErrNotAllowed). It returns
// only once the server has accepted this node. timeout bounds the whole
// of it (DefaultDialTimeout when not positive).
func (l *StreamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	c, err := l.dial(address, timeout)
	if err != nil {
		l.dialFailed.Add(1)
		return nil, fmt.Errorf("raftnet: dial %s: %w", address, err)
	}
	l.dialled.Add(1)
	return c, nil
}

func (l *StreamLayer) dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	if l.ctx.Err() != nil {
		return nil, ErrClosed
	}
	want, err := l.cfg.Expect(address)
	if err != nil {
		return nil, err
	}
	if timeout <= 0 {
		timeout = DefaultDialTimeout
	}
	ctx, cancel := context.WithTimeout(l.ctx, timeout)
	defer cancel()
	raw, err := l.cfg.DialContext(ctx, "tcp", string(address))
	if err != nil {
		return nil, err
	}
	tc := tls.Client(raw, l.clientConfig(address, want))
	if err := tc.HandshakeContext(ctx); err != nil {
		tc.Close()
		return nil, err
	}
	if err := readAccepted(ctx, tc); err != nil {
		tc.Close()
		return nil, err
	}
	c, ok := l.track(tc, false, address)
	if !ok {
		return nil, ErrClosed
	}
	return c, nil
}

// readAccepted waits for the server's acceptance byte.
func readAccepted(ctx context.Context, tc *tls.Conn) error {
	if dl, ok := ctx.Deadline(); ok {
		_ = tc.SetReadDeadline(dl)
	}
	var b [1]byte
	if _, err := io.ReadFull(tc, b[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("%w: server closed the connection before accepting it", ErrProtocol)
		}
		return fmt.Errorf("server did not accept the connection: %w", err)
	}
	if b[0] != acceptedByte {
		return fmt.Errorf("%w: server sent %#x, want the acceptance byte", ErrProtocol, b[0])
	}
	return tc.SetReadDeadline(time.Time{})
}

func (l *StreamLayer) acceptLoop() {
	defer l.wg.Done()
	defer close(l.loopDone)
	var delay time.Duration
	for {
		raw, err := l.cfg.Listener.Accept()
		if err != nil {
			if l.ctx.Err() != nil {
				return
			}
			if errors.Is(err, net.ErrClosed) {
				l.loopErr = err
				return
			}
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			l.logger.Warn("raft listener failed to accept; retrying", "err", err, "retry_in", delay)
			select {
			case <-time.After(delay):
				continue
			case <-l.ctx.Done():
				return
			}
		}
		delay = 0
		// The loop never waits for a slot: a connection that gets none is
		// closed at once, so the next one (perhaps a registry server's
		// with reserved slots) is taken off the listener's queue at once.
		src, addr := source(raw.RemoteAddr())
		reserved := l.cfg.Reserved != nil && addr.IsValid() && l.cfg.Reserved(addr)
		slot, reason := l.slots.take(src, reserved)
		if reason != "" {
			raw.Close()
			l.drop(reason, raw.RemoteAddr().String())
			continue
		}
		l.wg.Add(1)
		go l.serve(raw, slot)
	}
}

// source returns the handshake-limit key of a remote address (an IPv4
// address, or the /64 of an IPv6 one) and the address itself; both are
// zero when addr is not an IP address.
func source(addr net.Addr) (key, ip netip.Addr) {
	var ap netip.AddrPort
	if ta, ok := addr.(*net.TCPAddr); ok {
		ap = ta.AddrPort()
	} else if p, err := netip.ParseAddrPort(addr.String()); err == nil {
		ap = p
	}
	ip = ap.Addr().Unmap()
	if !ip.IsValid() || ip.Is4() {
		return ip, ip
	}
	return netip.PrefixFrom(ip, 64).Masked().Addr(), ip
}

// drop counts and reports an inbound connection closed before its
// handshake finished for want of capacity or time.
func (l *StreamLayer) drop(reason, remote string) {
	l.inboundFailed.Add(1)
	switch reason {
	case DropSourceLimit:
		l.droppedSource.Add(1)
	case DropBusy:
		l.droppedBusy.Add(1)
	case DropTimeout:
		l.timedOut.Add(1)
	}
	l.logger.Debug("raft connection dropped before its handshake finished", "remote", remote, "reason", reason)
	if l.cfg.Dropped != nil {
		l.cfg.Dropped(reason, remote)
	}
}

// handshakeSlots counts the inbound handshakes in progress, per source and
// in the shared pool.
type handshakeSlots struct {
	shared, perSource int // the bounds

	mu         sync.Mutex
	sharedHeld int
	held       map[netip.Addr]int // by source key
}

// slot is one inbound handshake's place in handshakeSlots.
type slot struct {
	source netip.Addr
	shared bool
}

// take gives a handshake from src a slot, or says why there is none
// (DropSourceLimit, DropBusy). A reserved source does not use the shared
// pool.
func (h *handshakeSlots) take(src netip.Addr, reserved bool) (slot, string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.held[src] >= h.perSource {
		return slot{}, DropSourceLimit
	}
	if !reserved {
		if h.sharedHeld >= h.shared {
			return slot{}, DropBusy
		}
		h.sharedHeld++
	}
	h.held[src]++
	return slot{source: src, shared: !reserved}, ""
}

func (h *handshakeSlots) release(s slot) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if s.shared {
		h.sharedHeld--
	}
	if h.held[s.source]--; h.held[s.source] <= 0 {
		delete(h.held, s.source)
	}
}

// serve handshakes one inbound connection and hands it to Accept.
func (l *StreamLayer) serve(raw net.Conn, s slot) {
	defer l.wg.Done()
	remote := raw.RemoteAddr().String()
	tc := tls.Server(raw, l.serverTLS)
	timedOut := false
	err := func() error {
		defer l.slots.release(s)
		ctx, cancel := context.WithTimeout(l.ctx, l.cfg.HandshakeTimeout)
		defer cancel()
		// The deadline also bounds the connection's reads and writes, so a
		// client that stalls the handshake cannot outlast it.
		dl, _ := ctx.Deadline()
		_ = raw.SetDeadline(dl)
		err := tc.HandshakeContext(ctx)
		if err == nil {
			_, err = tc.Write([]byte{acceptedByte})
		}
		if err == nil {
			return raw.SetDeadline(time.Time{})
		}
		timedOut = l.ctx.Err() == nil && (errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded))
		return err
	}()
	if err != nil {
		tc.Close()
		if timedOut {
			l.drop(DropTimeout, remote)
			return
		}
		l.inboundFailed.Add(1)
		lvl := slog.LevelWarn
		if errors.Is(err, io.EOF) || l.ctx.Err() != nil {
			lvl = slog.LevelDebug
		}
		l.logger.Log(context.Background(), lvl, "raft connection not accepted", "remote", remote, "reason", Reason(err), "err", err)
		return
	}
	c, ok := l.track(tc, true, "")
	if !ok {
		return
	}
	select {
	case l.ready <- c:
		l.accepted.Add(1)
	case <-l.ctx.Done():
		_ = c.Close()
	}
}

// refusedPeer reports a peer refused during a handshake.
func (l *StreamLayer) refusedPeer(side, remote string, err error) {
	l.refused.Add(1)
	l.logger.Warn("raft peer refused", "side", side, "remote", remote, "reason", Reason(err), "err", err)
	if l.cfg.Refused != nil {
		l.cfg.Refused(side, remote, err)
	}
}

// allowed applies the layer's own rule to a verified peer.
func (l *StreamLayer) allowed(id identity.Identity) error {
	if id.Kind != identity.KindNode {
		return fmt.Errorf("%w: %s is not a node", ErrNotAllowed, id)
	}
	if err := l.cfg.Allow(id); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrNotAllowed, id, err)
	}
	return nil
}

func (l *StreamLayer) track(tc *tls.Conn, inbound bool, addr raft.ServerAddress) (*conn, bool) {
	cs := tc.ConnectionState()
	c := &conn{Conn: tc, l: l, inbound: inbound, addr: addr, chain: cs.PeerCertificates}
	l.mu.Lock()
	closed := l.closed
	if !closed {
		l.live[c] = struct{}{}
	}
	l.mu.Unlock()
	if closed {
		tc.Close()
		return nil, false
	}
	return c, true
}

func (l *StreamLayer) untrack(c *conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.live, c)
}

// Recheck checks every live connection again, as its handshake did, against
// the Source's current material, Allow and Expect, and closes those whose
// peer is no longer accepted (revoked, distrusted, no longer a registry
// server, no longer expected at that address). It returns how many it
// closed. Call it when the set of registry servers changes or after the
// Source reloaded (mtls.Hooks.Reloaded).
func (l *StreamLayer) Recheck() int {
	l.mu.Lock()
	conns := make([]*conn, 0, len(l.live))
	for c := range l.live {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	n := 0
	for _, c := range conns {
		if err := l.recheck(c); err != nil {
			l.logger.Warn("closing raft connection of a peer no longer accepted", "remote", c.RemoteAddr().String(), "reason", Reason(err), "err", err)
			_ = c.Close()
			n++
		}
	}
	return n
}

func (l *StreamLayer) recheck(c *conn) error {
	usage := x509.ExtKeyUsageServerAuth
	if c.inbound {
		usage = x509.ExtKeyUsageClientAuth
	}
	id, err := l.cfg.Source.Verifier().Verify(c.chain, usage)
	if err != nil {
		return err
	}
	if !c.inbound {
		want, err := l.cfg.Expect(c.addr)
		if err != nil {
			return err
		}
		if id != want {
			return fmt.Errorf("%w: expected %s at %s, connected to %s", mtls.ErrUnexpectedPeer, want, c.addr, id)
		}
	}
	return l.allowed(id)
}

// Connected reports whether the layer has a live connection it dialled to
// addr (raft's transport keeps such connections in its pool).
func (l *StreamLayer) Connected(addr raft.ServerAddress) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for c := range l.live {
		if !c.inbound && c.addr == addr {
			return true
		}
	}
	return false
}

// Stats counts the layer's connections.
type Stats struct {
	// Accepted is how many inbound connections were handed to raft.
	Accepted uint64
	// InboundFailed is how many inbound connections were closed before
	// raft saw them: refused, dropped, timed out, or broken during the
	// handshake.
	InboundFailed uint64
	// DroppedSourceLimit, DroppedBusy and TimedOut count the inbound
	// connections closed for want of a handshake slot (per source, shared)
	// or of time (see Config.Dropped); they are part of InboundFailed.
	DroppedSourceLimit, DroppedBusy, TimedOut uint64
	// Dialled and DialFailed count outbound connections.
	Dialled, DialFailed uint64
	// Refused is how many peers (either side) failed verification.
	Refused uint64
	// Open is how many connections are live.
	Open int
}

// Stats returns the layer's counters.
func (l *StreamLayer) Stats() Stats {
	l.mu.Lock()
	open := len(l.live)
	l.mu.Unlock()
	return Stats{
		Accepted:      l.accepted.Load(),
		InboundFailed: l.inboundFailed.Load(),
		Dialled:       l.dialled.Load(),
		DialFailed:    l.dialFailed.Load(),
		Refused:       l.refused.Load(),
		Open:          open,

		DroppedSourceLimit: l.droppedSource.Load(),
		DroppedBusy:        l.droppedBusy.Load(),
		TimedOut:           l.timedOut.Load(),
	}
}

// conn is a live connection of the layer.
type conn struct {
	*tls.Conn
	l       *StreamLayer
	inbound bool
	addr    raft.ServerAddress // the dialled address (outbound only)
	chain   []*x509.Certificate
	once    sync.Once
}

func (c *conn) Close() error {
	c.once.Do(func() { c.l.untrack(c) })
	return c.Conn.Close()
}

type advertiseAddr string

func (a advertiseAddr) Network() string { return "tcp" }
func (a advertiseAddr) String() string  { return string(a) }
