package config

import (
	"github.com/spf13/pflag"
)

// Overrides holds the values of the flags that override configuration
// fields; only flags given on the command line are applied.
type Overrides struct {
	fs      *pflag.FlagSet
	strings map[string]*string
	setters map[string]func(*Config, string)
}

// AddFlags defines the override flags on fs, which the caller owns.
func AddFlags(fs *pflag.FlagSet) *Overrides {
	o := &Overrides{fs: fs, strings: map[string]*string{}, setters: map[string]func(*Config, string){}}
	def := func(name, usage string, set func(*Config, string)) {
		o.strings[name] = fs.String(name, "", usage)
		o.setters[name] = set
	}
	def("listen", "federation gRPC address, host:port (overrides listen)", func(c *Config, v string) { c.Listen = v })
	def("data-dir", "folder of the node's store (overrides data_dir)", func(c *Config, v string) { c.DataDir = v })
	def("local-listen", "the office's local API address, host:port; \"\" disables (overrides local_api.listen)", func(c *Config, v string) { c.LocalAPI.Listen = v })
	def("gateway-listen", "the local API's JSON gateway address, host:port; \"\" disables (overrides local_api.gateway_listen)", func(c *Config, v string) { c.LocalAPI.GatewayListen = v })
	def("metrics-listen", "Prometheus metrics address, host:port; \"\" disables (overrides metrics_listen)", func(c *Config, v string) { c.MetricsListen = v })
	def("log-level", "debug, info, warn or error (overrides log.level)", func(c *Config, v string) { c.Log.Level = v })
	def("log-format", "json or text (overrides log.format)", func(c *Config, v string) { c.Log.Format = v })
	def("tls-cert", "node certificate file (overrides tls.cert_file)", func(c *Config, v string) { c.TLS.CertFile = v })
	def("tls-key", "node private key file (overrides tls.key_file)", func(c *Config, v string) { c.TLS.KeyFile = v })
	def("tls-bundle", "trust bundle file (overrides tls.bundle_file)", func(c *Config, v string) { c.TLS.BundleFile = v })
	def("tls-crl-dir", "folder of member CRLs (overrides tls.crl_dir)", func(c *Config, v string) { c.TLS.CRLDir = v })
	return o
}

// Apply sets the fields of the flags that were given.
func (o *Overrides) Apply(c *Config) {
	for name, set := range o.setters {
		if o.fs.Changed(name) {
			set(c, *o.strings[name])
		}
	}
}
