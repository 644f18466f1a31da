package mtls_test

import (
	"bytes"
	"crypto/x509"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/accordfed/accord/federation/mtls"
	"github.com/accordfed/accord/federation/pki/pkitest"
	"github.com/accordfed/accord/federation/trust"
)

// syncBuffer is a log sink safe for the Source's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestLearnedCollisionRefusesBothMembers is review finding 1 on the node's
// side. A dishonest member (the attacker) registers beside its own CA a
// lookalike of a victim's CA: a CA naming the attacker but carrying the
// victim's subject (or key id). The merge used to add learned members in
// code order, the first claimant winning: an attacker whose code sorted
// first (BE before FR) pushed the victim out of every node's trust. Now a
// collision between learned members refuses both, whatever their codes,
// and is logged as an error naming both; the attacker gains nothing by it.
// (The registry refuses such a CA in the first place: this is the node's
// own line of defence against a registry that would not.)
func TestLearnedCollisionRefusesBothMembers(t *testing.T) {
	for _, c := range []struct {
		attacker  string
		sameKeyID bool
	}{{"BE", false}, {"BE", true}, {"GR", false}} {
		name := c.attacker + " copies FR's subject"
		if c.sameKeyID {
			name = c.attacker + " copies FR's key id"
		}
		t.Run(name, func(t *testing.T) {
			fed := pkitest.NewFederation(t, "accord.test", "UA", "PL", "FR", c.attacker)
			ua := fed.Node("UA", "ua-1")
			frLeaf := pkitest.Certificate(t, fed.Node("FR", "fr-1"))
			atLeaf := pkitest.Certificate(t, fed.Node(c.attacker, "n-1"))
			frCA, atCA := fed.CAs["FR"].Cert, fed.CAs[c.attacker].Cert
			fed.RemoveMember("FR")
			fed.RemoveMember(c.attacker) // UA's bundle file: UA and PL
			var logs syncBuffer
			src, err := mtls.NewSource(ua, mtls.Hooks{}, slog.New(slog.NewTextHandler(&logs, nil)), nil)
			if err != nil {
				t.Fatal(err)
			}
			trusted := func(leaf *x509.Certificate) bool {
				_, err := src.Verifier().Verify([]*x509.Certificate{leaf}, x509.ExtKeyUsageServerAuth)
				return err == nil
			}
			fr := trust.MemberBundle{Member: "FR", CACertificates: []string{caPEM(frCA)}}
			at := trust.MemberBundle{Member: c.attacker, CACertificates: []string{caPEM(atCA)}}
			if _, err := src.SetLearned([]trust.MemberBundle{fr, at}); err != nil {
				t.Fatal(err)
			}
			if !trusted(frLeaf) || !trusted(atLeaf) {
				t.Fatalf("before the lookalike: learned %v", src.Learned())
			}

			look, _ := fed.Lookalike(c.attacker, frCA, c.sameKeyID)
			at.CACertificates = append(at.CACertificates, caPEM(look))
			for _, order := range [][]trust.MemberBundle{{fr, at}, {at, fr}} {
				if _, err := src.SetLearned(order); err != nil {
					t.Fatal(err)
				}
				if got := src.Learned(); len(got) != 0 {
					t.Fatalf("learned %v after the collision, want neither FR nor %s", got, c.attacker)
				}
				if trusted(atLeaf) {
					t.Fatalf("%s's node is trusted with a CA colliding with FR's", c.attacker)
				}
				if trusted(frLeaf) {
					t.Fatal("FR's node is trusted while its CA collides with another learned member's")
				}
			}
			out := logs.String()
			for _, want := range []string{"level=ERROR", "member=FR", "other_member=" + c.attacker, "member=" + c.attacker, "other_member=FR"} {
				if !strings.Contains(out, want) {
					t.Errorf("the log does not say %q:\n%s", want, out)
				}
			}

			// The attacker withdraws its lookalike: both are trusted again.
			at.CACertificates = at.CACertificates[:1]
			if _, err := src.SetLearned([]trust.MemberBundle{fr, at}); err != nil {
				t.Fatal(err)
			}
			if got := src.Learned(); !slices.Equal(got, []string{c.attacker, "FR"}) && !slices.Equal(got, []string{"FR", c.attacker}) {
				t.Fatalf("learned %v after the lookalike is gone", got)
			}
		})
	}
}

// TestLearnedCollisionWithFileMemberKeepsFile: a learned member whose CA
// copies the subject of a member the bundle file lists is refused, the
// file's member stays trusted, and the log names both.
func TestLearnedCollisionWithFileMemberKeepsFile(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA", "PL", "BE")
	ua := fed.Node("UA", "ua-1")
	plLeaf := pkitest.Certificate(t, fed.Node("PL", "pl-1"))
	beCA := fed.CAs["BE"].Cert
	fed.RemoveMember("BE")
	var logs syncBuffer
	src, err := mtls.NewSource(ua, mtls.Hooks{}, slog.New(slog.NewTextHandler(&logs, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	look, _ := fed.Lookalike("BE", fed.CAs["PL"].Cert, false)
	be := trust.MemberBundle{Member: "BE", CACertificates: []string{caPEM(beCA), caPEM(look)}}
	if _, err := src.SetLearned([]trust.MemberBundle{be}); err != nil {
		t.Fatal(err)
	}
	if got := src.Learned(); len(got) != 0 {
		t.Fatalf("learned %v", got)
	}
	if _, err := src.Verifier().Verify([]*x509.Certificate{plLeaf}, x509.ExtKeyUsageServerAuth); err != nil {
		t.Fatalf("PL (in the file) after BE's lookalike: %v", err)
	}
	for _, want := range []string{"level=ERROR", "member=BE", "file_member=PL"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("the log does not say %q:\n%s", want, logs.String())
		}
	}
}
