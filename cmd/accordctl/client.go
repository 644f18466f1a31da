package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/mtls"
	"github.com/accordfed/accord/node/config"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// maxRecvMsgBytes bounds a message from the local API (an export batch, a
// long custody chain); the node's own send limit is 16 MiB by default.
const maxRecvMsgBytes = 64 << 20

// addLocalFlags adds the flags of the commands that talk to the node's local
// API (cases, evidence, custody) to their group command.
func addLocalFlags(cmd *cobra.Command) {
	f := cmd.PersistentFlags()
	f.String("server", "", "address of the node's local API, host:port (default: local_api.listen of --config)")
	f.String("client-cert", "", "user certificate file (overrides client.cert_file of --config)")
	f.String("client-key", "", "its private key file (overrides client.key_file)")
	f.String("tls-bundle", "", "trust bundle file (overrides tls.bundle_file)")
	f.String("tls-crl-dir", "", "folder of member CRLs (overrides tls.crl_dir)")
}

// localClient is a connection to the node's local API with the identity it
// was made with.
type localClient struct {
	conn *grpc.ClientConn
	addr string
	// id is the identity accordctl presents (a user of the member, unless
	// the configuration gives only the node's certificate).
	id       identity.Identity
	cases    accordv1.CaseServiceClient
	evidence accordv1.EvidenceServiceClient
}

// Close closes the connection.
func (c *localClient) Close() { _ = c.conn.Close() }

// dialLocal connects to the office's local API with the user identity of the
// configuration (client.cert_file and client.key_file, else tls.cert_file
// and tls.key_file), verifying that the server is a node of the same member.
// The returned function closes the connection.
func dialLocal(g *globalOptions, cmd *cobra.Command) (*grpc.ClientConn, func(), error) {
	c, err := openLocal(g, cmd)
	if err != nil {
		return nil, nil, err
	}
	return c.conn, c.Close, nil
}

// localTLS builds the TLS configuration and address of the local API from
// the configuration file and the flags of addLocalFlags.
func localTLS(g *globalOptions, cmd *cobra.Command) (mtls.Config, string, error) {
	path := g.configPath
	if path == "" {
		path = os.Getenv(config.EnvPrefix + "CONFIG")
	}
	cfg, err := config.Load(path, os.Environ())
	if err != nil {
		return mtls.Config{}, "", err
	}
	flag := func(name string, into *string) {
		if f := cmd.Flags().Lookup(name); f != nil && f.Changed {
			*into = f.Value.String()
		}
	}
	tlsCfg := mtls.Config{
		CertFile: cfg.Client.CertFile, KeyFile: cfg.Client.KeyFile,
		BundleFile: cfg.TLS.BundleFile, CRLDir: cfg.TLS.CRLDir,
		MinVersion: cfg.TLS.MinVersion, ReloadInterval: cfg.TLS.ReloadInterval,
	}
	if tlsCfg.CertFile == "" && tlsCfg.KeyFile == "" {
		// No user identity configured: try the node's. The server refuses
		// it, and the error says what to do.
		tlsCfg.CertFile, tlsCfg.KeyFile = cfg.TLS.CertFile, cfg.TLS.KeyFile
	}
	flag("client-cert", &tlsCfg.CertFile)
	flag("client-key", &tlsCfg.KeyFile)
	flag("tls-bundle", &tlsCfg.BundleFile)
	flag("tls-crl-dir", &tlsCfg.CRLDir)
	tlsCfg.Normalize("")
	hint := ""
	if path == "" {
		hint = " (give --config FILE or the --client-cert, --client-key and --tls-bundle flags)"
	}
	for _, f := range []struct{ name, val string }{
		{"client.cert_file", tlsCfg.CertFile}, {"client.key_file", tlsCfg.KeyFile}, {"tls.bundle_file", tlsCfg.BundleFile},
	} {
		if f.val == "" {
			return mtls.Config{}, "", fmt.Errorf("%s: required: the local API needs a user certificate of this office and the federation's trust bundle%s", f.name, hint)
		}
		if _, err := os.Stat(f.val); err != nil {
			return mtls.Config{}, "", fmt.Errorf("%s: %w", f.name, err)
		}
	}

	addr := cfg.LocalAPI.Listen
	flag("server", &addr)
	if addr == "" {
		return mtls.Config{}, "", errors.New("no local API address: local_api.listen is not set in the configuration; give --server HOST:PORT")
	}
	addr, err = dialAddress(addr)
	if err != nil {
		return mtls.Config{}, "", err
	}
	return tlsCfg, addr, nil
}

