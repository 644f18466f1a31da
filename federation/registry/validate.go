package registry

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/persontoken"
)

// Field limits.
const (
	maxRequestIDLen = 128
	maxNameLen      = 200  // member, JIT, key purpose, entry title
	maxRefLen       = 200  // legal basis, agreement reference, unit designation
	maxReasonLen    = 1000 // suspension and deletion reasons, notes, match reasons
	maxTextLen      = 32 << 10
	maxCaseIDLen    = 64 // as node/caseformat (FORMAT.md)
	maxListLen      = 100
	maxPEMLen       = 16 << 10
	minKeyMaterial  = 16
	maxKeyMaterial  = 4096
	minPersonRefLen = 32
	maxPersonRefLen = 128
	maxAddressLen   = 255
)

var (
	// keyNameRE is the form of signing key ids and federation key names.
	keyNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)
	// caseIDRE is the form of a case id (node/caseformat): the member code, a
	// dash and the office's own number.
	caseIDRE = regexp.MustCompile(`^[A-Za-z0-9._/-]+$`)
	hexRE    = regexp.MustCompile(`^[0-9a-f]+$`)
)

// checkLine checks a one-line text field: valid UTF-8, no control
// characters, at most max bytes, and present if required.
func checkLine(field, s string, maxLen int, required bool) error {
	return checkString(field, s, maxLen, required, false)
}

// checkProse is checkLine for text that may span lines (newlines and tabs
// allowed).
func checkProse(field, s string, maxLen int, required bool) error {
	return checkString(field, s, maxLen, required, true)
}

func checkString(field, s string, maxLen int, required, multiline bool) error {
	switch {
	case strings.TrimSpace(s) == "":
		if required {
			return invalid("%s: is required", field)
		}
		if s != "" {
			return invalid("%s: must not be only white space", field)
		}
		return nil
	case len(s) > maxLen:
		return invalid("%s: must be at most %d bytes (got %d)", field, maxLen, len(s))
	case !utf8.ValidString(s):
		return invalid("%s: must be valid UTF-8", field)
	}
	for _, r := range s {
		if multiline && (r == '\n' || r == '\t') {
			continue
		}
		if unicode.IsControl(r) {
			return invalid("%s: must not contain control characters", field)
		}
	}
	return nil
}

func checkMemberCode(field, code string) error {
	if code == "" {
		return invalid("%s: is required", field)
	}
	if err := identity.ValidateMember(code); err != nil {
		return invalid("%s: %q is not a member code: 2-16 upper-case letters or digits starting with a letter (e.g. UA, ICC)", field, code)
	}
	return nil
}

// checkCaseRef checks a case reference's form; it does not look the member
// up.
func checkCaseRef(field string, c CaseRef) error {
	if err := checkMemberCode(field+".member", c.Member); err != nil {
		return err
	}
	id := c.CaseID
	switch {
	case id == "":
		return invalid("%s.case_id: is required", field)
	case len(id) > maxCaseIDLen:
		return invalid("%s.case_id: must be at most %d characters (got %d)", field, maxCaseIDLen, len(id))
	case !caseIDRE.MatchString(id):
		return invalid("%s.case_id: may contain only A-Z, a-z, 0-9, '-', '_', '.' and '/'", field)
	case !strings.HasPrefix(id, c.Member+"-") || len(id) == len(c.Member)+1:
		return invalid("%s.case_id: %q must start with the member code and a dash, %q, followed by the office's own number", field, id, c.Member+"-")
	}
	return nil
}

// checkCaseGroup checks a group of two or more distinct cases and returns
// them sorted, with the involved members sorted.
func checkCaseGroup(field string, cases []CaseRef) ([]CaseRef, []string, error) {
	if len(cases) < 2 {
		return nil, nil, invalid("%s: needs at least two cases (got %d)", field, len(cases))
	}
	if len(cases) > maxListLen {
		return nil, nil, invalid("%s: at most %d cases (got %d)", field, maxListLen, len(cases))
	}
	for i, c := range cases {
		if err := checkCaseRef(field+"["+strconv.Itoa(i)+"]", c); err != nil {
			return nil, nil, err
		}
	}
	sorted := append([]CaseRef(nil), cases...)
	sortCaseRefs(sorted)
	var members []string
	for i, c := range sorted {
		if i > 0 && sorted[i-1] == c {
			return nil, nil, invalid("%s: case %s is listed twice", field, c)
		}
		if len(members) == 0 || members[len(members)-1] != c.Member {
			members = append(members, c.Member)
		}
	}
	if len(members) < 2 {
		return nil, nil, invalid("%s: the cases must belong to at least two members", field)
	}
	return sorted, members, nil
}

