// Package voprf implements the verifiable oblivious pseudorandom function of
// RFC 9497 (VOPRF mode, ciphersuite ristretto255-SHA512), with batched
// evaluations: one DLEQ proof covers every element of a request.
//
// A server holds a [PrivateKey] and publishes its [PublicKey]. A client
// blinds its inputs ([Blind]) and sends the blinded elements; the server
// evaluates them without learning the inputs and proves with one DLEQ proof
// that it used the key it published ([PrivateKey.BlindEvaluate]); the
// client checks the proof and unblinds ([Request.Finalize]). The server
// computes the same outputs directly from the inputs with
// [PrivateKey.Evaluate].
//
// Every byte on the wire and every output is the RFC's: the package
// passes the RFC 9497 Appendix A test vectors of the suite and
// interoperates with cloudflare/circl's oprf package (its tests check
// both). Keys marshal as the RFC's SerializeScalar (32 bytes, little
// endian), as circl marshals them. Elements are decoded strictly:
// non-canonical encodings and the identity are refused.
//
// The group is github.com/gtank/ristretto255. Secret scalars (the key, the
// blinds, the proof's nonce) only enter hashing and constant-time
// operations; the variable-time multi-scalar multiplications that make the
// batched proof cheap (the composites M = Σ dᵢ·Cᵢ and, for the client, Z =
// Σ dᵢ·Dᵢ, and the proof check) only ever see public data.
//
// The proof's nonce is hedged, where the RFC draws it at random: it is
// HashToScalar, under a DST of its own, of the key, fresh random bytes, the
// public key and the composites. Two proofs of different batches with one
// nonce would give anyone holding both the key; hedged, a random source
// that repeats itself (a virtual machine restored from a snapshot, a broken
// generator) repeats a nonce only for the same batch, whose proof is then
// the same. A verifier cannot tell how the nonce was chosen: the proofs are
// the RFC's.
//
// One proof for a batch checks the answers through their weighted sum, the
// weights dᵢ hashed from the public key, i, Cᵢ and Dᵢ: a server cannot answer
// with another key, but answers Dᵢ = k·Cᵢ + eᵢ·G whose errors cancel (Σ dᵢ·eᵢ
// = 0) pass. Finding such errors is a generalized birthday search, about
// 2^32 steps for a batch of 4,096 elements and out of reach for a few;
// docs/person-encodings.md weighs it for person tokens.
//
// The package is pure logic: no I/O besides the random source.
package voprf
