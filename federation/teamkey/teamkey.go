package teamkey

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// The sentinel errors.
var (
	// ErrMalformed: a ciphertext, wrapped key or public key is not in the
	// form this package writes.
	ErrMalformed = errors.New("teamkey: malformed")
	// ErrDecrypt: the key is wrong, or the ciphertext was altered or moved
	// to another record, field, team, epoch or recipient.
	ErrDecrypt = errors.New("teamkey: cannot decrypt (wrong key, or the ciphertext was altered or moved)")
)

// KeySize is the size of a team key.
const KeySize = 32

const (
	sealPrefix = "accord-tk1."
	wrapPrefix = "accord-wrap1."
	nonceSize  = 12
	tagSize    = 16
	wrapInfo   = "accord teamkey wrap v1"
	// wrappedLen is the decoded size of a wrapped key: ephemeral public
	// key, nonce, sealed team key.
	wrappedLen = 32 + nonceSize + KeySize + tagSize
)

var b64 = base64.RawURLEncoding

// NewTeamKey returns a fresh random team key.
func NewTeamKey() ([]byte, error) {
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	return k, nil
}

// NewNodeKey returns a fresh X25519 key pair for a node.
func NewNodeKey() (*ecdh.PrivateKey, error) { return ecdh.X25519().GenerateKey(rand.Reader) }

// EncodePublicKey returns a node's public key as the registry stores it
// (standard base64 of the 32 bytes).
func EncodePublicKey(pub *ecdh.PublicKey) string {
	return base64.StdEncoding.EncodeToString(pub.Bytes())
}

// ParsePublicKey reads a public key written by EncodePublicKey.
func ParsePublicKey(s string) (*ecdh.PublicKey, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != 32 {
		return nil, fmt.Errorf("%w: public key: must be the standard base64 of a 32-byte X25519 public key", ErrMalformed)
	}
	pub, err := ecdh.X25519().NewPublicKey(b)
	if err != nil {
		return nil, fmt.Errorf("%w: public key: %w", ErrMalformed, err)
	}
	return pub, nil
}

// KeyID names a node's public key within its member: the node's name and
// the first 8 bytes of the key's SHA-256, in hex.
func KeyID(nodeName string, pub *ecdh.PublicKey) string {
	sum := sha256.Sum256(pub.Bytes())
	return nodeName + ".x25519." + hex.EncodeToString(sum[:8])
}

// ad joins parts with length prefixes, so that no two lists of parts give
// the same bytes.
func ad(kind string, parts ...string) []byte {
	var b []byte
	for _, p := range append([]string{kind}, parts...) {
		b = binary.BigEndian.AppendUint32(b, uint32(len(p)))
		b = append(b, p...)
	}
	return b
}

// FieldAD is the associated data of a sealed field: the team's scope (a
// value unique to the team and fixed at its creation), the record within
// the team, and the field's name.
func FieldAD(team, record, field string) []byte { return ad("accord-field", team, record, field) }

// WrapAD is the associated data of a wrapped team key: the team's scope,
// the epoch, and the member and key id it is wrapped for.
func WrapAD(team string, epoch int, member, keyID string) []byte {
	return ad("accord-wrap", team, strconv.Itoa(epoch), member, keyID)
}