// checkCACerts checks PEM CA certificates of a member: each one PEM
// CERTIFICATE block of a CA certificate naming exactly the member
// (spiffe://<federation>/member/<MEMBER>), self-signed (issuer and subject
// the same, the signature verifying with the certificate's own public key)
// and not expired at now. Whether another member registered the same CA is
// caOwners' check.
func checkCACerts(field, federation, code string, certs []string, now time.Time) error {
	if len(certs) == 0 {
		return invalid("%s: at least one CA certificate is required", field)
	}
	if len(certs) > 10 {
		return invalid("%s: at most 10 CA certificates (got %d)", field, len(certs))
	}
	want := identity.MemberURI(federation, code).String()
	seen := map[string]bool{}
	for i, p := range certs {
		f := field + "[" + strconv.Itoa(i) + "]"
		if len(p) > maxPEMLen {
			return invalid("%s: must be at most %d bytes", f, maxPEMLen)
		}
		block, rest := pem.Decode([]byte(p))
		if block == nil || block.Type != "CERTIFICATE" {
			return invalid("%s: must be one PEM CERTIFICATE block", f)
		}
		if strings.TrimSpace(string(rest)) != "" {
			return invalid("%s: must hold exactly one PEM block", f)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return invalid("%s: not an X.509 certificate: %v", f, err)
		}
		if !cert.IsCA || !cert.BasicConstraintsValid {
			return invalid("%s: is not a CA certificate (basic constraints CA:true required)", f)
		}
		if len(cert.URIs) != 1 || cert.URIs[0].String() != want {
			return invalid("%s: a member CA must carry exactly one URI SAN, %s", f, want)
		}
		if !now.Before(cert.NotAfter) {
			return invalid("%s: expired at %s", f, cert.NotAfter.UTC().Format(time.RFC3339))
		}
		if seen[string(block.Bytes)] {
			return invalid("%s: is listed twice", f)
		}
		seen[string(block.Bytes)] = true
		// A member's CA is a root: self-issued and signed with its own key,
		// which proves the sender holds the key it registers (a copy of
		// another CA's public key under a new name cannot be signed).
		if !bytes.Equal(cert.RawIssuer, cert.RawSubject) {
			return invalid("%s: must be self-signed (a member's root CA): its issuer %q is not its subject %q", f, cert.Issuer.String(), cert.Subject.String())
		}
		if err := cert.CheckSignatureFrom(cert); err != nil {
			return invalid("%s: must be self-signed (a member's root CA): it does not verify with its own public key: %v", f, err)
		}
	}
	return nil
}

// caClaim is what identifies a CA certificate, whoever registers it: its
// SHA-256 fingerprint, subject, subject key id and public key. Each belongs
// to one member only: the nodes' trust finds a CA by subject and key id and
// a CRL names its CA by subject, so a CA of another member sharing one of
// them could pass for this member's, or push it out of the trust.
type caClaim struct {
	fingerprint, subject, keyID, key string
	subjectText                      string
}

func claimOf(p string) (caClaim, bool) {
	block, _ := pem.Decode([]byte(p))
	if block == nil {
		return caClaim{}, false
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return caClaim{}, false
	}
	fp := sha256.Sum256(cert.Raw)
	key := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return caClaim{
		fingerprint: string(fp[:]), subject: string(cert.RawSubject), keyID: string(cert.SubjectKeyId),
		key: string(key[:]), subjectText: cert.Subject.String(),
	}, true
}

// caOwners indexes the CA claims of members: for each kind of claim, which
// member registered it first.
type caOwners struct {
	fingerprint, subject, keyID, key map[string]string
}

func newCAOwners() *caOwners {
	return &caOwners{fingerprint: map[string]string{}, subject: map[string]string{}, keyID: map[string]string{}, key: map[string]string{}}
}

// add records member's CAs; a claim already recorded keeps its owner.
func (o *caOwners) add(member string, certs []string) {
	put := func(m map[string]string, k string) {
		if _, ok := m[k]; !ok && k != "" {
			m[k] = member
		}
	}
	for _, p := range certs {
		c, ok := claimOf(p)
		if !ok {
			continue
		}
		put(o.fingerprint, c.fingerprint)
		put(o.subject, c.subject)
		put(o.keyID, c.keyID)
		put(o.key, c.key)
	}
}

// check refuses, naming the field (e.g. "ca_certs[1]"), a CA of member's
// whose fingerprint, subject, key id or public key another member
// registered. The CAs of one member may share them (a CA renewed with the
// same key and name).
func (o *caOwners) check(field, member string, certs []string) error {
	for i, p := range certs {
		f := field + "[" + strconv.Itoa(i) + "]"
		c, ok := claimOf(p)
		if !ok {
			return invalid("%s: not an X.509 certificate", f)
		}
		other := func(m map[string]string, k string) (string, bool) {
			owner, ok := m[k]
			return owner, ok && k != "" && owner != member
		}
		if owner, ok := other(o.fingerprint, c.fingerprint); ok {
			return exists("%s: this CA certificate is already registered by member %s", f, owner)
		}
		if owner, ok := other(o.subject, c.subject); ok {
			return exists("%s: this CA's subject %q is already registered by member %s", f, c.subjectText, owner)
		}
		if owner, ok := other(o.keyID, c.keyID); ok {
			return exists("%s: this CA's subject key id %x is already registered by member %s", f, c.keyID, owner)
		}
		if owner, ok := other(o.key, c.key); ok {
			return exists("%s: this CA's public key is already registered by member %s", f, owner)
		}
	}
	return nil
}

