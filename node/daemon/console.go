package daemon

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"google.golang.org/grpc"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/node/httpsfront"
)

// ErrNotOfficeUser refuses a certificate that is not a user certificate
// of this node's member at the office's console.
var ErrNotOfficeUser = errors.New("not a user certificate of this office")

// officeConsole is the office's web console (console.listen): HTTPS, a
// user certificate of this member in every browser, each request a call
// of the local API as that user.
type officeConsole struct {
	srv   *http.Server
	conns *httpsfront.Conns
	ln    net.Listener
}

// officeUsers accepts the user certificates of member only: a node's, or
// another member's user's, certificate is refused in the handshake.
func officeUsers(member string) func(identity.Identity) error {
	return func(id identity.Identity) error {
		if id.Kind != identity.KindUser || id.Member != member {
			return fmt.Errorf("%w: %s: the console serves the users of %s", ErrNotOfficeUser, id, member)
		}
		return nil
	}
}

// Option changes how New builds a daemon.
type Option func(*options)

type options struct {
	console ConsoleBuilder
}

// ConsoleEnv is what the daemon gives the office's web console.
type ConsoleEnv struct {
	// User says whom a request acts for: the member and account of its
	// browser's user certificate (verified in the TLS handshake, of this
	// node's member) and a connection to the local API that carries that
	// certificate, so that the node authorises each call as the user's;
	// an error refuses the request.
	User func(r *http.Request) (member, account string, conn grpc.ClientConnInterface, err error)
	// TileURL is console.tile_url.
	TileURL string
	Logger  *slog.Logger
}

// ConsoleBuilder makes the office's web console's handler.
type ConsoleBuilder func(ConsoleEnv) (http.Handler, error)

// WithConsole gives the daemon the office's web console, served on
// console.listen. The composition root (cmd/accordd) passes node/console's,
// so that the daemon does not depend on the console's pages.
func WithConsole(b ConsoleBuilder) Option { return func(o *options) { o.console = b } }

// newConsole builds the office's console on front with build.
func (d *Daemon) newConsole(build ConsoleBuilder, front *httpsfront.Front) (*officeConsole, error) {
	if build == nil {
		return nil, errors.New("console.listen: this build of the node serves no console")
	}
	cfg := d.cfg.Console
	var cert *tls.Certificate
	if cfg.CertFile != "" {
		c, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("console.cert_file, console.key_file: %w", err)
		}
		cert = &c
	}
	self := d.src.Identity()
	office := officeUsers(self.Member)
	// A certificate the trust material accepts but that is no user of
	// this office (a node, another member's user) is refused in the
	// handshake, and said so in the log.
	accept := func(id identity.Identity) error {
		err := office(id)
		if err != nil {
			d.logger.Warn("console refused a certificate", "identity", id.String(), "err", err)
		}
		return err
	}
	conns := front.NewConns()
	user := func(r *http.Request) (string, string, grpc.ClientConnInterface, error) {
		if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
			return "", "", nil, httpsfront.ErrNoCertificate
		}
		id, err := identity.FromCertificate(r.TLS.PeerCertificates[0])
		if err != nil {
			return "", "", nil, err
		}
		if err := office(id); err != nil {
			return "", "", nil, err
		}
		cc, err := conns.Client(r)
		if err != nil {
			return "", "", nil, err
		}
		return id.Member, id.Name, cc, nil
	}
	logger := d.logger.With("component", "console")
	c, err := build(ConsoleEnv{User: user, TileURL: cfg.TileURL, Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if conns.Aged(r) {
			// Reconnect now and then, so that the certificate is checked
			// against current CRLs again (as the local API's clients do).
			w.Header().Set("Connection", "close")
		}
		c.ServeHTTP(w, r)
	})
	srv := &http.Server{
		Handler:           handler,
		TLSConfig:         front.TLSConfig([]string{"h2", "http/1.1"}, cert, accept),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       5 * time.Minute, // a case file's upload
		WriteTimeout:      5 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ConnContext:       conns.ConnContext,
		ConnState:         conns.ConnState,
		// Refused handshakes are counted and logged by the TLS material
		// already (accord_tls_peer_refused_total).
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
	}
	return &officeConsole{srv: srv, conns: conns}, nil
}

// serve serves the console on ln until shutdown.
func (c *officeConsole) serve(ln net.Listener) error {
	c.ln = ln
	return c.srv.ServeTLS(ln, "", "")
}

// shutdown stops accepting and waits for the requests in flight until ctx
// ends; close cuts them.
func (c *officeConsole) shutdown(ctx context.Context) error {
	err := c.srv.Shutdown(ctx)
	c.conns.Close()
	return err
}

func (c *officeConsole) close() error {
	err := c.srv.Close()
	c.conns.Close()
	return err
}
