package localapi_test

import (
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// TestAggregateThroughTheAPI: a running node aggregates its own cases,
// follows an import, refuses bad grids naming the field and serves the
// office's users only, as ListCases.
func TestAggregateThroughTheAPI(t *testing.T) {
	e := start(t)
	analyst := e.client(t, e.fed.User("UA", "u-1"))
	if _, err := importLines(t, analyst, false,
		placeLine("UA-1", "Shelling of a school", "Kharkiv", 49.99, 36.23),
		placeLine("UA-2", "Обстріл ринку", "Харків", 49.98, 36.26),
		placeLine("UA-3", "Shelling of the market", "Kharkov, Saltivka", 50.03, 36.33),
		placeLine("UA-4", "Detention", "Rivne", 50.62, 26.25),
		placeLine("UA-5", "Shelling", "Kharkivka", 0, 0),
	); err != nil {
		t.Fatal(err)
	}
	resp, err := analyst.cases.AggregateCases(ctx(t), &accordv1.AggregateCasesRequest{Filter: &accordv1.CaseFilter{Place: "Kharkiv"}, CellDeg: 1})
	if err != nil {
		t.Fatal(err)
	}
	// Three Kharkiv cases, all in the cell 49..50 N, 36..37 E but UA-3
	// (50.03 N); one week (2022-11-14, the Monday before 20 November).
	if resp.GetCaseCount() != 3 || len(resp.GetCells()) != 2 || len(resp.GetWeeks()) != 1 ||
		resp.GetWeeks()[0].GetWeekStart() != "2022-11-14" || resp.GetWeeks()[0].GetCaseCount() != 3 {
		t.Fatalf("Kharkiv: %v", resp)
	}
	two, one := resp.GetCells()[0], resp.GetCells()[1]
	if two.GetCaseCount() != 2 || two.GetCaseId() != "" || two.GetBounds().GetSouth() != 49 || two.GetBounds().GetEast() != 37 ||
		two.GetLat() != (49.99+49.98)/2 || one.GetCaseCount() != 1 || one.GetCaseId() != "UA-3" || one.GetLat() != 50.03 {
		t.Errorf("cells: %v", resp.GetCells())
	}
	// A box leaves cells out, not cases.
	resp, err = analyst.cases.AggregateCases(ctx(t), &accordv1.AggregateCasesRequest{CellDeg: 0.01, Bounds: &accordv1.GeoBox{South: 50, West: 26, North: 51, East: 27}})
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetCaseCount() != 5 || len(resp.GetCells()) != 1 || resp.GetCells()[0].GetCaseId() != "UA-4" {
		t.Errorf("box: %v", resp)
	}
	for _, tc := range []struct {
		req   *accordv1.AggregateCasesRequest
		field string
	}{
		{&accordv1.AggregateCasesRequest{CellDeg: 46}, "cell_deg"},
		{&accordv1.AggregateCasesRequest{Bounds: &accordv1.GeoBox{South: 10, North: 0}}, "bounds.north"},
		{&accordv1.AggregateCasesRequest{Filter: &accordv1.CaseFilter{RadiusKm: -1}}, "filter.radius_km"},
	} {
		_, err := analyst.cases.AggregateCases(ctx(t), tc.req)
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), tc.field+":") {
			t.Errorf("%v: %v, want InvalidArgument naming %s", tc.req, err, tc.field)
		}
	}
	for _, who := range []string{"PL user", "UA node"} {
		cfg := e.fed.User("PL", "u-1")
		if who == "UA node" {
			cfg = e.fed.Node("UA", "ua-2")
		}
		if _, err := e.client(t, cfg).cases.AggregateCases(ctx(t), &accordv1.AggregateCasesRequest{}); status.Code(err) != codes.PermissionDenied {
			t.Errorf("%s: %v, want PermissionDenied", who, err)
		}
	}
}
