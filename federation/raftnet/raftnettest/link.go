package raftnettest

import (
	"math/rand/v2"
	"net"
	"sync"
	"time"
)

// Direction is one direction of a Link. Forward carries the bytes that the
// user of a wrapped connection writes (Wrap's caller: on a Network, the
// node that dialled, when its name sorts first of the pair) to the peer;
// Backward carries the peer's bytes back.
type Direction int

// The two directions of a link.
const (
	Forward Direction = iota
	Backward
)

// maxRetransmissions bounds how often one chunk is lost in a row (see
// SetLoss); its stall is then 63 times the retransmission timeout.
const maxRetransmissions = 6

// Link is the faults of one network path: a one-way latency applied to
// each direction, a blackhole of either direction or both, and packet
// loss. Connections behind a Link follow changes at once. It is safe for
// concurrent use; the zero value is not usable.
type Link struct {
	mu      sync.Mutex
	latency time.Duration
	// holes are non-nil while a direction is blackholed; Restore closes
	// them.
	holes [2]chan struct{}
	// lossRate and rto model packet loss (SetLoss).
	lossRate float64
	rto      time.Duration
	relays   map[*relay]struct{}
	closed   bool
	wg       sync.WaitGroup
}

// NewLink returns a link without faults.
func NewLink() *Link {
	return &Link{relays: map[*relay]struct{}{}}
}

// SetLatency sets the one-way delay of each direction (so a round trip
// takes 2*d more). It applies to bytes sent from now on.
func (l *Link) SetLatency(d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.latency = d
}

// Latency returns the one-way delay.
func (l *Link) Latency() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.latency
}

// SetLoss makes the link lose packets, as TCP sees it: each chunk of bytes
// (what one write on the wrapped connection, or one read of the real one,
// carries) is lost with probability rate, and then again with the same
// probability on each retransmission; a chunk lost k times in a row is
// delivered k retransmission timeouts later, the timeout doubling each time
// (rto, 2*rto, 4*rto, ..., at most six times in a row). Bytes stay in
// order, so a stalled chunk holds up those behind it, as it does in TCP.
// A rate of zero ends the loss.
func (l *Link) SetLoss(rate float64, rto time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lossRate, l.rto = rate, rto
}

// stall draws the extra delay of one chunk under the link's loss.
func (l *Link) stall(rng *rand.Rand) time.Duration {
	l.mu.Lock()
	rate, rto := l.lossRate, l.rto
	l.mu.Unlock()
	if rate <= 0 {
		return 0
	}
	var d time.Duration
	for k := 0; k < maxRetransmissions && rng.Float64() < rate; k++ {
		d += rto << k
	}
	return d
}

// Blackhole stops delivering bytes in both directions until Restore; bytes
// sent meanwhile wait (writers block once buffers fill), and new
// connections over the link hang.
func (l *Link) Blackhole() {
	l.BlackholeDirection(Forward)
	l.BlackholeDirection(Backward)
}

// BlackholeDirection stops delivering bytes in one direction until
// Restore, as a one-way partition does: bytes the other way still flow on
// connections that exist. New connections over the link hang, since a TCP
// handshake needs both directions.
func (l *Link) BlackholeDirection(d Direction) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.holes[d] == nil {
		l.holes[d] = make(chan struct{})
	}
}

// Restore ends a blackhole of either direction; held bytes flow again.
func (l *Link) Restore() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, h := range l.holes {
		if h != nil {
			close(h)
			l.holes[i] = nil
		}
	}
}

// Blackholed reports whether the link is blackholed in either direction.
func (l *Link) Blackholed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.holes[Forward] != nil || l.holes[Backward] != nil
}

// BlackholedDirection reports whether one direction is blackholed.
func (l *Link) BlackholedDirection(d Direction) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.holes[d] != nil
}

// Reset closes every connection now behind the link, as a reset would; it
// returns how many.
func (l *Link) Reset() int {
	l.mu.Lock()
	relays := make([]*relay, 0, len(l.relays))
	for r := range l.relays {
		relays = append(relays, r)
	}
	l.mu.Unlock()
	for _, r := range relays {
		r.close()
	}
	return len(relays)
}

