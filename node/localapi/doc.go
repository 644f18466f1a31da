// Package localapi is the office's own API on its node: accord.v1
// CaseService (create, update, get, list, aggregate into a map and a
// timeline, delete, import, export cases) and
// EvidenceService (register evidence, look it up by id or content hash,
// custody chains). It listens on the node's local address, separate from the
// federation address, and serves only users of the node's own member,
// authenticated by client certificates their member's CA issued. Nodes, and
// users of other members, get PermissionDenied.
//
// Roles: every user of the member is an analyst (read, register, import,
// export, custody events); users listed as admins may also delete cases,
// with a recorded reason.
//
// The package validates requests (node/caseformat for cases) and calls the
// store (node/store); gRPC codes come from node/grpcserver's one mapping.
package localapi
