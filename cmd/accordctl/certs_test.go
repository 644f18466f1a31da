package main

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/pki"
	"github.com/accordfed/accord/federation/trust"
)

// certsRun executes accordctl in-process with args and returns what it
// printed.
func certsRun(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	err := root.Execute()
	if errOut.Len() > 0 {
		t.Logf("stderr of %v: %s", args, errOut.String())
	}
	return out.String(), err
}

func certsMustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, err := certsRun(t, args...)
	if err != nil {
		t.Fatalf("accordctl %s: %v", strings.Join(args, " "), err)
	}
	return out
}

// certsVerifier builds a verifier from a bundle file and a CRL folder, as a
// node does.
func certsVerifier(t *testing.T, bundlePath, crlDir string) *trust.Verifier {
	t.Helper()
	b, err := trust.LoadBundle(bundlePath)
	if err != nil {
		t.Fatal(err)
	}
	crls, problems, err := trust.LoadCRLDir(crlDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	v, err := trust.NewVerifier(b, crls, nil)
	if err != nil {
		t.Fatal(err)
	}
	if u := v.Unusable(); len(u) > 0 {
		t.Fatal(u)
	}
	return v
}

func certsReadCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := pki.ParseCertificate(data)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCertsDevFederation(t *testing.T) {
	out := filepath.Join(t.TempDir(), "fed")
	args := []string{"certs", "dev-federation", "--federation", "accord.test", "--members", "UA,PL,DE", "--nodes", "2", "--out", out}
	first := certsMustRun(t, args...)
	if !strings.Contains(first, "Made test federation accord.test") {
		t.Errorf("first run said:\n%s", first)
	}

	v := certsVerifier(t, filepath.Join(out, "trust-bundle.json"), filepath.Join(out, "crl"))
	if got := strings.Join(v.Members(), ","); got != "DE,PL,UA" {
		t.Errorf("bundle members = %s", got)
	}
	if n := len(v.CRLs()); n != 3 {
		t.Errorf("%d CRLs, want 3", n)
	}
	for _, m := range []string{"UA", "PL", "DE"} {
		lower := strings.ToLower(m)
		for _, node := range []string{lower + "-1", lower + "-2"} {
			dir := filepath.Join(out, m, "nodes", node)
			cert := certsReadCert(t, filepath.Join(dir, "node.crt"))
			for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
				id, err := v.Verify([]*x509.Certificate{cert}, usage)
				if err != nil {
					t.Errorf("%s: %v", node, err)
				}
				if id.Member != m || id.Kind != identity.KindNode || id.Name != node {
					t.Errorf("%s: identity %v", node, id)
				}
			}
			if !strings.Contains(strings.Join(cert.DNSNames, ","), node) {
				t.Errorf("%s: DNS names %v lack the node name", node, cert.DNSNames)
			}
			certsCheckMode(t, filepath.Join(dir, "node.key"), 0o600)
			if _, err := os.Stat(filepath.Join(dir, "ca.crt")); err != nil {
				t.Error(err)
			}
		}
		user := certsReadCert(t, filepath.Join(out, m, "users", lower+"-analyst", "user.crt"))
		if _, err := v.Verify([]*x509.Certificate{user}, x509.ExtKeyUsageClientAuth); err != nil {
			t.Errorf("%s analyst: %v", m, err)
		}
		certsCheckMode(t, filepath.Join(out, m, "users", lower+"-analyst", "user.key"), 0o600)
		certsCheckMode(t, filepath.Join(out, m, "ca", "ca.key"), 0o600)
	}

	// Second run: everything is reused, nothing rewritten.
	keyPath := filepath.Join(out, "UA", "nodes", "ua-1", "node.key")
	before, err := os.ReadFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	second := certsMustRun(t, args...)
	if !strings.Contains(second, "already holds a complete test federation") || !strings.Contains(second, "nothing changed") {
		t.Errorf("second run said:\n%s", second)
	}
	if after, _ := os.ReadFile(keyPath); !bytes.Equal(before, after) {
		t.Error("second run replaced ua-1's key")
	}

	// A missing piece is made again, the rest reused.
	if err := os.Remove(filepath.Join(out, "PL", "users", "pl-analyst", "user.key")); err != nil {
		t.Fatal(err)
	}
	third := certsMustRun(t, append(args, "-o", "json")...)
	var res struct {
		Reused  bool     `json:"reused"`
		Created []string `json:"created"`
	}
	if err := json.Unmarshal([]byte(third), &res); err != nil {
		t.Fatalf("JSON output: %v\n%s", err, third)
	}
	if res.Reused || len(res.Created) != 1 || res.Created[0] != "user pl-analyst" {
		t.Errorf("third run: %+v", res)
	}

	// Another federation in the same folder is refused.
	_, err = certsRun(t, "certs", "dev-federation", "--federation", "other.test", "--members", "UA,PL,DE", "--out", out)
	if err == nil || !strings.Contains(err.Error(), "--out") {
		t.Errorf("other federation: err = %v", err)
	}
}

func certsCheckMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Error(err)
		return
	}
	if fi.Mode().Perm() != want {
		t.Errorf("%s: mode %04o, want %04o", path, fi.Mode().Perm(), want)
	}
}

func TestCertsOperatorFlow(t *testing.T) {
	dir := t.TempDir()
	p := func(parts ...string) string { return filepath.Join(append([]string{dir}, parts...)...) }

	out := certsMustRun(t, "certs", "ca", "create", "--federation", "accord.example", "--member", "UA",
		"--name", "Office of the Prosecutor General", "--dir", p("ca", "UA"))
	if !strings.Contains(out, "member UA") {
		t.Errorf("ca create said:\n%s", out)
	}
	certsCheckMode(t, p("ca", "UA", "ca.key"), 0o600)
	certsMustRun(t, "certs", "ca", "create", "--federation", "accord.example", "--member", "PL", "--dir", p("ca", "PL"))

	out = certsMustRun(t, "certs", "issue", "--ca", p("ca", "UA"), "--node", "ua-1", "--dns", "ua-1.example", "--ip", "127.0.0.1", "--out", p("nodes", "ua-1"))
	if !strings.Contains(out, "spiffe://accord.example/member/UA/node/ua-1") || !strings.Contains(out, p("nodes", "ua-1", "node.key")) {
		t.Errorf("issue said:\n%s", out)
	}
	certsCheckMode(t, p("nodes", "ua-1", "node.key"), 0o600)
	certsMustRun(t, "certs", "issue", "--ca", p("ca", "UA"), "--user", "u-1042", "--out", p("users", "u-1042"))
	certsMustRun(t, "certs", "issue", "--ca", p("ca", "PL"), "--node", "pl-1", "--out", p("nodes", "pl-1"))

	bundle := p("trust-bundle.json")
	certsMustRun(t, "certs", "bundle", "create", "--federation", "accord.example", "--out", bundle)
	certsMustRun(t, "certs", "bundle", "add", "--bundle", bundle, "--member", "UA", "--name", "Office of the Prosecutor General", p("ca", "UA", "ca.crt"))
	certsMustRun(t, "certs", "bundle", "add", "--bundle", bundle, "--member", "PL", p("ca", "PL", "ca.crt"))
	out = certsMustRun(t, "certs", "bundle", "inspect", bundle)
	if !strings.Contains(out, "member UA (Office of the Prosecutor General)") || !strings.Contains(out, "member PL") {
		t.Errorf("bundle inspect said:\n%s", out)
	}

	// Before revocation everything verifies.
	node := certsReadCert(t, p("nodes", "ua-1", "node.crt"))
	user := certsReadCert(t, p("users", "u-1042", "user.crt"))
	other := certsReadCert(t, p("nodes", "pl-1", "node.crt"))
	v := certsVerifier(t, bundle, p("crl"))
	for _, c := range []*x509.Certificate{node, user, other} {
		if _, err := v.Verify([]*x509.Certificate{c}, x509.ExtKeyUsageClientAuth); err != nil {
			t.Errorf("before revocation: %v", err)
		}
	}

	// Revoke the node by file and the user by serial, publish CRLs.
	out = certsMustRun(t, "certs", "revoke", "--ca", p("ca", "UA"), "--cert", p("nodes", "ua-1", "node.crt"), "--reason", "keyCompromise")
	if !strings.Contains(out, "keyCompromise") {
		t.Errorf("revoke said:\n%s", out)
	}
	certsMustRun(t, "certs", "revoke", "--ca", p("ca", "UA"), "--serial", user.SerialNumber.Text(16), "--reason", "cessationOfOperation")
	out = certsMustRun(t, "certs", "crl", "--ca", p("ca", "UA"), "--out", p("crl", "UA.crl"))
	if !strings.Contains(out, "CRL number 1") {
		t.Errorf("crl said:\n%s", out)
	}
	certsMustRun(t, "certs", "crl", "--ca", p("ca", "PL"), "--out", p("crl", "PL.crl"), "--validity", "2d")

	v = certsVerifier(t, bundle, p("crl"))
	if _, err := v.Verify([]*x509.Certificate{node}, x509.ExtKeyUsageServerAuth); !errors.Is(err, trust.ErrRevoked) {
		t.Errorf("revoked node: err = %v, want ErrRevoked", err)
	}
	if _, err := v.Verify([]*x509.Certificate{user}, x509.ExtKeyUsageClientAuth); !errors.Is(err, trust.ErrRevoked) {
		t.Errorf("revoked user: err = %v, want ErrRevoked", err)
	}
	if _, err := v.Verify([]*x509.Certificate{other}, x509.ExtKeyUsageServerAuth); err != nil {
		t.Errorf("PL node after UA's revocations: %v", err)
	}

	out = certsMustRun(t, "certs", "list", "--ca", p("ca", "UA"))
	if strings.Count(out, "revoked (") != 2 {
		t.Errorf("list said:\n%s", out)
	}

	// Inspect in words and in JSON.
	out = certsMustRun(t, "certs", "inspect", p("nodes", "pl-1", "node.crt"))
	if !strings.Contains(out, "node pl-1 of member PL in federation accord.example") || !strings.Contains(out, "expires in") {
		t.Errorf("inspect said:\n%s", out)
	}
	out = certsMustRun(t, "-o", "json", "certs", "inspect", p("nodes", "ua-1", "node.crt"))
	var rep struct {
		File  string     `json:"file"`
		Items []pki.Item `json:"items"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("inspect JSON: %v\n%s", err, out)
	}
	if len(rep.Items) != 1 || rep.Items[0].Certificate == nil || rep.Items[0].Certificate.Member != "UA" || rep.Items[0].Certificate.Role != "node" {
		t.Errorf("inspect JSON = %s", out)
	}
	out = certsMustRun(t, "certs", "inspect", p("crl", "UA.crl"))
	if !strings.Contains(out, "member UA") || !strings.Contains(out, node.SerialNumber.Text(16)) {
		t.Errorf("inspect CRL said:\n%s", out)
	}

	// Remove PL's CA by fingerprint prefix.
	fp := trust.Fingerprint(certsReadCert(t, p("ca", "PL", "ca.crt")))
	certsMustRun(t, "certs", "bundle", "remove", "--bundle", bundle, "--member", "PL", "--fingerprint", fp[:12])
	b, err := trust.LoadBundle(bundle)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Members) != 1 || b.Members[0].Member != "UA" {
		t.Errorf("after remove: %+v", b.Members)
	}
}

func TestCertsErrorsNameTheFlag(t *testing.T) {
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca")
	certsMustRun(t, "certs", "ca", "create", "--federation", "accord.example", "--member", "UA", "--dir", ca)
	cert := filepath.Join(dir, "n", "node.crt")
	certsMustRun(t, "certs", "issue", "--ca", ca, "--node", "ua-1", "--out", filepath.Dir(cert))

	cases := []struct {
		args []string
		want string
	}{
		{[]string{"certs", "ca", "create", "--federation", "accord.example", "--member", "UA", "--dir", ca}, "--dir"},
		{[]string{"certs", "ca", "create", "--federation", "Accord", "--member", "UA", "--dir", filepath.Join(dir, "x")}, "--federation"},
		{[]string{"certs", "ca", "create", "--federation", "accord.example", "--member", "ua", "--dir", filepath.Join(dir, "x")}, "--member"},
		{[]string{"certs", "ca", "create", "--federation", "accord.example", "--member", "PL", "--validity", "40y", "--dir", filepath.Join(dir, "x")}, "--validity"},
		{[]string{"certs", "ca", "create", "--federation", "accord.example", "--member", "PL"}, "dir"},
		{[]string{"certs", "issue", "--ca", ca, "--out", filepath.Join(dir, "u")}, "--node or --user"},
		{[]string{"certs", "issue", "--ca", ca, "--node", "a", "--user", "b", "--out", filepath.Join(dir, "u")}, "--node or --user"},
		{[]string{"certs", "issue", "--ca", ca, "--user", "u-1", "--dns", "host.example", "--out", filepath.Join(dir, "u")}, "--dns"},
		{[]string{"certs", "issue", "--ca", ca, "--node", "Bad Name", "--out", filepath.Join(dir, "u")}, "--node"},
		{[]string{"certs", "issue", "--ca", ca, "--node", "ua-2", "--ip", "1.2.3", "--out", filepath.Join(dir, "u")}, "--ip"},
		{[]string{"certs", "issue", "--ca", ca, "--node", "ua-2", "--validity", "400d", "--out", filepath.Join(dir, "u")}, "--validity"},
		{[]string{"certs", "issue", "--ca", filepath.Join(dir, "nothing"), "--node", "ua-2", "--out", filepath.Join(dir, "u")}, "--ca"},
		{[]string{"certs", "issue", "--ca", ca, "--user", "u-2", "--pkcs12-password-file", cert, "--out", filepath.Join(dir, "u")}, "--pkcs12-password-file: only with --pkcs12"},
		{[]string{"certs", "issue", "--ca", ca, "--user", "u-2", "--pkcs12", "--pkcs12-password-file", filepath.Join(dir, "none"), "--out", filepath.Join(dir, "u")}, "--pkcs12-password-file"},
		{[]string{"certs", "revoke", "--ca", ca, "--cert", cert, "--reason", "sulking"}, "--reason"},
		{[]string{"certs", "revoke", "--ca", ca, "--serial", "xyz"}, "--serial"},
		{[]string{"certs", "revoke", "--ca", ca, "--serial", "abcdef"}, "--serial"},
		{[]string{"certs", "revoke", "--ca", ca}, "--serial or --cert"},
		{[]string{"certs", "crl", "--ca", ca, "--out", filepath.Join(dir, "c.crl"), "--validity", "400d"}, "--validity"},
		{[]string{"certs", "dev-federation", "--members", "UA,ua", "--out", filepath.Join(dir, "f")}, "--members"},
		{[]string{"certs", "dev-federation", "--nodes", "0", "--out", filepath.Join(dir, "f")}, "--nodes"},
	}
	for _, c := range cases {
		_, err := certsRun(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("accordctl %s: err = %v, want it to name %s", strings.Join(c.args, " "), err, c.want)
		}
	}
	// Revoking twice says so.
	certsMustRun(t, "certs", "revoke", "--ca", ca, "--cert", cert)
	if _, err := certsRun(t, "certs", "revoke", "--ca", ca, "--cert", cert); err == nil || !strings.Contains(err.Error(), "already revoked") {
		t.Errorf("second revoke: err = %v", err)
	}
}

func TestCertsDuration(t *testing.T) {
	for in, want := range map[string]string{"90d": "90d", "10y": "10y", "2160h": "90d", "87600h": "10y", "36h": "36h0m0s"} {
		var d certsDuration
		if err := d.Set(in); err != nil {
			t.Errorf("Set(%q): %v", in, err)
			continue
		}
		if d.String() != want {
			t.Errorf("Set(%q).String() = %q, want %q", in, d.String(), want)
		}
	}
	for _, in := range []string{"", "d", "1.5d", "-3d", "ten days"} {
		var d certsDuration
		if err := d.Set(in); err == nil {
			t.Errorf("Set(%q): no error", in)
		}
	}
}

// TestCertsIssuePKCS12: --pkcs12 writes the certificate, its key and the
// CA as one PKCS#12 file that decodes with the password printed once (or
// the one of the password file) and not with another.
func TestCertsIssuePKCS12(t *testing.T) {
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca")
	certsMustRun(t, "certs", "ca", "create", "--federation", "accord.example", "--member", "UA", "--dir", ca)
	out := certsMustRun(t, "-o", "json", "certs", "issue", "--ca", ca, "--user", "u-1042", "--pkcs12", "--out", filepath.Join(dir, "u"))
	var res certsIssueResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	if res.PKCS12 != filepath.Join(dir, "u", "user.p12") || len(res.PKCS12Password) < 26 {
		t.Fatalf("result: %+v", res)
	}
	check := func(path, password string) {
		t.Helper()
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", path, fi.Mode().Perm())
		}
		key, cert, cas, err := pkcs12.DecodeChain(data, password)
		if err != nil {
			t.Fatalf("decode with the password: %v", err)
		}
		crt, _ := os.ReadFile(filepath.Join(filepath.Dir(path), "user.crt"))
		if !bytes.Contains(crt, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})) || len(cas) != 1 || !cas[0].IsCA {
			t.Errorf("the file's certificate or CA is not the issued one")
		}
		if signer, ok := key.(crypto.Signer); !ok || !signer.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(cert.PublicKey) {
			t.Errorf("the file's key is not the certificate's")
		}
		if _, _, err := pkcs12.Decode(data, password+"x"); err == nil {
			t.Errorf("decoded with a wrong password")
		}
	}
	check(res.PKCS12, res.PKCS12Password)

	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("a long enough secret\nsecond line\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out = certsMustRun(t, "certs", "issue", "--ca", ca, "--user", "u-7", "--pkcs12", "--pkcs12-password-file", pw, "--out", filepath.Join(dir, "u7"))
	if strings.Contains(out, "password") {
		t.Errorf("a password from a file is printed:\n%s", out)
	}
	check(filepath.Join(dir, "u7", "user.p12"), "a long enough secret")

	if err := os.WriteFile(pw, []byte("short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := certsRun(t, "certs", "issue", "--ca", ca, "--user", "u-8", "--pkcs12", "--pkcs12-password-file", pw, "--out", filepath.Join(dir, "u8")); err == nil ||
		!strings.Contains(err.Error(), "at least 12 characters") {
		t.Errorf("a short password: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "u8")); err == nil {
		t.Errorf("a refused issue wrote files")
	}
}
