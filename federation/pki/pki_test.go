package pki

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/trust"
)

const testFed = "accord.example"

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func fixedClock() time.Time { return testNow }

func newTestCA(t *testing.T, member string) *CA {
	t.Helper()
	ca, err := NewCA(CAOptions{Federation: testFed, Member: member, Name: "Office of " + member, Now: fixedClock})
	if err != nil {
		t.Fatalf("NewCA(%s): %v", member, err)
	}
	return ca
}

func bundleOf(t *testing.T, cas ...*CA) *trust.Bundle {
	t.Helper()
	b, err := trust.NewBundle(testFed)
	if err != nil {
		t.Fatal(err)
	}
	for _, ca := range cas {
		if err := b.Add(ca.Member, ca.Name(), ca.Cert); err != nil {
			t.Fatalf("bundle add %s: %v", ca.Member, err)
		}
	}
	return b
}

func verifier(t *testing.T, b *trust.Bundle, crls ...[]byte) *trust.Verifier {
	t.Helper()
	var list []trust.CRL
	for i, data := range crls {
		crl, err := trust.ParseCRL(data)
		if err != nil {
			t.Fatalf("ParseCRL: %v", err)
		}
		list = append(list, trust.CRL{List: crl, Source: string(rune('a' + i))})
	}
	v, err := trust.NewVerifier(b, list, fixedClock)
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	return v
}

func issue(t *testing.T, ca *CA, kind identity.Kind, name string) *Issued {
	t.Helper()
	opts := IssueOptions{Kind: kind, Name: name}
	if kind == identity.KindNode {
		opts.DNSNames = []string{"localhost", name}
		opts.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	}
	is, err := ca.Issue(opts)
	if err != nil {
		t.Fatalf("Issue %s %s: %v", kind, name, err)
	}
	return is
}

func TestCACertificateShape(t *testing.T) {
	ca := newTestCA(t, "UA")
	c := ca.Cert
	if !c.IsCA || !c.BasicConstraintsValid || c.MaxPathLen != 0 || !c.MaxPathLenZero {
		t.Errorf("basic constraints: IsCA=%v valid=%v maxPathLen=%d zero=%v", c.IsCA, c.BasicConstraintsValid, c.MaxPathLen, c.MaxPathLenZero)
	}
	if c.KeyUsage != x509.KeyUsageCertSign|x509.KeyUsageCRLSign {
		t.Errorf("key usage = %v", c.KeyUsage)
	}
	if len(c.URIs) != 1 || c.URIs[0].String() != "spiffe://accord.example/member/UA" {
		t.Errorf("URIs = %v", c.URIs)
	}
	if c.Subject.CommonName != "Accord UA CA" || len(c.Subject.Organization) != 1 || c.Subject.Organization[0] != "Office of UA" {
		t.Errorf("subject = %v", c.Subject)
	}
	if len(c.SubjectKeyId) == 0 {
		t.Error("no SubjectKeyId")
	}
	if got, want := c.NotAfter.Sub(testNow), DefaultCAValidity; got != want {
		t.Errorf("validity = %v, want %v", got, want)
	}
	if !c.NotBefore.Equal(testNow.Add(-ClockSkew)) {
		t.Errorf("NotBefore = %v", c.NotBefore)
	}
	if keyType(c.PublicKey) != "ECDSA P-256" {
		t.Errorf("key = %s", keyType(c.PublicKey))
	}
}

func TestCARoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ca", "UA")
	ca, err := CreateCA(dir, CAOptions{Federation: testFed, Member: "UA", Name: "Office of the Prosecutor General", Now: fixedClock})
	if err != nil {
		t.Fatal(err)
	}
	node := issue(t, ca, identity.KindNode, "ua-1")
	if _, err := ca.CRL(0); err != nil {
		t.Fatal(err)
	}

	got, err := OpenCA(dir)
	if err != nil {
		t.Fatalf("OpenCA: %v", err)
	}
	if !got.Cert.Equal(ca.Cert) {
		t.Error("reopened CA certificate differs")
	}
	if !keyMatches(got.Cert, got.Key) {
		t.Error("reopened key does not match")
	}
	if got.Federation != testFed || got.Member != "UA" || got.Name() != "Office of the Prosecutor General" || got.Dir() != dir {
		t.Errorf("reopened CA: fed=%q member=%q name=%q dir=%q", got.Federation, got.Member, got.Name(), got.Dir())
	}
	recs := got.IssuedRecords()
	if len(recs) != 1 || recs[0].Serial != node.Cert.SerialNumber.Text(16) || recs[0].Identity != node.Identity.String() {
		t.Errorf("issued records = %+v", recs)
	}
	if got.CRLNumber() != 1 {
		t.Errorf("CRL number = %d, want 1", got.CRLNumber())
	}
	// The reopened CA revokes what the first one issued, and it sticks.
	if err := got.Revoke(node.Cert.SerialNumber, ReasonSuperseded, time.Time{}); err != nil {
		t.Fatal(err)
	}
	again, err := OpenCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	if r := again.Revocations(); len(r) != 1 || r[0].Reason != ReasonSuperseded {
		t.Errorf("revocations = %+v", r)
	}

	if _, err := CreateCA(dir, CAOptions{Federation: testFed, Member: "UA"}); !errors.Is(err, ErrCAExists) {
		t.Errorf("CreateCA over an existing CA: err = %v, want ErrCAExists", err)
	}
	if _, err := OpenCA(t.TempDir()); !errors.Is(err, ErrNoCA) {
		t.Errorf("OpenCA of an empty folder: err = %v, want ErrNoCA", err)
	}
}

func TestOpenCARefusesForeignKey(t *testing.T) {
	dir := t.TempDir()
	if _, err := CreateCA(dir, CAOptions{Federation: testFed, Member: "UA"}); err != nil {
		t.Fatal(err)
	}
	other := newTestCA(t, "PL")
	kp, err := keyPEM(other.Key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, CAKeyFile), kp, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = OpenCA(dir)
	if !errors.Is(err, ErrCorruptCA) || !errors.Is(err, ErrKeyMismatch) {
		t.Errorf("err = %v, want ErrCorruptCA and ErrKeyMismatch", err)
	}
}

func TestFileModes(t *testing.T) {
	root := t.TempDir()
	caDir := filepath.Join(root, "ca")
	ca, err := CreateCA(caDir, CAOptions{Federation: testFed, Member: "UA"})
	if err != nil {
		t.Fatal(err)
	}
	nodeDir := filepath.Join(root, "nodes", "ua-1")
	if err := WriteIssued(nodeDir, issue(t, ca, identity.KindNode, "ua-1"), ca); err != nil {
		t.Fatal(err)
	}
	userDir := filepath.Join(root, "users", "u-1042")
	if err := WriteIssued(userDir, issue(t, ca, identity.KindUser, "u-1042"), ca); err != nil {
		t.Fatal(err)
	}
	want := map[string]os.FileMode{
		caDir:                              0o700 | os.ModeDir,
		filepath.Join(caDir, CAKeyFile):    0o600,
		filepath.Join(caDir, CACertFile):   0o644,
		filepath.Join(caDir, StateFile):    0o600,
		filepath.Join(nodeDir, "node.key"): 0o600,
		filepath.Join(nodeDir, "node.crt"): 0o644,
		filepath.Join(nodeDir, CACertFile): 0o644,
		filepath.Join(userDir, "user.key"): 0o600,
		filepath.Join(userDir, "user.crt"): 0o644,
	}
	for p, mode := range want {
		fi, err := os.Stat(p)
		if err != nil {
			t.Error(err)
			continue
		}
		if fi.Mode() != mode {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode(), mode)
		}
	}
	back, err := ReadIssued(nodeDir, identity.KindNode)
	if err != nil {
		t.Fatalf("ReadIssued: %v", err)
	}
	if back.Identity.String() != "spiffe://accord.example/member/UA/node/ua-1" {
		t.Errorf("ReadIssued identity = %s", back.Identity)
	}
	if _, err := ReadIssued(userDir, identity.KindNode); err == nil {
		t.Error("ReadIssued of a user folder as node: no error")
	}
}

