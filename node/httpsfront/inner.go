package httpsfront

import (
	"context"
	"crypto/tls"
	"net"
	"sync"

	"google.golang.org/grpc/credentials"
)

// innerListener hands the front's in-process connections to the local
// API's gRPC server, which serves it besides its TCP listener.
type innerListener struct {
	conns chan *innerConn
	done  chan struct{}
	once  sync.Once
}

func newInnerListener() *innerListener {
	return &innerListener{conns: make(chan *innerConn), done: make(chan struct{})}
}

// Accept waits for the next in-process connection.
func (l *innerListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops accepting; connections already made stay open.
func (l *innerListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

// Addr names the listener in logs.
func (l *innerListener) Addr() net.Addr { return innerAddr{} }

// dial makes a connection to the gRPC server for the HTTPS client whose
// verified TLS state is state and whose address is remote.
func (l *innerListener) dial(ctx context.Context, state *tls.ConnectionState, remote net.Addr) (net.Conn, error) {
	server, client := net.Pipe()
	select {
	case l.conns <- &innerConn{Conn: server, state: state, remote: remote}:
		return client, nil
	case <-l.done:
		server.Close()
		client.Close()
		return nil, net.ErrClosed
	case <-ctx.Done():
		server.Close()
		client.Close()
		return nil, ctx.Err()
	}
}

type innerAddr struct{}

func (innerAddr) Network() string { return "pipe" }
func (innerAddr) String() string  { return "https-front" }

// innerConn is the gRPC server's end of an in-process connection. Only
// innerListener.dial makes one.
type innerConn struct {
	net.Conn
	state  *tls.ConnectionState
	remote net.Addr
}

// RemoteAddr is the HTTPS client's address, so that the server's logs name
// the office's system or browser rather than the front.
func (c *innerConn) RemoteAddr() net.Addr { return c.remote }

// serverCreds are the local API server's transport credentials: an
// in-process connection is already authenticated (its TLS state is the HTTPS
// connection's, verified by the same trust material), every other
// connection goes through the mutual-TLS handshake of creds.
type serverCreds struct {
	credentials.TransportCredentials
}

func (c serverCreds) ServerHandshake(raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	if ic, ok := raw.(*innerConn); ok {
		return ic, credentials.TLSInfo{
			State:          *ic.state,
			CommonAuthInfo: credentials.CommonAuthInfo{SecurityLevel: credentials.PrivacyAndIntegrity},
		}, nil
	}
	return c.TransportCredentials.ServerHandshake(raw)
}

func (c serverCreds) Clone() credentials.TransportCredentials {
	return serverCreds{TransportCredentials: c.TransportCredentials.Clone()}
}
