// Package httpsfront is the local API's front door for HTTPS clients that
// present a certificate: the JSON gateway's office systems and the
// office's console's browsers. It lets them call the local API's own gRPC
// server, through the same interceptors (recovery, metrics and logging,
// identity and the grpcserver.Policy) as a gRPC client's call, with no
// second place where callers are authenticated or authorised:
//
//   - an HTTPS listener made with [Front.TLSConfig] demands a client
//     certificate and verifies it with the node's trust material
//     (federation/mtls), as the gRPC listeners do;
//   - each HTTPS connection gets an in-process connection to the gRPC
//     server ([Conns.Client]; a pipe handed to grpc.Server through
//     [Front.Listener]); the server's transport credentials
//     ([Front.Credentials]) give that connection the verified TLS state of
//     the HTTPS connection, so that identity.FromPeer sees the client's
//     certificate. Nothing a client sends (a header, a field) can name
//     another caller: the pipe's type is private to this package and only
//     a [Conns] makes one, from the TLS state of the connection the
//     request arrived on;
//   - a reload of the trust material that revokes or distrusts a client
//     closes its HTTPS connection, as it closes gRPC connections.
package httpsfront
