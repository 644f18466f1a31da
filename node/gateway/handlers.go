package gateway

import (
	"context"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"

	accordv1 "github.com/accordfed/accord/proto/accord/v1"
	gw "github.com/accordfed/accord/proto/gateway/accord/v1"
)

// handlers registers the generated HTTP handlers of each local-API service
// (proto/gateway/accord/v1, from proto/accord/v1/gateway.yaml). A new
// service of the local API needs its line here; Register refuses to start a
// gateway that would leave a service of the gRPC server unserved. New
// methods of a listed service need nothing: they are generated, with a
// rule of gateway.yaml or at POST /accord.v1.<Service>/<Method>.
var handlers = map[string]func(context.Context, *runtime.ServeMux, grpc.ClientConnInterface) error{
	accordv1.CaseService_ServiceDesc.ServiceName: func(ctx context.Context, mux *runtime.ServeMux, cc grpc.ClientConnInterface) error {
		return gw.RegisterCaseServiceHandlerClient(ctx, mux, accordv1.NewCaseServiceClient(cc))
	},
	accordv1.EvidenceService_ServiceDesc.ServiceName: func(ctx context.Context, mux *runtime.ServeMux, cc grpc.ClientConnInterface) error {
		return gw.RegisterEvidenceServiceHandlerClient(ctx, mux, accordv1.NewEvidenceServiceClient(cc))
	},
	accordv1.CoordinationService_ServiceDesc.ServiceName: func(ctx context.Context, mux *runtime.ServeMux, cc grpc.ClientConnInterface) error {
		return gw.RegisterCoordinationServiceHandlerClient(ctx, mux, accordv1.NewCoordinationServiceClient(cc))
	},
	accordv1.MembershipService_ServiceDesc.ServiceName: func(ctx context.Context, mux *runtime.ServeMux, cc grpc.ClientConnInterface) error {
		return gw.RegisterMembershipServiceHandlerClient(ctx, mux, accordv1.NewMembershipServiceClient(cc))
	},
	accordv1.FederationIndexService_ServiceDesc.ServiceName: func(ctx context.Context, mux *runtime.ServeMux, cc grpc.ClientConnInterface) error {
		return gw.RegisterFederationIndexServiceHandlerClient(ctx, mux, accordv1.NewFederationIndexServiceClient(cc))
	},
	accordv1.MatchingService_ServiceDesc.ServiceName: func(ctx context.Context, mux *runtime.ServeMux, cc grpc.ClientConnInterface) error {
		return gw.RegisterMatchingServiceHandlerClient(ctx, mux, accordv1.NewMatchingServiceClient(cc))
	},
	accordv1.PersonLookupService_ServiceDesc.ServiceName: func(ctx context.Context, mux *runtime.ServeMux, cc grpc.ClientConnInterface) error {
		return gw.RegisterPersonLookupServiceHandlerClient(ctx, mux, accordv1.NewPersonLookupServiceClient(cc))
	},
	accordv1.ClusterService_ServiceDesc.ServiceName: func(ctx context.Context, mux *runtime.ServeMux, cc grpc.ClientConnInterface) error {
		return gw.RegisterClusterServiceHandlerClient(ctx, mux, accordv1.NewClusterServiceClient(cc))
	},
	accordv1.NodeAdminService_ServiceDesc.ServiceName: func(ctx context.Context, mux *runtime.ServeMux, cc grpc.ClientConnInterface) error {
		return gw.RegisterNodeAdminServiceHandlerClient(ctx, mux, accordv1.NewNodeAdminServiceClient(cc))
	},
	accordv1.AuditService_ServiceDesc.ServiceName: func(ctx context.Context, mux *runtime.ServeMux, cc grpc.ClientConnInterface) error {
		return gw.RegisterAuditServiceHandlerClient(ctx, mux, accordv1.NewAuditServiceClient(cc))
	},
}
