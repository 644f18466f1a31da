package fedindex

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/accordfed/accord/federation/feed"
	"github.com/accordfed/accord/node/grpcserver"
	"github.com/accordfed/accord/node/store"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

func TestGetFederationCase(t *testing.T) {
	st, s := fixture(t)
	resp, err := s.GetFederationCase(userCtx(), &accordv1.GetFederationCaseRequest{Member: "PL", CaseId: "PL-2022-000011"})
	if err != nil {
		t.Fatal(err)
	}
	c := resp.GetCase()
	if c.GetMember() != "PL" || c.GetSeq() != 2 || c.GetCase().GetCaseId() != "PL-2022-000011" ||
		c.GetCase().GetIncidents()[0].GetPlace() != "CHARKÓW" || c.GetPublishTime() == nil {
		t.Errorf("case: %v", c)
	}
	// The same case as the list gives it.
	listed := list(t, s, &accordv1.ListFederationCasesRequest{Member: "PL", Place: "Charków"}).GetCases()
	if len(listed) != 1 || !proto2Equal(listed[0], c) {
		t.Errorf("listed %v, got %v", listed, c)
	}
	for _, req := range []*accordv1.GetFederationCaseRequest{
		{Member: "PL", CaseId: "PL-2022-000099"}, // never held
		{Member: "UA", CaseId: "PL-2022-000011"}, // another member's id
		{Member: "FR", CaseId: "FR-1"},           // a member without records
	} {
		_, err := s.GetFederationCase(userCtx(), req)
		if !errors.Is(err, grpcserver.ErrNotFound) || status.Code(grpcserver.ToStatus(err)) != codes.NotFound {
			t.Errorf("%v: %v, want NotFound", req, err)
		}
	}
	// Withdrawn: a tombstone leaves nothing to get.
	if _, _, err := st.FedApply("PL", "", []feed.Record{{CaseID: "PL-2022-000011", Seq: 3, Flags: feed.Tombstone}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetFederationCase(userCtx(), &accordv1.GetFederationCaseRequest{Member: "PL", CaseId: "PL-2022-000011"}); !errors.Is(err, grpcserver.ErrNotFound) {
		t.Errorf("withdrawn: %v", err)
	}
	for _, tc := range []struct {
		req   *accordv1.GetFederationCaseRequest
		field string
	}{
		{&accordv1.GetFederationCaseRequest{CaseId: "PL-1"}, "member"},
		{&accordv1.GetFederationCaseRequest{Member: "pl", CaseId: "PL-1"}, "member"},
		{&accordv1.GetFederationCaseRequest{Member: "PL"}, "case_id"},
		{&accordv1.GetFederationCaseRequest{Member: "PL", CaseId: strings.Repeat("x", 257)}, "case_id"},
		{&accordv1.GetFederationCaseRequest{Member: "PL", CaseId: "PL\x00x"}, "case_id"},
	} {
		_, err := s.GetFederationCase(userCtx(), tc.req)
		wantInvalid(t, err, tc.field)
	}
}

func proto2Equal(a, b *accordv1.FederationCase) bool {
	return a.GetMember() == b.GetMember() && a.GetSeq() == b.GetSeq() && a.GetCase().GetCaseId() == b.GetCase().GetCaseId() &&
		a.GetCase().GetTitle() == b.GetCase().GetTitle() && a.GetPublishTime().AsTime().Equal(b.GetPublishTime().AsTime())
}

// TestSearchFollowsTheStore: the search index, hooked to the store,
// follows records that arrive, change, are withdrawn and come back, and
// a resync that drops a member's records.
func TestSearchFollowsTheStore(t *testing.T) {
	st := openStore(t)
	sx := NewSearch(nil)
	st.SetHooks(store.Hooks{Fed: sx.Apply})
	s := New(st, nil, nil, "LT", nil).WithSearch(sx, nil)
	find := func(place string) []string {
		t.Helper()
		return ids(list(t, s, &accordv1.ListFederationCasesRequest{Place: place}))
	}
	put(t, st, "UA", testCase{"UA-1", "Харків", "RS-8.2.b.i", "2022-03-01T10:00:00Z", ""}, testCase{"UA-2", "Rivne", "RS-8.2.b.i", "2022-03-01T10:00:00Z", ""})
	if got := find("Charków"); !slices.Equal(got, []string{"UA/UA-1"}) {
		t.Fatalf("arrived: %v", got)
	}
	// A newer version moves UA-1 to Lutsk (seq 3 > 1).
	putSeq(t, st, "UA", 3, testCase{"UA-1", "Łuck", "RS-8.2.b.i", "2022-03-01T10:00:00Z", ""})
	if got := find("Kharkiv"); len(got) != 0 {
		t.Fatalf("changed: Kharkiv still finds %v", got)
	}
	if got := find("Луцьк"); !slices.Equal(got, []string{"UA/UA-1"}) {
		t.Fatalf("changed: Lutsk finds %v", got)
	}
	if _, _, err := st.FedApply("UA", "", []feed.Record{{CaseID: "UA-1", Seq: 4, Flags: feed.Tombstone}}); err != nil {
		t.Fatal(err)
	}
	if got := find("Lutsk"); len(got) != 0 || sx.Len() != 1 {
		t.Fatalf("withdrawn: %v, index holds %d", got, sx.Len())
	}
	putSeq(t, st, "UA", 5, testCase{"UA-1", "Kharkov", "RS-8.2.b.i", "2022-03-01T10:00:00Z", ""})
	if got := find("Харків"); !slices.Equal(got, []string{"UA/UA-1"}) {
		t.Fatalf("back: %v", got)
	}
	if _, err := st.FedReset("UA"); err != nil {
		t.Fatal(err)
	}
	if sx.Len() != 0 {
		t.Fatalf("after a reset the index holds %d", sx.Len())
	}
	// A fresh build sees what the hooks saw.
	put(t, st, "PL", testCase{"PL-1", "Równe", "RS-8.2.b.i", "2022-03-01T10:00:00Z", ""})
	fresh := NewSearch(nil)
	if err := fresh.Build(st); err != nil {
		t.Fatal(err)
	}
	if fresh.Len() != sx.Len() || sx.Len() != 1 {
		t.Fatalf("built %d, followed %d", fresh.Len(), sx.Len())
	}
	if got := ids(list(t, New(st, nil, nil, "LT", nil).WithSearch(fresh, nil), &accordv1.ListFederationCasesRequest{Place: "Rivne"})); !slices.Equal(got, []string{"PL/PL-1"}) {
		t.Fatalf("fresh build: %v", got)
	}
}

func TestNearAndText(t *testing.T) {
	st := openStore(t)
	put(t, st, "UA",
		testCase{"UA-1", "Bucha", "RS-8.2.a.i", "2022-03-01T10:00:00Z", ""},
		testCase{"UA-2", "Kharkiv", "RS-8.2.a.i", "2022-03-01T10:00:00Z", ""},
	)
	// Coordinates: put makes incidents without; add them through a
	// second version.
	sx := NewSearch(nil)
	st.SetHooks(store.Hooks{Fed: sx.Apply})
	putWith(t, st, "UA", 3, func(c *accordv1.SharedCase) {
		lat, lon := 50.543, 30.212
		c.Incidents[0].Lat, c.Incidents[0].Lon = &lat, &lon
		c.Title = "Обстріл школи"
	}, testCase{"UA-1", "Bucha", "RS-8.2.a.i", "2022-03-01T10:00:00Z", ""})
	for _, indexed := range []bool{false, true} {
		s := New(st, nil, nil, "LT", nil)
		if indexed {
			s.WithSearch(sx, nil)
		}
		for _, tc := range []struct {
			req  *accordv1.ListFederationCasesRequest
			want []string
		}{
			{&accordv1.ListFederationCasesRequest{NearLat: 50.45, NearLon: 30.52, RadiusKm: 30}, []string{"UA/UA-1"}},
			{&accordv1.ListFederationCasesRequest{NearLat: 50.45, NearLon: 30.52, RadiusKm: 20}, nil},
			{&accordv1.ListFederationCasesRequest{NearLat: 50.45, NearLon: 30.52, RadiusKm: 30, Place: "Kharkiv"}, nil},
			{&accordv1.ListFederationCasesRequest{NearLat: 50.45, NearLon: 30.52, RadiusKm: 30, Place: "Буча"}, []string{"UA/UA-1"}},
			{&accordv1.ListFederationCasesRequest{Text: "obstril"}, []string{"UA/UA-1"}},
			{&accordv1.ListFederationCasesRequest{Text: "школи обстріл"}, []string{"UA/UA-1"}},
			{&accordv1.ListFederationCasesRequest{Text: "школи market"}, nil},
		} {
			if got := ids(list(t, s, tc.req)); !slices.Equal(got, tc.want) {
				t.Errorf("indexed %v, %v: %v, want %v", indexed, tc.req, got, tc.want)
			}
		}
	}
}
