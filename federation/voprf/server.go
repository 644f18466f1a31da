package voprf

import (
	"crypto/rand"
	"crypto/sha512"
	"fmt"
	"io"

	"github.com/gtank/ristretto255"
)

// smallBatch is the largest batch whose composite Z the server computes as
// Σ dᵢ·Dᵢ (variable time, over public data) rather than as k·M (one
// constant-time multiplication, which costs about as much as a
// multi-scalar multiplication of three elements, doublings included).
// Both are the same element.
const smallBatch = 2

// BlindEvaluate evaluates blinded elements with the key (RFC 9497
// BlindEvaluate for a batch) and returns the evaluated elements and one
// DLEQ proof for all of them. The proof's nonce comes from rnd
// (crypto/rand when nil).
func (k *PrivateKey) BlindEvaluate(rnd io.Reader, blinded [][]byte) (evaluated [][]byte, proof []byte, err error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	return k.blindEvaluate(blinded, func() (*ristretto255.Scalar, error) { return randomScalar(rnd) })
}

// blindEvaluate is BlindEvaluate with the proof's nonce from nonce (the
// test vectors fix it).
func (k *PrivateKey) blindEvaluate(blinded [][]byte, nonce func() (*ristretto255.Scalar, error)) ([][]byte, []byte, error) {
	n := len(blinded)
	if n == 0 || n > MaxBatch {
		return nil, nil, fmt.Errorf("%w: %d elements, want 1 to %d", ErrBatch, n, MaxBatch)
	}
	c := make([]ristretto255.Element, n)
	for i, b := range blinded {
		if err := decodeElement(&c[i], b); err != nil {
			return nil, nil, fmt.Errorf("blinded element %d: %w", i, err)
		}
	}
	d := make([]ristretto255.Element, n)
	evaluated := make([][]byte, n)
	enc := make([]byte, n*ElementSize)
	for i := range c {
		d[i].ScalarMult(&k.k, &c[i])
		e := enc[i*ElementSize : (i+1)*ElementSize : (i+1)*ElementSize]
		d[i].Encode(e[:0])
		evaluated[i] = e
	}
	// ComputeCompositesFast: M = Σ dᵢ·Cᵢ, Z = k·M. The blinded elements'
	// canonical encodings are the bytes they were decoded from.
	w := compositeWeights(k.pub.enc[:], blinded, evaluated)
	m := multiScalarMult(w, c)
	var z *ristretto255.Element
	if n <= smallBatch {
		z = multiScalarMult(w, d)
	} else {
		z = ristretto255.NewElement().ScalarMult(&k.k, m)
	}
	r, err := nonce()
	if err != nil {
		return nil, nil, err
	}
	return evaluated, generateProof(&k.k, k.pub.enc[:], m, z, r), nil
}

// Evaluate is RFC 9497 Evaluate: the output for input computed directly
// with the key, equal to what a client obtains for it by [Blind],
// [PrivateKey.BlindEvaluate] and [Request.Finalize].
func (k *PrivateKey) Evaluate(input []byte) ([]byte, error) {
	var p ristretto255.Element
	if err := hashToGroup(&p, input); err != nil {
		return nil, err
	}
	p.ScalarMult(&k.k, &p)
	var enc [ElementSize]byte
	return finalizeHash(input, p.Encode(enc[:0])), nil
}

// finalizeHash is the output: Hash(I2OSP(len(input), 2) || input ||
// I2OSP(len(element), 2) || element || "Finalize"), the input no longer
// than [MaxInputSize].
func finalizeHash(input, element []byte) []byte {
	h := sha512.New()
	h.Write(i2osp2(len(input)))
	h.Write(input)
	h.Write(i2osp2(len(element)))
	h.Write(element)
	h.Write([]byte(labelFinalize))
	return h.Sum(make([]byte, 0, OutputSize))
}
