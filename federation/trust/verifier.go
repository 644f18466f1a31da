package trust

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/accordfed/accord/federation/identity"
)

// Reasons a peer certificate is refused. Every error returned by
// Verifier.Verify wraps exactly one of them.
var (
	// ErrNoCertificate: the peer presented no certificate.
	ErrNoCertificate = errors.New("no certificate presented")
	// ErrLeafIsCA: the presented certificate is a CA certificate (CA:true).
	ErrLeafIsCA = errors.New("certificate is a CA certificate, not a node or user certificate")
	// ErrBadIdentity: the certificate does not carry exactly one valid
	// Accord URI SAN.
	ErrBadIdentity = errors.New("certificate does not name exactly one Accord identity")
	// ErrWrongFederation: the certificate names another federation.
	ErrWrongFederation = errors.New("certificate belongs to another federation")
	// ErrUnknownMember: the certificate names a member that is not in the
	// trust bundle.
	ErrUnknownMember = errors.New("member is not in the trust bundle")
	// ErrWrongCA: the certificate was signed by the CA of another member,
	// which may only vouch for its own member.
	ErrWrongCA = errors.New("certificate signed by another member's CA")
	// ErrUnknownCA: the certificate was signed by no CA in the trust bundle.
	ErrUnknownCA = errors.New("certificate signed by an unknown CA")
	// ErrExpired: the certificate (or a CA in its chain) has expired.
	ErrExpired = errors.New("certificate has expired")
	// ErrNotYetValid: the certificate is not valid yet.
	ErrNotYetValid = errors.New("certificate is not valid yet")
	// ErrRevoked: the certificate (or a CA in its chain) is listed in its
	// member's certificate revocation list.
	ErrRevoked = errors.New("certificate has been revoked")
	// ErrKeyUsage: the certificate may not be used for this purpose (for
	// example a user certificate used as a server).
	ErrKeyUsage = errors.New("certificate not valid for this use")
	// ErrInvalidCRL: a CRL cannot be parsed or is signed by no CA in the
	// trust bundle.
	ErrInvalidCRL = errors.New("invalid certificate revocation list")
)

// Why a CRL file cannot be applied: the Reason of a CRLProblem, short and
// stable (for metrics and status).
const (
	// CRLUnreadable: the file cannot be read.
	CRLUnreadable = "unreadable"
	// CRLMalformed: the file is not a CRL (PEM "X509 CRL" or DER).
	CRLMalformed = "malformed"
	// CRLUnknownIssuer: the CRL is signed by no CA of the trust bundle
	// (or names one CA and is signed by another key).
	CRLUnknownIssuer = "unknown_issuer"
)

// CRLProblemReasons are all reasons a CRL file can be unusable.
var CRLProblemReasons = []string{CRLUnreadable, CRLMalformed, CRLUnknownIssuer}

// CRLProblem is a CRL file that cannot be applied, and why. One unusable file
// never stops the others from being applied.
type CRLProblem struct {
	Source string
	// Reason is one of CRLProblemReasons.
	Reason string
	Err    error
}

// Verifier checks peer certificate chains against a trust bundle and the
// members' CRLs. It is immutable and safe for concurrent use; to change what
// is trusted, build a new one.
type Verifier struct {
	federation string
	members    map[string]*memberTrust
	revoked    map[string]time.Time // issuing CA's key fingerprint + serial -> revocation time
	crls       []CRLInfo
	unusable   []CRLProblem
	now        func() time.Time
}

type memberTrust struct {
	pool *x509.CertPool
	cas  []*x509.Certificate
}

// CRLInfo describes a CRL a verifier applies.
type CRLInfo struct {
	Member     string
	Issuer     string
	Number     *big.Int
	ThisUpdate time.Time
	NextUpdate time.Time
	Revoked    int
	Source     string
}

// Stale reports whether the CRL is past its next update. A stale CRL is still
// applied (its revocations remain true), but an operator should publish a new
// one.
func (c CRLInfo) Stale(now time.Time) bool {
	return !c.NextUpdate.IsZero() && now.After(c.NextUpdate)
}

// CRL is a parsed revocation list and where it came from.
type CRL struct {
	List   *x509.RevocationList
	Source string
}

