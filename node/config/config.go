package config

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"filippo.io/age"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/mtls"
	"github.com/accordfed/accord/federation/persons"
	"github.com/accordfed/accord/node/grpcserver"
)

// ErrInvalid is wrapped by every configuration error; the message names the
// field (as written in the file) and the reason.
var ErrInvalid = errors.New("invalid configuration")

// EnvPrefix starts the name of every environment variable that overrides a
// configuration field: the field's path in the file, upper-cased, with '_'
// between levels, e.g. ACCORD_TLS_CERT_FILE for tls.cert_file.
const EnvPrefix = "ACCORD_"

// Config is the configuration of a node (accordd) and of accordctl when it
// acts with the node's identity.
type Config struct {
	// Listen is the address of the federation gRPC server (mutual TLS).
	Listen string `yaml:"listen"`
	// MetricsListen is the address of the Prometheus metrics HTTP listener;
	// empty disables it. Bind it to loopback or a management network.
	MetricsListen string `yaml:"metrics_listen"`
	// Log sets the node's log output.
	Log LogConfig `yaml:"log"`
	// TLS locates the node's certificate, key, trust bundle and CRLs.
	TLS mtls.Config `yaml:"tls"`
	// GRPC holds the server's limits.
	GRPC grpcserver.Config `yaml:"grpc"`
	// ShutdownTimeout bounds the graceful stop (default 10s), after which
	// open RPCs are cut.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// Peers are overrides only: the federation address at which to reach a
	// member's node instead of the one the node registered in the registry
	// (a private link, a NAT). Without them, a registry server learns every
	// admitted member's nodes and addresses from the registry; no list of
	// peers is needed (accordctl peers check --all checks the registry's
	// nodes, at these addresses where given).
	Peers []Peer `yaml:"peers"`
	// DataDir holds the node's store and temporary files. Required.
	DataDir string `yaml:"data_dir"`
	// LocalAPI is the office's own API (cases, evidence, custody).
	LocalAPI LocalAPIConfig `yaml:"local_api"`
	// Console serves the office's web console to its users' browsers.
	Console ConsoleConfig `yaml:"console"`
	// Registry makes the node a server of the federation's shared registry.
	Registry RegistryConfig `yaml:"registry"`
	// Exchange tunes the case-metadata exchange.
	Exchange ExchangeConfig `yaml:"exchange"`
	// Notifications tunes the WatchMatches streams.
	Notifications NotificationsConfig `yaml:"notifications"`
	// Client is the identity accordctl uses for the local API: a user
	// certificate of this member. accordd ignores it.
	Client ClientConfig `yaml:"client"`
	// Backup says to whom the node encrypts its backups.
	Backup BackupConfig `yaml:"backup"`
	// Persons bounds person-token evaluations for other members and the
	// office's lookups of the register of interviewed persons.
	Persons PersonsConfig `yaml:"persons"`
}

// PersonsConfig bounds what other members may ask of this node's
// person-token key, and what the office's users may look up
// (federation/persons; docs/person-encodings.md). Each evaluation is one
// guess at a person: the budgets are the most guesses a member can make.
type PersonsConfig struct {
	// BudgetWindow is the period over which the budgets refill (default
	// 24h).
	BudgetWindow time.Duration `yaml:"budget_window"`
	// MatchingFloor is the matching evaluations any member may ask per
	// window (default 3000).
	MatchingFloor int `yaml:"matching_floor"`
	// MatchingPerPerson adds evaluations per window for each person in the
	// member's shared cases this node holds (default 16).
	MatchingPerPerson int `yaml:"matching_per_person"`
	// LookupPerMember and LookupPerUser are the lookup evaluations a member,
	// and one of its users, may ask per window (default 900 and 150; a
	// lookup costs three).
	LookupPerMember int `yaml:"lookup_per_member"`
	LookupPerUser   int `yaml:"lookup_per_user"`
	// LookupWindow, LookupsPerUser and LookupsPerNode limit the office's
	// own users: lookups per user and per node per window (default 1h, 20
	// and 200).
	LookupWindow   time.Duration `yaml:"lookup_window"`
	LookupsPerUser int           `yaml:"lookups_per_user"`
	LookupsPerNode int           `yaml:"lookups_per_node"`
	// KeyRotation is how often the node rotates its person-token key
	// (default 2160h, 90 days; at least 1h). A rotation makes every member
	// evaluate its persons again, and ends what the old tokens told
	// anyone.
	KeyRotation time.Duration `yaml:"key_rotation"`
}

