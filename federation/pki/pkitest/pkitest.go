// Package pkitest makes throw-away federations for tests: a CA per member,
// a trust bundle, a CRL folder, and node or user certificates written to a
// test's temporary folder, returned as the mtls.Config a node would use. It
// can also craft deliberately bad certificates (CA:true leaves, zero or two
// URI SANs, expired, signed by another member's CA) that pki refuses to
// issue.
package pkitest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/mtls"
	"github.com/accordfed/accord/federation/pki"
	"github.com/accordfed/accord/federation/trust"
)

// Federation is a test federation on disk.
type Federation struct {
	t          testing.TB
	Name       string
	Dir        string
	CAs        map[string]*pki.CA
	BundleFile string
	CRLDir     string
	bundle     *trust.Bundle
}

// NewFederation makes a CA for each member and a bundle trusting all of
// them.
func NewFederation(t testing.TB, name string, members ...string) *Federation {
	t.Helper()
	dir := t.TempDir()
	f := &Federation{t: t, Name: name, Dir: dir, CAs: map[string]*pki.CA{},
		BundleFile: filepath.Join(dir, "trust-bundle.json"), CRLDir: filepath.Join(dir, "crl")}
	b, err := trust.NewBundle(name)
	if err != nil {
		t.Fatal(err)
	}
	f.bundle = b
	if err := os.MkdirAll(f.CRLDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, m := range members {
		f.AddMember(m)
	}
	return f
}

// AddMember makes a CA for a member and adds it to the bundle file.
func (f *Federation) AddMember(member string) *pki.CA {
	f.t.Helper()
	ca, err := pki.NewCA(pki.CAOptions{Federation: f.Name, Member: member})
	if err != nil {
		f.t.Fatal(err)
	}
	f.CAs[member] = ca
	if err := f.bundle.Add(member, "", ca.Cert); err != nil {
		f.t.Fatal(err)
	}
	f.SaveBundle()
	return ca
}

// RemoveMember drops a member from the bundle file.
func (f *Federation) RemoveMember(member string) {
	f.t.Helper()
	f.bundle.Remove(member, "")
	f.SaveBundle()
}

// SaveBundle writes the bundle file.
func (f *Federation) SaveBundle() {
	f.t.Helper()
	if err := f.bundle.Save(f.BundleFile); err != nil {
		f.t.Fatal(err)
	}
}

// Node issues a node certificate for 127.0.0.1 and localhost and returns
// the TLS configuration of a node using it.
func (f *Federation) Node(member, name string) mtls.Config {
	f.t.Helper()
	return f.issue(member, pki.IssueOptions{Kind: identity.KindNode, Name: name, DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}})
}

// User issues a user certificate.
func (f *Federation) User(member, name string) mtls.Config {
	f.t.Helper()
	return f.issue(member, pki.IssueOptions{Kind: identity.KindUser, Name: name})
}

func (f *Federation) issue(member string, opts pki.IssueOptions) mtls.Config {
	f.t.Helper()
	ca := f.CAs[member]
	if ca == nil {
		f.t.Fatalf("pkitest: no CA for member %s", member)
	}
	iss, err := ca.Issue(opts)
	if err != nil {
		f.t.Fatal(err)
	}
	return f.write(member+"-"+opts.Name, iss.CertPEM, iss.KeyPEM)
}

func (f *Federation) write(name string, certPEM, keyPEM []byte) mtls.Config {
	f.t.Helper()
	dir := filepath.Join(f.Dir, "certs", name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		f.t.Fatal(err)
	}
	cfg := mtls.Config{CertFile: filepath.Join(dir, "cert.pem"), KeyFile: filepath.Join(dir, "key.pem"), BundleFile: f.BundleFile, CRLDir: f.CRLDir}
	if err := os.WriteFile(cfg.CertFile, certPEM, 0o644); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(cfg.KeyFile, keyPEM, 0o600); err != nil {
		f.t.Fatal(err)
	}
	cfg.Normalize("")
	return cfg
}

