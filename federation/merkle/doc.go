// Package merkle is the RFC 6962 / RFC 9162 Merkle tree over SHA-256
// that Accord's signed batches share: a leaf is H(0x00 || data), an inner
// node H(0x01 || left || right). The origin's record batches
// (federation/records) and a node's batches of registry commands
// (federation/registry) sign a tree's root once and carry each item's
// audit path, so that every item is checked alone against the one
// signature.
package merkle
