package voprf

import (
	"crypto/sha512"
	"encoding/binary"

	"github.com/gtank/ristretto255"
)

// compositeWeights returns the scalars dᵢ of ComputeComposites and
// ComputeCompositesFast (RFC 9497 §2.2.1, §2.2.2) for the public key's
// encoding bm and the encodings of the blinded elements c and of the
// evaluated elements d (all public).
func compositeWeights(bm []byte, c, d [][]byte) []*ristretto255.Scalar {
	// seedTranscript = I2OSP(len(Bm), 2) || Bm || I2OSP(len(seedDST), 2) || seedDST
	h := sha512.New()
	h.Write(i2osp2(len(bm)))
	h.Write(bm)
	h.Write(i2osp2(len(dstSeed)))
	h.Write([]byte(dstSeed))
	// compositeTranscript = I2OSP(len(seed), 2) || seed || I2OSP(i, 2) ||
	//   I2OSP(len(Ci), 2) || Ci || I2OSP(len(Di), 2) || Di || "Composite"
	const (
		offSeed = 2
		offI    = offSeed + sha512.Size
		offC    = offI + 2
		offD    = offC + 2 + ElementSize
		offEnd  = offD + 2 + ElementSize
	)
	var t [offEnd + len(labelComposite)]byte
	binary.BigEndian.PutUint16(t[0:], sha512.Size)
	h.Sum(t[offSeed:offSeed])
	binary.BigEndian.PutUint16(t[offC:], ElementSize)
	binary.BigEndian.PutUint16(t[offD:], ElementSize)
	copy(t[offEnd:], labelComposite)
	w := make([]*ristretto255.Scalar, len(c))
	for i := range c {
		binary.BigEndian.PutUint16(t[offI:], uint16(i))
		copy(t[offC+2:offD], c[i])
		copy(t[offD+2:offEnd], d[i])
		w[i] = hashToScalar(dstHashToScalar, t[:])
	}
	return w
}

// msmChunk is how many elements one variable-time multi-scalar
// multiplication takes at most: its tables (1.3 KiB an element) then stay
// in the core's cache. Over 4,096 elements at once it costs about 1.5
// times as much per element as in chunks of 256, whose added doublings
// (256 a chunk) cost about one addition per element.
const msmChunk = 256

// multiScalarMult is Σ wᵢ·pᵢ in variable time: for public scalars and
// elements only.
func multiScalarMult(w []*ristretto255.Scalar, p []ristretto255.Element) *ristretto255.Element {
	ps := make([]*ristretto255.Element, len(p))
	for i := range p {
		ps[i] = &p[i]
	}
	sum := ristretto255.NewElement()
	var part ristretto255.Element
	for i := 0; i < len(ps); i += msmChunk {
		j := min(i+msmChunk, len(ps))
		sum.Add(sum, part.VarTimeMultiScalarMult(w[i:j], ps[i:j]))
	}
	return sum
}

// challenge is the proof's challenge c (RFC 9497 §2.2.1): HashToScalar of
// the public key's encoding, the composites M and Z, and the commitments
// t2 and t3, each prefixed with its length, then "Challenge".
func challenge(bm []byte, m, z, t2, t3 *ristretto255.Element) *ristretto255.Scalar {
	const n = 5 * (2 + ElementSize)
	t := make([]byte, 0, n+len(labelChallenge))
	t = appendWithLength(t, bm)
	for _, e := range []*ristretto255.Element{m, z, t2, t3} {
		t = binary.BigEndian.AppendUint16(t, ElementSize)
		t = e.Encode(t)
	}
	t = append(t, labelChallenge...)
	return hashToScalar(dstHashToScalar, t)
}

func appendWithLength(dst, b []byte) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(b)))
	return append(dst, b...)
}

// generateProof is GenerateProof (RFC 9497 §2.2.1) once the composites M
// and Z = k·M are known, with the nonce r: it returns c || s. k and r are
// secret and only enter constant-time operations.
func generateProof(k *ristretto255.Scalar, bm []byte, m, z *ristretto255.Element, r *ristretto255.Scalar) []byte {
	t2 := ristretto255.NewElement().ScalarBaseMult(r)
	t3 := ristretto255.NewElement().ScalarMult(r, m)
	c := challenge(bm, m, z, t2, t3)
	// s = r - c * k
	s := ristretto255.NewScalar().Multiply(c, k)
	s.Subtract(r, s)
	proof := make([]byte, 0, ProofSize)
	proof = c.Encode(proof)
	return s.Encode(proof)
}

// verifyProof is the check of VerifyProof (RFC 9497 §2.2.2) once the
// composites M and Z are known: all public, so in variable time.
func verifyProof(pub *PublicKey, m, z *ristretto255.Element, c, s *ristretto255.Scalar) bool {
	// t2 = s·A + c·B, t3 = s·M + c·Z
	t2 := ristretto255.NewElement().VarTimeDoubleScalarBaseMult(c, &pub.e, s)
	t3 := ristretto255.NewElement().VarTimeMultiScalarMult([]*ristretto255.Scalar{s, c}, []*ristretto255.Element{m, z})
	return challenge(pub.enc[:], m, z, t2, t3).Equal(c) == 1
}
