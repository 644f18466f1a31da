package main

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/pki"
	"github.com/accordfed/accord/federation/trust"
)

// certsCmd holds what the certs commands share.
type certsCmd struct {
	g   *globalOptions
	now func() time.Time
}

func newCertsCmd(g *globalOptions) *cobra.Command {
	c := &certsCmd{g: g, now: time.Now}
	cmd := &cobra.Command{
		Use:   "certs",
		Short: "Make member CAs, node and user certificates, CRLs and trust bundles",
		Long: `certs is the federation's certificate toolbox. Every member office runs its own
certificate authority (CA); the federation's trust bundle lists which CA may vouch
for which member; a node or user is the identity named in its certificate
(spiffe://<federation>/member/<MEMBER>/node/<name> or .../user/<account>).

The usual order for a member's operator:

  1. certs ca create       make the member's CA (once; keep ca.key offline)
  2. certs bundle add      put the CA certificate into the federation's trust bundle
  3. certs issue           issue a certificate for each node and user
  4. certs revoke, crl     revoke a certificate and publish a new CRL
  5. certs inspect         find out what any certificate, key, CRL or bundle is

For a local test federation, certs dev-federation does all of it at once.`,
		Example: `  accordctl certs ca create --federation accord.example --member UA --dir ca/UA
  accordctl certs issue --ca ca/UA --node ua-1 --dns ua-1.prosecutor.example --out nodes/ua-1
  accordctl certs dev-federation --federation accord.test --members UA,PL,DE --out certs/out`,
	}
	cmd.AddCommand(c.caCmd(), c.issueCmd(), c.revokeCmd(), c.crlCmd(), c.listCmd(), c.bundleCmd(), c.inspectCmd(), c.devFederationCmd())
	return cmd
}

// ---------------------------------------------------------------- helpers

// certsDuration is a duration flag that also takes days and years ("90d",
// "10y"; a year is 365 days) besides Go durations ("2160h").
type certsDuration struct{ d time.Duration }

func (v *certsDuration) Set(s string) error {
	d, err := certsParseDuration(s)
	if err != nil {
		return err
	}
	v.d = d
	return nil
}

func (v *certsDuration) String() string { return certsFormatDuration(v.d) }
func (v *certsDuration) Type() string   { return "duration" }

func certsParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	for _, u := range []struct {
		suffix string
		unit   time.Duration
	}{{"d", 24 * time.Hour}, {"y", 365 * 24 * time.Hour}} {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseUint(n, 10, 32)
			if err != nil {
				return 0, fmt.Errorf("%q: want a whole number of days (90d) or years (10y), or a Go duration (2160h)", s)
			}
			return time.Duration(v) * u.unit, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q: want a number of days (90d), years (10y), or a Go duration (2160h)", s)
	}
	return d, nil
}

func certsFormatDuration(d time.Duration) string {
	const day, year = 24 * time.Hour, 365 * 24 * time.Hour
	switch {
	case d == 0:
		return "0"
	case d%year == 0:
		return fmt.Sprintf("%dy", d/year)
	case d%day == 0:
		return fmt.Sprintf("%dd", d/day)
	default:
		return d.String()
	}
}

// certsFlagError turns a *pki.FieldError into an error that names the flag
// the field came from, quoting the value as the operator typed it; other
// errors pass through. cmd may be nil.
func certsFlagError(cmd *cobra.Command, err error, flags map[string]string) error {
	var fe *pki.FieldError
	if !errors.As(err, &fe) {
		return err
	}
	name, ok := flags[fe.Field]
	if !ok {
		return err
	}
	value := fe.Value
	if cmd != nil {
		if f := cmd.Flags().Lookup(name); f != nil && f.Changed && !strings.HasSuffix(f.Value.Type(), "Slice") {
			value = f.Value.String()
		}
	}
	if value != "" {
		return fmt.Errorf("--%s %q: %s", name, value, fe.Reason)
	}
	return fmt.Errorf("--%s: %s", name, fe.Reason)
}

// certsExactlyOne checks that exactly one of two flags was given, with a
// plainer message than cobra's flag groups.
func certsExactlyOne(cmd *cobra.Command, a, b, what string) error {
	ca, cb := cmd.Flags().Changed(a), cmd.Flags().Changed(b)
	if ca == cb {
		return fmt.Errorf("give exactly one of --%s or --%s (%s)", a, b, what)
	}
	return nil
}

// certsOpenCA opens the CA named by --ca.
func certsOpenCA(dir string) (*pki.CA, error) {
	ca, err := pki.OpenCA(dir)
	if errors.Is(err, pki.ErrNoCA) {
		return nil, fmt.Errorf("--ca %s: no CA there (no %s); make one with `accordctl certs ca create --dir %s ...`", dir, pki.CACertFile, dir)
	}
	if err != nil {
		return nil, fmt.Errorf("--ca %s: %w", dir, err)
	}
	return ca, nil
}

func certsParseIPs(flag string, in []string) ([]net.IP, error) {
	var out []net.IP
	for _, s := range in {
		ip := net.ParseIP(strings.TrimSpace(s))
		if ip == nil {
			return nil, fmt.Errorf("--%s %q: not an IPv4 or IPv6 address", flag, s)
		}
		out = append(out, ip)
	}
	return out, nil
}

// certsParseSerial reads a serial in hex, with or without 0x and colons.
func certsParseSerial(s string) (*big.Int, error) {
	h := strings.ToLower(strings.TrimSpace(s))
	h = strings.TrimPrefix(h, "0x")
	h = strings.NewReplacer(":", "", " ", "").Replace(h)
	n, ok := new(big.Int).SetString(h, 16)
	if !ok || n.Sign() <= 0 {
		return nil, fmt.Errorf("--serial %q: want the certificate's serial in hexadecimal, as `accordctl certs inspect` or `certs list` shows it", s)
	}
	return n, nil
}

func certsDate(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

func certsDays(d time.Duration) string {
	n := int(d / (24 * time.Hour))
	if n == 1 {
		return "1 day"
	}
	return fmt.Sprintf("%d days", n)
}

// certsRow prints one "label  value" line of a summary.
func certsRow(w io.Writer, label, value string) {
	fmt.Fprintf(w, "  %-13s %s\n", label, value)
}

func certsCompleteNothing(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return nil, cobra.ShellCompDirectiveNoFileComp
}

func certsCompleteFiles(exts ...string) cobra.CompletionFunc {
	return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		if len(exts) == 0 {
			return nil, cobra.ShellCompDirectiveDefault
		}
		return exts, cobra.ShellCompDirectiveFilterFileExt
	}
}

// ---------------------------------------------------------------- ca

func (c *certsCmd) caCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ca",
		Short: "Create a member's certificate authority",
		Long: `ca holds the commands for a member's own certificate authority. Each member office
runs exactly one CA at a time (a new one when the old one nears its end), and only
that CA may vouch for the member's nodes and users.`,
	}
	cmd.AddCommand(c.caCreateCmd())
	return cmd
}

type certsCAResult struct {
	Federation  string    `json:"federation"`
	Member      string    `json:"member"`
	Name        string    `json:"name,omitempty"`
	Dir         string    `json:"dir"`
	Certificate string    `json:"certificate"`
	Key         string    `json:"key"`
	NotAfter    time.Time `json:"not_after"`
	SHA256      string    `json:"sha256"`
	// CAFingerprint is the fingerprint of the member's CA set with this CA
	// alone (trust.CASetFingerprint): what a new member tells each voting
	// member over a second channel (accordctl member vote --ca-fingerprint).
	CAFingerprint string `json:"ca_fingerprint"`
}