// BackupConfig says to whom the node encrypts the backups it makes
// (accordctl backup). Without recipients the node refuses to make a backup,
// unless Unencrypted says that plain archives are wanted.
type BackupConfig struct {
	// Recipients are the office's age recipients (X25519 public keys,
	// "age1..."): every backup is encrypted to all of them, and any one of
	// their identities restores it. Made with accordctl backup keygen (or
	// age-keygen).
	Recipients []string `yaml:"recipients"`
	// RecipientsFile is a file of more recipients, one a line ("#" starts a
	// comment), read at each backup: a changed file applies to the next
	// backup.
	RecipientsFile string `yaml:"recipients_file"`
	// Unencrypted allows unencrypted backups when there are no recipients
	// (each one is logged as a warning). It cannot be set together with
	// recipients.
	Unencrypted bool `yaml:"unencrypted"`
}

// ParseRecipients returns the age recipients of Recipients and
// RecipientsFile (none when neither is set). The error names the field.
func (b *BackupConfig) ParseRecipients() ([]age.Recipient, error) {
	var out []age.Recipient
	for i, r := range b.Recipients {
		rs, err := age.ParseRecipients(strings.NewReader(strings.TrimSpace(r)))
		if err != nil || len(rs) != 1 {
			// age quotes only values that start as a recipient (age1...),
			// never an identity pasted by mistake.
			return nil, fmt.Errorf("%w: backup.recipients[%d]: not an age recipient (age1...): %w", ErrInvalid, i, err)
		}
		out = append(out, rs...)
	}
	if b.RecipientsFile != "" {
		if mtls.NotAPath(b.RecipientsFile) {
			return nil, fmt.Errorf("%w: backup.recipients_file: %w", ErrInvalid, mtls.ErrNotAPath)
		}
		f, err := os.Open(b.RecipientsFile)
		if err != nil {
			return nil, fmt.Errorf("%w: backup.recipients_file: %w", ErrInvalid, err)
		}
		defer f.Close()
		rs, err := age.ParseRecipients(f)
		if err != nil {
			return nil, fmt.Errorf("%w: backup.recipients_file: %s: %w", ErrInvalid, b.RecipientsFile, err)
		}
		out = append(out, rs...)
	}
	return out, nil
}

func (b *BackupConfig) validate(ps *problems) {
	rs, err := b.ParseRecipients()
	if err != nil {
		ps.add(err)
		return
	}
	if b.Unencrypted && len(rs) > 0 {
		ps.addf("backup.unencrypted", "true, but backup.recipients or backup.recipients_file are set: choose one")
	}
}

// LocalAPIConfig configures the local API listener.
type LocalAPIConfig struct {
	// Listen is its address, host:port; "" disables it. Reachable from the
	// office's own network only.
	Listen string `yaml:"listen"`
	// GatewayListen is the address, host:port, of the local API's JSON
	// gateway: the same API as JSON over HTTPS (HTTP/2 and HTTP/1.1), with
	// the same client-certificate authentication and authorisation, and its
	// OpenAPI description at /v1/openapi.json (docs/api.md). "" (the
	// default) disables it. Reachable from the office's own network only.
	GatewayListen string `yaml:"gateway_listen"`
	// Admins are user account ids with the admin role (the name in
	// spiffe://<federation>/member/<MEMBER>/user/<name>).
	Admins []string `yaml:"admins"`
	// MaxConcurrentImports is how many ImportCases streams run at once
	// (default 2); one more is refused with RESOURCE_EXHAUSTED.
	MaxConcurrentImports int `yaml:"max_concurrent_imports"`
	// ImportBufferBytes bounds the input one import holds in memory while
	// it validates (default 16 MiB, at least 4 MiB).
	ImportBufferBytes int64 `yaml:"import_buffer_bytes"`
}

