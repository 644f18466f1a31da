package mtls

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/trust"
)

// ErrConfig is wrapped by every configuration error.
var ErrConfig = errors.New("invalid TLS configuration")

// FileError is a configuration error about one file or folder of Config. It
// wraps ErrConfig and the cause.
type FileError struct {
	// Field is the Config field at fault: "cert_file", "key_file",
	// "key_pair" (certificate and key do not belong together),
	// "bundle_file" or "crl_dir".
	Field string
	Err   error
}

func (e *FileError) Error() string {
	return ErrConfig.Error() + ": " + e.Field + ": " + e.Err.Error()
}

// Unwrap returns ErrConfig and the cause.
func (e *FileError) Unwrap() []error { return []error{ErrConfig, e.Err} }

// ReloadFailureReason returns a short, stable label for why a reload failed
// (for metrics): the Config field at fault, or "other".
func ReloadFailureReason(err error) string {
	var fe *FileError
	if errors.As(err, &fe) {
		return fe.Field
	}
	return "other"
}

// UnusableCRL is a file of the CRL folder that the node cannot apply.
type UnusableCRL struct {
	trust.CRLProblem
	// KeptLastGood: the version of the file read before it became unusable
	// is still applied (in memory only: a restarted node has lost it).
	KeptLastGood bool
}

// ReloadState says how re-reading the TLS material went.
type ReloadState struct {
	// LastAttempt is when the material was last re-read; zero before the
	// first reload after the start.
	LastAttempt time.Time
	// LastError is why the last reload failed, nil when it succeeded. The
	// material in force is then the one before it.
	LastError error
	// Failures counts failed reloads since the start.
	Failures uint64
}

// Config says where a node's TLS material lives.
type Config struct {
	// CertFile is the node's certificate (PEM; intermediates may follow
	// the leaf).
	CertFile string `yaml:"cert_file"`
	// KeyFile is the node's private key (PEM).
	KeyFile string `yaml:"key_file"`
	// BundleFile is the federation's trust bundle (JSON).
	BundleFile string `yaml:"bundle_file"`
	// CRLDir is a folder of the members' CRLs (*.crl or *.pem). Optional.
	CRLDir string `yaml:"crl_dir"`
	// MinVersion is the lowest TLS version accepted: "1.3" (default) or
	// "1.2".
	MinVersion string `yaml:"min_version"`
	// ReloadInterval is how often the files are checked for changes
	// (default 30s). A changed CRL takes effect within this interval.
	ReloadInterval time.Duration `yaml:"reload_interval"`
}

// DefaultReloadInterval is how often TLS material is re-read by default.
const DefaultReloadInterval = 30 * time.Second

// Normalize fills defaults and makes paths absolute relative to base (the
// folder of the configuration file; "" for the working directory).
func (c *Config) Normalize(base string) {
	if c.MinVersion == "" {
		c.MinVersion = "1.3"
	}
	if c.ReloadInterval == 0 {
		c.ReloadInterval = DefaultReloadInterval
	}
	for _, p := range []*string{&c.CertFile, &c.KeyFile, &c.BundleFile, &c.CRLDir} {
		if *p != "" && !filepath.IsAbs(*p) && base != "" && !NotAPath(*p) {
			*p = filepath.Join(base, *p)
		}
	}
}

