// Package coordination is the office's access to the federation's shared
// prosecution-strategy registry: accord.v1.CoordinationService on the
// node's local API. Analysts and coordinators create and run joint
// investigation teams, propose and consent to lead jurisdiction, write
// strategy entries and decide on matches; admins also vote on members,
// register the member's nodes and manage federation keys.
//
// The node acts in the registry for the calling user: every command is
// applied by the node's registry server (federation/registryraft) with the
// node as acting node and the user's certificate identity recorded beside
// it, and the registry's state machine (federation/registry) enforces who
// may do what. Reads are linearizable unless the caller asks for a stale
// read. Federation key material never leaves through this service: keys
// are listed without it, and key.create and key.rotate without material get
// 32 random bytes made on the node.
//
// The typed methods (jits.go, strategy.go, leads.go, matches.go; shared
// parts in api.go) build the registry's payloads from the API's messages
// and send them with the same execute as the deprecated Execute, then read
// the record back and convert it (one converter per resource family). They
// need a client request id (AIP-155), name records by resource names, and
// page lists with tokens bound to the caller and the filters
// (node/pagetoken). Execute and Query stay for one release.
//
// gRPC codes come from node/grpcserver's one mapping.
package coordination
