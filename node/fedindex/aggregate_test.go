package fedindex

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/accordfed/accord/node/casesearch"
	"github.com/accordfed/accord/node/fedindex/fedindextest"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// listAggregate pages through ListFederationCases with the request's
// filters and adds up what it lists, as the aggregation should.
func listAggregate(t *testing.T, s *Service, req *accordv1.AggregateFederationCasesRequest) *accordv1.AggregateFederationCasesResponse {
	t.Helper()
	grid, err := casesearch.ParseGrid(req.GetCellDeg(), casesearch.BoxOf(req.GetBounds()), "")
	if err != nil {
		t.Fatal(err)
	}
	a := casesearch.NewAggregator(grid)
	lr := &accordv1.ListFederationCasesRequest{Member: req.GetMember(), Place: req.GetPlace(), CrimeCode: req.GetCrimeCode(), From: req.GetFrom(),
		To: req.GetTo(), NearLat: req.GetNearLat(), NearLon: req.GetNearLon(), RadiusKm: req.GetRadiusKm(), Text: req.GetText(), PageSize: MaxPageSize}
	for {
		resp := list(t, s, lr)
		for _, fc := range resp.GetCases() {
			a.Add(docKey(fc.GetMember(), fc.GetCase().GetCaseId()), docOf(fc.GetCase()))
		}
		if lr.PageToken = resp.GetNextPageToken(); lr.PageToken == "" {
			break
		}
	}
	out := &accordv1.AggregateFederationCasesResponse{}
	out.CaseCount, out.Cells, out.Weeks = a.Result().Proto(splitKey)
	return out
}

