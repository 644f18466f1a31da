package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
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
		plain     bool
		tileURL   string
	)
	cmd := &cobra.Command{
		Use:   "console [--listen 127.0.0.1:PORT] [--no-browser] [--tile-url URL]",
		Short: "Open the web console: the review queue, both cases side by side on a map and a timeline, answers by rule",
		Long: `console serves this analyst's web console on a loopback address and opens it
in the browser. It talks to the node's local API with the certificate of the
configuration (client.cert_file), so the node applies the same rules as to
every other accordctl command: the console itself holds no other privilege.

It prints "Console: <URL>" on standard output. The URL names the console by
a random name under .localhost (browsers resolve it to this machine), so
that its session cookie is this console's only and not sent to other
servers on 127.0.0.1 (--plain-loopback serves it as 127.0.0.1 for a browser
that does not resolve *.localhost). It carries a one-time token that the
browser exchanges for a session cookie (HttpOnly, SameSite=Strict) at once:
the link works once. The browser is opened through a page only you can
read, never with the URL on a command line (which every local user could
read). Stop it with Ctrl-C.

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
			token, name := randomHex(24), randomHex(8)+".localhost"
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("--listen %q: %w", listen, err)
			}
			defer ln.Close()
			_, port, _ := net.SplitHostPort(ln.Addr().String())
			addr := name + ":" + port
			if plain {
				addr = ln.Addr().String()
			}
			srv, err := console.New(console.Options{Conn: lc.conn, Member: lc.id.Member, User: lc.id.Name, LoginToken: token, TileURL: tileURL,
				Host:   addr,
				Logger: slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))})
			if err != nil {
				return fmt.Errorf("--tile-url: %w", err)
			}
			hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 60 * time.Second, WriteTimeout: 60 * time.Second, IdleTimeout: 2 * time.Minute}
			url := "http://" + addr + "/login?token=" + token
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
	f.BoolVar(&plain, "plain-loopback", false, "serve as 127.0.0.1 instead of a random name under .localhost (for a browser that does not resolve *.localhost; the session cookie is then sent to every server on 127.0.0.1)")
	f.StringVar(&tileURL, "tile-url", "", "the office's map tile server, an https URL with {z}, {x} and {y} (default: the bundled borders)")
	addLocalFlags(cmd)
	return cmd
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// openBrowser opens url in the desktop's browser without putting it on a
// command line (which every local user can read in the process list): the
// browser opens a page only this user can read, which forwards it.
func openBrowser(url string) error {
	dir, err := os.MkdirTemp("", "accord-console-")
	if err != nil {
		return err
	}
	page := filepath.Join(dir, "open.html")
	body := `<!DOCTYPE html><meta charset="utf-8"><meta http-equiv="refresh" content="0;url=` + html.EscapeString(url) + `"><title>Accord console</title>`
	if err := os.WriteFile(page, []byte(body), 0o600); err != nil {
		return err
	}
	// The browser reads the page once; it is removed a minute later.
	time.AfterFunc(time.Minute, func() { _ = os.RemoveAll(dir) })
	var c *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		c = exec.Command("open", page)
	case "windows":
		c = exec.Command("rundll32", "url.dll,FileProtocolHandler", page)
	default:
		c = exec.Command("xdg-open", page)
	}
	return c.Start()
}