func (c *certsCmd) caCreateCmd() *cobra.Command {
	var (
		opts     pki.CAOptions
		validity = certsDuration{pki.DefaultCAValidity}
		dir      string
	)
	cmd := &cobra.Command{
		Use:   "create --federation NAME --member CODE --dir DIR",
		Short: "Create a member's CA: an ECDSA P-256 key and a self-signed CA certificate",
		Long: `create makes a new certificate authority for one member of the federation and
saves it in --dir (made with mode 0700):

  ca.crt      the CA certificate: share it, it goes into the trust bundle
  ca.key      the CA private key (mode 0600): keep it on a guarded, preferably
              offline machine; whoever holds it can speak for the member
  state.json  what the CA issued and revoked, and the last CRL number

The certificate names the member in one URI SAN (spiffe://<federation>/member/<MEMBER>),
may sign node and user certificates only (path length 0) and CRLs, and is valid for
--validity (10 years unless told). create never overwrites an existing CA.`,
		Example: `  accordctl certs ca create --federation accord.example --member UA \
      --name "Office of the Prosecutor General" --dir ca/UA
  accordctl certs ca create --federation accord.example --member ICC --validity 5y --dir ca/ICC`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Validity = validity.d
			opts.Now = c.now
			ca, err := pki.CreateCA(dir, opts)
			if errors.Is(err, pki.ErrCAExists) {
				return fmt.Errorf("--dir %s: already holds a CA; a CA is never overwritten (remove it first if you really mean to replace it)", dir)
			}
			if err != nil {
				return certsFlagError(cmd, err, map[string]string{"Federation": "federation", "Member": "member", "Name": "name", "Validity": "validity", "dir": "dir"})
			}
			res := certsCAResult{
				Federation: ca.Federation, Member: ca.Member, Name: ca.Name(), Dir: dir,
				Certificate: filepath.Join(dir, pki.CACertFile), Key: filepath.Join(dir, pki.CAKeyFile),
				NotAfter: ca.Cert.NotAfter, SHA256: trust.Fingerprint(ca.Cert),
			}
			if res.CAFingerprint, err = caSetFingerprint(ca.Cert); err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if c.g.JSON() {
				return printJSON(w, res)
			}
			fmt.Fprintf(w, "Created the CA of member %s in federation %s in %s\n", res.Member, res.Federation, dir)
			certsRow(w, "certificate", res.Certificate+" (share it: it goes into the trust bundle)")
			certsRow(w, "private key", res.Key+" (mode 0600; keep it offline, never commit it)")
			certsRow(w, "valid until", certsDate(res.NotAfter))
			certsRow(w, "SHA-256", res.SHA256)
			certsRow(w, "CA fingerprint", res.CAFingerprint+" (joining a federation: tell it to each voting member over a second channel, e.g. by phone or letter)")
			fmt.Fprintf(w, "Next: accordctl certs bundle add --bundle trust-bundle.json --member %s %s\n", res.Member, res.Certificate)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Federation, "federation", "", "federation name (lower-case DNS labels), e.g. accord.example")
	f.StringVar(&opts.Member, "member", "", "member code: ISO 3166-1 alpha-2 country code (UA) or organisation code (ICC)")
	f.StringVar(&opts.Name, "name", "", "office name, written into the certificate's organisation (O), e.g. \"Office of the Prosecutor General\"")
	f.Var(&validity, "validity", "how long the CA is valid: days (3650d), years (10y) or a Go duration (87600h)")
	f.StringVar(&dir, "dir", "", "folder to create the CA in (made with mode 0700)")
	_ = cmd.MarkFlagRequired("federation")
	_ = cmd.MarkFlagRequired("member")
	_ = cmd.MarkFlagRequired("dir")
	_ = cmd.MarkFlagDirname("dir")
	for _, n := range []string{"federation", "member", "name", "validity"} {
		_ = cmd.RegisterFlagCompletionFunc(n, certsCompleteNothing)
	}
	return cmd
}

// ---------------------------------------------------------------- issue

type certsIssueResult struct {
	Identity    string    `json:"identity"`
	Kind        string    `json:"kind"`
	Serial      string    `json:"serial"`
	NotBefore   time.Time `json:"not_before"`
	NotAfter    time.Time `json:"not_after"`
	DNSNames    []string  `json:"dns_names,omitempty"`
	IPAddresses []string  `json:"ip_addresses,omitempty"`
	Certificate string    `json:"certificate"`
	Key         string    `json:"key"`
	CA          string    `json:"ca"`
	SHA256      string    `json:"sha256"`
	Replaced    bool      `json:"replaced"`
	// PKCS12 is the PKCS#12 file's path (--pkcs12), and PKCS12Password
	// its password when it was generated.
	PKCS12         string `json:"pkcs12,omitempty"`
	PKCS12Password string `json:"pkcs12_password,omitempty"`
}