// Certificate reads the certificate of a configuration.
func Certificate(t testing.TB, cfg mtls.Config) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(cfg.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// Revoke revokes the certificate of cfg at its member's CA and publishes
// the member's CRL into the CRL folder.
func (f *Federation) Revoke(member string, cfg mtls.Config) {
	f.t.Helper()
	cert := Certificate(f.t, cfg)
	if err := f.CAs[member].Revoke(cert.SerialNumber, 1, time.Now()); err != nil {
		f.t.Fatal(err)
	}
	f.PublishCRL(member)
}

// PublishCRL writes a member's current CRL into the CRL folder.
func (f *Federation) PublishCRL(member string) {
	f.t.Helper()
	crl, err := f.CAs[member].CRL(0)
	if err != nil {
		f.t.Fatal(err)
	}
	if err := trust.WriteFileAtomic(filepath.Join(f.CRLDir, member+".crl"), crl, 0o644); err != nil {
		f.t.Fatal(err)
	}
}

// Craft describes a deliberately unusual certificate.
type Craft struct {
	// SignedBy is the member whose CA signs it; nil Signer means that.
	SignedBy string
	// Signer, when set, signs instead (e.g. a CA outside the federation).
	Signer *pki.CA
	// URIs are the URI SANs; nil means none.
	URIs []*url.URL
	// IsCA makes it a CA certificate.
	IsCA bool
	// NotBefore and NotAfter; zero means an hour ago and a day ahead.
	NotBefore, NotAfter time.Time
	// ExtKeyUsage; nil means server and client authentication.
	ExtKeyUsage []x509.ExtKeyUsage
}

// Crafted signs a certificate as described and returns a configuration
// using it.
func (f *Federation) Crafted(name string, c Craft) mtls.Config {
	f.t.Helper()
	ca := c.Signer
	if ca == nil {
		ca = f.CAs[c.SignedBy]
	}
	if ca == nil {
		f.t.Fatalf("pkitest: no signer for %s", name)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.t.Fatal(err)
	}
	nb, na := c.NotBefore, c.NotAfter
	if nb.IsZero() {
		nb = time.Now().Add(-time.Hour)
	}
	if na.IsZero() {
		na = time.Now().Add(24 * time.Hour)
	}
	eku := c.ExtKeyUsage
	if eku == nil {
		eku = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: name},
		NotBefore: nb, NotAfter: na, URIs: c.URIs, ExtKeyUsage: eku,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true, IsCA: c.IsCA,
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
	}
	if c.IsCA {
		tmpl.KeyUsage |= x509.KeyUsageCertSign
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		f.t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		f.t.Fatal(err)
	}
	return f.write("crafted-"+name,
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
}

// NodeURI returns the identity URI of a node of a member of f.
func (f *Federation) NodeURI(member, name string) *url.URL {
	return identity.Identity{Federation: f.Name, Member: member, Kind: identity.KindNode, Name: name}.URI()
}

// WithTrust returns cfg using another federation's bundle and CRLs (for a
// node that trusts a different set of members).
func WithTrust(cfg mtls.Config, other *Federation) mtls.Config {
	cfg.BundleFile = other.BundleFile
	cfg.CRLDir = other.CRLDir
	return cfg
}

// Lookalike makes what a dishonest member could submit for the trust
// bundle to pass its CA for another member's: a self-signed CA certificate
// with a fresh key that names member (its URI SAN) but copies like's subject,
// or, when sameKeyID, like's subject key id (under a subject of its own). It
// returns the certificate and its key.
func (f *Federation) Lookalike(member string, like *x509.Certificate, sameKeyID bool) (*x509.Certificate, *ecdsa.PrivateKey) {
	f.t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.t.Fatal(err)
	}
	keyID, rawSubject := []byte("lookalike-"+member), like.RawSubject
	subject := pkix.Name{CommonName: "Accord " + member + " lookalike CA"}
	if sameKeyID {
		// A subject of its own, so that only the key id collides.
		keyID, rawSubject = like.SubjectKeyId, nil
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: subject, RawSubject: rawSubject,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true,
		KeyUsage:     x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		URIs:         []*url.URL{identity.MemberURI(f.Name, member)},
		SubjectKeyId: keyID,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		f.t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		f.t.Fatal(err)
	}
	return cert, key
}

// SignCRL signs, as issuer with key, a CRL listing serials as revoked,
// whether or not issuer issued them, and returns it in PEM.
func SignCRL(t testing.TB, issuer *x509.Certificate, key crypto.Signer, serials ...*big.Int) []byte {
	t.Helper()
	now := time.Now()
	tmpl := &x509.RevocationList{Number: big.NewInt(now.UnixNano()), ThisUpdate: now.Add(-time.Minute), NextUpdate: now.Add(24 * time.Hour)}
	for _, s := range serials {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries, x509.RevocationListEntry{SerialNumber: s, RevocationTime: now.Add(-time.Minute), ReasonCode: pki.ReasonKeyCompromise})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, issuer, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})
}

// WriteBundleWith writes the bundle file with extra CA certificates listed
// for member, without the bundle's checks: a bundle file assembled
// carelessly or tampered with. SaveBundle writes the checked one again.
func (f *Federation) WriteBundleWith(member string, extra ...*x509.Certificate) {
	f.t.Helper()
	b := trust.Bundle{Version: f.bundle.Version, Federation: f.bundle.Federation}
	for _, m := range f.bundle.Members {
		m.CACertificates = append([]string(nil), m.CACertificates...)
		if m.Member == member {
			for _, c := range extra {
				m.CACertificates = append(m.CACertificates, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})))
			}
		}
		b.Members = append(b.Members, m)
	}
	data, err := json.MarshalIndent(b, "", "  ")
	if err != nil {
		f.t.Fatal(err)
	}
	if err := trust.WriteFileAtomic(f.BundleFile, data, 0o644); err != nil {
		f.t.Fatal(err)
	}
}

// WriteCRLFile writes data as a file of the CRL folder.
func (f *Federation) WriteCRLFile(name string, data []byte) {
	f.t.Helper()
	if err := trust.WriteFileAtomic(filepath.Join(f.CRLDir, name), data, 0o644); err != nil {
		f.t.Fatal(err)
	}
}
