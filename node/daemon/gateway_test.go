package daemon_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/accordfed/accord/federation/mtls"
	"github.com/accordfed/accord/federation/pki/pkitest"
	"github.com/accordfed/accord/federation/raftnet/raftnettest"
	"github.com/accordfed/accord/node/config"
	"github.com/accordfed/accord/node/daemon"
	"github.com/accordfed/accord/node/daemon/daemontest"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// gatewayClient is an office's own system calling its node's JSON gateway
// as any HTTPS client would: net/http, the user's client certificate, the
// member's CA to verify the node, nothing of Accord's Go packages on the
// wire.
type gatewayClient struct {
	t    testing.TB
	base string
	http *http.Client
}

// newGatewayClient returns a client of d's gateway with user's certificate
// (no certificate when user is the zero Config), speaking HTTP/2, or only
// HTTP/1.1 when http1.
func newGatewayClient(t testing.TB, fed *pkitest.Federation, d *daemon.Daemon, member string, user mtls.Config, http1 bool) *gatewayClient {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AddCert(fed.CAs[member].Cert)
	tc := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	if user.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(user.CertFile, user.KeyFile)
		if err != nil {
			t.Fatal(err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	tr := &http.Transport{TLSClientConfig: tc, ForceAttemptHTTP2: !http1}
	if http1 {
		tc.NextProtos = []string{"http/1.1"}
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &gatewayClient{t: t, base: "https://" + d.GatewayAddr(), http: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

// do sends a request; body is nil, a string or a proto message (sent as
// its JSON).
func (c *gatewayClient) do(method, path string, body any) (*http.Response, error) {
	c.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case proto.Message:
		data, err := protojson.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		r = bytes.NewReader(data)
	default:
		c.t.Fatalf("body of type %T", body)
	}
	req, err := http.NewRequest(method, c.base+path, r)
	if err != nil {
		c.t.Fatal(err)
	}
	if r != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return c.http.Do(req)
}

// call sends a request, wants the HTTP status want and returns the body.
func (c *gatewayClient) call(want int, method, path string, body any) []byte {
	c.t.Helper()
	resp, err := c.do(method, path, body)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	if resp.StatusCode != want {
		c.t.Fatalf("%s %s: HTTP %d, want %d: %s", method, path, resp.StatusCode, want, data)
	}
	return data
}

// try calls and decodes an answer of 200 into out; any other answer is an
// error (for polling until another node has caught up).
func (c *gatewayClient) try(method, path string, body any, out proto.Message) error {
	resp, err := c.do(method, path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: HTTP %d: %s", method, path, resp.StatusCode, data)
	}
	return protojson.Unmarshal(data, out)
}

// get calls and decodes the answer into out, a proto message.
func (c *gatewayClient) get(method, path string, body any, out proto.Message) {
	c.t.Helper()
	if err := protojson.Unmarshal(c.call(http.StatusOK, method, path, body), out); err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
}

// gatewayError is the JSON body of an error answer.
type gatewayError struct {
	Code    *int              `json:"code"`
	Message *string           `json:"message"`
	Details []json.RawMessage `json:"details"`
}

// fail calls, wants the HTTP status want and an error body {code, message,
// details} whose message contains every one of words.
func (c *gatewayClient) fail(want int, method, path string, body any, words ...string) gatewayError {
	c.t.Helper()
	data := c.call(want, method, path, body)
	var e gatewayError
	if err := json.Unmarshal(data, &e); err != nil || e.Code == nil || e.Message == nil || e.Details == nil {
		c.t.Fatalf("%s %s: error body %s: want {code, message, details} (%v)", method, path, data, err)
	}
	for _, w := range words {
		if !strings.Contains(*e.Message, w) {
			c.t.Errorf("%s %s: message %q does not name %q", method, path, *e.Message, w)
		}
	}
	return e
}

// importCases sends lines of the case interchange format to
// POST /v1/cases:import (newline-delimited request messages: the options,
// then chunks of lines) and returns the import's final result.
func (c *gatewayClient) importCases(lines ...string) *accordv1.ImportResult {
	c.t.Helper()
	var body bytes.Buffer
	msgs := []*accordv1.ImportCasesRequest{{Body: &accordv1.ImportCasesRequest_Options{Options: &accordv1.ImportOptions{Source: "gateway test"}}}}
	chunk := &accordv1.ImportChunk{}
	for i, l := range lines {
		chunk.Lines = append(chunk.Lines, &accordv1.ImportLine{Number: int64(i + 1), Json: []byte(l)})
	}
	msgs = append(msgs, &accordv1.ImportCasesRequest{Body: &accordv1.ImportCasesRequest_Chunk{Chunk: chunk}})
	for _, m := range msgs {
		data, err := protojson.Marshal(m)
		if err != nil {
			c.t.Fatal(err)
		}
		body.Write(data)
		body.WriteByte('\n')
	}
	data := c.call(http.StatusOK, http.MethodPost, "/v1/cases:import", body.String())
	// The answer is newline-delimited too: {"result": ImportCasesResponse}
	// per message, or {"error": status} when the stream failed.
	var final *accordv1.ImportResult
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		var frame struct {
			Result json.RawMessage `json:"result"`
			Error  json.RawMessage `json:"error"`
		}
		if err := json.Unmarshal(sc.Bytes(), &frame); err != nil {
			c.t.Fatalf("import answer %s: %v", sc.Bytes(), err)
		}
		if frame.Error != nil {
			c.t.Fatalf("import failed: %s", frame.Error)
		}
		var resp accordv1.ImportCasesResponse
		if err := protojson.Unmarshal(frame.Result, &resp); err != nil {
			c.t.Fatalf("import answer %s: %v", frame.Result, err)
		}
		if r := resp.GetResult(); r != nil {
			final = r
		}
	}
	if final == nil {
		c.t.Fatalf("import: no result in %s", data)
	}
	return final
}

func gatewayCaseLine(n int) string {
	return fmt.Sprintf(`{"case_id": "UA-2022-%06d", "country": "UA", "title": "Shelling of a market in Kherson, %d", "status": "investigation", "crime_codes": ["RS-8.2.b.iv"], "incidents": [{"start": "2022-11-20T09:00:00+02:00", "precision": "hour", "place": "Kherson", "lat": 46.635, "lon": 32.616}], "persons": [{"role": "witness", "name": "Taras Shevchuk"}]}`, n, n)
}

// withGateway turns on every node's JSON gateway.
func withGateway(_ string, cfg *config.Config) { cfg.LocalAPI.GatewayListen = "127.0.0.1:0" }

// TestGatewayServesTheLocalAPI drives what an office's own case system does
// over plain HTTPS with a user's client certificate: import, list a page at
// a time, read a case, fetch the API's description; and what it must not
// be able to do. Two members, so that registry flows (a JIT, a match
// answer) can be added here with the same clients.
func TestGatewayServesTheLocalAPI(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA", "PL")
	nodes, _ := daemontest.StartFederationConfigured(t, fed, nil, withGateway, "UA", "PL")
	ua := nodes[0].D
	analyst := newGatewayClient(t, fed, ua, "UA", fed.User("UA", "analyst"), false)
	analyst1 := newGatewayClient(t, fed, ua, "UA", fed.User("UA", "analyst"), true)
	admin := newGatewayClient(t, fed, ua, "UA", fed.User("UA", "admin"), false)

	// Import 25 cases in two imports, over HTTP/2 and over HTTP/1.1.
	var lines []string
	for n := 1; n <= 25; n++ {
		lines = append(lines, gatewayCaseLine(n))
	}
	if r := analyst.importCases(lines[:15]...); r.GetCreated() != 15 || !r.GetWritten() || r.GetInvalid() != 0 {
		t.Fatalf("import over HTTP/2: %v", r)
	}
	if r := analyst1.importCases(lines[15:]...); r.GetCreated() != 10 || !r.GetWritten() {
		t.Fatalf("import over HTTP/1.1: %v", r)
	}

	// List a page of 10 at a time, in case-id order.
	var ids []string
	token := ""
	for pages := 0; ; pages++ {
		if pages > 3 {
			t.Fatalf("more than 3 pages of 10 for 25 cases: %v", ids)
		}
		var page accordv1.ListCasesResponse
		analyst.get(http.MethodGet, "/v1/cases?page_size=10&page_token="+token, nil, &page)
		if n := len(page.GetCases()); n != 10 && page.GetNextPageToken() != "" {
			t.Fatalf("page %d: %d cases before the last page", pages, n)
		}
		for _, c := range page.GetCases() {
			ids = append(ids, c.GetCaseId())
		}
		if token = page.GetNextPageToken(); token == "" {
			break
		}
	}
	if len(ids) != 25 || ids[0] != "UA-2022-000001" || ids[24] != "UA-2022-000025" {
		t.Fatalf("listed %d cases: %v", len(ids), ids)
	}
	// The JSON names work in the query too, as do filters.
	var filtered accordv1.ListCasesResponse
	analyst1.get(http.MethodGet, "/v1/cases?pageSize=2&filter.titleContains=Kherson%2C%2012", nil, &filtered)
	if len(filtered.GetCases()) != 1 || filtered.GetCases()[0].GetCaseId() != "UA-2022-000012" {
		t.Fatalf("filtered list: %v", filtered.GetCases())
	}

	// Place search across scripts, near and title words, as query
	// parameters; one shared case of another member by its path.
	var searched accordv1.ListCasesResponse
	analyst.get(http.MethodGet, "/v1/cases?page_size=5&filter.place=%D0%A5%D0%B5%D1%80%D1%81%D0%BE%D0%BD&filter.text=market&filter.near_lat=46.64&filter.near_lon=32.62&filter.radius_km=20", nil, &searched)
	if len(searched.GetCases()) != 5 || searched.GetNextPageToken() == "" {
		t.Fatalf("searched list: %d cases, token %q", len(searched.GetCases()), searched.GetNextPageToken())
	}
	analyst.fail(http.StatusBadRequest, http.MethodGet, "/v1/cases?filter.near_lat=46.64&filter.near_lon=32.62", nil, "filter.radius_km")
	// The same search's map and timeline: every matching case counted.
	var agg accordv1.AggregateCasesResponse
	analyst.get(http.MethodGet, "/v1/cases:aggregate?filter.place=%D0%A5%D0%B5%D1%80%D1%81%D0%BE%D0%BD&filter.text=market&cell_deg=0.5&bounds.south=44&bounds.west=22&bounds.north=53&bounds.east=41", nil, &agg)
	if agg.GetCaseCount() <= 5 || len(agg.GetCells()) == 0 || len(agg.GetWeeks()) == 0 {
		t.Errorf("aggregate: %d cases, %d cells, %d weeks", agg.GetCaseCount(), len(agg.GetCells()), len(agg.GetWeeks()))
	}
	analyst.fail(http.StatusBadRequest, http.MethodGet, "/v1/cases:aggregate?cell_deg=50", nil, "cell_deg")
	var fagg accordv1.AggregateFederationCasesResponse
	analyst.get(http.MethodGet, "/v1/federationCases:aggregate?place=Kherson", nil, &fagg)
	analyst.fail(http.StatusBadRequest, http.MethodGet, "/v1/federationCases:aggregate?bounds.south=10&bounds.north=5", nil, "bounds.north")
	analyst.fail(http.StatusNotFound, http.MethodGet, "/v1/federationCases/PL/PL-2022-000001", nil, "PL-2022-000001")
	analyst.fail(http.StatusBadRequest, http.MethodGet, "/v1/federationCases/pl/PL-2022-000001", nil, "member")

	// One case, recorded as the analyst's doing: the gRPC server saw the
	// HTTP client's certificate.
	var got accordv1.GetCaseResponse
	analyst.get(http.MethodGet, "/v1/cases/UA-2022-000003", nil, &got)
	if c := got.GetCase(); c.GetTitle() != "Shelling of a market in Kherson, 3" || !strings.HasSuffix(c.GetUpdateBy(), "/user/analyst") {
		t.Fatalf("case: %v", c)
	}
	analyst.fail(http.StatusNotFound, http.MethodGet, "/v1/cases/UA-2022-999999", nil, "UA-2022-999999")

	// Create and update, with the body as the case.
	var created accordv1.CreateCaseResponse
	analyst.get(http.MethodPost, "/v1/cases", `{"caseId": "UA-2022-000100", "country": "UA", "title": "Created over HTTPS", "incidents": [{"start": "2022-11-20T09:00:00+02:00", "place": "Kherson"}]}`, &created)
	if created.GetCase().GetVersion() != 1 {
		t.Fatalf("created: %v", &created)
	}
	var updated accordv1.UpdateCaseResponse
	analyst1.get(http.MethodPatch, "/v1/cases/UA-2022-000100?expected_version=1", `{"country": "UA", "title": "Updated over HTTPS", "incidents": [{"start": "2022-11-20T09:00:00+02:00", "place": "Kherson"}]}`, &updated)
	if updated.GetCase().GetVersion() != 2 || updated.GetCase().GetTitle() != "Updated over HTTPS" {
		t.Fatalf("updated: %v", &updated)
	}

	// The same authorisation as gRPC, for the caller the certificate names:
	// an analyst may not delete, an admin may.
	analyst.fail(http.StatusForbidden, http.MethodDelete, "/v1/cases/UA-2022-000100?reason=duplicate", nil, "admin role", "analyst")
	admin.call(http.StatusOK, http.MethodDelete, "/v1/cases/UA-2022-000100?reason=duplicate", nil)

	// Bad input: 400, the field named, nothing changed.
	analyst.fail(http.StatusBadRequest, http.MethodPatch, "/v1/cases/UA-2022-000003",
		`{"country": "UA", "incidents": [{"start": "2022-11-20T09:00:00+02:00", "place": "Kherson", "lat": 123}]}`, "incidents[0].lat")
	analyst.fail(http.StatusBadRequest, http.MethodPost, "/v1/cases", `{"caseId": "UA-2022-000101", "colour": "red"}`, "colour")
	analyst.fail(http.StatusBadRequest, http.MethodGet, "/v1/cases?page_size=-1", nil, "page_size")
	analyst.get(http.MethodGet, "/v1/cases/UA-2022-000003", nil, &got)
	if got.GetCase().GetVersion() != 1 {
		t.Errorf("a refused update changed case UA-2022-000003: version %d", got.GetCase().GetVersion())
	}

	// The registry's typed resources: UA creates a team inviting PL, PL
	// accepts through its own office's gateway; a match decision is
	// answered by both. A method without an HTTP rule is served at its
	// gRPC name.
	var st accordv1.RegistryStatusResponse
	analyst.get(http.MethodGet, "/v1/registry/status", nil, &st)
	if !st.GetBootstrapped() {
		t.Errorf("registry status over the gateway: %v", &st)
	}
	// The matcher's model (MatchingService).
	var model accordv1.GetMatchingModelResponse
	analyst.get(http.MethodGet, "/v1/matching/model", nil, &model)
	if len(model.GetModel().GetComparisons()) == 0 || model.GetModel().GetPrior() <= 0 {
		t.Errorf("matching model over the gateway: %v", &model)
	}
	// The node's audit log (AuditService): verified, newest first; a bad
	// page size named.
	var log accordv1.ListAuditEntriesResponse
	analyst.get(http.MethodGet, "/v1/auditEntries?page_size=5", nil, &log)
	if !log.GetVerification().GetVerified() || len(log.GetEntries()) > 5 {
		t.Errorf("the audit log over the gateway: %v", &log)
	}
	analyst.fail(http.StatusBadRequest, http.MethodGet, "/v1/auditEntries?page_size=5000", nil, "page_size")
	plAnalyst := newGatewayClient(t, fed, nodes[1].D, "PL", fed.User("PL", "analyst"), false)
	var jit accordv1.CreateJitResponse
	analyst.get(http.MethodPost, "/v1/jits", `{"jit": {"display_name": "Kherson market 2022", "legal_basis": "EU JIT model agreement"}, "invite_members": ["PL"], "request_id": "gw-jit-1"}`, &jit)
	name := jit.GetJit().GetName()
	if !strings.HasPrefix(name, "jits/") {
		t.Fatalf("created team: %v", &jit)
	}
	analyst.fail(http.StatusBadRequest, http.MethodPost, "/v1/jits", `{"jit": {"display_name": "x", "legal_basis": "y"}}`, "request_id")
	var accepted accordv1.AcceptJitInvitationResponse
	raftnettest.WaitFor(t, 30*time.Second, func() error {
		return plAnalyst.try(http.MethodPost, "/v1/"+name+"/memberships/PL:accept", `{"request_id": "gw-accept-1"}`, &accepted)
	})
	var team accordv1.GetJitResponse
	raftnettest.WaitFor(t, 30*time.Second, func() error {
		if err := analyst.try(http.MethodGet, "/v1/"+name, nil, &team); err != nil {
			return err
		}
		for _, m := range team.GetJit().GetMemberships() {
			if m.GetMember() == "PL" && m.GetState() == accordv1.JitMembershipState_JIT_MEMBERSHIP_STATE_ACCEPTED {
				return nil
			}
		}
		return fmt.Errorf("PL has not accepted yet: %v", &team)
	})
	var jits accordv1.ListJitsResponse
	plAnalyst.get(http.MethodGet, "/v1/jits?page_size=10", nil, &jits)
	if len(jits.GetJits()) != 1 || jits.GetJits()[0].GetName() != name {
		t.Errorf("PL's teams over the gateway: %v", &jits)
	}
	var match accordv1.CreateMatchDecisionResponse
	analyst.get(http.MethodPost, "/accord.v1.CoordinationService/CreateMatchDecision",
		`{"match_decision": {"cases": [{"member": "UA", "case_id": "UA-2022-000001"}, {"member": "PL", "case_id": "PL-2023-7"}], "score": 0.9, "reasons": ["same place and day"]}, "request_id": "gw-match-1"}`, &match)
	mname := match.GetMatchDecision().GetName()
	// Side by side (UA's own case is shared; PL's is not held here), and
	// a dry run of an answer by rule.
	var compared accordv1.CompareMatchDecisionResponse
	analyst.get(http.MethodGet, "/v1/"+mname+":compare", nil, &compared)
	if len(compared.GetCases()) != 2 || compared.GetCases()[0].GetHeld() || compared.GetCases()[0].GetCaseRef().GetMember() != "PL" {
		t.Errorf("compare over the gateway: %v", &compared)
	}
	var dry accordv1.DecideMatchesResponse
	analyst.get(http.MethodPost, "/v1/matchDecisions:decideByRule", `{"rule": {"member": "PL"}, "answer": "ANSWER_YES", "validate_only": true}`, &dry)
	if len(dry.GetAnswers()) != 1 || dry.GetAnswers()[0].GetName() != mname || dry.GetSelection() == "" {
		t.Errorf("answers by rule, dry run, over the gateway: %v", &dry)
	}
	analyst.fail(http.StatusBadRequest, http.MethodPost, "/v1/matchDecisions:decideByRule", `{"rule": {"min_score": 3}, "answer": "ANSWER_YES", "validate_only": true}`, "rule.min_score")
	var decided accordv1.DecideMatchResponse
	analyst.get(http.MethodPost, "/v1/"+mname+":decide", `{"answer": "ANSWER_YES", "request_id": "gw-decide-ua"}`, &decided)
	raftnettest.WaitFor(t, 30*time.Second, func() error {
		return plAnalyst.try(http.MethodPost, "/v1/"+mname+":decide", `{"answer": "ANSWER_YES", "request_id": "gw-decide-pl"}`, &decided)
	})
	if decided.GetMatchDecision().GetState() != accordv1.MatchDecisionState_MATCH_DECISION_STATE_CONFIRMED {
		t.Errorf("a match both offices confirmed over the gateway: %v", &decided)
	}
	plAnalyst.fail(http.StatusBadRequest, http.MethodPost, "/v1/"+mname+":decide", `{"answer": "ANSWER_MAYBE", "request_id": "gw-decide-pl2"}`, "answer")
	// A rejection says why; the answer changes and the history keeps both.
	plAnalyst.fail(http.StatusBadRequest, http.MethodPost, "/v1/"+mname+":decide", `{"answer": "ANSWER_NO", "request_id": "gw-decide-pl3"}`, "reason")
	// (Until PL's node has heard from every registry server that it
	// applies match answers v2, a change is refused: polled.)
	raftnettest.WaitFor(t, 10*time.Second, func() error {
		return plAnalyst.try(http.MethodPost, "/v1/"+mname+":decide", `{"answer": "ANSWER_NO", "reason": "another district", "request_id": "gw-decide-pl4"}`, &decided)
	})
	if d := decided.GetMatchDecision(); d.GetState() != accordv1.MatchDecisionState_MATCH_DECISION_STATE_REJECTED || len(d.GetHistory()) != 3 ||
		d.GetHistory()[2].GetReason() != "another district" {
		t.Errorf("a changed answer over the gateway: %v", d)
	}
	var members accordv1.ListMembersResponse
	analyst.get(http.MethodGet, "/v1/members", nil, &members)
	if len(members.GetMembers()) != 2 {
		t.Errorf("members over the gateway: %v", &members)
	}

	// The OpenAPI document: valid JSON naming the resource paths.
	var doc struct {
		Swagger string                          `json:"swagger"`
		Info    struct{ Title, Version string } `json:"info"`
		Paths   map[string]json.RawMessage      `json:"paths"`
	}
	if err := json.Unmarshal(analyst.call(http.StatusOK, http.MethodGet, "/v1/openapi.json", nil), &doc); err != nil {
		t.Fatalf("OpenAPI document: %v", err)
	}
	if doc.Swagger != "2.0" || doc.Info.Title != "Accord local API" || doc.Info.Version != "test" {
		t.Errorf("OpenAPI document: swagger %q, info %+v", doc.Swagger, doc.Info)
	}
	for _, p := range []string{"/v1/cases", "/v1/cases/{caseId}", "/v1/cases:import", "/v1/persons:lookup", "/v1/jits", "/v1/{name}:decide", "/v1/members", "/accord.v1.CoordinationService/Execute"} {
		if _, ok := doc.Paths[p]; !ok {
			t.Errorf("OpenAPI document: no path %s", p)
		}
	}
	for p := range doc.Paths {
		if strings.Contains(p, "ExchangeService") || strings.Contains(p, "RegistryService") || strings.Contains(p, "PersonTokenService") {
			t.Errorf("OpenAPI document: federation-facing path %s", p)
		}
	}

	// A body value larger than four times the gRPC message limit (16 MiB
	// by default) is refused as it is read, not buffered whole; the
	// gateway goes on serving.
	huge := `{"title":"` + strings.Repeat("x", 17<<20) + `"}`
	analyst.fail(http.StatusBadRequest, http.MethodPost, "/v1/cases", huge, "larger than 16777216 bytes")
	analyst.call(http.StatusOK, http.MethodGet, "/v1/cases", nil)
}

// TestGatewayRefusesOthers: who may not use an office's gateway.
func TestGatewayRefusesOthers(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA", "PL")
	cfg := nodeConfig(t, fed.Node("UA", "ua-1"))
	cfg.LocalAPI.GatewayListen = "127.0.0.1:0"
	ua := start(t, cfg)

	// No client certificate: the handshake is refused, nothing is served.
	anon := newGatewayClient(t, fed, ua, "UA", mtls.Config{}, false)
	for _, path := range []string{"/v1/cases", "/v1/openapi.json"} {
		if resp, err := anon.do(http.MethodGet, path, nil); err == nil {
			resp.Body.Close()
			t.Errorf("GET %s without a client certificate: HTTP %d, want a refused handshake", path, resp.StatusCode)
		}
	}

	// Another member's user, and a node of the member: authenticated, and
	// refused by the local API's policy, the document included.
	for _, other := range []struct {
		who  string
		cert mtls.Config
	}{{"PL user", fed.User("PL", "analyst")}, {"UA node", fed.Node("UA", "ua-2")}} {
		c := newGatewayClient(t, fed, ua, "UA", other.cert, false)
		for _, path := range []string{"/v1/cases", "/v1/cases/UA-2022-000001", "/v1/openapi.json"} {
			e := c.fail(http.StatusForbidden, http.MethodGet, path, nil, "users of member UA only")
			if *e.Code != 7 {
				t.Errorf("%s: GET %s: code %d, want 7 (PERMISSION_DENIED)", other.who, path, *e.Code)
			}
		}
		// A streaming method answers a stream of {"result": ...} or
		// {"error": status}.
		data := c.call(http.StatusForbidden, http.MethodPost, "/v1/cases:import", `{"options": {}}`)
		var frame struct{ Error gatewayError }
		if err := json.Unmarshal(data, &frame); err != nil || frame.Error.Code == nil || *frame.Error.Code != 7 {
			t.Errorf("%s: import: %s (%v)", other.who, data, err)
		}
	}

	// A user revoked while connected: the reload of the CRLs closes the
	// open HTTPS connection (which would otherwise go on serving), and the
	// next handshake is refused.
	leaverCert := fed.User("UA", "leaver")
	leaver := newGatewayClient(t, fed, ua, "UA", leaverCert, false)
	leaver.call(http.StatusOK, http.MethodGet, "/v1/cases", nil)
	fed.Revoke("UA", leaverCert)
	if err := ua.Reload(); err != nil {
		t.Fatal(err)
	}
	if resp, err := leaver.do(http.MethodGet, "/v1/cases", nil); err == nil {
		resp.Body.Close()
		t.Errorf("revoked user, after the reload: HTTP %d, want the connection closed", resp.StatusCode)
	}

	// No header makes a caller of someone else.
	pl := newGatewayClient(t, fed, ua, "UA", fed.User("PL", "analyst"), false)
	req, err := http.NewRequest(http.MethodGet, pl.base+"/v1/cases", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"Grpc-Metadata-Identity", "X-Forwarded-Client-Cert", "Authorization"} {
		req.Header.Set(h, "spiffe://accord.test/member/UA/user/admin")
	}
	resp, err := pl.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("PL user with forged headers: HTTP %d, want 403", resp.StatusCode)
	}
}

// BenchmarkGatewayOverhead measures one call over the JSON gateway against
// the same call over gRPC, both over loopback with mutual TLS on
// long-lived connections, on one node (docs/BENCHMARKS.md, "The JSON gateway's overhead per call").
func BenchmarkGatewayOverhead(b *testing.B) {
	fed := pkitest.NewFederation(b, "accord.test", "UA")
	cfg, err := config.Load("", nil)
	if err != nil {
		b.Fatal(err)
	}
	cfg.Listen, cfg.MetricsListen, cfg.LocalAPI.Listen, cfg.LocalAPI.GatewayListen = "127.0.0.1:0", "", "127.0.0.1:0", "127.0.0.1:0"
	cfg.TLS = fed.Node("UA", "ua-1")
	cfg.DataDir = b.TempDir()
	cfg.Log.Level = "warn"
	d, err := daemontest.Start(cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = d.Close() })

	user := fed.User("UA", "analyst")
	web := newGatewayClient(b, fed, d, "UA", user, false)
	var lines []string
	for n := 1; n <= 100; n++ {
		lines = append(lines, gatewayCaseLine(n))
	}
	if r := web.importCases(lines...); r.GetCreated() != 100 {
		b.Fatalf("import: %v", r)
	}
	src, err := mtls.NewSource(user, mtls.Hooks{}, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	cc, err := grpc.NewClient(d.LocalAddr(), grpc.WithTransportCredentials(src.ClientCredentials(mtls.ExpectMember("UA"))))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cc.Close() })
	cases := accordv1.NewCaseServiceClient(cc)
	ctx := context.Background()

	// gateway: the answer read, as bytes; gateway+json: and decoded with
	// protojson, as a client that wants the typed message would.
	getCase := &accordv1.GetCaseRequest{CaseId: "UA-2022-000042"}
	listCases := &accordv1.ListCasesRequest{PageSize: 10}
	for _, call := range []struct {
		name string
		grpc func() error
		path string
		into func() proto.Message
	}{
		{"GetCase", func() error { _, err := cases.GetCase(ctx, getCase); return err },
			"/v1/cases/UA-2022-000042", func() proto.Message { return &accordv1.GetCaseResponse{} }},
		{"ListCases10", func() error { _, err := cases.ListCases(ctx, listCases); return err },
			"/v1/cases?page_size=10", func() proto.Message { return &accordv1.ListCasesResponse{} }},
	} {
		b.Run(call.name+"/grpc", func(b *testing.B) {
			for b.Loop() {
				if err := call.grpc(); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(call.name+"/gateway", func(b *testing.B) {
			for b.Loop() {
				web.call(http.StatusOK, http.MethodGet, call.path, nil)
			}
		})
		b.Run(call.name+"/gateway+json", func(b *testing.B) {
			for b.Loop() {
				web.get(http.MethodGet, call.path, nil, call.into())
			}
		})
	}
}