// Validate checks the configuration; prefix names the enclosing field (for
// example "tls") in messages. It reports every problem, joined with
// errors.Join (nil when there is none).
func (c *Config) Validate(prefix string) error {
	var errs []error
	for _, f := range []struct{ name, val string }{{"cert_file", c.CertFile}, {"key_file", c.KeyFile}, {"bundle_file", c.BundleFile}} {
		if f.val == "" {
			errs = append(errs, fmt.Errorf("%w: %s.%s: required", ErrConfig, prefix, f.name))
			continue
		}
		if NotAPath(f.val) {
			errs = append(errs, fmt.Errorf("%w: %s.%s: %w", ErrConfig, prefix, f.name, ErrNotAPath))
			continue
		}
		if _, err := os.Stat(f.val); errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("%w: %s.%s: %s does not exist", ErrConfig, prefix, f.name, f.val))
		} else if err != nil {
			errs = append(errs, fmt.Errorf("%w: %s.%s: %w", ErrConfig, prefix, f.name, err))
		}
	}
	if c.MinVersion != "1.2" && c.MinVersion != "1.3" {
		errs = append(errs, fmt.Errorf("%w: %s.min_version: %q: must be \"1.2\" or \"1.3\"", ErrConfig, prefix, c.MinVersion))
	}
	if c.ReloadInterval < time.Second {
		errs = append(errs, fmt.Errorf("%w: %s.reload_interval: %s: must be at least 1s", ErrConfig, prefix, c.ReloadInterval))
	}
	return errors.Join(errs...)
}

func (c *Config) minVersion() uint16 {
	if c.MinVersion == "1.2" {
		return tls.VersionTLS12
	}
	return tls.VersionTLS13
}

// Hooks lets the owner of a Source observe it without the package holding
// a logger's or metrics registry's opinions.
type Hooks struct {
	// Refused is called when a peer's certificate is refused during a
	// handshake; side is "server" (a client was refused) or "client" (a
	// server was refused).
	Refused func(side string, err error)
	// Reloaded is called after a reload changed the material.
	Reloaded func(leaf *x509.Certificate)
	// ReloadFailed is called when a reload fails and the current material
	// stays in force; reason is ReloadFailureReason(err).
	ReloadFailed func(reason string, err error)
}

// Source holds a node's current TLS material and reloads it from disk.
type Source struct {
	cfg    Config
	logger *slog.Logger
	hooks  Hooks
	now    func() time.Time

	cur      atomic.Pointer[material]
	reloadMu sync.Mutex

	stateMu sync.Mutex
	state   ReloadState

	connsMu sync.Mutex
	conns   map[*trackedConn]struct{}

	// learned are member CAs learned from elsewhere than the bundle file
	// (SetLearned: the registry's admitted members), sorted by member;
	// guarded by reloadMu.
	learned []trust.MemberBundle
	// learnedRefused lists the learned members the merge left out, and why;
	// learnedUsed those it added to the bundle file's.
	learnedRefused map[string]string
	learnedUsed    []string
}

type material struct {
	cert     *tls.Certificate
	id       identity.Identity
	verifier *trust.Verifier
	cas      *x509.CertPool
	digest   [sha256.Size]byte
	// crls are the CRLs applied, by file: the last good version of each,
	// kept when the file becomes unusable.
	crls     map[string]trust.CRL
	unusable []UnusableCRL
}

// NewSource loads the TLS material once. It fails when a file is missing or
// malformed; it does not require the node's own certificate to be currently
// valid (SelfCheck says whether it is), so that tools can diagnose a node
// whose certificate has expired. now may be nil (time.Now).
func NewSource(cfg Config, hooks Hooks, logger *slog.Logger, now func() time.Time) (*Source, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	s := &Source{cfg: cfg, logger: logger, hooks: hooks, now: now, conns: map[*trackedConn]struct{}{}}
	m, err := s.load()
	if err != nil {
		return nil, err
	}
	s.cur.Store(m)
	return s, nil
}

