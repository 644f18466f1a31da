package peering

import (
	"context"
	"crypto/tls"
	"crypto/x509"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/trust"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// Service implements accord.v1.FederationService.
type Service struct {
	accordv1.UnimplementedFederationServiceServer
	self    func() *tls.Certificate
	version string
	now     func() *timestamppb.Timestamp
}

// NewService returns the service. self returns the node's current
// certificate (it changes on reload); version is the software version.
func NewService(self func() *tls.Certificate, version string) *Service {
	return &Service{self: self, version: version, now: timestamppb.Now}
}

// WhoAmI answers with the caller's identity as read from the verified
// connection and the server's own.
func (s *Service) WhoAmI(ctx context.Context, _ *accordv1.WhoAmIRequest) (*accordv1.WhoAmIResponse, error) {
	id, err := identity.FromContext(ctx)
	if err != nil {
		return nil, err
	}
	leaf, err := identity.PeerCertificate(ctx)
	if err != nil {
		return nil, err
	}
	resp := &accordv1.WhoAmIResponse{
		Caller:        Principal(id, leaf),
		ServerTime:    s.now(),
		ServerVersion: s.version,
	}
	if own := s.self(); own != nil && own.Leaf != nil {
		if sid, err := identity.FromCertificate(own.Leaf); err == nil {
			resp.Server = Principal(sid, own.Leaf)
		}
	}
	if p, ok := peer.FromContext(ctx); ok {
		if info, ok := p.AuthInfo.(credentials.TLSInfo); ok {
			resp.TlsVersion = tls.VersionName(info.State.Version)
			resp.CipherSuite = tls.CipherSuiteName(info.State.CipherSuite)
			resp.SessionResumed = info.State.DidResume
		}
	}
	return resp, nil
}

// Principal describes an identity and the certificate that proves it.
func Principal(id identity.Identity, cert *x509.Certificate) *accordv1.Principal {
	kind := accordv1.PrincipalKind_PRINCIPAL_KIND_NODE
	if id.Kind == identity.KindUser {
		kind = accordv1.PrincipalKind_PRINCIPAL_KIND_USER
	}
	return &accordv1.Principal{
		SpiffeId:          id.String(),
		Federation:        id.Federation,
		Member:            id.Member,
		Kind:              kind,
		Name:              id.Name,
		CertificateSerial: cert.SerialNumber.Text(16),
		Issuer:            cert.Issuer.String(),
		NotBefore:         timestamppb.New(cert.NotBefore),
		NotAfter:          timestamppb.New(cert.NotAfter),
		FingerprintSha256: trust.Fingerprint(cert),
	}
}