func (c *certsCmd) issueCmd() *cobra.Command {
	var (
		caDir, node, user, out string
		dns, ips               []string
		validity               = certsDuration{pki.DefaultLeafValidity}
		p12                    bool
		p12PasswordFile        string
	)
	cmd := &cobra.Command{
		Use:   "issue --ca DIR (--node NAME | --user ACCOUNT) --out DIR",
		Short: "Issue a node or user certificate from a member's CA",
		Long: `issue makes a fresh ECDSA P-256 key and a certificate signed by the member's CA
in --ca, and writes them into --out:

  node.crt, node.key   for --node (server and client authentication), or
  user.crt, user.key   for --user (client authentication only)
  ca.crt               the member's CA certificate

With --pkcs12, the certificate, its key and the CA certificate are also
written as one PKCS#12 file (user.p12 or node.p12, mode 0600), the form in
which a user imports the certificate into a browser for the office's web
console (docs/console.md) or into a smart-card tool. It is encrypted with
the first line of --pkcs12-password-file, or else with a random password
printed once: give it to the user apart from the file.

The key is written with mode 0600 and is never shown. The certificate names exactly
one identity, spiffe://<federation>/member/<MEMBER>/node/<NAME> (or /user/<ACCOUNT>);
a user's account is an opaque id, never a person's name. Give a node the DNS names
and IP addresses its peers dial (--dns, --ip; repeat or separate with commas).
The certificate is valid for --validity (90 days unless told, at most 397 days)
and never beyond the CA's own end. Files already in --out are replaced (renewal).`,
		Example: `  accordctl certs issue --ca ca/UA --node ua-1 --dns ua-1.prosecutor.example --ip 10.0.0.7 --out nodes/ua-1
  accordctl certs issue --ca ca/UA --user u-1042 --validity 30d --out users/u-1042
  accordctl certs issue --ca ca/UA --user u-1042 --pkcs12 --out users/u-1042`,
		Args: cobra.NoArgs,
		PreRunE: func(cmd *cobra.Command, _ []string) error {
			return certsExactlyOne(cmd, "node", "user", "what the certificate is for")
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			kind, name, nameFlag := identity.KindNode, node, "node"
			if user != "" {
				kind, name, nameFlag = identity.KindUser, user, "user"
			}
			ipList, err := certsParseIPs("ip", ips)
			if err != nil {
				return err
			}
			password, generated, err := certsPKCS12Password(p12, p12PasswordFile)
			if err != nil {
				return err
			}
			ca, err := certsOpenCA(caDir)
			if err != nil {
				return err
			}
			_, statErr := os.Stat(filepath.Join(out, pki.KeyFile(kind)))
			issued, err := ca.Issue(pki.IssueOptions{Kind: kind, Name: name, DNSNames: dns, IPAddresses: ipList, Validity: validity.d})
			if err != nil {
				return certsFlagError(cmd, err, map[string]string{"Name": nameFlag, "Kind": nameFlag, "DNSNames": "dns", "IPAddresses": "ip", "Validity": "validity"})
			}
			if err := pki.WriteIssued(out, issued, ca); err != nil {
				return fmt.Errorf("--out %s: %w", out, err)
			}
			res := certsIssueResult{
				Identity: issued.Identity.String(), Kind: string(kind), Serial: issued.Cert.SerialNumber.Text(16),
				NotBefore: issued.Cert.NotBefore, NotAfter: issued.Cert.NotAfter, DNSNames: issued.Cert.DNSNames,
				Certificate: filepath.Join(out, pki.CertFile(kind)), Key: filepath.Join(out, pki.KeyFile(kind)),
				CA: filepath.Join(out, pki.CACertFile), SHA256: trust.Fingerprint(issued.Cert), Replaced: statErr == nil,
			}
			for _, ip := range issued.Cert.IPAddresses {
				res.IPAddresses = append(res.IPAddresses, ip.String())
			}
			if p12 {
				if res.PKCS12, err = pki.WritePKCS12(out, issued, ca, password); err != nil {
					return fmt.Errorf("--pkcs12: %w", err)
				}
				if generated {
					res.PKCS12Password = password
				}
			}
			w := cmd.OutOrStdout()
			if c.g.JSON() {
				return printJSON(w, res)
			}
			fmt.Fprintf(w, "Issued a %s certificate for %s\n", kind, res.Identity)
			certsRow(w, "certificate", res.Certificate)
			certsRow(w, "private key", res.Key+" (mode 0600; it stays on this "+string(kind)+"'s machine)")
			certsRow(w, "CA", res.CA)
			certsRow(w, "serial", res.Serial)
			lifetime := issued.Cert.NotAfter.Sub(issued.Cert.NotBefore)
			until := fmt.Sprintf("%s (%s)", certsDate(res.NotAfter), certsDays(lifetime.Round(time.Hour)))
			if want := validity.d; want > 0 && lifetime < want {
				until += ", cut to the CA's own end"
			}
			certsRow(w, "valid until", until)
			if len(res.DNSNames) > 0 {
				certsRow(w, "DNS names", strings.Join(res.DNSNames, ", "))
			}
			if len(res.IPAddresses) > 0 {
				certsRow(w, "IP addresses", strings.Join(res.IPAddresses, ", "))
			}
			if res.PKCS12 != "" {
				certsRow(w, "PKCS#12", res.PKCS12+" (mode 0600; certificate, key and CA, to import into a browser)")
			}
			if res.PKCS12Password != "" {
				certsRow(w, "password", res.PKCS12Password+" (the PKCS#12 file's, shown once: give it to the user apart from the file)")
			}
			if res.Replaced {
				fmt.Fprintf(w, "Replaced the previous %s and %s in %s.\n", pki.CertFile(kind), pki.KeyFile(kind), out)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&caDir, "ca", "", "folder of the member's CA (made by certs ca create)")
	f.StringVar(&node, "node", "", "issue a node certificate for this node name (a-z, 0-9, '.', '_', '-'), e.g. ua-1")
	f.StringVar(&user, "user", "", "issue a user certificate for this opaque account id (never a person's name), e.g. u-1042")
	f.StringSliceVar(&dns, "dns", nil, "DNS name peers use to reach the node (repeat or comma-separate; nodes only)")
	f.StringSliceVar(&ips, "ip", nil, "IP address peers use to reach the node (repeat or comma-separate; nodes only)")
	f.Var(&validity, "validity", "how long the certificate is valid: days (90d) or a Go duration (2160h); at most 397d")
	f.StringVar(&out, "out", "", "folder to write the certificate, key and CA certificate into")
	f.BoolVar(&p12, "pkcs12", false, "also write certificate, key and CA as one password-protected PKCS#12 file (<kind>.p12) to import into a browser")
	f.StringVar(&p12PasswordFile, "pkcs12-password-file", "", "file whose first line is the PKCS#12 password (default: a random one, printed once)")
	_ = cmd.MarkFlagRequired("ca")
	_ = cmd.MarkFlagRequired("out")
	cmd.MarkFlagsOneRequired("node", "user")
	cmd.MarkFlagsMutuallyExclusive("node", "user")
	_ = cmd.MarkFlagDirname("ca")
	_ = cmd.MarkFlagDirname("out")
	for _, n := range []string{"node", "user", "dns", "ip", "validity"} {
		_ = cmd.RegisterFlagCompletionFunc(n, certsCompleteNothing)
	}
	return cmd
}

// certsPKCS12Password is the PKCS#12 file's password: the first line of
// file, or a random one (generated true) when no file is given.
func certsPKCS12Password(want bool, file string) (password string, generated bool, err error) {
	if !want {
		if file != "" {
			return "", false, errors.New("--pkcs12-password-file: only with --pkcs12")
		}
		return "", false, nil
	}
	if file == "" {
		// 128 bits as 26 base32 letters and digits, in groups to read
		// out and type.
		t := rand.Text()
		return strings.Join([]string{t[0:5], t[5:10], t[10:15], t[15:20], t[20:]}, "-"), true, nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return "", false, fmt.Errorf("--pkcs12-password-file: %w", err)
	}
	line, _, _ := strings.Cut(string(data), "\n")
	line = strings.TrimRight(line, "\r")
	if len(line) < pki.MinPKCS12Password {
		return "", false, fmt.Errorf("--pkcs12-password-file %s: the password (its first line) must have at least %d characters", file, pki.MinPKCS12Password)
	}
	return line, false, nil
}

// ---------------------------------------------------------------- revoke

type certsRevokeResult struct {
	Member    string    `json:"member"`
	Serial    string    `json:"serial"`
	Identity  string    `json:"identity,omitempty"`
	Reason    string    `json:"reason"`
	RevokedAt time.Time `json:"revoked_at"`
}

func (c *certsCmd) revokeCmd() *cobra.Command {
	var caDir, serial, certFile, reason string
	cmd := &cobra.Command{
		Use:   "revoke --ca DIR (--serial HEX | --cert FILE) [--reason REASON]",
		Short: "Revoke a certificate the member's CA issued",
		Long: `revoke records in the CA's state that a certificate must no longer be accepted.
Name it by --serial (hexadecimal, as ` + "`certs inspect` or `certs list`" + ` shows it) or by
the certificate file itself with --cert (which also works when the CA's record of
the serial was lost). Revocation is permanent.

Peers learn of it only from a CRL: afterwards run ` + "`accordctl certs crl`" + ` and copy the
CRL into every node's crl_dir. A node closes open connections of a revoked peer
when it reloads its CRLs.

Reasons: ` + strings.Join(pki.ReasonNames(), ", ") + `.`,
		Example: `  accordctl certs revoke --ca ca/UA --cert nodes/ua-1/node.crt --reason keyCompromise
  accordctl certs revoke --ca ca/UA --serial 3fa2c0e1d4b5a6978877665544332211 --reason cessationOfOperation
  accordctl certs crl --ca ca/UA --out crl/UA.crl`,
		Args: cobra.NoArgs,
		PreRunE: func(cmd *cobra.Command, _ []string) error {
			return certsExactlyOne(cmd, "serial", "cert", "which certificate to revoke")
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			code, err := pki.ParseReason(reason)
			if err != nil {
				return certsFlagError(cmd, err, map[string]string{"reason": "reason"})
			}
			ca, err := certsOpenCA(caDir)
			if err != nil {
				return err
			}
			var hexSerial string
			if certFile != "" {
				data, err := os.ReadFile(certFile)
				if err != nil {
					return fmt.Errorf("--cert: %w", err)
				}
				cert, err := pki.ParseCertificate(data)
				if err != nil {
					return fmt.Errorf("--cert %s: not a certificate: %w", certFile, err)
				}
				if err := ca.RevokeCertificate(cert, code, time.Time{}); err != nil {
					if errors.Is(err, pki.ErrNotIssuedByCA) {
						return fmt.Errorf("--cert %s: was not issued by the CA of member %s in %s (its issuer is %s)", certFile, ca.Member, caDir, cert.Issuer)
					}
					return fmt.Errorf("--cert %s: %w", certFile, err)
				}
				hexSerial = cert.SerialNumber.Text(16)
			} else {
				n, err := certsParseSerial(serial)
				if err != nil {
					return err
				}
				if err := ca.Revoke(n, code, time.Time{}); err != nil {
					if errors.Is(err, pki.ErrUnknownSerial) {
						return fmt.Errorf("--serial %s: the CA of member %s in %s has no record of issuing it (see `accordctl certs list --ca %s`; if the record was lost, revoke with --cert FILE)", serial, ca.Member, caDir, caDir)
					}
					return fmt.Errorf("--serial %s: %w", serial, err)
				}
				hexSerial = n.Text(16)
			}
			res := certsRevokeResult{Member: ca.Member, Serial: hexSerial, Reason: pki.ReasonName(code)}
			for _, r := range ca.Revocations() {
				if r.Serial == hexSerial {
					res.Identity, res.RevokedAt = r.Identity, r.RevokedAt
				}
			}
			w := cmd.OutOrStdout()
			if c.g.JSON() {
				return printJSON(w, res)
			}
			who := res.Identity
			if who == "" {
				who = "no Accord identity"
			}
			fmt.Fprintf(w, "Revoked serial %s (%s) of member %s: %s, at %s\n", res.Serial, who, res.Member, res.Reason, certsDate(res.RevokedAt))
			fmt.Fprintf(w, "Peers refuse it only once they load a new CRL: accordctl certs crl --ca %s --out crl/%s.crl, then copy it to every node's crl_dir.\n", caDir, res.Member)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&caDir, "ca", "", "folder of the member's CA that issued the certificate")
	f.StringVar(&serial, "serial", "", "serial number of the certificate to revoke, in hexadecimal")
	f.StringVar(&certFile, "cert", "", "certificate file (PEM or DER) to revoke")
	f.StringVar(&reason, "reason", "unspecified", "why: "+strings.Join(pki.ReasonNames(), ", "))
	_ = cmd.MarkFlagRequired("ca")
	cmd.MarkFlagsOneRequired("serial", "cert")
	cmd.MarkFlagsMutuallyExclusive("serial", "cert")
	_ = cmd.MarkFlagDirname("ca")
	_ = cmd.MarkFlagFilename("cert", "crt", "pem", "der", "cer")
	_ = cmd.RegisterFlagCompletionFunc("serial", certsCompleteNothing)
	_ = cmd.RegisterFlagCompletionFunc("reason", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return pki.ReasonNames(), cobra.ShellCompDirectiveNoFileComp
	})
	return cmd
}

// ---------------------------------------------------------------- crl

type certsCRLResult struct {
	Member     string    `json:"member"`
	Path       string    `json:"path"`
	Number     int64     `json:"number"`
	ThisUpdate time.Time `json:"this_update"`
	NextUpdate time.Time `json:"next_update"`
	Revoked    int       `json:"revoked"`
}

func (c *certsCmd) crlCmd() *cobra.Command {
	var (
		caDir, out string
		validity   = certsDuration{pki.DefaultCRLValidity}
	)
	cmd := &cobra.Command{
		Use:   "crl --ca DIR --out FILE",
		Short: "Sign and write the member's certificate revocation list (CRL)",
		Long: `crl signs a new certificate revocation list with every certificate the CA in --ca
has revoked, numbered one higher than the last, and writes it (PEM) to --out.

Copy the file into the crl_dir of every node of every member: nodes then refuse the
revoked certificates and close their open connections. A CRL is current until its
next update (--validity, 7 days unless told); a node still applies a stale CRL but
warns, so publish a new one before then, even when nothing was revoked.`,
		Example: `  accordctl certs crl --ca ca/UA --out crl/UA.crl
  accordctl certs crl --ca ca/UA --out /srv/accord/crl/UA.crl --validity 2d`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ca, err := certsOpenCA(caDir)
			if err != nil {
				return err
			}
			res, err := certsPublishCRL(ca, out, validity.d)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if c.g.JSON() {
				return printJSON(w, res)
			}
			fmt.Fprintf(w, "Wrote CRL number %d of member %s to %s: %d revoked certificate(s)\n", res.Number, res.Member, res.Path, res.Revoked)
			certsRow(w, "next update", fmt.Sprintf("%s (in %s): publish a new one before then", certsDate(res.NextUpdate), certsDays(res.NextUpdate.Sub(res.ThisUpdate))))
			fmt.Fprintf(w, "Copy %s into every node's crl_dir.\n", res.Path)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&caDir, "ca", "", "folder of the member's CA")
	f.StringVar(&out, "out", "", "file to write the CRL to, e.g. crl/UA.crl")
	f.Var(&validity, "validity", "time until the CRL's next update: days (7d) or a Go duration (168h)")
	_ = cmd.MarkFlagRequired("ca")
	_ = cmd.MarkFlagRequired("out")
	_ = cmd.MarkFlagDirname("ca")
	_ = cmd.MarkFlagFilename("out", "crl", "pem")
	_ = cmd.RegisterFlagCompletionFunc("validity", certsCompleteNothing)
	return cmd
}

// certsPublishCRL signs a CRL and writes it atomically to path.
func certsPublishCRL(ca *pki.CA, path string, validity time.Duration) (certsCRLResult, error) {
	data, err := ca.CRL(validity)
	if err != nil {
		return certsCRLResult{}, certsFlagError(nil, err, map[string]string{"validity": "validity"})
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return certsCRLResult{}, fmt.Errorf("--out %s: %w", path, err)
	}
	if err := trust.WriteFileAtomic(path, data, 0o644); err != nil {
		return certsCRLResult{}, fmt.Errorf("--out %s: %w", path, err)
	}
	crl, err := trust.ParseCRL(data)
	if err != nil {
		return certsCRLResult{}, err
	}
	return certsCRLResult{
		Member: ca.Member, Path: path, Number: crl.Number.Int64(), ThisUpdate: crl.ThisUpdate,
		NextUpdate: crl.NextUpdate, Revoked: len(crl.RevokedCertificateEntries),
	}, nil
}

// ---------------------------------------------------------------- list

type certsListEntry struct {
	Serial   string    `json:"serial"`
	Identity string    `json:"identity,omitempty"`
	IssuedAt time.Time `json:"issued_at,omitzero"`
	NotAfter time.Time `json:"not_after"`
	Status   string    `json:"status"` // valid, expired, revoked
	Reason   string    `json:"reason,omitempty"`
}

func (c *certsCmd) listCmd() *cobra.Command {
	var caDir string
	cmd := &cobra.Command{
		Use:   "list --ca DIR",
		Short: "List the certificates a member's CA issued, with their serials and status",
		Long: `list shows every certificate the CA in --ca has issued: serial, identity, end of
validity, and whether it is valid, expired or revoked (and why). Use the serial
with ` + "`certs revoke --serial`" + `.`,
		Example: `  accordctl certs list --ca ca/UA
  accordctl certs list --ca ca/UA -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ca, err := certsOpenCA(caDir)
			if err != nil {
				return err
			}
			revoked := map[string]pki.Revocation{}
			for _, r := range ca.Revocations() {
				revoked[r.Serial] = r
			}
			fp, err := caSetFingerprint(ca.Cert)
			if err != nil {
				return err
			}
			now := c.now()
			var list []certsListEntry
			for _, r := range ca.IssuedRecords() {
				e := certsListEntry{Serial: r.Serial, Identity: r.Identity, IssuedAt: r.IssuedAt, NotAfter: r.NotAfter, Status: "valid"}
				if rv, ok := revoked[r.Serial]; ok {
					e.Status, e.Reason = "revoked", pki.ReasonName(rv.Reason)
				} else if now.After(r.NotAfter) {
					e.Status = "expired"
				}
				list = append(list, e)
			}
			w := cmd.OutOrStdout()
			if c.g.JSON() {
				return printJSON(w, struct {
					Member        string           `json:"member"`
					CAFingerprint string           `json:"ca_fingerprint"`
					CRLNumber     int64            `json:"crl_number"`
					Certificates  []certsListEntry `json:"certificates"`
				}{ca.Member, fp, ca.CRLNumber(), append([]certsListEntry{}, list...)})
			}
			fmt.Fprintf(w, "CA of member %s in federation %s: %d certificate(s) issued, last CRL number %d\n", ca.Member, ca.Federation, len(list), ca.CRLNumber())
			fmt.Fprintf(w, "CA fingerprint (for accordctl member vote --ca-fingerprint): %s\n", fp)
			if len(list) == 0 {
				return nil
			}
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "  SERIAL\tSTATUS\tVALID UNTIL\tIDENTITY")
			for _, e := range list {
				status := e.Status
				if e.Reason != "" {
					status += " (" + e.Reason + ")"
				}
				fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", e.Serial, status, certsDate(e.NotAfter), e.Identity)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&caDir, "ca", "", "folder of the member's CA")
	_ = cmd.MarkFlagRequired("ca")
	_ = cmd.MarkFlagDirname("ca")
	return cmd
}

// ---------------------------------------------------------------- bundle

func (c *certsCmd) bundleCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bundle",
		Short: "Assemble the federation's trust bundle",
		Long: `bundle assembles the federation's trust bundle: a JSON file that lists, for each
member, the CA certificates allowed to vouch for that member and for no one else.
Every node of every member loads the same bundle; a change reaches a node when it
reloads. Several CAs per member let a member roll over to a new CA: add the new
one, reissue, then remove the old one by its fingerprint.`,
		Example: `  accordctl certs bundle create --federation accord.example --out trust-bundle.json
  accordctl certs bundle add --bundle trust-bundle.json --member UA --name "Office of the Prosecutor General" ca/UA/ca.crt
  accordctl certs bundle inspect trust-bundle.json`,
	}
	cmd.AddCommand(c.bundleCreateCmd(), c.bundleAddCmd(), c.bundleRemoveCmd(), c.bundleInspectCmd())
	return cmd
}

// certsPrintBundle prints a bundle's description (or JSON form).
func (c *certsCmd) printBundle(w io.Writer, b *trust.Bundle, headline string) error {
	data, err := b.Marshal()
	if err != nil {
		return err
	}
	r, err := pki.Inspect(data, c.now())
	if err != nil {
		return err
	}
	if c.g.JSON() {
		return printJSON(w, r.Items[0])
	}
	if headline != "" {
		fmt.Fprintln(w, headline)
	}
	_, err = io.WriteString(w, r.Text())
	return err
}

func (c *certsCmd) bundleCreateCmd() *cobra.Command {
	var federation, out string
	var force bool
	cmd := &cobra.Command{
		Use:   "create --federation NAME --out FILE",
		Short: "Create an empty trust bundle for a federation",
		Long: `create writes a trust bundle that lists no members yet. Add each member's CA with
` + "`certs bundle add`" + `. An existing file is kept unless --force is given.`,
		Example: `  accordctl certs bundle create --federation accord.example --out trust-bundle.json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := trust.NewBundle(federation)
			if err != nil {
				return fmt.Errorf("--federation %q: must be lower-case DNS labels (a-z, 0-9, '-') separated by dots, e.g. accord.example", federation)
			}
			if _, err := os.Stat(out); err == nil && !force {
				return fmt.Errorf("--out %s: the file exists; add members to it with `certs bundle add`, or give --force to replace it", out)
			}
			if err := b.Save(out); err != nil {
				return fmt.Errorf("--out %s: %w", out, err)
			}
			return c.printBundle(cmd.OutOrStdout(), b, "Wrote "+out)
		},
	}
	f := cmd.Flags()
	f.StringVar(&federation, "federation", "", "federation name, e.g. accord.example")
	f.StringVar(&out, "out", "", "file to write the bundle to, e.g. trust-bundle.json")
	f.BoolVar(&force, "force", false, "replace an existing file")
	_ = cmd.MarkFlagRequired("federation")
	_ = cmd.MarkFlagRequired("out")
	_ = cmd.MarkFlagFilename("out", "json")
	_ = cmd.RegisterFlagCompletionFunc("federation", certsCompleteNothing)
	return cmd
}

func (c *certsCmd) bundleAddCmd() *cobra.Command {
	var path, member, name string
	cmd := &cobra.Command{
		Use:   "add --bundle FILE --member CODE [--name OFFICE] CA.crt...",
		Short: "Add a member's CA certificates to the trust bundle",
		Long: `add lists CA certificates for a member in the trust bundle, adding the member if it
is new. Each certificate must be a CA, and a CA made by accordctl must name this
member of this federation; a CA can vouch for one member only. Check the
fingerprint with the member over a second channel before you add it.`,
		Example: `  accordctl certs bundle add --bundle trust-bundle.json --member UA --name "Office of the Prosecutor General" ca/UA/ca.crt
  accordctl certs bundle add --bundle trust-bundle.json --member PL received/pl-ca-2026.crt`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := identity.ValidateMember(member); err != nil {
				return fmt.Errorf("--member %q: must be 2-16 upper-case letters or digits starting with a letter, e.g. UA or ICC", member)
			}
			b, err := trust.LoadBundle(path)
			if err != nil {
				return fmt.Errorf("--bundle: %w", err)
			}
			before := certsCACount(b, member)
			for _, file := range args {
				data, err := os.ReadFile(file)
				if err != nil {
					return err
				}
				cert, err := pki.ParseCertificate(data)
				if err != nil {
					return fmt.Errorf("%s: not a certificate: %w", file, err)
				}
				if !cert.IsCA {
					return fmt.Errorf("%s: %s is not a CA certificate (is it a node or user certificate? give the member's ca.crt)", file, cert.Subject)
				}
				if err := b.Add(member, name, cert); err != nil {
					return fmt.Errorf("%s: %w", file, err)
				}
			}
			if err := b.Save(path); err != nil {
				return fmt.Errorf("--bundle %s: %w", path, err)
			}
			added := certsCACount(b, member) - before
			return c.printBundle(cmd.OutOrStdout(), b, fmt.Sprintf("Added %d CA certificate(s) for member %s to %s (%d already listed)", added, member, path, len(args)-added))
		},
		ValidArgsFunction: certsCompleteFiles("crt", "pem"),
	}
	f := cmd.Flags()
	f.StringVar(&path, "bundle", "", "trust bundle file (made by certs bundle create)")
	f.StringVar(&member, "member", "", "member code the CAs vouch for, e.g. UA")
	f.StringVar(&name, "name", "", "the member office's name, for people reading the bundle")
	_ = cmd.MarkFlagRequired("bundle")
	_ = cmd.MarkFlagRequired("member")
	_ = cmd.MarkFlagFilename("bundle", "json")
	_ = cmd.RegisterFlagCompletionFunc("member", certsCompleteNothing)
	_ = cmd.RegisterFlagCompletionFunc("name", certsCompleteNothing)
	return cmd
}

