package grpcserver_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/mtls"
	"github.com/accordfed/accord/federation/peering"
	"github.com/accordfed/accord/federation/pki"
	"github.com/accordfed/accord/federation/pki/pkitest"
	"github.com/accordfed/accord/federation/trust"
	"github.com/accordfed/accord/node/grpcserver"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// countingService wraps the real WhoAmI and counts how often a handler ran.
type countingService struct {
	accordv1.UnimplementedFederationServiceServer
	inner *peering.Service
	calls atomic.Int64
	panic bool
}

func (c *countingService) WhoAmI(ctx context.Context, req *accordv1.WhoAmIRequest) (*accordv1.WhoAmIResponse, error) {
	c.calls.Add(1)
	if c.panic {
		panic("secret internal detail")
	}
	return c.inner.WhoAmI(ctx, req)
}

type refusals struct {
	mu      sync.Mutex
	reasons []string
}

func (r *refusals) add(side string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reasons = append(r.reasons, side+":"+trust.Reason(err))
}

func (r *refusals) last() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.reasons) == 0 {
		return ""
	}
	return r.reasons[len(r.reasons)-1]
}

type testServer struct {
	addr     string
	src      *mtls.Source
	svc      *countingService
	refused  *refusals
	registry *prometheus.Registry
}

func startServer(t testing.TB, cfg mtls.Config, policy *grpcserver.Policy, mutate func(*grpcserver.Config)) *testServer {
	t.Helper()
	ts := &testServer{refused: &refusals{}, registry: prometheus.NewRegistry()}
	src, err := mtls.NewSource(cfg, mtls.Hooks{Refused: ts.refused.add}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts.src = src
	var gc grpcserver.Config
	if mutate != nil {
		mutate(&gc)
	}
	gc.Normalize()
	if policy == nil {
		policy = grpcserver.NewPolicy()
		policy.Allow("/accord.v1.FederationService/", grpcserver.AnyPrincipal)
	}
	srv := grpcserver.New(gc, src.ServerCredentials(), policy, grpcserver.NewMetrics(ts.registry), nil)
	ts.svc = &countingService{inner: peering.NewService(src.Certificate, "test")}
	accordv1.RegisterFederationServiceServer(srv.GRPC, ts.svc)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts.addr = ln.Addr().String()
	go func() { _ = srv.GRPC.Serve(ln) }()
	t.Cleanup(srv.GRPC.Stop)
	return ts
}

// dial returns a client that presents cfg's certificate whatever CAs the
// server asks for (the Go client would silently omit a certificate the
// server's CA list does not name).
func dial(t testing.TB, addr string, cfg mtls.Config) *grpc.ClientConn {
	t.Helper()
	src, err := mtls.NewSource(cfg, mtls.Hooks{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return dialCreds(t, addr, src.ClientCredentials(nil))
}

// forceSend returns client credentials that present cfg's certificate,
// whatever it is, and do not check the server: for certificates that an
// honest node would not even load.
func forceSend(t testing.TB, cfg mtls.Config) credentials.TransportCredentials {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	return credentials.NewTLS(&tls.Config{
		MinVersion:           tls.VersionTLS13,
		InsecureSkipVerify:   true, //nolint:gosec // the test is about the server's checks
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil },
	})
}

func dialCreds(t testing.TB, addr string, creds credentials.TransportCredentials) *grpc.ClientConn {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

func whoami(cc *grpc.ClientConn) (*accordv1.WhoAmIResponse, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return accordv1.NewFederationServiceClient(cc).WhoAmI(ctx, &accordv1.WhoAmIRequest{})
}

func TestValidPeerIsServedAndSeenByCertificate(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA", "PL")
	ts := startServer(t, fed.Node("UA", "ua-1"), nil, nil)
	resp, err := whoami(dial(t, ts.addr, fed.Node("PL", "pl-1")))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := resp.GetCaller().GetSpiffeId(), "spiffe://accord.test/member/PL/node/pl-1"; got != want {
		t.Errorf("caller = %q, want %q", got, want)
	}
	if got := resp.GetServer().GetMember(); got != "UA" {
		t.Errorf("server member = %q, want UA", got)
	}
	if resp.GetTlsVersion() != "TLS 1.3" {
		t.Errorf("TLS version = %q, want TLS 1.3", resp.GetTlsVersion())
	}
	if ts.svc.calls.Load() != 1 {
		t.Errorf("handler ran %d times, want 1", ts.svc.calls.Load())
	}
}

// TestHandshakeRefusals checks every certificate the server must refuse at
// the handshake: the client sees Unavailable, the handler never runs, and
// the server recorded the expected reason.
func TestHandshakeRefusals(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA", "PL")
	ts := startServer(t, fed.Node("UA", "ua-1"), nil, nil)

	outsider, err := pki.NewCA(pki.CAOptions{Federation: "accord.test", Member: "PL"})
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := pki.NewCA(pki.CAOptions{Federation: "accord.test", Member: "XX"})
	if err != nil {
		t.Fatal(err)
	}
	plURI := fed.NodeURI("PL", "pl-9")
	revoked := fed.Node("PL", "pl-revoked")
	fed.Revoke("PL", revoked)
	if _, err := ts.src.Reload(); err != nil {
		t.Fatal(err)
	}
	otherFed := &url.URL{Scheme: "spiffe", Host: "other.test", Path: "/member/PL/node/pl-1"}

	cases := []struct {
		name   string
		cfg    mtls.Config
		reason string
	}{
		{"unknown CA", fed.Crafted("unknown-ca", pkitest.Craft{Signer: outsider, URIs: []*url.URL{plURI}}), "unknown_ca"},
		{"other member's CA", fed.Crafted("wrong-ca", pkitest.Craft{SignedBy: "UA", URIs: []*url.URL{plURI}}), "wrong_ca"},
		{"member not in bundle", fed.Crafted("stranger", pkitest.Craft{Signer: stranger, URIs: []*url.URL{fed.NodeURI("XX", "xx-1")}}), "unknown_member"},
		{"expired", fed.Crafted("expired", pkitest.Craft{SignedBy: "PL", URIs: []*url.URL{plURI}, NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour)}), "expired"},
		{"not yet valid", fed.Crafted("future", pkitest.Craft{SignedBy: "PL", URIs: []*url.URL{plURI}, NotBefore: time.Now().Add(time.Hour), NotAfter: time.Now().Add(48 * time.Hour)}), "not_yet_valid"},
		{"revoked", revoked, "revoked"},
		{"no URI SAN", fed.Crafted("no-uri", pkitest.Craft{SignedBy: "PL"}), "bad_identity"},
		{"two URI SANs", fed.Crafted("two-uris", pkitest.Craft{SignedBy: "PL", URIs: []*url.URL{plURI, fed.NodeURI("PL", "pl-8")}}), "bad_identity"},
		{"CA:true leaf", fed.Crafted("ca-leaf", pkitest.Craft{SignedBy: "PL", URIs: []*url.URL{plURI}, IsCA: true}), "leaf_is_ca"},
		{"other federation", fed.Crafted("other-fed", pkitest.Craft{SignedBy: "PL", URIs: []*url.URL{otherFed}}), "wrong_federation"},
		{"server-only key usage", fed.Crafted("server-only", pkitest.Craft{SignedBy: "PL", URIs: []*url.URL{plURI}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}), "key_usage"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := ts.svc.calls.Load()
			_, err := whoami(dialCreds(t, ts.addr, forceSend(t, tc.cfg)))
			if status.Code(err) != codes.Unavailable {
				t.Fatalf("WhoAmI error = %v, want Unavailable (refused at the handshake)", err)
			}
			if got := ts.svc.calls.Load(); got != before {
				t.Errorf("handler ran %d times, want 0", got-before)
			}
			if got, want := ts.refused.last(), "server:"+tc.reason; got != want {
				t.Errorf("server refused with %q, want %q", got, want)
			}
		})
	}

	t.Run("no client certificate", func(t *testing.T) {
		before := ts.svc.calls.Load()
		cc := dialCreds(t, ts.addr, credentials.NewTLS(&tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13})) //nolint:gosec // the test is about the client's missing certificate
		if _, err := whoami(cc); status.Code(err) != codes.Unavailable {
			t.Fatalf("WhoAmI error = %v, want Unavailable", err)
		}
		hc := healthpb.NewHealthClient(cc)
		if _, err := hc.Check(context.Background(), &healthpb.HealthCheckRequest{}); status.Code(err) != codes.Unavailable {
			t.Fatalf("health without a certificate: %v, want Unavailable", err)
		}
		if got := ts.svc.calls.Load(); got != before {
			t.Errorf("handler ran %d times, want 0", got-before)
		}
	})
}

