// Package gateway serves a node's local API as JSON over HTTPS
// (grpc-gateway v2) and its OpenAPI description, for an office's own
// systems that do not speak gRPC.
//
// The gateway is not a second implementation of the API, nor a second
// place where callers are authenticated or authorised. Every HTTP request
// becomes a call of the local API's own gRPC server, through the same
// interceptors (recovery, metrics and logging, identity and the
// grpcserver.Policy) as a gRPC client's call:
//
//   - the HTTPS listener demands a client certificate and verifies it with
//     the node's trust material (federation/mtls), as the gRPC listeners do;
//   - each HTTPS connection gets an in-process connection to the gRPC server
//     (a pipe handed to grpc.Server through [Gateway.Listener]); the server's
//     transport credentials ([Gateway.Credentials]) give that connection the
//     verified TLS state of the HTTPS connection, so that
//     identity.FromPeer sees the HTTP client's certificate. Nothing a client
//     sends (a header, a field) can name another caller: the pipe's type is
//     private to this package and only the gateway makes one, from the TLS
//     state of the connection the request arrived on. No HTTP header is
//     forwarded as gRPC metadata.
//
// Paths follow the HTTP rules of proto/accord/v1/gateway.yaml
// (GET /v1/cases, GET /v1/cases/{case_id}, POST /v1/cases:import, ...); a
// local-API method without a rule is served at
// POST /accord.v1.<Service>/<Method>. Errors are the gRPC status as JSON,
// {"code", "message", "details"}, with the HTTP status of its code (400 for
// InvalidArgument, 403 for PermissionDenied, ...).
//
// It does not serve the federation-facing services (the exchange, the
// registry's Raft API, peer checks), which peers call over gRPC only.
package gateway
