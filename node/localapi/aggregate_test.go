package localapi

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/node/casesearch"
	"github.com/accordfed/accord/node/store"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// TestAggregateIsTheList checks, on generated cases, that AggregateCases
// (from the search index, and from a store scan without one) counts
// exactly the cases that ListCases returns for the same filter, into the
// same cells and weeks.
func TestAggregateIsTheList(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "store.db"), "UA", store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := importGenerated(st, 2500, 5); err != nil {
		t.Fatal(err)
	}
	ix := casesearch.NewIndex()
	if err := BuildSearch(st, ix); err != nil {
		t.Fatal(err)
	}
	indexed := New(st, nil, nil, t.TempDir(), ImportLimits{}, nil).WithSearch(ix, nil)
	scanned := New(st, nil, nil, t.TempDir(), ImportLimits{}, nil)
	ctx := identity.NewContext(context.Background(), identity.Identity{Federation: "accord.test", Member: "UA", Kind: identity.KindUser, Name: "u-1"})
	first, err := indexed.ListCases(ctx, &accordv1.ListCasesRequest{PageSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	c0 := first.GetCases()[0]
	in := c0.GetIncidents()[0]
	at := func(s string) *timestamppb.Timestamp {
		ts, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return timestamppb.New(ts)
	}
	for _, req := range []*accordv1.AggregateCasesRequest{
		{},
		{Filter: &accordv1.CaseFilter{IncidentAfter: at("2022-06-01T00:00:00Z"), IncidentBefore: at("2022-10-01T00:00:00Z")}, CellDeg: 0.5},
		{Filter: &accordv1.CaseFilter{IncidentAfter: at("2023-01-01T12:30:00Z")}},
		{Filter: &accordv1.CaseFilter{CrimeCode: c0.GetCrimeCodes()[0]}},
		{Filter: &accordv1.CaseFilter{Status: accordv1.CaseStatus_CASE_STATUS_INVESTIGATION}},
		{Filter: &accordv1.CaseFilter{Place: "Kharkiv"}},
		{Filter: &accordv1.CaseFilter{Place: "Харків", IncidentBefore: at("2022-12-31T00:00:00Z")}},
		{Filter: &accordv1.CaseFilter{NearLat: in.GetLat(), NearLon: in.GetLon(), RadiusKm: 40}},
		{Filter: &accordv1.CaseFilter{TitleContains: "a"}},
		{Filter: &accordv1.CaseFilter{Place: "Kharkiv"}, CellDeg: 0.01, Bounds: &accordv1.GeoBox{South: 49, West: 35, North: 51, East: 37.5}},
	} {
		grid, err := casesearch.ParseGrid(req.GetCellDeg(), casesearch.BoxOf(req.GetBounds()), "")
		if err != nil {
			t.Fatal(err)
		}
		a := casesearch.NewAggregator(grid)
		lr := &accordv1.ListCasesRequest{Filter: req.GetFilter(), PageSize: store.MaxPageSize}
		for {
			resp, err := indexed.ListCases(ctx, lr)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range resp.GetCases() {
				a.Add(c.GetCaseId(), docOf(c))
			}
			if lr.PageToken = resp.GetNextPageToken(); lr.PageToken == "" {
				break
			}
		}
		want := &accordv1.AggregateCasesResponse{}
		want.CaseCount, want.Cells, want.Weeks = a.Result().Proto(func(k string) (string, string) { return "", k })
		if want.GetCaseCount() == 0 {
			t.Errorf("%v: the list finds no case; the test checks nothing", req)
		}
		for name, s := range map[string]*Service{"indexed": indexed, "scanned": scanned} {
			got, err := s.AggregateCases(ctx, req)
			if err != nil {
				t.Fatalf("%s %v: %v", name, req, err)
			}
			if !proto.Equal(got, want) {
				t.Errorf("%s %v: %d cases, %d cells, %d weeks; the list gives %d, %d, %d", name, req,
					got.GetCaseCount(), len(got.GetCells()), len(got.GetWeeks()), want.GetCaseCount(), len(want.GetCells()), len(want.GetWeeks()))
			}
		}
	}
}
