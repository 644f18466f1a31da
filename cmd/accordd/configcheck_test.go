package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/accordfed/accord/federation/pki/pkitest"
)

func runAccordd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

// TestConfigCheck: accordd config check prints FILE: OK for a usable file,
// and every problem, one a line with the file, line and field, for a bad
// one, without starting a node.
func TestConfigCheck(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA")
	node := fed.Node("UA", "ua-1")
	good := writeConfig(t, node, "")
	out, err := runAccordd(t, "config", "check", good)
	if err != nil || out != good+": OK\n" {
		t.Fatalf("good file: err = %v, output:\n%s", err, out)
	}

	dir := t.TempDir()
	bad := filepath.Join(dir, "node.yaml")
	body := `data_dir: data
tls:
  cert_file: missing.crt
  key_file: ` + node.KeyFile + `
  bundle_file: ` + node.BundleFile + `
  reload_intervall: 5s
grpc:
  max_connection_age: 2
`
	if err := os.WriteFile(bad, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = runAccordd(t, "config", "check", bad)
	if err == nil || !strings.Contains(err.Error(), "2 problems in "+bad) {
		t.Fatalf("bad file: err = %v", err)
	}
	want := bad + ":6: tls.reload_intervall: unknown field (did you mean reload_interval?)\n" +
		bad + ":8: grpc.max_connection_age: a duration such as 2s (got the number 2)\n"
	if out != want {
		t.Errorf("output:\n%s\nwant:\n%s", out, want)
	}

	// Once it decodes, the rules and the files.
	body = strings.Replace(strings.Replace(body, "reload_intervall", "reload_interval", 1), "max_connection_age: 2", "max_connection_age: 2s", 1)
	if err := os.WriteFile(bad, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = runAccordd(t, "config", "check", bad)
	if err == nil || out != bad+":3: tls.cert_file: "+filepath.Join(dir, "missing.crt")+" does not exist\n" {
		t.Errorf("err = %v, output:\n%s", err, out)
	}
}