func TestIssuedCertificatesVerify(t *testing.T) {
	ua, pl := newTestCA(t, "UA"), newTestCA(t, "PL")
	v := verifier(t, bundleOf(t, ua, pl))
	node := issue(t, ua, identity.KindNode, "ua-1")
	user := issue(t, ua, identity.KindUser, "u-1042")

	for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
		id, err := v.Verify([]*x509.Certificate{node.Cert}, usage)
		if err != nil {
			t.Errorf("node, usage %v: %v", usage, err)
		}
		if id != node.Identity {
			t.Errorf("node identity = %v, want %v", id, node.Identity)
		}
	}
	if _, err := v.Verify([]*x509.Certificate{user.Cert}, x509.ExtKeyUsageClientAuth); err != nil {
		t.Errorf("user as client: %v", err)
	}
	if _, err := v.Verify([]*x509.Certificate{user.Cert}, x509.ExtKeyUsageServerAuth); !errors.Is(err, trust.ErrKeyUsage) {
		t.Errorf("user as server: err = %v, want ErrKeyUsage", err)
	}

	// Shape of a leaf.
	c := node.Cert
	if c.IsCA || c.KeyUsage != x509.KeyUsageDigitalSignature {
		t.Errorf("IsCA=%v KeyUsage=%v", c.IsCA, c.KeyUsage)
	}
	if !bytes.Equal(c.AuthorityKeyId, ua.Cert.SubjectKeyId) {
		t.Error("AuthorityKeyId is not the CA's SubjectKeyId")
	}
	if c.SerialNumber.BitLen() > 128 || c.SerialNumber.Sign() <= 0 {
		t.Errorf("serial %v", c.SerialNumber)
	}
	if c.Subject.CommonName != "ua-1" || len(c.URIs) != 1 {
		t.Errorf("CN=%q URIs=%v", c.Subject.CommonName, c.URIs)
	}
	if got := c.NotAfter.Sub(c.NotBefore); got != DefaultLeafValidity {
		t.Errorf("validity %v", got)
	}
	if len(c.IPAddresses) != 1 || !c.IPAddresses[0].Equal(net.ParseIP("127.0.0.1")) || len(c.DNSNames) != 2 {
		t.Errorf("SANs: %v %v", c.DNSNames, c.IPAddresses)
	}
	if len(user.Cert.ExtKeyUsage) != 1 || user.Cert.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth {
		t.Errorf("user EKU = %v", user.Cert.ExtKeyUsage)
	}
	if tc := node.TLSCertificate(); tc.Leaf != node.Cert || len(tc.Certificate) != 1 {
		t.Errorf("TLSCertificate: %+v", tc)
	}
}

func TestLeafNeverOutlivesCA(t *testing.T) {
	ca, err := NewCA(CAOptions{Federation: testFed, Member: "UA", Validity: 30 * 24 * time.Hour, Now: fixedClock})
	if err != nil {
		t.Fatal(err)
	}
	is, err := ca.Issue(IssueOptions{Kind: identity.KindNode, Name: "ua-1", Validity: MaxLeafValidity})
	if err != nil {
		t.Fatal(err)
	}
	if is.Cert.NotAfter.After(ca.Cert.NotAfter) {
		t.Errorf("leaf NotAfter %v after CA NotAfter %v", is.Cert.NotAfter, ca.Cert.NotAfter)
	}
	ca.Now = func() time.Time { return testNow.Add(31 * 24 * time.Hour) }
	if _, err := ca.Issue(IssueOptions{Kind: identity.KindNode, Name: "ua-2"}); !errors.Is(err, ErrCAExpired) {
		t.Errorf("issue from expired CA: err = %v, want ErrCAExpired", err)
	}
}

