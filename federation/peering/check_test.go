package peering_test

import (
	"context"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/accordfed/accord/federation/mtls"
	"github.com/accordfed/accord/federation/peering"
	"github.com/accordfed/accord/federation/pki/pkitest"
	"github.com/accordfed/accord/federation/trust"
	"github.com/accordfed/accord/node/grpcserver"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// serve starts a federation gRPC server with the given TLS material, even
// material a real node would refuse to start with.
func serve(t *testing.T, cfg mtls.Config) string {
	t.Helper()
	src, err := mtls.NewSource(cfg, mtls.Hooks{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	policy := grpcserver.NewPolicy()
	policy.Allow("/accord.v1.FederationService/", grpcserver.AnyNode)
	var gc grpcserver.Config
	gc.Normalize()
	srv := grpcserver.New(gc, src.ServerCredentials(), policy, nil, nil)
	accordv1.RegisterFederationServiceServer(srv.GRPC, peering.NewService(src.Certificate, "test-1"))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.GRPC.Serve(ln) }()
	t.Cleanup(srv.GRPC.Stop)
	return ln.Addr().String()
}

func source(t *testing.T, cfg mtls.Config) *mtls.Source {
	t.Helper()
	src, err := mtls.NewSource(cfg, mtls.Hooks{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func check(t *testing.T, addr string, client mtls.Config, expect string) peering.Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r := peering.Check(ctx, addr, source(t, client), peering.CheckOptions{Timeout: 5 * time.Second, Rounds: 3, ExpectMember: expect})
	t.Logf("%s: %s (%s): %s; hint: %s", addr, r.Verdict, r.Reason, r.Explanation, r.Hint)
	return r
}

func TestCheckOK(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA", "PL")
	addr := serve(t, fed.Node("PL", "pl-1"))
	r := check(t, addr, fed.Node("UA", "ua-1"), "PL")
	if r.Verdict != peering.VerdictOK {
		t.Fatalf("verdict %s: %s", r.Verdict, r.Explanation)
	}
	if r.Peer.GetSpiffeId() != "spiffe://accord.test/member/PL/node/pl-1" {
		t.Errorf("peer = %q", r.Peer.GetSpiffeId())
	}
	if r.SeenAs.GetSpiffeId() != "spiffe://accord.test/member/UA/node/ua-1" {
		t.Errorf("seen as %q", r.SeenAs.GetSpiffeId())
	}
	if len(r.RTTs) != 3 || r.RTTMedian() <= 0 {
		t.Errorf("RTTs = %v", r.RTTs)
	}
	if r.PeerVersion != "test-1" || r.TLSVersion != "TLS 1.3" {
		t.Errorf("peer version %q, TLS %q", r.PeerVersion, r.TLSVersion)
	}
}

func TestCheckUnreachable(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	r := check(t, addr, fed.Node("UA", "ua-1"), "")
	if r.Verdict != peering.VerdictUnreachable || !strings.Contains(r.Explanation, "refused") {
		t.Fatalf("verdict %s: %s", r.Verdict, r.Explanation)
	}
}

func TestCheckPeerNotTrusted(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA", "PL")
	pl := fed.NodeURI("PL", "pl-1")
	revoked := fed.Node("PL", "pl-revoked")
	fed.Revoke("PL", revoked)
	cases := []struct {
		name   string
		server mtls.Config
		reason string
		hint   string
	}{
		{"wrong CA", fed.Crafted("wrong-ca", pkitest.Craft{SignedBy: "UA", URIs: []*url.URL{pl}}), "wrong_ca", "own member's CA"},
		{"expired", fed.Crafted("expired", pkitest.Craft{SignedBy: "PL", URIs: []*url.URL{pl}, NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour)}), "expired", "issue and install a new one"},
		{"revoked", revoked, "revoked", "revoked"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := check(t, serve(t, c.server), fed.Node("UA", "ua-1"), "")
			if r.Verdict != peering.VerdictPeerNotTrusted || r.Reason != c.reason {
				t.Fatalf("verdict %s reason %s, want peer_not_trusted %s", r.Verdict, r.Reason, c.reason)
			}
			if !strings.Contains(r.Hint, c.hint) {
				t.Errorf("hint %q does not mention %q", r.Hint, c.hint)
			}
		})
	}
	t.Run("unexpected member", func(t *testing.T) {
		r := check(t, serve(t, fed.Node("PL", "pl-2")), fed.Node("UA", "ua-1"), "DE")
		if r.Verdict != peering.VerdictPeerNotTrusted || r.Reason != "unexpected_peer" {
			t.Fatalf("verdict %s reason %s", r.Verdict, r.Reason)
		}
	})
}

func TestCheckRefusedByPeer(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA", "PL", "DE")

	// The server's bundle lacks DE.
	serverCfg := fed.Node("UA", "ua-1")
	b, err := trust.LoadBundle(fed.BundleFile)
	if err != nil {
		t.Fatal(err)
	}
	b.Remove("DE", "")
	serverCfg.BundleFile = filepath.Join(t.TempDir(), "ua-bundle.json")
	if err := b.Save(serverCfg.BundleFile); err != nil {
		t.Fatal(err)
	}
	// PL's node is revoked, and both the server and PL's own node hold the
	// CRL.
	pl := fed.Node("PL", "pl-1")
	fed.Revoke("PL", pl)
	addr := serve(t, serverCfg)

	r := check(t, addr, fed.Node("DE", "de-1"), "")
	if r.Verdict != peering.VerdictRefusedByPeer {
		t.Fatalf("verdict %s: %s", r.Verdict, r.Explanation)
	}
	if !strings.Contains(r.Hint, "does not trust member DE") {
		t.Errorf("hint %q", r.Hint)
	}

	// A client whose own certificate is revoked learns so from its own CRL.
	r = check(t, addr, pl, "")
	if r.Verdict != peering.VerdictRefusedByPeer || r.Reason != "revoked" {
		t.Fatalf("verdict %s reason %s: %s", r.Verdict, r.Reason, r.Explanation)
	}
}

func TestCheckNotTLS(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte("HTTP/1.1 400 Bad Request\r\n\r\n"))
			c.Close()
		}
	}()
	r := check(t, ln.Addr().String(), fed.Node("UA", "ua-1"), "")
	if r.Verdict != peering.VerdictTLSFailed {
		t.Fatalf("verdict %s: %s", r.Verdict, r.Explanation)
	}
}
