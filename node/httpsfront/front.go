package httpsfront

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/mtls"
	"github.com/accordfed/accord/node/grpcserver"
)

// ErrNoCertificate is returned by [Conns.Client] for a request that did
// not come over a verified TLS connection with a client certificate (a
// handler mounted outside a listener made with [Front.TLSConfig]).
var ErrNoCertificate = errors.New("a client certificate is required")

// Front is the in-process door of one local API gRPC server.
type Front struct {
	tls   *mtls.Source
	grpc  grpcserver.Config
	inner *innerListener
}

// New returns the front of the local API server whose TLS material is src
// and whose limits are cfg. Give the server [Front.Credentials] and serve
// [Front.Listener] with it.
func New(src *mtls.Source, cfg grpcserver.Config) *Front {
	return &Front{tls: src, grpc: cfg, inner: newInnerListener()}
}

// Credentials wraps the local API server's transport credentials so that
// the front's in-process connections are accepted with the TLS state of
// the HTTPS connection they serve; every other connection goes through
// creds' handshake.
func (f *Front) Credentials(creds credentials.TransportCredentials) credentials.TransportCredentials {
	return serverCreds{TransportCredentials: creds}
}

// Listener is what the local API's gRPC server serves the front on, next
// to its TCP listener.
func (f *Front) Listener() net.Listener { return f.inner }

// TLSConfig is the node's server configuration (a client certificate
// demanded and verified against the current trust material) offering
// protos. cert, when not nil, is the server's certificate instead of the
// node's (a web certificate that browsers check by name); accept, when not
// nil, may refuse a verified client further.
func (f *Front) TLSConfig(protos []string, cert *tls.Certificate, accept func(identity.Identity) error) *tls.Config {
	base := f.tls.ServerConfig()
	return &tls.Config{
		MinVersion: base.MinVersion,
		NextProtos: protos,
		GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			c, err := base.GetConfigForClient(hello)
			if c == nil || err != nil {
				return c, err
			}
			c.NextProtos = protos
			if cert != nil {
				c.Certificates = []tls.Certificate{*cert}
			}
			if accept != nil {
				verify := c.VerifyConnection
				c.VerifyConnection = func(cs tls.ConnectionState) error {
					if err := verify(cs); err != nil {
						return err
					}
					id, err := identity.FromCertificate(cs.PeerCertificates[0])
					if err != nil {
						return err
					}
					return accept(id)
				}
			}
			return c, nil
		},
	}
}

// Conns are the HTTPS connections of one http.Server and their in-process
// connections to the gRPC server: set the server's ConnContext and
// ConnState to theirs.
type Conns struct {
	f *Front

	mu    sync.Mutex
	conns map[net.Conn]*httpConn
}

// NewConns returns an empty set of connections.
func (f *Front) NewConns() *Conns { return &Conns{f: f, conns: map[net.Conn]*httpConn{}} }

// httpConn is one HTTPS connection and its connection to the gRPC server,
// made at its first request.
type httpConn struct {
	conn  net.Conn
	start time.Time

	mu     sync.Mutex
	cc     *grpc.ClientConn
	forget func()
	closed bool
}

type connKey struct{}

// ConnContext is the http.Server's ConnContext.
func (cs *Conns) ConnContext(ctx context.Context, c net.Conn) context.Context {
	hc := &httpConn{conn: c, start: time.Now()}
	cs.mu.Lock()
	cs.conns[c] = hc
	cs.mu.Unlock()
	return context.WithValue(ctx, connKey{}, hc)
}

// ConnState is the http.Server's ConnState: a closed connection's gRPC
// connection is closed.
func (cs *Conns) ConnState(c net.Conn, st http.ConnState) {
	if st != http.StateClosed && st != http.StateHijacked {
		return
	}
	cs.mu.Lock()
	hc := cs.conns[c]
	delete(cs.conns, c)
	cs.mu.Unlock()
	if hc != nil {
		hc.close()
	}
}

// Close closes every connection's gRPC connection.
func (cs *Conns) Close() {
	cs.mu.Lock()
	conns := cs.conns
	cs.conns = map[net.Conn]*httpConn{}
	cs.mu.Unlock()
	for _, hc := range conns {
		hc.close()
	}
}

// Client returns the gRPC client of the connection r arrived on, made on
// its first request with the connection's verified TLS state; its calls
// are the client certificate's.
func (cs *Conns) Client(r *http.Request) (*grpc.ClientConn, error) {
	hc, _ := r.Context().Value(connKey{}).(*httpConn)
	if hc == nil || r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		// Not reachable through a listener of TLSConfig (the handshake
		// demands a verified certificate); a handler mounted elsewhere
		// must not serve.
		return nil, status.Error(codes.Unauthenticated, ErrNoCertificate.Error())
	}
	return hc.client(cs.f, r.TLS)
}

// Aged reports whether the connection r arrived on is older than the local
// API's connection age: the caller should close it after this response
// ("Connection: close"; HTTP/2 sends GOAWAY), so that the client's
// certificate is verified again against current CRLs, as the gRPC server
// makes its clients reconnect.
func (cs *Conns) Aged(r *http.Request) bool {
	hc, _ := r.Context().Value(connKey{}).(*httpConn)
	return hc != nil && time.Since(hc.start) > cs.f.grpc.MaxConnectionAge
}

func (hc *httpConn) client(f *Front, state *tls.ConnectionState) (*grpc.ClientConn, error) {
	hc.mu.Lock()
	defer hc.mu.Unlock()
	if hc.closed {
		return nil, status.Error(codes.Unavailable, "the connection is closing")
	}
	if hc.cc != nil {
		return hc.cc, nil
	}
	remote := hc.conn.RemoteAddr()
	cc, err := grpc.NewClient("passthrough:///local-api",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			return f.inner.dial(ctx, state, remote)
		}),
		// The connection is a pipe inside the process; the server side
		// takes the HTTPS connection's TLS state (serverCreds).
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(f.grpc.MaxSendMsgBytes),
			grpc.MaxCallSendMsgSize(f.grpc.MaxRecvMsgBytes),
		),
	)
	if err != nil {
		return nil, fmt.Errorf("httpsfront: %w", err)
	}
	hc.cc = cc
	// A reload of the trust material that revokes or distrusts the
	// client closes the HTTPS connection, as it does gRPC connections.
	hc.forget = f.tls.TrackConn(hc.conn, state.PeerCertificates)
	return cc, nil
}

func (hc *httpConn) close() {
	hc.mu.Lock()
	defer hc.mu.Unlock()
	if hc.closed {
		return
	}
	hc.closed = true
	if hc.forget != nil {
		hc.forget()
	}
	if hc.cc != nil {
		_ = hc.cc.Close()
	}
}
