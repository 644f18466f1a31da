package mtls_test

import (
	"crypto/x509"
	"encoding/pem"
	"slices"
	"testing"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/mtls"
	"github.com/accordfed/accord/federation/pki/pkitest"
	"github.com/accordfed/accord/federation/trust"
)

func caPEM(c *x509.Certificate) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
}

// TestLearnedMembers trusts a member learned from the registry (not in
// the bundle file), refuses a learned CA that breaks a bundle rule, keeps
// the file authoritative for the members it lists, and stops trusting a
// member no longer learned.
func TestLearnedMembers(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA", "PL", "FR")
	ua := fed.Node("UA", "ua-1")
	frLeaf := pkitest.Certificate(t, fed.Node("FR", "fr-1"))
	fed.RemoveMember("FR") // UA's bundle file knows UA and PL only
	src, err := mtls.NewSource(ua, mtls.Hooks{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	verify := func() error {
		_, err := src.Verifier().Verify([]*x509.Certificate{frLeaf}, x509.ExtKeyUsageServerAuth)
		return err
	}
	if verify() == nil {
		t.Fatal("FR's node trusted before FR is learned")
	}
	fr := trust.MemberBundle{Member: "FR", CACertificates: []string{caPEM(fed.CAs["FR"].Cert)}}
	changed, err := src.SetLearned([]trust.MemberBundle{fr})
	if err != nil || !changed {
		t.Fatalf("SetLearned: %v %v", changed, err)
	}
	if err := verify(); err != nil {
		t.Fatalf("FR's node after FR is learned: %v", err)
	}
	if got := src.Learned(); !slices.Equal(got, []string{"FR"}) {
		t.Errorf("learned: %v", got)
	}
	if changed, _ := src.SetLearned([]trust.MemberBundle{fr}); changed {
		t.Error("the same members changed the material")
	}

	// A learned member may not take UA's CA; the file's PL stays PL's.
	thief := trust.MemberBundle{Member: "DE", CACertificates: []string{caPEM(fed.CAs["UA"].Cert)}}
	pl := trust.MemberBundle{Member: "PL", CACertificates: []string{caPEM(fed.CAs["FR"].Cert)}}
	if _, err := src.SetLearned([]trust.MemberBundle{fr, thief, pl}); err != nil {
		t.Fatal(err)
	}
	if got := src.Learned(); !slices.Equal(got, []string{"FR"}) || slices.Contains(src.Verifier().Members(), "DE") {
		t.Errorf("learned %v, trusted %v", got, src.Verifier().Members())
	}
	plLeaf := pkitest.Certificate(t, fed.Node("PL", "pl-1"))
	if id, err := src.Verifier().Verify([]*x509.Certificate{plLeaf}, x509.ExtKeyUsageServerAuth); err != nil || id.Member != "PL" || id.Kind != identity.KindNode {
		t.Errorf("PL's node after a learned PL entry: %v %v", id, err)
	}

	// FR suspended: no longer learned, no longer trusted.
	if _, err := src.SetLearned(nil); err != nil {
		t.Fatal(err)
	}
	if verify() == nil {
		t.Fatal("FR's node trusted after FR is no longer learned")
	}
}