func (s *Source) load() (*material, error) {
	certPEM, err := readFile(s.cfg.CertFile)
	if err != nil {
		return nil, &FileError{"cert_file", err}
	}
	keyPEM, err := readFile(s.cfg.KeyFile)
	if err != nil {
		return nil, &FileError{"key_file", err}
	}
	bundleJSON, err := readFile(s.cfg.BundleFile)
	if err != nil {
		return nil, &FileError{"bundle_file", err}
	}
	if NotAPath(s.cfg.CRLDir) {
		return nil, &FileError{"crl_dir", ErrNotAPath}
	}
	crls, problems, err := trust.LoadCRLDir(s.cfg.CRLDir)
	if err != nil {
		return nil, &FileError{"crl_dir", err}
	}
	h := sha256.New()
	for _, b := range [][]byte{certPEM, keyPEM, bundleJSON} {
		h.Write(b)
		h.Write([]byte{0})
	}
	for _, c := range crls {
		h.Write([]byte(c.Source + "\x00"))
		h.Write(c.List.Raw)
	}
	for _, p := range problems {
		h.Write([]byte("\x00" + p.Source + "\x00" + p.Reason + "\x00" + p.Err.Error()))
	}
	for _, m := range s.learned {
		h.Write([]byte("\x00learned\x00" + m.Member))
		for _, c := range m.CACertificates {
			h.Write([]byte("\x00" + c))
		}
	}
	var digest [sha256.Size]byte
	copy(digest[:], h.Sum(nil))
	old := s.cur.Load()
	if old != nil && bytes.Equal(old.digest[:], digest[:]) {
		return old, nil
	}

	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, &FileError{"key_pair", err}
	}
	id, err := identity.FromCertificate(cert.Leaf)
	if err != nil {
		return nil, &FileError{"cert_file", err}
	}
	bundle, err := trust.ParseBundle(bundleJSON)
	if err != nil {
		return nil, &FileError{"bundle_file", err}
	}
	bundle = s.withLearned(bundle)
	var prev map[string]trust.CRL
	if old != nil {
		prev = old.crls
	}
	v, applied, unusable, err := buildVerifier(bundle, crls, problems, prev, s.now)
	if err != nil {
		return nil, &FileError{"bundle_file", err}
	}
	for _, u := range unusable {
		s.logger.Error("CRL file cannot be applied; the other CRLs are", "source", u.Source, "reason", u.Reason, "kept_last_good", u.KeptLastGood, "err", u.Err)
	}
	for _, info := range v.CRLs() {
		if info.Stale(s.now()) {
			s.logger.Warn("CRL is past its next update; it is still applied, publish a new one",
				"member", info.Member, "source", info.Source, "next_update", info.NextUpdate)
		}
	}
	return &material{cert: &cert, id: id, verifier: v, cas: v.CAs(), digest: digest, crls: applied, unusable: unusable}, nil
}

// buildVerifier builds a verifier from the CRL files that can be applied.
// A file that cannot (unreadable, not a CRL, signed by no CA of the bundle)
// is reported, and the version of it that was applied before (prev) is
// applied instead, if the bundle still vouches for it: one bad file never
// stops the other revocations, nor undoes its own earlier ones.
func buildVerifier(bundle *trust.Bundle, crls []trust.CRL, problems []trust.CRLProblem, prev map[string]trust.CRL, now func() time.Time) (*trust.Verifier, map[string]trust.CRL, []UnusableCRL, error) {
	v, err := trust.NewVerifier(bundle, crls, now)
	if err != nil {
		return nil, nil, nil, err
	}
	bad := append(slices.Clone(problems), v.Unusable()...)
	refused := map[string]bool{}
	for _, u := range v.Unusable() {
		refused[u.Source] = true
	}
	use := slices.DeleteFunc(slices.Clone(crls), func(c trust.CRL) bool { return refused[c.Source] })
	fallback := 0
	for _, p := range bad {
		if c, ok := prev[p.Source]; ok {
			use = append(use, c)
			fallback++
		}
	}
	if fallback > 0 || len(refused) > 0 {
		if v, err = trust.NewVerifier(bundle, use, now); err != nil {
			return nil, nil, nil, err
		}
	}
	// A last good version the bundle no longer vouches for is dropped.
	dropped := map[string]bool{}
	for _, u := range v.Unusable() {
		dropped[u.Source] = true
	}
	applied := make(map[string]trust.CRL, len(use))
	for _, c := range use {
		if !dropped[c.Source] {
			applied[c.Source] = c
		}
	}
	unusable := make([]UnusableCRL, 0, len(bad))
	for _, p := range bad {
		_, kept := applied[p.Source]
		unusable = append(unusable, UnusableCRL{CRLProblem: p, KeptLastGood: kept})
	}
	slices.SortFunc(unusable, func(a, b UnusableCRL) int { return strings.Compare(a.Source, b.Source) })
	return v, applied, unusable, nil
}