func TestPolicyDeniesUserOnNodeOnlyService(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA", "PL")
	policy := grpcserver.NewPolicy()
	policy.Allow("/accord.v1.FederationService/", grpcserver.AnyNode)
	ts := startServer(t, fed.Node("UA", "ua-1"), policy, nil)

	_, err := whoami(dial(t, ts.addr, fed.User("PL", "u-1042")))
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("user calling a node-only method: %v, want PermissionDenied", err)
	}
	if ts.svc.calls.Load() != 0 {
		t.Errorf("handler ran for a denied call")
	}
	if _, err := whoami(dial(t, ts.addr, fed.Node("PL", "pl-1"))); err != nil {
		t.Fatalf("node calling a node-only method: %v", err)
	}
}

func TestUnknownMethodIsDenied(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA")
	ts := startServer(t, fed.Node("UA", "ua-1"), grpcserver.NewPolicy(), nil) // no rule for FederationService
	_, err := whoami(dial(t, ts.addr, fed.Node("UA", "ua-2")))
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("method without a rule: %v, want PermissionDenied", err)
	}
	if ts.svc.calls.Load() != 0 {
		t.Errorf("handler ran for a denied call")
	}
}

func TestPanicAnswersInternalWithoutStack(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA")
	ts := startServer(t, fed.Node("UA", "ua-1"), nil, nil)
	ts.svc.panic = true
	cc := dial(t, ts.addr, fed.Node("UA", "ua-2"))
	_, err := whoami(cc)
	st := status.Convert(err)
	if st.Code() != codes.Internal {
		t.Fatalf("panicking handler: %v, want Internal", err)
	}
	if strings.Contains(st.Message(), "secret") || strings.Contains(st.Message(), "goroutine") {
		t.Errorf("status leaks internals: %q", st.Message())
	}
	// The server survives.
	ts.svc.panic = false
	if _, err := whoami(cc); err != nil {
		t.Fatalf("after a panic: %v", err)
	}
}

