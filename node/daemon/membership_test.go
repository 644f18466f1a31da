package daemon_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/accordfed/accord/federation/mtls"
	"github.com/accordfed/accord/federation/pki/pkitest"
	"github.com/accordfed/accord/federation/raftnet/raftnettest"
	"github.com/accordfed/accord/federation/trust"
	"github.com/accordfed/accord/node/daemon"
	"github.com/accordfed/accord/node/daemon/daemontest"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

func membershipClient(t *testing.T, d *daemon.Daemon, user mtls.Config, member string) accordv1.MembershipServiceClient {
	t.Helper()
	return accordv1.NewMembershipServiceClient(daemontest.LocalConn(t, d, user, member))
}

// TestAdmittedMemberTrustedAndDialled admits FR, whose CA none of the
// founders' trust bundle files holds, through the typed API; FR's node
// joins with its own bundle, and the founders trust it from the registry
// and dial it within seconds, with no file changed on their side.
func TestAdmittedMemberTrustedAndDialled(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA", "PL", "DE", "FR")
	// FR's own copy of the bundle (the federation's, with FR's CA added);
	// the founders' file does not list FR.
	frBundle := filepath.Join(t.TempDir(), "fr-bundle.json")
	data, err := os.ReadFile(fed.BundleFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(frBundle, data, 0o644); err != nil {
		t.Fatal(err)
	}
	fed.RemoveMember("FR")
	nodes, servers := startFederation(t, fed, "UA", "PL", "DE")

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ua := membershipClient(t, nodes[0].d, fed.User("UA", "admin"), "UA")
	if _, err := ua.ProposeMember(ctx, &accordv1.ProposeMemberRequest{RequestId: "propose-fr",
		Member: &accordv1.Member{Code: "FR", DisplayName: "Parquet national antiterroriste", CaCerts: []string{pemCert(fed.CAs["FR"].Cert.Raw)}}}); err != nil {
		t.Fatal(err)
	}
	frFP, err := trust.CASetFingerprint([]string{pemCert(fed.CAs["FR"].Cert.Raw)})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes[:2] {
		c := membershipClient(t, n.d, fed.User(n.member, "admin"), n.member)
		if _, err := c.VoteMember(ctx, &accordv1.VoteMemberRequest{Name: "members/FR", Decision: accordv1.VoteDecision_VOTE_DECISION_APPROVE, RequestId: "vote-fr", CaFingerprint: frFP}); err != nil {
			t.Fatal(err)
		}
	}

	cfg := registryConfig(t, fed, "FR", servers, false)
	cfg.TLS.BundleFile = frBundle
	fr := start(t, cfg)
	admitted := time.Now()
	raftnettest.WaitFor(t, 30*time.Second, func() error {
		for _, n := range nodes {
			var st string
			for _, p := range n.d.Exchange().Status() {
				if p.Member == "FR" {
					if p.Connected {
						st = "ok"
					} else {
						st = p.LastError
					}
				}
			}
			if st != "ok" {
				return fmt.Errorf("%s does not pull from FR yet: %q", n.member, st)
			}
		}
		for _, p := range fr.Exchange().Status() {
			if !p.Connected {
				return fmt.Errorf("FR does not pull from %s yet: %s", p.Member, p.LastError)
			}
		}
		if n := len(fr.Exchange().Status()); n != 3 {
			return fmt.Errorf("FR pulls from %d members", n)
		}
		return nil
	})
	t.Logf("FR's node joined, and every node pulls from every other, %s after it started", time.Since(admitted).Round(100*time.Millisecond))
	nl, err := ua.ListNodes(ctx, &accordv1.ListNodesRequest{Parent: "members/FR"})
	if err != nil || len(nl.GetNodes()) != 1 || nl.GetNodes()[0].GetFederationAddress() != fr.Addr() {
		t.Fatalf("FR's node in the registry: %v %v (listens at %s)", nl, err, fr.Addr())
	}
}
