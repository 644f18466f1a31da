package voprf

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"testing"
)

// FuzzDecode: any bytes as a public key or a private key are refused
// (ErrInvalidKey) or are exactly the encoding the key writes back (so
// only canonical encodings are accepted), never the identity or zero.
func FuzzDecode(f *testing.F) {
	k, _ := DeriveKeyPair(make([]byte, SeedSize), []byte("fuzz"))
	f.Add(k.Public().Bytes())
	f.Add(k.Bytes())
	f.Add(make([]byte, ElementSize))
	f.Add(bytes.Repeat([]byte{0xff}, ElementSize))
	f.Add(nonCanonical())
	f.Add(highBit(k.Public().Bytes()))
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		if p, err := ParsePublicKey(b); err != nil {
			if !errors.Is(err, ErrInvalidKey) {
				t.Fatalf("public key: unexpected error %v", err)
			}
		} else if !bytes.Equal(p.Bytes(), b) || bytes.Equal(b, make([]byte, ElementSize)) {
			t.Fatalf("public key %x accepted, re-encodes to %x", b, p.Bytes())
		}
		if sk, err := ParsePrivateKey(b); err != nil {
			if !errors.Is(err, ErrInvalidKey) {
				t.Fatalf("private key: unexpected error %v", err)
			}
		} else if !bytes.Equal(sk.Bytes(), b) || bytes.Equal(b, make([]byte, ScalarSize)) {
			t.Fatalf("private key %x accepted, re-encodes to %x", b, sk.Bytes())
		}
	})
}

// FuzzFinalize: any bytes as a server's answer to a request of two
// inputs (two evaluated elements, then the proof) are refused with one of
// the package's errors, or are the genuine answer and give the outputs of
// Evaluate; never a panic.
func FuzzFinalize(f *testing.F) {
	k, _ := DeriveKeyPair(make([]byte, SeedSize), []byte("fuzz"))
	inputs := [][]byte{[]byte("first"), []byte("second")}
	req, err := Blind(nil, inputs)
	if err != nil {
		f.Fatal(err)
	}
	ev, proof, err := k.BlindEvaluate(nil, req.Elements)
	if err != nil {
		f.Fatal(err)
	}
	genuine := append(bytes.Join(ev, nil), proof...)
	f.Add(genuine)
	f.Add(make([]byte, len(genuine)))
	f.Add(genuine[:len(genuine)-1])
	f.Add(append(bytes.Join(req.Elements, nil), proof...))
	f.Add(append(bytes.Join(ev, nil), bytes.Repeat([]byte{0xff}, ProofSize)...))
	f.Add(bytes.Repeat([]byte{0xff}, len(genuine)))
	want := make([][]byte, len(inputs))
	for i, in := range inputs {
		want[i], _ = k.Evaluate(in)
	}
	genuineSum := sha256.Sum256(genuine)
	f.Fuzz(func(t *testing.T, b []byte) {
		var evaluated [][]byte
		for len(b) >= ElementSize && len(evaluated) < 2 {
			evaluated = append(evaluated, b[:ElementSize])
			b = b[ElementSize:]
		}
		outs, err := req.Finalize(k.Public(), evaluated, b)
		if err != nil {
			for _, e := range []error{ErrBatch, ErrInvalidElement, ErrInvalidProof, ErrVerify} {
				if errors.Is(err, e) {
					return
				}
			}
			t.Fatalf("unexpected error %v", err)
		}
		if sha256.Sum256(append(bytes.Join(evaluated, nil), b...)) != genuineSum {
			t.Fatal("an answer other than the genuine one verifies")
		}
		for i := range outs {
			if !bytes.Equal(outs[i], want[i]) {
				t.Fatalf("output %d differs from Evaluate", i)
			}
		}
	})
}
