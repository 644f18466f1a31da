package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os/exec"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/accordfed/accord/node/console"
)

// newConsoleCmd is `accordctl console`: the analyst's web console, served
// on loopback and talking to the node with the analyst's own certificate.
func newConsoleCmd(g *globalOptions) *cobra.Command {
	var (
		listen    string
		noBrowser bool
		tileURL   string
	)
	cmd := &cobra.Command{
		Use:   "console [--listen 127.0.0.1:PORT] [--no-browser] [--tile-url URL]",
		Short: "Open the web console: the review queue, both cases side by side on a map and a timeline, answers by rule",
		Long: `console serves this analyst's web console on a loopback address and opens it
in the browser. It talks to the node's local API with the certificate of the
configuration (client.cert_file), so the node applies the same rules as to
every other accordctl command: the console itself holds no other privilege.

It prints "Console: <URL>" on standard output. The URL carries a one-time
token that the browser exchanges for a session cookie (HttpOnly,
SameSite=Strict) at once: the link works once, and nobody else on this
machine can use the console without it. Stop it with Ctrl-C.

The map draws the bundled country borders, or an office's own tile server
(--tile-url https://tiles.example.org/{z}/{x}/{y}.png).`,
		Example: `  accordctl --config ua.yaml console
  accordctl --config ua.yaml console --listen 127.0.0.1:7480 --no-browser`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			host, _, err := net.SplitHostPort(listen)
			if err != nil {
				return fmt.Errorf("--listen %q: host:port (127.0.0.1:0 for any free port): %w", listen, err)
			}
			if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
				return fmt.Errorf("--listen %q: a loopback address only (127.0.0.1 or ::1): the console acts with your certificate", listen)
			}
			lc, err := openLocal(g, cmd)
			if err != nil {
				return err
			}
			defer lc.Close()
			b := make([]byte, 24)
			if _, err := rand.Read(b); err != nil {
				return err
			}
			token := hex.EncodeToString(b)
			// The audit page reads the node's log as accordctl audit does;
			// without a configuration naming data_dir it says so.
			auditFile, _ := auditPath(g, cmd)
			srv, err := console.New(console.Options{Conn: lc.conn, Member: lc.id.Member, User: lc.id.Name, LoginToken: token, TileURL: tileURL,
				AuditFile: auditFile,
				Logger:    slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))})
			if err != nil {
				return fmt.Errorf("--tile-url: %w", err)
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("--listen %q: %w", listen, err)
			}
			hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 60 * time.Second, WriteTimeout: 60 * time.Second, IdleTimeout: 2 * time.Minute}
			url := "http://" + ln.Addr().String() + "/login?token=" + token
			fmt.Fprintf(cmd.OutOrStdout(), "Console: %s\n", url)
			if !noBrowser {
				if err := openBrowser(url); err != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "could not open a browser (%v): open the URL above yourself\n", err)
				}
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			errc := make(chan error, 1)
			go func() { errc <- hs.Serve(ln) }()
			select {
			case err := <-errc:
				return err
			case <-ctx.Done():
			}
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", "127.0.0.1:0", "loopback address to serve the console on (port 0: any free port)")
	f.BoolVar(&noBrowser, "no-browser", false, "do not open a browser; only print the URL")
	f.StringVar(&tileURL, "tile-url", "", "the office's map tile server, an https URL with {z}, {x} and {y} (default: the bundled borders)")
	addLocalFlags(cmd)
	return cmd
}

// openBrowser opens url in the desktop's browser.
func openBrowser(url string) error {
	var c *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		c = exec.Command("open", url)
	case "windows":
		c = exec.Command("rundll32", "url.dll,FileProtocolHandler", url)
	default:
		c = exec.Command("xdg-open", url)
	}
	return c.Start()
}
