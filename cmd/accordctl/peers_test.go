package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/accordfed/accord/federation/mtls"
	"github.com/accordfed/accord/federation/peering"
	"github.com/accordfed/accord/federation/pki/pkitest"
	"github.com/accordfed/accord/node/config"
	"github.com/accordfed/accord/node/daemon"
)

func startNode(t *testing.T, tlsCfg mtls.Config) *daemon.Daemon {
	t.Helper()
	cfg, err := config.Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listen, cfg.MetricsListen, cfg.TLS = "127.0.0.1:0", "", tlsCfg
	cfg.DataDir = t.TempDir()
	d, err := daemon.New(cfg, "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

// writeNodeConfig writes the configuration file accordctl reads.
func writeNodeConfig(t *testing.T, tlsCfg mtls.Config, peers map[string]string) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "tls:\n  cert_file: %s\n  key_file: %s\n  bundle_file: %s\n  crl_dir: %s\npeers:\n", tlsCfg.CertFile, tlsCfg.KeyFile, tlsCfg.BundleFile, tlsCfg.CRLDir)
	for m, a := range peers {
		fmt.Fprintf(&b, "  - {member: %s, address: %q}\n", m, a)
	}
	path := filepath.Join(t.TempDir(), "node.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestPeersCheckExplainsGoodAndBad(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA", "PL", "DE")
	pl := startNode(t, fed.Node("PL", "pl-1"))
	de := startNode(t, fed.Node("DE", "de-1"))
	ua := fed.Node("UA", "ua-1")
	cfgPath := writeNodeConfig(t, ua, map[string]string{"PL": pl.Addr(), "DE": de.Addr()})

	out := certsMustRun(t, "--config", cfgPath, "peers", "check", "--all", "--rounds", "2")
	for _, want := range []string{"spiffe://accord.test/member/PL/node/pl-1", "spiffe://accord.test/member/DE/node/de-1", "sees us: spiffe://accord.test/member/UA/node/ua-1", "round trip"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	// DE's node now goes down, and the check says so, with exit status 2.
	if err := de.Close(); err != nil {
		t.Fatal(err)
	}
	out, err := certsRun(t, "--config", cfgPath, "-o", "json", "peers", "check", "--all", "--rounds", "1", "--timeout", "2s")
	var ee exitError
	if !errors.As(err, &ee) || ee.code != 2 {
		t.Fatalf("err = %v, want exit status 2", err)
	}
	var reports []peering.Report
	if err := json.Unmarshal([]byte(out), &reports); err != nil {
		t.Fatalf("json output: %v\n%s", err, out)
	}
	verdicts := map[string]peering.Verdict{}
	for _, r := range reports {
		verdicts[r.Address] = r.Verdict
	}
	if verdicts[pl.Addr()] != peering.VerdictOK || verdicts[de.Addr()] != peering.VerdictUnreachable {
		t.Errorf("verdicts = %v", verdicts)
	}

	// A node expecting the wrong member at an address is told so.
	out, err = certsRun(t, "--config", cfgPath, "peers", "check", "--expect-member", "DE", "--timeout", "2s", pl.Addr())
	if err == nil || !strings.Contains(out, "PEER NOT TRUSTED") || !strings.Contains(out, "another member's node") {
		t.Errorf("expect-member mismatch: err=%v\n%s", err, out)
	}
}

func TestPeersCheckNeedsIdentity(t *testing.T) {
	t.Setenv("ACCORD_CONFIG", "")
	_, err := certsRun(t, "peers", "check", "127.0.0.1:1")
	if err == nil || !strings.Contains(err.Error(), "tls.cert_file") {
		t.Fatalf("err = %v, want one naming tls.cert_file", err)
	}
	fed := pkitest.NewFederation(t, "accord.test", "UA")
	ua := fed.Node("UA", "ua-1")
	_, err = certsRun(t, "peers", "check", "--tls-cert", ua.CertFile, "--tls-key", ua.KeyFile, "--tls-bundle", ua.BundleFile, "--timeout", time.Second.String())
	if err == nil || !strings.Contains(err.Error(), "ADDRESS") {
		t.Fatalf("no address: %v", err)
	}
}
