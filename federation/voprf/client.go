package voprf

import (
	"crypto/rand"
	"fmt"
	"io"

	"github.com/gtank/ristretto255"
)

// Request is a client's blinded inputs: the elements to send to the
// server, and what [Request.Finalize] needs to check the server's answer
// and unblind it.
type Request struct {
	// Elements are the blinded elements (SerializeElement of each), one
	// per input, in the order of the inputs. Finalize does not read them
	// (it keeps its own copy).
	Elements [][]byte

	inputs  [][]byte
	blinds  []ristretto255.Scalar
	blinded []ristretto255.Element
	enc     [][]byte // the blinded elements' encodings
}

// Blind blinds inputs (RFC 9497 Blind, one fresh blind from rnd for each
// input; crypto/rand when rnd is nil).
func Blind(rnd io.Reader, inputs [][]byte) (*Request, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	return blind(inputs, func(int) (*ristretto255.Scalar, error) { return randomScalar(rnd) })
}

// blind is Blind with the blinds from blindOf (the test vectors fix them;
// they must not be zero).
func blind(inputs [][]byte, blindOf func(i int) (*ristretto255.Scalar, error)) (*Request, error) {
	n := len(inputs)
	if n == 0 || n > MaxBatch {
		return nil, fmt.Errorf("%w: %d inputs, want 1 to %d", ErrBatch, n, MaxBatch)
	}
	r := &Request{
		Elements: make([][]byte, n),
		inputs:   make([][]byte, n),
		blinds:   make([]ristretto255.Scalar, n),
		blinded:  make([]ristretto255.Element, n),
		enc:      make([][]byte, n),
	}
	enc := make([]byte, 2*n*ElementSize) // r.enc, then Elements
	for i, in := range inputs {
		r.inputs[i] = append([]byte(nil), in...)
		p := &r.blinded[i]
		if err := hashToGroup(p, in); err != nil {
			return nil, fmt.Errorf("input %d: %w", i, err)
		}
		b, err := blindOf(i)
		if err != nil {
			return nil, err
		}
		r.blinds[i] = *b
		p.ScalarMult(b, p)
		e := enc[i*ElementSize : (i+1)*ElementSize : (i+1)*ElementSize]
		p.Encode(e[:0])
		r.enc[i] = e
		c := enc[(n+i)*ElementSize : (n+i+1)*ElementSize : (n+i+1)*ElementSize]
		copy(c, e)
		r.Elements[i] = c
	}
	return r, nil
}

// Finalize checks the server's answer to the request, the evaluated
// elements and the proof of [PrivateKey.BlindEvaluate], against the
// server's public key, and returns the outputs, one per input in the order
// of the inputs (RFC 9497 Finalize for a batch). It wraps [ErrVerify]
// when the proof does not verify, [ErrBatch], [ErrInvalidElement] or
// [ErrInvalidProof] when the answer is malformed.
func (r *Request) Finalize(pub *PublicKey, evaluated [][]byte, proof []byte) ([][]byte, error) {
	n := len(r.enc)
	if n == 0 {
		return nil, fmt.Errorf("%w: a request that Blind did not make", ErrBatch)
	}
	if len(evaluated) != n {
		return nil, fmt.Errorf("%w: %d evaluated elements for %d blinded", ErrBatch, len(evaluated), n)
	}
	d := make([]ristretto255.Element, n)
	for i, b := range evaluated {
		if err := decodeElement(&d[i], b); err != nil {
			return nil, fmt.Errorf("evaluated element %d: %w", i, err)
		}
	}
	var c, s ristretto255.Scalar
	if len(proof) != ProofSize || !decodeScalar(&c, proof[:ScalarSize]) || !decodeScalar(&s, proof[ScalarSize:]) {
		return nil, fmt.Errorf("%w: want two canonical scalars, %d bytes", ErrInvalidProof, ProofSize)
	}
	// ComputeComposites: M = Σ dᵢ·Cᵢ, Z = Σ dᵢ·Dᵢ (public data: variable
	// time). The evaluated elements' canonical encodings are the bytes they
	// were decoded from.
	w := compositeWeights(pub.enc[:], r.enc, evaluated)
	if !verifyProof(pub, multiScalarMult(w, r.blinded), multiScalarMult(w, d), &c, &s) {
		return nil, ErrVerify
	}
	inv := invertAll(r.blinds)
	out := make([][]byte, n)
	var u ristretto255.Element
	var enc [ElementSize]byte
	for i := range d {
		// unblindedElement = G.ScalarInverse(blind) * evaluatedElement
		u.ScalarMult(&inv[i], &d[i])
		out[i] = finalizeHash(r.inputs[i], u.Encode(enc[:0]))
	}
	return out, nil
}

// invertAll returns the inverses of the non-zero scalars s with one
// inversion (Montgomery's trick), in constant time.
func invertAll(s []ristretto255.Scalar) []ristretto255.Scalar {
	n := len(s)
	// prefix[i] = s[0]·…·s[i]
	prefix := make([]ristretto255.Scalar, n)
	prefix[0] = s[0]
	for i := 1; i < n; i++ {
		prefix[i].Multiply(&prefix[i-1], &s[i])
	}
	out := make([]ristretto255.Scalar, n)
	var acc ristretto255.Scalar // (s[0]·…·s[i])⁻¹
	acc.Invert(&prefix[n-1])
	for i := n - 1; i > 0; i-- {
		out[i].Multiply(&acc, &prefix[i-1])
		acc.Multiply(&acc, &s[i])
	}
	out[0] = acc
	return out
}