// ConsoleConfig configures the office's web console (docs/console.md):
// served over HTTPS to the office's users, each browser signed in by a user
// certificate of this member (a smart card or an imported PKCS#12 file),
// with the same authorisation as the local API.
type ConsoleConfig struct {
	// Listen is its address, host:port; "" (the default) disables it.
	// Reachable from the office's own network only.
	Listen string `yaml:"listen"`
	// CertFile and KeyFile are the HTTPS server's certificate (PEM, the
	// chain after the leaf) and key, from the office's web PKI, naming the
	// host browsers open. Both or neither: without them the node's own
	// certificate is served (browsers then need its CA and one of its
	// --dns names or --ip addresses in the URL).
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// TileURL is the office's map tile server, an https URL template with
	// {z}, {x} and {y}; "" draws the bundled offline base map.
	TileURL string `yaml:"tile_url"`
}

func (c *ConsoleConfig) validate(cfg *Config, ps *problems) {
	if c.Listen == "" {
		if c.CertFile != "" || c.KeyFile != "" || c.TileURL != "" {
			ps.addf("console.listen", "required when console.cert_file, console.key_file or console.tile_url is set")
		}
		return
	}
	ps.add(checkAddr("console.listen", c.Listen, true))
	for _, other := range []struct{ field, addr string }{{"listen", cfg.Listen}, {"local_api.listen", cfg.LocalAPI.Listen},
		{"local_api.gateway_listen", cfg.LocalAPI.GatewayListen}, {"metrics_listen", cfg.MetricsListen}} {
		if c.Listen == other.addr && !strings.HasSuffix(other.addr, ":0") {
			ps.addf("console.listen", "must differ from %s: the console has a listener of its own", other.field)
		}
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		ps.addf("console.cert_file", "console.cert_file and console.key_file go together: give both or neither")
	}
	if c.TileURL != "" {
		if u, err := url.Parse(c.TileURL); err != nil || u.Scheme != "https" || u.Host == "" ||
			!strings.Contains(c.TileURL, "{z}") || !strings.Contains(c.TileURL, "{x}") || !strings.Contains(c.TileURL, "{y}") {
			ps.addf("console.tile_url", "%q: an https URL template with {z}, {x} and {y}", c.TileURL)
		}
	}
}

// ExchangeConfig tunes the case-metadata exchange.
type ExchangeConfig struct {
	// TombstoneRetention is how long the feed keeps the tombstones of
	// withdrawn cases (default 720h, 30 days). A peer whose cursor is older
	// resyncs from the start.
	TombstoneRetention time.Duration `yaml:"tombstone_retention"`
	// MaxStreamsPerPeer is how many Sync streams one member may hold open
	// on this node at once, over all its nodes (default 4; a member's
	// puller needs one). One more is refused with RESOURCE_EXHAUSTED.
	MaxStreamsPerPeer int `yaml:"max_streams_per_peer"`
	// MaxBatchBytes bounds one response of a Sync stream (default 1 MiB):
	// with gRPC's flow control, a stream whose caller does not read holds
	// at most two responses in this node's memory.
	MaxBatchBytes int `yaml:"max_batch_bytes"`
	// HeartbeatInterval is how often a caught-up Sync stream this node
	// serves sends a heartbeat (default 5s); a peer that sends nothing for
	// twice this long counts as not answering, and its stream is opened
	// again. Every member should use the same value.
	HeartbeatInterval time.Duration `yaml:"heartbeat_interval"`
}

// ClientConfig is the user identity accordctl presents to the local API.
type ClientConfig struct {
	// CertFile is the user's certificate.
	CertFile string `yaml:"cert_file"`
	// KeyFile is its private key.
	KeyFile string `yaml:"key_file"`
}

// LogConfig sets the log level and format.
type LogConfig struct {
	// Level is debug, info (default), warn or error.
	Level string `yaml:"level"`
	// Format is json (default) or text.
	Format string `yaml:"format"`
}

// Peer is another member's node.
type Peer struct {
	// Member is the peer's member code (e.g. PL).
	Member string `yaml:"member"`
	// Address is the peer's federation address, host:port.
	Address string `yaml:"address"`
}

