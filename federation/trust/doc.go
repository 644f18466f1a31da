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
// The package does not read files on its own schedule or build TLS
// configurations: federation/mtls does that, and federation/pki makes the
// certificates, CRLs and bundles.
package trust
