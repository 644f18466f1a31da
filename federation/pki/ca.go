package pki

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/trust"
)

// Names of the files of a CA folder.
const (
	CACertFile = "ca.crt"     // the CA certificate, PEM, mode 0644
	CAKeyFile  = "ca.key"     // the CA private key, PKCS#8 PEM, mode 0600
	StateFile  = "state.json" // issued serials, revocations, CRL number
)

// Validity limits and defaults.
const (
	// DefaultCAValidity is how long a CA certificate is valid unless told.
	DefaultCAValidity = 87600 * time.Hour // 10 years of 365 days
	// MaxCAValidity is the longest CA validity accepted.
	MaxCAValidity = 30 * 365 * 24 * time.Hour
	// ClockSkew is how far back a certificate's validity starts, so that a
	// peer whose clock is a little behind accepts a fresh certificate.
	ClockSkew = time.Minute
)

// stateVersion is the version of the state.json format.
const stateVersion = 1

// maxOrgLen is the X.520 upper bound of an organisation name.
const maxOrgLen = 64

// CAOptions describe a new member CA.
type CAOptions struct {
	// Federation is the federation's name (SPIFFE trust domain), e.g.
	// "accord.example". Required.
	Federation string
	// Member is the member's code, e.g. "UA". Required.
	Member string
	// Name is the office's name, written into the CA's Subject O. Optional.
	Name string
	// Validity is how long the CA certificate is valid; zero means
	// DefaultCAValidity (10 years).
	Validity time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (o *CAOptions) validate() error {
	const opt = "CAOptions"
	if err := identity.ValidateFederation(o.Federation); err != nil {
		return fieldErr(opt, "Federation", o.Federation, "must be lower-case DNS labels (a-z, 0-9, '-') separated by dots, e.g. accord.example", err)
	}
	if err := identity.ValidateMember(o.Member); err != nil {
		return fieldErr(opt, "Member", o.Member, "must be 2-16 upper-case letters or digits starting with a letter, e.g. UA or ICC", err)
	}
	if len(o.Name) > maxOrgLen {
		return fieldErr(opt, "Name", o.Name, fmt.Sprintf("is %d bytes long; at most %d fit in a certificate's organisation name", len(o.Name), maxOrgLen), nil)
	}
	if strings.ContainsFunc(o.Name, unicode.IsControl) {
		return fieldErr(opt, "Name", o.Name, "must not contain control characters", nil)
	}
	if o.Validity < 0 {
		return fieldErr(opt, "Validity", o.Validity.String(), "must be positive", nil)
	}
	if o.Validity > MaxCAValidity {
		return fieldErr(opt, "Validity", o.Validity.String(), "must be at most 30 years", nil)
	}
	return nil
}

// CA is a member's certificate authority: its certificate, its key, and the
// record of what it issued and revoked. A CA opened from or saved to a folder
// persists every change of that record there. It is safe for concurrent use.
type CA struct {
	// Cert is the CA certificate.
	Cert *x509.Certificate
	// Key is the CA's private key.
	Key crypto.Signer
	// Federation and Member are what the CA's URI SAN names.
	Federation, Member string
	// Now is the clock used to issue, revoke and sign CRLs; nil means
	// time.Now. Set it before using the CA, not concurrently.
	Now func() time.Time

	mu    sync.Mutex
	dir   string // empty when the CA lives in memory only
	state caState
}

// caState is the content of state.json.
type caState struct {
	Version    int            `json:"version"`
	Federation string         `json:"federation"`
	Member     string         `json:"member"`
	CRLNumber  int64          `json:"crl_number"`
	Issued     []IssuedRecord `json:"issued"`
	Revoked    []Revocation   `json:"revoked"`
}

// IssuedRecord is the CA's record of one certificate it issued.
type IssuedRecord struct {
	Serial      string    `json:"serial"` // lower-case hex
	Identity    string    `json:"identity"`
	NotBefore   time.Time `json:"not_before"`
	NotAfter    time.Time `json:"not_after"`
	IssuedAt    time.Time `json:"issued_at"`
	Fingerprint string    `json:"sha256"` // hex SHA-256 of the certificate
}

// Revocation is the CA's record of one revoked certificate.
type Revocation struct {
	Serial    string    `json:"serial"` // lower-case hex
	Identity  string    `json:"identity,omitempty"`
	Reason    int       `json:"reason"` // RFC 5280 CRLReason code
	RevokedAt time.Time `json:"revoked_at"`
}

func (ca *CA) now() time.Time {
	if ca.Now != nil {
		return ca.Now()
	}
	return time.Now()
}

// NewCA creates a member CA in memory: a fresh ECDSA P-256 key and a
// self-signed CA certificate naming the member. Save it to keep it.
func NewCA(opts CAOptions) (*CA, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	validity := opts.Validity
	if validity == 0 {
		validity = DefaultCAValidity
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	t := now()
	km, err := newKeyMaterial()
	if err != nil {
		return nil, err
	}
	key, serial, ski := km.key, km.serial, km.ski
	subject := pkix.Name{CommonName: "Accord " + opts.Member + " CA"}
	if opts.Name != "" {
		subject.Organization = []string{opts.Name}
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               subject,
		NotBefore:             t.Add(-ClockSkew).UTC(),
		NotAfter:              t.Add(validity).UTC(),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		URIs:                  []*url.URL{identity.MemberURI(opts.Federation, opts.Member)},
		SubjectKeyId:          ski,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("create CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse new CA certificate: %w", err)
	}
	return &CA{
		Cert: cert, Key: key, Federation: opts.Federation, Member: opts.Member, Now: opts.Now,
		state: caState{Version: stateVersion, Federation: opts.Federation, Member: opts.Member},
	}, nil
}

// CreateCA creates a member CA and saves it in dir. It refuses to overwrite
// a CA (or any of a CA's files) already in dir.
func CreateCA(dir string, opts CAOptions) (*CA, error) {
	if dir == "" {
		return nil, fieldErr("CreateCA", "dir", "", "a folder for the CA is required", nil)
	}
	for _, f := range []string{CACertFile, CAKeyFile, StateFile} {
		p := filepath.Join(dir, f)
		if _, err := os.Lstat(p); err == nil {
			return nil, fmt.Errorf("%w: %s exists; a CA is never overwritten (open it, or choose another folder)", ErrCAExists, p)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("check %s: %w", p, err)
		}
	}
	ca, err := NewCA(opts)
	if err != nil {
		return nil, err
	}
	if err := ca.Save(dir); err != nil {
		return nil, err
	}
	return ca, nil
}

// Exists reports whether dir holds a CA certificate.
func Exists(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, CACertFile))
	return err == nil
}

