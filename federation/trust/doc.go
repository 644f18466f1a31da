// Package trust decides which certificates a node accepts.
//
// A federation's trust bundle lists, for each member, the certificate
// authorities allowed to vouch for that member and for no one else (each
// member runs its own, sovereign CA). A Verifier built from a bundle and the
// members' certificate revocation lists checks a peer's certificate chain:
// exactly one SPIFFE URI SAN naming a member of this federation, a leaf that
// is not a CA, a chain to one of that member's own CAs (a certificate that
// claims PL but was signed by UA's CA is refused), within its validity period,
// and not revoked. Every refusal wraps one of the sentinel errors below, so
// callers (the TLS handshake, `accordctl peers check`) can say exactly why.
//
// A CRL revokes only what the CA that signed it issued: revocations are kept
// under the signing CA's public key and a certificate is looked up under the
// key of the CA that verified it, never by issuer name; and the bundle
// refuses CAs of different members that share a subject, key id or public
// key. Each CRL file is read on its own: one that cannot be applied is
// reported (CRLProblem) and the others still are.
//
// The package does not read files on its own schedule or build TLS
// configurations: federation/mtls does that, and federation/pki makes the
// certificates, CRLs and bundles.
package trust
