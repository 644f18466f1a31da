package daemon_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/accordfed/accord/federation/mtls"
	"github.com/accordfed/accord/federation/peering"
	"github.com/accordfed/accord/federation/pki/pkitest"
	"github.com/accordfed/accord/federation/trust"
	"github.com/accordfed/accord/node/config"
	"github.com/accordfed/accord/node/daemon"
	"github.com/accordfed/accord/node/daemon/daemontest"
)

func nodeConfig(t *testing.T, tlsCfg mtls.Config) config.Config {
	t.Helper()
	cfg, err := config.Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listen = "127.0.0.1:0"
	cfg.MetricsListen = "127.0.0.1:0"
	cfg.TLS = tlsCfg
	cfg.DataDir = t.TempDir()
	cfg.LocalAPI.Listen = "127.0.0.1:0"
	cfg.ShutdownTimeout = 5 * time.Second
	return cfg
}

func start(t *testing.T, cfg config.Config) *daemon.Daemon {
	t.Helper()
	return startLogged(t, cfg, nil)
}

// tryStart starts a daemon, returning the error instead of failing.
func tryStart(cfg config.Config, logger *slog.Logger) (*daemon.Daemon, error) {
	return daemontest.Start(cfg, logger)
}

func startLogged(t *testing.T, cfg config.Config, logger *slog.Logger) *daemon.Daemon {
	t.Helper()
	d, err := daemon.New(cfg, "test", logger)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return d
}

// TestTwoNodesAuthenticateEachOther starts two member nodes in-process and
// checks each from the other.
func TestTwoNodesAuthenticateEachOther(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA", "PL")
	ua := start(t, nodeConfig(t, fed.Node("UA", "ua-1")))
	pl := start(t, nodeConfig(t, fed.Node("PL", "pl-1")))
	ctx := context.Background()

	r := peering.Check(ctx, pl.Addr(), ua.TLS(), peering.CheckOptions{ExpectMember: "PL"})
	if r.Verdict != peering.VerdictOK || r.SeenAs.GetMember() != "UA" || r.Peer.GetMember() != "PL" {
		t.Fatalf("UA -> PL: %s: %s", r.Verdict, r.Explanation)
	}
	r = peering.Check(ctx, ua.Addr(), pl.TLS(), peering.CheckOptions{ExpectMember: "UA"})
	if r.Verdict != peering.VerdictOK || r.SeenAs.GetMember() != "PL" || r.Peer.GetMember() != "UA" {
		t.Fatalf("PL -> UA: %s: %s", r.Verdict, r.Explanation)
	}
	if r.PeerVersion != "test" {
		t.Errorf("peer version %q", r.PeerVersion)
	}

	// The metrics listener shows the RPCs and refusals.
	body := scrape(t, ua.MetricsAddr())
	for _, want := range []string{
		`accord_grpc_server_handled_total{code="OK",method="/accord.v1.FederationService/WhoAmI"}`,
		"accord_tls_certificate_expiry_timestamp_seconds",
		`accord_build_info{version="test"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func scrape(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestProbeAndShutdown(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA")
	cfg := nodeConfig(t, fed.Node("UA", "ua-1"))
	d, err := daemon.New(cfg, "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	probeCfg := cfg
	probeCfg.Listen = d.Addr()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := daemon.Probe(ctx, probeCfg); err != nil {
		t.Fatalf("probe of a running node: %v", err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := daemon.Probe(ctx, probeCfg); err == nil {
		t.Fatal("probe of a stopped node succeeded")
	}
	if err := d.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestRefusesToStart(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA", "PL")

	revoked := fed.Node("UA", "ua-old")
	fed.Revoke("UA", revoked)
	cases := []struct {
		name string
		cfg  config.Config
		want string
	}{
		{"revoked own certificate", nodeConfig(t, revoked), "revoked"},
		{"user certificate", nodeConfig(t, fed.User("UA", "u-1")), "user certificate"},
		{"bad listen", func() config.Config { c := nodeConfig(t, fed.Node("UA", "ua-1")); c.Listen = "nowhere"; return c }(), "listen"},
		{"bad log level", func() config.Config { c := nodeConfig(t, fed.Node("UA", "ua-1")); c.Log.Level = "loud"; return c }(), "log.level"},
		{"missing key", func() config.Config { c := nodeConfig(t, fed.Node("UA", "ua-1")); c.TLS.KeyFile = ""; return c }(), "tls.key_file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := daemon.New(c.cfg, "test", nil)
			if !errors.Is(err, daemon.ErrStart) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want ErrStart naming %q", err, c.want)
			}
		})
	}
	if _, err := daemon.New(nodeConfig(t, revoked), "test", nil); !errors.Is(err, trust.ErrRevoked) {
		t.Errorf("revoked: %v does not wrap trust.ErrRevoked", err)
	}
}
