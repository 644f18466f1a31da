package raftnet

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"

	"github.com/hashicorp/raft"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/mtls"
	"github.com/accordfed/accord/federation/trust"
)

// serverConfig wraps the Source's server configuration (the material in
// force at each handshake): TLS 1.3 only, ALPN, and the layer's checks
// after the Source's own in VerifyConnection.
func (l *StreamLayer) serverConfig() *tls.Config {
	base := l.cfg.Source.ServerConfig()
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		NextProtos: []string{ALPN},
		GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			var c *tls.Config
			if base.GetConfigForClient != nil {
				inner, err := base.GetConfigForClient(hello)
				if err != nil {
					return nil, err
				}
				if inner != nil {
					c = inner.Clone()
				}
			}
			if c == nil {
				c = base.Clone()
				c.GetConfigForClient = nil
			}
			c.MinVersion = tls.VersionTLS13
			c.NextProtos = []string{ALPN}
			c.VerifyConnection = l.verifier("server", hello.Conn.RemoteAddr().String(), c.VerifyConnection, l.verifyClient)
			return c, nil
		},
	}
}

// verifyClient is the server's own check of a client the Source accepted.
func (l *StreamLayer) verifyClient(cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) == 0 {
		return trust.ErrNoCertificate
	}
	id, err := identity.FromCertificate(cs.PeerCertificates[0])
	if err != nil {
		return err
	}
	return l.allowed(id)
}

// clientConfig wraps the Source's client configuration: TLS 1.3 only,
// ALPN, and a server that must be exactly want and allowed.
func (l *StreamLayer) clientConfig(addr raft.ServerAddress, want identity.Identity) *tls.Config {
	c := l.cfg.Source.ClientConfig(func(id identity.Identity) error {
		if id != want {
			return fmt.Errorf("%w: expected %s at %s, got %s", mtls.ErrUnexpectedPeer, want, addr, id)
		}
		return l.allowed(id)
	})
	c.MinVersion = tls.VersionTLS13
	c.NextProtos = []string{ALPN}
	c.VerifyConnection = l.verifier("client", string(addr), c.VerifyConnection, nil)
	return c
}

// verifier chains the ALPN check, the Source's check (inner) and the
// layer's own; it fails closed when the Source does no verification.
func (l *StreamLayer) verifier(side, remote string, inner, own func(tls.ConnectionState) error) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		var err error
		switch {
		case cs.NegotiatedProtocol != ALPN:
			err = fmt.Errorf("%w: ALPN %q negotiated, want %q", ErrProtocol, cs.NegotiatedProtocol, ALPN)
		case inner == nil:
			err = fmt.Errorf("%w: the TLS source verifies no peers", ErrConfig)
		default:
			err = inner(cs)
		}
		if err == nil && own != nil {
			err = own(cs)
		}
		if err != nil {
			l.refusedPeer(side, remote, err)
		}
		return err
	}
}

// Reason returns a short, stable label for why a raft connection failed
// (for logs and metrics): the layer's own reasons, "timeout",
// "remote_refused" when the peer refused the handshake, or trust.Reason's
// labels for certificate refusals.
func Reason(err error) string {
	switch {
	case errors.Is(err, ErrNotAllowed):
		return "not_allowed"
	case errors.Is(err, mtls.ErrUnexpectedPeer):
		return "unexpected_peer"
	case errors.Is(err, ErrUnknownAddress):
		return "unknown_address"
	case errors.Is(err, ErrProtocol):
		return "protocol"
	case errors.Is(err, ErrClosed):
		return "closed"
	case errors.Is(err, ErrSpoofedSender):
		return "spoofed_sender"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return "timeout"
	}
	// crypto/tls reports an alert from the peer (it refused the handshake,
	// for example this node's certificate) as a "remote error".
	if op := (*net.OpError)(nil); errors.As(err, &op) && op.Op == "remote error" {
		return "remote_refused"
	}
	return trust.Reason(err)
}
