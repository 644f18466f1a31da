package voprf

import (
	"crypto/sha512"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/gtank/ristretto255"
)

// Sizes of the suite (RFC 9497 §4.1, ristretto255-SHA512).
const (
	// ElementSize is the length of an encoded element (Noe).
	ElementSize = 32
	// ScalarSize is the length of an encoded scalar and of a private key
	// (Ns).
	ScalarSize = 32
	// ProofSize is the length of an encoded proof: c || s.
	ProofSize = 2 * ScalarSize
	// OutputSize is the length of an output (Nh).
	OutputSize = sha512.Size
	// SeedSize is the length of the seed of [DeriveKeyPair] (Nseed).
	SeedSize = 32
	// MaxInputSize is the longest input (and key info): the RFC prefixes
	// them with their length in two bytes.
	MaxInputSize = 1<<16 - 1
	// MaxBatch is the most elements one evaluation may hold: the
	// composites number the elements in two bytes.
	MaxBatch = 1 << 16
)

// contextString is "OPRFV1-" || I2OSP(mode, 1) || "-" || identifier, for
// the VOPRF mode (0x01) and the suite ristretto255-SHA512 (RFC 9497 §3.1).
const contextString = "OPRFV1-\x01-ristretto255-SHA512"

// The domain separation tags and labels of RFC 9497 (§2.1, §2.2, §3.2.1,
// §3.3.1, §4.1).
const (
	dstHashToGroup   = "HashToGroup-" + contextString
	dstHashToScalar  = "HashToScalar-" + contextString
	dstDeriveKeyPair = "DeriveKeyPair" + contextString
	dstSeed          = "Seed-" + contextString
	labelComposite   = "Composite"
	labelChallenge   = "Challenge"
	labelFinalize    = "Finalize"
)

// dstProofNonce is the DST of the hedged proof nonce (not in the RFC: see
// [PrivateKey.proofNonce]).
const dstProofNonce = "Accord-VOPRF-ProofNonce-" + contextString

// expandMessageXMD is expand_message_xmd of RFC 9380 §5.3.1 with SHA-512,
// for the only length the suite asks for (64 bytes, one block): msg is the
// concatenation of parts. dst is one of the constants above (shorter than
// 256 bytes).
func expandMessageXMD(dst string, parts ...[]byte) [sha512.Size]byte {
	var zPad [128]byte // s_in_bytes of SHA-512
	h := sha512.New()
	h.Write(zPad[:])
	for _, p := range parts {
		h.Write(p)
	}
	// I2OSP(len_in_bytes, 2) || I2OSP(0, 1) || DST || I2OSP(len(DST), 1)
	h.Write([]byte{0, sha512.Size, 0})
	h.Write([]byte(dst))
	h.Write([]byte{byte(len(dst))})
	var b0, b1 [sha512.Size]byte
	h.Sum(b0[:0])
	// b_1 = H(b_0 || I2OSP(1, 1) || DST || I2OSP(len(DST), 1))
	h.Reset()
	h.Write(b0[:])
	h.Write([]byte{1})
	h.Write([]byte(dst))
	h.Write([]byte{byte(len(dst))})
	h.Sum(b1[:0])
	return b1
}

// hashToGroup is the suite's HashToGroup: hash_to_ristretto255 of RFC
// 9380 Appendix B (expand_message_xmd with SHA-512, then the element
// derivation of RFC 9496 §4.3.4). It refuses inputs longer than
// [MaxInputSize] and inputs that hash to the identity.
func hashToGroup(dst *ristretto255.Element, input []byte) error {
	if len(input) > MaxInputSize {
		return fmt.Errorf("%w: %d bytes, at most %d", ErrInvalidInput, len(input), MaxInputSize)
	}
	u := expandMessageXMD(dstHashToGroup, input)
	dst.FromUniformBytes(u[:])
	if dst.Equal(identity) == 1 {
		return fmt.Errorf("%w: it hashes to the identity", ErrInvalidInput)
	}
	return nil
}

// hashToScalar is the suite's HashToScalar with the DST dst: 64 bytes of
// expand_message_xmd reduced modulo the group order.
func hashToScalar(dst string, parts ...[]byte) *ristretto255.Scalar {
	u := expandMessageXMD(dst, parts...)
	return ristretto255.NewScalar().FromUniformBytes(u[:])
}

// identity is the identity element; never modified.
var identity = ristretto255.NewElement()

// zeroScalar is the scalar 0; never modified.
var zeroScalar = ristretto255.NewScalar()

// decodeElement is DeserializeElement: a canonical encoding of an element
// other than the identity. A canonical encoding is the element's
// SerializeElement, so callers keep b as the element's encoding.
func decodeElement(dst *ristretto255.Element, b []byte) error {
	if len(b) != ElementSize {
		return fmt.Errorf("%w: %d bytes, want %d", ErrInvalidElement, len(b), ElementSize)
	}
	if err := dst.Decode(b); err != nil {
		return fmt.Errorf("%w: not a canonical ristretto255 encoding", ErrInvalidElement)
	}
	if dst.Equal(identity) == 1 {
		return fmt.Errorf("%w: the identity", ErrInvalidElement)
	}
	return nil
}

// decodeScalar is DeserializeScalar: a canonical 32-byte little-endian
// scalar (not checked for zero).
func decodeScalar(dst *ristretto255.Scalar, b []byte) bool {
	return len(b) == ScalarSize && dst.Decode(b) == nil
}

// randomTries bounds the draws of a non-zero scalar: a source that gives
// zero eight times running (probability about 2^-2000 for a random one) is
// broken, not unlucky.
const randomTries = 8

// randomScalar is RandomScalar: a uniform non-zero scalar from 64 bytes
// of rnd.
func randomScalar(rnd io.Reader) (*ristretto255.Scalar, error) {
	var b [64]byte
	s := ristretto255.NewScalar()
	for range randomTries {
		if _, err := io.ReadFull(rnd, b[:]); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrRandom, err)
		}
		s.FromUniformBytes(b[:])
		if s.Equal(zeroScalar) == 0 {
			return s, nil
		}
	}
	return nil, fmt.Errorf("%w: only zero scalars", ErrRandom)
}

// i2osp2 is I2OSP(n, 2) for n < 2^16.
func i2osp2(n int) []byte {
	return binary.BigEndian.AppendUint16(nil, uint16(n))
}
