package audit

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"time"
)

// AnchorTag opens the digest an anchor's signature covers.
const AnchorTag = "accord-audit-anchor-v1"

// anchorDigest is what an anchor signs: SHA-256 over str(AnchorTag),
// u64(seq), u64(unix seconds) u32(nanoseconds), the 32 bytes of prev and
// the 32 bytes of the key fingerprint.
func anchorDigest(seq uint64, t time.Time, prev *[HashSize]byte, key *[HashSize]byte) [HashSize]byte {
	b := make([]byte, 0, 8+len(AnchorTag)+8+12+2*HashSize)
	b = appendStr(b, AnchorTag)
	b = binary.BigEndian.AppendUint64(b, seq)
	b = binary.BigEndian.AppendUint64(b, uint64(t.Unix()))
	b = binary.BigEndian.AppendUint32(b, uint32(t.Nanosecond()))
	b = append(b, prev[:]...)
	b = append(b, key[:]...)
	return sha256.Sum256(b)
}

// KeyID returns the fingerprint anchors carry for pub: the lower-case hex
// SHA-256 of its DER SubjectPublicKeyInfo. pub must be ECDSA on P-256,
// P-384 or P-521, or Ed25519.
func KeyID(pub crypto.PublicKey) (string, error) {
	id, err := keyID(pub)
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(id[:]), nil
}

func keyID(pub crypto.PublicKey) ([HashSize]byte, error) {
	if err := checkKey(pub); err != nil {
		return [HashSize]byte{}, err
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return [HashSize]byte{}, fmt.Errorf("%w: %w", ErrUnsupportedKey, err)
	}
	return sha256.Sum256(der), nil
}

// signer makes anchors.
type signer struct {
	key  crypto.Signer
	opts crypto.SignerOpts
	id   [HashSize]byte
	hex  string
}

// newSigner checks key and signs and verifies a probe once, so that a
// signer whose private and public halves do not match is refused at Open
// rather than writing anchors that never verify.
func newSigner(key crypto.Signer) (*signer, error) {
	pub := key.Public()
	id, err := keyID(pub)
	if err != nil {
		return nil, err
	}
	s := &signer{key: key, opts: crypto.SHA256, id: id, hex: hex.EncodeToString(id[:])}
	if _, ok := pub.(ed25519.PublicKey); ok {
		s.opts = crypto.Hash(0) // pure Ed25519 over the digest
	}
	probe := sha256.Sum256([]byte("accord audit anchor self-test"))
	sig, err := s.key.Sign(rand.Reader, probe[:], s.opts)
	if err != nil {
		return nil, fmt.Errorf("%w: self-test: %w", ErrUnsupportedKey, err)
	}
	if !verifyDigest(pub, probe[:], sig) {
		return nil, fmt.Errorf("%w: self-test: the signature does not verify with the signer's public key", ErrUnsupportedKey)
	}
	return s, nil
}

// anchor returns anchor entry seq at t after prev, signed, with Prev and
// Hash set.
func (s *signer) anchor(seq uint64, t time.Time, prev *[HashSize]byte) (Entry, [HashSize]byte, error) {
	d := anchorDigest(seq, t, prev, &s.id)
	sig, err := s.key.Sign(rand.Reader, d[:], s.opts)
	if err != nil {
		return Entry{}, [HashSize]byte{}, err
	}
	e := Entry{Seq: seq, Time: t, Kind: KindAnchor, Key: s.hex, Sig: base64.StdEncoding.EncodeToString(sig), Prev: hex.EncodeToString(prev[:])}
	sum := e.sum(prev)
	e.Hash = hex.EncodeToString(sum[:])
	return e, sum, nil
}

// checkAnchor verifies anchor e (whose fields passed checkContent) with the
// keys by fingerprint; it returns why it fails, or "".
func checkAnchor(e *Entry, prev *[HashSize]byte, keys map[[HashSize]byte]crypto.PublicKey) string {
	var id [HashSize]byte
	_, _ = hex.Decode(id[:], []byte(e.Key)) // checked by checkContent
	pub, ok := keys[id]
	if !ok {
		return "anchor is signed by key " + e.Key + ", which is not one of the keys given"
	}
	sig, _ := base64.StdEncoding.DecodeString(e.Sig)
	d := anchorDigest(e.Seq, e.Time, prev, &id)
	if !verifyDigest(pub, d[:], sig) {
		return "anchor signature does not verify (forged, or the chain before it was rewritten)"
	}
	return ""
}

// checkKey refuses keys other than ECDSA on P-256, P-384, P-521 and
// Ed25519.
func checkKey(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P256() || k.Curve == elliptic.P384() || k.Curve == elliptic.P521() {
			return nil
		}
		return fmt.Errorf("%w: ECDSA on a curve other than P-256, P-384 or P-521", ErrUnsupportedKey)
	case ed25519.PublicKey:
		if len(k) == ed25519.PublicKeySize {
			return nil
		}
		return fmt.Errorf("%w: Ed25519 key of %d bytes", ErrUnsupportedKey, len(k))
	case nil:
		return fmt.Errorf("%w: no public key", ErrUnsupportedKey)
	}
	return fmt.Errorf("%w: %T", ErrUnsupportedKey, pub)
}

// verifyDigest checks sig over digest with a key that passed checkKey.
func verifyDigest(pub crypto.PublicKey, digest, sig []byte) bool {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		return ecdsa.VerifyASN1(k, digest, sig)
	case ed25519.PublicKey:
		return ed25519.Verify(k, digest, sig)
	}
	return false
}