// SetLearned sets the CAs of members learned from elsewhere than the trust
// bundle file: the members the federation's registry admitted, with the CA
// certificates (PEM) they registered. They are trusted beside the bundle
// file's, which stays authoritative: a member the file lists keeps the
// file's CAs only, and a learned member whose CA would break a bundle rule
// (a CA shared with, or a subject, key id or public key of, another
// member's) is left out and logged as an error; when two learned members'
// CAs collide, both are left out (see withLearned). A member no longer learned (suspended)
// is no longer trusted, and its connections are closed. The material is
// rebuilt at once, as by Reload.
func (s *Source) SetLearned(members []trust.MemberBundle) (bool, error) {
	ms := slices.Clone(members)
	slices.SortFunc(ms, func(a, b trust.MemberBundle) int { return strings.Compare(a.Member, b.Member) })
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	s.learned = ms
	return s.reloadLocked()
}

// Learned returns the members trusted from SetLearned (not from the bundle
// file), sorted.
func (s *Source) Learned() []string {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	return slices.Clone(s.learnedUsed)
}

// withLearned returns the bundle with the learned members it does not list
// added, each only if the bundle stays valid with it (reloadMu held).
//
// A learned member is refused when its CAs break a bundle rule on their
// own or beside the file's members (whose CAs stay in force: the file is
// authoritative), and when one of its CAs shares a fingerprint, subject,
// key id or public key with a CA of another learned member: then both are
// refused, whichever registered first and whatever their codes sort like,
// so that no member can push another out of the trust by copying its CA's
// name, and every such collision is logged loudly with both members. (The
// registry refuses such a CA; a collision here means a registry that did
// not, or a bundle file that disagrees with it.)
func (s *Source) withLearned(file *trust.Bundle) *trust.Bundle {
	refused := map[string]string{}
	refuse := func(member, reason string, attrs ...any) {
		if _, ok := refused[member]; ok {
			return
		}
		refused[member] = reason
		if s.learnedRefused[member] != reason {
			s.logger.Error("a member's CA learned from the registry is NOT trusted: "+reason,
				append([]any{"member", member}, attrs...)...)
		}
	}
	fileOwners := caOwnerIndex{}
	for _, f := range file.Members {
		fileOwners.add(f.Member, f.CACertificates)
	}
	var cands []trust.MemberBundle
	for _, m := range s.learned {
		if slices.ContainsFunc(file.Members, func(f trust.MemberBundle) bool { return f.Member == m.Member }) {
			continue // the file's CAs for it are the ones in force
		}
		if other, what := fileOwners.clash(m.Member, m.CACertificates); other != "" {
			refuse(m.Member, "its CA's "+what+" belongs to a CA the trust bundle file lists for another member; the file's stays in force",
				"file_member", other, "collision", what)
			continue
		}
		next := &trust.Bundle{Version: file.Version, Federation: file.Federation, Members: append(slices.Clone(file.Members), m)}
		if err := next.Validate(); err != nil {
			refuse(m.Member, "it breaks a trust bundle rule", "err", err)
			continue
		}
		cands = append(cands, m)
	}
	// Collisions between learned members: refuse both.
	for i, a := range cands {
		for _, b := range cands[i+1:] {
			pair := caOwnerIndex{}
			pair.add(b.Member, b.CACertificates)
			if _, what := pair.clash(a.Member, a.CACertificates); what != "" {
				reason := "its CA's " + what + " is also claimed by a CA of another learned member; both are refused until one of them registers other CAs"
				refuse(a.Member, reason, "other_member", b.Member, "collision", what)
				refuse(b.Member, reason, "other_member", a.Member, "collision", what)
			}
		}
	}
	out := &trust.Bundle{Version: file.Version, Federation: file.Federation, Members: slices.Clone(file.Members)}
	var used []string
	for _, m := range cands {
		if _, ok := refused[m.Member]; !ok {
			out.Members = append(out.Members, m)
			used = append(used, m.Member)
		}
	}
	if err := out.Validate(); err != nil {
		// Not expected after the checks above; trust the file alone rather
		// than a bundle that breaks a rule.
		for _, m := range used {
			refuse(m, "the learned members together break a trust bundle rule", "err", err)
		}
		out, used = file, nil
	}
	s.learnedRefused, s.learnedUsed = refused, used
	return out
}

