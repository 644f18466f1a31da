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

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/node/grpcserver"
	"github.com/accordfed/accord/node/httpsfront"
)

// ErrUnserved is returned by [Gateway.Register] for a service of the local
// API that the gateway has no handlers for.
var ErrUnserved = errors.New("local-API service not served by the JSON gateway")

// OpenAPIPath is where the gateway serves the OpenAPI document.
const OpenAPIPath = "/v1/openapi.json"

// Options are what a gateway needs from its node.
type Options struct {
	// Front is the local API server's HTTPS front: the listener's
	// certificate and the verification of clients' certificates (the
	// node's TLS material, as on the gRPC listeners), and each HTTPS
	// connection's in-process connection to the gRPC server.
	Front *httpsfront.Front
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
	mux     *runtime.ServeMux
	openapi []byte
	srv     *http.Server
	conns   *httpsfront.Conns
}

// New builds a gateway. Then: give the local API's gRPC server the
// front's credentials, register the services on it, call
// [Gateway.Register] with its services, serve the front's listener with
// it, and [Gateway.Serve] an HTTPS listener.
func New(opts Options) (*Gateway, error) {
	if opts.Front == nil || opts.Policy == nil {
		return nil, errors.New("gateway: Front and Policy are required")
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	doc, err := openAPIDocument(opts.Version)
	if err != nil {
		return nil, err
	}
	g := &Gateway{opts: opts, logger: logger, openapi: doc, conns: opts.Front.NewConns()}
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
		ConnContext: g.conns.ConnContext,
		ConnState:   g.conns.ConnState,
		// Refused handshakes are counted and logged by the TLS material
		// already (accord_tls_peer_refused_total).
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
	}
	return g, nil
}

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
	return g.srv.Serve(tls.NewListener(ln, g.opts.Front.TLSConfig([]string{"h2", "http/1.1"}, nil, nil)))
}

// Shutdown stops accepting and waits for the requests in flight until ctx
// ends; Close cuts them.
func (g *Gateway) Shutdown(ctx context.Context) error {
	err := g.srv.Shutdown(ctx)
	g.conns.Close()
	return err
}

// Close closes the listener and every connection.
func (g *Gateway) Close() error {
	err := g.srv.Close()
	g.conns.Close()
	return err
}

type clientKey struct{}

// ServeHTTP serves one request: the OpenAPI document, or a call of the
// local API on the connection's gRPC client.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		// Not reachable through Serve (the handshake demands a verified
		// certificate); a handler mounted elsewhere must not serve.
		writeStatus(w, status.New(codes.Unauthenticated, httpsfront.ErrNoCertificate.Error()))
		return
	}
	if g.conns.Aged(r) {
		// As the gRPC server does, make the client reconnect now and then,
		// so that its certificate is verified again against current CRLs:
		// HTTP/1.1 closes after this response, HTTP/2 sends GOAWAY.
		w.Header().Set("Connection", "close")
	}
	if r.URL.Path == OpenAPIPath {
		g.serveOpenAPI(w, r)
		return
	}
	cc, err := g.conns.Client(r)
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
