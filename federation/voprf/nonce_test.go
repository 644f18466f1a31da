package voprf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"

	"github.com/gtank/ristretto255"
)

// constReader is a broken random source: every byte it gives is the same.
type constReader byte

func (b constReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(b)
	}
	return len(p), nil
}

// proofParts decodes a proof (c, s) of pub's key and returns c, s and the
// commitment t2 = s·G + c·pkS, which is r·G for the proof's nonce r.
func proofParts(t *testing.T, pub *PublicKey, proof []byte) (c, s *ristretto255.Scalar, t2 *ristretto255.Element) {
	t.Helper()
	c, s = ristretto255.NewScalar(), ristretto255.NewScalar()
	if len(proof) != ProofSize || !decodeScalar(c, proof[:ScalarSize]) || !decodeScalar(s, proof[ScalarSize:]) {
		t.Fatalf("not a proof: %x", proof)
	}
	return c, s, ristretto255.NewElement().VarTimeDoubleScalarBaseMult(c, &pub.e, s)
}

// recoverKey is what an asker holding two proofs of one key with the same
// nonce computes: (s1 − s2)/(c2 − c1).
func recoverKey(c1, s1, c2, s2 *ristretto255.Scalar) *ristretto255.Scalar {
	num := ristretto255.NewScalar().Subtract(s1, s2)
	den := ristretto255.NewScalar().Subtract(c2, c1)
	return num.Multiply(num, den.Invert(den))
}

// TestHedgedNonce: with a random source that always gives the same bytes,
// proofs of two batches still have different nonces and the key cannot be
// computed from them; with RFC 9497's r = RandomScalar() alone (the fixed
// nonce below) it can.
func TestHedgedNonce(t *testing.T) {
	k := mustKey(t)
	pub := k.Public()
	req1, err := Blind(nil, randomInputs(t, 3))
	if err != nil {
		t.Fatal(err)
	}
	req2, err := Blind(nil, randomInputs(t, 5))
	if err != nil {
		t.Fatal(err)
	}

	// The attack, with one nonce for both batches: it gives the key.
	r, err := randomScalar(constReader(0x5a))
	if err != nil {
		t.Fatal(err)
	}
	fixed := func(_, _ *ristretto255.Element) (*ristretto255.Scalar, error) { return r, nil }
	_, p1, err := k.blindEvaluate(req1.Elements, fixed)
	if err != nil {
		t.Fatal(err)
	}
	_, p2, err := k.blindEvaluate(req2.Elements, fixed)
	if err != nil {
		t.Fatal(err)
	}
	c1, s1, _ := proofParts(t, pub, p1)
	c2, s2, _ := proofParts(t, pub, p2)
	if recoverKey(c1, s1, c2, s2).Equal(&k.k) != 1 {
		t.Fatal("a repeated nonce does not give the key: the check below proves nothing")
	}

	for name, rnd := range map[string]io.Reader{"zeros": zeroReader{}, "constant": constReader(0x5a)} {
		ev1, p1, err := k.BlindEvaluate(rnd, req1.Elements)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		ev2, p2, err := k.BlindEvaluate(rnd, req2.Elements)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := req1.Finalize(pub, ev1, p1); err != nil {
			t.Fatalf("%s: first proof: %v", name, err)
		}
		if _, err := req2.Finalize(pub, ev2, p2); err != nil {
			t.Fatalf("%s: second proof: %v", name, err)
		}
		c1, s1, t21 := proofParts(t, pub, p1)
		c2, s2, t22 := proofParts(t, pub, p2)
		if t21.Equal(t22) == 1 {
			t.Fatalf("%s: two batches, one nonce", name)
		}
		if recoverKey(c1, s1, c2, s2).Equal(&k.k) == 1 {
			t.Fatalf("%s: the key is computed from two proofs", name)
		}
		// The same batch again gives the same nonce, hence the same proof:
		// nothing new to compute with.
		_, p1again, err := k.BlindEvaluate(rnd, req1.Elements)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(p1again, p1) {
			t.Fatalf("%s: the same batch from the same bytes gives another proof", name)
		}
	}

	// A sound source: the same batch twice, two nonces.
	_, pa, err := k.BlindEvaluate(nil, req1.Elements)
	if err != nil {
		t.Fatal(err)
	}
	_, pb, err := k.BlindEvaluate(nil, req1.Elements)
	if err != nil {
		t.Fatal(err)
	}
	_, _, ta := proofParts(t, pub, pa)
	_, _, tb := proofParts(t, pub, pb)
	if ta.Equal(tb) == 1 {
		t.Fatal("a sound source gives one nonce twice")
	}
}

// TestProofNonceTranscript spells the nonce's transcript out again and
// checks that every part of it counts.
func TestProofNonceTranscript(t *testing.T) {
	k, k2 := mustKey(t), mustKey(t)
	m := ristretto255.NewElement().ScalarBaseMult(scalarFrom(t, 3))
	z := ristretto255.NewElement().ScalarMult(&k.k, m)
	other := ristretto255.NewElement().ScalarBaseMult(scalarFrom(t, 5))

	withLength := func(b []byte) []byte { return append(binary.BigEndian.AppendUint16(nil, uint16(len(b))), b...) }
	var tr []byte
	tr = append(tr, withLength(k.Bytes())...)
	tr = append(tr, withLength(bytes.Repeat([]byte{7}, 32))...)
	tr = append(tr, withLength(k.Public().Bytes())...)
	tr = append(tr, withLength(m.Encode(nil))...)
	tr = append(tr, withLength(z.Encode(nil))...)
	want := hashToScalar("Accord-VOPRF-ProofNonce-OPRFV1-\x01-ristretto255-SHA512", tr)

	nonce := func(k *PrivateKey, rnd io.Reader, m, z *ristretto255.Element) *ristretto255.Scalar {
		t.Helper()
		r, err := k.proofNonce(rnd, m, z)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if nonce(k, constReader(7), m, z).Equal(want) != 1 {
		t.Fatal("the nonce is not the hash of its transcript")
	}
	for name, r := range map[string]*ristretto255.Scalar{
		"another key":    nonce(k2, constReader(7), m, z),
		"other bytes":    nonce(k, constReader(8), m, z),
		"another M":      nonce(k, constReader(7), other, z),
		"another Z":      nonce(k, constReader(7), m, other),
		"M and Z turned": nonce(k, constReader(7), z, m),
	} {
		if r.Equal(want) == 1 {
			t.Fatalf("%s: the same nonce", name)
		}
	}
	if _, err := k.proofNonce(failingReader{}, m, z); !errors.Is(err, ErrRandom) {
		t.Fatalf("a failing source: %v", err)
	}
}

// scalarFrom is the scalar n (small n).
func scalarFrom(t *testing.T, n byte) *ristretto255.Scalar {
	t.Helper()
	var b [ScalarSize]byte
	b[0] = n
	return scalarOf(t, b[:])
}