func certsCACount(b *trust.Bundle, member string) int {
	for _, m := range b.Members {
		if m.Member == member {
			return len(m.CACertificates)
		}
	}
	return 0
}

func (c *certsCmd) bundleRemoveCmd() *cobra.Command {
	var path, member, fingerprint string
	cmd := &cobra.Command{
		Use:   "remove --bundle FILE --member CODE [--fingerprint PREFIX]",
		Short: "Remove a member, or one of its CAs, from the trust bundle",
		Long: `remove takes a member out of the trust bundle, or with --fingerprint only the CA
whose SHA-256 fingerprint starts with PREFIX (at least 8 hex digits; ` + "`certs bundle inspect`" + `
shows them). Removing a member's last CA removes the member. Nodes that load the
new bundle refuse the removed CA's certificates and drop their connections.`,
		Example: `  accordctl certs bundle remove --bundle trust-bundle.json --member PL --fingerprint 3f9a0c12
  accordctl certs bundle remove --bundle trust-bundle.json --member NL`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := trust.LoadBundle(path)
			if err != nil {
				return fmt.Errorf("--bundle: %w", err)
			}
			i := slices.IndexFunc(b.Members, func(m trust.MemberBundle) bool { return m.Member == member })
			if i < 0 {
				return fmt.Errorf("--member %s: not in %s (members: %s)", member, path, strings.Join(certsMembers(b), ", "))
			}
			what := "member " + member
			if fingerprint != "" {
				fp := strings.ToLower(strings.ReplaceAll(fingerprint, ":", ""))
				if len(fp) < 8 {
					return fmt.Errorf("--fingerprint %q: give at least 8 hex digits of the CA's SHA-256 fingerprint", fingerprint)
				}
				certs, err := b.Certificates()
				if err != nil {
					return err
				}
				var matches []string
				for _, ca := range certs[member] {
					if f := trust.Fingerprint(ca); strings.HasPrefix(f, fp) {
						matches = append(matches, f)
					}
				}
				switch len(matches) {
				case 0:
					return fmt.Errorf("--fingerprint %s: no CA of member %s starts with it (see `accordctl certs bundle inspect %s`)", fingerprint, member, path)
				case 1:
				default:
					return fmt.Errorf("--fingerprint %s: matches %d CAs of member %s; give more digits", fingerprint, len(matches), member)
				}
				fingerprint = fp
				what = fmt.Sprintf("CA %s… of member %s", matches[0][:16], member)
				if len(b.Members[i].CACertificates) == 1 {
					what += " (its last CA, so the member too)"
				}
			}
			if !b.Remove(member, fingerprint) {
				return fmt.Errorf("--member %s: nothing removed", member)
			}
			if err := b.Save(path); err != nil {
				return fmt.Errorf("--bundle %s: %w", path, err)
			}
			return c.printBundle(cmd.OutOrStdout(), b, fmt.Sprintf("Removed %s from %s", what, path))
		},
	}
	f := cmd.Flags()
	f.StringVar(&path, "bundle", "", "trust bundle file")
	f.StringVar(&member, "member", "", "member code, e.g. PL")
	f.StringVar(&fingerprint, "fingerprint", "", "remove only the CA whose SHA-256 fingerprint starts with this (hex)")
	_ = cmd.MarkFlagRequired("bundle")
	_ = cmd.MarkFlagRequired("member")
	_ = cmd.MarkFlagFilename("bundle", "json")
	_ = cmd.RegisterFlagCompletionFunc("fingerprint", certsCompleteNothing)
	_ = cmd.RegisterFlagCompletionFunc("member", func(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
		p, _ := cmd.Flags().GetString("bundle")
		b, err := trust.LoadBundle(p)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return certsMembers(b), cobra.ShellCompDirectiveNoFileComp
	})
	return cmd
}

