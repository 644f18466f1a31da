package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/mtls"
	"github.com/accordfed/accord/node/grpcserver"
)

// ErrUnserved is returned by [Gateway.Register] for a service of the local
// API that the gateway has no handlers for.
var ErrUnserved = errors.New("local-API service not served by the JSON gateway")

// OpenAPIPath is where the gateway serves the OpenAPI document.
const OpenAPIPath = "/v1/openapi.json"

// Options are what a gateway needs from its node.
type Options struct {
	// TLS is the node's TLS material: the HTTPS listener's certificate and
	// the verification of clients' certificates, as on the gRPC listeners.
	TLS *mtls.Source
	// Policy is the local API's authorisation policy. The gateway asks it
	// only for the OpenAPI document, which it allows to whoever may list the
	// gRPC services (reflection); every API call is authorised by the gRPC
	// server itself.
	Policy *grpcserver.Policy
	// GRPC is the local API server's configuration: message sizes, streams
	// per connection, connection age and header limits apply to HTTP too.
	GRPC grpcserver.Config
	// Version is the node's build, the OpenAPI document's info.version.
	Version string
	// Logger may be nil.
	Logger *slog.Logger
}

// Gateway is the local API's JSON gateway.
type Gateway struct {
	opts    Options
	logger  *slog.Logger
	inner   *innerListener
	mux     *runtime.ServeMux
	openapi []byte
	srv     *http.Server

	mu    sync.Mutex
	conns map[net.Conn]*httpConn
}

// New builds a gateway. Then: give the local API's gRPC server
// [Gateway.Credentials], register the services on it, call
// [Gateway.Register] with its services, serve [Gateway.Listener] with it,
// and [Gateway.Serve] an HTTPS listener.
func New(opts Options) (*Gateway, error) {
	if opts.TLS == nil || opts.Policy == nil {
		return nil, errors.New("gateway: TLS and Policy are required")
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	doc, err := openAPIDocument(opts.Version)
	if err != nil {
		return nil, err
	}
	g := &Gateway{opts: opts, logger: logger, inner: newInnerListener(), openapi: doc, conns: map[net.Conn]*httpConn{}}
	g.mux = runtime.NewServeMux(
		// The API's own JSON mapping (protojson with the .proto files'
		// field names, as accordctl -o json prints it; requests may use
		// either form); a field the schema does not know is refused with
		// 400 naming it, rather than silently dropped.
		runtime.WithMarshalerOption(runtime.MIMEWildcard, &runtime.HTTPBodyMarshaler{Marshaler: &runtime.JSONPb{
			MarshalOptions:   protojson.MarshalOptions{UseProtoNames: true},
			UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false},
		}}),
		// No header becomes gRPC metadata: who calls is the connection's
		// certificate, and nothing else a client sends is trusted.
		runtime.WithIncomingHeaderMatcher(func(string) (string, bool) { return "", false }),
		runtime.WithErrorHandler(writeError),
	)
	g.srv = &http.Server{
		Handler:           g,
		ReadHeaderTimeout: opts.GRPC.HandshakeTimeout,
		IdleTimeout:       opts.GRPC.KeepaliveTime + opts.GRPC.KeepaliveTimeout,
		MaxHeaderBytes:    int(opts.GRPC.MaxHeaderListBytes),
		HTTP2: &http.HTTP2Config{
			MaxConcurrentStreams: int(opts.GRPC.MaxConcurrentStreams),
		},
		ConnContext: g.connContext,
		ConnState:   g.connState,
		// Refused handshakes are counted and logged by the TLS material
		// already (accord_tls_peer_refused_total).
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
	}
	return g, nil
}

// Credentials wraps the local API server's transport credentials so that
// the gateway's in-process connections are accepted with the TLS state of
// the HTTPS connection they serve; every other connection goes through
// creds' handshake.
func (g *Gateway) Credentials(creds credentials.TransportCredentials) credentials.TransportCredentials {
	return serverCreds{TransportCredentials: creds}
}

// Listener is what the local API's gRPC server serves the gateway on, next
// to its TCP listener.
func (g *Gateway) Listener() net.Listener { return g.inner }

// skipped are services of the local gRPC server that are not part of the
// API: health and the service listing have gRPC clients only.
var skipped = []string{
	"grpc.health.v1.Health",
	"grpc.reflection.v1.ServerReflection",
	"grpc.reflection.v1alpha.ServerReflection",
}

// Register routes the HTTP paths of every service in services (the local
// gRPC server's GetServiceInfo). A service without handlers in this
// package is an error: add it to the handlers table (handlers.go).
func (g *Gateway) Register(services map[string]grpc.ServiceInfo) error {
	var missing []string
	for name := range services {
		if slices.Contains(skipped, name) {
			continue
		}
		reg, ok := handlers[name]
		if !ok {
			missing = append(missing, name)
			continue
		}
		if err := reg(context.Background(), g.mux, router{}); err != nil {
			return fmt.Errorf("gateway: %s: %w", name, err)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return fmt.Errorf("%w: %v (node/gateway/handlers.go)", ErrUnserved, missing)
	}
	return nil
}

// Serve serves HTTPS on ln until Shutdown or Close; it returns
// http.ErrServerClosed then.
func (g *Gateway) Serve(ln net.Listener) error {
	return g.srv.Serve(tls.NewListener(ln, g.tlsConfig()))
}

// tlsConfig is the node's server configuration (client certificate
// demanded and verified against the current trust material) with HTTP/1.1
// offered besides HTTP/2.
func (g *Gateway) tlsConfig() *tls.Config {
	base := g.opts.TLS.ServerConfig()
	protos := []string{"h2", "http/1.1"}
	return &tls.Config{
		MinVersion: base.MinVersion,
		NextProtos: protos,
		GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			c, err := base.GetConfigForClient(hello)
			if c != nil {
				c.NextProtos = protos
			}
			return c, err
		},
	}
}

