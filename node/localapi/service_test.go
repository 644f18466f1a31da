package localapi_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/accordfed/accord/federation/mtls"
	"github.com/accordfed/accord/federation/pki/pkitest"
	"github.com/accordfed/accord/node/config"
	"github.com/accordfed/accord/node/daemon"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

type env struct {
	fed  *pkitest.Federation
	node *daemon.Daemon
}

func start(t *testing.T) *env {
	t.Helper()
	fed := pkitest.NewFederation(t, "accord.test", "UA", "PL")
	cfg, err := config.Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listen, cfg.MetricsListen, cfg.TLS, cfg.DataDir = "127.0.0.1:0", "", fed.Node("UA", "ua-1"), t.TempDir()
	cfg.LocalAPI.Listen = "127.0.0.1:0"
	cfg.LocalAPI.Admins = []string{"u-admin"}
	d, err := daemon.New(cfg, "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return &env{fed: fed, node: d}
}

type client struct {
	cases    accordv1.CaseServiceClient
	evidence accordv1.EvidenceServiceClient
}

func (e *env) client(t *testing.T, cfg mtls.Config) client {
	t.Helper()
	src, err := mtls.NewSource(cfg, mtls.Hooks{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	cc, err := grpc.NewClient(e.node.LocalAddr(), grpc.WithTransportCredentials(src.ClientCredentials(mtls.ExpectMember("UA"))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return client{cases: accordv1.NewCaseServiceClient(cc), evidence: accordv1.NewEvidenceServiceClient(cc)}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

const sha = "bf8531ef45ce01a2afca559a2b90d8de6494bfe834d211e2bafb857cc2747988"

func line(id string) string {
	return fmt.Sprintf(`{"case_id": %q, "country": "UA", "title": "Shelling of a market in Kherson", "status": "investigation", "crime_codes": ["RS-8.2.b.iv"], "incidents": [{"start": "2022-11-20T09:00:00+02:00", "precision": "hour", "place": "Kherson", "lat": 46.635, "lon": 32.616}], "persons": [{"role": "witness", "name": "Taras Shevchuk"}], "evidence": [{"id": "%s-E001", "sha256": %q, "media_type": "video/mp4"}]}`, id, id, sha)
}

func importLines(t *testing.T, c client, skipInvalid bool, lines ...string) (*accordv1.ImportResult, error) {
	t.Helper()
	stream, err := c.cases.ImportCases(ctx(t))
	if err != nil {
		return nil, err
	}
	if err := stream.Send(&accordv1.ImportCasesRequest{Body: &accordv1.ImportCasesRequest_Options{Options: &accordv1.ImportOptions{SkipInvalid: skipInvalid, Source: "test"}}}); err != nil {
		return nil, err
	}
	chunk := &accordv1.ImportChunk{}
	for i, l := range lines {
		chunk.Lines = append(chunk.Lines, &accordv1.ImportLine{Number: int64(i + 1), Json: []byte(l)})
	}
	if err := stream.Send(&accordv1.ImportCasesRequest{Body: &accordv1.ImportCasesRequest_Chunk{Chunk: chunk}}); err != nil {
		return nil, err
	}
	if err := stream.CloseSend(); err != nil {
		return nil, err
	}
	for {
		resp, err := stream.Recv()
		if err != nil {
			return nil, err
		}
		if r := resp.GetResult(); r != nil {
			return r, nil
		}
	}
}

func TestOnlyOwnUsersMayUseTheLocalAPI(t *testing.T) {
	e := start(t)
	cases := []struct {
		name string
		cfg  mtls.Config
		code codes.Code
	}{
		{"own analyst", e.fed.User("UA", "u-1"), codes.NotFound},
		{"own node", e.fed.Node("UA", "ua-2"), codes.PermissionDenied},
		{"other member's user", e.fed.User("PL", "u-1"), codes.PermissionDenied},
		{"other member's node", e.fed.Node("PL", "pl-1"), codes.PermissionDenied},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.client(t, c.cfg).cases.GetCase(ctx(t), &accordv1.GetCaseRequest{CaseId: "UA-2022-000001"})
			if status.Code(err) != c.code {
				t.Fatalf("GetCase: %v, want %v", err, c.code)
			}
		})
	}
}

func TestCasesThroughTheAPI(t *testing.T) {
	e := start(t)
	analyst := e.client(t, e.fed.User("UA", "u-1"))
	admin := e.client(t, e.fed.User("UA", "u-admin"))

	res, err := importLines(t, analyst, false, line("UA-2022-000001"), line("UA-2022-000002"))
	if err != nil || res.GetCreated() != 2 || !res.GetWritten() {
		t.Fatalf("import: %v %v", res, err)
	}
	// An invalid line: nothing imported, every error named.
	res, err = importLines(t, analyst, false, line("UA-2022-000003"), `{"case_id": "UA-2022-000004", "country": "UA", "incidents": [{"start": "2022-11-20", "place": "Kherson"}]}`)
	if err != nil || res.GetWritten() || res.GetInvalid() != 1 || len(res.GetErrors()) == 0 {
		t.Fatalf("invalid import: %v %v", res, err)
	}
	if le := res.GetErrors()[0]; le.GetLine() != 2 || le.GetField() != "incidents[0].start" {
		t.Errorf("line error = %v", le)
	}
	if _, err := analyst.cases.GetCase(ctx(t), &accordv1.GetCaseRequest{CaseId: "UA-2022-000003"}); status.Code(err) != codes.NotFound {
		t.Errorf("valid line of a refused import was stored: %v", err)
	}
	// With skip_invalid the valid line goes in.
	res, err = importLines(t, analyst, true, line("UA-2022-000003"), `{"case_id": "UA-2022-000004"}`)
	if err != nil || res.GetCreated() != 1 || res.GetInvalid() != 1 {
		t.Fatalf("skip-invalid import: %v %v", res, err)
	}

	got, err := analyst.cases.GetCase(ctx(t), &accordv1.GetCaseRequest{CaseId: "UA-2022-000001"})
	if err != nil || got.GetCase().GetVersion() != 1 || got.GetCase().GetUpdateBy() != "spiffe://accord.test/member/UA/user/u-1" {
		t.Fatalf("get: %v %v", got, err)
	}

	// Bad input: InvalidArgument naming the field, nothing changed.
	bad := got.GetCase()
	bad.Incidents[0].Lat = ptr(123.0)
	_, err = analyst.cases.UpdateCase(ctx(t), &accordv1.UpdateCaseRequest{Case: bad})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "incidents[0].lat") {
		t.Fatalf("bad update: %v", err)
	}
	after, _ := analyst.cases.GetCase(ctx(t), &accordv1.GetCaseRequest{CaseId: "UA-2022-000001"})
	if after.GetCase().GetVersion() != 1 {
		t.Errorf("refused update changed the version")
	}
	if _, err := analyst.cases.ListCases(ctx(t), &accordv1.ListCasesRequest{PageSize: -1}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("negative page size: %v", err)
	}
	if _, err := analyst.cases.ListCases(ctx(t), &accordv1.ListCasesRequest{PageToken: "nonsense"}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("bad token: %v", err)
	}
	list, err := analyst.cases.ListCases(ctx(t), &accordv1.ListCasesRequest{PageSize: 2, Filter: &accordv1.CaseFilter{Place: "kherson"}})
	if err != nil || len(list.GetCases()) != 2 || list.GetNextPageToken() == "" {
		t.Fatalf("list: %v %v", list, err)
	}

	// Deleting: analysts may not; admins must give a reason.
	if _, err := analyst.cases.DeleteCase(ctx(t), &accordv1.DeleteCaseRequest{CaseId: "UA-2022-000002", Reason: "duplicate"}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("analyst delete: %v", err)
	}
	if _, err := admin.cases.DeleteCase(ctx(t), &accordv1.DeleteCaseRequest{CaseId: "UA-2022-000002"}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("delete without reason: %v", err)
	}
	if _, err := admin.cases.DeleteCase(ctx(t), &accordv1.DeleteCaseRequest{CaseId: "UA-2022-000002", Reason: "duplicate of UA-2022-000001"}); err != nil {
		t.Errorf("admin delete: %v", err)
	}

	// Export streams what is left, in case-id order.
	stream, err := analyst.cases.ExportCases(ctx(t), &accordv1.ExportCasesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range resp.GetCases() {
			ids = append(ids, c.GetCaseId())
		}
	}
	if strings.Join(ids, ",") != "UA-2022-000001,UA-2022-000003" {
		t.Errorf("export: %v", ids)
	}
}

func TestEvidenceAndCustodyThroughTheAPI(t *testing.T) {
	e := start(t)
	c := e.client(t, e.fed.User("UA", "u-1"))
	if _, err := importLines(t, c, false, line("UA-2022-000001")); err != nil {
		t.Fatal(err)
	}
	found, err := c.evidence.FindEvidenceByHash(ctx(t), &accordv1.FindEvidenceByHashRequest{Sha256: sha})
	if err != nil || len(found.GetItems()) != 1 || found.GetItems()[0].GetId() != "UA-2022-000001-E001" {
		t.Fatalf("find: %v %v", found, err)
	}
	for _, req := range []*accordv1.RegisterEvidenceRequest{
		{CaseId: "UA-2022-000001", Sha256: "ABC", Location: "/vault/x"},
		{CaseId: "UA-2022-000001", Sha256: strings.Repeat("a", 64)},
		{CaseId: "UA-2022-000001", Sha256: strings.Repeat("a", 64), Location: "/vault/x", MediaType: "video"},
		{CaseId: "UA-2022-000404", Sha256: strings.Repeat("a", 64), Location: "/vault/x"},
	} {
		if _, err := c.evidence.RegisterEvidence(ctx(t), req); status.Code(err) != codes.InvalidArgument && status.Code(err) != codes.NotFound {
			t.Errorf("RegisterEvidence(%v): %v", req, err)
		}
	}
	reg, err := c.evidence.RegisterEvidence(ctx(t), &accordv1.RegisterEvidenceRequest{
		CaseId: "UA-2022-000001", Sha256: strings.Repeat("a", 64), Location: "/vault/2022/drone.mp4", SizeBytes: 1 << 30, MediaType: "video/mp4",
	})
	if err != nil || reg.GetItem().GetId() != "UA-2022-000001-E002" || reg.GetRegistered().GetSeq() != 1 {
		t.Fatalf("register: %v %v", reg, err)
	}
	if _, err := c.evidence.AppendCustodyEvent(ctx(t), &accordv1.AppendCustodyEventRequest{EvidenceId: reg.GetItem().GetId(), Action: accordv1.CustodyAction_CUSTODY_ACTION_REGISTERED}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("second registered event: %v", err)
	}
	if _, err := c.evidence.AppendCustodyEvent(ctx(t), &accordv1.AppendCustodyEventRequest{EvidenceId: reg.GetItem().GetId(), Action: accordv1.CustodyAction_CUSTODY_ACTION_TRANSFERRED, Details: "to the lab"}); err != nil {
		t.Fatal(err)
	}
	chain, err := c.evidence.GetCustodyChain(ctx(t), &accordv1.GetCustodyChainRequest{EvidenceId: reg.GetItem().GetId()})
	if err != nil || len(chain.GetEvents()) != 2 || chain.GetEvents()[1].GetActor() != "spiffe://accord.test/member/UA/user/u-1" {
		t.Fatalf("chain: %v %v", chain, err)
	}
	if chain.GetSeals()[0].GetSigner() != "spiffe://accord.test/member/UA/node/ua-1" {
		t.Errorf("sealed by %q", chain.GetSeals()[0].GetSigner())
	}
	v, err := c.evidence.VerifyCustody(ctx(t), &accordv1.VerifyCustodyRequest{})
	if err != nil || v.GetChains() != 2 || v.GetEvents() != 3 || len(v.GetBreaks()) != 0 {
		t.Fatalf("verify: %v %v", v, err)
	}
}

func ptr[T any](v T) *T { return &v }
