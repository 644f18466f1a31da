package grpcserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/encoding"
	protoenc "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"

	"github.com/accordfed/accord/federation/identity"
)

// ErrConfig is wrapped by every configuration error.
var ErrConfig = errors.New("invalid gRPC server configuration")

// Config holds the server's limits.
type Config struct {
	// MaxRecvMsgBytes is the largest message the server accepts (default
	// 4 MiB).
	MaxRecvMsgBytes int `yaml:"max_recv_msg_bytes"`
	// MaxSendMsgBytes is the largest message the server sends (default
	// 16 MiB).
	MaxSendMsgBytes int `yaml:"max_send_msg_bytes"`
	// MaxConcurrentStreams bounds the concurrent streams (RPCs) of one
	// connection (default 256).
	MaxConcurrentStreams uint32 `yaml:"max_concurrent_streams"`
	// MaxConnectionAge bounds how long a connection lives before the server
	// asks the client to reconnect (default 5m), so that every peer is
	// re-verified against current CRLs and trust bundle at least this often.
	MaxConnectionAge time.Duration `yaml:"max_connection_age"`
	// MaxConnectionAgeGrace is how long RPCs may still run on a connection
	// past its age (default 30s).
	MaxConnectionAgeGrace time.Duration `yaml:"max_connection_age_grace"`
	// KeepaliveTime is how long a connection may be idle before the server
	// pings the client (default 1m).
	KeepaliveTime time.Duration `yaml:"keepalive_time"`
	// KeepaliveTimeout is how long the server waits for the ping's answer
	// before closing the connection (default 20s).
	KeepaliveTimeout time.Duration `yaml:"keepalive_timeout"`
	// KeepaliveMinTime is the shortest interval between client pings the
	// server tolerates; clients that ping more often are disconnected
	// (default 10s).
	KeepaliveMinTime time.Duration `yaml:"keepalive_min_time"`
	// HandshakeTimeout bounds the TLS handshake of a new connection (default
	// 10s).
	HandshakeTimeout time.Duration `yaml:"handshake_timeout"`
	// MaxHeaderListBytes is the largest header list (request metadata,
	// uncompressed) the server accepts on a stream (default 64 KiB); a
	// connection that sends much more is closed. Accord's clients send a few
	// hundred bytes.
	MaxHeaderListBytes uint32 `yaml:"max_header_list_bytes"`
}

// Normalize fills in defaults.
func (c *Config) Normalize() {
	def := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	if c.MaxRecvMsgBytes == 0 {
		c.MaxRecvMsgBytes = 4 << 20
	}
	if c.MaxSendMsgBytes == 0 {
		c.MaxSendMsgBytes = 16 << 20
	}
	if c.MaxConcurrentStreams == 0 {
		c.MaxConcurrentStreams = 256
	}
	def(&c.MaxConnectionAge, 5*time.Minute)
	def(&c.MaxConnectionAgeGrace, 30*time.Second)
	def(&c.KeepaliveTime, time.Minute)
	def(&c.KeepaliveTimeout, 20*time.Second)
	def(&c.KeepaliveMinTime, 10*time.Second)
	def(&c.HandshakeTimeout, 10*time.Second)
	if c.MaxHeaderListBytes == 0 {
		c.MaxHeaderListBytes = 64 << 10
	}
}

// Validate checks the limits; prefix names the enclosing field in messages.
// It reports every problem, joined with errors.Join (nil when there is
// none).
func (c *Config) Validate(prefix string) error {
	var errs []error
	if c.MaxRecvMsgBytes < 1024 || c.MaxRecvMsgBytes > 256<<20 {
		errs = append(errs, fmt.Errorf("%w: %s.max_recv_msg_bytes: %d: must be between 1024 and 268435456", ErrConfig, prefix, c.MaxRecvMsgBytes))
	}
	if c.MaxSendMsgBytes < 1024 || c.MaxSendMsgBytes > 256<<20 {
		errs = append(errs, fmt.Errorf("%w: %s.max_send_msg_bytes: %d: must be between 1024 and 268435456", ErrConfig, prefix, c.MaxSendMsgBytes))
	}
	if c.MaxConcurrentStreams > 1<<16 {
		errs = append(errs, fmt.Errorf("%w: %s.max_concurrent_streams: %d: must be at most 65536", ErrConfig, prefix, c.MaxConcurrentStreams))
	}
	if c.MaxHeaderListBytes < 4<<10 || c.MaxHeaderListBytes > 16<<20 {
		errs = append(errs, fmt.Errorf("%w: %s.max_header_list_bytes: %d: must be between 4096 and 16777216", ErrConfig, prefix, c.MaxHeaderListBytes))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
		min  time.Duration
	}{
		{"max_connection_age", c.MaxConnectionAge, time.Second},
		{"max_connection_age_grace", c.MaxConnectionAgeGrace, 0},
		{"keepalive_time", c.KeepaliveTime, time.Second},
		{"keepalive_timeout", c.KeepaliveTimeout, time.Second},
		{"keepalive_min_time", c.KeepaliveMinTime, time.Second},
		{"handshake_timeout", c.HandshakeTimeout, 100 * time.Millisecond},
	} {
		if d.v < d.min {
			errs = append(errs, fmt.Errorf("%w: %s.%s: %s: must be at least %s", ErrConfig, prefix, d.name, d.v, d.min))
		}
	}
	return errors.Join(errs...)
}

