// Package pki creates and runs a member's certificate authority.
//
// Accord's PKI is sovereign: every member office runs its own CA, and the
// federation's trust bundle (federation/trust) lists which CA may vouch for
// which member. This package makes the pieces an operator needs:
//
//   - a member CA (NewCA in memory, CreateCA and OpenCA on disk): an ECDSA
//     P-256 root with CA:true, path length 0, key usage certSign and crlSign,
//     and one URI SAN naming the member, spiffe://<federation>/member/<MEMBER>;
//   - node and user certificates (CA.Issue): ECDSA P-256 leaves with exactly
//     one URI SAN naming the identity (see federation/identity), a random
//     128-bit serial, server and client authentication for nodes, client
//     authentication only for users, never valid after the CA;
//   - revocations and CRLs (CA.Revoke, CA.CRL) with an increasing CRL number;
//   - plain-words descriptions of certificates, CRLs, keys and trust bundles
//     (Describe, Inspect), for operators who need to know what a file is.
//
// A CA kept on disk lives in one folder (mode 0700): ca.crt, ca.key (PKCS#8
// PEM, mode 0600) and state.json, the index of issued serials, the
// revocations and the last CRL number. Every file is written atomically.
// One process at a time may use a CA folder; two concurrent writers would
// lose each other's index entries. A *CA is safe for concurrent use within a
// process.
//
// The package does not decide what is trusted (federation/trust does), does
// not build TLS configurations (federation/mtls does) and prints nothing:
// cmd/accordctl's `certs` commands are the operator's front end.
package pki
