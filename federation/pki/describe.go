package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"strings"
	"time"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/trust"
)

// What Inspect can find in a file (Item.Type).
const (
	TypeCertificate = "certificate"
	TypeCRL         = "crl"
	TypeTrustBundle = "trust-bundle"
	TypePrivateKey  = "private-key"
	TypeOther       = "other"
)

// Warning horizons: a certificate expiring sooner than this gets a warning.
const (
	leafRenewWarning = 14 * 24 * time.Hour
	caRenewWarning   = 180 * 24 * time.Hour
)

// Report is what Inspect found in a file: one item per PEM block, or one
// item for a DER file or a trust bundle.
type Report struct {
	Items []Item `json:"items"`
}

// Item is one thing found in a file. Exactly one of the pointers is set,
// matching Type (none for TypeOther).
type Item struct {
	Type        string           `json:"type"`
	Summary     string           `json:"summary"` // one line in plain words
	Certificate *CertificateInfo `json:"certificate,omitempty"`
	CRL         *CRLInfo         `json:"crl,omitempty"`
	Bundle      *BundleInfo      `json:"bundle,omitempty"`
	PrivateKey  *PrivateKeyInfo  `json:"private_key,omitempty"`
	Warnings    []string         `json:"warnings,omitempty"`
}

// CertificateInfo describes a certificate.
type CertificateInfo struct {
	// Role is "node", "user", "member CA", "CA" (a CA that names no member)
	// or "other" (a leaf that is no Accord identity).
	Role       string `json:"role"`
	Identity   string `json:"identity,omitempty"` // the Accord URI, when valid
	Federation string `json:"federation,omitempty"`
	Member     string `json:"member,omitempty"`
	Name       string `json:"name,omitempty"` // node name or user account id

	Subject       string    `json:"subject"`
	Issuer        string    `json:"issuer"`
	SelfSigned    bool      `json:"self_signed"`
	Serial        string    `json:"serial"` // lower-case hex
	NotBefore     time.Time `json:"not_before"`
	NotAfter      time.Time `json:"not_after"`
	ExpiresInDays int       `json:"expires_in_days"` // negative once expired
	Expired       bool      `json:"expired"`
	NotYetValid   bool      `json:"not_yet_valid"`
	IsCA          bool      `json:"is_ca"`
	MaxPathLen    *int      `json:"max_path_len,omitempty"`
	KeyUsage      []string  `json:"key_usage,omitempty"`
	ExtKeyUsage   []string  `json:"ext_key_usage,omitempty"`
	URIs          []string  `json:"uris,omitempty"`
	DNSNames      []string  `json:"dns_names,omitempty"`
	IPAddresses   []string  `json:"ip_addresses,omitempty"`
	KeyType       string    `json:"key_type"`
	SignatureAlg  string    `json:"signature_algorithm"`
	SHA256        string    `json:"sha256"`            // of the certificate, as in trust bundles
	PublicKeySHA  string    `json:"public_key_sha256"` // of the public key; its private key file shows the same
}

// CRLInfo describes a certificate revocation list. Inspect does not check
// its signature: it does not know the CA.
type CRLInfo struct {
	Issuer      string        `json:"issuer"`
	IssuerKeyID string        `json:"issuer_key_id,omitempty"`
	Number      string        `json:"number,omitempty"`
	ThisUpdate  time.Time     `json:"this_update"`
	NextUpdate  time.Time     `json:"next_update,omitzero"`
	Stale       bool          `json:"stale"`
	Revoked     []RevokedInfo `json:"revoked"`
}

// RevokedInfo is one revoked certificate in a CRL.
type RevokedInfo struct {
	Serial    string    `json:"serial"`
	RevokedAt time.Time `json:"revoked_at"`
	Reason    string    `json:"reason"`
}

// BundleInfo describes a trust bundle.
type BundleInfo struct {
	Federation string             `json:"federation"`
	Version    int                `json:"version"`
	Members    []BundleMemberInfo `json:"members"`
}

// BundleMemberInfo describes one member of a trust bundle.
type BundleMemberInfo struct {
	Member string            `json:"member"`
	Name   string            `json:"name,omitempty"`
	CAs    []CertificateInfo `json:"cas"`
}

// PrivateKeyInfo describes a private key without revealing it.
type PrivateKeyInfo struct {
	KeyType      string `json:"key_type"`
	Format       string `json:"format"`
	PublicKeySHA string `json:"public_key_sha256,omitempty"`
}

