package pki

import (
	"crypto"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/trust"
)

// Leaf certificate validity.
const (
	// DefaultLeafValidity is how long a node or user certificate is valid
	// unless told.
	DefaultLeafValidity = 90 * 24 * time.Hour
	// MaxLeafValidity is the longest node or user certificate validity
	// accepted (the CA/Browser Forum's 397 days).
	MaxLeafValidity = 397 * 24 * time.Hour
)

var dnsLabelRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// IssueOptions describe a node or user certificate.
type IssueOptions struct {
	// Kind is identity.KindNode or identity.KindUser. Required.
	Kind identity.Kind
	// Name is the node name or the opaque user account id (never a
	// person's name). Required.
	Name string
	// DNSNames and IPAddresses are the names a node is reached by. Users
	// have none.
	DNSNames    []string
	IPAddresses []net.IP
	// Validity is how long the certificate is valid; zero means
	// DefaultLeafValidity (90 days); more than MaxLeafValidity (397 days) is
	// refused. The certificate never outlives its CA: its end is cut to the
	// CA's.
	Validity time.Duration
	// NotBefore is when the certificate becomes valid; zero means now minus
	// ClockSkew.
	NotBefore time.Time
}

func (o *IssueOptions) validate() error {
	const opt = "IssueOptions"
	if o.Kind != identity.KindNode && o.Kind != identity.KindUser {
		return fieldErr(opt, "Kind", string(o.Kind), fmt.Sprintf("must be %q or %q", identity.KindNode, identity.KindUser), nil)
	}
	if err := identity.ValidateName(o.Name); err != nil {
		return fieldErr(opt, "Name", o.Name, "must be 1-63 of a-z, 0-9, '.', '_', '-' starting with a letter or digit", err)
	}
	if o.Kind == identity.KindUser && len(o.DNSNames) > 0 {
		return fieldErr(opt, "DNSNames", strings.Join(o.DNSNames, ","), "a user certificate is for client authentication only and carries no DNS names", nil)
	}
	if o.Kind == identity.KindUser && len(o.IPAddresses) > 0 {
		return fieldErr(opt, "IPAddresses", joinIPs(o.IPAddresses), "a user certificate is for client authentication only and carries no IP addresses", nil)
	}
	for _, d := range o.DNSNames {
		if err := validateDNSName(d); err != nil {
			return fieldErr(opt, "DNSNames", d, err.Error(), nil)
		}
	}
	for i, ip := range o.IPAddresses {
		if ip.To16() == nil {
			return fieldErr(opt, "IPAddresses", fmt.Sprintf("#%d", i+1), "is not an IPv4 or IPv6 address", nil)
		}
	}
	if o.Validity < 0 {
		return fieldErr(opt, "Validity", o.Validity.String(), "must be positive", nil)
	}
	if o.Validity > MaxLeafValidity {
		return fieldErr(opt, "Validity", o.Validity.String(), "must be at most 397 days", nil)
	}
	return nil
}

func validateDNSName(d string) error {
	if d == "" {
		return errors.New("is empty")
	}
	if len(d) > 253 {
		return errors.New("is longer than 253 characters")
	}
	if strings.Contains(d, "*") {
		return errors.New("wildcards are not allowed: name each host")
	}
	for _, l := range strings.Split(strings.ToLower(d), ".") {
		if !dnsLabelRE.MatchString(l) {
			return errors.New("must be DNS labels (letters, digits, '-') separated by dots")
		}
	}
	return nil
}

func joinIPs(ips []net.IP) string {
	s := make([]string, len(ips))
	for i, ip := range ips {
		s[i] = ip.String()
	}
	return strings.Join(s, ",")
}

// Issued is a freshly issued certificate with its key.
type Issued struct {
	Identity identity.Identity
	Cert     *x509.Certificate
	Key      crypto.Signer
	CertPEM  []byte
	KeyPEM   []byte // PKCS#8
}

