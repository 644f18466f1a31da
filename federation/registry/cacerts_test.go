package registry

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/accordfed/accord/federation/identity"
)

// Finding 1 of the 2026-12 review: a dishonest admitted member could
// register (member.update needs no vote) a "CA" that names itself but
// copies another member's CA subject, subject key id or public key. Nodes
// that trust the CAs the registry admitted then refused the victim's real
// CA, and cut off the victim's connections. The registry now refuses such a
// CA on every replica: the first registration wins.

// fakeCA returns a PEM CA certificate naming member in testFed, built from
// tmpl's subject and key id (a RawSubject and SubjectKeyId set in tmpl are
// copied), holding pub and signed by signer as issuer parent (nil: the
// certificate itself, i.e. self-signed).
func fakeCA(t *testing.T, member string, rawSubject, keyID []byte, pub crypto.PublicKey, signer crypto.Signer, parent *x509.Certificate) string {
	t.Helper()
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 100))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: "Accord " + member + " CA " + serial.Text(36)}, RawSubject: rawSubject,
		NotBefore: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		URIs: []*url.URL{identity.MemberURI(testFed, member)}, SubjectKeyId: keyID,
	}
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// refuseNaming applies p as member and checks it is refused with want and
// a message containing every part of msg.
func refuseNaming(t *testing.T, h *harness, member string, p Payload, want error, msg ...string) {
	t.Helper()
	before := h.dump(false)
	res := h.do(member, p)
	if !errors.Is(res.Err, want) {
		t.Fatalf("%s %T: err = %v, want %v", member, p, res.Err, want)
	}
	for _, m := range msg {
		if !strings.Contains(res.Err.Error(), m) {
			t.Fatalf("%s %T: %q does not say %q", member, p, res.Err, m)
		}
	}
	if after := h.dump(false); after != before {
		t.Fatalf("refused but changed the state:\n%s", firstDiff(before, after))
	}
}

// TestCACertsLookalikeOfAnotherMemberRefused: BE, admitted, adds to its
// own CAs (member.update) or proposes a newcomer with a CA that names the
// right member but copies FR's CA subject, key id or public key: refused
// with AlreadyExists naming the field and FR. (The reviewer's proof, made
// a test: without the check, the update applied.)
func TestCACertsLookalikeOfAnotherMemberRefused(t *testing.T) {
	h := bootstrapped(t, Policy{}, "UA", "FR", "BE")
	fr := memberCA(t, "FR")
	be := h.member("BE")
	own := newKey(t)
	cases := []struct {
		name string
		ca   string
		want string
	}{
		{"FR's subject", fakeCA(t, "BE", fr.cert.RawSubject, []byte("be-own-key-id"), &own.PublicKey, own, nil), "this CA's subject"},
		{"FR's subject key id", fakeCA(t, "BE", nil, fr.cert.SubjectKeyId, &own.PublicKey, own, nil), "this CA's subject key id"},
		// Only FR holds FR's key: this one stands for an FR key that leaked
		// to BE (the self-signature check alone does not stop it).
		{"FR's public key", fakeCA(t, "BE", nil, []byte("be-other-key-id"), &fr.key.PublicKey, fr.key, nil), "this CA's public key"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			refuseNaming(t, h, "BE", UpdateMember{Code: "BE", Name: be.Name, CACerts: append(be.CACerts[:1:1], c.ca), SigningKeys: be.SigningKeys},
				ErrAlreadyExists, "ca_certs[1]: "+c.want, "already registered by member FR")
		})
	}
	// A newcomer's proposal is held to the same rule.
	refuseNaming(t, h, "BE", ProposeMember{Code: "LT", Name: "Lithuania",
		CACerts: []string{fakeCA(t, "LT", fr.cert.RawSubject, nil, &own.PublicKey, own, nil)}},
		ErrAlreadyExists, "ca_certs[0]: this CA's subject", "already registered by member FR")
	// BE's own CA renewed with the same key and name stays allowed.
	beCA := memberCA(t, "BE")
	renewed := fakeCA(t, "BE", beCA.cert.RawSubject, beCA.cert.SubjectKeyId, &beCA.key.PublicKey, beCA.key, nil)
	h.ok("BE", UpdateMember{Code: "BE", Name: be.Name, CACerts: []string{be.CACerts[0], renewed}, SigningKeys: be.SigningKeys})
}

