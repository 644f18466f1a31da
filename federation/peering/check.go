package peering

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/mtls"
	"github.com/accordfed/accord/federation/trust"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// Verdict is the outcome of a peer check.
type Verdict string

// The verdicts of Check, from the first step that failed.
const (
	// VerdictOK: both nodes accepted each other and WhoAmI answered.
	VerdictOK Verdict = "ok"
	// VerdictUnreachable: no TCP connection could be opened.
	VerdictUnreachable Verdict = "unreachable"
	// VerdictPeerNotTrusted: this node refused the peer's certificate.
	VerdictPeerNotTrusted Verdict = "peer_not_trusted"
	// VerdictRefusedByPeer: the peer refused this node's certificate.
	VerdictRefusedByPeer Verdict = "refused_by_peer"
	// VerdictTLSFailed: the TLS handshake failed for another reason (the
	// peer does not speak TLS, or no common protocol version).
	VerdictTLSFailed Verdict = "tls_failed"
	// VerdictRPCFailed: TLS worked both ways but the WhoAmI call failed.
	VerdictRPCFailed Verdict = "rpc_failed"
)

// Report is what Check found, in plain words and as data.
type Report struct {
	Address     string              `json:"address"`
	Verdict     Verdict             `json:"verdict"`
	Reason      string              `json:"reason,omitempty"`
	Explanation string              `json:"explanation"`
	Hint        string              `json:"hint,omitempty"`
	Self        string              `json:"self"`
	Peer        *accordv1.Principal `json:"peer,omitempty"`
	SeenAs      *accordv1.Principal `json:"seen_as,omitempty"`
	TLSVersion  string              `json:"tls_version,omitempty"`
	CipherSuite string              `json:"cipher_suite,omitempty"`
	Connect     time.Duration       `json:"connect_ns,omitempty"`
	RTTs        []time.Duration     `json:"rtts_ns,omitempty"`
	PeerVersion string              `json:"peer_version,omitempty"`
	ClockSkew   time.Duration       `json:"clock_skew_ns,omitempty"`
}

// RTTMedian returns the median WhoAmI round-trip time.
func (r Report) RTTMedian() time.Duration {
	if len(r.RTTs) == 0 {
		return 0
	}
	s := slices.Clone(r.RTTs)
	slices.Sort(s)
	return s[len(s)/2]
}

// CheckOptions tune Check.
type CheckOptions struct {
	// Timeout bounds each step (default 5s).
	Timeout time.Duration
	// Rounds is the number of WhoAmI calls timed after the first (default 5).
	Rounds int
	// ExpectMember, when set, refuses a peer of another member.
	ExpectMember string
}

// Check dials addr step by step with the node's TLS material and explains
// the outcome. It never returns an error: every failure is a verdict.
func Check(ctx context.Context, addr string, src *mtls.Source, opts CheckOptions) Report {
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Second
	}
	if opts.Rounds <= 0 {
		opts.Rounds = 5
	}
	r := Report{Address: addr, Self: src.Identity().String()}
	var expect func(identity.Identity) error
	if opts.ExpectMember != "" {
		expect = mtls.ExpectMember(opts.ExpectMember)
	}

	// Step 1: TCP.
	dctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	var d net.Dialer
	start := time.Now()
	raw, err := d.DialContext(dctx, "tcp", addr)
	if err != nil {
		r.Verdict = VerdictUnreachable
		r.Explanation = fmt.Sprintf("could not open a TCP connection to %s: %v", addr, err)
		r.Hint = "check that accordd runs there and listens on that address, and that no firewall is in the way"
		return r
	}

	// Step 2: TLS, with our verdict on the peer captured.
	cfg := src.ClientConfig(expect)
	cfg.NextProtos = []string{"h2"}
	inner := cfg.VerifyConnection
	var peerErr error
	var peerChain []*x509.Certificate
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		peerChain = cs.PeerCertificates
		peerErr = inner(cs)
		return peerErr
	}
	conn := tls.Client(raw, cfg)
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(opts.Timeout))
	err = conn.HandshakeContext(dctx)
	if len(peerChain) > 0 {
		r.Peer = describePeer(peerChain[0])
	}
	if peerErr != nil {
		r.Verdict = VerdictPeerNotTrusted
		r.Reason = reasonOf(peerErr)
		r.Explanation = "this node refused the peer's certificate: " + peerErr.Error()
		r.Hint = hintForPeer(peerErr)
		return r
	}
	if err != nil {
		return refusedOrFailed(r, err, src)
	}
	state := conn.ConnectionState()
	r.TLSVersion = tls.VersionName(state.Version)
	r.CipherSuite = tls.CipherSuiteName(state.CipherSuite)

	// Step 3: with TLS 1.3 the server checks our certificate after our side
	// of the handshake is done; its verdict arrives as an alert or as the
	// first HTTP/2 frame.
	var one [1]byte
	if _, err := io.ReadFull(conn, one[:]); err != nil {
		return refusedOrFailed(r, err, src)
	}
	conn.Close()

	// Step 4: WhoAmI over gRPC.
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(src.ClientCredentials(expect)))
	if err != nil {
		r.Verdict = VerdictRPCFailed
		r.Explanation = fmt.Sprintf("could not set up a gRPC client for %s: %v", addr, err)
		return r
	}
	defer cc.Close()
	client := accordv1.NewFederationServiceClient(cc)
	var last *accordv1.WhoAmIResponse
	for i := 0; i <= opts.Rounds; i++ {
		cctx, ccancel := context.WithTimeout(ctx, opts.Timeout)
		t0 := time.Now()
		resp, err := client.WhoAmI(cctx, &accordv1.WhoAmIRequest{})
		elapsed := time.Since(t0)
		ccancel()
		if err != nil {
			r.Verdict = VerdictRPCFailed
			st := status.Convert(err)
			r.Reason = st.Code().String()
			r.Explanation = fmt.Sprintf("TLS works both ways but WhoAmI failed: %s: %s", st.Code(), st.Message())
			r.Hint = "the peer may run an older or newer Accord version, or refuse this node's identity for this call"
			return r
		}
		if i == 0 {
			r.Connect = time.Since(start)
		} else {
			r.RTTs = append(r.RTTs, elapsed)
		}
		last = resp
		if i == 0 && resp.GetServerTime() != nil {
			// The server's clock at the middle of the round trip.
			r.ClockSkew = resp.GetServerTime().AsTime().Sub(t0.Add(elapsed / 2)).Round(time.Millisecond)
		}
	}
	r.Verdict = VerdictOK
	r.SeenAs = last.GetCaller()
	if last.GetServer() != nil {
		r.Peer = last.GetServer()
	}
	r.PeerVersion = last.GetServerVersion()
	r.Explanation = fmt.Sprintf("%s and %s authenticate each other over %s; the peer sees this node as %s",
		r.Self, r.Peer.GetSpiffeId(), r.TLSVersion, r.SeenAs.GetSpiffeId())
	if r.ClockSkew > 30*time.Second || r.ClockSkew < -30*time.Second {
		r.Hint = fmt.Sprintf("clocks differ by about %s: certificate validity checks may fail; check NTP on both nodes", r.ClockSkew)
	}
	return r
}

