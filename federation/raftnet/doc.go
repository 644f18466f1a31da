// Package raftnet carries the registry's Raft traffic over mutual TLS with
// the federation's identities.
//
// A StreamLayer implements raft.StreamLayer over a plain net.Listener and
// the node's *mtls.Source. Every connection, inbound and outbound, is
// TLS 1.3 with the ALPN protocol "accord-raft/1", so a Raft connection can
// never be mistaken for a gRPC one (nor the other way round). Peers are
// checked in tls.Config.VerifyConnection: first the Source's checks (a chain
// to the claimed member's own CA, not revoked), then the layer's own:
//
//   - the peer is a node, not a user;
//   - Allow accepts it: only registry servers take part in Raft, and the
//     registry says which nodes those are;
//   - when dialling, the server is exactly the identity expected at that
//     address (Expect, usually an AddressBook built from raft's
//     configuration).
//
// Inbound handshakes run in the background, each under a deadline (3 s by
// default), so a silent or slow client cannot stall Accept. Until its
// handshake is done a client is not authenticated, so the handshakes in
// progress are bounded per source (an IPv4 address or IPv6 /64) and in all;
// a connection beyond either bound is closed at once, never queued, and
// the hosts of known registry servers (Config.Reserved, a Sources set) keep
// slots of their own, so a flood from elsewhere cannot keep a registry
// server out. Accept hands raft only connections whose handshake succeeded.
// Because in TLS 1.3 the client finishes its handshake before the server
// has checked the client's certificate, the server confirms an accepted
// connection with one byte (0x01) and Dial waits for it: Dial returns only
// connections the server has accepted, and a refused node learns it at
// once rather than on its first RPC.
//
// Raft's ServerID is the node's certificate identity URI (ServerID,
// ParseServerID). NewTransport builds a raft.NetworkTransport over a layer,
// logging through log/slog (NewHCLogger adapts a *slog.Logger to the
// hclog.Logger raft wants).
//
// The package does not decide who is a registry server (the registry does,
// through Allow), nor load certificates (federation/mtls does). Tests that
// need latency, blackholes or partitions between nodes use
// federation/raftnet/raftnettest.
package raftnet