// Load reads a configuration file (none when path is empty), applies the
// environment and normalises the result: defaults are filled in and relative
// paths are taken relative to the file's folder. It does not validate: apply
// flags, then call Validate. The order is defaults < file < environment <
// flags. Unknown
// fields are errors, so that a misspelt field is not silently ignored.
func Load(path string, environ []string) (Config, error) {
	c := Config{Listen: "127.0.0.1:7400", MetricsListen: "127.0.0.1:9400"}
	base := ""
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return Config{}, problems{{File: path, Reason: err.Error()}}.err()
		}
		if ps := decodeYAML(data, &c); len(ps) > 0 {
			for _, p := range ps {
				p.File = path
			}
			return Config{}, problems(ps).err()
		}
		abs, err := filepath.Abs(path)
		if err != nil {
			return Config{}, problems{{File: path, Reason: err.Error()}}.err()
		}
		base = filepath.Dir(abs)
	}
	if err := ApplyEnv(&c, environ); err != nil {
		return Config{}, err
	}
	c.normalize(base)
	return c, nil
}

func (c *Config) normalize(base string) {
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.Log.Format == "" {
		c.Log.Format = "json"
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = 10 * time.Second
	}
	if c.Exchange.TombstoneRetention == 0 {
		c.Exchange.TombstoneRetention = 30 * 24 * time.Hour
	}
	if c.LocalAPI.MaxConcurrentImports == 0 {
		c.LocalAPI.MaxConcurrentImports = 2
	}
	if c.LocalAPI.ImportBufferBytes == 0 {
		c.LocalAPI.ImportBufferBytes = 16 << 20
	}
	if c.Exchange.MaxStreamsPerPeer == 0 {
		c.Exchange.MaxStreamsPerPeer = 4
	}
	if c.Exchange.MaxBatchBytes == 0 {
		c.Exchange.MaxBatchBytes = 1 << 20
	}
	if c.Exchange.HeartbeatInterval == 0 {
		c.Exchange.HeartbeatInterval = 5 * time.Second
	}
	c.Persons.normalize()
	c.Notifications.normalize()
	c.TLS.Normalize(base)
	c.GRPC.Normalize()
	for _, p := range []*string{&c.DataDir, &c.Client.CertFile, &c.Client.KeyFile, &c.Console.CertFile, &c.Console.KeyFile, &c.Backup.RecipientsFile, &c.Notifications.Webhook.SecretFile} {
		if *p != "" && !filepath.IsAbs(*p) && base != "" && !mtls.NotAPath(*p) {
			*p = filepath.Join(base, *p)
		}
	}
}

