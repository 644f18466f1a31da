package daemon_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/accordfed/accord/federation/feed"
	"github.com/accordfed/accord/federation/mtls"
	"github.com/accordfed/accord/federation/pki/pkitest"
	"github.com/accordfed/accord/federation/records"
	"github.com/accordfed/accord/node/daemon"
	"github.com/accordfed/accord/node/store"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// localConn is a user's connection to a node's local API.
func localConn(t *testing.T, d *daemon.Daemon, user mtls.Config) *grpc.ClientConn {
	t.Helper()
	src, err := mtls.NewSource(user, mtls.Hooks{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	cc, err := grpc.NewClient(d.LocalAddr(), grpc.WithTransportCredentials(src.ClientCredentials(mtls.ExpectMember("UA"))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

// putFederationRecords stores n signed shared cases of origin in st's
// federation index, as the puller would.
func putFederationRecords(t *testing.T, st *store.Store, origin string, n int) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer := records.NewSigner(origin, records.KeyID(strings.ToLower(origin)+"-1", priv.Public().(ed25519.PublicKey)), priv)
	var frs []*accordv1.FeedRecord
	for i := range n {
		id := fmt.Sprintf("%s-2022-%06d", origin, i+1)
		frs = append(frs, &accordv1.FeedRecord{
			Origin: origin, CaseId: id, Seq: uint64(i + 1), PublishTime: timestamppb.New(time.Date(2024, 5, 1, 12, 0, i, 0, time.UTC)),
			Case: &accordv1.SharedCase{
				CaseId: id, Title: "Case " + id, Status: accordv1.CaseStatus_CASE_STATUS_INVESTIGATION,
				Sensitivity: accordv1.Sensitivity_SENSITIVITY_FEDERATION, CrimeCodes: []string{"RS-8.2.b.i"},
				Incidents: []*accordv1.Incident{{Start: "2022-03-01T10:00:00+02:00", Place: "Kharkiv"}}, Version: 1,
			},
		})
	}
	signed, err := signer.SignBatch(frs)
	if err != nil {
		t.Fatal(err)
	}
	recs := make([]feed.Record, len(signed))
	for i, sr := range signed {
		b, err := proto.Marshal(sr)
		if err != nil {
			t.Fatal(err)
		}
		recs[i] = feed.Record{CaseID: frs[i].GetCaseId(), Seq: frs[i].GetSeq(), Record: b}
	}
	if _, _, err := st.FedApply(origin, "", recs); err != nil {
		t.Fatal(err)
	}
}

// pagedRPC is one paged RPC of the local API, seen through one user's
// connection: list asks for a page with a filter ("" none, else a place)
// and returns the ids and the next token.
type pagedRPC struct {
	name string
	list func(ctx context.Context, cc *grpc.ClientConn, place string, size int32, tok string) ([]string, string, error)
}

var pagedRPCs = []pagedRPC{
	{"CaseService.ListCases", func(ctx context.Context, cc *grpc.ClientConn, place string, size int32, tok string) ([]string, string, error) {
		req := &accordv1.ListCasesRequest{PageSize: size, PageToken: tok}
		if place != "" {
			req.Filter = &accordv1.CaseFilter{Place: place}
		}
		resp, err := accordv1.NewCaseServiceClient(cc).ListCases(ctx, req)
		if err != nil {
			return nil, "", err
		}
		var ids []string
		for _, c := range resp.GetCases() {
			ids = append(ids, c.GetCaseId())
		}
		return ids, resp.GetNextPageToken(), nil
	}},
	{"FederationIndexService.ListFederationCases", func(ctx context.Context, cc *grpc.ClientConn, place string, size int32, tok string) ([]string, string, error) {
		resp, err := accordv1.NewFederationIndexServiceClient(cc).ListFederationCases(ctx, &accordv1.ListFederationCasesRequest{Place: place, PageSize: size, PageToken: tok})
		if err != nil {
			return nil, "", err
		}
		var ids []string
		for _, c := range resp.GetCases() {
			ids = append(ids, c.GetMember()+"/"+c.GetCase().GetCaseId())
		}
		return ids, resp.GetNextPageToken(), nil
	}},
}

// TestPageTokensAreBound checks, over gRPC, for each paged RPC of the
// local API, that a page token continues its own list for its own caller,
// also after the node restarts, and that a token of another query, of
// another caller, of the other RPC, altered, cut, garbage or in the old
// unauthenticated format is refused with InvalidArgument naming page_token
// and saying why, and returns nothing.
func TestPageTokensAreBound(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA", "PL")
	cfg := nodeConfig(t, fed.Node("UA", "ua-1"))
	d, err := tryStart(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = d.Close() }()
	actor := sealerFor(t, "UA")
	for i := range 7 {
		if _, err := d.Store().CreateCase(exCase(fmt.Sprintf("UA-2022-%06d", i+1), accordv1.Sensitivity_SENSITIVITY_NATIONAL, "Ivanna Testenko"), actor); err != nil {
			t.Fatal(err)
		}
	}
	putFederationRecords(t, d.Store(), "PL", 7)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	alice, bob := localConn(t, d, fed.User("UA", "alice")), localConn(t, d, fed.User("UA", "bob"))
	first := map[string]string{} // the first page's token, per RPC
	for _, rpc := range pagedRPCs {
		// The whole list, 3 at a time, is the list at once.
		all, _, err := rpc.list(ctx, alice, "kharkiv", 100, "")
		if err != nil || len(all) != 7 {
			t.Fatalf("%s: the whole list: %v, %v", rpc.name, all, err)
		}
		var got []string
		tok := ""
		for {
			ids, next, err := rpc.list(ctx, alice, "kharkiv", 3, tok)
			if err != nil {
				t.Fatalf("%s: page after %q: %v", rpc.name, tok, err)
			}
			got = append(got, ids...)
			if tok == "" {
				first[rpc.name] = next
			}
			if tok = next; tok == "" {
				break
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(all) {
			t.Errorf("%s: paged %v, at once %v", rpc.name, got, all)
		}
	}

	for i, rpc := range pagedRPCs {
		tok := first[rpc.name]
		other := first[pagedRPCs[1-i].name]
		flipped := []byte(tok)
		flipped[len(flipped)/2] ^= 'A' ^ 'B' // another base64url letter
		for _, tc := range []struct {
			name  string
			cc    *grpc.ClientConn
			place string
			tok   string
			want  string
		}{
			{"another query", alice, "", tok, "issued for another query"},
			{"another filter value", alice, "kharki", tok, "issued for another query"},
			{"another caller", bob, "kharkiv", tok, "issued to another caller"},
			{"another RPC's token", alice, "kharkiv", other, "issued for another query"},
			{"tampered", alice, "kharkiv", string(flipped), "not a page token"},
			{"truncated", alice, "kharkiv", tok[:len(tok)-3], "not a page token"},
			{"garbage", alice, "kharkiv", "garbage!", "not a page token"},
			{"old format", alice, "kharkiv", "eyJ2IjoxLCJmIjoiQUFBQUFBQUFBQUEiLCJhIjoiVUEtMjAyMi0wMDAwMDEifQ", "not a page token"},
		} {
			t.Run(rpc.name+"/"+tc.name, func(t *testing.T) {
				ids, next, err := rpc.list(ctx, tc.cc, tc.place, 3, tc.tok)
				if status.Code(err) != codes.InvalidArgument {
					t.Fatalf("got %v, %q, %v; want InvalidArgument", ids, next, err)
				}
				msg := status.Convert(err).Message()
				if !strings.Contains(msg, "page_token: ") || !strings.Contains(msg, tc.want) {
					t.Errorf("message %q does not name page_token and say %q", msg, tc.want)
				}
				if ids != nil || next != "" {
					t.Errorf("an error with a page: %v, %q", ids, next)
				}
			})
		}
	}

	// The key is the store's: tokens outlive a restart of the node.
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d, err = tryStart(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	alice = localConn(t, d, fed.User("UA", "alice"))
	for _, rpc := range pagedRPCs {
		ids, _, err := rpc.list(ctx, alice, "kharkiv", 3, first[rpc.name])
		if err != nil || len(ids) != 3 {
			t.Errorf("%s: second page after a restart: %v, %v", rpc.name, ids, err)
		}
	}
}
