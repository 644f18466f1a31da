package registry

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/trust"
)

const testFed = "accord.test"

func nodeURI(member string) string {
	return identity.Identity{Federation: testFed, Member: member, Kind: identity.KindNode, Name: strings.ToLower(member) + "-1"}.String()
}

func node2URI(member string) string {
	return identity.Identity{Federation: testFed, Member: member, Kind: identity.KindNode, Name: strings.ToLower(member) + "-2"}.String()
}

func userURI(member, name string) string {
	return identity.Identity{Federation: testFed, Member: member, Kind: identity.KindUser, Name: name}.String()
}

// caCert returns a PEM CA certificate naming member in federation, valid
// from notBefore to notAfter.
func caCert(t testing.TB, federation, member string, notBefore, notAfter time.Time) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: member + " CA"},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		URIs:                  []*url.URL{identity.MemberURI(federation, member)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// validCA returns the member's test authority, whose node certificates
// sign the member's commands in the harness.
func validCA(t testing.TB, member string) string {
	return memberCA(t, member).pem
}

func signingKey(t testing.TB, id string) SigningKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return SigningKey{ID: id, PublicKeyPEM: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))}
}

// testCA is a member's certificate authority in the tests of this
// package: one per member for the whole test binary, so that a node
// certificate it issued verifies in any harness.
type testCA struct {
	key  *ecdsa.PrivateKey
	cert *x509.Certificate
	pem  string
}

var (
	testCAsMu sync.Mutex
	testCAs   = map[string]*testCA{}
	nodeCerts = map[string]*tls.Certificate{}
)

// memberCA returns the member's test authority.
func memberCA(t testing.TB, member string) *testCA {
	t.Helper()
	testCAsMu.Lock()
	defer testCAsMu.Unlock()
	if ca, ok := testCAs[member]; ok {
		return ca
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: member + " CA"},
		NotBefore: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		URIs: []*url.URL{identity.MemberURI(testFed, member)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	ca := &testCA{key: key, cert: cert, pem: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))}
	testCAs[member] = ca
	return ca
}

// issueNode returns a node certificate for uri from ca, valid from
// notBefore to notAfter.
func issueNode(t testing.TB, ca *testCA, uri string, notBefore, notAfter time.Time) *tls.Certificate {
	t.Helper()
	u, err := url.Parse(uri)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: u.Path},
		NotBefore: notBefore, NotAfter: notAfter, URIs: []*url.URL{u},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// nodeCert returns the certificate of the node uri, issued by its
// member's test authority.
func nodeCert(t testing.TB, uri string) *tls.Certificate {
	t.Helper()
	id, err := identity.Parse(uri)
	if err != nil {
		t.Fatal(err)
	}
	ca := memberCA(t, id.Member)
	testCAsMu.Lock()
	defer testCAsMu.Unlock()
	if c, ok := nodeCerts[uri]; ok {
		return c
	}
	c := issueNode(t, ca, uri, time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC))
	nodeCerts[uri] = c
	return c
}

func founder(t testing.TB, code string) FounderSpec {
	return FounderSpec{
		Code: code, Name: code + " Prosecutor General's Office",
		CACerts:     []string{memberCA(t, code).pem},
		SigningKeys: []SigningKey{signingKey(t, "records-1")},
		Nodes:       []NodeSpec{{URI: nodeURI(code), RegistryServer: true, Address: strings.ToLower(code) + "-1.example:7400"}},
	}
}

// harness drives an FSM with raft log entries, as Raft would.
type harness struct {
	t     testing.TB
	f     *FSM
	index uint64
	now   time.Time
	rid   int
}