// Describe explains in plain words what data (PEM or DER certificates, CRLs,
// private keys, or a trust bundle in JSON) is, as of now: whom a certificate
// names, who issued it, how long it is valid, and what Accord would refuse
// in it.
func Describe(data []byte, now time.Time) (string, error) {
	r, err := Inspect(data, now)
	if err != nil {
		return "", err
	}
	return r.Text(), nil
}

// Inspect is Describe in structured form.
func Inspect(data []byte, now time.Time) (*Report, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, fmt.Errorf("%w: the file is empty", ErrUnrecognized)
	}
	if trimmed[0] == '{' {
		b, err := trust.ParseBundle(trimmed)
		if err != nil {
			return nil, err
		}
		return &Report{Items: []Item{inspectBundle(b, now)}}, nil
	}
	if bytes.Contains(data, []byte("-----BEGIN ")) {
		return inspectPEM(data, now)
	}
	if c, err := x509.ParseCertificate(data); err == nil {
		return &Report{Items: []Item{inspectCert(c, now)}}, nil
	}
	if crl, err := x509.ParseRevocationList(data); err == nil {
		return &Report{Items: []Item{inspectCRL(crl, now)}}, nil
	}
	if k, err := x509.ParsePKCS8PrivateKey(data); err == nil {
		return &Report{Items: []Item{inspectKey(k, "PKCS#8 (DER)")}}, nil
	}
	return nil, fmt.Errorf("%w: neither PEM, DER nor a JSON trust bundle", ErrUnrecognized)
}

func inspectPEM(data []byte, now time.Time) (*Report, error) {
	r := &Report{}
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		switch block.Type {
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%w: PEM block %d (CERTIFICATE): %w", ErrUnrecognized, len(r.Items)+1, err)
			}
			r.Items = append(r.Items, inspectCert(c, now))
		case "X509 CRL":
			crl, err := x509.ParseRevocationList(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%w: PEM block %d (X509 CRL): %w", ErrUnrecognized, len(r.Items)+1, err)
			}
			r.Items = append(r.Items, inspectCRL(crl, now))
		case "PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY":
			var k any
			var err error
			format := map[string]string{"PRIVATE KEY": "PKCS#8", "EC PRIVATE KEY": "SEC 1", "RSA PRIVATE KEY": "PKCS#1"}[block.Type]
			switch block.Type {
			case "PRIVATE KEY":
				k, err = x509.ParsePKCS8PrivateKey(block.Bytes)
			case "EC PRIVATE KEY":
				k, err = x509.ParseECPrivateKey(block.Bytes)
			default:
				k, err = x509.ParsePKCS1PrivateKey(block.Bytes)
			}
			if err != nil {
				return nil, fmt.Errorf("%w: PEM block %d (%s): %w", ErrUnrecognized, len(r.Items)+1, block.Type, err)
			}
			r.Items = append(r.Items, inspectKey(k, format+" PEM"))
		case "ENCRYPTED PRIVATE KEY":
			r.Items = append(r.Items, Item{Type: TypePrivateKey, Summary: "Encrypted private key (PKCS#8): keep it secret",
				PrivateKey: &PrivateKeyInfo{KeyType: "unknown (encrypted)", Format: "encrypted PKCS#8 PEM"},
				Warnings:   []string{"Accord nodes cannot read encrypted keys"}})
		default:
			r.Items = append(r.Items, Item{Type: TypeOther, Summary: fmt.Sprintf("PEM block of type %q: not something Accord uses", block.Type)})
		}
	}
	if len(r.Items) == 0 {
		return nil, fmt.Errorf("%w: no readable PEM block", ErrUnrecognized)
	}
	return r, nil
}

func inspectKey(k any, format string) Item {
	info := &PrivateKeyInfo{Format: format}
	var warnings []string
	if s, ok := k.(crypto.Signer); ok {
		info.KeyType = keyType(s.Public())
		info.PublicKeySHA = publicKeyFingerprint(s.Public())
	} else {
		info.KeyType = fmt.Sprintf("unknown (%T)", k)
	}
	if ek, ok := k.(*ecdsa.PrivateKey); !ok || ek.Curve.Params().Name != "P-256" {
		warnings = append(warnings, "accordctl makes ECDSA P-256 keys; this is "+info.KeyType)
	}
	return Item{
		Type:       TypePrivateKey,
		Summary:    fmt.Sprintf("Private key, %s, %s: keep it secret (mode 0600) and never commit it", info.KeyType, format),
		PrivateKey: info,
		Warnings:   warnings,
	}
}

