// Package daemon is the accordd process as a library: it composes a node
// from its configuration (TLS material, the mutual-TLS gRPC server with its
// services and policy, the metrics listener), starts it on listeners, reloads
// its TLS material, and stops it in a documented order. cmd/accordd is a thin
// wrapper around it, and multi-node tests start real daemons in-process.
//
// The office-only parts of a node live in the other node/ packages; the
// federation logic it wires in (identities, peering, and later the exchange
// and the registry) lives in federation/. This package holds no logic of
// either: only composition and lifecycle.
package daemon