// Rule decides whether a verified identity may call a method.
type Rule func(id identity.Identity) error

// AnyPrincipal lets every verified node and user of the federation call.
func AnyPrincipal(identity.Identity) error { return nil }

// AnyNode lets every verified node of the federation call, and no user.
func AnyNode(id identity.Identity) error {
	if id.Kind != identity.KindNode {
		return fmt.Errorf("%w: only member nodes may call this method, not %s", ErrPermissionDenied, id)
	}
	return nil
}

// NodeOrUserOf lets every verified node of the federation call, and the
// users of member (the node's own office): never another member's users,
// who have nothing to ask of this node's federation listener.
func NodeOrUserOf(member string) Rule {
	return func(id identity.Identity) error {
		if id.Kind == identity.KindNode || id.Member == member {
			return nil
		}
		return fmt.Errorf("%w: this listener serves member nodes and users of %s only, not %s", ErrPermissionDenied, member, id)
	}
}

// Policy says who may call which method. A method no rule covers is denied.
type Policy struct {
	rules map[string]Rule // full method ("/pkg.Service/Method") or service prefix ("/pkg.Service/")
}

// NewPolicy returns a policy that lets verified member nodes use the
// health and reflection services and denies everything else: a listener
// that serves users says which users (their own office's, see
// [NodeOrUserOf]) with [Policy.AllowIntrospection].
func NewPolicy() *Policy {
	p := &Policy{rules: map[string]Rule{}}
	p.AllowIntrospection(AnyNode)
	return p
}

// AllowIntrospection sets the rule of the health and reflection services
// (the service listing).
func (p *Policy) AllowIntrospection(r Rule) {
	p.Allow("/"+healthpb.Health_ServiceDesc.ServiceName+"/", r)
	p.Allow("/grpc.reflection.v1.ServerReflection/", r)
	p.Allow("/grpc.reflection.v1alpha.ServerReflection/", r)
}

// Allow sets the rule for a full method name or, when it ends in "/", for
// every method of a service.
func (p *Policy) Allow(method string, r Rule) { p.rules[method] = r }

// Check applies the rule for a method.
func (p *Policy) Check(fullMethod string, id identity.Identity) error {
	if r, ok := p.rules[fullMethod]; ok {
		return r(id)
	}
	if i := strings.LastIndex(fullMethod, "/"); i >= 0 {
		if r, ok := p.rules[fullMethod[:i+1]]; ok {
			return r(id)
		}
	}
	return fmt.Errorf("%w: no rule allows %s", ErrPermissionDenied, fullMethod)
}

// Metrics are the server's Prometheus metrics.
type Metrics struct {
	rpcs     *prometheus.CounterVec
	duration *prometheus.HistogramVec
	panics   prometheus.Counter
}

// NewMetrics registers the server's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		rpcs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "accord_grpc_server_handled_total", Help: "RPCs completed by the server, by method and status code.",
		}, []string{"method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "accord_grpc_server_handling_seconds", Help: "Time to handle an RPC, by method.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"method"}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "accord_grpc_server_panics_total", Help: "Handler panics recovered (answered with Internal).",
		}),
	}
	reg.MustRegister(m.rpcs, m.duration, m.panics)
	return m
}

// Server is a built gRPC server, its health service and the policy it
// applies (rules may be added until the server serves).
type Server struct {
	GRPC   *grpc.Server
	Health *health.Server
	Policy *Policy
}