// NewVerifier builds a verifier. A CRL applies to the certificates issued
// by the CA whose key signed it, and to no others: its revocations are keyed
// by that CA's public key, not by the issuer name the CRL states, so a CA of
// one member can never revoke another member's certificates. A CRL signed by
// no CA of the bundle is not applied and is reported by Unusable; the others
// still are. now may be nil (time.Now).
func NewVerifier(b *Bundle, crls []CRL, now func() time.Time) (*Verifier, error) {
	if err := b.Validate(); err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	certs, err := b.Certificates()
	if err != nil {
		return nil, err
	}
	v := &Verifier{federation: b.Federation, members: map[string]*memberTrust{}, revoked: map[string]time.Time{}, now: now}
	for member, cas := range certs {
		mt := &memberTrust{pool: x509.NewCertPool(), cas: cas}
		for _, ca := range cas {
			mt.pool.AddCert(ca)
		}
		v.members[member] = mt
	}
	for _, c := range crls {
		member, ca := v.crlIssuer(c.List)
		if ca == nil {
			v.unusable = append(v.unusable, CRLProblem{Source: c.Source, Reason: CRLUnknownIssuer,
				Err: fmt.Errorf("%w: %s: names issuer %q but is signed by no CA of that name in the trust bundle", ErrInvalidCRL, c.Source, c.List.Issuer.String())})
			continue
		}
		issuer := KeyFingerprint(ca)
		for _, e := range c.List.RevokedCertificateEntries {
			v.revoked[revocationKey(issuer, e.SerialNumber)] = e.RevocationTime
		}
		v.crls = append(v.crls, CRLInfo{
			Member: member, Issuer: c.List.Issuer.String(), Number: c.List.Number,
			ThisUpdate: c.List.ThisUpdate, NextUpdate: c.List.NextUpdate,
			Revoked: len(c.List.RevokedCertificateEntries), Source: c.Source,
		})
	}
	sort.SliceStable(v.crls, func(i, j int) bool { return v.crls[i].Member < v.crls[j].Member })
	return v, nil
}

// crlIssuer finds the CA of the bundle that signed a CRL: a CA whose subject
// is the CRL's issuer and whose key verifies its signature. The bundle lets
// no two members' CAs share a subject or a key, so at most one member owns
// it.
func (v *Verifier) crlIssuer(crl *x509.RevocationList) (string, *x509.Certificate) {
	for member, mt := range v.members {
		for _, ca := range mt.cas {
			if bytes.Equal(ca.RawSubject, crl.RawIssuer) && crl.CheckSignatureFrom(ca) == nil {
				return member, ca
			}
		}
	}
	return "", nil
}

// revocationKey identifies a certificate by the key of the CA that issued it
// and its serial number.
func revocationKey(issuerKey string, serial *big.Int) string {
	return issuerKey + "\x00" + serial.String()
}

// Federation returns the federation the verifier trusts.
func (v *Verifier) Federation() string { return v.federation }

// Members returns the members in the trust bundle, sorted.
func (v *Verifier) Members() []string {
	out := make([]string, 0, len(v.members))
	for m := range v.members {
		out = append(out, m)
	}
	slices.Sort(out)
	return out
}

// CRLs describes the CRLs the verifier applies.
func (v *Verifier) CRLs() []CRLInfo { return slices.Clone(v.crls) }

// Unusable lists the CRLs given to NewVerifier that it does not apply
// because no CA of the bundle signed them.
func (v *Verifier) Unusable() []CRLProblem { return slices.Clone(v.unusable) }

// CAs returns all CA certificates of the bundle, for the list of acceptable
// CAs a TLS server sends.
func (v *Verifier) CAs() *x509.CertPool {
	pool := x509.NewCertPool()
	for _, mt := range v.members {
		for _, ca := range mt.cas {
			pool.AddCert(ca)
		}
	}
	return pool
}

