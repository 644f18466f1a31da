// Package grpcserver builds a node's gRPC server in one place: mutual-TLS
// credentials, the chain of interceptors (panic recovery, metrics, logging,
// identity and authorisation), message-size and stream limits, keepalive
// enforcement and connection age, header-list and handshake limits, the
// request codec (which drops fields the schema does not know, so that they
// are never stored or signed), the standard health service and server
// reflection (both reachable only over mutual TLS, like everything else).
//
// It is also the one place where the node's domain errors are mapped to gRPC
// status codes (errors.go): handlers return documented sentinel errors
// wrapped with %w, and the interceptor turns them into statuses.
//
// It does not know any Accord service: callers register theirs on the
// returned *grpc.Server and declare who may call them in a Policy.
package grpcserver
