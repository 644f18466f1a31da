package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/accordfed/accord/federation/pki/pkitest"
	"github.com/accordfed/accord/node/config"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "node.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadFileEnvFlagsOrder(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA")
	tls := fed.Node("UA", "ua-1")
	path := writeConfig(t, `
listen: 127.0.0.1:7401
metrics_listen: 127.0.0.1:9401
data_dir: data
log: {level: debug, format: text}
tls:
  cert_file: `+tls.CertFile+`
  key_file: `+tls.KeyFile+`
  bundle_file: `+tls.BundleFile+`
  reload_interval: 5s
grpc:
  max_connection_age: 2m
peers:
  - {member: PL, address: 127.0.0.1:7402}
`)
	cfg, err := config.Load(path, []string{"ACCORD_LISTEN=127.0.0.1:7501", "ACCORD_LOG_LEVEL=warn", "ACCORD_GRPC_MAX_CONCURRENT_STREAMS=64", "HOME=/root"})
	if err != nil {
		t.Fatal(err)
	}
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	o := config.AddFlags(fs)
	if err := fs.Parse([]string{"--log-level", "error"}); err != nil {
		t.Fatal(err)
	}
	o.Apply(&cfg)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:7501" {
		t.Errorf("listen = %s: the environment should override the file", cfg.Listen)
	}
	if cfg.Log.Level != "error" {
		t.Errorf("log.level = %s: the flag should override the environment", cfg.Log.Level)
	}
	if cfg.Log.Format != "text" || cfg.MetricsListen != "127.0.0.1:9401" {
		t.Errorf("file values lost: %+v", cfg)
	}
	if cfg.GRPC.MaxConcurrentStreams != 64 || cfg.GRPC.MaxConnectionAge != 2*time.Minute || cfg.TLS.ReloadInterval != 5*time.Second {
		t.Errorf("nested values: %+v %+v", cfg.GRPC, cfg.TLS)
	}
	if cfg.GRPC.MaxRecvMsgBytes == 0 || cfg.ShutdownTimeout == 0 || cfg.TLS.MinVersion != "1.3" {
		t.Errorf("defaults not filled: %+v", cfg)
	}
	if len(cfg.Peers) != 1 || cfg.Peers[0].Member != "PL" {
		t.Errorf("peers = %+v", cfg.Peers)
	}
}

func TestRelativePathsFollowTheFile(t *testing.T) {
	path := writeConfig(t, "tls: {cert_file: certs/node.crt}\n")
	cfg, err := config.Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(filepath.Dir(path), "certs/node.crt"); cfg.TLS.CertFile != want {
		t.Errorf("cert_file = %s, want %s", cfg.TLS.CertFile, want)
	}
}

func TestLoadRefuses(t *testing.T) {
	cases := []struct {
		name, body string
		env        []string
		want       string
	}{
		{"unknown field", "listne: 127.0.0.1:1\n", nil, "listne"},
		{"bad duration", "shutdown_timeout: soon\n", nil, "shutdown_timeout"},
		{"unknown env", "", []string{"ACCORD_LISTNE=x"}, "ACCORD_LISTNE"},
		{"bad env number", "", []string{"ACCORD_GRPC_MAX_RECV_MSG_BYTES=lots"}, "ACCORD_GRPC_MAX_RECV_MSG_BYTES"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := config.Load(writeConfig(t, c.body), c.env)
			if !errors.Is(err, config.ErrInvalid) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want ErrInvalid naming %s", err, c.want)
			}
		})
	}
}

