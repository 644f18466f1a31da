package trust

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/accordfed/accord/federation/identity"
)

// BundleFormatVersion is the version of the trust bundle file format.
const BundleFormatVersion = 1

// ErrInvalidBundle is returned when a trust bundle cannot be parsed or breaks
// a rule (a CA listed for two members, CAs of two members sharing a subject,
// key id or public key, a CA certificate that is not a CA, a CA whose own URI
// SAN names another member).
var ErrInvalidBundle = errors.New("invalid trust bundle")

// Bundle is a federation's trust bundle: for each member, the CA certificates
// allowed to vouch for that member. It is stored as JSON with the CA
// certificates in PEM, so that an operator can read and diff it.
type Bundle struct {
	Version    int            `json:"version"`
	Federation string         `json:"federation"`
	Members    []MemberBundle `json:"members"`
}

// MemberBundle lists the CA certificates of one member.
type MemberBundle struct {
	Member         string   `json:"member"`
	Name           string   `json:"name,omitempty"`
	CACertificates []string `json:"ca_certificates"`
}

// NewBundle returns an empty bundle for a federation.
func NewBundle(federation string) (*Bundle, error) {
	if err := identity.ValidateFederation(federation); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidBundle, err)
	}
	return &Bundle{Version: BundleFormatVersion, Federation: federation}, nil
}

// ParseBundle parses and validates a bundle.
func ParseBundle(data []byte) (*Bundle, error) {
	var b Bundle
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidBundle, err)
	}
	if err := b.Validate(); err != nil {
		return nil, err
	}
	return &b, nil
}

// LoadBundle reads and validates a bundle file.
func LoadBundle(path string) (*Bundle, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read trust bundle: %w", err)
	}
	b, err := ParseBundle(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return b, nil
}

