package voprf

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"testing"

	"github.com/cloudflare/circl/group"
	"github.com/cloudflare/circl/oprf"
	"github.com/cloudflare/circl/zk/dleq"
)

// The cross-tests against cloudflare/circl's oprf package, the VOPRF
// implementation of Accord's earlier builds: nodes of both must
// interoperate and keys stored by either must work in the other.

var circlSuite = oprf.SuiteRistretto255

// randomInputs returns n random inputs of varied lengths (empty included).
func randomInputs(t testing.TB, n int) [][]byte {
	t.Helper()
	lengths := []int{0, 1, 17, 32, 100, 1000}
	out := make([][]byte, n)
	for i := range out {
		out[i] = make([]byte, lengths[i%len(lengths)])
		if _, err := rand.Read(out[i]); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// circlPair returns a random circl key and the same key parsed by this
// package.
func circlPair(t testing.TB) (*oprf.PrivateKey, *PrivateKey) {
	t.Helper()
	ck, err := oprf.GenerateKey(circlSuite, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ck.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	k, err := ParsePrivateKey(b)
	if err != nil {
		t.Fatalf("a circl key does not parse: %v", err)
	}
	return ck, k
}

func circlPublic(t testing.TB, ck *oprf.PrivateKey) []byte {
	t.Helper()
	b, err := ck.Public().MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestKeysInterchangeableWithCircl(t *testing.T) {
	for range 20 {
		ck, k := circlPair(t)
		if !bytes.Equal(k.Public().Bytes(), circlPublic(t, ck)) {
			t.Fatal("a circl key's public key differs here")
		}
		// And back: a key of this package in circl.
		k2, err := GenerateKey(nil)
		if err != nil {
			t.Fatal(err)
		}
		ck2 := new(oprf.PrivateKey)
		if err := ck2.UnmarshalBinary(circlSuite, k2.Bytes()); err != nil {
			t.Fatalf("circl refuses a key of this package: %v", err)
		}
		if !bytes.Equal(k2.Public().Bytes(), circlPublic(t, ck2)) {
			t.Fatal("circl gives another public key")
		}
		cb, _ := ck2.MarshalBinary()
		if !bytes.Equal(cb, k2.Bytes()) {
			t.Fatal("circl marshals the key to other bytes")
		}
	}
	// DeriveKeyPair agrees with circl's DeriveKey.
	seed := make([]byte, SeedSize)
	for i := range 5 {
		seed[0] = byte(i)
		info := []byte(fmt.Sprintf("info %d", i))
		k, err := DeriveKeyPair(seed, info)
		if err != nil {
			t.Fatal(err)
		}
		ck, err := oprf.DeriveKey(circlSuite, oprf.VerifiableMode, seed, info)
		if err != nil {
			t.Fatal(err)
		}
		cb, _ := ck.MarshalBinary()
		if !bytes.Equal(cb, k.Bytes()) {
			t.Fatalf("DeriveKeyPair %d differs from circl's DeriveKey", i)
		}
	}
}

func TestEvaluateEqualsCircl(t *testing.T) {
	for range 5 {
		ck, k := circlPair(t)
		srv := oprf.NewVerifiableServer(circlSuite, ck)
		for _, in := range randomInputs(t, 12) {
			want, err := srv.FullEvaluate(in)
			if err != nil {
				t.Fatal(err)
			}
			got, err := k.Evaluate(in)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("Evaluate of %d bytes differs from circl's FullEvaluate", len(in))
			}
		}
	}
}

// The batch sizes of the cross-tests: both ways the server may compute
// the composite Z (up to smallBatch and above), and composites summed
// over more than one chunk (msmChunk).
var crossBatches = []int{1, smallBatch, smallBatch + 1, 40, msmChunk + 3}

// TestCirclClientOurServer: circl's client blinds, this package's server
// evaluates, circl's client checks the proof and gets the outputs of
// circl's FullEvaluate.
func TestCirclClientOurServer(t *testing.T) {
	for _, n := range crossBatches {
		ck, k := circlPair(t)
		pk := ck.Public()
		client := oprf.NewVerifiableClient(circlSuite, pk)
		srv := oprf.NewVerifiableServer(circlSuite, ck)
		inputs := randomInputs(t, n)
		fin, creq, err := client.Blind(inputs)
		if err != nil {
			t.Fatal(err)
		}
		evaluated, proof, err := k.BlindEvaluate(nil, fromCircl(t, creq.Elements))
		if err != nil {
			t.Fatalf("batch %d: %v", n, err)
		}
		ev := circlEvaluation(t, evaluated, proof)
		outs, err := client.Finalize(fin, ev)
		if err != nil {
			t.Fatalf("batch %d: circl's client refuses this server's answer: %v", n, err)
		}
		for i, in := range inputs {
			want, _ := srv.FullEvaluate(in)
			if !bytes.Equal(outs[i], want) {
				t.Fatalf("batch %d: output %d differs", n, i)
			}
		}
		// A tampered proof is refused by circl too.
		bad := bytes.Clone(proof)
		bad[3] ^= 1
		if _, err := client.Finalize(fin, circlEvaluation(t, evaluated, bad)); err == nil {
			t.Fatalf("batch %d: circl accepts a tampered proof", n)
		}
	}
}

// circlEvaluation is a server's answer as circl's client takes it.
func circlEvaluation(t *testing.T, evaluated [][]byte, proof []byte) *oprf.Evaluation {
	t.Helper()
	ev := &oprf.Evaluation{Elements: toCircl(t, evaluated), Proof: new(dleq.Proof)}
	if err := ev.Proof.UnmarshalBinary(circlSuite.Group(), proof); err != nil {
		t.Fatal(err)
	}
	return ev
}

// toCircl decodes elements with circl.
func toCircl(t *testing.T, enc [][]byte) []group.Element {
	t.Helper()
	out := make([]group.Element, len(enc))
	for i, b := range enc {
		out[i] = circlSuite.Group().NewElement()
		if err := out[i].UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// fromCircl encodes circl's elements.
func fromCircl(t *testing.T, es []group.Element) [][]byte {
	t.Helper()
	out := make([][]byte, len(es))
	for i, e := range es {
		var err error
		if out[i], err = e.MarshalBinaryCompress(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestOurClientCirclServer: this package's client blinds, circl's server
// evaluates, this package's client checks the proof and gets the outputs
// of circl's FullEvaluate.
func TestOurClientCirclServer(t *testing.T) {
	for _, n := range crossBatches {
		ck, _ := circlPair(t)
		pub, err := ParsePublicKey(circlPublic(t, ck))
		if err != nil {
			t.Fatal(err)
		}
		srv := oprf.NewVerifiableServer(circlSuite, ck)
		inputs := randomInputs(t, n)
		req, err := Blind(nil, inputs)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := srv.Evaluate(&oprf.EvaluationRequest{Elements: toCircl(t, req.Elements)})
		if err != nil {
			t.Fatal(err)
		}
		evaluated := fromCircl(t, ev.Elements)
		proof, err := ev.Proof.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		outs, err := req.Finalize(pub, evaluated, proof)
		if err != nil {
			t.Fatalf("batch %d: circl's answer refused: %v", n, err)
		}
		for i, in := range inputs {
			want, _ := srv.FullEvaluate(in)
			if !bytes.Equal(outs[i], want) {
				t.Fatalf("batch %d: output %d differs from circl's", n, i)
			}
		}
		checkTamperedRefused(t, req, pub, evaluated, proof)
	}
}

// checkTamperedRefused: an answer changed in any way is refused, with the
// error that says how.
func checkTamperedRefused(t *testing.T, req *Request, pub *PublicKey, evaluated [][]byte, proof []byte) {
	t.Helper()
	n := len(evaluated)
	refused := func(what string, ev [][]byte, pf []byte, want ...error) {
		t.Helper()
		_, err := req.Finalize(pub, ev, pf)
		for _, w := range want {
			if errors.Is(err, w) {
				return
			}
		}
		t.Fatalf("batch %d, %s: err %v, want one of %v", n, what, err, want)
	}
	for _, pos := range []int{0, 5, 31, 32, 40, 63} {
		bad := bytes.Clone(proof)
		bad[pos] ^= 0x04
		refused(fmt.Sprintf("proof byte %d changed", pos), evaluated, bad, ErrVerify, ErrInvalidProof)
	}
	refused("proof cut short", evaluated, proof[:ProofSize-1], ErrInvalidProof)
	// A valid element in place of an evaluated one.
	other := bytes.Clone(req.Elements[0])
	ev := append([][]byte(nil), evaluated...)
	ev[n-1] = other
	refused("an element replaced by another element", ev, proof, ErrVerify)
	// Bytes that are no element, the identity, a non-canonical encoding.
	for what, b := range map[string][]byte{
		"not an element":          bytes.Repeat([]byte{0xff}, ElementSize),
		"the identity":            make([]byte, ElementSize),
		"non-canonical (s = p)":   nonCanonical(),
		"an element of 31 bytes":  evaluated[0][:ElementSize-1],
		"a negative s (low bit)":  negated(evaluated[0]),
		"high bit set on element": highBit(evaluated[0]),
	} {
		ev := append([][]byte(nil), evaluated...)
		ev[0] = b
		refused(what, ev, proof, ErrInvalidElement)
	}
	refused("one evaluated element missing", evaluated[:n-1], proof, ErrBatch)
	// Swapped elements (when there are two different ones).
	if n > 1 && !bytes.Equal(evaluated[0], evaluated[1]) {
		ev := append([][]byte(nil), evaluated...)
		ev[0], ev[1] = ev[1], ev[0]
		refused("two elements swapped", ev, proof, ErrVerify)
	}
	// The right answer under another public key.
	otherKey, _ := GenerateKey(nil)
	if _, err := req.Finalize(otherKey.Public(), evaluated, proof); !errors.Is(err, ErrVerify) {
		t.Fatalf("batch %d: an answer checked against another public key: %v", n, err)
	}
}

// nonCanonical is p = 2^255 - 19 in little endian: the field element 0
// written non-canonically.
func nonCanonical() []byte {
	b := bytes.Repeat([]byte{0xff}, ElementSize)
	b[0] = 0xed
	b[31] = 0x7f
	return b
}

// negated is b with its lowest bit flipped: s odd ("negative"), never a
// canonical encoding, or another s altogether.
func negated(b []byte) []byte {
	c := bytes.Clone(b)
	c[0] ^= 1
	return c
}

func highBit(b []byte) []byte {
	c := bytes.Clone(b)
	c[31] |= 0x80
	return c
}