// Issue makes a node or user certificate with a fresh ECDSA P-256 key. The
// serial is recorded in the CA's index, and saved if the CA has a folder;
// when saving fails, nothing is issued.
func (ca *CA) Issue(opts IssueOptions) (*Issued, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	id := identity.Identity{Federation: ca.Federation, Member: ca.Member, Kind: opts.Kind, Name: opts.Name}
	if err := id.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorruptCA, err)
	}
	now := ca.now()
	if now.After(ca.Cert.NotAfter) {
		return nil, fmt.Errorf("%w: the CA of member %s expired at %s; make a new CA and add it to the trust bundle", ErrCAExpired, ca.Member, ca.Cert.NotAfter.UTC().Format(time.RFC3339))
	}
	validity := opts.Validity
	if validity == 0 {
		validity = DefaultLeafValidity
	}
	notBefore := opts.NotBefore
	if notBefore.IsZero() {
		notBefore = now.Add(-ClockSkew)
	}
	notAfter := notBefore.Add(validity)
	if notAfter.After(ca.Cert.NotAfter) {
		notAfter = ca.Cert.NotAfter
	}
	if !notAfter.After(notBefore) {
		return nil, fieldErr("IssueOptions", "NotBefore", notBefore.UTC().Format(time.RFC3339), "is not before the CA's expiry, so the certificate would never be valid", nil)
	}
	km, err := newKeyMaterial()
	if err != nil {
		return nil, err
	}
	key, serial, ski := km.key, km.serial, km.ski
	eku := []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	if opts.Kind == identity.KindNode {
		eku = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	}
	var dns []string
	for _, d := range opts.DNSNames {
		dns = append(dns, strings.ToLower(d))
	}
	var ips []net.IP
	for _, ip := range opts.IPAddresses {
		if v4 := ip.To4(); v4 != nil {
			ip = v4
		}
		ips = append(ips, ip)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: opts.Name, Organization: ca.Cert.Subject.Organization},
		NotBefore:             notBefore.UTC(),
		NotAfter:              notAfter.UTC(),
		BasicConstraintsValid: true,
		IsCA:                  false,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           eku,
		URIs:                  []*url.URL{id.URI()},
		DNSNames:              dns,
		IPAddresses:           ips,
		SubjectKeyId:          ski,
		AuthorityKeyId:        ca.Cert.SubjectKeyId,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		return nil, fmt.Errorf("sign %s certificate: %w", opts.Kind, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse new certificate: %w", err)
	}
	kp, err := keyPEM(key)
	if err != nil {
		return nil, err
	}

	ca.mu.Lock()
	defer ca.mu.Unlock()
	hex := serial.Text(16)
	if ca.issuedIndexLocked(hex) >= 0 {
		return nil, fmt.Errorf("serial %s was already issued (a 1 in 2^128 event): try again", hex)
	}
	ca.state.Issued = append(ca.state.Issued, IssuedRecord{
		Serial: hex, Identity: id.String(), NotBefore: cert.NotBefore, NotAfter: cert.NotAfter,
		IssuedAt: now.UTC(), Fingerprint: trust.Fingerprint(cert),
	})
	if err := ca.persistLocked(); err != nil {
		ca.state.Issued = ca.state.Issued[:len(ca.state.Issued)-1]
		return nil, err
	}
	return &Issued{Identity: id, Cert: cert, Key: key, CertPEM: certPEM(cert), KeyPEM: kp}, nil
}

// TLSCertificate returns the certificate and key for crypto/tls, with Leaf
// set. The chain is the leaf alone: the member CA is a root that peers find
// in their trust bundle.
func (i *Issued) TLSCertificate() tls.Certificate {
	return tls.Certificate{Certificate: [][]byte{i.Cert.Raw}, PrivateKey: i.Key, Leaf: i.Cert}
}

// CertFile and KeyFile name the files WriteIssued writes for a kind:
// "node.crt" and "node.key", or "user.crt" and "user.key".
func CertFile(kind identity.Kind) string { return string(kind) + ".crt" }

// KeyFile names the private key file WriteIssued writes for a kind.
func KeyFile(kind identity.Kind) string { return string(kind) + ".key" }