// OpenCA opens the CA saved in dir. Changes to its record (issuing, revoking,
// CRL numbers) are saved back to dir.
func OpenCA(dir string) (*CA, error) {
	certPath := filepath.Join(dir, CACertFile)
	certData, err := os.ReadFile(certPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s has no %s", ErrNoCA, dir, CACertFile)
	}
	if err != nil {
		return nil, fmt.Errorf("read CA certificate: %w", err)
	}
	cert, err := parseCertificatePEM(certData)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrCorruptCA, certPath, err)
	}
	fed, member, err := memberOfCA(cert)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrCorruptCA, certPath, err)
	}
	keyPath := filepath.Join(dir, CAKeyFile)
	keyData, err := os.ReadFile(keyPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s: the CA's private key is missing", ErrCorruptCA, keyPath)
	}
	if err != nil {
		return nil, fmt.Errorf("read CA key: %w", err)
	}
	key, err := parsePrivateKeyPEM(keyData)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrCorruptCA, keyPath, err)
	}
	if !keyMatches(cert, key) {
		return nil, fmt.Errorf("%w: %s does not belong to %s: %w", ErrCorruptCA, keyPath, certPath, ErrKeyMismatch)
	}
	statePath := filepath.Join(dir, StateFile)
	stateData, err := os.ReadFile(statePath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s is missing: without it the CA does not know what it issued and revoked", ErrCorruptCA, statePath)
	}
	if err != nil {
		return nil, fmt.Errorf("read CA state: %w", err)
	}
	var st caState
	dec := json.NewDecoder(bytes.NewReader(stateData))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrCorruptCA, statePath, err)
	}
	if st.Version != stateVersion {
		return nil, fmt.Errorf("%w: %s: version %d, this build reads version %d", ErrCorruptCA, statePath, st.Version, stateVersion)
	}
	if st.Federation != fed || st.Member != member {
		return nil, fmt.Errorf("%w: %s belongs to member %s of %s, but the certificate names member %s of %s", ErrCorruptCA, statePath, st.Member, st.Federation, member, fed)
	}
	return &CA{Cert: cert, Key: key, Federation: fed, Member: member, dir: dir, state: st}, nil
}