func inspectCert(c *x509.Certificate, now time.Time) Item {
	info := &CertificateInfo{
		Subject:       c.Subject.String(),
		Issuer:        c.Issuer.String(),
		SelfSigned:    bytes.Equal(c.RawSubject, c.RawIssuer) && c.CheckSignatureFrom(c) == nil,
		Serial:        c.SerialNumber.Text(16),
		NotBefore:     c.NotBefore.UTC(),
		NotAfter:      c.NotAfter.UTC(),
		ExpiresInDays: daysUntil(now, c.NotAfter),
		Expired:       now.After(c.NotAfter),
		NotYetValid:   now.Before(c.NotBefore),
		IsCA:          c.IsCA,
		KeyUsage:      keyUsageNames(c.KeyUsage),
		ExtKeyUsage:   extKeyUsageNames(c.ExtKeyUsage),
		DNSNames:      c.DNSNames,
		KeyType:       keyType(c.PublicKey),
		SignatureAlg:  c.SignatureAlgorithm.String(),
		SHA256:        trust.Fingerprint(c),
		PublicKeySHA:  publicKeyFingerprint(c.PublicKey),
	}
	for _, u := range c.URIs {
		info.URIs = append(info.URIs, u.String())
	}
	for _, ip := range c.IPAddresses {
		info.IPAddresses = append(info.IPAddresses, ip.String())
	}
	if c.IsCA && c.BasicConstraintsValid {
		n := c.MaxPathLen
		if n == 0 && !c.MaxPathLenZero {
			n = -1 // unlimited
		}
		info.MaxPathLen = &n
	}
	var w []string
	warn := func(f string, a ...any) { w = append(w, fmt.Sprintf(f, a...)) }

	if c.IsCA {
		info.Role = "CA"
		switch len(c.URIs) {
		case 0:
			warn("names no member (no URI SAN): a trust bundle may list it, but it was not made by accordctl")
		case 1:
			fed, member, err := parseMemberURI(c.URIs[0])
			if err != nil {
				warn("%v: a trust bundle will not accept it as a member's CA", err)
			} else {
				info.Role, info.Federation, info.Member = "member CA", fed, member
			}
		default:
			warn("has %d URI SANs: a member CA names its member in exactly one", len(c.URIs))
		}
		if c.KeyUsage != 0 && c.KeyUsage&x509.KeyUsageCertSign == 0 {
			warn("may not sign certificates (key usage certSign missing): Accord will refuse it as a CA")
		}
		if c.KeyUsage != 0 && c.KeyUsage&x509.KeyUsageCRLSign == 0 {
			warn("may not sign CRLs (key usage cRLSign missing): its revocations cannot be published")
		}
		if !info.SelfSigned {
			warn("is not self-signed: an intermediate CA; list the member's root CA in the trust bundle")
		}
	} else {
		info.Role = "other"
		switch len(c.URIs) {
		case 0:
			warn("has no URI SAN: Accord will refuse it (a node or user certificate names exactly one identity)")
		case 1:
			id, err := identity.FromURI(c.URIs[0])
			if err != nil {
				warn("URI SAN %s is not an Accord identity: Accord will refuse it (%v)", c.URIs[0], err)
			} else {
				info.Role = string(id.Kind)
				info.Identity, info.Federation, info.Member, info.Name = id.String(), id.Federation, id.Member, id.Name
			}
		default:
			warn("has %d URI SANs: Accord will refuse it (exactly one is allowed)", len(c.URIs))
		}
		server, client := allowsEKU(c, x509.ExtKeyUsageServerAuth), allowsEKU(c, x509.ExtKeyUsageClientAuth)
		switch info.Role {
		case "node":
			if !server {
				warn("does not allow server authentication: peers will refuse this node as a server")
			}
			if !client {
				warn("does not allow client authentication: peers will refuse this node as a client")
			}
		case "user":
			if !client {
				warn("does not allow client authentication: nodes will refuse this user")
			}
			if len(c.DNSNames)+len(c.IPAddresses) > 0 {
				warn("a user certificate with DNS names or IP addresses: accordctl never makes these")
			}
		}
		if info.SelfSigned {
			warn("is self-signed: no member CA vouches for it, Accord will refuse it")
		}
	}

	switch {
	case info.Expired:
		warn("EXPIRED on %s: Accord will refuse it", c.NotAfter.UTC().Format(dateFormat))
	case info.NotYetValid:
		warn("not valid before %s: Accord will refuse it until then (check this machine's clock)", c.NotBefore.UTC().Format(dateFormat))
	case c.IsCA && c.NotAfter.Sub(now) < caRenewWarning:
		warn("expires in %d days: make a new CA, add it to the trust bundle, and reissue before then", info.ExpiresInDays)
	case !c.IsCA && c.NotAfter.Sub(now) < leafRenewWarning:
		warn("expires in %d days: renew it soon", info.ExpiresInDays)
	}
	if k, ok := c.PublicKey.(*rsa.PublicKey); ok && k.N.BitLen() < 2048 {
		warn("RSA key of %d bits is too weak", k.N.BitLen())
	}
	switch c.SignatureAlgorithm {
	case x509.SHA1WithRSA, x509.ECDSAWithSHA1, x509.MD5WithRSA:
		warn("signed with %s, which Go's TLS refuses", c.SignatureAlgorithm)
	}
	return Item{Type: TypeCertificate, Summary: "Certificate: " + certWho(info), Certificate: info, Warnings: w}
}