// TestCACertsClaimedByProposedOrSuspendedMemberRefused: a CA belongs to
// the member that registered it whatever its status: a proposed member's
// (not yet admitted) and a suspended member's CAs may not be copied either.
func TestCACertsClaimedByProposedOrSuspendedMemberRefused(t *testing.T) {
	h := bootstrapped(t, Policy{}, "UA", "FR", "BE", "PL")
	h.ok("UA", ProposeMember{Code: "LT", Name: "Lithuania", CACerts: []string{validCA(t, "LT")}})
	h.ok("PL", SuspendMember{Code: "PL", Reason: "leaving"})
	be := h.member("BE")
	own := newKey(t)
	for _, victim := range []string{"LT", "PL"} {
		ca := fakeCA(t, "BE", memberCA(t, victim).cert.RawSubject, nil, &own.PublicKey, own, nil)
		refuseNaming(t, h, "BE", UpdateMember{Code: "BE", Name: be.Name, CACerts: []string{be.CACerts[0], ca}, SigningKeys: be.SigningKeys},
			ErrAlreadyExists, "ca_certs[1]: this CA's subject", "already registered by member "+victim)
	}
}

// TestCACertsFoundersMayNotShareCA: at the bootstrap, a founder listed
// later may not reuse an earlier founder's CA subject, key id or key.
func TestCACertsFoundersMayNotShareCA(t *testing.T) {
	h := newHarness(t)
	ua, fr := founder(t, "UA"), founder(t, "FR")
	own := newKey(t)
	fr.CACerts = append(fr.CACerts, fakeCA(t, "FR", memberCA(t, "UA").cert.RawSubject, nil, &own.PublicKey, own, nil))
	refuseNaming(t, h, "UA", Bootstrap{Federation: testFed, Founders: []FounderSpec{ua, fr}},
		ErrAlreadyExists, "founders[1].ca_certs[1]: this CA's subject", "already registered by member UA")
}

// TestCACertsMustBeSelfSigned: a member's CA is a root, self-issued and
// verifying with its own public key. A certificate carrying someone else's
// public key cannot be made to verify with it (proof of possession), and
// an intermediate CA is not a member's CA.
func TestCACertsMustBeSelfSigned(t *testing.T) {
	h := bootstrapped(t, Policy{}, "UA", "FR", "BE")
	be := h.member("BE")
	own := newKey(t)
	fr := memberCA(t, "FR")
	update := func(ca string) UpdateMember {
		return UpdateMember{Code: "BE", Name: be.Name, CACerts: []string{be.CACerts[0], ca}, SigningKeys: be.SigningKeys}
	}
	// FR's public key under a new name, signed with BE's own key.
	refuseNaming(t, h, "BE", update(fakeCA(t, "BE", nil, []byte("k"), &fr.key.PublicKey, own, nil)),
		ErrInvalidArgument, "ca_certs[1]: must be self-signed", "does not verify with its own public key")
	// An intermediate under BE's root.
	beCA := memberCA(t, "BE")
	refuseNaming(t, h, "BE", update(fakeCA(t, "BE", nil, nil, &own.PublicKey, beCA.key, beCA.cert)),
		ErrInvalidArgument, "ca_certs[1]: must be self-signed", "is not its subject")
	if err := checkCACerts("ca_certs", testFed, "FR", []string{fr.pem}, time.Now()); err != nil {
		t.Fatalf("a self-signed member CA: %v", err)
	}
}