// memberOfCA returns the federation and member a CA certificate names in its
// one URI SAN.
func memberOfCA(cert *x509.Certificate) (federation, member string, err error) {
	if !cert.IsCA {
		return "", "", errors.New("not a CA certificate")
	}
	if len(cert.URIs) != 1 {
		return "", "", fmt.Errorf("a member CA names its member in exactly one URI SAN, this one has %d", len(cert.URIs))
	}
	return parseMemberURI(cert.URIs[0])
}

// parseMemberURI parses spiffe://<federation>/member/<MEMBER>.
func parseMemberURI(u *url.URL) (federation, member string, err error) {
	m, ok := strings.CutPrefix(u.Path, "/member/")
	if u.Scheme != identity.Scheme || !ok || strings.Contains(m, "/") {
		return "", "", fmt.Errorf("URI SAN %s is not a member URI (spiffe://<federation>/member/<MEMBER>)", u)
	}
	if identity.MemberURI(u.Host, m).String() != u.String() {
		return "", "", fmt.Errorf("URI SAN %s is not a member URI (spiffe://<federation>/member/<MEMBER>)", u)
	}
	if err := identity.ValidateFederation(u.Host); err != nil {
		return "", "", err
	}
	if err := identity.ValidateMember(m); err != nil {
		return "", "", err
	}
	return u.Host, m, nil
}

// Save writes the CA to dir (created with mode 0700): ca.key (0600),
// ca.crt (0644) and state.json (0600), each atomically. From then on the CA
// persists its record in dir.
func (ca *CA) Save(dir string) error {
	if dir == "" {
		return fieldErr("Save", "dir", "", "a folder for the CA is required", nil)
	}
	ca.mu.Lock()
	defer ca.mu.Unlock()
	// Only the CA's own folder is private; folders above it are ordinary.
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return fmt.Errorf("create CA folder: %w", err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create CA folder: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("restrict CA folder: %w", err)
	}
	kp, err := keyPEM(ca.Key)
	if err != nil {
		return err
	}
	if err := trust.WriteFileAtomic(filepath.Join(dir, CAKeyFile), kp, 0o600); err != nil {
		return fmt.Errorf("write CA key: %w", err)
	}
	if err := trust.WriteFileAtomic(filepath.Join(dir, CACertFile), certPEM(ca.Cert), 0o644); err != nil {
		return fmt.Errorf("write CA certificate: %w", err)
	}
	if err := writeState(dir, &ca.state); err != nil {
		return err
	}
	ca.dir = dir
	return nil
}

func writeState(dir string, st *caState) error {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("encode CA state: %w", err)
	}
	if err := trust.WriteFileAtomic(filepath.Join(dir, StateFile), append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("write CA state: %w", err)
	}
	return nil
}

// persistLocked saves the state if the CA has a folder. ca.mu must be held.
func (ca *CA) persistLocked() error {
	if ca.dir == "" {
		return nil
	}
	return writeState(ca.dir, &ca.state)
}

// Dir returns the folder the CA is saved in, or "" for a CA in memory.
func (ca *CA) Dir() string {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	return ca.dir
}

// Name returns the office name in the CA certificate's Subject O, or "".
func (ca *CA) Name() string {
	if len(ca.Cert.Subject.Organization) == 0 {
		return ""
	}
	return ca.Cert.Subject.Organization[0]
}

// CertPEM returns the CA certificate in PEM.
func (ca *CA) CertPEM() []byte { return certPEM(ca.Cert) }

// CRLNumber returns the number of the last CRL this CA signed (0 if none).
func (ca *CA) CRLNumber() int64 {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	return ca.state.CRLNumber
}

// IssuedRecords returns the CA's record of what it issued, oldest first.
func (ca *CA) IssuedRecords() []IssuedRecord {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	return slices.Clone(ca.state.Issued)
}

// Revocations returns the CA's revocations, oldest first.
func (ca *CA) Revocations() []Revocation {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	return slices.Clone(ca.state.Revoked)
}

// Lookup returns the record of the certificate with this serial, if this CA
// issued it.
func (ca *CA) Lookup(serial string) (IssuedRecord, bool) {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	i := ca.issuedIndexLocked(strings.ToLower(serial))
	if i < 0 {
		return IssuedRecord{}, false
	}
	return ca.state.Issued[i], true
}

func (ca *CA) issuedIndexLocked(serial string) int {
	return slices.IndexFunc(ca.state.Issued, func(r IssuedRecord) bool { return r.Serial == serial })
}

func (ca *CA) revokedIndexLocked(serial string) int {
	return slices.IndexFunc(ca.state.Revoked, func(r Revocation) bool { return r.Serial == serial })
}
