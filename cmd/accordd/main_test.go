package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/accordfed/accord/federation/mtls"
	"github.com/accordfed/accord/federation/peering"
	"github.com/accordfed/accord/federation/pki/pkitest"
)

// buildAccordd builds the real binary once per test run.
func buildAccordd(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	bin := filepath.Join(t.TempDir(), "accordd")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func writeConfig(t *testing.T, tlsCfg mtls.Config, extra string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "node.yaml")
	body := fmt.Sprintf("listen: 127.0.0.1:0\nmetrics_listen: \"\"\ndata_dir: %s\nlocal_api: {listen: 127.0.0.1:0}\nlog: {format: json, level: info}\ntls:\n  cert_file: %s\n  key_file: %s\n  bundle_file: %s\n  crl_dir: %s\n%s",
		filepath.Join(filepath.Dir(path), "data"), tlsCfg.CertFile, tlsCfg.KeyFile, tlsCfg.BundleFile, tlsCfg.CRLDir, extra)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// logWatcher collects the JSON log lines of a running accordd.
type logWatcher struct {
	mu    sync.Mutex
	lines []map[string]any
	raw   bytes.Buffer
}

func (w *logWatcher) consume(r io.Reader) {
	s := bufio.NewScanner(r)
	for s.Scan() {
		var m map[string]any
		w.mu.Lock()
		w.raw.Write(append(s.Bytes(), '\n'))
		if json.Unmarshal(s.Bytes(), &m) == nil {
			w.lines = append(w.lines, m)
		}
		w.mu.Unlock()
	}
}

func (w *logWatcher) text() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.raw.String()
}

func (w *logWatcher) find(msg string) map[string]any {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, l := range w.lines {
		if l["msg"] == msg {
			return l
		}
	}
	return nil
}

func waitFor(t *testing.T, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %v", timeout, err)
		}
		<-tick.C
	}
}

// TestDaemonLifecycle runs the real binary: it starts, answers a peer,
// reloads on SIGHUP and stops cleanly on SIGTERM.
func TestDaemonLifecycle(t *testing.T) {
	bin := buildAccordd(t)
	fed := pkitest.NewFederation(t, "accord.test", "UA", "PL")
	cfgPath := writeConfig(t, fed.Node("UA", "ua-1"), "")
	cmd := exec.Command(bin, "--config", cfgPath)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w := &logWatcher{}
	done := make(chan struct{})
	go func() { w.consume(stderr); close(done) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-done })

	var addr string
	waitFor(t, 20*time.Second, func() error {
		l := w.find("node started")
		if l == nil {
			return fmt.Errorf("no start line yet; log:\n%s", w.text())
		}
		addr, _ = l["listen"].(string)
		return nil
	})

	client, err := mtls.NewSource(fed.Node("PL", "pl-1"), mtls.Hooks{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := peering.Check(context.Background(), addr, client, peering.CheckOptions{ExpectMember: "UA", Rounds: 1})
	if r.Verdict != peering.VerdictOK {
		t.Fatalf("check: %s: %s", r.Verdict, r.Explanation)
	}

	// Revoke PL's node and send SIGHUP: the node reloads and refuses it.
	fed.Revoke("PL", fed.Node("PL", "pl-1"))
	pl2 := fed.Node("PL", "pl-2")
	fed.Revoke("PL", pl2)
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, func() error {
		if w.find("TLS material reloaded") == nil {
			return fmt.Errorf("no reload yet")
		}
		return nil
	})
	revoked, err := mtls.NewSource(pl2, mtls.Hooks{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r := peering.Check(context.Background(), addr, revoked, peering.CheckOptions{Rounds: 1}); r.Verdict != peering.VerdictRefusedByPeer {
		t.Fatalf("revoked peer after SIGHUP: %s: %s", r.Verdict, r.Explanation)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { <-done; errc <- cmd.Wait() }()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, w.text())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("accordd did not stop within 15s of SIGTERM")
	}
	if w.find("node stopped") == nil {
		t.Errorf("no 'node stopped' line:\n%s", w.text())
	}
}

func TestBadConfigIsRefusedNamingTheField(t *testing.T) {
	bin := buildAccordd(t)
	fed := pkitest.NewFederation(t, "accord.test", "UA")
	node := fed.Node("UA", "ua-1")
	cases := []struct {
		name  string
		extra string
		env   []string
		args  []string
		want  string
	}{
		{"bad field value", "grpc: {max_concurrent_streams: 100000}\n", nil, nil, "grpc.max_concurrent_streams"},
		{"unknown field", "colour: blue\n", nil, nil, "colour"},
		{"bad env", "", []string{"ACCORD_LOG_LEVEL=loud"}, nil, "log.level"},
		{"bad flag", "", nil, []string{"--log-format", "xml"}, "log.format"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command(bin, append([]string{"--config", writeConfig(t, node, c.extra)}, c.args...)...)
			cmd.Env = append(os.Environ(), c.env...)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("accordd started with a bad configuration:\n%s", out)
			}
			if !strings.Contains(string(out), c.want) {
				t.Errorf("message does not name %s:\n%s", c.want, out)
			}
		})
	}
	cmd := exec.Command(bin)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "tls.cert_file: required") {
		t.Errorf("no configuration at all: %v\n%s", err, out)
	}
}
