package httpsfront_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/mtls"
	"github.com/accordfed/accord/federation/pki/pkitest"
	"github.com/accordfed/accord/node/grpcserver"
	"github.com/accordfed/accord/node/httpsfront"
)

// TestFrontCarriesTheClientsCertificate: a call made on Conns.Client is
// seen by the gRPC server as the HTTPS client's verified certificate; a
// client the accept function refuses never gets a page.
func TestFrontCarriesTheClientsCertificate(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA", "PL")
	src, err := mtls.NewSource(fed.Node("UA", "ua-1"), mtls.Hooks{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var cfg grpcserver.Config
	cfg.Normalize()
	front := httpsfront.New(src, cfg)

	// The gRPC server records who called.
	var mu sync.Mutex
	var callers []string
	g := grpc.NewServer(grpc.Creds(front.Credentials(src.ServerCredentials())),
		grpc.UnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			id, _, err := identity.FromPeer(ctx)
			if err != nil {
				return nil, status.Error(codes.Unauthenticated, err.Error())
			}
			mu.Lock()
			callers = append(callers, id.String())
			mu.Unlock()
			return h(ctx, req)
		}))
	healthpb.RegisterHealthServer(g, health.NewServer())
	go func() { _ = g.Serve(front.Listener()) }()
	t.Cleanup(g.Stop)

	conns := front.NewConns()
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cc, err := conns.Client(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		if _, err := healthpb.NewHealthClient(cc).Check(r.Context(), &healthpb.HealthCheckRequest{}); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, "ok")
	})
	srv := httptest.NewUnstartedServer(handler)
	srv.Config.ConnContext, srv.Config.ConnState = conns.ConnContext, conns.ConnState
	srv.TLS = front.TLSConfig([]string{"h2", "http/1.1"}, nil, func(id identity.Identity) error {
		if id.Member != "UA" || id.Kind != identity.KindUser {
			return errors.New("UA's users only")
		}
		return nil
	})
	srv.StartTLS()
	t.Cleanup(srv.Close)
	t.Cleanup(conns.Close)

	roots := x509.NewCertPool()
	roots.AddCert(fed.CAs["UA"].Cert)
	client := func(cert mtls.Config) *http.Client {
		c := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
		if cert.CertFile != "" {
			kp, err := tls.LoadX509KeyPair(cert.CertFile, cert.KeyFile)
			if err != nil {
				t.Fatal(err)
			}
			c.Certificates = []tls.Certificate{kp}
		}
		return &http.Client{Transport: &http.Transport{TLSClientConfig: c, ForceAttemptHTTP2: true}}
	}
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	url := "https://127.0.0.1:" + port + "/"

	resp, err := client(fed.User("UA", "analyst")).Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("UA's analyst: %d %s", resp.StatusCode, body)
	}
	mu.Lock()
	got := strings.Join(callers, ",")
	mu.Unlock()
	if got != "spiffe://accord.test/member/UA/user/analyst" {
		t.Errorf("the gRPC server saw %q, want UA's analyst", got)
	}
	for name, cert := range map[string]mtls.Config{"none": {}, "PL's user": fed.User("PL", "analyst"), "UA's node": fed.Node("UA", "ua-2")} {
		if resp, err := client(cert).Get(url); err == nil {
			resp.Body.Close()
			t.Errorf("%s: served (%d), want the handshake refused", name, resp.StatusCode)
		}
	}

	// A handler reached without the front's TLS (mounted elsewhere) gets
	// no connection.
	plain := httptest.NewServer(handler)
	t.Cleanup(plain.Close)
	resp, err = http.Get(plain.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), httpsfront.ErrNoCertificate.Error()) {
		t.Errorf("without TLS: %d %s", resp.StatusCode, body)
	}
}
