// Package peering is how two member nodes get to know each other: the
// accord.v1.FederationService WhoAmI RPC, which tells a caller how the server
// saw it, and Check, which dials a peer step by step (TCP, TLS handshake in
// both directions, WhoAmI round trips) and explains in plain words why two
// nodes can or cannot talk: unreachable, wrong CA, unknown member, revoked,
// expired, or OK with round-trip times.
//
// It neither stores nor exchanges case data; later flows (case-metadata
// exchange, the registry) build on the same mutual-TLS identities.
package peering