func certsMembers(b *trust.Bundle) []string {
	out := make([]string, len(b.Members))
	for i, m := range b.Members {
		out[i] = m.Member
	}
	return out
}

func (c *certsCmd) bundleInspectCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "inspect FILE",
		Short: "Show a trust bundle's federation, members and their CAs",
		Long: `inspect checks a trust bundle and shows its federation and, for each member, its
CAs with subject, end of validity and SHA-256 fingerprint, with warnings (an
expired CA, a member without a valid CA).`,
		Example: `  accordctl certs bundle inspect trust-bundle.json
  accordctl certs bundle inspect trust-bundle.json -o json`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: certsCompleteFiles("json"),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := trust.LoadBundle(args[0])
			if err != nil {
				return err
			}
			return c.printBundle(cmd.OutOrStdout(), b, "")
		},
	}
}

// ---------------------------------------------------------------- inspect

func (c *certsCmd) inspectCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "inspect FILE",
		Short: "Explain what a certificate, key, CRL or trust bundle file is",
		Long: `inspect reads a file (PEM or DER, or a trust bundle in JSON; "-" reads standard
input) and says in plain words what it is:

  a certificate: whom it names (member, node or user, federation), who issued it,
    when it is valid and when it expires, whether it is a CA, its DNS names and IP
    addresses, key type and SHA-256 fingerprint, and what Accord would refuse in
    it (for example two URI SANs, or an expired certificate);
  a CRL: its issuer, number, this and next update, whether it is stale, and the
    revoked serials;
  a private key: its type and the fingerprint of its public key (compare with the
    certificate's), never the key itself;
  a trust bundle: its federation, members and their CAs.`,
		Example: `  accordctl certs inspect nodes/ua-1/node.crt
  accordctl certs inspect crl/UA.crl
  accordctl certs inspect -o json nodes/ua-1/node.crt`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: certsCompleteFiles(),
		RunE: func(cmd *cobra.Command, args []string) error {
			var data []byte
			var err error
			if args[0] == "-" {
				data, err = io.ReadAll(cmd.InOrStdin())
			} else {
				data, err = os.ReadFile(args[0])
			}
			if err != nil {
				return err
			}
			r, err := pki.Inspect(data, c.now())
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			if args[0] != "-" {
				if fi, err := os.Stat(args[0]); err == nil && fi.Mode().Perm()&0o077 != 0 {
					for i := range r.Items {
						if r.Items[i].Type == pki.TypePrivateKey {
							r.Items[i].Warnings = append(r.Items[i].Warnings, fmt.Sprintf("the file's mode is %04o: others on this machine can read the key; chmod 600 %s", fi.Mode().Perm(), args[0]))
						}
					}
				}
			}
			w := cmd.OutOrStdout()
			if c.g.JSON() {
				return printJSON(w, struct {
					File string `json:"file"`
					*pki.Report
				}{args[0], r})
			}
			_, err = io.WriteString(w, r.Text())
			return err
		},
	}
}

