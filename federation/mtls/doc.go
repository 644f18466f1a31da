// Package mtls builds the mutual-TLS configurations of a node and keeps them
// current.
//
// A Source loads the node's certificate and key, the federation's trust
// bundle and the members' CRLs from disk, reloads them without a restart
// (on a timer, or when asked, e.g. on SIGHUP), and hands out TLS
// configurations for servers and clients. Both sides do all identity and
// revocation checks in tls.Config.VerifyConnection, which Go runs on every
// handshake including resumed sessions, so a revoked certificate cannot slip
// in by resuming a session. Server credentials also track live connections:
// when a reload revokes or distrusts a peer, its open connections are closed
// at once; gRPC's maximum connection age is the backstop.
//
// What is trusted is decided by federation/trust; this package only wires it
// into crypto/tls and gRPC.
package mtls