func newHarness(t testing.TB) *harness {
	return &harness{t: t, f: NewFSM(), now: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
}

// bootstrapped returns a harness whose registry was founded by founders
// (the first sends the command) with the given policy.
func bootstrapped(t testing.TB, pol Policy, founders ...string) *harness {
	t.Helper()
	h := newHarness(t)
	specs := make([]FounderSpec, len(founders))
	for i, code := range founders {
		specs[i] = founder(t, code)
	}
	h.ok(founders[0], Bootstrap{Federation: testFed, Policy: pol, Founders: specs})
	return h
}

// command returns a command as the server builds it for member's first
// node.
func (h *harness) command(member string, p Payload) *Command {
	h.t.Helper()
	h.rid++
	c, err := NewCommand(fmt.Sprintf("req-%d", h.rid), p)
	if err != nil {
		h.t.Fatal(err)
	}
	c.Member = member
	c.Actor = Actor{Node: nodeURI(member), User: userURI(member, "analyst-1")}
	c.Time = h.now
	return c
}

// applyCommand appends c to the log and applies it, signed by its acting
// node (unless it carries a signature already).
func (h *harness) applyCommand(c *Command) Result {
	h.t.Helper()
	if c.Signature == nil && c.Actor.Node != "" {
		if _, err := identity.Parse(c.Actor.Node); err == nil {
			if err := c.Sign(nodeCert(h.t, c.Actor.Node), h.index, c.Time); err != nil {
				// Refused by the sender (a payload the typed form cannot
				// carry): nothing reaches the log.
				return Result{Err: err}
			}
		}
	}
	data, err := c.Encode()
	if err != nil {
		// Refused by the sender's Encode (a payload the typed form cannot
		// carry): nothing reaches the log.
		return Result{Err: err}
	}
	return h.applyData(data)
}

func (h *harness) applyData(data []byte) Result {
	h.t.Helper()
	h.index++
	h.now = h.now.Add(time.Second)
	res, ok := h.f.Apply(&raft.Log{Index: h.index, Term: 1, Type: raft.LogCommand, Data: data}).(Result)
	if !ok {
		h.t.Fatalf("Apply did not return a Result")
	}
	return res
}

func (h *harness) do(member string, p Payload) Result {
	h.t.Helper()
	return h.applyCommand(h.command(member, p))
}

// ok applies p as member and fails the test if it is refused.
func (h *harness) ok(member string, p Payload) Outcome {
	h.t.Helper()
	res := h.do(member, p)
	if res.Err != nil {
		h.t.Fatalf("%s %T: %v", member, p, res.Err)
	}
	out, isOutcome := res.Value.(Outcome)
	if !isOutcome {
		h.t.Fatalf("%s %T: value %T, want Outcome", member, p, res.Value)
	}
	return out
}

// refuse applies p as member, checks that it is refused with want, and that
// the registry's records did not change.
func (h *harness) refuse(member string, p Payload, want error) {
	h.t.Helper()
	h.refuseCommand(h.command(member, p), want, false)
}

// refuseCommand applies c, checks that it is refused with want and that
// nothing changed: the records, and with withDedupe also the exactly-once
// table.
func (h *harness) refuseCommand(c *Command, want error, withDedupe bool) {
	h.t.Helper()
	before := h.dump(withDedupe)
	res := h.applyCommand(c)
	if !errors.Is(res.Err, want) {
		h.t.Fatalf("%s %s: err = %v, want %v", c.Member, c.Type, res.Err, want)
	}
	if res.Value != nil {
		h.t.Fatalf("%s %s: refused with value %v", c.Member, c.Type, res.Value)
	}
	if after := h.dump(withDedupe); after != before {
		h.t.Fatalf("%s %s refused (%v) but changed the state:\n%s", c.Member, c.Type, res.Err, firstDiff(before, after))
	}
	h.t.Logf("refused as expected: %v", res.Err)
}

// memSink is a raft.SnapshotSink writing to memory.
type memSink struct {
	bytes.Buffer
	closed, cancelled bool
}

func (s *memSink) ID() string { return "mem" }
func (s *memSink) Cancel() error {
	s.cancelled = true
	return nil
}
func (s *memSink) Close() error {
	s.closed = true
	return nil
}

// snapshotBytes persists a snapshot of f.
func snapshotBytes(t testing.TB, f *FSM) []byte {
	t.Helper()
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Release()
	var sink memSink
	if err := snap.Persist(&sink); err != nil {
		t.Fatal(err)
	}
	if !sink.closed || sink.cancelled {
		t.Fatalf("sink closed=%v cancelled=%v", sink.closed, sink.cancelled)
	}
	return sink.Bytes()
}

// dump returns the state as snapshot lines without the applied index, and
// without the exactly-once table unless withDedupe: what a refused command
// must not change.
func (h *harness) dump(withDedupe bool) string {
	h.t.Helper()
	var out strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(snapshotBytes(h.t, h.f)))
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, `{"header":`):
			var l snapLine
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				h.t.Fatal(err)
			}
			l.Header.AppliedIndex, l.Header.LogChain = 0, ""
			b, err := json.Marshal(l)
			if err != nil {
				h.t.Fatal(err)
			}
			line = string(b)
		case strings.HasPrefix(line, `{"end":`):
			continue
		case !withDedupe && strings.HasPrefix(line, `{"dedupe":`):
			continue
		}
		out.WriteString(line)
		out.WriteByte('\n')
	}
	if err := sc.Err(); err != nil {
		h.t.Fatal(err)
	}
	return out.String()
}