func checkSigningKeys(field string, keys []SigningKey) error {
	return checkKeyList(field, "signing", len(keys), func(i int) string { return keys[i].ID }, func(f string, i int) error {
		k := keys[i]
		if len(k.PublicKeyPEM) > maxPEMLen {
			return invalid("%s.public_key_pem: must be at most %d bytes", f, maxPEMLen)
		}
		block, rest := pem.Decode([]byte(k.PublicKeyPEM))
		if block == nil || block.Type != "PUBLIC KEY" {
			return invalid("%s.public_key_pem: must be one PEM PUBLIC KEY block", f)
		}
		if strings.TrimSpace(string(rest)) != "" {
			return invalid("%s.public_key_pem: must hold exactly one PEM block", f)
		}
		if _, err := x509.ParsePKIXPublicKey(block.Bytes); err != nil {
			return invalid("%s.public_key_pem: not a PKIX public key: %v", f, err)
		}
		return nil
	})
}

// checkKeyList checks a member's list of n keys of a kind ("signing",
// "encryption"): at most 10, each id well formed and listed once, and each
// key by check (given the key's field name and index).
func checkKeyList(field, kind string, n int, id func(int) string, check func(f string, i int) error) error {
	if n > 10 {
		return invalid("%s: at most 10 %s keys (got %d)", field, kind, n)
	}
	seen := map[string]bool{}
	for i := range n {
		f := field + "[" + strconv.Itoa(i) + "]"
		if !keyNameRE.MatchString(id(i)) {
			return invalid("%s.id: %q must be 1-63 of a-z, 0-9, '.', '_', '-' starting with a letter or digit", f, id(i))
		}
		if seen[id(i)] {
			return invalid("%s.id: %q is listed twice", f, id(i))
		}
		seen[id(i)] = true
		if err := check(f, i); err != nil {
			return err
		}
	}
	return nil
}

// maxPersonKeyVersion bounds a person-token key's version.
const maxPersonKeyVersion = 1_000_000

// checkPersonKeys checks a member's person-token public keys: at most one
// entry per node and version, each a valid public key.
func checkPersonKeys(field string, keys []PersonKey) error {
	return checkKeyList(field, "person-token", len(keys), func(i int) string {
		return keys[i].Node + "." + strconv.Itoa(keys[i].Version)
	}, func(f string, i int) error {
		k := keys[i]
		if !keyNameRE.MatchString(k.Node) {
			return invalid("%s.node: %q must be a node name (1-63 of a-z, 0-9, '.', '_', '-')", f, k.Node)
		}
		if k.Version < 1 || k.Version > maxPersonKeyVersion {
			return invalid("%s.version: must be 1 to %d (got %d)", f, maxPersonKeyVersion, k.Version)
		}
		b, err := base64.StdEncoding.DecodeString(k.PublicKey)
		if err != nil || persontoken.CheckPublicKey(b) != nil {
			return invalid("%s.public_key: must be the standard base64 of a %d-byte ristretto255 public key", f, persontoken.PublicKeySize)
		}
		return nil
	})
}

// checkNode checks a node spec of member code in federation.
func checkNode(field, federation, code string, n NodeSpec) error {
	id, err := identity.Parse(n.URI)
	if err != nil || id.Kind != identity.KindNode {
		return invalid("%s.uri: %q is not a node identity, spiffe://<federation>/member/<MEMBER>/node/<name>", field, n.URI)
	}
	if id.Federation != federation {
		return invalid("%s.uri: %q is not in federation %s", field, n.URI, federation)
	}
	if id.Member != code {
		return denied("%s.uri: node %q belongs to member %s, not %s", field, n.URI, id.Member, code)
	}
	if err := checkHostPort(field+".address", n.Address); err != nil {
		return err
	}
	if err := checkHostPort(field+".federation_address", n.FederationAddress); err != nil {
		return err
	}
	if n.RegistryServer && n.Address == "" {
		return invalid("%s.address: is required for a registry server", field)
	}
	return nil
}

// checkHostPort checks an optional host:port address.
func checkHostPort(field, addr string) error {
	if addr == "" {
		return nil
	}
	if len(addr) > maxAddressLen {
		return invalid("%s: must be at most %d bytes", field, maxAddressLen)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return invalid("%s: %q must be host:port", field, addr)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return invalid("%s: %q: port must be 1-65535", field, addr)
	}
	return nil
}

func checkKeyName(field, name string) error {
	if !keyNameRE.MatchString(name) {
		return invalid("%s: %q must be 1-63 of a-z, 0-9, '.', '_', '-' starting with a letter or digit", field, name)
	}
	return nil
}

// checkSelf checks the optional "for itself" member field of a payload.
func checkSelf(field, given, actor string) error {
	if given != "" && given != actor {
		return denied("%s: member %s may act only for itself, not for %s", field, actor, given)
	}
	return nil
}

func sortCaseRefs(cs []CaseRef) {
	slices.SortFunc(cs, compareCaseRefs)
}
