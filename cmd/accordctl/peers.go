package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/accordfed/accord/federation/mtls"
	"github.com/accordfed/accord/federation/peering"
	"github.com/accordfed/accord/federation/trust"
	"github.com/accordfed/accord/node/config"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

func newPeersCmd(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "peers",
		Short: "Check connections to other members' nodes",
	}
	cmd.AddCommand(newPeersCheckCmd(g))
	return cmd
}

func newPeersCheckCmd(g *globalOptions) *cobra.Command {
	var (
		all     bool
		expect  string
		rounds  int
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "check [ADDRESS...]",
		Short: "Tell exactly why this node can or cannot talk to peers",
		Long: `check connects to each peer with this node's certificate, key, trust bundle and
CRLs (from --config, or the --tls-* flags), step by step: TCP, the TLS handshake in
both directions, then timed WhoAmI calls. It says which step failed and why
(unreachable, the peer's certificate is expired, revoked, signed by a CA that may
not vouch for its member, or from an unknown member; or the peer refused this
node's certificate), or, when all is well, who the peer is, how it sees this node,
and the round-trip time. The exit status is 0 when every peer is OK, 2 otherwise.`,
		Example: `  accordctl --config demo/UA.yaml peers check 127.0.0.1:7402
  accordctl --config demo/UA.yaml peers check --all      # every other admitted member's nodes, from the registry
  accordctl --config node.yaml peers check --expect-member PL pl-node.example:7400 -o json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadClientConfig(g, cmd)
			if err != nil {
				return err
			}
			type target struct{ member, addr string }
			var (
				targets []target
				learned []trust.MemberBundle
			)
			for _, a := range args {
				targets = append(targets, target{member: expect, addr: a})
			}
			if all {
				overrides := map[string]string{}
				for _, p := range cfg.Peers {
					overrides[p.Member] = p.Address
				}
				var nodes []registryPeer
				nodes, learned, err = registryPeers(g, cmd)
				if err != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "warning: cannot read the registry's nodes through the local API (%s); checking the configured peers only\n", oneLine(err.Error()))
				}
				seen := map[string]bool{}
				for _, n := range nodes {
					addr := n.addr
					if o := overrides[n.member]; o != "" {
						addr = o
					}
					targets = append(targets, target{member: n.member, addr: addr})
					seen[n.member] = true
				}
				for _, p := range cfg.Peers {
					if !seen[p.Member] {
						targets = append(targets, target{member: p.Member, addr: p.Address})
					}
				}
			}
			if len(targets) == 0 {
				return errors.New("peers check: give one or more ADDRESS arguments, or --all for the other admitted members' nodes of the registry")
			}
			src, err := mtls.NewSource(cfg.TLS, mtls.Hooks{}, nil, nil)
			if err != nil {
				return err
			}
			if len(learned) > 0 {
				// As the node does: the registry's admitted members are
				// trusted beside the bundle file's.
				if _, err := src.SetLearned(learned); err != nil {
					return err
				}
			}
			for _, u := range src.UnusableCRLs() {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: CRL file %q cannot be applied (%s); the others are: %s\n", filepath.Base(u.Source), u.Reason, oneLine(u.Err.Error()))
			}
			var reports []peering.Report
			failed := 0
			for _, t := range targets {
				r := peering.Check(cmd.Context(), t.addr, src, peering.CheckOptions{Timeout: timeout, Rounds: rounds, ExpectMember: t.member})
				if r.Verdict != peering.VerdictOK {
					failed++
				}
				reports = append(reports, r)
				if !g.JSON() {
					printReport(cmd.OutOrStdout(), r)
				}
			}
			if g.JSON() {
				if err := printJSON(cmd.OutOrStdout(), reports); err != nil {
					return err
				}
			}
			if failed > 0 {
				return exitError{code: 2, err: fmt.Errorf("%d of %d peers cannot be reached with mutual TLS", failed, len(reports))}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "check every other admitted member's registered nodes (from the registry, through the local API with client.cert_file), at the addresses of peers where the configuration overrides them")
	cmd.Flags().StringVar(&expect, "expect-member", "", "refuse a peer that is not a node of this member (for ADDRESS arguments)")
	cmd.Flags().IntVar(&rounds, "rounds", 5, "WhoAmI calls to time after the first")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Second, "time allowed for each step")
	addTLSFlags(cmd)
	return cmd
}

// registryPeer is another admitted member's registered node.
type registryPeer struct{ member, addr string }

// registryPeers lists the other admitted members' registered nodes that
// have a federation address, and the admitted members' CAs, from the
// registry through the local API.
func registryPeers(g *globalOptions, cmd *cobra.Command) ([]registryPeer, []trust.MemberBundle, error) {
	c, err := openMembership(g, cmd)
	if err != nil {
		return nil, nil, err
	}
	defer c.Close()
	var (
		out []registryPeer
		cas []trust.MemberBundle
	)
	for token := ""; ; {
		ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
		resp, err := c.api.ListMembers(ctx, &accordv1.ListMembersRequest{Status: accordv1.MemberStatus_MEMBER_STATUS_ADMITTED, PageSize: 1000, PageToken: token, Stale: true})
		cancel()
		if err != nil {
			return nil, nil, c.rpcError("list the registry's members", err)
		}
		for _, m := range resp.GetMembers() {
			cas = append(cas, trust.MemberBundle{Member: m.GetCode(), CACertificates: m.GetCaCerts()})
			if m.GetCode() == c.id.Member {
				continue
			}
			for _, n := range m.GetNodes() {
				if n.GetFederationAddress() != "" {
					out = append(out, registryPeer{member: m.GetCode(), addr: n.GetFederationAddress()})
				}
			}
		}
		if token = resp.GetNextPageToken(); token == "" {
			return out, cas, nil
		}
	}
}

// addTLSFlags lets a command take its identity from flags instead of (or on
// top of) a configuration file.
func addTLSFlags(cmd *cobra.Command) {
	cmd.Flags().String("tls-cert", "", "certificate file (overrides tls.cert_file of --config)")
	cmd.Flags().String("tls-key", "", "private key file (overrides tls.key_file)")
	cmd.Flags().String("tls-bundle", "", "trust bundle file (overrides tls.bundle_file)")
	cmd.Flags().String("tls-crl-dir", "", "folder of member CRLs (overrides tls.crl_dir)")
}

// loadClientConfig reads --config (or ACCORD_CONFIG) and the --tls-* flags
// and checks the TLS part.
func loadClientConfig(g *globalOptions, cmd *cobra.Command) (config.Config, error) {
	path := g.configPath
	if path == "" {
		path = os.Getenv(config.EnvPrefix + "CONFIG")
	}
	cfg, err := config.Load(path, os.Environ())
	if err != nil {
		return config.Config{}, err
	}
	for flag, field := range map[string]*string{"tls-cert": &cfg.TLS.CertFile, "tls-key": &cfg.TLS.KeyFile, "tls-bundle": &cfg.TLS.BundleFile, "tls-crl-dir": &cfg.TLS.CRLDir} {
		if cmd.Flags().Changed(flag) {
			*field, _ = cmd.Flags().GetString(flag)
		}
	}
	if err := cfg.TLS.Validate("tls"); err != nil {
		if path == "" {
			return config.Config{}, fmt.Errorf("%w (give --config FILE or the --tls-* flags)", err)
		}
		return config.Config{}, err
	}
	return cfg, nil
}

func printReport(w io.Writer, r peering.Report) {
	head := "FAIL"
	if r.Verdict == peering.VerdictOK {
		head = "OK  "
	}
	fmt.Fprintf(w, "%s %s  %s\n", head, r.Address, strings.ToUpper(strings.ReplaceAll(string(r.Verdict), "_", " ")))
	if r.Peer.GetSpiffeId() != "" {
		line := "     peer:    " + r.Peer.GetSpiffeId()
		if na := r.Peer.GetNotAfter(); na != nil {
			days := int(time.Until(na.AsTime()).Hours() / 24)
			line += fmt.Sprintf("  (certificate valid until %s, %d days)", na.AsTime().UTC().Format("2006-01-02"), days)
		}
		fmt.Fprintln(w, line)
	}
	if r.SeenAs != nil {
		fmt.Fprintln(w, "     sees us: "+r.SeenAs.GetSpiffeId())
	}
	if r.Verdict == peering.VerdictOK {
		fmt.Fprintf(w, "     %s, %s, connect %s, round trip %s (median of %d)\n",
			r.TLSVersion, r.CipherSuite, r.Connect.Round(time.Microsecond*100), r.RTTMedian().Round(time.Microsecond), len(r.RTTs))
	} else {
		fmt.Fprintln(w, "     why:     "+r.Explanation)
	}
	if r.Hint != "" {
		fmt.Fprintln(w, "     what to do: "+r.Hint)
	}
}