// dialAddress turns a listen address into one to dial: a wildcard host
// (0.0.0.0, ::, or none) becomes 127.0.0.1.
func dialAddress(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("local API address %q: must be host:port (%w)", addr, err)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port), nil
}

// openLocal connects to the local API.
func openLocal(g *globalOptions, cmd *cobra.Command) (*localClient, error) {
	tlsCfg, addr, err := localTLS(g, cmd)
	if err != nil {
		return nil, err
	}
	src, err := mtls.NewSource(tlsCfg, mtls.Hooks{}, nil, nil)
	if err != nil {
		return nil, err
	}
	id := src.Identity()
	conn, err := grpc.NewClient(addr,
		grpc.WithTransportCredentials(src.ClientCredentials(mtls.ExpectMember(id.Member))),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxRecvMsgBytes)),
	)
	if err != nil {
		return nil, fmt.Errorf("local API %s: %w", addr, err)
	}
	return &localClient{
		conn: conn, addr: addr, id: id,
		cases:    accordv1.NewCaseServiceClient(conn),
		evidence: accordv1.NewEvidenceServiceClient(conn),
	}, nil
}

// rpcError turns an error of a local API call into a message that says what
// failed (the gRPC code and the server's message) and, where it helps, what
// to do. It exits with status 1.
func (c *localClient) rpcError(what string, err error) error {
	if err == nil {
		return nil
	}
	var ee exitError
	if errors.As(err, &ee) {
		return err
	}
	st, ok := status.FromError(err)
	if !ok {
		return exitError{code: 1, err: fmt.Errorf("%s: %w", what, err)}
	}
	text := st.Message()
	if text == "" {
		text = codeName(st.Code())
	}
	msg := fmt.Sprintf("%s: %s (gRPC %s)", what, text, st.Code())
	switch st.Code() {
	case codes.PermissionDenied:
		if c.id.Kind == identity.KindNode {
			msg += fmt.Sprintf("\nhint: accordctl used the node's own certificate (%s); the local API serves the office's users only: set client.cert_file and client.key_file in the configuration to a user certificate of member %s", c.id, c.id.Member)
		}
	case codes.Unavailable:
		if handshakeFailed(st.Message()) {
			msg += fmt.Sprintf("\nhint: the TLS handshake with %s failed: check that it is the local API of a node of member %s and that the trust bundle, CRLs and certificate are current", c.addr, c.id.Member)
		} else {
			msg += fmt.Sprintf("\nhint: is the node running with local_api.listen at %s? (give --server HOST:PORT to reach another address)", c.addr)
		}
	case codes.Unauthenticated:
		msg += "\nhint: the node did not accept this certificate; check client.cert_file and that it is not expired or revoked"
	}
	return exitError{code: 1, err: errors.New(msg)}
}

// handshakeFailed says whether an Unavailable status comes from a refused
// TLS handshake rather than from an unreachable address.
func handshakeFailed(msg string) bool {
	for _, w := range []string{"handshake", "tls:", "certificate", mtls.ErrUnexpectedPeer.Error()} {
		if strings.Contains(msg, w) {
			return true
		}
	}
	return false
}

// codeName spells a gRPC code in words, as "permission denied" or "not
// found".
func codeName(c codes.Code) string {
	s := c.String()
	var b strings.Builder
	for i, r := range s {
		if r >= 'A' && r <= 'Z' {
			if i > 0 {
				b.WriteByte(' ')
			}
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}
