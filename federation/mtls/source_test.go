package mtls_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accordfed/accord/federation/mtls"
	"github.com/accordfed/accord/federation/pki"
	"github.com/accordfed/accord/federation/pki/pkitest"
	"github.com/accordfed/accord/federation/trust"
)

// tlsServer accepts TLS connections with src's server configuration and
// writes one byte on each accepted connection.
func tlsServer(t *testing.T, src *mtls.Source) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", src.ServerConfig())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				if err := c.(*tls.Conn).Handshake(); err != nil {
					return
				}
				_, _ = c.Write([]byte{1})
				_, _ = io.Copy(io.Discard, c) // until the client closes
			}()
		}
	}()
	return ln.Addr().String()
}

func newSource(t *testing.T, cfg mtls.Config, hooks mtls.Hooks) *mtls.Source {
	t.Helper()
	src, err := mtls.NewSource(cfg, hooks, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// connect dials with the given client configuration and reads the
// server's byte; it returns whether the session was resumed.
func connect(addr string, cfg *tls.Config) (bool, error) {
	c, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		return false, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	resumed := c.ConnectionState().DidResume
	var b [1]byte
	if _, err := io.ReadFull(c, b[:]); err != nil {
		return resumed, err
	}
	return resumed, nil
}

// TestRevokedCannotResumeSession: a client that resumes a TLS session made
// before its certificate was revoked is still refused, because identity and
// revocation are checked in VerifyConnection, which runs on resumption too.
func TestRevokedCannotResumeSession(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA", "PL")
	var mu sync.Mutex
	var reasons []string
	server := newSource(t, fed.Node("UA", "ua-1"), mtls.Hooks{Refused: func(_ string, err error) {
		mu.Lock()
		reasons = append(reasons, trust.Reason(err))
		mu.Unlock()
	}})
	addr := tlsServer(t, server)

	plCfg := fed.Node("PL", "pl-1")
	client := newSource(t, plCfg, mtls.Hooks{})
	ccfg := client.ClientConfig(mtls.ExpectMember("UA"))
	ccfg.ClientSessionCache = tls.NewLRUClientSessionCache(8)

	if resumed, err := connect(addr, ccfg); err != nil || resumed {
		t.Fatalf("first connection: resumed=%v err=%v", resumed, err)
	}
	// Control: the session cache works, the next connection resumes.
	if resumed, err := connect(addr, ccfg); err != nil || !resumed {
		t.Fatalf("second connection: resumed=%v err=%v, want a resumed session", resumed, err)
	}

	fed.Revoke("PL", plCfg)
	if _, err := server.Reload(); err != nil {
		t.Fatal(err)
	}
	resumed, err := connect(addr, ccfg)
	if err == nil {
		t.Fatal("revoked client got in")
	}
	if !resumed {
		t.Errorf("the refused connection did not try to resume; the test proves nothing about resumption")
	}
	if !strings.Contains(err.Error(), "bad certificate") {
		t.Errorf("error = %v, want a bad certificate alert", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reasons) == 0 || reasons[len(reasons)-1] != "revoked" {
		t.Errorf("server refusals = %v, want the last to be revoked", reasons)
	}
}

func TestClientRefusesUntrustedServer(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA", "PL")
	// The server is PL's, but the client expects UA.
	server := newSource(t, fed.Node("PL", "pl-1"), mtls.Hooks{})
	addr := tlsServer(t, server)
	client := newSource(t, fed.Node("UA", "ua-1"), mtls.Hooks{})
	_, err := connect(addr, client.ClientConfig(mtls.ExpectMember("UA")))
	if !errors.Is(err, mtls.ErrUnexpectedPeer) {
		t.Fatalf("err = %v, want ErrUnexpectedPeer", err)
	}

	// A user certificate cannot serve.
	userSrv := newSource(t, fed.User("PL", "u-7"), mtls.Hooks{})
	addr = tlsServer(t, userSrv)
	_, err = connect(addr, client.ClientConfig(nil))
	if !errors.Is(err, trust.ErrKeyUsage) {
		t.Fatalf("user certificate as server: err = %v, want ErrKeyUsage", err)
	}
}

func TestSelfCheck(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA")
	cfg := fed.Node("UA", "ua-1")
	src := newSource(t, cfg, mtls.Hooks{})
	if err := src.SelfCheck(); err != nil {
		t.Fatalf("valid node: %v", err)
	}
	fed.Revoke("UA", cfg)
	if _, err := src.Reload(); err != nil {
		t.Fatal(err)
	}
	if err := src.SelfCheck(); !errors.Is(err, trust.ErrRevoked) {
		t.Fatalf("revoked node: %v, want ErrRevoked", err)
	}
}

func TestReloadKeepsMaterialOnBadFiles(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA")
	cfg := fed.Node("UA", "ua-1")
	src := newSource(t, cfg, mtls.Hooks{})
	before := src.Certificate()
	if err := os.WriteFile(cfg.BundleFile, []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := src.Reload(); err == nil || !strings.Contains(err.Error(), "bundle_file") {
		t.Fatalf("reload of a broken bundle: %v, want an error naming bundle_file", err)
	}
	if src.Certificate() != before {
		t.Error("material changed after a failed reload")
	}
	changed, err := src.Reload()
	if err == nil || changed {
		t.Errorf("second reload: changed=%v err=%v", changed, err)
	}
}

// TestCRLFilesOneByOne: an unusable CRL file is reported and skipped, the
// other CRLs still apply, and a file that becomes unusable keeps its last
// good version in force.
func TestCRLFilesOneByOne(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA", "PL")
	cfg := fed.Node("UA", "ua-1")
	var failed []string
	src := newSource(t, cfg, mtls.Hooks{ReloadFailed: func(reason string, _ error) { failed = append(failed, reason) }})
	verify := func(c mtls.Config) error {
		_, err := src.Verifier().Verify([]*x509.Certificate{pkitest.Certificate(t, c)}, x509.ExtKeyUsageClientAuth)
		return err
	}
	reload := func() {
		t.Helper()
		if _, err := src.Reload(); err != nil {
			t.Fatal(err)
		}
	}

	// Junk beside a new CRL of UA that revokes a user.
	fed.WriteCRLFile("junk.crl", []byte("not a CRL"))
	user := fed.User("UA", "analyst")
	fed.Revoke("UA", user)
	reload()
	if err := verify(user); !errors.Is(err, trust.ErrRevoked) {
		t.Errorf("user revoked beside a junk file: %v", err)
	}
	u := src.UnusableCRLs()
	if len(u) != 1 || filepath.Base(u[0].Source) != "junk.crl" || u[0].Reason != trust.CRLMalformed || u[0].KeptLastGood {
		t.Errorf("unusable = %+v, want junk.crl malformed", u)
	}

	// UA's CRL file becomes junk: its last good version stays in force.
	fed.WriteCRLFile("UA.crl", []byte("truncated"))
	reload()
	if err := verify(user); !errors.Is(err, trust.ErrRevoked) {
		t.Errorf("user after UA.crl became junk: %v, want still revoked", err)
	}
	u = src.UnusableCRLs()
	if len(u) != 2 || filepath.Base(u[0].Source) != "UA.crl" || !u[0].KeptLastGood {
		t.Errorf("unusable = %+v, want UA.crl kept at its last good version", u)
	}
	// Replaced by a CRL of a CA outside the bundle: the same.
	outsider, err := pki.NewCA(pki.CAOptions{Federation: "accord.test", Member: "UA"})
	if err != nil {
		t.Fatal(err)
	}
	fed.WriteCRLFile("UA.crl", pkitest.SignCRL(t, outsider.Cert, outsider.Key))
	reload()
	if u = src.UnusableCRLs(); len(u) != 2 || u[0].Reason != trust.CRLUnknownIssuer || !u[0].KeptLastGood {
		t.Errorf("unusable = %+v, want UA.crl of an unknown issuer, kept", u)
	}
	if err := verify(user); !errors.Is(err, trust.ErrRevoked) {
		t.Errorf("user after UA.crl was replaced: %v, want still revoked", err)
	}
	// A good version again: nothing is unusable but the junk.
	fed.PublishCRL("UA")
	reload()
	if u = src.UnusableCRLs(); len(u) != 1 || filepath.Base(u[0].Source) != "junk.crl" {
		t.Errorf("unusable = %+v, want only junk.crl", u)
	}
	if len(failed) != 0 || src.ReloadState().Failures != 0 {
		t.Errorf("reload failures %v, state %+v: a bad CRL file is no failed reload", failed, src.ReloadState())
	}
	// A broken bundle fails the reload, counted under its field.
	if err := os.WriteFile(cfg.BundleFile, []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := src.Reload(); err == nil {
		t.Fatal("a broken bundle reloaded")
	}
	if st := src.ReloadState(); st.Failures != 1 || st.LastError == nil || len(failed) != 1 || failed[0] != "bundle_file" {
		t.Errorf("after a broken bundle: state %+v, hooks %v", st, failed)
	}
}

func TestConfigValidate(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA")
	good := fed.Node("UA", "ua-1")
	cases := []struct {
		name  string
		edit  func(*mtls.Config)
		field string
	}{
		{"missing cert", func(c *mtls.Config) { c.CertFile = "" }, "tls.cert_file"},
		{"absent key", func(c *mtls.Config) { c.KeyFile = "/nonexistent/key.pem" }, "tls.key_file"},
		{"missing bundle", func(c *mtls.Config) { c.BundleFile = "" }, "tls.bundle_file"},
		{"TLS 1.1", func(c *mtls.Config) { c.MinVersion = "1.1" }, "tls.min_version"},
		{"fast reload", func(c *mtls.Config) { c.ReloadInterval = time.Millisecond }, "tls.reload_interval"},
	}
	if err := good.Validate("tls"); err != nil {
		t.Fatalf("good config: %v", err)
	}
	for _, tc := range cases {
		c := good
		tc.edit(&c)
		err := c.Validate("tls")
		if err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: error %v does not name %s", tc.name, err, tc.field)
		}
	}
}

func TestTLS12Floor(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA")
	server := newSource(t, fed.Node("UA", "ua-1"), mtls.Hooks{})
	addr := tlsServer(t, server)
	client := newSource(t, fed.Node("UA", "ua-2"), mtls.Hooks{})
	ccfg := client.ClientConfig(nil)
	ccfg.MinVersion, ccfg.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
	if _, err := connect(addr, ccfg); err == nil {
		t.Fatal("a TLS 1.2 client reached a server whose floor is TLS 1.3")
	}
}