func TestTLSHandshake(t *testing.T) {
	ua, pl := newTestCA(t, "UA"), newTestCA(t, "PL")
	v := verifier(t, bundleOf(t, ua, pl))
	server, client := issue(t, ua, identity.KindNode, "ua-1"), issue(t, pl, identity.KindNode, "pl-1")
	check := func(usage x509.ExtKeyUsage, got *identity.Identity) func(tls.ConnectionState) error {
		return func(cs tls.ConnectionState) error {
			id, err := v.Verify(cs.PeerCertificates, usage)
			*got = id
			return err
		}
	}
	var sawClient, sawServer identity.Identity
	sc := &tls.Config{
		Certificates: []tls.Certificate{server.TLSCertificate()}, ClientAuth: tls.RequireAnyClientCert,
		InsecureSkipVerify: true, VerifyConnection: check(x509.ExtKeyUsageClientAuth, &sawClient), Time: fixedClock,
	}
	cc := &tls.Config{
		Certificates: []tls.Certificate{client.TLSCertificate()}, InsecureSkipVerify: true,
		VerifyConnection: check(x509.ExtKeyUsageServerAuth, &sawServer), Time: fixedClock,
	}
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	errc := make(chan error, 1)
	go func() { errc <- tls.Server(a, sc).Handshake() }()
	if err := tls.Client(b, cc).Handshake(); err != nil {
		t.Fatalf("client handshake: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("server handshake: %v", err)
	}
	if sawClient != client.Identity || sawServer != server.Identity {
		t.Errorf("server saw %v, client saw %v", sawClient, sawServer)
	}
}

func TestRevokeAndCRL(t *testing.T) {
	dir := t.TempDir()
	ua, err := CreateCA(dir, CAOptions{Federation: testFed, Member: "UA", Now: fixedClock})
	if err != nil {
		t.Fatal(err)
	}
	pl := newTestCA(t, "PL")
	b := bundleOf(t, ua, pl)
	bad, good := issue(t, ua, identity.KindNode, "ua-1"), issue(t, ua, identity.KindNode, "ua-2")

	if err := ua.Revoke(bad.Cert.SerialNumber, ReasonKeyCompromise, time.Time{}); err != nil {
		t.Fatal(err)
	}
	crl1, err := ua.CRL(0)
	if err != nil {
		t.Fatal(err)
	}
	v := verifier(t, b, crl1)
	if _, err := v.Verify([]*x509.Certificate{bad.Cert}, x509.ExtKeyUsageClientAuth); !errors.Is(err, trust.ErrRevoked) {
		t.Errorf("revoked cert: err = %v, want ErrRevoked", err)
	}
	if _, err := v.Verify([]*x509.Certificate{good.Cert}, x509.ExtKeyUsageClientAuth); err != nil {
		t.Errorf("unrevoked cert: %v", err)
	}

	list, err := trust.ParseCRL(crl1)
	if err != nil {
		t.Fatal(err)
	}
	if list.Number.Int64() != 1 || !list.NextUpdate.Equal(testNow.Add(DefaultCRLValidity)) {
		t.Errorf("CRL number %v next update %v", list.Number, list.NextUpdate)
	}
	if len(list.RevokedCertificateEntries) != 1 || list.RevokedCertificateEntries[0].ReasonCode != ReasonKeyCompromise {
		t.Errorf("entries = %+v", list.RevokedCertificateEntries)
	}
	crl2, err := ua.CRL(time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if l2, _ := trust.ParseCRL(crl2); l2.Number.Int64() != 2 {
		t.Errorf("second CRL number = %v, want 2", l2.Number)
	}
	if reopened, err := OpenCA(dir); err != nil || reopened.CRLNumber() != 2 {
		t.Errorf("reopened CRL number = %v (%v), want 2", reopened.CRLNumber(), err)
	}

	if err := ua.Revoke(bad.Cert.SerialNumber, ReasonKeyCompromise, time.Time{}); !errors.Is(err, ErrAlreadyRevoked) {
		t.Errorf("revoke twice: err = %v, want ErrAlreadyRevoked", err)
	}
	if err := ua.Revoke(big.NewInt(12345), ReasonKeyCompromise, time.Time{}); !errors.Is(err, ErrUnknownSerial) {
		t.Errorf("unknown serial: err = %v, want ErrUnknownSerial", err)
	}
	foreign := issue(t, pl, identity.KindNode, "pl-1")
	if err := ua.RevokeCertificate(foreign.Cert, ReasonKeyCompromise, time.Time{}); !errors.Is(err, ErrNotIssuedByCA) {
		t.Errorf("foreign cert: err = %v, want ErrNotIssuedByCA", err)
	}
	if err := ua.Revoke(good.Cert.SerialNumber, 6, time.Time{}); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("certificateHold: err = %v, want ErrInvalidOptions", err)
	}
	// A certificate the index lost can still be revoked by certificate.
	lost := issue(t, pl, identity.KindUser, "u-7")
	pl.state.Issued = nil
	if err := pl.Revoke(lost.Cert.SerialNumber, ReasonUnspecified, time.Time{}); !errors.Is(err, ErrUnknownSerial) {
		t.Errorf("lost serial by Revoke: err = %v, want ErrUnknownSerial", err)
	}
	if err := pl.RevokeCertificate(lost.Cert, ReasonUnspecified, time.Time{}); err != nil {
		t.Errorf("lost serial by RevokeCertificate: %v", err)
	}
}

func TestParseReason(t *testing.T) {
	for in, want := range map[string]int{"keyCompromise": 1, "KEYCOMPROMISE": 1, "superseded": 4, "cessationOfOperation": 5, "0": 0, "9": 9} {
		got, err := ParseReason(in)
		if err != nil || got != want {
			t.Errorf("ParseReason(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"certificateHold", "6", "7", "bogus"} {
		if _, err := ParseReason(in); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("ParseReason(%q): err = %v, want ErrInvalidOptions", in, err)
		}
	}
}

func TestValidationNamesTheField(t *testing.T) {
	caCases := []struct {
		opts  CAOptions
		field string
	}{
		{CAOptions{Federation: "", Member: "UA"}, "Federation"},
		{CAOptions{Federation: "Accord.Example", Member: "UA"}, "Federation"},
		{CAOptions{Federation: testFed, Member: "ua"}, "Member"},
		{CAOptions{Federation: testFed, Member: ""}, "Member"},
		{CAOptions{Federation: testFed, Member: "UA", Name: strings.Repeat("x", 65)}, "Name"},
		{CAOptions{Federation: testFed, Member: "UA", Validity: -time.Hour}, "Validity"},
		{CAOptions{Federation: testFed, Member: "UA", Validity: 40 * 365 * 24 * time.Hour}, "Validity"},
	}
	for _, c := range caCases {
		_, err := NewCA(c.opts)
		checkFieldErr(t, err, "CAOptions", c.field)
	}
	if _, err := CreateCA("", CAOptions{Federation: testFed, Member: "UA"}); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("CreateCA(\"\"): err = %v", err)
	}

	ca := newTestCA(t, "UA")
	issueCases := []struct {
		opts  IssueOptions
		field string
	}{
		{IssueOptions{Kind: "robot", Name: "r"}, "Kind"},
		{IssueOptions{Kind: identity.KindNode, Name: ""}, "Name"},
		{IssueOptions{Kind: identity.KindNode, Name: "UA_1!"}, "Name"},
		{IssueOptions{Kind: identity.KindNode, Name: "ua-1", DNSNames: []string{"*.example"}}, "DNSNames"},
		{IssueOptions{Kind: identity.KindNode, Name: "ua-1", DNSNames: []string{"bad_host"}}, "DNSNames"},
		{IssueOptions{Kind: identity.KindNode, Name: "ua-1", IPAddresses: []net.IP{{1, 2, 3}}}, "IPAddresses"},
		{IssueOptions{Kind: identity.KindUser, Name: "u-1", DNSNames: []string{"localhost"}}, "DNSNames"},
		{IssueOptions{Kind: identity.KindUser, Name: "u-1", IPAddresses: []net.IP{net.IPv6loopback}}, "IPAddresses"},
		{IssueOptions{Kind: identity.KindNode, Name: "ua-1", Validity: 398 * 24 * time.Hour}, "Validity"},
		{IssueOptions{Kind: identity.KindNode, Name: "ua-1", Validity: -time.Minute}, "Validity"},
		{IssueOptions{Kind: identity.KindNode, Name: "ua-1", NotBefore: testNow.Add(20 * 365 * 24 * time.Hour)}, "NotBefore"},
	}
	for _, c := range issueCases {
		_, err := ca.Issue(c.opts)
		checkFieldErr(t, err, "IssueOptions", c.field)
	}
	if n := len(ca.IssuedRecords()); n != 0 {
		t.Errorf("refused issues left %d records", n)
	}
	_, err := ca.CRL(-time.Hour)
	checkFieldErr(t, err, "CRL", "validity")
}

func checkFieldErr(t *testing.T, err error, options, field string) {
	t.Helper()
	if !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("%s.%s: err = %v, want ErrInvalidOptions", options, field, err)
		return
	}
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Options != options || fe.Field != field {
		t.Errorf("err = %v, want a FieldError for %s.%s", err, options, field)
	}
	if !strings.Contains(err.Error(), options+"."+field) {
		t.Errorf("message %q does not name %s.%s", err, options, field)
	}
}

