// Package identity names the principals of an Accord federation.
//
// Every node and every user of a member office is identified by exactly one
// SPIFFE-style URI carried as the only URI SAN of its X.509 certificate:
//
//	spiffe://<federation>/member/<MEMBER>/node/<name>
//	spiffe://<federation>/member/<MEMBER>/user/<name>
//
// The package parses and formats those URIs, extracts the identity of a
// verified certificate, and carries the verified identity of a caller in a
// context. It does not verify certificates: that is federation/trust's job,
// done during the TLS handshake. An Identity read from a request context was
// put there by the server's interceptor from the verified connection, never
// from a message field or metadata.
package identity
