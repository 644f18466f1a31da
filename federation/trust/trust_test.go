package trust_test

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/accordfed/accord/federation/identity"
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
	if _, err := trust.ParseCRL([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")); !errors.Is(err, trust.ErrInvalidCRL) {
		t.Errorf("certificate as CRL: %v", err)
	}
	// A missing CRL folder holds no CRLs; a broken file is reported on its
	// own and the good ones are still read.
	if crls, problems, err := trust.LoadCRLDir(filepath.Join(t.TempDir(), "absent")); err != nil || len(crls) != 0 || len(problems) != 0 {
		t.Errorf("absent folder: %v %v %v", crls, problems, err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "bad.crl"), []byte("junk"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "outsider.crl"), pem, 0o644); err != nil {
		t.Fatal(err)
	}
	crls, problems, err := trust.LoadCRLDir(dir)
	if err != nil || len(crls) != 1 || len(problems) != 1 {
		t.Fatalf("junk beside a CRL: %d CRLs, problems %v, %v", len(crls), problems, err)
	}
	if p := problems[0]; p.Reason != trust.CRLMalformed || filepath.Base(p.Source) != "bad.crl" || !errors.Is(p.Err, trust.ErrInvalidCRL) {
		t.Errorf("junk CRL: %+v", p)
	}
	// A CRL of a CA outside the bundle is not applied and is reported; it
	// does not stop the verifier.
	v, err := trust.NewVerifier(b, crls, nil)
	if err != nil {
		t.Fatal(err)
	}
	if u := v.Unusable(); len(u) != 1 || u[0].Reason != trust.CRLUnknownIssuer || !errors.Is(u[0].Err, trust.ErrInvalidCRL) || len(v.CRLs()) != 0 {
		t.Errorf("CRL of a CA outside the bundle: unusable %+v, applied %+v", u, v.CRLs())
	}
}

// TestBundleRefusesLookalikeCAs: a member's CA may not share a subject, key
// id or public key with another member's CA (a CRL names its CA by subject;
// a chain finds its CA by key id); one member's renewed CA certificate may.
func TestBundleRefusesLookalikeCAs(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA", "PL")
	ua, pl := fed.CAs["UA"], fed.CAs["PL"]
	sameSubject, _ := fed.Lookalike("PL", ua.Cert, false)
	sameKeyID, _ := fed.Lookalike("PL", ua.Cert, true)
	// A certificate of UA's public key under PL's name, signed by PL's CA
	// (no private key of UA's needed: a bundle's CAs are trust anchors).
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "Accord PL second CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		URIs: []*url.URL{identity.MemberURI("accord.test", "PL")}, SubjectKeyId: []byte("pl-second"),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, pl.Cert, ua.Cert.PublicKey, pl.Key)
	if err != nil {
		t.Fatal(err)
	}
	sameKey, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		cert *x509.Certificate
		want string
	}{
		{"UA's subject", sameSubject, `CA subject "CN=Accord UA CA" is used by CAs of members PL and UA`},
		{"UA's key id", sameKeyID, "CA key id " + hex.EncodeToString(ua.Cert.SubjectKeyId) + " is used by CAs of members PL and UA"},
		{"UA's public key", sameKey, "CA public key " + trust.KeyFingerprint(ua.Cert)[:16] + " is used by CAs of members PL and UA"},
	} {
		b, err := trust.LoadBundle(fed.BundleFile)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Add("PL", "", c.cert); !errors.Is(err, trust.ErrInvalidBundle) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("PL's CA with %s: %v, want %q", c.name, err, c.want)
		}
	}
	// UA's CA certificate renewed with the same key and subject is UA's.
	renewed := &x509.Certificate{
		SerialNumber: big.NewInt(8), Subject: ua.Cert.Subject, RawSubject: ua.Cert.RawSubject,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(48 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		URIs: ua.Cert.URIs, SubjectKeyId: ua.Cert.SubjectKeyId,
	}
	der, err = x509.CreateCertificate(rand.Reader, renewed, renewed, ua.Cert.PublicKey, ua.Key)
	if err != nil {
		t.Fatal(err)
	}
	again, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := trust.LoadBundle(fed.BundleFile)
	if err := b.Add("UA", "", again); err != nil {
		t.Errorf("UA's renewed CA: %v", err)
	}
}

// TestCRLRevokesOnlyItsOwnCAsCertificates: a CRL revokes the certificates
// issued by the key that signed it, not those of another CA that states the
// same issuer name (here two CAs of one member with the same subject: the
// bundle refuses that between members).
func TestCRLRevokesOnlyItsOwnCAsCertificates(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA")
	oldCA := fed.CAs["UA"]
	newCA := newCA(t, "accord.test", "UA")
	if !bytes.Equal(oldCA.Cert.RawSubject, newCA.Cert.RawSubject) {
		t.Fatal("the two CAs should share a subject")
	}
	b, err := trust.LoadBundle(fed.BundleFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Add("UA", "", newCA.Cert); err != nil {
		t.Fatal(err)
	}
	iss, err := newCA.Issue(pki.IssueOptions{Kind: identity.KindUser, Name: "analyst"})
	if err != nil {
		t.Fatal(err)
	}
	old, err := oldCA.Issue(pki.IssueOptions{Kind: identity.KindUser, Name: "old-analyst"})
	if err != nil {
		t.Fatal(err)
	}
	parse := func(p []byte) *x509.RevocationList {
		l, err := trust.ParseCRL(p)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	// The old CA lists the new CA's certificate's serial, and its own.
	crl := parse(pkitest.SignCRL(t, oldCA.Cert, oldCA.Key, iss.Cert.SerialNumber, old.Cert.SerialNumber))
	v, err := trust.NewVerifier(b, []trust.CRL{{List: crl, Source: "old.crl"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify([]*x509.Certificate{iss.Cert}, x509.ExtKeyUsageClientAuth); err != nil {
		t.Errorf("a certificate of the new CA revoked by the old CA's CRL: %v", err)
	}
	if _, err := v.Verify([]*x509.Certificate{old.Cert}, x509.ExtKeyUsageClientAuth); !errors.Is(err, trust.ErrRevoked) {
		t.Errorf("the old CA's own certificate: %v, want revoked", err)
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