func describePeer(leaf *x509.Certificate) *accordv1.Principal {
	id, err := identity.FromCertificate(leaf)
	if err != nil {
		return &accordv1.Principal{Issuer: leaf.Issuer.String(), CertificateSerial: leaf.SerialNumber.Text(16), FingerprintSha256: trust.Fingerprint(leaf)}
	}
	return Principal(id, leaf)
}

// refusedOrFailed classifies a handshake or first-read error.
func refusedOrFailed(r Report, err error, src *mtls.Source) Report {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "remote error" {
		r.Verdict = VerdictRefusedByPeer
		r.Reason = strings.TrimPrefix(op.Err.Error(), "tls: ")
		r.Explanation = fmt.Sprintf("the peer refused this node's certificate (TLS alert: %s)", r.Reason)
		if self := src.SelfCheck(); self != nil {
			r.Reason = reasonOf(self)
			r.Explanation += "; this node's own certificate fails its own checks: " + self.Error()
			r.Hint = hintForSelf(r.Reason, src.Identity().Member)
		} else {
			r.Hint = fmt.Sprintf("this node's certificate passes its own checks, so the peer probably does not trust member %s's CA "+
				"(its operator should add your CA to their trust bundle), holds a newer CRL that revokes your certificate, or its clock is wrong",
				src.Identity().Member)
		}
		return r
	}
	r.Verdict = VerdictTLSFailed
	r.Explanation = fmt.Sprintf("TLS with %s failed: %v", r.Address, err)
	switch {
	case strings.Contains(err.Error(), "does not look like a TLS handshake"), strings.Contains(err.Error(), "first record"):
		r.Hint = "the peer does not speak TLS on this port; is it an Accord node's federation address?"
	case errors.Is(err, io.EOF):
		r.Hint = "the peer closed the connection; it may not be an Accord node, or it refused this node"
	case strings.Contains(err.Error(), "protocol version"):
		r.Hint = "no common TLS version; Accord nodes use TLS 1.3 (1.2 at least)"
	}
	return r
}

func reasonOf(err error) string {
	if errors.Is(err, mtls.ErrUnexpectedPeer) {
		return "unexpected_peer"
	}
	return trust.Reason(err)
}

func hintForSelf(reason, member string) string {
	switch reason {
	case "unknown_member":
		return fmt.Sprintf("member %s is not in this node's own trust bundle either: the federation has not admitted it; "+
			"its CA must be added to the federation's trust bundle (accordctl certs bundle add) on every node", member)
	case "wrong_ca", "unknown_ca":
		return fmt.Sprintf("this node's certificate was not issued by a CA of member %s in the trust bundle; issue one from your member's own CA (accordctl certs issue)", member)
	case "wrong_federation":
		return "this node's certificate names another federation than its trust bundle; use the certificate and bundle of one federation"
	}
	return "install a new, valid certificate from your member's CA (accordctl certs issue) and reload the node (SIGHUP, or wait for the reload interval)"
}

func hintForPeer(err error) string {
	switch reasonOf(err) {
	case "unknown_member":
		return "the peer's member is not in this node's trust bundle; if it has joined the federation, add its CA (accordctl certs bundle add) and the node reloads it"
	case "wrong_ca":
		return "a member's CA may vouch only for its own member; the peer must use a certificate issued by its own member's CA"
	case "unknown_ca":
		return "ask the peer member's operator for its current CA certificate and add it to the trust bundle, or have the peer use a certificate from that CA"
	case "expired":
		return "the peer's certificate has expired; its operator must issue and install a new one"
	case "not_yet_valid":
		return "the peer's certificate is not valid yet; check the clocks of both nodes"
	case "revoked":
		return "the peer's member revoked this certificate; the peer must install a new one"
	case "wrong_federation":
		return "the peer belongs to another federation; check the address"
	case "bad_identity", "leaf_is_ca":
		return "the peer's certificate is not an Accord node certificate; issue one with accordctl certs issue"
	case "key_usage":
		return "the peer's certificate may not be used by a server; it must be a node certificate"
	case "unexpected_peer":
		return "the address answers with another member's node; check the address"
	}
	return ""
}