func TestValidateNamesTheField(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA")
	base, err := config.Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	base.TLS = fed.Node("UA", "ua-1")
	base.DataDir = t.TempDir()
	if err := base.Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	cases := []struct {
		name  string
		edit  func(*config.Config)
		field string
	}{
		{"listen", func(c *config.Config) { c.Listen = "7400" }, "listen"},
		{"metrics port", func(c *config.Config) { c.MetricsListen = "127.0.0.1:99999" }, "metrics_listen"},
		{"log format", func(c *config.Config) { c.Log.Format = "xml" }, "log.format"},
		{"tls", func(c *config.Config) { c.TLS.MinVersion = "1.0" }, "tls.min_version"},
		{"grpc", func(c *config.Config) { c.GRPC.MaxSendMsgBytes = 1 }, "grpc.max_send_msg_bytes"},
		{"peer member", func(c *config.Config) { c.Peers = []config.Peer{{Member: "pl", Address: "h:1"}} }, "peers[0].member"},
		{"peer address", func(c *config.Config) { c.Peers = []config.Peer{{Member: "PL", Address: "h:0"}} }, "peers[0].address"},
		{"shutdown", func(c *config.Config) { c.ShutdownTimeout = -time.Second }, "shutdown_timeout"},
		{"data dir", func(c *config.Config) { c.DataDir = "" }, "data_dir"},
		{"local listen", func(c *config.Config) { c.LocalAPI.Listen = "127.0.0.1" }, "local_api.listen"},
		{"local same as federation", func(c *config.Config) { c.LocalAPI.Listen = c.Listen }, "local_api.listen"},
		{"gateway port", func(c *config.Config) { c.LocalAPI.GatewayListen = "127.0.0.1:70000" }, "local_api.gateway_listen"},
		{"gateway same as local", func(c *config.Config) {
			c.LocalAPI.Listen, c.LocalAPI.GatewayListen = "127.0.0.1:7500", "127.0.0.1:7500"
		}, "local_api.gateway_listen"},
		{"gateway same as metrics", func(c *config.Config) { c.LocalAPI.GatewayListen = c.MetricsListen }, "local_api.gateway_listen"},
		{"gateway same as federation", func(c *config.Config) { c.LocalAPI.GatewayListen = c.Listen }, "local_api.gateway_listen"},
		{"console port", func(c *config.Config) { c.Console.Listen = "127.0.0.1:70000" }, "console.listen"},
		{"console same as federation", func(c *config.Config) { c.Console.Listen = c.Listen }, "console.listen"},
		{"console same as metrics", func(c *config.Config) { c.Console.Listen = c.MetricsListen }, "console.listen"},
		{"console cert without key", func(c *config.Config) { c.Console.Listen, c.Console.CertFile = "127.0.0.1:7443", "/etc/accord/web.crt" }, "console.cert_file"},
		{"console tiles", func(c *config.Config) {
			c.Console.Listen, c.Console.TileURL = "127.0.0.1:7443", "http://tiles.example/{z}/{x}/{y}.png"
		}, "console.tile_url"},
		{"console settings without listen", func(c *config.Config) { c.Console.TileURL = "https://tiles.example/{z}/{x}/{y}.png" }, "console.listen"},
		{"admin name", func(c *config.Config) { c.LocalAPI.Admins = []string{"Olena K"} }, "local_api.admins[0]"},
		{"imports", func(c *config.Config) { c.LocalAPI.MaxConcurrentImports = 65 }, "local_api.max_concurrent_imports"},
		{"import buffer", func(c *config.Config) { c.LocalAPI.ImportBufferBytes = 1 << 20 }, "local_api.import_buffer_bytes"},
		{"streams per peer", func(c *config.Config) { c.Exchange.MaxStreamsPerPeer = -1 }, "exchange.max_streams_per_peer"},
		{"batch bytes", func(c *config.Config) { c.Exchange.MaxBatchBytes = 12 << 20 }, "exchange.max_batch_bytes"},
		{"heartbeat", func(c *config.Config) { c.Exchange.HeartbeatInterval = 2 * time.Minute }, "exchange.heartbeat_interval"},
		{"raft listen", func(c *config.Config) { *c = withRegistry(*c); c.Registry.RaftListen = "" }, "registry.raft_listen"},
		{"raft listen same", func(c *config.Config) { *c = withRegistry(*c); c.Registry.RaftListen = c.Listen }, "registry.raft_listen"},
		{"raft advertise", func(c *config.Config) { *c = withRegistry(*c); c.Registry.RaftAdvertise = ":7501" }, "registry.raft_advertise"},
		{"no servers", func(c *config.Config) { *c = withRegistry(*c); c.Registry.Servers = nil }, "registry.servers"},
		{"server node", func(c *config.Config) {
			*c = withRegistry(*c)
			c.Registry.Servers[0].Node = "spiffe://accord.test/member/UA/user/olena"
		}, "registry.servers[0].node"},
		{"server twice", func(c *config.Config) {
			*c = withRegistry(*c)
			c.Registry.Servers = append(c.Registry.Servers, c.Registry.Servers[0])
		}, "registry.servers[1].node"},
		{"server raft address", func(c *config.Config) { *c = withRegistry(*c); c.Registry.Servers[0].RaftAddress = "h" }, "registry.servers[0].raft_address"},
		{"server address", func(c *config.Config) { *c = withRegistry(*c); c.Registry.Servers[0].Address = "h:0" }, "registry.servers[0].address"},
		{"threshold", func(c *config.Config) { *c = withRegistry(*c); c.Registry.AdmissionThresholdPercent = 100 }, "registry.admission_threshold_percent"},
		{"voters", func(c *config.Config) { *c = withRegistry(*c); c.Registry.MaxVoters = -1 }, "registry.max_voters"},
		{"election", func(c *config.Config) { *c = withRegistry(*c); c.Registry.ElectionTimeout = -time.Second }, "registry.election_timeout"},
	}
	reg := withRegistry(base)
	if err := reg.Validate(); err != nil {
		t.Fatalf("valid registry config: %v", err)
	}
	if reg.Registry.Advertise != reg.Listen || reg.Registry.RaftAdvertise != reg.Registry.RaftListen {
		t.Errorf("advertised addresses not defaulted: %+v", reg.Registry)
	}
	for _, c := range cases {
		cfg := base
		c.edit(&cfg)
		err := cfg.Validate()
		if !errors.Is(err, config.ErrInvalid) || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%s: err = %v, want ErrInvalid naming %s", c.name, err, c.field)
		}
	}
}