// Close resets the link and waits until its relays have stopped.
// Connections wrapped later are closed at once.
func (l *Link) Close() {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	l.Reset()
	l.wg.Wait()
}

// waitOpen blocks while any of dirs is blackholed; it returns false if
// done is closed first.
func (l *Link) waitOpen(done <-chan struct{}, dirs ...Direction) bool {
	for {
		var hole chan struct{}
		l.mu.Lock()
		for _, d := range dirs {
			if l.holes[d] != nil {
				hole = l.holes[d]
				break
			}
		}
		l.mu.Unlock()
		if hole == nil {
			return true
		}
		select {
		case <-hole:
		case <-done:
			return false
		}
	}
}

// Listener returns a listener whose accepted connections are behind link.
func Listener(ln net.Listener, link *Link) net.Listener {
	return &listener{Listener: ln, link: link}
}

type listener struct {
	net.Listener
	link *Link
}

func (ln *listener) Accept() (net.Conn, error) {
	c, err := ln.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return Wrap(c, ln.link), nil
}

// Wrap returns a connection that exchanges bytes with c through link: the
// caller uses the returned connection, and two relays carry its bytes to c
// (Forward) and back (Backward), each delayed by the link's latency and
// loss and held while its direction is blackholed. Deadlines work as on any
// connection. Closing the returned connection closes c once the bytes
// already written have been delivered.
func Wrap(c net.Conn, link *Link) net.Conn {
	return wrap(c, link, Forward)
}

// wrap is Wrap with the direction the caller's bytes take on link.
func wrap(c net.Conn, link *Link, out Direction) net.Conn {
	app, inner := net.Pipe()
	r := &relay{link: link, inner: inner, peer: c, done: make(chan struct{})}
	link.mu.Lock()
	closed := link.closed
	if !closed {
		link.relays[r] = struct{}{}
		link.wg.Add(4)
	}
	link.mu.Unlock()
	if closed {
		c.Close()
		inner.Close()
		return &conn{Conn: app, local: c.LocalAddr(), remote: c.RemoteAddr()}
	}
	go r.pump(inner, c, out)
	go r.pump(c, inner, 1-out)
	return &conn{Conn: app, local: c.LocalAddr(), remote: c.RemoteAddr()}
}

// conn is the caller's end of a relay; it reports the real addresses.
type conn struct {
	net.Conn
	local, remote net.Addr
}

func (c *conn) LocalAddr() net.Addr  { return c.local }
func (c *conn) RemoteAddr() net.Addr { return c.remote }

type relay struct {
	link  *Link
	inner net.Conn // the relay's end of the caller's pipe
	peer  net.Conn // the real connection
	done  chan struct{}
	once  sync.Once
}

func (r *relay) close() {
	r.once.Do(func() {
		close(r.done)
		r.inner.Close()
		r.peer.Close()
		r.link.mu.Lock()
		delete(r.link.relays, r)
		r.link.mu.Unlock()
	})
}

type chunk struct {
	data []byte
	due  time.Time
}

// pump carries bytes from src to dst in direction dir, each chunk
// delivered no earlier than the latency (and any loss stall) after it was
// read, and none while dir is blackholed. When src ends, the chunks read
// are delivered and then the whole relay closes.
func (r *relay) pump(src, dst net.Conn, dir Direction) {
	q := make(chan chunk, 64)
	rng := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	go func() {
		defer r.link.wg.Done()
		defer close(q)
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			if n > 0 {
				select {
				case q <- chunk{data: buf[:n], due: time.Now().Add(r.link.Latency() + r.link.stall(rng))}:
				case <-r.done:
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	defer r.link.wg.Done()
	defer r.close()
	for c := range q {
		if !r.sleepUntil(c.due) || !r.link.waitOpen(r.done, dir) {
			return
		}
		if _, err := dst.Write(c.data); err != nil {
			return
		}
	}
}

func (r *relay) sleepUntil(t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return true
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-r.done:
		return false
	}
}