// TestAggregateIsTheList checks, on generated cases, that the aggregation
// (from the search index, and from a scan without one) counts exactly the
// cases that the list returns for the same filters, into the same cells
// and weeks.
func TestAggregateIsTheList(t *testing.T) {
	st := openStore(t)
	var first *accordv1.Case
	for i, m := range []string{"PL", "UA"} {
		err := fedindextest.Store(st, m, 1500, uint64(i+7), func(c *accordv1.Case) {
			if first == nil {
				first = c
			}
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// The window's edges, to the second: an instant at the start of the
	// from day touches it; a window that ends there does not; an
	// incident without a readable start matches a place but not dates.
	put(t, st, "DE",
		testCase{"DE-2022-000001", "Kharkiv", "RS-8.2.b.i", "2022-03-01T00:00:00Z", "2022-03-01T00:00:00Z"},
		testCase{"DE-2022-000002", "Kharkiv", "RS-8.2.b.i", "2022-02-28T23:00:00Z", "2022-03-01T00:00:00Z"},
		testCase{"DE-2022-000003", "Kharkiv", "RS-8.2.b.i", "1 March", ""},
		testCase{"DE-2022-000004", "Kharkiv", "RS-8.2.b.i", "2022-03-01T23:59:59.5+00:00", "2022-03-01T23:00:00Z"},
	)
	sx := NewSearch(nil)
	if err := sx.Build(st); err != nil {
		t.Fatal(err)
	}
	indexed := New(st, nil, nil, "LT", nil).WithSearch(sx, nil)
	scanned := New(st, nil, nil, "LT", nil)
	word := first.GetTitle()
	if ws := casesearchWords(word); len(ws) > 0 {
		word = ws[len(ws)-1]
	}
	in := first.GetIncidents()[0]
	for _, req := range []*accordv1.AggregateFederationCasesRequest{
		{},
		{Member: "PL", CellDeg: 0.5},
		{From: "2022-06-01", To: "2022-09-30", CellDeg: 2},
		{From: "2022-06-01"},
		{To: "2022-03-31"},
		{CrimeCode: first.GetCrimeCodes()[0]},
		{Place: "Kharkiv"},
		{Member: "DE", From: "2022-03-01", To: "2022-03-01"},
		{Member: "DE", To: "2022-02-28"},
		{Member: "DE", Place: "Kharkiv"},
		{Place: "Харків", From: "2022-03-01", To: "2022-12-31"},
		{Place: "Khar*", Member: "UA"},
		{NearLat: in.GetLat(), NearLon: in.GetLon(), RadiusKm: 50, CellDeg: 0.05, Bounds: &accordv1.GeoBox{South: 40, West: 20, North: 60, East: 45}},
		{Text: word},
		{Place: "Kharkiv", Bounds: &accordv1.GeoBox{South: 49, West: 35, North: 51, East: 37.5}, CellDeg: 0.01},
		{Bounds: &accordv1.GeoBox{South: 46, West: 30, North: 52, East: 40}, CellDeg: 0.25},
	} {
		want := listAggregate(t, indexed, req)
		if want.GetCaseCount() == 0 && req.GetMember() == "" && req.GetBounds() == nil {
			t.Errorf("%v: the list finds no case; the test checks nothing", req)
		}
		for name, s := range map[string]*Service{"indexed": indexed, "scanned": scanned} {
			got, err := s.AggregateFederationCases(userCtx(), req)
			if err != nil {
				t.Fatalf("%s %v: %v", name, req, err)
			}
			if !proto.Equal(got, want) {
				t.Errorf("%s %v: %d cases, %d cells, %d weeks; the list gives %d, %d, %d",
					name, req, got.GetCaseCount(), len(got.GetCells()), len(got.GetWeeks()), want.GetCaseCount(), len(want.GetCells()), len(want.GetWeeks()))
			}
		}
	}
	// A single case's cell names it.
	got, err := indexed.AggregateFederationCases(userCtx(), &accordv1.AggregateFederationCasesRequest{Member: "PL", CellDeg: 0.001,
		Bounds: &accordv1.GeoBox{South: in.GetLat() - 0.1, West: in.GetLon() - 0.1, North: in.GetLat() + 0.1, East: in.GetLon() + 0.1}})
	if err != nil {
		t.Fatal(err)
	}
	named := false
	for _, c := range got.GetCells() {
		if c.GetCaseCount() == 1 && c.GetMember() != "" && c.GetCaseId() != "" {
			named = true
		}
		if c.GetCaseCount() > 1 && c.GetCaseId() != "" {
			t.Errorf("cell of %d cases names %s", c.GetCaseCount(), c.GetCaseId())
		}
	}
	if !named {
		t.Errorf("no single case's cell names its case: %v", got.GetCells())
	}
}

func TestAggregateBadFields(t *testing.T) {
	_, s := fixture(t)
	for _, tc := range []struct {
		req   *accordv1.AggregateFederationCasesRequest
		field string
	}{
		{&accordv1.AggregateFederationCasesRequest{Member: "pl"}, "member"},
		{&accordv1.AggregateFederationCasesRequest{From: "1 May"}, "from"},
		{&accordv1.AggregateFederationCasesRequest{RadiusKm: 5000}, "radius_km"},
		{&accordv1.AggregateFederationCasesRequest{CellDeg: 90}, "cell_deg"},
		{&accordv1.AggregateFederationCasesRequest{CellDeg: -1}, "cell_deg"},
		{&accordv1.AggregateFederationCasesRequest{CellDeg: 0.001}, "cell_deg"}, // the whole world: too many cells
		{&accordv1.AggregateFederationCasesRequest{Bounds: &accordv1.GeoBox{South: -91, North: 10, East: 10}}, "bounds.south"},
		{&accordv1.AggregateFederationCasesRequest{Bounds: &accordv1.GeoBox{South: 10, North: 5, East: 10}}, "bounds.north"},
		{&accordv1.AggregateFederationCasesRequest{Bounds: &accordv1.GeoBox{North: 5, West: 10, East: 5}}, "bounds.east"},
		{&accordv1.AggregateFederationCasesRequest{Bounds: &accordv1.GeoBox{North: 5, East: 181}}, "bounds.east"},
	} {
		_, err := s.AggregateFederationCases(userCtx(), tc.req)
		wantInvalid(t, err, tc.field)
	}
}

// casesearchWords are a title's words of at least four letters.
func casesearchWords(title string) []string {
	var out []string
	word := []rune{}
	for _, r := range title + " " {
		if r == ' ' || r == ',' || r == '.' || r == ':' {
			if len(word) >= 4 {
				out = append(out, string(word))
			}
			word = word[:0]
			continue
		}
		word = append(word, r)
	}
	return out
}