// withRegistry makes c a founding registry server.
func withRegistry(c config.Config) config.Config {
	c.Registry = config.RegistryConfig{
		Server: true, Bootstrap: true, RaftListen: "127.0.0.1:7501",
		Servers: []config.RegistryServerConfig{{Node: "spiffe://accord.test/member/UA/node/ua-1", RaftAddress: "127.0.0.1:7501", Address: "127.0.0.1:7400"}},
	}
	return c
}

func TestEnvNamesCoverNestedFields(t *testing.T) {
	names := strings.Join(config.EnvNames(), " ")
	for _, want := range []string{"ACCORD_LISTEN", "ACCORD_TLS_CERT_FILE", "ACCORD_GRPC_MAX_CONNECTION_AGE", "ACCORD_LOG_FORMAT"} {
		if !strings.Contains(names, want) {
			t.Errorf("EnvNames lacks %s", want)
		}
	}
}

// TestDocumentedExampleLoads keeps docs/configuration.md honest: its
// annotated example must load without unknown fields and validate except
// for the TLS files, which do not exist here.
func TestDocumentedExampleLoads(t *testing.T) {
	doc, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "```yaml\n")
	if !ok {
		t.Fatal("no yaml example in docs/configuration.md")
	}
	example, _, _ := strings.Cut(rest, "```")
	cfg, err := config.Load(writeConfig(t, example), nil)
	if err != nil {
		t.Fatalf("documented example: %v", err)
	}
	fed := pkitest.NewFederation(t, "accord.test", "UA")
	cfg.TLS.CertFile, cfg.TLS.KeyFile, cfg.TLS.BundleFile = fed.Node("UA", "ua-1").CertFile, fed.Node("UA", "ua-2").KeyFile, fed.BundleFile
	if err := cfg.Validate(); err != nil {
		t.Fatalf("documented example does not validate: %v", err)
	}
	if cfg.GRPC.MaxConcurrentStreams != 256 || cfg.TLS.ReloadInterval != 30*time.Second || len(cfg.Peers) != 1 ||
		cfg.LocalAPI.Listen == "" || len(cfg.LocalAPI.Admins) == 0 || cfg.DataDir == "" ||
		!cfg.Registry.Server || len(cfg.Registry.Servers) != 3 || cfg.Registry.MaxVoters != 5 {
		t.Errorf("example values: %+v", cfg)
	}
}

// TestBackupRecipients: recipients from the list and the file are parsed;
// a bad one, a missing file, and recipients together with unencrypted are
// refused naming the field.
func TestBackupRecipients(t *testing.T) {
	const r1 = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"
	dir := t.TempDir()
	file := filepath.Join(dir, "recipients.txt")
	if err := os.WriteFile(file, []byte("# the office's custodians\n"+r1+"\n\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ok := config.BackupConfig{Recipients: []string{r1}, RecipientsFile: file}
	if rs, err := ok.ParseRecipients(); err != nil || len(rs) != 2 {
		t.Fatalf("recipients: %d %v", len(rs), err)
	}
	for _, c := range []struct {
		b     config.BackupConfig
		field string
	}{
		{config.BackupConfig{Recipients: []string{r1, "AGE-SECRET-KEY-1XYZ"}}, "backup.recipients[1]"},
		{config.BackupConfig{RecipientsFile: filepath.Join(dir, "none.txt")}, "backup.recipients_file"},
		{config.BackupConfig{Recipients: []string{r1}, Unencrypted: true}, "backup.unencrypted"},
	} {
		cfg, err := config.Load("", nil)
		if err != nil {
			t.Fatal(err)
		}
		fed := pkitest.NewFederation(t, "accord.test", "UA")
		cfg.TLS, cfg.DataDir, cfg.Backup = fed.Node("UA", "ua-1"), dir, c.b
		if err := cfg.Validate(); !errors.Is(err, config.ErrInvalid) || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%+v: %v, want an error naming %s", c.b, err, c.field)
		}
	}
}