// Marshal returns the bundle as indented JSON.
func (b *Bundle) Marshal() ([]byte, error) {
	if err := b.Validate(); err != nil {
		return nil, err
	}
	out, err := json.MarshalIndent(b, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// Save writes the bundle atomically (write to a temporary file, fsync,
// rename), so that a node reloading it never reads half a file.
func (b *Bundle) Save(path string) error {
	data, err := b.Marshal()
	if err != nil {
		return err
	}
	return WriteFileAtomic(path, data, 0o644)
}

// Validate checks the bundle's rules.
func (b *Bundle) Validate() error {
	if b.Version != BundleFormatVersion {
		return fmt.Errorf("%w: version %d: this build reads version %d", ErrInvalidBundle, b.Version, BundleFormatVersion)
	}
	if err := identity.ValidateFederation(b.Federation); err != nil {
		return fmt.Errorf("%w: federation: %w", ErrInvalidBundle, err)
	}
	owner := map[string]string{} // CA fingerprint -> member
	// A CA's subject, key id and public key each belong to one member: a CRL
	// names its CA by subject and a chain finds its CA by key id, so a CA of
	// another member that shared one of them could pass for this member's.
	subjects, keyIDs, keys := map[string]string{}, map[string]string{}, map[string]string{}
	seen := map[string]bool{}
	for i, m := range b.Members {
		field := fmt.Sprintf("members[%d]", i)
		if err := identity.ValidateMember(m.Member); err != nil {
			return fmt.Errorf("%w: %s.member: %w", ErrInvalidBundle, field, err)
		}
		if seen[m.Member] {
			return fmt.Errorf("%w: %s.member: %s is listed twice", ErrInvalidBundle, field, m.Member)
		}
		seen[m.Member] = true
		if len(m.CACertificates) == 0 {
			return fmt.Errorf("%w: %s.ca_certificates: member %s has no CA certificate", ErrInvalidBundle, field, m.Member)
		}
		for j, p := range m.CACertificates {
			cf := fmt.Sprintf("%s.ca_certificates[%d]", field, j)
			cert, err := parseOnePEMCertificate([]byte(p))
			if err != nil {
				return fmt.Errorf("%w: %s: %w", ErrInvalidBundle, cf, err)
			}
			if err := checkMemberCA(b.Federation, m.Member, cert); err != nil {
				return fmt.Errorf("%w: %s: %w", ErrInvalidBundle, cf, err)
			}
			fp := Fingerprint(cert)
			if other, ok := owner[fp]; ok {
				return fmt.Errorf("%w: %s: CA %s is already listed for member %s; a CA can vouch for one member only", ErrInvalidBundle, cf, fp[:16], other)
			}
			owner[fp] = m.Member
			if err := claimCA(subjects, string(cert.RawSubject), m.Member, fmt.Sprintf("CA subject %q", cert.Subject.String())); err != nil {
				return fmt.Errorf("%w: %s: %w", ErrInvalidBundle, cf, err)
			}
			if len(cert.SubjectKeyId) > 0 {
				if err := claimCA(keyIDs, string(cert.SubjectKeyId), m.Member, fmt.Sprintf("CA key id %x", cert.SubjectKeyId)); err != nil {
					return fmt.Errorf("%w: %s: %w", ErrInvalidBundle, cf, err)
				}
			}
			if err := claimCA(keys, KeyFingerprint(cert), m.Member, "CA public key "+KeyFingerprint(cert)[:16]); err != nil {
				return fmt.Errorf("%w: %s: %w", ErrInvalidBundle, cf, err)
			}
		}
	}
	return nil
}

// claimCA records that what (a CA's subject, key id or public key) belongs
// to member, and refuses it when it already belongs to another member. CAs of
// one member may share them (a CA certificate renewed with the same key).
func claimCA(owners map[string]string, key, member, what string) error {
	if other, ok := owners[key]; ok && other != member {
		pair := []string{member, other}
		slices.Sort(pair)
		return fmt.Errorf("%s is used by CAs of members %s and %s; the CAs of different members must differ in subject, key id and public key, or one member's CRLs could revoke the other's certificates", what, pair[0], pair[1])
	}
	owners[key] = member
	return nil
}

// checkMemberCA checks that a certificate can serve as a member's CA.
func checkMemberCA(federation, member string, cert *x509.Certificate) error {
	if !cert.IsCA || !cert.BasicConstraintsValid {
		return fmt.Errorf("certificate %q is not a CA certificate (basic constraints CA:true missing)", cert.Subject.String())
	}
	if cert.KeyUsage != 0 && cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return fmt.Errorf("CA certificate %q may not sign certificates (key usage certSign missing)", cert.Subject.String())
	}
	// A CA made by accordctl names its member; if it names one, it must be
	// this member of this federation.
	want := identity.MemberURI(federation, member).String()
	for _, u := range cert.URIs {
		if u.Scheme == identity.Scheme && u.String() != want {
			return fmt.Errorf("CA certificate names %s, not %s", u.String(), want)
		}
	}
	return nil
}

// Add adds CA certificates to a member, creating the member if needed. A CA
// already listed for the member is skipped.
func (b *Bundle) Add(member, name string, cas ...*x509.Certificate) error {
	if err := identity.ValidateMember(member); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidBundle, err)
	}
	// Work on a copy, so that a refused addition changes nothing.
	next := &Bundle{Version: b.Version, Federation: b.Federation, Members: make([]MemberBundle, len(b.Members))}
	for i, m := range b.Members {
		m.CACertificates = slices.Clone(m.CACertificates)
		next.Members[i] = m
	}
	i := slices.IndexFunc(next.Members, func(m MemberBundle) bool { return m.Member == member })
	if i < 0 {
		next.Members = append(next.Members, MemberBundle{Member: member})
		i = len(next.Members) - 1
	}
	if name != "" {
		next.Members[i].Name = name
	}
	for _, ca := range cas {
		p := strings.TrimSpace(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw}))) + "\n"
		if !slices.Contains(next.Members[i].CACertificates, p) {
			next.Members[i].CACertificates = append(next.Members[i].CACertificates, p)
		}
	}
	slices.SortFunc(next.Members, func(x, y MemberBundle) int { return strings.Compare(x.Member, y.Member) })
	if err := next.Validate(); err != nil {
		return err
	}
	b.Members = next.Members
	return nil
}

