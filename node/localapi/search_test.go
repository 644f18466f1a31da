package localapi_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// placeLine is a case with one incident at place (and a point when lat
// is not 0) and a title.
func placeLine(id, title, place string, lat, lon float64) string {
	geo := ""
	if lat != 0 {
		geo = fmt.Sprintf(`, "lat": %g, "lon": %g`, lat, lon)
	}
	return fmt.Sprintf(`{"case_id": %q, "country": "UA", "title": %q, "status": "investigation", "crime_codes": ["RS-8.2.b.iv"], "incidents": [{"start": "2022-11-20T09:00:00+02:00", "precision": "hour", "place": %q%s}]}`, id, title, place, geo)
}

func caseIDs(cs []*accordv1.Case) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.GetCaseId())
	}
	return out
}

// TestSearchOwnCases: the office's own cases are searched with the
// folding rule, by distance and by title words, on a running node whose
// search index follows imports, updates and deletions.
func TestSearchOwnCases(t *testing.T) {
	e := start(t)
	analyst := e.client(t, e.fed.User("UA", "u-1"))
	admin := e.client(t, e.fed.User("UA", "u-admin"))
	res, err := importLines(t, analyst, false,
		placeLine("UA-1", "Shelling of a school", "Kharkiv", 49.99, 36.23),
		placeLine("UA-2", "Обстріл ринку", "Харків", 0, 0),
		placeLine("UA-3", "Shelling of the market", "Kharkov, Saltivka", 50.03, 36.33),
		placeLine("UA-4", "Detention", "Rivne", 50.62, 26.25),
		placeLine("UA-5", "Shelling", "Kharkivka", 0, 0),
		placeLine("UA-6", "Filtration", "Uman", 48.75, 30.22),
	)
	if err != nil || res.GetCreated() != 6 {
		t.Fatalf("import: %v %v", res, err)
	}
	list := func(f *accordv1.CaseFilter, size int32, tok string) *accordv1.ListCasesResponse {
		t.Helper()
		resp, err := analyst.cases.ListCases(ctx(t), &accordv1.ListCasesRequest{Filter: f, PageSize: size, PageToken: tok})
		if err != nil {
			t.Fatalf("%v: %v", f, err)
		}
		return resp
	}
	kharkiv := []string{"UA-1", "UA-2", "UA-3"}
	for _, tc := range []struct {
		f    *accordv1.CaseFilter
		want []string
	}{
		{&accordv1.CaseFilter{Place: "Kharkiv"}, kharkiv},
		{&accordv1.CaseFilter{Place: "Харків"}, kharkiv},
		{&accordv1.CaseFilter{Place: "Харьков"}, kharkiv},
		{&accordv1.CaseFilter{Place: "Charków"}, kharkiv},
		{&accordv1.CaseFilter{Place: "Charkiw"}, kharkiv},
		{&accordv1.CaseFilter{Place: "Khark*"}, []string{"UA-1", "UA-2", "UA-3", "UA-5"}},
		{&accordv1.CaseFilter{Place: "Ровно"}, []string{"UA-4"}},
		{&accordv1.CaseFilter{Place: "Mena"}, nil},
		{&accordv1.CaseFilter{NearLat: 50, NearLon: 36.25, RadiusKm: 10}, []string{"UA-1", "UA-3"}},
		{&accordv1.CaseFilter{NearLat: 50, NearLon: 36.25, RadiusKm: 3}, []string{"UA-1"}},
		{&accordv1.CaseFilter{Text: "shelling"}, []string{"UA-1", "UA-3", "UA-5"}},
		{&accordv1.CaseFilter{Text: "обстріл"}, []string{"UA-2"}},
		{&accordv1.CaseFilter{Text: "shelling", Place: "Харків", NearLat: 50, NearLon: 36.25, RadiusKm: 10}, []string{"UA-1", "UA-3"}},
		{&accordv1.CaseFilter{Text: "shelling", CrimeCode: "RS-8.2.b.i"}, nil},
	} {
		if got := caseIDs(list(tc.f, 0, "").GetCases()); !slices.Equal(got, tc.want) {
			t.Errorf("%v: %v, want %v", tc.f, got, tc.want)
		}
	}

	// Paging, the token bound to the folded filter.
	f := &accordv1.CaseFilter{Place: "Kharkiv"}
	first := list(f, 2, "")
	if got := caseIDs(first.GetCases()); !slices.Equal(got, kharkiv[:2]) || first.GetNextPageToken() == "" {
		t.Fatalf("first page: %v %q", got, first.GetNextPageToken())
	}
	if got := caseIDs(list(&accordv1.CaseFilter{Place: "Харків"}, 2, first.GetNextPageToken()).GetCases()); !slices.Equal(got, kharkiv[2:]) {
		t.Errorf("second page, the same place in Cyrillic: %v", got)
	}
	for _, other := range []*accordv1.CaseFilter{
		{Place: "Kharkiv", Text: "shelling"},
		{Place: "Kharkiv", NearLat: 50, NearLon: 36.25, RadiusKm: 10},
		{Place: "Khark*"},
	} {
		_, err := analyst.cases.ListCases(ctx(t), &accordv1.ListCasesRequest{Filter: other, PageSize: 2, PageToken: first.GetNextPageToken()})
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "page_token") {
			t.Errorf("%v with another query's token: %v", other, err)
		}
	}

	// Bad input names the field.
	for _, tc := range []struct {
		f     *accordv1.CaseFilter
		field string
	}{
		{&accordv1.CaseFilter{NearLat: 91, NearLon: 30, RadiusKm: 5}, "filter.near_lat"},
		{&accordv1.CaseFilter{NearLat: 50, NearLon: 200, RadiusKm: 5}, "filter.near_lon"},
		{&accordv1.CaseFilter{NearLat: 50, NearLon: 30}, "filter.radius_km"},
		{&accordv1.CaseFilter{NearLat: 50, NearLon: 30, RadiusKm: 2000}, "filter.radius_km"},
		{&accordv1.CaseFilter{Text: "!!!"}, "filter.text"},
		{&accordv1.CaseFilter{Place: "-"}, "filter.place"},
	} {
		_, err := analyst.cases.ListCases(ctx(t), &accordv1.ListCasesRequest{Filter: tc.f})
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), tc.field+":") {
			t.Errorf("%v: %v, want InvalidArgument naming %s", tc.f, err, tc.field)
		}
	}

	// The index follows an update and a deletion.
	got, err := analyst.cases.GetCase(ctx(t), &accordv1.GetCaseRequest{CaseId: "UA-4"})
	if err != nil {
		t.Fatal(err)
	}
	c := got.GetCase()
	c.Incidents[0].Place = "Charkiw"
	if _, err := analyst.cases.UpdateCase(ctx(t), &accordv1.UpdateCaseRequest{Case: c, ExpectedVersion: c.GetVersion()}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.cases.DeleteCase(ctx(t), &accordv1.DeleteCaseRequest{CaseId: "UA-1", Reason: "test"}); err != nil {
		t.Fatal(err)
	}
	if got := caseIDs(list(&accordv1.CaseFilter{Place: "Kharkiv"}, 0, "").GetCases()); !slices.Equal(got, []string{"UA-2", "UA-3", "UA-4"}) {
		t.Errorf("after update and delete: %v", got)
	}
	if got := caseIDs(list(&accordv1.CaseFilter{Place: "Rivne"}, 0, "").GetCases()); len(got) != 0 {
		t.Errorf("Rivne after the update: %v", got)
	}
}
