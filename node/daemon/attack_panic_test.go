package daemon

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/accordfed/accord/federation/mtls"
	"github.com/accordfed/accord/federation/pki/pkitest"
	"github.com/accordfed/accord/node/config"
	"github.com/accordfed/accord/node/grpcserver"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// panicVictim is the person's name the panicking requests carry.
const panicVictim = "Oksana Panikivna"

// syncLog is a log sink shared by a node's goroutines.
type syncLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// panicker is a service whose handlers panic: with a value made of the
// request, with a runtime error, or in a stream.
type panicker struct{}

func (panicker) handle(kind string, req *accordv1.CreateCaseRequest) (any, error) {
	switch kind {
	case "Value":
		panic(fmt.Sprintf("cannot handle the case of %s", req.GetCase().GetPersons()[0].GetName()))
	case "Runtime":
		var m map[string]string
		m[req.GetCase().GetCaseId()] = "x" //nolint:staticcheck // the runtime error is the test
	}
	return nil, nil
}

func panicMethod(kind string) grpc.MethodDesc {
	return grpc.MethodDesc{MethodName: kind, Handler: func(srv any, ctx context.Context, dec func(any) error, ic grpc.UnaryServerInterceptor) (any, error) {
		in := new(accordv1.CreateCaseRequest)
		if err := dec(in); err != nil {
			return nil, err
		}
		h := func(_ context.Context, req any) (any, error) {
			return srv.(panicker).handle(kind, req.(*accordv1.CreateCaseRequest))
		}
		return ic(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: "/accord.test.Panic/" + kind}, h)
	}}
}

var panicService = grpc.ServiceDesc{
	ServiceName: "accord.test.Panic",
	HandlerType: (*any)(nil),
	Methods:     []grpc.MethodDesc{panicMethod("Value"), panicMethod("Runtime")},
	Streams: []grpc.StreamDesc{{StreamName: "Stream", ServerStreams: true, Handler: func(_ any, stream grpc.ServerStream) error {
		var req accordv1.CreateCaseRequest
		if err := stream.RecvMsg(&req); err != nil {
			return err
		}
		panic(&req) // the whole request as the panic's value
	}}},
}

// TestAttackHandlerPanic makes handlers of a real node panic on both of its
// listeners, with values made of the request: each call is answered
// Internal with nothing of the server's internals, the node keeps serving,
// the panics are counted, and the log says which method panicked and
// where, but holds nothing of the request.
func TestAttackHandlerPanic(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA")
	cfg, err := config.Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.TLS = fed.Node("UA", "ua-1")
	cfg.Listen, cfg.LocalAPI.Listen, cfg.MetricsListen = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.ShutdownTimeout = 5 * time.Second
	logs := &syncLog{}
	d, err := New(cfg, "test", slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []*grpcserver.Server{d.srv, d.local} {
		s.Policy.Allow("/accord.test.Panic/", grpcserver.AnyPrincipal)
		s.GRPC.RegisterService(&panicService, panicker{})
	}
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})

	dial := func(addr string, user mtls.Config) *grpc.ClientConn {
		src, err := mtls.NewSource(user, mtls.Hooks{}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(src.ClientCredentials(mtls.ExpectMember("UA"))))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cc.Close() })
		return cc
	}
	year := int32(1975)
	req := &accordv1.CreateCaseRequest{Case: &accordv1.Case{CaseId: "UA-2024-000001", Country: "UA",
		Persons: []*accordv1.Person{{Role: accordv1.PersonRole_PERSON_ROLE_WITNESS, Name: panicVictim, BirthYear: &year}}}}
	listeners := []struct {
		name string
		cc   *grpc.ClientConn
	}{
		{"federation", dial(d.Addr(), fed.Node("UA", "ua-2"))},
		{"local", dial(d.LocalAddr(), fed.User("UA", "analyst"))},
	}
	panics := 0
	for _, l := range listeners {
		for _, method := range []string{"Value", "Runtime", "Stream"} {
			t.Run(l.name+" "+method, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				var err error
				if method == "Stream" {
					var s grpc.ClientStream
					s, err = l.cc.NewStream(ctx, &panicService.Streams[0], "/accord.test.Panic/Stream")
					if err == nil {
						if err = s.SendMsg(req); err == nil {
							_ = s.CloseSend()
							err = s.RecvMsg(&accordv1.CreateCaseResponse{})
						}
					}
				} else {
					err = l.cc.Invoke(ctx, "/accord.test.Panic/"+method, req, &accordv1.CreateCaseResponse{})
				}
				panics++
				st := status.Convert(err)
				if st.Code() != codes.Internal || st.Message() != "internal error" {
					t.Errorf("panicking handler answered %s %q, want Internal \"internal error\"", st.Code(), st.Message())
				}
				// The node survives and serves the next call.
				if l.name == "federation" {
					_, err = accordv1.NewFederationServiceClient(l.cc).WhoAmI(ctx, &accordv1.WhoAmIRequest{})
				} else {
					_, err = accordv1.NewCaseServiceClient(l.cc).ListCases(ctx, &accordv1.ListCasesRequest{})
				}
				if err != nil {
					t.Fatalf("after a panic: %v", err)
				}
			})
		}
	}

	log := logs.String()
	if strings.Contains(log, panicVictim) {
		i := strings.Index(log, panicVictim)
		t.Errorf("the log holds the name the request carried: …%s…", log[max(0, i-200):min(len(log), i+50)])
	}
	for _, want := range []string{
		`"msg":"handler panic","component":"grpc","method":"/accord.test.Panic/Value","panic":"panic(string)"`,
		`"method":"/accord.test.Panic/Runtime","panic":"assignment to entry in nil map"`,
		`"method":"/accord.test.Panic/Stream","panic":"panic(*accordv1.CreateCaseRequest)"`,
		"attack_panic_test.go", // the stack says where
	} {
		if !strings.Contains(log, want) {
			t.Errorf("the log lacks %s", want)
		}
	}
	mfs, err := d.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	counted := -1.0
	for _, mf := range mfs {
		if mf.GetName() == "accord_grpc_server_panics_total" {
			counted = mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	if counted != float64(panics) {
		t.Errorf("accord_grpc_server_panics_total = %v, want %d", counted, panics)
	}
}
