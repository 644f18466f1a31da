package gateway

import (
	"context"
	"net/http"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
)

// errorMarshaler writes a status with all three of its fields, details
// included when empty: {"code": 3, "message": "...", "details": []}.
var errorMarshaler = &runtime.JSONPb{MarshalOptions: protojson.MarshalOptions{EmitUnpopulated: true, UseProtoNames: true}}

// writeError is the gateway's error handler: the gRPC status as JSON, with
// the HTTP status of its code (runtime.HTTPStatusFromCode: InvalidArgument
// 400, Unauthenticated 401, PermissionDenied 403, NotFound 404,
// AlreadyExists 409, ResourceExhausted 429, Unavailable 503, ...). The
// message is the server's own, naming the field at fault.
func writeError(ctx context.Context, mux *runtime.ServeMux, _ runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	runtime.DefaultHTTPErrorHandler(ctx, mux, errorMarshaler, w, r, err)
}

// writeStatus writes a status the gateway answers itself.
func writeStatus(w http.ResponseWriter, st *status.Status) {
	body, err := errorMarshaler.Marshal(st.Proto())
	if err != nil {
		http.Error(w, st.Message(), runtime.HTTPStatusFromCode(st.Code()))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(runtime.HTTPStatusFromCode(st.Code()))
	_, _ = w.Write(body)
}