// certWho says whom a certificate names, e.g. "node ua-1 of member UA in
// federation accord.example".
func certWho(i *CertificateInfo) string {
	switch i.Role {
	case "node", "user":
		return fmt.Sprintf("%s %s of member %s in federation %s", i.Role, i.Name, i.Member, i.Federation)
	case "member CA":
		return fmt.Sprintf("CA of member %s in federation %s", i.Member, i.Federation)
	case "CA":
		return fmt.Sprintf("CA %s (names no Accord member)", i.Subject)
	default:
		return fmt.Sprintf("%s (not an Accord identity)", i.Subject)
	}
}

func allowsEKU(c *x509.Certificate, u x509.ExtKeyUsage) bool {
	if len(c.ExtKeyUsage) == 0 && len(c.UnknownExtKeyUsage) == 0 {
		return true // no restriction
	}
	for _, e := range c.ExtKeyUsage {
		if e == u || e == x509.ExtKeyUsageAny {
			return true
		}
	}
	return false
}

func inspectCRL(crl *x509.RevocationList, now time.Time) Item {
	info := &CRLInfo{
		Issuer:     crl.Issuer.String(),
		ThisUpdate: crl.ThisUpdate.UTC(),
		NextUpdate: crl.NextUpdate.UTC(),
		Stale:      !crl.NextUpdate.IsZero() && now.After(crl.NextUpdate),
		Revoked:    []RevokedInfo{},
	}
	if len(crl.AuthorityKeyId) > 0 {
		info.IssuerKeyID = hex.EncodeToString(crl.AuthorityKeyId)
	}
	if crl.Number != nil {
		info.Number = crl.Number.String()
	}
	for _, e := range crl.RevokedCertificateEntries {
		info.Revoked = append(info.Revoked, RevokedInfo{Serial: e.SerialNumber.Text(16), RevokedAt: e.RevocationTime.UTC(), Reason: ReasonName(e.ReasonCode)})
	}
	var w []string
	if info.Stale {
		w = append(w, fmt.Sprintf("STALE: its next update was due %s (%d days ago); publish a new CRL", crl.NextUpdate.UTC().Format(dateFormat), -daysUntil(now, crl.NextUpdate)))
	}
	if crl.NextUpdate.IsZero() {
		w = append(w, "has no next update: peers cannot tell when it is stale")
	}
	if now.Before(crl.ThisUpdate) {
		w = append(w, "is dated in the future (check this machine's clock)")
	}
	who := info.Issuer
	if m := memberFromCN(crl.Issuer.CommonName); m != "" {
		who = "CA of member " + m + " (" + info.Issuer + ")"
	}
	n := "s"
	if len(info.Revoked) == 1 {
		n = ""
	}
	return Item{Type: TypeCRL, Summary: fmt.Sprintf("Certificate revocation list of %s: %d revoked certificate%s", who, len(info.Revoked), n), CRL: info, Warnings: w}
}

// memberFromCN recognises the common name accordctl gives a member CA,
// "Accord <MEMBER> CA".
func memberFromCN(cn string) string {
	m, ok := strings.CutPrefix(cn, "Accord ")
	if !ok {
		return ""
	}
	m, ok = strings.CutSuffix(m, " CA")
	if !ok || identity.ValidateMember(m) != nil {
		return ""
	}
	return m
}

