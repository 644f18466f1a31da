package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/accordfed/accord/federation/pki/pkitest"
	"github.com/accordfed/accord/node/config"
)

// TestLoadNamesEveryProblemInWords: every unknown field and every value of
// the wrong type is reported, each with its field, line and, for unknown
// fields, the closest known field.
func TestLoadNamesEveryProblemInWords(t *testing.T) {
	cases := []struct {
		name, body string
		want       []string // Where() of each problem, after the file name
	}{
		{"typo nested", "tls:\n  reload_intervall: 5s\n", []string{":2: tls.reload_intervall: unknown field (did you mean reload_interval?)"}},
		{"typo top", "listne: 127.0.0.1:1\n", []string{":1: listne: unknown field (did you mean listen?)"}},
		{"field at the wrong level", "cert_file: a.crt\n", []string{":1: cert_file: unknown field (did you mean client.cert_file or console.cert_file or tls.cert_file?)"}},
		{"unknown, nothing close", "colour: blue\n", []string{":1: colour: unknown field"}},
		{"duration as number", "tls:\n  reload_interval: 2\n", []string{":2: tls.reload_interval: a duration such as 2s (got the number 2)"}},
		{"duration as word", "shutdown_timeout: soon\n", []string{`:1: shutdown_timeout: a duration such as 2s, 500ms or 1h30m (got the text "soon")`}},
		{"duration as list", "exchange:\n  heartbeat_interval: [1s]\n", []string{":2: exchange.heartbeat_interval: a duration such as 2s (got a list)"}},
		{"boolean", "registry:\n  server: maybe\n", []string{`:2: registry.server: true or false (got the text "maybe")`}},
		{"int as text", "exchange: {max_streams_per_peer: four}\n", []string{`:1: exchange.max_streams_per_peer: a whole number between -9223372036854775808 and 9223372036854775807 (got the text "four")`}},
		{"uint32 negative", "grpc:\n  max_concurrent_streams: -1\n", []string{":2: grpc.max_concurrent_streams: a whole number between 0 and 4294967295 (got the number -1)"}},
		{"uint64 as float", "registry: {trailing_logs: 1.5}\n", []string{":1: registry.trailing_logs: a whole number between 0 and 18446744073709551615 (got the number 1.5)"}},
		{"list as text", "local_api:\n  admins: olena\n", []string{`:2: local_api.admins: a list (- item on its own line, or [a, b]) (got the text "olena")`}},
		{"text as mapping", "data_dir: {path: x}\n", []string{":1: data_dir: a text (got a mapping)"}},
		{"section as text", "tls: yes\n", []string{":1: tls: a mapping of fields (got the text \"yes\")"}},
		{"in a list", "peers:\n  - member: PL\n    addrss: h:1\n", []string{":3: peers[0].addrss: unknown field (did you mean address?)"}},
		{"every problem", "tls:\n  reload_intervall: 5s\ngrpc:\n  max_connection_age: 2\n  keepalive_time: 3\n", []string{
			":2: tls.reload_intervall: unknown field (did you mean reload_interval?)",
			":4: grpc.max_connection_age: a duration such as 2s (got the number 2)",
			":5: grpc.keepalive_time: a duration such as 2s (got the number 3)",
		}},
		{"not yaml", "tls: [\n", []string{":1: not valid YAML"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := writeConfig(t, c.body)
			_, err := config.Load(path, nil)
			probs := config.Problems(err)
			if len(probs) != len(c.want) {
				t.Fatalf("problems = %q, want %d", err, len(c.want))
			}
			for i, p := range probs {
				if got := strings.TrimPrefix(p.Where(), path); !strings.HasPrefix(got, c.want[i]) {
					t.Errorf("problem %d = %q, want %q", i, got, c.want[i])
				}
			}
		})
	}
}

func TestLoadAcceptsEveryType(t *testing.T) {
	cfg, err := config.Load(writeConfig(t, `
shutdown_timeout: 1m30s
registry: {server: yes, trailing_logs: 20, max_voters: 3}
local_api: {admins: [olena, taras], import_buffer_bytes: 8388608}
grpc: {max_concurrent_streams: 10}
persons: ~
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ShutdownTimeout != 90*time.Second || !cfg.Registry.Server || cfg.Registry.TrailingLogs != 20 ||
		len(cfg.LocalAPI.Admins) != 2 || cfg.GRPC.MaxConcurrentStreams != 10 || cfg.LocalAPI.ImportBufferBytes != 8<<20 {
		t.Errorf("cfg = %+v", cfg)
	}
}

func TestUnknownEnvironmentVariableSuggests(t *testing.T) {
	_, err := config.Load("", []string{"ACCORD_TLS_CERT_FLE=x", "ACCORD_LISTEN=127.0.0.1:1"})
	if err == nil || !strings.Contains(err.Error(), "environment variable ACCORD_TLS_CERT_FLE: no such configuration field (did you mean ACCORD_TLS_CERT_FILE?)") {
		t.Fatalf("err = %v", err)
	}
}

// TestValidateReportsEveryProblem: Validate does not stop at the first
// field.
func TestValidateReportsEveryProblem(t *testing.T) {
	cfg, err := config.Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Log.Format = "xml"
	cfg.GRPC.MaxSendMsgBytes = 1
	cfg.GRPC.KeepaliveTime = time.Millisecond
	cfg.Peers = []config.Peer{{Member: "pl", Address: "h:0"}}
	var fields []string
	for _, p := range config.Problems(cfg.Validate()) {
		fields = append(fields, p.Field)
	}
	want := []string{"log.format", "tls.cert_file", "tls.key_file", "tls.bundle_file", "grpc.max_send_msg_bytes", "grpc.keepalive_time", "data_dir", "exchange.max_batch_bytes", "peers[0].member", "peers[0].address"}
	if strings.Join(fields, " ") != strings.Join(want, " ") {
		t.Errorf("fields = %v\nwant     %v", fields, want)
	}
}

// TestCheck: a good file is OK; a bad one lists every problem with the
// file, the line and the missing files by name.
func TestCheck(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA")
	node := fed.Node("UA", "ua-1")
	good := writeConfig(t, "data_dir: data\ntls:\n  cert_file: "+node.CertFile+"\n  key_file: "+node.KeyFile+"\n  bundle_file: "+node.BundleFile+"\n")
	if ps := config.Check(good, nil); len(ps) != 0 {
		t.Fatalf("good file: %v", ps)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "data"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "node.yaml")
	body := "data_dir: data\ntls:\n  cert_file: node.crt\n  key_file: " + node.KeyFile + "\n  bundle_file: bundle.json\n  crl_dir: crls\nclient:\n  cert_file: olena.crt\nlog: {format: xml}\n"
	if err := os.WriteFile(bad, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range config.Check(bad, nil) {
		got = append(got, strings.TrimPrefix(p.Where(), dir+"/"))
	}
	want := []string{
		"node.yaml:9: log.format: \"xml\": must be json or text",
		"node.yaml:3: tls.cert_file: " + filepath.Join(dir, "node.crt") + " does not exist",
		"node.yaml:5: tls.bundle_file: " + filepath.Join(dir, "bundle.json") + " does not exist",
		"node.yaml:8: client.cert_file: " + filepath.Join(dir, "olena.crt") + " does not exist",
		"node.yaml:6: tls.crl_dir: " + filepath.Join(dir, "crls") + " does not exist",
		"node.yaml:1: data_dir: " + filepath.Join(dir, "data") + " is a file, not a folder",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