func TestConcurrentIssue(t *testing.T) {
	dir := t.TempDir()
	ca, err := CreateCA(dir, CAOptions{Federation: testFed, Member: "UA"})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			if _, err := ca.Issue(IssueOptions{Kind: identity.KindUser, Name: "u-" + string(rune('a'+i))}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	got, err := OpenCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(got.IssuedRecords()); n != 8 {
		t.Errorf("%d records saved, want 8", n)
	}
}

func TestDescribeCertificate(t *testing.T) {
	ca := newTestCA(t, "UA")
	node := issue(t, ca, identity.KindNode, "ua-1")
	text, err := Describe(node.CertPEM, testNow)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"node ua-1 of member UA in federation accord.example",
		"spiffe://accord.example/member/UA/node/ua-1",
		"CN=Accord UA CA,O=Office of UA",
		"expires in 89 days",
		"CA                  no",
		"localhost, ua-1",
		"127.0.0.1",
		"ECDSA P-256",
		trust.Fingerprint(node.Cert),
	} {
		if !strings.Contains(text, want) {
			t.Errorf("description lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "warnings") {
		t.Errorf("a good certificate has warnings:\n%s", text)
	}

	// DER works too, and later it has expired.
	late, err := Describe(node.Cert.Raw, testNow.Add(100*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(late, "EXPIRED 10 days ago") || !strings.Contains(late, "Accord will refuse it") {
		t.Errorf("expired description:\n%s", late)
	}

	caText, err := Describe(ca.CertPEM(), testNow)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(caText, "CA of member UA in federation accord.example") || !strings.Contains(caText, "path length 0") {
		t.Errorf("CA description:\n%s", caText)
	}

	keyText, err := Describe(node.KeyPEM, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(keyText, "Private key, ECDSA P-256") || !strings.Contains(keyText, publicKeyFingerprint(node.Cert.PublicKey)) {
		t.Errorf("key description:\n%s", keyText)
	}
	if strings.Contains(keyText, string(node.KeyPEM[30:60])) {
		t.Error("key description reveals the key")
	}
}

func TestDescribeFlagsMultipleURISANs(t *testing.T) {
	ca := newTestCA(t, "UA")
	key, err := newKey()
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(42),
		Subject:      pkix.Name{CommonName: "two-faced"},
		NotBefore:    testNow.Add(-time.Hour),
		NotAfter:     testNow.Add(24 * time.Hour * 30),
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		URIs: []*url.URL{
			identity.Identity{Federation: testFed, Member: "UA", Kind: identity.KindNode, Name: "ua-1"}.URI(),
			identity.Identity{Federation: testFed, Member: "PL", Kind: identity.KindNode, Name: "pl-1"}.URI(),
		},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	text, err := Describe(der, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, "has 2 URI SANs: Accord will refuse it") {
		t.Errorf("multi-URI certificate not flagged:\n%s", text)
	}
	r, err := Inspect(der, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Items) != 1 || len(r.Items[0].Warnings) == 0 || r.Items[0].Certificate.Role != "other" {
		t.Errorf("report = %+v", r)
	}
}

func TestDescribeCRLAndBundle(t *testing.T) {
	ua, pl := newTestCA(t, "UA"), newTestCA(t, "PL")
	node := issue(t, ua, identity.KindNode, "ua-1")
	if err := ua.Revoke(node.Cert.SerialNumber, ReasonKeyCompromise, time.Time{}); err != nil {
		t.Fatal(err)
	}
	crl, err := ua.CRL(0)
	if err != nil {
		t.Fatal(err)
	}
	text, err := Describe(crl, testNow)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"CA of member UA", "1 revoked certificate", node.Cert.SerialNumber.Text(16), "keyCompromise", "CRL number          1"} {
		if !strings.Contains(text, want) {
			t.Errorf("CRL description lacks %q:\n%s", want, text)
		}
	}
	stale, err := Describe(crl, testNow.Add(8*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stale, "STALE") {
		t.Errorf("stale CRL not flagged:\n%s", stale)
	}

	data, err := bundleOf(t, ua, pl).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	text, err = Describe(data, testNow)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Trust bundle of federation accord.example: 2 members", "member PL (Office of PL)", "member UA", trust.Fingerprint(ua.Cert), "expires in 3650 days"} {
		if !strings.Contains(text, want) {
			t.Errorf("bundle description lacks %q:\n%s", want, text)
		}
	}

	both := append(append([]byte{}, node.CertPEM...), ua.CertPEM()...)
	r, err := Inspect(both, testNow)
	if err != nil || len(r.Items) != 2 {
		t.Fatalf("two PEM blocks: %v, %+v", err, r)
	}
	for _, bad := range [][]byte{nil, []byte("hello"), []byte("-----BEGIN NOTHING-----\n-----END")} {
		if _, err := Describe(bad, testNow); !errors.Is(err, ErrUnrecognized) {
			t.Errorf("Describe(%q): err = %v, want ErrUnrecognized", bad, err)
		}
	}
	if _, err := Describe([]byte(`{"version":1,"federation":"BAD"}`), testNow); !errors.Is(err, trust.ErrInvalidBundle) {
		t.Errorf("bad bundle: err = %v", err)
	}
}