// caOwnerIndex records which member's CA carries each fingerprint, subject,
// key id and public key.
type caOwnerIndex map[string]string

func caKeys(p string) []struct{ key, what string } {
	block, _ := pem.Decode([]byte(p))
	if block == nil {
		return nil
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil
	}
	out := []struct{ key, what string }{
		{"fp\x00" + trust.Fingerprint(c), "certificate"},
		{"subject\x00" + string(c.RawSubject), "subject"},
		{"spki\x00" + trust.KeyFingerprint(c), "public key"},
	}
	if len(c.SubjectKeyId) > 0 {
		out = append(out, struct{ key, what string }{"skid\x00" + string(c.SubjectKeyId), "subject key id"})
	}
	return out
}

func (o caOwnerIndex) add(member string, certs []string) {
	for _, p := range certs {
		for _, k := range caKeys(p) {
			if _, ok := o[k.key]; !ok {
				o[k.key] = member
			}
		}
	}
}

// clash returns another member whose CA shares something (what) with one
// of member's certs, or "".
func (o caOwnerIndex) clash(member string, certs []string) (other, what string) {
	for _, p := range certs {
		for _, k := range caKeys(p) {
			if owner, ok := o[k.key]; ok && owner != member {
				return owner, k.what
			}
		}
	}
	return "", ""
}

// Reload re-reads the files. On error the current material stays in force.
// It reports whether anything changed; when it did, connections whose peer is
// no longer trusted are closed.
func (s *Source) Reload() (bool, error) {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	return s.reloadLocked()
}

// reloadLocked is Reload with reloadMu held.
func (s *Source) reloadLocked() (bool, error) {
	old := s.cur.Load()
	m, err := s.load()
	s.stateMu.Lock()
	s.state.LastAttempt, s.state.LastError = s.now(), err
	if err != nil {
		s.state.Failures++
	}
	s.stateMu.Unlock()
	if err != nil {
		if s.hooks.ReloadFailed != nil {
			s.hooks.ReloadFailed(ReloadFailureReason(err), err)
		}
		return false, err
	}
	if m == old {
		return false, nil
	}
	s.cur.Store(m)
	s.logger.Info("TLS material reloaded", "identity", m.id.String(), "not_after", m.cert.Leaf.NotAfter, "members", len(m.verifier.Members()), "crls", len(m.verifier.CRLs()))
	if s.hooks.Reloaded != nil {
		s.hooks.Reloaded(m.cert.Leaf)
	}
	s.cutOffDistrusted(m)
	return true, nil
}

// Run reloads the material every ReloadInterval until ctx ends.
func (s *Source) Run(ctx context.Context) {
	interval := s.cfg.ReloadInterval
	if interval <= 0 {
		interval = DefaultReloadInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.Reload(); err != nil {
				s.logger.Error("TLS reload failed; keeping the current material", "err", err)
			}
		}
	}
}

// ReloadState says how re-reading the material went.
func (s *Source) ReloadState() ReloadState {
	s.stateMu.Lock()
	defer s.stateMu.Unlock()
	return s.state
}

// UnusableCRLs lists the files of the CRL folder that the material in force
// could not apply, sorted by file.
func (s *Source) UnusableCRLs() []UnusableCRL { return slices.Clone(s.cur.Load().unusable) }

// Identity returns the node's own identity.
func (s *Source) Identity() identity.Identity { return s.cur.Load().id }

// Certificate returns the node's current certificate.
func (s *Source) Certificate() *tls.Certificate { return s.cur.Load().cert }

// Verifier returns the current verifier.
func (s *Source) Verifier() *trust.Verifier { return s.cur.Load().verifier }

