// Package teamkey encrypts the content of a joint investigation team (JIT)
// to the team's members, so that registry servers of other members
// replicate ciphertext they cannot read.
//
// A team has a team key per epoch: 32 random bytes made by the member that
// creates the team or rotates its key. The key is stored in the registry
// only wrapped for each accepted member's node keys: X25519 with an
// ephemeral key, HKDF-SHA256 and AES-256-GCM (Wrap, Unwrap), with the team,
// the epoch, the member and the key id as associated data. Content is
// sealed with the team key in AES-256-GCM (Seal, Open), with associated
// data that binds it to the team, the record and the field (FieldAD), so
// that a ciphertext cannot be moved to another record.
//
// Ciphertexts are text, so that they travel in the registry's string
// fields:
//
//	accord-tk1.<epoch>.<base64url(nonce || AES-GCM ciphertext)>   (content)
//	accord-wrap1.<base64url(ephemeral public key || nonce || ciphertext)>   (a wrapped team key)
//
// Parse and ParseWrapped check the form without a key (the registry's state
// machine uses them to bound ciphertexts and check epochs). All primitives
// come from the Go standard library (crypto/ecdh, crypto/hkdf,
// crypto/aes, crypto/cipher); nothing here is home-made beyond framing.
//
// It is not for anything that leaves a node in the clear, nor for the
// registry's signatures (federation/registry/signature.go).
package teamkey
