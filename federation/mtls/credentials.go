package mtls

import (
	"crypto/x509"
	"net"
	"sync"

	"google.golang.org/grpc/credentials"

	"github.com/accordfed/accord/federation/identity"
)

// ServerCredentials returns gRPC server credentials that use ServerConfig
// and remember every live connection with the certificate chain its peer
// presented, so that a reload that revokes or distrusts a peer closes its
// connections immediately.
func (s *Source) ServerCredentials() credentials.TransportCredentials {
	return &trackingCreds{TransportCredentials: credentials.NewTLS(s.ServerConfig()), s: s}
}

// ClientCredentials returns gRPC client credentials using ClientConfig.
func (s *Source) ClientCredentials(expect func(identity.Identity) error) credentials.TransportCredentials {
	return credentials.NewTLS(s.ClientConfig(expect))
}

type trackingCreds struct {
	credentials.TransportCredentials
	s *Source
}

func (c *trackingCreds) ServerHandshake(raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	conn, info, err := c.TransportCredentials.ServerHandshake(raw)
	if err != nil {
		return nil, nil, err
	}
	tlsInfo, ok := info.(credentials.TLSInfo)
	if !ok {
		return conn, info, nil
	}
	tc := &trackedConn{Conn: conn, chain: tlsInfo.State.PeerCertificates, s: c.s}
	c.s.connsMu.Lock()
	c.s.conns[tc] = struct{}{}
	c.s.connsMu.Unlock()
	return tc, info, nil
}

func (c *trackingCreds) Clone() credentials.TransportCredentials {
	return &trackingCreds{TransportCredentials: c.TransportCredentials.Clone(), s: c.s}
}

// TrackConn remembers a server-side connection that is not served by gRPC
// (the local API's JSON gateway serves HTTPS) with the certificate chain its
// peer presented, so that a reload that revokes or distrusts the peer closes
// it like the gRPC connections. The caller calls forget when the connection
// has ended.
func (s *Source) TrackConn(c net.Conn, chain []*x509.Certificate) (forget func()) {
	tc := &trackedConn{Conn: c, chain: chain, s: s}
	s.connsMu.Lock()
	s.conns[tc] = struct{}{}
	s.connsMu.Unlock()
	return tc.forget
}

// trackedConn is a server-side connection remembered for cut-off.
type trackedConn struct {
	net.Conn
	chain []*x509.Certificate
	s     *Source
	once  sync.Once
}

func (t *trackedConn) Close() error {
	t.forget()
	return t.Conn.Close()
}

// forget stops tracking the connection.
func (t *trackedConn) forget() {
	t.once.Do(func() {
		t.s.connsMu.Lock()
		delete(t.s.conns, t)
		t.s.connsMu.Unlock()
	})
}

// cutOffDistrusted closes every tracked connection whose peer the new
// material no longer accepts.
func (s *Source) cutOffDistrusted(m *material) {
	s.connsMu.Lock()
	var victims []*trackedConn
	for tc := range s.conns {
		if _, err := m.verifier.Verify(tc.chain, x509.ExtKeyUsageClientAuth); err != nil {
			victims = append(victims, tc)
			s.logger.Warn("closing connection of a peer no longer trusted", "reason", err)
		}
	}
	s.connsMu.Unlock()
	for _, tc := range victims {
		_ = tc.Close()
	}
}

// OpenConnections returns how many server connections are being tracked.
func (s *Source) OpenConnections() int {
	s.connsMu.Lock()
	defer s.connsMu.Unlock()
	return len(s.conns)
}
