package daemon_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	"github.com/accordfed/accord/federation/pki/pkitest"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// TestAttackOtherMembersUsersAndDefaultSensitivity: a user of another
// member (PL's analyst) gets nothing from UA's node, not even who it is or
// which services it runs: WhoAmI, health and the service listing
// (reflection) on the federation listener, and health and the listing on
// the local API, are PermissionDenied before any handler; member nodes and
// UA's own users are still answered. And a case created through the API or
// imported without a sensitivity is national: it never reaches PL, and the
// import report says how many cases took that default.
func TestAttackOtherMembersUsersAndDefaultSensitivity(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA", "PL")
	nodes, _ := startFederation(t, fed, "UA", "PL")
	ua, pl := nodes[0], nodes[1]
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	listServices := func(cc *grpc.ClientConn) error {
		s, err := reflectionpb.NewServerReflectionClient(cc).ServerReflectionInfo(ctx)
		if err != nil {
			return err
		}
		// A stream the server refused at once makes Send answer io.EOF; the
		// status comes with Recv.
		if err := s.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		resp, err := s.Recv()
		if err == nil && len(resp.GetListServicesResponse().GetService()) == 0 {
			return fmt.Errorf("no services listed: %v", resp)
		}
		return err
	}
	whoAmI := func(cc *grpc.ClientConn) error {
		_, err := accordv1.NewFederationServiceClient(cc).WhoAmI(ctx, &accordv1.WhoAmIRequest{})
		return err
	}
	health := func(cc *grpc.ClientConn) error {
		_, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{})
		return err
	}
	plUserFed := dialWith(t, ua.d.Addr(), honestCreds(t, fed.User("PL", "analyst"), "UA"))
	plUserLocal := dialWith(t, ua.d.LocalAddr(), honestCreds(t, fed.User("PL", "analyst"), "UA"))
	plNode := dialWith(t, ua.d.Addr(), honestCreds(t, fed.Node("PL", "pl-1"), "UA"))
	uaUserFed := dialWith(t, ua.d.Addr(), honestCreds(t, fed.User("UA", "analyst"), "UA"))
	uaUserLocal := dialWith(t, ua.d.LocalAddr(), honestCreds(t, fed.User("UA", "analyst"), "UA"))
	for _, c := range []struct {
		name string
		call func(*grpc.ClientConn) error
		cc   *grpc.ClientConn
		want codes.Code
	}{
		{"PL's user: WhoAmI on UA's federation listener", whoAmI, plUserFed, codes.PermissionDenied},
		{"PL's user: service listing on UA's federation listener", listServices, plUserFed, codes.PermissionDenied},
		{"PL's user: health on UA's federation listener", health, plUserFed, codes.PermissionDenied},
		{"PL's user: service listing on UA's local API", listServices, plUserLocal, codes.PermissionDenied},
		{"PL's user: health on UA's local API", health, plUserLocal, codes.PermissionDenied},
		{"PL's node: WhoAmI (peer check)", whoAmI, plNode, codes.OK},
		{"PL's node: service listing", listServices, plNode, codes.OK},
		{"UA's user: WhoAmI on its own node's federation listener", whoAmI, uaUserFed, codes.OK},
		{"UA's user: service listing on its local API", listServices, uaUserLocal, codes.OK},
		{"UA's user: health on its local API", health, uaUserLocal, codes.OK},
	} {
		if err := c.call(c.cc); status.Code(err) != c.want {
			t.Errorf("%s: %v, want %s", c.name, err, c.want)
		}
	}

	// Default sensitivity: national, by the API and by import.
	cases := accordv1.NewCaseServiceClient(uaUserLocal)
	noSens := &accordv1.Case{CaseId: "UA-2022-000001", Country: "UA", Title: "Shelling",
		Incidents: []*accordv1.Incident{{Start: "2022-03-01T10:00:00Z", Place: "Irpin"}}}
	created, err := cases.CreateCase(ctx, &accordv1.CreateCaseRequest{Case: noSens})
	if err != nil {
		t.Fatal(err)
	}
	if s := created.GetCase().GetSensitivity(); s != accordv1.Sensitivity_SENSITIVITY_NATIONAL {
		t.Errorf("a case created without a sensitivity is %s, want national", s)
	}
	res, err := importLines(ctx, cases,
		`{"case_id":"UA-2022-000002","country":"UA","title":"Looting","incidents":[{"start":"2022-03-01T10:00:00Z","place":"Bucha"}]}`,
		`{"case_id":"UA-2022-000003","country":"UA","title":"Marker","sensitivity":"federation","incidents":[{"start":"2022-03-01T10:00:00Z","place":"Bucha"}]}`)
	if err != nil || !res.GetWritten() {
		t.Fatalf("import: %v %v", res, err)
	}
	if res.GetDefaultNational() != 1 {
		t.Errorf("import report: %d cases national by default, want 1", res.GetDefaultNational())
	}
	// The federation case arrives; the two without a sensitivity, written
	// before it, never do.
	waitIndex(t, pl.d.Store(), "UA", has("UA-2022-000003"))
	if held := fedIndex(t, pl.d.Store(), "UA"); len(held) != 1 {
		t.Errorf("PL holds %d cases of UA, want only the federation one", len(held))
	}
}