// New builds the server. Register services on s.GRPC, then Serve a
// listener. creds must be mutual TLS (mtls.Source.ServerCredentials); metrics
// and logger may be nil.
func New(cfg Config, creds credentials.TransportCredentials, policy *Policy, metrics *Metrics, logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if policy == nil {
		policy = NewPolicy()
	}
	ic := &interceptors{policy: policy, metrics: metrics, logger: logger}
	g := grpc.NewServer(
		grpc.Creds(creds),
		grpc.ForceServerCodecV2(requestCodec{proto: encoding.GetCodecV2(protoenc.Name)}),
		grpc.MaxHeaderListSize(cfg.MaxHeaderListBytes),
		grpc.ChainUnaryInterceptor(ic.unary),
		grpc.ChainStreamInterceptor(ic.stream),
		grpc.MaxRecvMsgSize(cfg.MaxRecvMsgBytes),
		grpc.MaxSendMsgSize(cfg.MaxSendMsgBytes),
		grpc.MaxConcurrentStreams(cfg.MaxConcurrentStreams),
		grpc.ConnectionTimeout(cfg.HandshakeTimeout),
		grpc.KeepaliveParams(keepalive.ServerParameters{
			MaxConnectionAge:      cfg.MaxConnectionAge,
			MaxConnectionAgeGrace: cfg.MaxConnectionAgeGrace,
			Time:                  cfg.KeepaliveTime,
			Timeout:               cfg.KeepaliveTimeout,
		}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{
			MinTime:             cfg.KeepaliveMinTime,
			PermitWithoutStream: true,
		}),
	)
	hs := health.NewServer()
	healthpb.RegisterHealthServer(g, hs)
	reflection.Register(g)
	return &Server{GRPC: g, Health: hs, Policy: policy}
}

// interceptors run, in order: recovery, metrics and logging, identity and
// authorisation, then the handler; handler errors are mapped to statuses on
// the way out.
type interceptors struct {
	policy  *Policy
	metrics *Metrics
	logger  *slog.Logger
}

func (ic *interceptors) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	start := time.Now()
	defer func() {
		if r := recover(); r != nil {
			err = ic.recovered(info.FullMethod, r)
		}
		ic.observe(ctx, info.FullMethod, start, err)
	}()
	ctx, err = ic.authorise(ctx, info.FullMethod)
	if err != nil {
		return nil, err
	}
	resp, err = handler(ctx, req)
	return resp, ic.toStatus(info.FullMethod, err)
}

func (ic *interceptors) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
	start := time.Now()
	ctx := ss.Context()
	defer func() {
		if r := recover(); r != nil {
			err = ic.recovered(info.FullMethod, r)
		}
		ic.observe(ctx, info.FullMethod, start, err)
	}()
	actx, err := ic.authorise(ctx, info.FullMethod)
	if err != nil {
		return err
	}
	return ic.toStatus(info.FullMethod, handler(srv, &identityStream{ServerStream: ss, ctx: actx}))
}

// toStatus maps a handler's error to a status; an error that becomes a bare
// Internal is logged in full here, since the caller only sees "internal
// error".
func (ic *interceptors) toStatus(method string, err error) error {
	st := ToStatus(err)
	if _, isStatus := status.FromError(err); !isStatus && status.Code(st) == codes.Internal {
		ic.logger.Error("handler error", "method", method, "err", err)
	}
	return st
}

// authorise reads the caller's identity from its verified certificate and
// applies the policy.
func (ic *interceptors) authorise(ctx context.Context, method string) (context.Context, error) {
	id, _, err := identity.FromPeer(ctx)
	if err != nil {
		return ctx, status.Error(codes.Unauthenticated, err.Error())
	}
	if err := ic.policy.Check(method, id); err != nil {
		return ctx, status.Error(codes.PermissionDenied, err.Error())
	}
	return identity.NewContext(ctx, id), nil
}

func (ic *interceptors) recovered(method string, r any) error {
	// The stack goes to the node's log only; the caller learns nothing of
	// the server's internals. The panic's value is logged only when the
	// runtime raised it (an index out of range, a nil dereference): a value
	// a handler panicked with may be made of the request, and requests
	// carry names of persons, which never go to the log.
	what := fmt.Sprintf("panic(%T)", r)
	if re, ok := r.(runtime.Error); ok {
		what = re.Error()
	}
	ic.logger.Error("handler panic", "method", method, "panic", what, "stack", string(debug.Stack()))
	if ic.metrics != nil {
		ic.metrics.panics.Inc()
	}
	return status.Error(codes.Internal, "internal error")
}

func (ic *interceptors) observe(ctx context.Context, method string, start time.Time, err error) {
	code := status.Code(err)
	elapsed := time.Since(start)
	if ic.metrics != nil {
		ic.metrics.rpcs.WithLabelValues(method, code.String()).Inc()
		ic.metrics.duration.WithLabelValues(method).Observe(elapsed.Seconds())
	}
	attrs := []any{"method", method, "code", code.String(), "duration", elapsed}
	if id, _, e := identity.FromPeer(ctx); e == nil {
		attrs = append(attrs, "peer", id.String())
	}
	switch code {
	case codes.OK:
		ic.logger.Debug("rpc", attrs...)
	case codes.Internal, codes.Unknown, codes.DataLoss:
		ic.logger.Error("rpc", append(attrs, "err", err)...)
	default:
		ic.logger.Info("rpc", append(attrs, "err", err)...)
	}
}

type identityStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *identityStream) Context() context.Context { return s.ctx }