func inspectBundle(b *trust.Bundle, now time.Time) Item {
	info := &BundleInfo{Federation: b.Federation, Version: b.Version, Members: []BundleMemberInfo{}}
	var w []string
	for _, m := range b.Members {
		mi := BundleMemberInfo{Member: m.Member, Name: m.Name, CAs: []CertificateInfo{}}
		valid := 0
		for _, p := range m.CACertificates {
			c, err := parseCertificatePEM([]byte(p))
			if err != nil { // ParseBundle has validated it; keep going regardless
				continue
			}
			it := inspectCert(c, now)
			mi.CAs = append(mi.CAs, *it.Certificate)
			for _, cw := range it.Warnings {
				w = append(w, fmt.Sprintf("member %s: CA %s…: %s", m.Member, it.Certificate.SHA256[:16], cw))
			}
			if !it.Certificate.Expired && !it.Certificate.NotYetValid {
				valid++
			}
		}
		if valid == 0 {
			w = append(w, fmt.Sprintf("member %s has no currently valid CA: every certificate of its nodes and users will be refused", m.Member))
		}
		info.Members = append(info.Members, mi)
	}
	if len(b.Members) == 0 {
		w = append(w, "lists no members: a node with this bundle trusts no one")
	}
	n := "s"
	if len(b.Members) == 1 {
		n = ""
	}
	return Item{Type: TypeTrustBundle, Summary: fmt.Sprintf("Trust bundle of federation %s: %d member%s", b.Federation, len(b.Members), n), Bundle: info, Warnings: w}
}

const dateFormat = "2006-01-02 15:04 UTC"