// Verify checks a peer's certificate chain (leaf first, as presented in the
// handshake) for the given use (x509.ExtKeyUsageClientAuth when the peer is
// a client, x509.ExtKeyUsageServerAuth when it is a server) and returns the
// identity it proves.
func (v *Verifier) Verify(chain []*x509.Certificate, usage x509.ExtKeyUsage) (identity.Identity, error) {
	if len(chain) == 0 {
		return identity.Identity{}, ErrNoCertificate
	}
	leaf := chain[0]
	subject := describe(leaf)
	if leaf.IsCA {
		return identity.Identity{}, fmt.Errorf("%w: %s", ErrLeafIsCA, subject)
	}
	id, err := identity.FromCertificate(leaf)
	if err != nil {
		return identity.Identity{}, fmt.Errorf("%w: %s: %w", ErrBadIdentity, subject, err)
	}
	if id.Federation != v.federation {
		return id, fmt.Errorf("%w: %s names federation %q, this node trusts %q", ErrWrongFederation, id, id.Federation, v.federation)
	}
	mt, ok := v.members[id.Member]
	if !ok {
		return id, fmt.Errorf("%w: %s claims member %s", ErrUnknownMember, id, id.Member)
	}
	now := v.now()
	if now.After(leaf.NotAfter) {
		return id, fmt.Errorf("%w: %s expired at %s", ErrExpired, id, leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	if now.Before(leaf.NotBefore) {
		return id, fmt.Errorf("%w: %s is valid from %s", ErrNotYetValid, id, leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	opts := x509.VerifyOptions{Roots: mt.pool, Intermediates: inter, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{usage}}
	verified, err := leaf.Verify(opts)
	if err != nil {
		return id, v.explain(id, leaf, opts, err)
	}
	// Each certificate is looked up under the key of the CA that verified
	// its signature in this chain, never under the issuer name it states.
	chainOK := verified[0]
	for i, c := range chainOK[:len(chainOK)-1] {
		if at, ok := v.revoked[revocationKey(KeyFingerprint(chainOK[i+1]), c.SerialNumber)]; ok {
			what := "its certificate"
			if c != leaf {
				what = "intermediate CA " + c.Subject.String()
			}
			return id, fmt.Errorf("%w: %s: %s (serial %s) was revoked by member %s at %s", ErrRevoked, id, what, c.SerialNumber.Text(16), id.Member, at.UTC().Format(time.RFC3339))
		}
	}
	return id, nil
}

func (v *Verifier) explain(id identity.Identity, leaf *x509.Certificate, opts x509.VerifyOptions, err error) error {
	var invalid x509.CertificateInvalidError
	if errors.As(err, &invalid) {
		switch invalid.Reason {
		case x509.Expired:
			return fmt.Errorf("%w: %s: a certificate in its chain is outside its validity period: %w", ErrExpired, id, err)
		case x509.IncompatibleUsage:
			return fmt.Errorf("%w: %s: %w", ErrKeyUsage, id, err)
		}
	}
	var unknown x509.UnknownAuthorityError
	if errors.As(err, &unknown) {
		for member, mt := range v.members {
			if member == id.Member {
				continue
			}
			o := opts
			o.Roots = mt.pool
			if _, e := leaf.Verify(o); e == nil {
				return fmt.Errorf("%w: %s claims member %s but was signed by the CA of member %s, which may vouch only for %s", ErrWrongCA, id, id.Member, member, member)
			}
		}
		return fmt.Errorf("%w: %s was signed by %q, which is not a CA of member %s in the trust bundle", ErrUnknownCA, id, leaf.Issuer.String(), id.Member)
	}
	return fmt.Errorf("%w: %s: %w", ErrUnknownCA, id, err)
}

func describe(c *x509.Certificate) string {
	if len(c.URIs) > 0 {
		names := make([]string, len(c.URIs))
		for i, u := range c.URIs {
			names[i] = u.String()
		}
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("certificate %q", c.Subject.String())
}

// ParseCRL parses a CRL in PEM ("X509 CRL") or DER form.
func ParseCRL(data []byte) (*x509.RevocationList, error) {
	if block, _ := pem.Decode(data); block != nil {
		if block.Type != "X509 CRL" {
			return nil, fmt.Errorf("%w: PEM block %q, want \"X509 CRL\"", ErrInvalidCRL, block.Type)
		}
		data = block.Bytes
	}
	crl, err := x509.ParseRevocationList(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidCRL, err)
	}
	return crl, nil
}

// LoadCRLDir reads every *.crl and *.pem file of a folder as a CRL, each on
// its own: a file that cannot be read or parsed is reported as a problem and
// the others are still returned. A missing folder holds no CRLs; an empty dir
// name means none. The error is only for a folder that cannot be listed.
func LoadCRLDir(dir string) ([]CRL, []CRLProblem, error) {
	if dir == "" {
		return nil, nil, nil
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read CRL folder: %w", err)
	}
	var (
		out      []CRL
		problems []CRLProblem
	)
	for _, e := range entries {
		ext := filepath.Ext(e.Name())
		if e.IsDir() || (ext != ".crl" && ext != ".pem") || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		data, err := os.ReadFile(path)
		if err != nil {
			problems = append(problems, CRLProblem{Source: path, Reason: CRLUnreadable, Err: fmt.Errorf("read CRL: %w", err)})
			continue
		}
		crl, err := ParseCRL(data)
		if err != nil {
			problems = append(problems, CRLProblem{Source: path, Reason: CRLMalformed, Err: fmt.Errorf("%s: %w", path, err)})
			continue
		}
		out = append(out, CRL{List: crl, Source: path})
	}
	return out, problems, nil
}

// Reason returns a short, stable label for why a certificate was refused
// (for metrics and logs), or "other" for an error that wraps no sentinel.
func Reason(err error) string {
	for _, r := range reasons {
		if errors.Is(err, r.err) {
			return r.label
		}
	}
	return "other"
}

var reasons = []struct {
	err   error
	label string
}{
	{ErrNoCertificate, "no_certificate"},
	{ErrLeafIsCA, "leaf_is_ca"},
	{ErrBadIdentity, "bad_identity"},
	{ErrWrongFederation, "wrong_federation"},
	{ErrUnknownMember, "unknown_member"},
	{ErrWrongCA, "wrong_ca"},
	{ErrUnknownCA, "unknown_ca"},
	{ErrExpired, "expired"},
	{ErrNotYetValid, "not_yet_valid"},
	{ErrRevoked, "revoked"},
	{ErrKeyUsage, "key_usage"},
}