// ---------------------------------------------------------------- dev-federation

type certsDevMember struct {
	Member string         `json:"member"`
	CADir  string         `json:"ca_dir"`
	CRL    string         `json:"crl"`
	Nodes  []certsDevLeaf `json:"nodes"`
	User   certsDevLeaf   `json:"user"`
	caObj  *pki.CA
}

type certsDevLeaf struct {
	Identity string `json:"identity"`
	Dir      string `json:"dir"`
}

type certsDevResult struct {
	Federation string           `json:"federation"`
	Dir        string           `json:"dir"`
	Reused     bool             `json:"reused"` // nothing had to be made
	Created    []string         `json:"created,omitempty"`
	Bundle     string           `json:"bundle"`
	Members    []certsDevMember `json:"members"`
}

type certsDevOptions struct {
	federation string
	members    []string
	out        string
	nodes      int
	dns, ips   []string
	validity   certsDuration
}

func (c *certsCmd) devFederationCmd() *cobra.Command {
	o := certsDevOptions{validity: certsDuration{pki.DefaultLeafValidity}}
	cmd := &cobra.Command{
		Use:   "dev-federation --federation NAME --members CODES --out DIR",
		Short: "Make (or complete) a local test federation: CAs, bundle, CRLs, node and user certificates",
		Long: `dev-federation makes everything a local test federation needs, in --out:

  trust-bundle.json                  the bundle with every member's CA
  crl/<MEMBER>.crl                   each member's published CRL (empty at first)
  <MEMBER>/ca/                       each member's CA (ca.crt, ca.key, state.json)
  <MEMBER>/nodes/<member>-<n>/       node.crt, node.key, ca.crt for n = 1..--nodes
  <MEMBER>/users/<member>-analyst/   user.crt, user.key, ca.crt

Node certificates carry the node's name as a DNS name (so containers can dial
each other by service name) plus --dns and --ip. The command is idempotent: what
is already there and still good (verifies against the bundle and CRLs, has the
asked-for names, more than 7 days left) is reused; only what is missing or bad
is made. A folder of another federation, or with members not in --members, is
refused. These are test keys: never use them for a real federation, never
commit them.`,
		Example: `  accordctl certs dev-federation --federation accord.test --members UA,PL,DE,LT,NL --out certs/out
  accordctl certs dev-federation --federation accord.test --members UA,PL --nodes 3 --dns node.internal --out /tmp/fed`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			res, err := c.devFederation(o)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if c.g.JSON() {
				return printJSON(w, res)
			}
			c.printDevFederation(w, res, o)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.federation, "federation", "accord.test", "federation name")
	f.StringSliceVar(&o.members, "members", []string{"UA", "PL", "DE", "LT", "NL"}, "member codes, comma-separated")
	f.StringVar(&o.out, "out", "", "folder to make the federation in (e.g. certs/out)")
	f.IntVar(&o.nodes, "nodes", 1, "nodes per member (1-50)")
	f.StringSliceVar(&o.dns, "dns", []string{"localhost"}, "extra DNS names in every node certificate")
	f.StringSliceVar(&o.ips, "ip", []string{"127.0.0.1"}, "IP addresses in every node certificate")
	f.Var(&o.validity, "validity", "validity of node and user certificates: days (90d) or a Go duration (2160h)")
	_ = cmd.MarkFlagRequired("out")
	_ = cmd.MarkFlagDirname("out")
	for _, n := range []string{"federation", "members", "nodes", "dns", "ip", "validity"} {
		_ = cmd.RegisterFlagCompletionFunc(n, certsCompleteNothing)
	}
	return cmd
}