// SelfCheck verifies the node's own certificate against its own trust bundle
// and CRLs, as a peer with the same bundle would. A node refuses to start
// when it fails.
func (s *Source) SelfCheck() error {
	m := s.cur.Load()
	chain := append([]*x509.Certificate{m.cert.Leaf}, parseChain(m.cert.Certificate[1:])...)
	usage := x509.ExtKeyUsageServerAuth
	if m.id.Kind == identity.KindUser {
		usage = x509.ExtKeyUsageClientAuth
	}
	if _, err := m.verifier.Verify(chain, usage); err != nil {
		return fmt.Errorf("own certificate (%s): %w", s.cfg.CertFile, err)
	}
	return nil
}

func parseChain(ders [][]byte) []*x509.Certificate {
	out := make([]*x509.Certificate, 0, len(ders))
	for _, d := range ders {
		if c, err := x509.ParseCertificate(d); err == nil {
			out = append(out, c)
		}
	}
	return out
}

// ServerConfig returns a TLS configuration for a server: it demands a client
// certificate and accepts only one that the current verifier accepts for
// client use. The material in force at each handshake is used.
func (s *Source) ServerConfig() *tls.Config {
	minV := s.cfg.minVersion()
	return &tls.Config{
		MinVersion: minV,
		NextProtos: []string{"h2"},
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			m := s.cur.Load()
			return &tls.Config{
				MinVersion:   minV,
				NextProtos:   []string{"h2"},
				Certificates: []tls.Certificate{*m.cert},
				// Chain verification is done in VerifyConnection against the
				// claimed member's own CAs only; the pool below is just the
				// list of acceptable CAs sent to clients. A client without a
				// certificate is refused there too (trust.ErrNoCertificate),
				// so that it is counted and logged like every other refusal.
				ClientAuth: tls.RequestClientCert,
				ClientCAs:  m.cas,
				VerifyConnection: func(cs tls.ConnectionState) error {
					_, err := m.verifier.Verify(cs.PeerCertificates, x509.ExtKeyUsageClientAuth)
					if err != nil {
						s.refused("server", err)
					}
					return err
				},
			}, nil
		},
	}
}

// ClientConfig returns a TLS configuration for dialling a peer node. The
// server must present a node certificate the current verifier accepts for
// server use; expect, when not nil, may refuse it further (for example when
// a particular member or node is expected).
func (s *Source) ClientConfig(expect func(identity.Identity) error) *tls.Config {
	return &tls.Config{
		MinVersion: s.cfg.minVersion(),
		// Go's own verification checks a host name against one pool of
		// roots; Accord instead checks the SPIFFE identity against the
		// claimed member's own CAs, in VerifyConnection below, which runs
		// on every handshake including resumed ones.
		InsecureSkipVerify: true, //nolint:gosec // verification is done in VerifyConnection
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return s.cur.Load().cert, nil
		},
		VerifyConnection: func(cs tls.ConnectionState) error {
			id, err := s.cur.Load().verifier.Verify(cs.PeerCertificates, x509.ExtKeyUsageServerAuth)
			if err == nil && id.Kind != identity.KindNode {
				err = fmt.Errorf("%w: %s is not a node certificate", trust.ErrKeyUsage, id)
			}
			if err == nil && expect != nil {
				err = expect(id)
			}
			if err != nil {
				s.refused("client", err)
			}
			return err
		},
	}
}

func (s *Source) refused(side string, err error) {
	s.logger.Warn("peer certificate refused", "side", side, "reason", trust.Reason(err), "err", err)
	if s.hooks.Refused != nil {
		s.hooks.Refused(side, err)
	}
}

// ExpectMember returns an expectation for ClientConfig that accepts only
// nodes of the given member.
func ExpectMember(member string) func(identity.Identity) error {
	return func(id identity.Identity) error {
		if id.Member != member {
			return fmt.Errorf("%w: expected a node of member %s, got %s", ErrUnexpectedPeer, member, id)
		}
		return nil
	}
}

// ErrUnexpectedPeer is returned when a server is trusted but is not the peer
// the client meant to reach.
var ErrUnexpectedPeer = errors.New("unexpected peer")