func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(al) || i < len(bl); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return fmt.Sprintf("line %d:\n- %s\n+ %s", i+1, x, y)
		}
	}
	return "(no difference)"
}

// read runs fn on a view of h's FSM.
func (h *harness) read(fn func(v View)) {
	h.f.Read(fn)
}

func (h *harness) member(code string) Member {
	h.t.Helper()
	var m Member
	var err error
	h.read(func(v View) { m, err = v.GetMember(code) })
	if err != nil {
		h.t.Fatal(err)
	}
	return m
}

func (h *harness) jit(id, viewer string) (JIT, error) {
	var j JIT
	var err error
	h.read(func(v View) { j, err = v.GetJIT(id, viewer) })
	return j, err
}

// teamOf creates a JIT led by lead with the others invited and accepted.
func (h *harness) teamOf(lead string, others ...string) string {
	h.t.Helper()
	id := h.ok(lead, CreateJIT{Name: "Team " + lead, LegalBasis: "Art. 13 EU MLA Convention 2000", Invite: others}).ID
	for _, o := range others {
		h.ok(o, RespondToJIT{JIT: id, Accept: true})
	}
	return id
}

func cref(member, n string) CaseRef { return CaseRef{Member: member, CaseID: member + "-" + n} }

// personRef is a well-formed keyed person encoding.
func personRef(n int) string { return fmt.Sprintf("%064x", n) }

// agree has proposer propose p (an invitation, a lead change, closing) in
// a team and every other accepted member in others consent, and checks that
// the proposal is open until the last consent and agreed after it. It
// returns the proposal's id.
func (h *harness) agree(proposer string, p Payload, others ...string) string {
	h.t.Helper()
	out := h.ok(proposer, p)
	for _, o := range others {
		if out.Status != string(ProposalOpen) {
			h.t.Fatalf("%s %T: proposal %s is %s before %s consented", proposer, p, out.ID, out.Status, o)
		}
		out = h.ok(o, ConsentJIT{Proposal: out.ID, Consent: true})
	}
	if out.Status != string(ProposalAgreed) {
		h.t.Fatalf("%s %T: proposal %s is %s after every consent", proposer, p, out.ID, out.Status)
	}
	return out.ID
}

// caSetFP returns the fingerprint of the CA set of a member whose only CA
// is its test authority (memberCA), as an approving vote names it.
func caSetFP(t testing.TB, member string) string {
	t.Helper()
	fp, err := trust.CASetFingerprint([]string{memberCA(t, member).pem})
	if err != nil {
		t.Fatal(err)
	}
	return fp
}
