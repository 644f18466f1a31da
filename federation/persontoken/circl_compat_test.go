package persontoken_test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"testing"

	"github.com/accordfed/accord/federation/persontoken"
	"github.com/cloudflare/circl/group"
	"github.com/cloudflare/circl/oprf"
	"github.com/cloudflare/circl/zk/dleq"
)

// Builds before federation/voprf made keys, tokens and proofs with
// cloudflare/circl's oprf package. Their key files must keep working and
// their nodes must interoperate with this build's, both ways.

var circlSuite = oprf.SuiteRistretto255

// TestCirclKeyFileGolden: a key file written by circl (its bytes and the
// tokens circl computed with it, recorded when the switch was made)
// parses to the same public key and the same tokens.
func TestCirclKeyFileGolden(t *testing.T) {
	keyFile, _ := hex.DecodeString("bf66276944b1e7b5c2e8ed42b225f34b1e779326932140cf7ec683ff4fb11f0f")
	k, err := persontoken.ParseKey(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(k.Public()); got != "0884ec04ab40e837726675d63704ebbc7970d45337bbd62de6c87d36ecca5468" {
		t.Fatalf("public key %s", got)
	}
	if !bytes.Equal(k.Marshal(), keyFile) {
		t.Fatal("the key marshals to other bytes than its file")
	}
	tok, err := k.Tokens("k", mustInput(t, "Олена Коваленко", 1978))
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range []struct {
		got  persontoken.Token
		want string
	}{
		{tok.Name, "465924b4aa1cc252cc83fd380f9c17c8"},
		{tok.Skel, "cd021f1cfdf4b574b3100458c45390ac"},
		{tok.Year, "9cc0c8817bf1308c232d4695cc97e1ba"},
		{tok.Near[0], "d2ab1a0fd88669e7ce203e388bdd869a"},
		{tok.Near[1], "c387bc95e4038876bb2c06140d1c96ed"},
	} {
		if got := hex.EncodeToString(c.got[:]); got != c.want {
			t.Fatalf("token %d: %s, circl gave %s", i, got, c.want)
		}
	}
}

// circlKey returns a random key made and marshalled by circl, parsed by
// this build.
func circlKey(t *testing.T) (*oprf.PrivateKey, *persontoken.Key) {
	t.Helper()
	ck, err := oprf.GenerateKey(circlSuite, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ck.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	k, err := persontoken.ParseKey(b)
	if err != nil {
		t.Fatalf("a key marshalled by circl does not parse: %v", err)
	}
	pub, _ := ck.Public().MarshalBinary()
	if !bytes.Equal(k.Public(), pub) {
		t.Fatal("a circl key has another public key here")
	}
	return ck, k
}

// circlTokens are the tokens circl computes directly for in.
func circlTokens(t *testing.T, ck *oprf.PrivateKey, in persontoken.Input) persontoken.Tokens {
	t.Helper()
	srv := oprf.NewVerifiableServer(circlSuite, ck)
	tok := persontoken.Tokens{Key: "k", HasYear: true, HasNear: true}
	for _, c := range []struct {
		dst *persontoken.Token
		in  []byte
	}{{&tok.Name, in.Name}, {&tok.Skel, in.Skel}, {&tok.Year, in.Year}, {&tok.Near[0], in.Near[0]}, {&tok.Near[1], in.Near[1]}} {
		out, err := srv.FullEvaluate(c.in)
		if err != nil {
			t.Fatal(err)
		}
		copy(c.dst[:], out)
	}
	return tok
}

var compatPersons = []struct {
	name string
	year int
}{{"Олена Коваленко", 1978}, {"Mykola Shevchenko", 1990}, {"Petro Bondarenko", 1955}}

// TestCirclKeyGivesSameTokens: a key marshalled by circl gives the tokens
// circl computed with it.
func TestCirclKeyGivesSameTokens(t *testing.T) {
	for range 3 {
		ck, k := circlKey(t)
		for _, p := range compatPersons {
			in := mustInput(t, p.name, p.year)
			got, err := k.Tokens("k", in)
			if err != nil {
				t.Fatal(err)
			}
			if want := circlTokens(t, ck, in); got != want {
				t.Fatalf("%s: tokens %+v, circl's %+v", p.name, got, want)
			}
		}
	}
}

// TestAskingAnOldNode: this build asks a node of an earlier build (circl's
// server) and gets the tokens that node publishes.
func TestAskingAnOldNode(t *testing.T) {
	ck, _ := circlKey(t)
	pub, _ := ck.Public().MarshalBinary()
	var ins []persontoken.Input
	for _, p := range compatPersons {
		ins = append(ins, mustInput(t, p.name, p.year))
	}
	req, err := persontoken.NewRequest("k", pub, ins)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := oprf.NewVerifiableServer(circlSuite, ck).Evaluate(&oprf.EvaluationRequest{Elements: circlDecode(t, req.Elements)})
	if err != nil {
		t.Fatal(err)
	}
	evaluated := make([][]byte, len(ev.Elements))
	for i, e := range ev.Elements {
		evaluated[i], _ = e.MarshalBinaryCompress()
	}
	proof, _ := ev.Proof.MarshalBinary()
	got, err := req.Finish(evaluated, proof)
	if err != nil {
		t.Fatalf("an old node's answer is refused: %v", err)
	}
	for i, in := range ins {
		want := circlTokens(t, ck, in)
		want.HasNear, want.Near = false, [2]persontoken.Token{}
		if got[i] != want {
			t.Fatalf("person %d: tokens %+v, the old node publishes %+v", i, got[i], want)
		}
	}
}

// TestAnsweringAnOldNode: a node of an earlier build (circl's client)
// asks this build and gets the tokens this build publishes.
func TestAnsweringAnOldNode(t *testing.T) {
	k := mustKey(t)
	pk := new(oprf.PublicKey)
	if err := pk.UnmarshalBinary(circlSuite, k.Public()); err != nil {
		t.Fatal(err)
	}
	client := oprf.NewVerifiableClient(circlSuite, pk)
	var raw [][]byte
	var ins []persontoken.Input
	for _, p := range compatPersons {
		in := mustInput(t, p.name, p.year)
		ins = append(ins, in)
		raw = append(raw, in.Name, in.Skel, in.Year)
	}
	fin, creq, err := client.Blind(raw)
	if err != nil {
		t.Fatal(err)
	}
	blinded := make([][]byte, len(creq.Elements))
	for i, e := range creq.Elements {
		blinded[i], _ = e.MarshalBinaryCompress()
	}
	evaluated, proof, err := k.Evaluate(blinded)
	if err != nil {
		t.Fatal(err)
	}
	ev := &oprf.Evaluation{Elements: circlDecode(t, evaluated), Proof: new(dleq.Proof)}
	if err := ev.Proof.UnmarshalBinary(circlSuite.Group(), proof); err != nil {
		t.Fatal(err)
	}
	outs, err := client.Finalize(fin, ev)
	if err != nil {
		t.Fatalf("the old node refuses this build's proof: %v", err)
	}
	for i, in := range ins {
		want, err := k.Tokens("k", in)
		if err != nil {
			t.Fatal(err)
		}
		for j, tok := range []persontoken.Token{want.Name, want.Skel, want.Year} {
			if !bytes.Equal(outs[3*i+j][:persontoken.TokenSize], tok[:]) {
				t.Fatalf("person %d, token %d: the old node gets another token", i, j)
			}
		}
	}
}

// circlDecode decodes elements with circl, as a node of an earlier build
// reads them.
func circlDecode(t *testing.T, enc [][]byte) []group.Element {
	t.Helper()
	out := make([]group.Element, len(enc))
	for i, b := range enc {
		out[i] = circlSuite.Group().NewElement()
		if err := out[i].UnmarshalBinary(b); err != nil {
			t.Fatalf("an old node refuses element %d: %v", i, err)
		}
	}
	return out
}
