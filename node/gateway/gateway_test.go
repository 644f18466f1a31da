package gateway_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"google.golang.org/grpc"

	"github.com/accordfed/accord/federation/mtls"
	"github.com/accordfed/accord/federation/pki/pkitest"
	"github.com/accordfed/accord/node/gateway"
	"github.com/accordfed/accord/node/grpcserver"
	"github.com/accordfed/accord/node/httpsfront"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

func newGateway(t *testing.T) *gateway.Gateway {
	t.Helper()
	fed := pkitest.NewFederation(t, "accord.test", "UA")
	src, err := mtls.NewSource(fed.Node("UA", "ua-1"), mtls.Hooks{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var cfg grpcserver.Config
	cfg.Normalize()
	g, err := gateway.New(gateway.Options{Front: httpsfront.New(src, cfg), Policy: grpcserver.NewPolicy(), GRPC: cfg, Version: "v9.9.9"})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestRegisterRefusesAnUnservedService: a service of the local gRPC server
// that the gateway has no handlers for stops the node at start, so that a
// new service cannot be left out of the gateway unnoticed.
func TestRegisterRefusesAnUnservedService(t *testing.T) {
	g := newGateway(t)
	served := map[string]grpc.ServiceInfo{
		accordv1.CaseService_ServiceDesc.ServiceName: {},
		"grpc.health.v1.Health":                      {},
		"grpc.reflection.v1.ServerReflection":        {},
	}
	if err := g.Register(served); err != nil {
		t.Fatalf("local-API services: %v", err)
	}
	served["accord.v1.NewService"] = grpc.ServiceInfo{}
	err := g.Register(served)
	if !errors.Is(err, gateway.ErrUnserved) || !strings.Contains(err.Error(), "accord.v1.NewService") {
		t.Fatalf("err = %v, want ErrUnserved naming accord.v1.NewService", err)
	}
}

// TestEveryGeneratedServiceIsRegistered: the handlers table and the
// generated gateway agree (a service generated without a line in the table
// would be described in the OpenAPI document but not served).
func TestEveryGeneratedServiceIsRegistered(t *testing.T) {
	g := newGateway(t)
	served := map[string]grpc.ServiceInfo{}
	var doc struct {
		Tags []struct{ Name string } `json:"tags"`
	}
	if err := json.Unmarshal(gateway.OpenAPIDocumentForTest(g), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Tags) == 0 {
		t.Fatal("no services in the OpenAPI document")
	}
	for _, tag := range doc.Tags {
		served["accord.v1."+tag.Name] = grpc.ServiceInfo{}
	}
	if err := g.Register(served); err != nil {
		t.Fatalf("a service of the OpenAPI document has no handlers: %v", err)
	}
}
