package daemon_test

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/credentials"

	"github.com/accordfed/accord/federation/pki/pkitest"
	"github.com/accordfed/accord/federation/raftnet/raftnettest"
	"github.com/accordfed/accord/federation/trust"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// TestAttackCRLOfAnotherMember: PL tries to revoke UA's node certificate on
// every node. A CRL of PL's own CA that lists the serial of UA's node, and a
// CRL that names UA's CA as its issuer but is signed with PL's key, revoke
// nothing of UA's (a CRL revokes only what the key that signed it issued);
// a trust bundle in which a CA of PL's copies the subject, or the key id, of
// UA's CA is refused with an error that says so, and the nodes keep the
// bundle they had. Through it all UA's node is accepted by every node.
func TestAttackCRLOfAnotherMember(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA", "PL", "DE")
	nodes, _ := startFederation(t, fed, "UA", "PL", "DE")
	uaTLS := nodes[0].cfg.TLS
	uaSerial := pkitest.Certificate(t, uaTLS).SerialNumber
	uaCA, plCA := fed.CAs["UA"], fed.CAs["PL"]
	// UA's node dials every node with its own certificate; its client
	// credentials are made now, from the honest bundle.
	creds := map[string]credentials.TransportCredentials{}
	for _, n := range nodes {
		creds[n.member] = honestCreds(t, uaTLS, n.member)
	}
	uaAccepted := func(when string) {
		t.Helper()
		for _, n := range nodes {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err := oneShot(ctx, n.d.Addr(), creds[n.member], whoAmI)
			cancel()
			if err != nil {
				t.Errorf("%s: UA's node refused by %s: %v", when, n.member, err)
			}
			if _, err := n.d.TLS().Verifier().Verify([]*x509.Certificate{pkitest.Certificate(t, uaTLS)}, x509.ExtKeyUsageServerAuth); err != nil {
				t.Errorf("%s: %s's verifier refuses UA's node: %v", when, n.member, err)
			}
		}
	}
	reloadAll := func() []error {
		var errs []error
		for _, n := range nodes {
			errs = append(errs, n.d.Reload())
		}
		return errs
	}
	uaAccepted("before the attack")

	// 1. PL's own CA lists UA's serial; PL's key signs a CRL in UA's name.
	fed.WriteCRLFile("PL-rogue.crl", pkitest.SignCRL(t, plCA.Cert, plCA.Key, uaSerial))
	fed.WriteCRLFile("UA-forged.crl", pkitest.SignCRL(t, uaCA.Cert, plCA.Key, uaSerial))
	for i, err := range reloadAll() {
		if err != nil {
			t.Errorf("%s: reload with PL's CRLs: %v", nodes[i].member, err)
		}
	}
	uaAccepted("after PL's CRLs")
	for _, n := range nodes {
		u := n.d.TLS().UnusableCRLs()
		if len(u) != 1 || filepath.Base(u[0].Source) != "UA-forged.crl" || u[0].Reason != trust.CRLUnknownIssuer {
			t.Errorf("%s: unusable CRL files %+v, want UA-forged.crl of an unknown issuer", n.member, u)
		}
	}

	// 2. A CA of PL's with UA's exact subject, and a CRL it signed.
	sameSubject, key := fed.Lookalike("PL", uaCA.Cert, false)
	fed.WriteBundleWith("PL", sameSubject)
	fed.WriteCRLFile("UA-lookalike.crl", pkitest.SignCRL(t, sameSubject, key, uaSerial))
	for i, err := range reloadAll() {
		want := `CA subject "CN=Accord UA CA" is used by CAs of members PL and UA`
		if err == nil || !errors.Is(err, trust.ErrInvalidBundle) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: reload of a bundle with PL's CA in UA's name: %v, want an error saying %q", nodes[i].member, err, want)
		}
	}
	uaAccepted("after a bundle with PL's CA in UA's name")

	// 3. A CA of PL's with the key id of UA's CA.
	sameKeyID, _ := fed.Lookalike("PL", uaCA.Cert, true)
	fed.WriteBundleWith("PL", sameKeyID)
	for i, err := range reloadAll() {
		want := "CA key id " + fmt.Sprintf("%x", uaCA.Cert.SubjectKeyId) + " is used by CAs of members PL and UA"
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: reload of a bundle with PL's CA under UA's key id: %v, want an error saying %q", nodes[i].member, err, want)
		}
	}
	uaAccepted("after a bundle with PL's CA under UA's key id")
	for _, n := range nodes {
		if v := scrapeMetric(t, n.d.MetricsAddr(), `accord_tls_reload_failures_total{reason="bundle_file"}`); v < 2 {
			t.Errorf("%s: accord_tls_reload_failures_total{reason=\"bundle_file\"} = %v, want 2 refused bundles counted", n.member, v)
		}
	}

	// The honest bundle again: every node reloads, UA still in.
	fed.SaveBundle()
	for i, err := range reloadAll() {
		if err != nil {
			t.Errorf("%s: reload of the honest bundle: %v", nodes[i].member, err)
		}
	}
	uaAccepted("after the honest bundle is back")
}