// daysUntil returns whole days from now to t, rounded towards zero.
func daysUntil(now, t time.Time) int {
	return int(t.Sub(now) / (24 * time.Hour))
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func keyUsageNames(u x509.KeyUsage) []string {
	names := []struct {
		bit  x509.KeyUsage
		name string
	}{
		{x509.KeyUsageDigitalSignature, "digitalSignature"},
		{x509.KeyUsageContentCommitment, "contentCommitment"},
		{x509.KeyUsageKeyEncipherment, "keyEncipherment"},
		{x509.KeyUsageDataEncipherment, "dataEncipherment"},
		{x509.KeyUsageKeyAgreement, "keyAgreement"},
		{x509.KeyUsageCertSign, "keyCertSign"},
		{x509.KeyUsageCRLSign, "cRLSign"},
		{x509.KeyUsageEncipherOnly, "encipherOnly"},
		{x509.KeyUsageDecipherOnly, "decipherOnly"},
	}
	var out []string
	for _, n := range names {
		if u&n.bit != 0 {
			out = append(out, n.name)
		}
	}
	return out
}

func extKeyUsageNames(us []x509.ExtKeyUsage) []string {
	var out []string
	for _, u := range us {
		switch u {
		case x509.ExtKeyUsageServerAuth:
			out = append(out, "serverAuth")
		case x509.ExtKeyUsageClientAuth:
			out = append(out, "clientAuth")
		case x509.ExtKeyUsageAny:
			out = append(out, "any")
		case x509.ExtKeyUsageCodeSigning:
			out = append(out, "codeSigning")
		case x509.ExtKeyUsageEmailProtection:
			out = append(out, "emailProtection")
		case x509.ExtKeyUsageOCSPSigning:
			out = append(out, "OCSPSigning")
		case x509.ExtKeyUsageTimeStamping:
			out = append(out, "timeStamping")
		default:
			out = append(out, fmt.Sprintf("usage %d", u))
		}
	}
	return out
}

// Text renders the report in plain words, as Describe returns it.
func (r *Report) Text() string {
	var b strings.Builder
	for i, it := range r.Items {
		if i > 0 {
			b.WriteString("\n")
		}
		if len(r.Items) > 1 {
			fmt.Fprintf(&b, "[%d of %d] ", i+1, len(r.Items))
		}
		b.WriteString(it.Summary)
		b.WriteString("\n")
		switch {
		case it.Certificate != nil:
			writeCert(&b, it.Certificate, "  ")
		case it.CRL != nil:
			writeCRL(&b, it.CRL)
		case it.Bundle != nil:
			writeBundle(&b, it.Bundle)
		case it.PrivateKey != nil:
			row(&b, "  ", "key", it.PrivateKey.KeyType)
			row(&b, "  ", "format", it.PrivateKey.Format)
			if it.PrivateKey.PublicKeySHA != "" {
				row(&b, "  ", "public key SHA-256", it.PrivateKey.PublicKeySHA+" (its certificate shows the same)")
			}
		}
		if len(it.Warnings) > 0 {
			b.WriteString("  warnings:\n")
			for _, w := range it.Warnings {
				fmt.Fprintf(&b, "    ! %s\n", w)
			}
		}
	}
	return b.String()
}

func row(b *strings.Builder, indent, label, value string) {
	fmt.Fprintf(b, "%s%-19s %s\n", indent, label, value)
}

func writeCert(b *strings.Builder, c *CertificateInfo, in string) {
	if c.Identity != "" {
		row(b, in, "identity", c.Identity)
	} else if len(c.URIs) > 0 {
		row(b, in, "URI SANs", strings.Join(c.URIs, ", "))
	}
	row(b, in, "subject", c.Subject)
	issuer := c.Issuer
	if c.SelfSigned {
		issuer += " (self-signed)"
	}
	row(b, in, "issuer", issuer)
	row(b, in, "serial", c.Serial)
	row(b, in, "valid from", c.NotBefore.Format(dateFormat))
	row(b, in, "valid until", fmt.Sprintf("%s (%s)", c.NotAfter.Format(dateFormat), expiryFromInfo(c)))
	switch {
	case c.IsCA && c.MaxPathLen != nil && *c.MaxPathLen == 0:
		row(b, in, "CA", "yes, may sign node and user certificates only (path length 0)")
	case c.IsCA:
		row(b, in, "CA", "yes, may also sign other CAs")
	default:
		row(b, in, "CA", "no")
	}
	if len(c.KeyUsage) > 0 {
		row(b, in, "key usage", strings.Join(c.KeyUsage, ", "))
	}
	if len(c.ExtKeyUsage) > 0 {
		row(b, in, "extended key usage", strings.Join(c.ExtKeyUsage, ", "))
	}
	if len(c.DNSNames) > 0 {
		row(b, in, "DNS names", strings.Join(c.DNSNames, ", "))
	}
	if len(c.IPAddresses) > 0 {
		row(b, in, "IP addresses", strings.Join(c.IPAddresses, ", "))
	}
	row(b, in, "key", c.KeyType)
	row(b, in, "public key SHA-256", c.PublicKeySHA+" (its key file shows the same)")
	row(b, in, "SHA-256", c.SHA256)
}

func expiryFromInfo(c *CertificateInfo) string {
	switch {
	case c.Expired:
		d := -c.ExpiresInDays
		if d == 0 {
			return "EXPIRED less than a day ago"
		}
		return fmt.Sprintf("EXPIRED %d day%s ago", d, plural(d))
	case c.NotYetValid:
		return "NOT YET VALID"
	case c.ExpiresInDays == 0:
		return "expires in less than a day"
	default:
		return fmt.Sprintf("expires in %d day%s", c.ExpiresInDays, plural(c.ExpiresInDays))
	}
}

func writeCRL(b *strings.Builder, c *CRLInfo) {
	row(b, "  ", "issuer", c.Issuer)
	if c.Number != "" {
		row(b, "  ", "CRL number", c.Number)
	}
	row(b, "  ", "this update", c.ThisUpdate.Format(dateFormat))
	if !c.NextUpdate.IsZero() {
		next := c.NextUpdate.Format(dateFormat)
		if c.Stale {
			next += " (STALE)"
		}
		row(b, "  ", "next update", next)
	}
	if len(c.Revoked) == 0 {
		row(b, "  ", "revoked", "none")
	}
	for i, r := range c.Revoked {
		label := ""
		if i == 0 {
			label = "revoked"
		}
		row(b, "  ", label, fmt.Sprintf("serial %s at %s (%s)", r.Serial, r.RevokedAt.Format(dateFormat), r.Reason))
	}
	b.WriteString("  (signature not checked: inspect does not know the CA; a node checks it against the trust bundle)\n")
}

func writeBundle(b *strings.Builder, bi *BundleInfo) {
	row(b, "  ", "federation", bi.Federation)
	row(b, "  ", "format version", fmt.Sprint(bi.Version))
	for _, m := range bi.Members {
		title := "member " + m.Member
		if m.Name != "" {
			title += " (" + m.Name + ")"
		}
		fmt.Fprintf(b, "  %s: %d CA%s\n", title, len(m.CAs), plural(len(m.CAs)))
		for _, c := range m.CAs {
			fmt.Fprintf(b, "    - %s\n", c.Subject)
			row(b, "      ", "valid until", fmt.Sprintf("%s (%s)", c.NotAfter.Format(dateFormat), expiryFromInfo(&c)))
			row(b, "      ", "SHA-256", c.SHA256)
		}
	}
}