// WriteIssued writes an issued certificate into dir: <kind>.crt (0644),
// <kind>.key (0600) and the issuing CA's certificate as ca.crt (0644), each
// atomically. dir is created (0755) if needed; files there are replaced.
func WriteIssued(dir string, i *Issued, ca *CA) error {
	if dir == "" {
		return fieldErr("WriteIssued", "dir", "", "a folder is required", nil)
	}
	if err := i.Cert.CheckSignatureFrom(ca.Cert); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrNotIssuedByCA, i.Identity, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create folder: %w", err)
	}
	kind := i.Identity.Kind
	// The key first: a certificate without its key is useless, a key
	// without a new certificate is harmless.
	if err := trust.WriteFileAtomic(filepath.Join(dir, KeyFile(kind)), i.KeyPEM, 0o600); err != nil {
		return fmt.Errorf("write key: %w", err)
	}
	if err := trust.WriteFileAtomic(filepath.Join(dir, CertFile(kind)), i.CertPEM, 0o644); err != nil {
		return fmt.Errorf("write certificate: %w", err)
	}
	if err := trust.WriteFileAtomic(filepath.Join(dir, CACertFile), ca.CertPEM(), 0o644); err != nil {
		return fmt.Errorf("write CA certificate: %w", err)
	}
	return nil
}

// PKCS12File names the PKCS#12 file WritePKCS12 writes for a kind:
// "user.p12" or "node.p12".
func PKCS12File(kind identity.Kind) string { return string(kind) + ".p12" }

// MinPKCS12Password is the shortest password WritePKCS12 accepts.
const MinPKCS12Password = 12

// WritePKCS12 writes an issued certificate, its key and the issuing CA's
// certificate as one PKCS#12 file, <kind>.p12 (0600), in dir: the form in
// which a user imports a certificate into a browser or a smart-card tool.
// It is encrypted with password (PBES2: AES-256-CBC, PBKDF2 with
// HMAC-SHA-256; SHA-256 MAC), at least MinPKCS12Password characters. It
// returns the file's path.
func WritePKCS12(dir string, i *Issued, ca *CA, password string) (string, error) {
	if len(password) < MinPKCS12Password {
		return "", fieldErr("WritePKCS12", "password", "", fmt.Sprintf("at least %d characters", MinPKCS12Password), nil)
	}
	if err := i.Cert.CheckSignatureFrom(ca.Cert); err != nil {
		return "", fmt.Errorf("%w: %s: %w", ErrNotIssuedByCA, i.Identity, err)
	}
	der, err := pkcs12.Modern2023.Encode(i.Key, i.Cert, []*x509.Certificate{ca.Cert}, password)
	if err != nil {
		return "", fmt.Errorf("encode PKCS#12: %w", err)
	}
	path := filepath.Join(dir, PKCS12File(i.Identity.Kind))
	if err := trust.WriteFileAtomic(path, der, 0o600); err != nil {
		return "", fmt.Errorf("write PKCS#12: %w", err)
	}
	return path, nil
}

// ReadIssued reads back what WriteIssued wrote for a kind and checks that the
// key belongs to the certificate and that the certificate names one
// identity of that kind. It does not verify the certificate against a CA.
func ReadIssued(dir string, kind identity.Kind) (*Issued, error) {
	certPath := filepath.Join(dir, CertFile(kind))
	cp, err := os.ReadFile(certPath)
	if err != nil {
		return nil, fmt.Errorf("read certificate: %w", err)
	}
	cert, err := parseCertificatePEM(cp)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", certPath, err)
	}
	id, err := identity.FromCertificate(cert)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", certPath, err)
	}
	if id.Kind != kind {
		return nil, fmt.Errorf("%s: %w: names a %s, not a %s", certPath, identity.ErrInvalid, id.Kind, kind)
	}
	keyPath := filepath.Join(dir, KeyFile(kind))
	kp, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, fmt.Errorf("read key: %w", err)
	}
	key, err := parsePrivateKeyPEM(kp)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", keyPath, err)
	}
	if !keyMatches(cert, key) {
		return nil, fmt.Errorf("%w: %s does not belong to %s", ErrKeyMismatch, keyPath, certPath)
	}
	return &Issued{Identity: id, Cert: cert, Key: key, CertPEM: cp, KeyPEM: kp}, nil
}
