package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/accordfed/accord/node/daemon/daemontest"
)

// buildAccordctl builds the real accordctl next to accordd.
func buildAccordctl(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "accordctl")
	cmd := exec.Command("go", "build", "-o", bin, "../accordctl")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build accordctl: %v\n%s", err, out)
	}
	return bin
}

// TestAddMemberAsDocumented follows docs/operations.md, "Adding a member",
// with real accordd and accordctl processes: a running federation of five
// members (UA, PL, DE, LT, NL), FR makes its CA and certificates, is proposed and
// voted in, its node joins with a configuration naming a registry server,
// and its cases produce matches at UA. No file of the five running nodes
// is changed: their trust bundle does not list FR and they have no peers.
func TestAddMemberAsDocumented(t *testing.T) {
	bin := buildAccordd(t)
	ctlBin := buildAccordctl(t, filepath.Dir(bin))
	c := startCluster(t, bin, clusterOptions{snapshotThreshold: 8192, trailingLogs: 10240}, "UA", "PL", "DE", "LT", "NL")
	work := t.TempDir()
	ctl := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(ctlBin, args...)
		cmd.Dir = work
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + work}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("accordctl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	// Each existing member's admin and analyst configuration for accordctl
	// (its own files, not the node's).
	ctlConfig := func(member, user, localAddr, cert, key, bundle, crlDir string) string {
		path := filepath.Join(work, member+"-"+user+".yaml")
		body := fmt.Sprintf("tls: {cert_file: %s, key_file: %s, bundle_file: %s, crl_dir: %s}\nclient: {cert_file: %s, key_file: %s}\nlocal_api: {listen: %s}\n",
			cert, key, bundle, crlDir, cert, key, localAddr)
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	admins := map[string]string{}
	var ua *procNode
	for _, n := range c.nodes {
		u := c.fed.User(n.member, "admin")
		admins[n.member] = ctlConfig(n.member, "admin", n.locl, u.CertFile, u.KeyFile, u.BundleFile, u.CRLDir)
		if n.member == "UA" {
			ua = n
		}
	}
	uaNode := c.fed.Node("UA", "ua-1")
	uaAnalyst := c.fed.User("UA", "analyst")
	uaCfg := filepath.Join(work, "ua.yaml")
	if err := os.WriteFile(uaCfg, []byte(fmt.Sprintf("tls: {cert_file: %s, key_file: %s, bundle_file: %s, crl_dir: %s}\nclient: {cert_file: %s, key_file: %s}\nlocal_api: {listen: %s}\n",
		uaNode.CertFile, uaNode.KeyFile, uaNode.BundleFile, uaNode.CRLDir, uaAnalyst.CertFile, uaAnalyst.KeyFile, ua.locl)), 0o600); err != nil {
		t.Fatal(err)
	}
	start := time.Now()

	// 1. FR makes its CA and its node's and users' certificates.
	created := ctl("certs", "ca", "create", "--federation", "accord.test", "--member", "FR", "--name", "Parquet national antiterroriste", "--dir", "fr-ca")
	// The CA fingerprint FR's office tells each voting member over a
	// second channel (phone, letter).
	m := regexp.MustCompile(`CA fingerprint\s+([0-9a-f]{64})`).FindStringSubmatch(created)
	if m == nil {
		t.Fatalf("certs ca create does not print the CA fingerprint:\n%s", created)
	}
	frFP := m[1]
	ctl("certs", "issue", "--ca", "fr-ca", "--node", "fr-1", "--dns", "localhost", "--ip", "127.0.0.1", "--out", "fr-1")
	ctl("certs", "issue", "--ca", "fr-ca", "--user", "u-admin", "--out", "fr-admin")
	ctl("certs", "issue", "--ca", "fr-ca", "--user", "u-analyst", "--out", "fr-analyst")
	// 2. FR receives the federation's trust bundle and adds its own CA.
	bundle, err := os.ReadFile(c.fed.BundleFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "trust-bundle.json"), bundle, 0o644); err != nil {
		t.Fatal(err)
	}
	ctl("certs", "bundle", "add", "--bundle", "trust-bundle.json", "--member", "FR", "--name", "Parquet national antiterroriste", "fr-ca/ca.crt")
	// 3. UA's admin proposes FR; 4. FR tells the voters its CA fingerprint;
	// 5. the admins compare and vote.
	out := ctl("--config", admins["UA"], "member", "propose", "--code", "FR", "--name", "Parquet national antiterroriste", "--ca-cert", "fr-ca/ca.crt")
	wantText(t, "propose", out, "member FR proposed")
	// Each voter compares the fingerprint FR gave it with the one of the
	// CA the proposer registered, and passes it with its approval. More
	// than half of the five: three approvals.
	wantText(t, "member show (proposed)", ctl("--config", admins["PL"], "member", "show", "FR"), "CA fingerprint", frFP)
	ctl("--config", admins["PL"], "member", "vote", "FR", "--approve", "--ca-fingerprint", frFP)
	out = ctl("--config", admins["DE"], "member", "vote", "FR", "--approve", "--ca-fingerprint", frFP)
	wantText(t, "second vote", out, "member FR is proposed (2 for, 0 against)")
	out = ctl("--config", admins["LT"], "member", "vote", "FR", "--approve", "--ca-fingerprint", frFP)
	wantText(t, "third vote", out, "member FR is admitted")
	wantText(t, "member show", ctl("--config", uaCfg, "member", "show", "FR"), "status:", "admitted")

	// 6. FR starts its node, naming the registry servers (as accordctl
	// registry status lists them).
	addrs := daemontest.FreeAddrs(t, 3)
	var uaServer string
	for _, s := range c.servers {
		uaServer += fmt.Sprintf("    - {node: %q, raft_address: %q, address: %q}\n", s.Node, s.RaftAddress, s.Address)
	}
	frCfg := filepath.Join(work, "fr.yaml")
	body := fmt.Sprintf(`listen: %s
metrics_listen: ""
data_dir: %s
log: {format: json, level: info}
tls: {cert_file: fr-1/node.crt, key_file: fr-1/node.key, bundle_file: trust-bundle.json, crl_dir: crl}
local_api: {listen: %s, admins: [u-admin]}
client: {cert_file: fr-analyst/user.crt, key_file: fr-analyst/user.key}
registry:
  server: true
  raft_listen: %s
  heartbeat_timeout: 500ms
  election_timeout: 500ms
  leader_lease_timeout: 250ms
  servers:
%s`, addrs[0], filepath.Join(work, "fr-data"), addrs[1], addrs[2], uaServer)
	if err := os.WriteFile(frCfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	fr := exec.Command(bin, "--config", frCfg)
	fr.Dir = work
	frLog := &procLog{}
	stderr, err := fr.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := fr.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { frLog.consume(stderr); _ = fr.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = fr.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("FR's log:\n%s", frLog.tail(60))
		}
	})

	// 7. FR's node joins and registers itself; 8. the others dial it.
	eventually(t, 30*time.Second, func() error {
		out, err := exec.Command(ctlBin, "--config", uaCfg, "node", "list", "--member", "FR").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "/member/FR/node/fr-1") || !strings.Contains(string(out), addrs[0]) {
			return fmt.Errorf("FR's node not registered yet: %w %s", err, out)
		}
		return nil
	})
	eventually(t, 30*time.Second, func() error {
		out, err := exec.Command(ctlBin, "--config", uaCfg, "peers", "check", "--all", "--rounds", "1").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "OK   "+addrs[0]) {
			return fmt.Errorf("UA cannot reach FR's node yet: %w %s", err, out)
		}
		return nil
	})

	// FR's and UA's cases about the same incidents produce matches at UA.
	ctl("cases", "generate", "--federation", "UA,FR", "--incidents", "40", "--shared-fraction", "0.9", "--seed", "3", "--out", "dataset")
	files, _ := filepath.Glob(filepath.Join(work, "dataset", "*.jsonl"))
	for _, f := range files {
		switch {
		case strings.Contains(filepath.Base(f), "UA"):
			ctl("--config", uaCfg, "cases", "import", f)
		case strings.Contains(filepath.Base(f), "FR"):
			ctl("--config", frCfg, "cases", "import", f)
		}
	}
	eventually(t, 40*time.Second, func() error {
		out, err := exec.Command(ctlBin, "--config", uaCfg, "matches", "list", "-o", "json").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "FR-") {
			return fmt.Errorf("no match with FR's cases at UA yet: %w %.300s", err, out)
		}
		return nil
	})
	t.Logf("FR proposed, admitted, joined, synced and matched in %s", time.Since(start).Round(100*time.Millisecond))
}

func wantText(t *testing.T, what, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Fatalf("%s lacks %q:\n%s", what, w, out)
		}
	}
}
