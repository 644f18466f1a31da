package mtls_test

import (
	"crypto/tls"
	"sync"
	"testing"

	"github.com/accordfed/accord/federation/mtls"
	"github.com/accordfed/accord/federation/pki/pkitest"
	"github.com/accordfed/accord/federation/trust"
)

// TestClientWithoutCertificateRefusedAndCounted: a client that presents no
// certificate is refused, and the refusal reaches the Refused hook (the
// node's metrics and log) with its reason, like every other refusal.
func TestClientWithoutCertificateRefusedAndCounted(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA")
	var mu sync.Mutex
	var reasons []string
	server := newSource(t, fed.Node("UA", "ua-1"), mtls.Hooks{Refused: func(side string, err error) {
		mu.Lock()
		reasons = append(reasons, side+":"+trust.Reason(err))
		mu.Unlock()
	}})
	addr := tlsServer(t, server)
	_, err := connect(addr, &tls.Config{MinVersion: tls.VersionTLS13, InsecureSkipVerify: true}) //nolint:gosec // the test is about the client's missing certificate
	if err == nil {
		t.Fatal("a client without a certificate got in")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reasons) != 1 || reasons[0] != "server:no_certificate" {
		t.Errorf("refusals %v, want [server:no_certificate]", reasons)
	}
}