// Validate checks every field and names the first bad one.
func (c *Config) Validate() error {
	var ps problems
	ps.add(checkAddr("listen", c.Listen, true))
	if c.MetricsListen != "" {
		ps.add(checkAddr("metrics_listen", c.MetricsListen, true))
	}
	if _, err := ParseLevel(c.Log.Level); err != nil {
		ps.addf("log.level", "%v", err)
	}
	if c.Log.Format != "json" && c.Log.Format != "text" {
		ps.addf("log.format", "%q: must be json or text", c.Log.Format)
	}
	ps.addAll(c.TLS.Validate("tls"))
	ps.addAll(c.GRPC.Validate("grpc"))
	if c.ShutdownTimeout < 0 {
		ps.addf("shutdown_timeout", "%s: must not be negative", c.ShutdownTimeout)
	}
	if c.DataDir == "" {
		ps.addf("data_dir", "required (the folder of the node's store)")
	}
	if c.LocalAPI.Listen != "" {
		ps.add(checkAddr("local_api.listen", c.LocalAPI.Listen, true))
		if c.LocalAPI.Listen == c.Listen && !strings.HasSuffix(c.Listen, ":0") {
			ps.addf("local_api.listen", "must differ from listen: the office's API and the federation's are separate")
		}
	}
	if c.LocalAPI.GatewayListen != "" {
		if err := checkAddr("local_api.gateway_listen", c.LocalAPI.GatewayListen, true); err != nil {
			return err
		}
		for _, other := range []struct{ field, addr string }{{"listen", c.Listen}, {"local_api.listen", c.LocalAPI.Listen}, {"metrics_listen", c.MetricsListen}} {
			if c.LocalAPI.GatewayListen == other.addr && !strings.HasSuffix(other.addr, ":0") {
				return fmt.Errorf("%w: local_api.gateway_listen: must differ from %s: the gateway has a listener of its own", ErrInvalid, other.field)
			}
		}
	}
	for i, a := range c.LocalAPI.Admins {
		if err := identity.ValidateName(a); err != nil {
			ps.addf(fmt.Sprintf("local_api.admins[%d]", i), "%v", err)
		}
	}
	if n := c.LocalAPI.MaxConcurrentImports; n < 1 || n > 64 {
		ps.addf("local_api.max_concurrent_imports", "%d: must be between 1 and 64", n)
	}
	if n := c.LocalAPI.ImportBufferBytes; n < 4<<20 || n > 1<<30 {
		ps.addf("local_api.import_buffer_bytes", "%d: must be between 4194304 (4 MiB) and 1073741824 (1 GiB)", n)
	}
	if c.Exchange.TombstoneRetention < time.Hour {
		ps.addf("exchange.tombstone_retention", "%s: must be at least 1h", c.Exchange.TombstoneRetention)
	}
	if n := c.Exchange.MaxStreamsPerPeer; n < 1 || n > 64 {
		ps.addf("exchange.max_streams_per_peer", "%d: must be between 1 and 64", n)
	}
	if n := c.Exchange.MaxBatchBytes; n < 16<<10 || n > c.GRPC.MaxSendMsgBytes/2 {
		ps.addf("exchange.max_batch_bytes", "%d: must be between 16384 and half of grpc.max_send_msg_bytes (%d)", n, c.GRPC.MaxSendMsgBytes/2)
	}
	if d := c.Exchange.HeartbeatInterval; d < 50*time.Millisecond || d > time.Minute {
		ps.addf("exchange.heartbeat_interval", "%s: must be between 50ms and 1m", d)
	}
	c.Console.validate(c, &ps)
	c.Registry.validate(c.Listen, &ps)
	c.Backup.validate(&ps)
	c.Persons.validate(&ps)
	c.Notifications.validate(&ps)
	if c.Registry.Server && c.Registry.RaftListen == c.Listen && !strings.HasSuffix(c.Listen, ":0") {
		ps.addf("registry.raft_listen", "must differ from listen")
	}
	for i, p := range c.Peers {
		if err := identity.ValidateMember(p.Member); err != nil {
			ps.addf(fmt.Sprintf("peers[%d].member", i), "%v", err)
		}
		ps.add(checkAddr(fmt.Sprintf("peers[%d].address", i), p.Address, false))
	}
	return ps.err()
}

func checkAddr(field, addr string, listen bool) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%w: %s: %q: must be host:port (%w)", ErrInvalid, field, addr, err)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 || (!listen && n == 0) {
		return fmt.Errorf("%w: %s: %q: port must be a number between %d and 65535", ErrInvalid, field, addr, map[bool]int{true: 0, false: 1}[listen])
	}
	if !listen && host == "" {
		return fmt.Errorf("%w: %s: %q: host is required", ErrInvalid, field, addr)
	}
	return nil
}

// ParseLevel parses a log level name.
func ParseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("%q: must be debug, info, warn or error", s)
	}
	return l, nil
}

// ApplyEnv sets fields from ACCORD_* variables of environ (in os.Environ
// form). Lists (peers) cannot be set this way. An unknown ACCORD_ variable is
// an error, so that a misspelt one is noticed.
func ApplyEnv(c *Config, environ []string) error {
	fields := map[string]reflect.Value{}
	collectEnvFields(reflect.ValueOf(c).Elem(), "", fields)
	var ps problems
	for _, kv := range environ {
		name, val, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, EnvPrefix) {
			continue
		}
		f, ok := fields[name]
		if !ok {
			if isClientEnv(name) {
				continue
			}
			reason := "no such configuration field"
			if near := closest(name, slices.Collect(maps.Keys(fields))); near != "" {
				reason += " (did you mean " + near + "?)"
			}
			ps = append(ps, &Problem{Field: "environment variable " + name, Reason: reason})
			continue
		}
		if err := setFromString(f, val); err != nil {
			ps = append(ps, &Problem{Field: "environment variable " + name, Reason: envValue(val) + ": " + err.Error()})
		}
	}
	return ps.err()
}

// isClientEnv lists ACCORD_ variables that are read by tools, not by the
// node configuration.
func isClientEnv(name string) bool {
	return name == EnvPrefix+"CONFIG"
}

