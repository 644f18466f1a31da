package mtls

import (
	"context"
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
// Like ServerCredentials they remember every live connection with the
// certificate chain the server presented, so that a reload (or SetLearned)
// that revokes or distrusts the server closes the connections this node
// opened to it too: a suspended member's node is no longer reached over a
// connection dialled before (the exchange's dialer, the registry's
// forwarders and every other pool of client connections built on them; gRPC
// then dials again, and the new handshake is refused).
func (s *Source) ClientCredentials(expect func(identity.Identity) error) credentials.TransportCredentials {
	return &trackingCreds{TransportCredentials: credentials.NewTLS(s.ClientConfig(expect)), s: s}
}

type trackingCreds struct {
	credentials.TransportCredentials
	s *Source
}

func (c *trackingCreds) ClientHandshake(ctx context.Context, authority string, raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	conn, info, err := c.TransportCredentials.ClientHandshake(ctx, authority, raw)
	if err != nil {
		return nil, nil, err
	}
	tlsInfo, ok := info.(credentials.TLSInfo)
	if !ok {
		return conn, info, nil
	}
	return c.s.track(conn, tlsInfo.State.PeerCertificates, true), info, nil
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
	return c.s.track(conn, tlsInfo.State.PeerCertificates, false), info, nil
}

// track remembers a connection for cut-off.
func (s *Source) track(conn net.Conn, chain []*x509.Certificate, outbound bool) *trackedConn {
	tc := &trackedConn{Conn: conn, chain: chain, outbound: outbound, s: s}
	s.connsMu.Lock()
	s.conns[tc] = struct{}{}
	s.connsMu.Unlock()
	return tc
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

// trackedConn is a connection remembered for cut-off: accepted by a
// server, or (outbound) opened by this node's clients.
type trackedConn struct {
	net.Conn
	chain    []*x509.Certificate
	outbound bool
	s        *Source
	once     sync.Once
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

// cutOffDistrusted closes every tracked connection, inbound or outbound,
// whose peer the new material no longer accepts (as a client for inbound
// connections, as a server for outbound ones).
func (s *Source) cutOffDistrusted(m *material) {
	s.connsMu.Lock()
	var victims []*trackedConn
	for tc := range s.conns {
		usage, dir := x509.ExtKeyUsageClientAuth, "inbound"
		if tc.outbound {
			usage, dir = x509.ExtKeyUsageServerAuth, "outbound"
		}
		if _, err := m.verifier.Verify(tc.chain, usage); err != nil {
			victims = append(victims, tc)
			s.logger.Warn("closing connection of a peer no longer trusted", "direction", dir, "remote", tc.RemoteAddr().String(), "reason", err)
		}
	}
	s.connsMu.Unlock()
	for _, tc := range victims {
		_ = tc.Close()
	}
}

// OpenConnections returns how many server (inbound) connections are being
// tracked.
func (s *Source) OpenConnections() int { return s.openConns(false) }

// OpenOutboundConnections returns how many client connections this node
// opened (with ClientCredentials) are being tracked.
func (s *Source) OpenOutboundConnections() int { return s.openConns(true) }

func (s *Source) openConns(outbound bool) int {
	s.connsMu.Lock()
	defer s.connsMu.Unlock()
	n := 0
	for tc := range s.conns {
		if tc.outbound == outbound {
			n++
		}
	}
	return n
}