// Shutdown stops accepting and waits for the requests in flight until ctx
// ends; Close cuts them.
func (g *Gateway) Shutdown(ctx context.Context) error {
	err := g.srv.Shutdown(ctx)
	g.closeConns()
	return err
}

// Close closes the listener and every connection.
func (g *Gateway) Close() error {
	err := g.srv.Close()
	g.closeConns()
	return err
}

func (g *Gateway) closeConns() {
	g.mu.Lock()
	conns := g.conns
	g.conns = map[net.Conn]*httpConn{}
	g.mu.Unlock()
	for _, hc := range conns {
		hc.close()
	}
}

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

func (g *Gateway) connContext(ctx context.Context, c net.Conn) context.Context {
	hc := &httpConn{conn: c, start: time.Now()}
	g.mu.Lock()
	g.conns[c] = hc
	g.mu.Unlock()
	return context.WithValue(ctx, connKey{}, hc)
}

func (g *Gateway) connState(c net.Conn, st http.ConnState) {
	if st != http.StateClosed && st != http.StateHijacked {
		return
	}
	g.mu.Lock()
	hc := g.conns[c]
	delete(g.conns, c)
	g.mu.Unlock()
	if hc != nil {
		hc.close()
	}
}

// client returns the connection's gRPC client, made on its first request
// with the connection's verified TLS state.
func (hc *httpConn) client(g *Gateway, state *tls.ConnectionState) (*grpc.ClientConn, error) {
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
			return g.inner.dial(ctx, state, remote)
		}),
		// The connection is a pipe inside the process; the server side
		// takes the HTTPS connection's TLS state (serverCreds).
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(g.opts.GRPC.MaxSendMsgBytes),
			grpc.MaxCallSendMsgSize(g.opts.GRPC.MaxRecvMsgBytes),
		),
	)
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	hc.cc = cc
	// A reload of the trust material that revokes or distrusts the
	// client closes the HTTPS connection, as it does gRPC connections.
	hc.forget = g.opts.TLS.TrackConn(hc.conn, state.PeerCertificates)
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

type clientKey struct{}

// ServeHTTP serves one request: the OpenAPI document, or a call of the
// local API on the connection's gRPC client.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hc, _ := r.Context().Value(connKey{}).(*httpConn)
	if hc == nil || r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		// Not reachable through Serve (the handshake demands a verified
		// certificate); a handler mounted elsewhere must not serve.
		writeStatus(w, status.New(codes.Unauthenticated, "a client certificate is required"))
		return
	}
	if time.Since(hc.start) > g.opts.GRPC.MaxConnectionAge {
		// As the gRPC server does, make the client reconnect now and then,
		// so that its certificate is verified again against current CRLs:
		// HTTP/1.1 closes after this response, HTTP/2 sends GOAWAY.
		w.Header().Set("Connection", "close")
	}
	if r.URL.Path == OpenAPIPath {
		g.serveOpenAPI(w, r)
		return
	}
	cc, err := hc.client(g, r.TLS)
	if err != nil {
		writeStatus(w, status.Convert(err))
		return
	}
	// ImportCases streams both ways: over HTTP/1.1 too, answers may be
	// written while the request body is still read.
	_ = http.NewResponseController(w).EnableFullDuplex()
	if r.Body != nil {
		r.Body = newValueLimit(r.Body, int64(jsonExpansion)*int64(g.opts.GRPC.MaxRecvMsgBytes))
	}
	g.mux.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), clientKey{}, cc)))
}

// serveOpenAPI serves the OpenAPI document to whoever may list the local
// API's gRPC services.
func (g *Gateway) serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeStatus(w, status.New(codes.Unimplemented, r.Method+" "+OpenAPIPath+": only GET"))
		return
	}
	id, err := identity.FromCertificate(r.TLS.PeerCertificates[0])
	if err != nil {
		writeStatus(w, status.New(codes.Unauthenticated, err.Error()))
		return
	}
	if err := g.opts.Policy.Check(reflectionMethod, id); err != nil {
		writeStatus(w, status.New(codes.PermissionDenied, err.Error()))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(g.openapi)
}

const reflectionMethod = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"

// router is the gRPC client connection of the generated handlers: it sends
// each call on the connection of the HTTPS connection the request came on.
type router struct{}

func (router) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	cc, ok := ctx.Value(clientKey{}).(*grpc.ClientConn)
	if !ok {
		return status.Error(codes.Internal, "gateway: request without a connection")
	}
	return cc.Invoke(ctx, method, args, reply, opts...)
}

func (router) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	cc, ok := ctx.Value(clientKey{}).(*grpc.ClientConn)
	if !ok {
		return nil, status.Error(codes.Internal, "gateway: request without a connection")
	}
	return cc.NewStream(ctx, desc, method, opts...)
}
