package records

import (
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/accordfed/accord/federation/merkle"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// marshal is the one encoding of records that is signed: deterministic.
var marshal = proto.MarshalOptions{Deterministic: true}

// Signer signs batches of a member's feed records.
type Signer struct {
	member string
	keyID  string
	key    ed25519.PrivateKey
}

// NewSigner returns a signer for member with the key registered under
// keyID.
func NewSigner(member, keyID string, key ed25519.PrivateKey) *Signer {
	return &Signer{member: member, keyID: keyID, key: key}
}

// KeyID returns the id of the signer's key.
func (s *Signer) KeyID() string { return s.keyID }

// Public returns the signer's public key.
func (s *Signer) Public() ed25519.PublicKey { return s.key.Public().(ed25519.PublicKey) }

// SignBatch signs records, all of the signer's member, as one batch.
func (s *Signer) SignBatch(recs []*accordv1.FeedRecord) ([]*accordv1.SignedRecord, error) {
	if len(recs) == 0 {
		return nil, nil
	}
	if len(recs) > MaxBatch {
		return nil, fmt.Errorf("%w: batch of %d records: at most %d", ErrInvalid, len(recs), MaxBatch)
	}
	data := make([][]byte, len(recs))
	leaves := make([][32]byte, len(recs))
	for i, r := range recs {
		if r.GetOrigin() != s.member {
			return nil, fmt.Errorf("%w: origin: %q: this node signs only records of %s", ErrInvalid, r.GetOrigin(), s.member)
		}
		if err := check(r); err != nil {
			return nil, err
		}
		b, err := marshal.Marshal(r)
		if err != nil {
			return nil, err
		}
		data[i], leaves[i] = b, merkle.LeafHash(b)
	}
	rt, paths := merkle.Tree(leaves)
	sig := ed25519.Sign(s.key, signedMessage(uint32(len(recs)), rt))
	out := make([]*accordv1.SignedRecord, len(recs))
	for i := range recs {
		out[i] = &accordv1.SignedRecord{
			Record: data[i], KeyId: s.keyID, Signature: sig,
			LeafIndex: uint32(i), LeafCount: uint32(len(recs)), Proof: paths[i],
		}
	}
	return out, nil
}

// MaxBatch is the largest batch signed at once.
const MaxBatch = 1 << 16

// KeyID returns the id a node's signing key is registered under:
// <node name>.<first 16 hex digits of the SHA-256 of the public key>.
func KeyID(nodeName string, pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return nodeName + "." + hex.EncodeToString(sum[:8])
}

// PublicKeyPEM encodes a public key as the registry stores signing keys.
func PublicKeyPEM(pub ed25519.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), nil
}

// ParsePublicKeyPEM decodes a registry signing key; only Ed25519 keys sign
// records.
func ParsePublicKeyPEM(s string) (ed25519.PublicKey, error) {
	b, _ := pem.Decode([]byte(s))
	if b == nil || b.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("%w: not a PEM public key", ErrUnknownKey)
	}
	k, err := x509.ParsePKIXPublicKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnknownKey, err)
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: a %T key cannot verify records (Ed25519 only)", ErrUnknownKey, k)
	}
	return pub, nil
}
