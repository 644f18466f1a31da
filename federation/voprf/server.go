package voprf

import (
	"crypto/rand"
	"crypto/sha512"
	"encoding/binary"
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
// DLEQ proof for all of them. The proof's nonce is hedged: fresh bytes of
// rnd (crypto/rand when nil) hashed with the key and the batch's
// composites, so that a random source that repeats itself cannot give the
// key away.
func (k *PrivateKey) BlindEvaluate(rnd io.Reader, blinded [][]byte) (evaluated [][]byte, proof []byte, err error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	return k.blindEvaluate(blinded, func(m, z *ristretto255.Element) (*ristretto255.Scalar, error) {
		return k.proofNonce(rnd, m, z)
	})
}

// blindEvaluate is BlindEvaluate with the proof's nonce from nonce, given
// the composites M and Z (the test vectors fix it).
func (k *PrivateKey) blindEvaluate(blinded [][]byte, nonce func(m, z *ristretto255.Element) (*ristretto255.Scalar, error)) ([][]byte, []byte, error) {
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
	r, err := nonce(m, z)
	if err != nil {
		return nil, nil, err
	}
	return evaluated, generateProof(&k.k, k.pub.enc[:], m, z, r), nil
}

// nonceRandomSize is how many fresh bytes of the random source go into a
// proof's nonce.
const nonceRandomSize = 32

// proofNonce is the nonce r of a proof over the composites M and Z:
// HashToScalar with the DST "Accord-VOPRF-ProofNonce-" || contextString of
//
//	I2OSP(len(skS), 2) || skS || I2OSP(len(rand), 2) || rand ||
//	I2OSP(len(Bm), 2) || Bm || I2OSP(len(M), 2) || M || I2OSP(len(Z), 2) || Z
//
// with skS the key's SerializeScalar and rand [nonceRandomSize] fresh
// bytes of rnd, drawn again should r be zero. RFC 9497 takes r =
// RandomScalar() alone: if that ever repeated for two batches (a virtual
// machine restored from a snapshot, a broken generator), the asker holding
// both proofs would compute k = (s1 − s2)/(c2 − c1). Hedged, r repeats
// only for the same key and the same composites, that is for the same
// batch, whose proof is then the same; and while rnd is sound r is as
// random as RandomScalar's. The verifier cannot tell how r was chosen: the
// proof stays the RFC's. The key only enters the hash and constant-time
// operations.
func (k *PrivateKey) proofNonce(rnd io.Reader, m, z *ristretto255.Element) (*ristretto255.Scalar, error) {
	// Encoded with their lengths: the key, the random bytes, Bm, M, Z.
	const n = 2 + ScalarSize + 2 + nonceRandomSize + 3*(2+ElementSize)
	var buf [n]byte
	defer clear(buf[:])
	t := binary.BigEndian.AppendUint16(buf[:0], ScalarSize)
	t = k.k.Encode(t)
	t = binary.BigEndian.AppendUint16(t, nonceRandomSize)
	random := buf[len(t) : len(t)+nonceRandomSize]
	t = buf[:len(t)+nonceRandomSize]
	t = appendWithLength(t, k.pub.enc[:])
	for _, e := range []*ristretto255.Element{m, z} {
		t = binary.BigEndian.AppendUint16(t, ElementSize)
		t = e.Encode(t)
	}
	for range randomTries {
		if _, err := io.ReadFull(rnd, random); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrRandom, err)
		}
		r := hashToScalar(dstProofNonce, t)
		if r.Equal(zeroScalar) == 0 {
			return r, nil
		}
	}
	return nil, fmt.Errorf("%w: only zero nonces", ErrRandom)
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