// EnvNames lists the environment variables that override fields, for help
// texts and documentation.
func EnvNames() []string {
	var c Config
	fields := map[string]reflect.Value{}
	collectEnvFields(reflect.ValueOf(&c).Elem(), "", fields)
	out := make([]string, 0, len(fields))
	for k := range fields {
		out = append(out, k)
	}
	return out
}

func collectEnvFields(v reflect.Value, prefix string, out map[string]reflect.Value) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		tag, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		if tag == "" || tag == "-" {
			continue
		}
		name := prefix + strings.ToUpper(tag)
		fv := v.Field(i)
		switch fv.Kind() {
		case reflect.Struct:
			collectEnvFields(fv, name+"_", out)
		case reflect.Slice:
			// Lists are set in the file only.
		default:
			out[EnvPrefix+name] = fv
		}
	}
}

// envValue shows the value of an environment variable in a message: quoted
// when it is short and on one line and does not look like key material,
// else only its length (a key pasted into a variable must not be printed
// back).
func envValue(v string) string {
	if len(v) <= 64 && !mtls.NotAPath(v) {
		return strconv.Quote(v)
	}
	return fmt.Sprintf("the value (%d bytes, not shown)", len(v))
}

// setFromString sets f from s. Its errors do not quote s: the caller
// decides whether the value may be shown (envValue).
func setFromString(f reflect.Value, s string) error {
	if f.Type() == reflect.TypeOf(time.Duration(0)) {
		d, err := time.ParseDuration(s)
		if err != nil {
			return errors.New("not a duration such as 2s, 500ms or 1h30m")
		}
		f.SetInt(int64(d))
		return nil
	}
	switch f.Kind() {
	case reflect.String:
		f.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return errors.New("not true or false")
		}
		f.SetBool(b)
	case reflect.Int, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return errors.New("not a whole number, or out of range")
		}
		f.SetInt(n)
	case reflect.Uint, reflect.Uint32, reflect.Uint64:
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return errors.New("not a whole number of 0 or more, or out of range")
		}
		f.SetUint(n)
	default:
		return fmt.Errorf("cannot set a %s from the environment", f.Kind())
	}
	return nil
}

// normalize fills in the defaults of federation/persons.
func (p *PersonsConfig) normalize() {
	b, l := persons.DefaultBudgets(), persons.DefaultLookupLimits()
	for _, f := range []struct {
		v   *int
		def int
	}{{&p.MatchingFloor, b.MatchingFloor}, {&p.MatchingPerPerson, b.MatchingPerPerson}, {&p.LookupPerMember, b.LookupPerMember},
		{&p.LookupPerUser, b.LookupPerUser}, {&p.LookupsPerUser, l.PerUser}, {&p.LookupsPerNode, l.PerNode}} {
		if *f.v == 0 {
			*f.v = f.def
		}
	}
	if p.BudgetWindow == 0 {
		p.BudgetWindow = b.Window
	}
	if p.LookupWindow == 0 {
		p.LookupWindow = l.Window
	}
	if p.KeyRotation == 0 {
		p.KeyRotation = 90 * 24 * time.Hour
	}
}

func (p *PersonsConfig) validate(ps *problems) {
	for _, f := range []struct {
		name string
		v    int
	}{{"matching_floor", p.MatchingFloor}, {"matching_per_person", p.MatchingPerPerson}, {"lookup_per_member", p.LookupPerMember},
		{"lookup_per_user", p.LookupPerUser}, {"lookups_per_user", p.LookupsPerUser}, {"lookups_per_node", p.LookupsPerNode}} {
		if f.v < 1 || f.v > 100_000_000 {
			ps.addf("persons."+f.name, "%d: must be between 1 and 100000000", f.v)
		}
	}
	for _, f := range []struct {
		name string
		v    time.Duration
	}{{"budget_window", p.BudgetWindow}, {"lookup_window", p.LookupWindow}} {
		if f.v < time.Minute {
			ps.addf("persons."+f.name, "%s: must be at least 1m", f.v)
		}
	}
	if p.KeyRotation < time.Hour {
		ps.addf("persons.key_rotation", "%s: must be at least 1h", p.KeyRotation)
	}
}
