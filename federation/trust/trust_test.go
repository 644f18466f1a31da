package trust_test

import (
	"crypto/x509"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/accordfed/accord/federation/pki"
	"github.com/accordfed/accord/federation/pki/pkitest"
	"github.com/accordfed/accord/federation/trust"
)

func newCA(t *testing.T, fed, member string) *pki.CA {
	t.Helper()
	ca, err := pki.NewCA(pki.CAOptions{Federation: fed, Member: member})
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func TestBundleRules(t *testing.T) {
	ua := newCA(t, "accord.test", "UA")
	b, err := trust.NewBundle("accord.test")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Add("UA", "Office of the Prosecutor General", ua.Cert); err != nil {
		t.Fatal(err)
	}
	// A CA whose own URI names UA cannot be PL's, and a refused addition
	// changes nothing.
	if err := b.Add("PL", "", ua.Cert); !errors.Is(err, trust.ErrInvalidBundle) || !strings.Contains(err.Error(), "names spiffe://accord.test/member/UA") {
		t.Errorf("UA's CA added for PL: %v", err)
	}
	if len(b.Members) != 1 {
		t.Errorf("refused Add changed the bundle: %d members", len(b.Members))
	}
	// The same CA (one that names no member) may not vouch for two members.
	fed := pkitest.NewFederation(t, "accord.test", "DE")
	anon := pkitest.Certificate(t, fed.Crafted("anon-ca", pkitest.Craft{SignedBy: "DE", IsCA: true}))
	b2, _ := trust.NewBundle("accord.test")
	if err := b2.Add("PL", "", anon); err != nil {
		t.Fatal(err)
	}
	if err := b2.Add("LT", "", anon); !errors.Is(err, trust.ErrInvalidBundle) || !strings.Contains(err.Error(), "a CA can vouch for one member only") {
		t.Errorf("one CA for two members: %v", err)
	}
	// A leaf is not a CA.
	leaf := pkitest.Certificate(t, fed.Node("DE", "de-1"))
	b3, _ := trust.NewBundle("accord.test")
	if err := b3.Add("DE", "", leaf); !errors.Is(err, trust.ErrInvalidBundle) || !strings.Contains(err.Error(), "not a CA") {
		t.Errorf("leaf as CA: %v", err)
	}

	// Save and load round trip; unknown fields refused.
	path := filepath.Join(t.TempDir(), "bundle.json")
	if err := b.Save(path); err != nil {
		t.Fatal(err)
	}
	got, err := trust.LoadBundle(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Members) != 1 || got.Members[0].Member != "UA" || got.Members[0].Name == "" {
		t.Errorf("loaded %+v", got.Members)
	}
	if _, err := trust.ParseBundle([]byte(`{"version":1,"federation":"accord.test","members":[],"extra":1}`)); !errors.Is(err, trust.ErrInvalidBundle) {
		t.Errorf("unknown field: %v", err)
	}
	if _, err := trust.ParseBundle([]byte(`{"version":2,"federation":"accord.test","members":[]}`)); !errors.Is(err, trust.ErrInvalidBundle) {
		t.Errorf("future version: %v", err)
	}
}

func TestVerifierReasons(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA", "PL")
	b, err := trust.LoadBundle(fed.BundleFile)
	if err != nil {
		t.Fatal(err)
	}
	outsider := newCA(t, "accord.test", "PL")
	pl := fed.NodeURI("PL", "pl-1")
	now := time.Now()
	cases := []struct {
		name string
		cfg  func() *x509.Certificate
		want error
	}{
		{"valid", func() *x509.Certificate { return pkitest.Certificate(t, fed.Node("PL", "pl-1")) }, nil},
		{"wrong CA", func() *x509.Certificate {
			return pkitest.Certificate(t, fed.Crafted("w", pkitest.Craft{SignedBy: "UA", URIs: []*url.URL{pl}}))
		}, trust.ErrWrongCA},
		{"unknown CA", func() *x509.Certificate {
			return pkitest.Certificate(t, fed.Crafted("u", pkitest.Craft{Signer: outsider, URIs: []*url.URL{pl}}))
		}, trust.ErrUnknownCA},
		{"expired", func() *x509.Certificate {
			return pkitest.Certificate(t, fed.Crafted("e", pkitest.Craft{SignedBy: "PL", URIs: []*url.URL{pl}, NotBefore: now.Add(-2 * time.Hour), NotAfter: now.Add(-time.Hour)}))
		}, trust.ErrExpired},
		{"CA leaf", func() *x509.Certificate {
			return pkitest.Certificate(t, fed.Crafted("c", pkitest.Craft{SignedBy: "PL", URIs: []*url.URL{pl}, IsCA: true}))
		}, trust.ErrLeafIsCA},
	}
	v, err := trust.NewVerifier(b, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		_, err := v.Verify([]*x509.Certificate{c.cfg()}, x509.ExtKeyUsageClientAuth)
		if !errors.Is(err, c.want) || (c.want == nil && err != nil) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	if _, err := v.Verify(nil, x509.ExtKeyUsageClientAuth); !errors.Is(err, trust.ErrNoCertificate) {
		t.Errorf("empty chain: %v", err)
	}
	// A user certificate is for clients only.
	user := pkitest.Certificate(t, fed.User("PL", "u-1"))
	if _, err := v.Verify([]*x509.Certificate{user}, x509.ExtKeyUsageServerAuth); !errors.Is(err, trust.ErrKeyUsage) {
		t.Errorf("user as server: %v", err)
	}
	// A clock beyond the certificate's end.
	late, _ := trust.NewVerifier(b, nil, func() time.Time { return now.Add(400 * 24 * time.Hour) })
	if _, err := late.Verify([]*x509.Certificate{pkitest.Certificate(t, fed.Node("PL", "pl-2"))}, x509.ExtKeyUsageClientAuth); !errors.Is(err, trust.ErrExpired) {
		t.Errorf("late clock: %v", err)
	}
}

func TestCRLMustComeFromBundleCA(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA")
	b, _ := trust.LoadBundle(fed.BundleFile)
	outsider := newCA(t, "accord.test", "UA")
	pem, err := outsider.CRL(0)
	if err != nil {
		t.Fatal(err)
	}
	crl, err := trust.ParseCRL(pem)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := trust.NewVerifier(b, []trust.CRL{{List: crl, Source: "x.crl"}}, nil); !errors.Is(err, trust.ErrInvalidCRL) {
		t.Errorf("CRL of a CA outside the bundle: %v", err)
	}
	if _, err := trust.ParseCRL([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")); !errors.Is(err, trust.ErrInvalidCRL) {
		t.Errorf("certificate as CRL: %v", err)
	}
	// A missing CRL folder holds no CRLs; a broken file is an error.
	if crls, err := trust.LoadCRLDir(filepath.Join(t.TempDir(), "absent")); err != nil || len(crls) != 0 {
		t.Errorf("absent folder: %v %v", crls, err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "bad.crl"), []byte("junk"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := trust.LoadCRLDir(dir); !errors.Is(err, trust.ErrInvalidCRL) {
		t.Errorf("junk CRL: %v", err)
	}
}

func TestReasonLabels(t *testing.T) {
	if got := trust.Reason(errors.New("x")); got != "other" {
		t.Errorf("Reason(other) = %q", got)
	}
	if got := trust.Reason(trust.ErrRevoked); got != "revoked" {
		t.Errorf("Reason(revoked) = %q", got)
	}
}