func TestHealthAndReflectionOverMutualTLS(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA", "PL")
	ts := startServer(t, fed.Node("UA", "ua-1"), nil, nil)
	cc := dial(t, ts.addr, fed.Node("PL", "pl-1"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// The health service is registered but the test server never marks
	// itself serving; the daemon does. Asking answers (not refused).
	if _, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatalf("health: %v", err)
	}
	stream, err := reflectionpb.NewServerReflectionClient(cc).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	if !strings.Contains(strings.Join(names, ","), "accord.v1.FederationService") {
		t.Errorf("reflection lists %v, want accord.v1.FederationService", names)
	}
}

func TestMessageSizeLimit(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA")
	ts := startServer(t, fed.Node("UA", "ua-1"), nil, func(c *grpcserver.Config) { c.MaxRecvMsgBytes = 1024 })
	cc := dial(t, ts.addr, fed.Node("UA", "ua-2"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	big := &healthpb.HealthCheckRequest{Service: strings.Repeat("x", 4096)}
	_, err := healthpb.NewHealthClient(cc).Check(ctx, big)
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("oversized message: %v, want ResourceExhausted", err)
	}
}

// TestReloadCutsOffRevokedPeer revokes a connected peer: its open connection
// is closed at the reload, and it cannot come back.
func TestReloadCutsOffRevokedPeer(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA", "PL")
	ts := startServer(t, fed.Node("UA", "ua-1"), nil, nil)
	pl := fed.Node("PL", "pl-1")
	cc := dial(t, ts.addr, pl)
	if _, err := whoami(cc); err != nil {
		t.Fatal(err)
	}
	if n := ts.src.OpenConnections(); n != 1 {
		t.Fatalf("open connections = %d, want 1", n)
	}
	fed.Revoke("PL", pl)
	changed, err := ts.src.Reload()
	if err != nil || !changed {
		t.Fatalf("reload: changed=%v err=%v", changed, err)
	}
	if n := ts.src.OpenConnections(); n != 0 {
		t.Errorf("open connections after revoking the peer = %d, want 0", n)
	}
	// The client reconnects and is refused at the handshake.
	waitFor(t, 10*time.Second, func() error {
		_, err := whoami(cc)
		if status.Code(err) != codes.Unavailable {
			return fmt.Errorf("WhoAmI after revocation: %w, want Unavailable", err)
		}
		if got := ts.refused.last(); got != "server:revoked" {
			return fmt.Errorf("refusal = %q, want server:revoked", got)
		}
		return nil
	})
}

// TestReloadBundleWithoutRestart removes a member from the trust bundle and
// rotates the server's certificate; both take effect at the next handshake.
func TestReloadBundleWithoutRestart(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA", "PL", "DE")
	serverCfg := fed.Node("UA", "ua-1")
	ts := startServer(t, serverCfg, nil, nil)
	de := fed.Node("DE", "de-1")
	first, err := whoami(dial(t, ts.addr, de))
	if err != nil {
		t.Fatal(err)
	}

	// Rotate the server's certificate in place.
	rotated := fed.Node("UA", "ua-1")
	copyFile(t, rotated.CertFile, serverCfg.CertFile)
	copyFile(t, rotated.KeyFile, serverCfg.KeyFile)
	if _, err := ts.src.Reload(); err != nil {
		t.Fatal(err)
	}
	second, err := whoami(dial(t, ts.addr, de))
	if err != nil {
		t.Fatal(err)
	}
	if first.GetServer().GetCertificateSerial() == second.GetServer().GetCertificateSerial() {
		t.Errorf("server certificate did not change on reload")
	}

	fed.RemoveMember("DE")
	if _, err := ts.src.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, err := whoami(dial(t, ts.addr, de)); status.Code(err) != codes.Unavailable {
		t.Fatalf("DE after leaving the bundle: %v, want Unavailable", err)
	}
	if got := ts.refused.last(); got != "server:unknown_member" {
		t.Errorf("refusal = %q, want server:unknown_member", got)
	}
}

func TestToStatus(t *testing.T) {
	cases := []struct {
		err  error
		code codes.Code
	}{
		{fmt.Errorf("case_id: %w", grpcserver.ErrInvalidArgument), codes.InvalidArgument},
		{fmt.Errorf("x: %w", grpcserver.ErrPermissionDenied), codes.PermissionDenied},
		{fmt.Errorf("x: %w", grpcserver.ErrNotFound), codes.NotFound},
		{fmt.Errorf("x: %w", identity.ErrNoIdentity), codes.Unauthenticated},
		{status.Error(codes.Aborted, "kept"), codes.Aborted},
		{errors.New("disk on fire at /secret/path"), codes.Internal},
	}
	for _, c := range cases {
		got := grpcserver.ToStatus(c.err)
		if status.Code(got) != c.code {
			t.Errorf("ToStatus(%v) = %v, want %v", c.err, status.Code(got), c.code)
		}
	}
	if msg := status.Convert(grpcserver.ToStatus(errors.New("disk on fire at /secret/path"))).Message(); strings.Contains(msg, "secret") {
		t.Errorf("Internal leaks the error: %q", msg)
	}
	if grpcserver.ToStatus(nil) != nil {
		t.Error("ToStatus(nil) != nil")
	}
}

func TestConfigValidateNamesField(t *testing.T) {
	var c grpcserver.Config
	c.Normalize()
	if err := c.Validate("grpc"); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	c.MaxRecvMsgBytes = 10
	if err := c.Validate("grpc"); err == nil || !strings.Contains(err.Error(), "grpc.max_recv_msg_bytes") {
		t.Errorf("error %v does not name grpc.max_recv_msg_bytes", err)
	}
	c.Normalize()
	c.MaxRecvMsgBytes = 4096
	c.KeepaliveMinTime = time.Millisecond
	if err := c.Validate("grpc"); err == nil || !strings.Contains(err.Error(), "grpc.keepalive_min_time") {
		t.Errorf("error %v does not name grpc.keepalive_min_time", err)
	}
}

// TestNodeOrUserOfRefusesOtherMembersUsers: another member's user is
// refused before the handler; nodes of any member and the own office's
// users are served.
func TestNodeOrUserOfRefusesOtherMembersUsers(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA", "PL")
	policy := grpcserver.NewPolicy()
	policy.Allow("/accord.v1.FederationService/", grpcserver.NodeOrUserOf("UA"))
	ts := startServer(t, fed.Node("UA", "ua-1"), policy, nil)
	if _, err := whoami(dial(t, ts.addr, fed.User("PL", "u-1042"))); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("another member's user: %v, want PermissionDenied", err)
	}
	if ts.svc.calls.Load() != 0 {
		t.Errorf("handler ran for a denied call")
	}
	for _, who := range []string{"PL node", "UA user"} {
		cfg := fed.Node("PL", "pl-1")
		if who == "UA user" {
			cfg = fed.User("UA", "u-1")
		}
		if _, err := whoami(dial(t, ts.addr, cfg)); err != nil {
			t.Errorf("%s: %v", who, err)
		}
	}
}