// certsRenewBefore: dev-federation reissues a certificate with less left.
const certsRenewBefore = 7 * 24 * time.Hour

func (c *certsCmd) devFederation(o certsDevOptions) (*certsDevResult, error) {
	if err := identity.ValidateFederation(o.federation); err != nil {
		return nil, fmt.Errorf("--federation %q: must be lower-case DNS labels (a-z, 0-9, '-') separated by dots, e.g. accord.test", o.federation)
	}
	var members []string
	for _, m := range o.members {
		m = strings.ToUpper(strings.TrimSpace(m))
		if err := identity.ValidateMember(m); err != nil {
			return nil, fmt.Errorf("--members: %q: must be 2-16 letters or digits starting with a letter, e.g. UA", m)
		}
		if slices.Contains(members, m) {
			return nil, fmt.Errorf("--members: %s is listed twice", m)
		}
		members = append(members, m)
	}
	if len(members) == 0 {
		return nil, errors.New("--members: give at least one member code, e.g. UA,PL")
	}
	slices.Sort(members)
	if o.nodes < 1 || o.nodes > 50 {
		return nil, fmt.Errorf("--nodes %d: must be between 1 and 50", o.nodes)
	}
	ips, err := certsParseIPs("ip", o.ips)
	if err != nil {
		return nil, err
	}
	if o.out == "" {
		return nil, errors.New("--out: a folder is required")
	}
	now := c.now()
	res := &certsDevResult{Federation: o.federation, Dir: o.out, Bundle: filepath.Join(o.out, "trust-bundle.json")}

	// An existing bundle tells whose folder this is.
	if old, err := trust.LoadBundle(res.Bundle); err == nil {
		if old.Federation != o.federation {
			return nil, fmt.Errorf("--out %s: holds federation %s, not %s; remove the folder or choose another --out", o.out, old.Federation, o.federation)
		}
		for _, m := range certsMembers(old) {
			if !slices.Contains(members, m) {
				return nil, fmt.Errorf("--out %s: its bundle lists member %s, which is not in --members; add it to --members, or remove the folder", o.out, m)
			}
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("--out %s: %w; remove the folder to start over", o.out, err)
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return nil, fmt.Errorf("--out %s: %w", o.out, err)
	}

	// 1. The CAs.
	for _, m := range members {
		dm := certsDevMember{Member: m, CADir: filepath.Join(o.out, m, "ca"), CRL: filepath.Join(o.out, "crl", m+".crl")}
		if pki.Exists(dm.CADir) {
			ca, err := pki.OpenCA(dm.CADir)
			if err != nil {
				return nil, fmt.Errorf("--out: %s: %w; remove it to make a new CA", dm.CADir, err)
			}
			if ca.Federation != o.federation || ca.Member != m {
				return nil, fmt.Errorf("--out: %s holds the CA of member %s of %s; remove the folder or choose another --out", dm.CADir, ca.Member, ca.Federation)
			}
			if ca.Cert.NotAfter.Sub(now) < certsRenewBefore {
				return nil, fmt.Errorf("--out: the CA in %s ends %s; remove %s to start over", dm.CADir, certsDate(ca.Cert.NotAfter), o.out)
			}
			ca.Now = c.now
			dm.caObj = ca
		} else {
			ca, err := pki.CreateCA(dm.CADir, pki.CAOptions{Federation: o.federation, Member: m, Name: "Accord test office " + m, Now: c.now})
			if err != nil {
				return nil, err
			}
			dm.caObj = ca
			res.Created = append(res.Created, "CA "+m)
		}
		res.Members = append(res.Members, dm)
	}

	// 2. The bundle.
	bundle, err := trust.NewBundle(o.federation)
	if err != nil {
		return nil, err
	}
	for _, dm := range res.Members {
		if err := bundle.Add(dm.Member, dm.caObj.Name(), dm.caObj.Cert); err != nil {
			return nil, err
		}
	}
	data, err := bundle.Marshal()
	if err != nil {
		return nil, err
	}
	if old, err := os.ReadFile(res.Bundle); err != nil || !bytes.Equal(old, data) {
		if err := bundle.Save(res.Bundle); err != nil {
			return nil, err
		}
		res.Created = append(res.Created, "trust bundle")
	}

	// 3. The CRLs: reuse one that this CA signed, lists all its revocations
	// and stays current for a while.
	var crls []trust.CRL
	for i := range res.Members {
		dm := &res.Members[i]
		if list := certsGoodCRL(dm.CRL, dm.caObj, now); list != nil {
			crls = append(crls, trust.CRL{List: list, Source: dm.CRL})
			continue
		}
		if _, err := certsPublishCRL(dm.caObj, dm.CRL, pki.DefaultCRLValidity); err != nil {
			return nil, err
		}
		data, err := os.ReadFile(dm.CRL)
		if err != nil {
			return nil, err
		}
		list, err := trust.ParseCRL(data)
		if err != nil {
			return nil, err
		}
		crls = append(crls, trust.CRL{List: list, Source: dm.CRL})
		res.Created = append(res.Created, "CRL "+dm.Member)
	}
	v, err := trust.NewVerifier(bundle, crls, c.now)
	if err != nil {
		return nil, err
	}
	// Nodes load every CRL in the folder: a stray one would be reported by
	// every node as unusable.
	all, problems, err := trust.LoadCRLDir(filepath.Join(o.out, "crl"))
	if err != nil {
		return nil, fmt.Errorf("--out: %w", err)
	}
	check, err := trust.NewVerifier(bundle, all, c.now)
	if err != nil {
		return nil, fmt.Errorf("--out: %w", err)
	}
	if bad := append(problems, check.Unusable()...); len(bad) > 0 {
		return nil, fmt.Errorf("--out: %w; remove that file", bad[0].Err)
	}

	// 4. Node and user certificates.
	for i := range res.Members {
		dm := &res.Members[i]
		lower := strings.ToLower(dm.Member)
		for n := 1; n <= o.nodes; n++ {
			name := fmt.Sprintf("%s-%d", lower, n)
			dns := certsUniqueLower(append([]string{name}, o.dns...))
			leaf, made, err := certsEnsureLeaf(dm.caObj, v, filepath.Join(o.out, dm.Member, "nodes", name),
				pki.IssueOptions{Kind: identity.KindNode, Name: name, DNSNames: dns, IPAddresses: ips, Validity: o.validity.d}, now)
			if err != nil {
				return nil, err
			}
			if made {
				res.Created = append(res.Created, "node "+name)
			}
			dm.Nodes = append(dm.Nodes, leaf)
		}
		name := lower + "-analyst"
		leaf, made, err := certsEnsureLeaf(dm.caObj, v, filepath.Join(o.out, dm.Member, "users", name),
			pki.IssueOptions{Kind: identity.KindUser, Name: name, Validity: o.validity.d}, now)
		if err != nil {
			return nil, err
		}
		if made {
			res.Created = append(res.Created, "user "+name)
		}
		dm.User = leaf
	}
	res.Reused = len(res.Created) == 0
	return res, nil
}

// certsGoodCRL returns the CRL at path if ca signed it, it lists every
// revocation of ca, and it is current for at least another day.
func certsGoodCRL(path string, ca *pki.CA, now time.Time) *x509.RevocationList {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	list, err := trust.ParseCRL(data)
	if err != nil || list.CheckSignatureFrom(ca.Cert) != nil {
		return nil
	}
	if list.NextUpdate.Sub(now) < 24*time.Hour || len(list.RevokedCertificateEntries) != len(ca.Revocations()) {
		return nil
	}
	return list
}

// certsEnsureLeaf reuses the certificate in dir if it is still good for opts,
// or issues and writes a new one. It reports whether it made one.
func certsEnsureLeaf(ca *pki.CA, v *trust.Verifier, dir string, opts pki.IssueOptions, now time.Time) (certsDevLeaf, bool, error) {
	want := identity.Identity{Federation: ca.Federation, Member: ca.Member, Kind: opts.Kind, Name: opts.Name}
	leaf := certsDevLeaf{Identity: want.String(), Dir: dir}
	if certsLeafGood(ca, v, dir, want, opts, now) {
		return leaf, false, nil
	}
	issued, err := ca.Issue(opts)
	if err != nil {
		return leaf, false, certsFlagError(nil, err, map[string]string{"DNSNames": "dns", "IPAddresses": "ip", "Validity": "validity"})
	}
	if err := pki.WriteIssued(dir, issued, ca); err != nil {
		return leaf, false, fmt.Errorf("--out: %s: %w", dir, err)
	}
	return leaf, true, nil
}

func certsLeafGood(ca *pki.CA, v *trust.Verifier, dir string, want identity.Identity, opts pki.IssueOptions, now time.Time) bool {
	is, err := pki.ReadIssued(dir, opts.Kind)
	if err != nil || is.Identity != want || is.Cert.NotAfter.Sub(now) < certsRenewBefore {
		return false
	}
	caPEM, err := os.ReadFile(filepath.Join(dir, pki.CACertFile))
	if err != nil || !bytes.Equal(caPEM, ca.CertPEM()) {
		return false
	}
	if fi, err := os.Stat(filepath.Join(dir, pki.KeyFile(opts.Kind))); err != nil || fi.Mode().Perm() != 0o600 {
		return false
	}
	usages := []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	if opts.Kind == identity.KindNode {
		usages = append(usages, x509.ExtKeyUsageServerAuth)
		if !slices.Equal(is.Cert.DNSNames, opts.DNSNames) || len(is.Cert.IPAddresses) != len(opts.IPAddresses) {
			return false
		}
		for i, ip := range opts.IPAddresses {
			if !ip.Equal(is.Cert.IPAddresses[i]) {
				return false
			}
		}
	}
	for _, u := range usages {
		if _, err := v.Verify([]*x509.Certificate{is.Cert}, u); err != nil {
			return false
		}
	}
	return true
}

func (c *certsCmd) printDevFederation(w io.Writer, res *certsDevResult, o certsDevOptions) {
	var names []string
	for _, m := range res.Members {
		names = append(names, m.Member)
	}
	if res.Reused {
		fmt.Fprintf(w, "%s already holds a complete test federation %s for %s: reused it, nothing changed.\n", res.Dir, res.Federation, strings.Join(names, ", "))
	} else {
		if total := len(res.Members)*(3+o.nodes) + 1; len(res.Created) == total {
			fmt.Fprintf(w, "Made test federation %s in %s: %s.\n", res.Federation, res.Dir, certsCountMade(res.Created))
		} else {
			fmt.Fprintf(w, "Completed test federation %s in %s: made %s, reused the rest.\n", res.Federation, res.Dir, certsCountMade(res.Created))
		}
	}
	certsRow(w, "trust bundle", res.Bundle)
	certsRow(w, "CRLs", filepath.Join(res.Dir, "crl", "<MEMBER>.crl"))
	for _, m := range res.Members {
		var nodes []string
		for _, n := range m.Nodes {
			nodes = append(nodes, filepath.Base(n.Dir))
		}
		fmt.Fprintf(w, "  %-4s CA %s, nodes %s, user %s\n", m.Member, m.CADir, strings.Join(nodes, " "), filepath.Base(m.User.Dir))
	}
	fmt.Fprintf(w, "Node certificates name the node (e.g. %s) plus %s. Test keys only: never commit them.\n",
		filepath.Base(res.Members[0].Nodes[0].Dir), strings.Join(append(slices.Clone(o.dns), o.ips...), ", "))
}

// certsCountMade summarises what dev-federation made, e.g. "5 CAs, trust
// bundle, 5 CRLs, 5 nodes, 5 users".
func certsCountMade(created []string) string {
	var order []string
	count := map[string]int{}
	for _, c := range created {
		kind, _, _ := strings.Cut(c, " ")
		if count[kind] == 0 {
			order = append(order, kind)
		}
		count[kind]++
	}
	parts := make([]string, len(order))
	for i, k := range order {
		switch {
		case k == "trust":
			parts[i] = "trust bundle"
		case count[k] == 1:
			parts[i] = "1 " + k
		default:
			parts[i] = fmt.Sprintf("%d %ss", count[k], k)
		}
	}
	return strings.Join(parts, ", ")
}

// certsUniqueLower lower-cases names and drops repeats, keeping the order.
func certsUniqueLower(names []string) []string {
	var out []string
	for _, n := range names {
		n = strings.ToLower(strings.TrimSpace(n))
		if n != "" && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// caSetFingerprint is trust.CASetFingerprint of a member whose only CA is
// cert: what the voting members compare when admitting it.
func caSetFingerprint(cert *x509.Certificate) (string, error) {
	return trust.CASetFingerprint([]string{string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}))})
}
