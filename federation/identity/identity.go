package identity

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
)

// Scheme is the URI scheme of every Accord identity.
const Scheme = "spiffe"

// Kind says what sort of principal an identity names.
type Kind string

const (
	// KindNode is a member's node (an accordd process).
	KindNode Kind = "node"
	// KindUser is a person working for a member office (analyst, prosecutor,
	// operator). The name is an opaque account id, never a person's name.
	KindUser Kind = "user"
)

var (
	// ErrInvalid is returned when a URI or one of its parts is not a valid
	// Accord identity.
	ErrInvalid = errors.New("invalid identity")
	// ErrURISANCount is returned when a certificate does not carry exactly one
	// URI SAN.
	ErrURISANCount = errors.New("certificate must carry exactly one URI SAN")
	// ErrNoIdentity is returned when a context carries no verified identity.
	ErrNoIdentity = errors.New("no verified identity")
)

var (
	federationRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$`)
	memberRE     = regexp.MustCompile(`^[A-Z][A-Z0-9]{1,15}$`)
	nameRE       = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)
)

// Identity is a principal of a federation: a node or a user of a member.
type Identity struct {
	Federation string // trust domain, e.g. "accord.example"
	Member     string // ISO 3166-1 alpha-2 code ("UA") or organisation code ("ICC")
	Kind       Kind
	Name       string // node name or opaque user account id
}

// ValidateFederation checks a federation name (the SPIFFE trust domain):
// lower-case DNS labels separated by dots.
func ValidateFederation(s string) error {
	if len(s) > 253 || !federationRE.MatchString(s) {
		return fmt.Errorf("%w: federation %q: must be lower-case DNS labels (a-z, 0-9, '-') separated by dots", ErrInvalid, s)
	}
	return nil
}

// ValidateMember checks a member code: an ISO 3166-1 alpha-2 country code such
// as "UA" or an organisation code such as "ICC" (upper-case letters and
// digits, 2 to 16 characters, starting with a letter).
func ValidateMember(s string) error {
	if !memberRE.MatchString(s) {
		return fmt.Errorf("%w: member %q: must be 2-16 upper-case letters or digits starting with a letter (e.g. UA, ICC)", ErrInvalid, s)
	}
	return nil
}

// ValidateName checks a node name or user account id: lower-case letters,
// digits, '.', '_' and '-', at most 63 characters, starting with a letter or
// digit.
func ValidateName(s string) error {
	if !nameRE.MatchString(s) {
		return fmt.Errorf("%w: name %q: must be 1-63 of a-z, 0-9, '.', '_', '-' starting with a letter or digit", ErrInvalid, s)
	}
	return nil
}

// Validate checks every part of the identity.
func (id Identity) Validate() error {
	if err := ValidateFederation(id.Federation); err != nil {
		return err
	}
	if err := ValidateMember(id.Member); err != nil {
		return err
	}
	if id.Kind != KindNode && id.Kind != KindUser {
		return fmt.Errorf("%w: kind %q: must be %q or %q", ErrInvalid, id.Kind, KindNode, KindUser)
	}
	return ValidateName(id.Name)
}

// String returns the identity's URI, e.g.
// spiffe://accord.example/member/UA/node/ua-1.
func (id Identity) String() string {
	return id.URI().String()
}

// URI returns the identity as a URL, as it is written into a certificate.
func (id Identity) URI() *url.URL {
	return &url.URL{Scheme: Scheme, Host: id.Federation, Path: "/member/" + id.Member + "/" + string(id.Kind) + "/" + id.Name}
}

// MemberURI returns the URI that names a member as a whole (used in the URI
// SAN of a member's CA certificate).
func MemberURI(federation, member string) *url.URL {
	return &url.URL{Scheme: Scheme, Host: federation, Path: "/member/" + member}
}

// Parse parses an identity URI.
func Parse(s string) (Identity, error) {
	u, err := url.Parse(s)
	if err != nil {
		return Identity{}, fmt.Errorf("%w: %q: %w", ErrInvalid, s, err)
	}
	return FromURI(u)
}

// FromURI converts a parsed URI into an identity.
func FromURI(u *url.URL) (Identity, error) {
	if u.Scheme != Scheme {
		return Identity{}, fmt.Errorf("%w: %q: scheme must be %q", ErrInvalid, u.String(), Scheme)
	}
	if u.User != nil || u.Port() != "" || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return Identity{}, fmt.Errorf("%w: %q: must not carry user info, port, query or fragment", ErrInvalid, u.String())
	}
	parts := strings.Split(strings.TrimPrefix(u.Path, "/"), "/")
	if len(parts) != 4 || parts[0] != "member" {
		return Identity{}, fmt.Errorf("%w: %q: path must be /member/<MEMBER>/node/<name> or /member/<MEMBER>/user/<name>", ErrInvalid, u.String())
	}
	id := Identity{Federation: u.Host, Member: parts[1], Kind: Kind(parts[2]), Name: parts[3]}
	if err := id.Validate(); err != nil {
		return Identity{}, err
	}
	return id, nil
}

// FromCertificate returns the identity named by a certificate's one URI SAN.
// It does not verify the certificate.
func FromCertificate(cert *x509.Certificate) (Identity, error) {
	if len(cert.URIs) != 1 {
		return Identity{}, fmt.Errorf("%w (found %d)", ErrURISANCount, len(cert.URIs))
	}
	return FromURI(cert.URIs[0])
}

type ctxKey struct{}

// NewContext returns a context carrying a verified identity. Only the
// server's authentication interceptor calls it.
func NewContext(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// FromContext returns the verified identity that the server's interceptor
// put into the request context.
func FromContext(ctx context.Context) (Identity, error) {
	id, ok := ctx.Value(ctxKey{}).(Identity)
	if !ok {
		return Identity{}, ErrNoIdentity
	}
	return id, nil
}

// PeerCertificate returns the leaf certificate of the verified TLS connection
// a gRPC request arrived on.
func PeerCertificate(ctx context.Context) (*x509.Certificate, error) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return nil, fmt.Errorf("%w: no peer in context", ErrNoIdentity)
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok {
		return nil, fmt.Errorf("%w: connection is not TLS", ErrNoIdentity)
	}
	if len(info.State.PeerCertificates) == 0 {
		return nil, fmt.Errorf("%w: peer sent no certificate", ErrNoIdentity)
	}
	return info.State.PeerCertificates[0], nil
}

// FromPeer returns the identity of the peer of a gRPC request, read from the
// certificate of its TLS connection. The connection's certificate was
// verified during the handshake (federation/mtls), so the identity can be
// trusted; a connection that failed verification never reaches a handler.
func FromPeer(ctx context.Context) (Identity, *x509.Certificate, error) {
	cert, err := PeerCertificate(ctx)
	if err != nil {
		return Identity{}, nil, err
	}
	id, err := FromCertificate(cert)
	if err != nil {
		return Identity{}, nil, err
	}
	return id, cert, nil
}
