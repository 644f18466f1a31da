package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/accordfed/accord/federation/mtls"
	"github.com/accordfed/accord/node/config"
)

// ErrNotServing is returned by Probe when the node answers but is not
// serving.
var ErrNotServing = errors.New("node is not serving")

// Probe asks the node described by cfg, over mutual TLS with the node's own
// identity, whether it is serving (the standard gRPC health service). It is
// what `accordd health` and container health checks run.
func Probe(ctx context.Context, cfg config.Config) error {
	src, err := mtls.NewSource(cfg.TLS, mtls.Hooks{}, nil, nil)
	if err != nil {
		return err
	}
	addr := dialAddr(cfg.Listen)
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(src.ClientCredentials(mtls.ExpectMember(src.Identity().Member))))
	if err != nil {
		return err
	}
	defer cc.Close()
	resp, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		return fmt.Errorf("health check of %s: %w", addr, err)
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return fmt.Errorf("%w: %s reports %s", ErrNotServing, addr, resp.GetStatus())
	}
	return nil
}

// dialAddr turns a listen address into one to dial: a wildcard host becomes
// loopback.
func dialAddr(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
