package raftnettest

import (
	"net"
	"sync"
	"time"
)

// Link is the faults of one network path: a one-way latency applied to
// each direction and a blackhole. Connections behind a Link follow changes
// at once. It is safe for concurrent use; the zero value is not usable.
type Link struct {
	mu      sync.Mutex
	latency time.Duration
	hole    chan struct{} // non-nil while blackholed; closed by Restore
	relays  map[*relay]struct{}
	closed  bool
	wg      sync.WaitGroup
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

// Blackhole stops delivering bytes in both directions until Restore; bytes
// sent meanwhile wait (writers block once buffers fill), and new
// connections over the link hang.
func (l *Link) Blackhole() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.hole == nil {
		l.hole = make(chan struct{})
	}
}

// Restore ends a blackhole; held bytes flow again.
func (l *Link) Restore() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.hole != nil {
		close(l.hole)
		l.hole = nil
	}
}

// Blackholed reports whether the link is blackholed.
func (l *Link) Blackholed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.hole != nil
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

// waitOpen blocks while the link is blackholed; it returns false if done
// is closed first.
func (l *Link) waitOpen(done <-chan struct{}) bool {
	for {
		l.mu.Lock()
		hole := l.hole
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
// and back, each delayed by the link's latency and held while it is
// blackholed. Deadlines work as on any connection. Closing the returned
// connection closes c once the bytes already written have been delivered.
func Wrap(c net.Conn, link *Link) net.Conn {
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
	go r.pump(inner, c)
	go r.pump(c, inner)
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

// pump carries bytes from src to dst, each chunk delivered no earlier
// than the latency after it was read, and none while blackholed. When src
// ends, the chunks read are delivered and then the whole relay closes.
func (r *relay) pump(src, dst net.Conn) {
	q := make(chan chunk, 64)
	go func() {
		defer r.link.wg.Done()
		defer close(q)
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			if n > 0 {
				select {
				case q <- chunk{data: buf[:n], due: time.Now().Add(r.link.Latency())}:
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
		if !r.sleepUntil(c.due) || !r.link.waitOpen(r.done) {
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
