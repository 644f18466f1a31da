package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/accordfed/accord/federation/mtls"
	"github.com/accordfed/accord/federation/pki/pkitest"
	"github.com/accordfed/accord/node/config"
	"github.com/accordfed/accord/node/daemon"
)

// localEnv is a running node with its local API and the client
// configurations of its users.
type localEnv struct {
	fed  *pkitest.Federation
	node *daemon.Daemon
	addr string
	// analyst and admin are configuration files of two users of UA;
	// admin is listed in local_api.admins.
	analyst, admin string
}

// startLocalNode starts a UA node with its local API on loopback, in a fresh
// data folder, and writes the client configurations of an analyst (u-1) and
// an admin (boss).
func startLocalNode(t *testing.T) *localEnv {
	t.Helper()
	fed := pkitest.NewFederation(t, "accord.test", "UA", "PL")
	cfg, err := config.Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listen, cfg.MetricsListen, cfg.TLS = "127.0.0.1:0", "", fed.Node("UA", "ua-1")
	cfg.DataDir = t.TempDir()
	cfg.LocalAPI.Listen = "127.0.0.1:0"
	cfg.LocalAPI.Admins = []string{"boss"}
	cfg.Log.Level = "warn"
	d, err := daemon.New(cfg, "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return &localEnv{
		fed: fed, node: d, addr: d.LocalAddr(),
		analyst: writeClientConfig(t, fed.User("UA", "u-1")),
		admin:   writeClientConfig(t, fed.User("UA", "boss")),
	}
}

// writeClientConfig writes the configuration accordctl reads for the local
// API: the user's certificate and key, and the federation's trust.
func writeClientConfig(t *testing.T, user mtls.Config) string {
	t.Helper()
	body := fmt.Sprintf("client:\n  cert_file: %s\n  key_file: %s\ntls:\n  bundle_file: %s\n  crl_dir: %s\n", user.CertFile, user.KeyFile, user.BundleFile, user.CRLDir)
	path := filepath.Join(t.TempDir(), "client.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// ctl runs accordctl in-process with a configuration, the node's address
// and stdin, and returns what it printed on stdout.
func (e *localEnv) ctl(t *testing.T, cfgPath string, stdin io.Reader, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	if stdin != nil {
		root.SetIn(stdin)
	}
	root.SetArgs(append(append([]string{"--config", cfgPath}, args...), "--server", e.addr))
	err := root.Execute()
	if errOut.Len() > 0 {
		t.Logf("stderr of %v:\n%s", args, errOut.String())
	}
	return out.String(), err
}

// must runs a command as the analyst and fails the test on error.
func (e *localEnv) must(t *testing.T, args ...string) string {
	t.Helper()
	out, err := e.ctl(t, e.analyst, nil, args...)
	if err != nil {
		t.Fatalf("accordctl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// wantExit checks a command's exit status and that its error says want.
func wantExit(t *testing.T, err error, code int, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want exit status %d", code)
	}
	t.Logf("error (as accordctl prints it): %v", err)
	got := 1
	var ee exitError
	if errors.As(err, &ee) {
		got = ee.code
	}
	if got != code {
		t.Errorf("exit status %d, want %d (%v)", got, code, err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
}

func TestDialLocalReachesHealth(t *testing.T) {
	e := startLocalNode(t)
	root := newRootCmd()
	cmd, _, err := root.Find([]string{"cases", "list"})
	if err != nil {
		t.Fatal(err)
	}
	g := &globalOptions{configPath: e.analyst, output: "text"}
	if err := cmd.ParseFlags([]string{"--server", e.addr}); err != nil {
		t.Fatal(err)
	}
	conn, closeConn, err := dialLocal(g, cmd)
	if err != nil {
		t.Fatal(err)
	}
	defer closeConn()
	resp, err := healthpb.NewHealthClient(conn).Check(t.Context(), &healthpb.HealthCheckRequest{})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health of the local API: %v %v", resp, err)
	}
}

func TestLocalAPIRefusesNodeCertificateWithHint(t *testing.T) {
	e := startLocalNode(t)
	node := e.fed.Node("UA", "ua-2")
	// A configuration without client: accordctl falls back to the node's
	// certificate, which the local API refuses.
	cfgPath := writeNodeConfig(t, node, nil)
	_, err := e.ctl(t, cfgPath, nil, "cases", "list")
	wantExit(t, err, 1, "PermissionDenied", "users of member UA only", "set client.cert_file")
}

func TestLocalAPIRefusesOtherMembersUser(t *testing.T) {
	e := startLocalNode(t)
	pl := writeClientConfig(t, e.fed.User("PL", "u-9"))
	_, err := e.ctl(t, pl, nil, "cases", "list")
	// The PL user's client expects a node of PL; UA's node is refused
	// during the handshake.
	wantExit(t, err, 1, "list cases", "Unavailable")
}

func TestLocalConfigErrors(t *testing.T) {
	t.Setenv("ACCORD_CONFIG", "")
	_, err := certsRun(t, "cases", "list", "--server", "127.0.0.1:1")
	if err == nil || !strings.Contains(err.Error(), "client.cert_file: required") || !strings.Contains(err.Error(), "--client-cert") {
		t.Errorf("no identity: %v", err)
	}
	fed := pkitest.NewFederation(t, "accord.test", "UA")
	user := writeClientConfig(t, fed.User("UA", "u-1"))
	_, err = certsRun(t, "--config", user, "cases", "list")
	if err == nil || !strings.Contains(err.Error(), "local_api.listen") || !strings.Contains(err.Error(), "--server") {
		t.Errorf("no address: %v", err)
	}
	_, err = certsRun(t, "--config", user, "cases", "list", "--server", "127.0.0.1:1")
	wantExit(t, err, 1, "Unavailable", "is the node running")
}

func TestDialAddress(t *testing.T) {
	for in, want := range map[string]string{
		"0.0.0.0:7401":    "127.0.0.1:7401",
		"[::]:7401":       "127.0.0.1:7401",
		":7401":           "127.0.0.1:7401",
		"10.1.2.3:7401":   "10.1.2.3:7401",
		"node.local:7401": "node.local:7401",
	} {
		got, err := dialAddress(in)
		if err != nil || got != want {
			t.Errorf("dialAddress(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := dialAddress("nonsense"); err == nil {
		t.Error("dialAddress accepted an address without a port")
	}
}