func gcmOf(key []byte) (cipher.AEAD, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("%w: key: must be %d bytes (got %d)", ErrMalformed, KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// Seal encrypts plaintext with the team key of epoch, bound to ad
// (FieldAD).
func Seal(teamKey []byte, epoch int, plaintext string, ad []byte) (string, error) {
	if epoch < 1 {
		return "", fmt.Errorf("%w: epoch: must be at least 1 (got %d)", ErrMalformed, epoch)
	}
	aead, err := gcmOf(teamKey)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, nonceSize, nonceSize+len(plaintext)+tagSize)
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	out := aead.Seal(nonce, nonce, []byte(plaintext), sealAD(epoch, ad))
	return sealPrefix + strconv.Itoa(epoch) + "." + b64.EncodeToString(out), nil
}

func sealAD(epoch int, ad []byte) []byte {
	return append(binary.BigEndian.AppendUint64(nil, uint64(epoch)), ad...)
}

// IsSealed reports whether s has the form of a sealed field (it may still
// be malformed; Parse says).
func IsSealed(s string) bool { return strings.HasPrefix(s, sealPrefix) }

// Parse checks the form of a sealed field without a key and returns its
// epoch and the length of its plaintext in bytes.
func Parse(s string) (epoch, plainLen int, err error) {
	rest, ok := strings.CutPrefix(s, sealPrefix)
	if !ok {
		return 0, 0, fmt.Errorf("%w: not a sealed field (%q...)", ErrMalformed, sealPrefix)
	}
	es, body, ok := strings.Cut(rest, ".")
	if !ok {
		return 0, 0, fmt.Errorf("%w: sealed field: no epoch", ErrMalformed)
	}
	epoch, err = strconv.Atoi(es)
	if err != nil || epoch < 1 || strconv.Itoa(epoch) != es {
		return 0, 0, fmt.Errorf("%w: sealed field: epoch %q must be a positive decimal number", ErrMalformed, es)
	}
	raw, err := b64.DecodeString(body)
	if err != nil {
		return 0, 0, fmt.Errorf("%w: sealed field: %w", ErrMalformed, err)
	}
	if len(raw) < nonceSize+tagSize {
		return 0, 0, fmt.Errorf("%w: sealed field: too short", ErrMalformed)
	}
	return epoch, len(raw) - nonceSize - tagSize, nil
}

// Open decrypts a sealed field with the team key of its epoch (Parse tells
// the epoch) and the same associated data it was sealed with.
func Open(teamKey []byte, s string, ad []byte) (string, error) {
	epoch, _, err := Parse(s)
	if err != nil {
		return "", err
	}
	aead, err := gcmOf(teamKey)
	if err != nil {
		return "", err
	}
	raw, _ := b64.DecodeString(s[strings.LastIndexByte(s, '.')+1:])
	pt, err := aead.Open(nil, raw[:nonceSize], raw[nonceSize:], sealAD(epoch, ad))
	if err != nil {
		return "", ErrDecrypt
	}
	return string(pt), nil
}

// wrapKey derives the key that seals a wrapped team key from the X25519
// shared secret and both public keys.
func wrapKey(shared, ephPub, recipientPub []byte) ([]byte, error) {
	salt := append(append([]byte{}, ephPub...), recipientPub...)
	return hkdf.Key(sha256.New, shared, salt, wrapInfo, KeySize)
}

// Wrap seals a team key for a node's public key, bound to ad (WrapAD).
func Wrap(recipient *ecdh.PublicKey, teamKey, ad []byte) (string, error) {
	if len(teamKey) != KeySize {
		return "", fmt.Errorf("%w: team key: must be %d bytes (got %d)", ErrMalformed, KeySize, len(teamKey))
	}
	eph, err := NewNodeKey()
	if err != nil {
		return "", err
	}
	shared, err := eph.ECDH(recipient)
	if err != nil {
		return "", err
	}
	k, err := wrapKey(shared, eph.PublicKey().Bytes(), recipient.Bytes())
	if err != nil {
		return "", err
	}
	aead, err := gcmOf(k)
	if err != nil {
		return "", err
	}
	out := make([]byte, 0, wrappedLen)
	out = append(out, eph.PublicKey().Bytes()...)
	nonce := make([]byte, nonceSize)
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	out = append(out, nonce...)
	out = aead.Seal(out, nonce, teamKey, ad)
	return wrapPrefix + b64.EncodeToString(out), nil
}

// ParseWrapped checks the form of a wrapped team key without a key.
func ParseWrapped(s string) error {
	_, err := parseWrapped(s)
	return err
}

func parseWrapped(s string) ([]byte, error) {
	body, ok := strings.CutPrefix(s, wrapPrefix)
	if !ok {
		return nil, fmt.Errorf("%w: not a wrapped team key (%q...)", ErrMalformed, wrapPrefix)
	}
	raw, err := b64.DecodeString(body)
	if err != nil || len(raw) != wrappedLen {
		return nil, fmt.Errorf("%w: wrapped team key: must be the base64url of %d bytes", ErrMalformed, wrappedLen)
	}
	return raw, nil
}

// Unwrap opens a wrapped team key with the node's private key and the same
// associated data it was wrapped with.
func Unwrap(priv *ecdh.PrivateKey, wrapped string, ad []byte) ([]byte, error) {
	raw, err := parseWrapped(wrapped)
	if err != nil {
		return nil, err
	}
	eph, err := ecdh.X25519().NewPublicKey(raw[:32])
	if err != nil {
		return nil, fmt.Errorf("%w: wrapped team key: %w", ErrMalformed, err)
	}
	shared, err := priv.ECDH(eph)
	if err != nil {
		return nil, ErrDecrypt
	}
	k, err := wrapKey(shared, raw[:32], priv.PublicKey().Bytes())
	if err != nil {
		return nil, err
	}
	aead, err := gcmOf(k)
	if err != nil {
		return nil, err
	}
	key, err := aead.Open(nil, raw[32:32+nonceSize], raw[32+nonceSize:], ad)
	if err != nil {
		return nil, ErrDecrypt
	}
	return key, nil
}