// Remove removes a member, or one of its CAs when fingerprint is not empty.
// It reports whether anything was removed.
func (b *Bundle) Remove(member, fingerprint string) bool {
	i := slices.IndexFunc(b.Members, func(m MemberBundle) bool { return m.Member == member })
	if i < 0 {
		return false
	}
	if fingerprint == "" {
		b.Members = slices.Delete(b.Members, i, i+1)
		return true
	}
	before := len(b.Members[i].CACertificates)
	b.Members[i].CACertificates = slices.DeleteFunc(b.Members[i].CACertificates, func(p string) bool {
		c, err := parseOnePEMCertificate([]byte(p))
		return err == nil && strings.HasPrefix(Fingerprint(c), strings.ToLower(fingerprint))
	})
	if len(b.Members[i].CACertificates) == 0 {
		b.Members = slices.Delete(b.Members, i, i+1)
		return true
	}
	return len(b.Members[i].CACertificates) != before
}

// Certificates returns the parsed CA certificates of every member.
func (b *Bundle) Certificates() (map[string][]*x509.Certificate, error) {
	out := make(map[string][]*x509.Certificate, len(b.Members))
	for _, m := range b.Members {
		for _, p := range m.CACertificates {
			c, err := parseOnePEMCertificate([]byte(p))
			if err != nil {
				return nil, fmt.Errorf("%w: member %s: %w", ErrInvalidBundle, m.Member, err)
			}
			out[m.Member] = append(out[m.Member], c)
		}
	}
	return out, nil
}

// Fingerprint returns the hex SHA-256 of a certificate's DER encoding.
func Fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return hex.EncodeToString(sum[:])
}

// KeyFingerprint returns the hex SHA-256 of a certificate's public key
// (its DER SubjectPublicKeyInfo): what identifies a CA whatever its name.
func KeyFingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return hex.EncodeToString(sum[:])
}

func parseOnePEMCertificate(data []byte) (*x509.Certificate, error) {
	block, rest := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("not a PEM CERTIFICATE block")
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("more than one PEM block; list each CA certificate separately")
	}
	return x509.ParseCertificate(block.Bytes)
}

// WriteFileAtomic writes data to path through a temporary file in the same
// folder that is fsynced and renamed over path, then fsyncs the folder.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after a successful rename
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// CASetFingerprint returns the fingerprint of a member's set of CA
// certificates (PEM): the hex SHA-256 of the concatenation of the 32-byte
// SHA-256 digests of each certificate's DER encoding, sorted in ascending
// byte order (a certificate listed twice counts once). It does not depend
// on the order the certificates are listed in. It is what a voter compares
// out of band with a candidate member before approving its admission:
// `accordctl certs` prints it for the candidate's own CA, `accordctl member
// show` for the CA set registered, and the registry refuses an approving
// vote that names another.
func CASetFingerprint(pems []string) (string, error) {
	if len(pems) == 0 {
		return "", errors.New("no CA certificate")
	}
	sums := make([][sha256.Size]byte, 0, len(pems))
	for i, p := range pems {
		c, err := parseOnePEMCertificate([]byte(p))
		if err != nil {
			return "", fmt.Errorf("CA certificate %d: %w", i, err)
		}
		sums = append(sums, sha256.Sum256(c.Raw))
	}
	slices.SortFunc(sums, func(a, b [sha256.Size]byte) int { return bytes.Compare(a[:], b[:]) })
	sums = slices.Compact(sums)
	h := sha256.New()
	for _, s := range sums {
		h.Write(s[:])
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