// TestAttackUnusableCRLFile: a garbage file in the CRL folder beside a new
// CRL of UA that revokes one of UA's users does not stop that revocation;
// when UA's CRL file itself turns to garbage, its last good version stays
// in force. The node shows both files as unusable in its metrics and in
// FederationStatus (what `accordctl status` prints), and counts no failed
// reload.
func TestAttackUnusableCRLFile(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA", "PL")
	nodes, _ := startFederation(t, fed, "UA", "PL")
	ua := nodes[0]
	victim := fed.User("UA", "analyst-2")
	victimCreds := honestCreds(t, victim, "UA")
	status := accordv1.NewFederationIndexServiceClient(dialWith(t, ua.d.LocalAddr(), honestCreds(t, fed.User("UA", "analyst"), "UA")))
	call := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return oneShot(ctx, ua.d.LocalAddr(), victimCreds, listCases)
	}
	if err := call(); err != nil {
		t.Fatalf("the user before its revocation: %v", err)
	}
	unusable := func() map[string]*accordv1.RevocationFileProblem {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		st, err := status.FederationStatus(ctx, &accordv1.FederationStatusRequest{})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]*accordv1.RevocationFileProblem{}
		for _, p := range st.GetTrust().GetUnusableCrls() {
			out[p.GetFile()] = p
		}
		if st.GetTrust().GetReloadFailures() != 0 || st.GetTrust().GetLastReloadError() != "" {
			t.Errorf("trust status %v: an unusable CRL file is no failed reload", st.GetTrust())
		}
		return out
	}
	refused := func(when string) {
		t.Helper()
		raftnettest.WaitFor(t, 10*time.Second, func() error {
			reload := ua.d.Reload()
			if err := call(); err == nil || !strings.Contains(err.Error(), "bad certificate") {
				return fmt.Errorf("%s: the revoked user is not refused at the handshake: %w (reload: %w)", when, err, reload)
			}
			if reload != nil {
				return fmt.Errorf("%s: reload: %w", when, reload)
			}
			return nil
		})
	}

	// Garbage beside UA's new CRL.
	fed.WriteCRLFile("garbage.crl", []byte("-----BEGIN X509 CRL-----\nbm90IGEgQ1JM\n-----END X509 CRL-----\n"))
	fed.Revoke("UA", victim)
	refused("garbage beside UA's CRL")
	got := unusable()
	if p := got["garbage.crl"]; len(got) != 1 || p == nil || p.GetReason() != trust.CRLMalformed || p.GetKeptLastGood() {
		t.Errorf("unusable CRL files %v, want garbage.crl malformed", got)
	}
	if v := scrapeMetric(t, ua.d.MetricsAddr(), `accord_tls_crl_files_unusable{reason="malformed"}`); v != 1 {
		t.Errorf(`accord_tls_crl_files_unusable{reason="malformed"} = %v, want 1`, v)
	}

	// UA's CRL file is cut short: the revocation stays.
	path := filepath.Join(fed.CRLDir, "UA.crl")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fed.WriteCRLFile("UA.crl", data[:len(data)/2])
	refused("UA's CRL file cut short")
	got = unusable()
	if p := got["UA.crl"]; len(got) != 2 || p == nil || !p.GetKeptLastGood() {
		t.Errorf("unusable CRL files %v, want UA.crl with its last good version kept", got)
	}
	if v := scrapeMetric(t, ua.d.MetricsAddr(), `accord_tls_crl_files_unusable{reason="malformed"}`); v != 2 {
		t.Errorf(`accord_tls_crl_files_unusable{reason="malformed"} = %v, want 2`, v)
	}
	if v := scrapeMetric(t, ua.d.MetricsAddr(), `accord_tls_reload_failures_total{reason="crl_dir"}`); v != 0 {
		t.Errorf(`accord_tls_reload_failures_total{reason="crl_dir"} = %v, want 0`, v)
	}
}
