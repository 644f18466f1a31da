package mtls_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/accordfed/accord/federation/mtls"
	"github.com/accordfed/accord/federation/pki/pkitest"
	"github.com/accordfed/accord/federation/trust"
)

// TestSuspendedMemberOutboundConnectionsClosed is review finding 7: when a
// member is no longer trusted (suspended: no longer learned from the
// registry), the connections this node opened to that member's nodes are
// closed too, not only those the member's nodes opened to it.
func TestSuspendedMemberOutboundConnectionsClosed(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA", "PL", "FR")
	frCfg := fed.Node("FR", "fr-1")
	fr, err := mtls.NewSource(frCfg, mtls.Hooks{}, nil, nil) // FR's own bundle lists UA
	if err != nil {
		t.Fatal(err)
	}
	ua := fed.Node("UA", "ua-1")
	frCA := fed.CAs["FR"].Cert
	fed.RemoveMember("FR") // UA's bundle file: UA and PL; FR is learned
	src, err := mtls.NewSource(ua, mtls.Hooks{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.SetLearned([]trust.MemberBundle{{Member: "FR", CACertificates: []string{caPEM(frCA)}}}); err != nil {
		t.Fatal(err)
	}

	// FR's node serves; UA's node dials it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	served := make(chan net.Conn, 1)
	go func() {
		raw, err := ln.Accept()
		if err != nil {
			return
		}
		conn, _, err := fr.ServerCredentials().ServerHandshake(raw)
		if err != nil {
			raw.Close()
			return
		}
		served <- conn
	}()
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, err := src.ClientCredentials(mtls.ExpectMember("FR")).ClientHandshake(ctx, "fr-1", raw)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	srv := <-served
	defer srv.Close()
	if n := src.OpenOutboundConnections(); n != 1 {
		t.Fatalf("%d outbound connections tracked, want 1", n)
	}

	// A reload that changes nothing about FR keeps the connection.
	if _, err := src.Reload(); err != nil {
		t.Fatal(err)
	}
	if n := src.OpenOutboundConnections(); n != 1 {
		t.Fatalf("%d outbound connections after a reload, want 1", n)
	}

	// FR suspended: no longer learned. UA's connection to FR is closed.
	if _, err := src.SetLearned(nil); err != nil {
		t.Fatal(err)
	}
	if n := src.OpenOutboundConnections(); n != 0 {
		t.Fatalf("%d outbound connections to a suspended member, want 0", n)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = conn.Read(make([]byte, 1))
	var ne net.Error
	if err == nil || (errors.As(err, &ne) && ne.Timeout()) {
		t.Fatalf("the connection to the suspended member is still open: %v", err)
	}
}
