package registry

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/url"
	"testing"
	"time"

	"github.com/accordfed/accord/federation/identity"
)

// TestSignedCommands: a command applies only when the acting node signed
// it with a certificate of its own member's authority, valid when signed;
// whatever else a server puts into the log is refused, changes nothing and
// does not use up the member's request id.
func TestSignedCommands(t *testing.T) {
	h := bootstrapped(t, Policy{}, "UA", "PL", "DE")
	p := CreateJIT{Name: "Izium mass graves", LegalBasis: "Art. 13"}

	// PL's own authority issues a certificate naming UA's node: every
	// other check of the handshake aside, it does not chain to UA's
	// authority.
	forgedUA := issueNode(t, memberCA(t, "PL"), nodeURI("UA"), time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC))
	expired := issueNode(t, memberCA(t, "UA"), nodeURI("UA"), time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC))
	selfSigned := selfSignedNode(t, nodeURI("UA"))

	sign := func(c *Command, cert *tls.Certificate, at time.Time) {
		t.Helper()
		if err := c.Sign(cert, h.index, at); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		name string
		make func() *Command
	}{
		{"unsigned", func() *Command {
			c := h.command("UA", p)
			c.Signature, c.SignerCert = []byte{}, nil
			return c
		}},
		{"signed by PL's node, acting as UA's", func() *Command {
			c := h.command("UA", p)
			sign(c, nodeCert(t, nodeURI("PL")), c.Time)
			return c
		}},
		{"UA's node certificate made by PL's authority", func() *Command {
			c := h.command("UA", p)
			sign(c, forgedUA, c.Time)
			return c
		}},
		{"a self-signed certificate", func() *Command {
			c := h.command("UA", p)
			sign(c, selfSigned, c.Time)
			return c
		}},
		{"payload changed after signing", func() *Command {
			c := h.command("UA", p)
			sign(c, nodeCert(t, nodeURI("UA")), c.Time)
			c.Payload = CreateJIT{Name: "Other team", LegalBasis: "Art. 13"}
			return c
		}},
		{"user changed after signing", func() *Command {
			c := h.command("UA", p)
			sign(c, nodeCert(t, nodeURI("UA")), c.Time)
			c.Actor.User = userURI("UA", "prosecutor-2")
			return c
		}},
		{"v2 payload changed after signing", func() *Command {
			c := h.command("UA", p)
			c.Version = LegacyCommandVersion
			sign(c, nodeCert(t, nodeURI("UA")), c.Time)
			c.PayloadJSON = []byte(`{"name":"Other team","legal_basis":"Art. 13"}`)
			return c
		}},
		{"v2 signature as v3", func() *Command {
			c := h.command("UA", p)
			c.Version = LegacyCommandVersion
			sign(c, nodeCert(t, nodeURI("UA")), c.Time)
			c.Version = CommandVersion
			return c
		}},
		{"type changed after signing (v2; in v3 the typed command is the type)", func() *Command {
			c := h.command("UA", DeleteEntry{Entry: "entry-000001", Reason: "x"})
			c.Version, c.PayloadJSON = LegacyCommandVersion, []byte(`{"entry":"entry-000001","reason":"x"}`)
			sign(c, nodeCert(t, nodeURI("UA")), c.Time)
			c.Type = CmdUpdateEntry
			return c
		}},
		{"certificate expired when signed", func() *Command {
			c := h.command("UA", p)
			sign(c, expired, time.Date(2022, 1, 1, 0, 0, 0, 0, time.UTC))
			c.Time = time.Date(2022, 1, 1, 0, 1, 0, 0, time.UTC)
			return c
		}},
		{"signed long before the leader's time", func() *Command {
			c := h.command("UA", p)
			sign(c, nodeCert(t, nodeURI("UA")), c.Time.Add(-MaxSignatureSkew-time.Second))
			return c
		}},
		{"seen index from the future", func() *Command {
			c := h.command("UA", p)
			if err := c.Sign(nodeCert(t, nodeURI("UA")), h.index+1, c.Time); err != nil {
				t.Fatal(err)
			}
			return c
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			h.t = t
			cmd := c.make()
			rid := cmd.RequestID
			h.refuseCommand(cmd, ErrPermissionDenied, true)
			// The refusal did not take UA's request id: UA's own command
			// with it applies.
			own := h.command("UA", CreateJIT{Name: "team " + rid, LegalBasis: "Art. 13"})
			own.RequestID = rid
			if res := h.applyCommand(own); res.Err != nil {
				t.Fatalf("UA's own command with the request id %s: %v", rid, res.Err)
			}
		})
	}
	h.t = t
}

// TestReplayRefused: a dishonest leader that puts an old signed command of
// UA's into the log again gets the first answer while the exactly-once
// table remembers it, and a refusal once it has forgotten it, on replicas
// that applied the log and on one restored from a snapshot alike.
func TestReplayRefused(t *testing.T) {
	h := bootstrapped(t, Policy{DedupeWindow: 2}, "UA", "PL")
	first := h.command("UA", CreateJIT{Name: "team 1", LegalBasis: "Art. 13"})
	res := h.applyCommand(first)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	replay := *first
	replay.Time = h.now
	if again := h.applyCommand(&replay); again.Err != nil || again.Value != res.Value {
		t.Fatalf("replay while remembered: %+v, first %+v", again, res)
	}
	if n := countJITs(h, "UA"); n != 1 {
		t.Fatalf("%d teams", n)
	}
	h.ok("UA", CreateJIT{Name: "team 2", LegalBasis: "Art. 13"})
	h.ok("UA", CreateJIT{Name: "team 3", LegalBasis: "Art. 13"}) // forgets team 1's request
	floor := h.f.st.meta.ReplayFloor[nodeURI("UA")]
	if floor == 0 {
		t.Fatal("no replay floor after the table forgot a request")
	}
	replay.Time = h.now
	h.refuseCommand(&replay, ErrPermissionDenied, true)
	if n := countJITs(h, "UA"); n != 3 {
		t.Fatalf("%d teams after a replay", n)
	}
	// PL's node is not held back by UA's floor.
	h.ok("PL", CreateJIT{Name: "PL team", LegalBasis: "Art. 13"})
}

func selfSignedNode(t *testing.T, uri string) *tls.Certificate {
	t.Helper()
	u, _ := url.Parse(uri)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "ua-1"}, URIs: []*url.URL{u},
		NotBefore: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := identity.Parse(uri); err != nil {
		t.Fatal(err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// BenchmarkVerifyCommand measures what a replica spends on a signed
// command: the signature (every command) and the chain (once per
// certificate and set of authorities, then cached).
func BenchmarkVerifyCommand(b *testing.B) {
	h := bootstrapped(b, Policy{}, "UA", "PL")
	c := h.command("UA", CreateJIT{Name: "team", LegalBasis: "Art. 13"})
	if err := c.Sign(nodeCert(b, nodeURI("UA")), h.index, c.Time); err != nil {
		b.Fatal(err)
	}
	cas := []string{memberCA(b, "UA").pem}
	b.Run("signature", func(b *testing.B) {
		certs := newCertCache()
		for b.Loop() {
			if chk := checkSignature(c, certs); chk.err != nil {
				b.Fatal(chk.err)
			}
		}
	})
	b.Run("chain_uncached", func(b *testing.B) {
		chk := checkSignature(c, newCertCache())
		for b.Loop() {
			if r := verifyMemberChain(chk.cert, "UA", cas); r.err != nil {
				b.Fatal(r.err)
			}
		}
	})
	b.Run("sign", func(b *testing.B) {
		cert := nodeCert(b, nodeURI("UA"))
		for b.Loop() {
			if err := c.Sign(cert, h.index, c.Time); err != nil {
				b.Fatal(err)
			}
		}
	})
}
