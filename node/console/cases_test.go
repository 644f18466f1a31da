package console

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// mapAnswer is a map.json as the tests read it.
type mapAnswer struct {
	Cases   int     `json:"cases"`
	CellDeg float64 `json:"cell_deg"`
	Cells   []struct {
		Lat, Lon                 float64
		South, West, North, East float64
		Cases                    int
		Case, Href               string
	} `json:"cells"`
}

func (b *browser) mapJSON(path string) mapAnswer {
	b.t.Helper()
	resp := b.do(http.MethodGet, path, nil, "")
	var m mapAnswer
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		b.t.Fatalf("%s: %d %s", path, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		b.t.Fatalf("%s: %v", path, err)
	}
	return m
}

// TestConsoleCases: the case search finds UA's case written Харків by a
// Latin or a Cyrillic query (the node folds), maps its incident, draws
// the weeks; the map aggregates into cells above its point bound and says
// when it stopped early; the case page shows the case, its custody and
// its title as text; bad filters are refused naming the field.
func TestConsoleCases(t *testing.T) {
	f := startFixture(t)
	ua := f.signIn(t, "UA")
	for _, place := range []string{"Kharkiv", "Харків", "Khar*"} {
		code, page := ua.page("/cases?place=" + url.QueryEscape(place))
		if code != http.StatusOK {
			t.Fatalf("place %s: %d\n%s", place, code, page)
		}
		wantIn(t, "search "+place, page, `href="/cases/UA-2022-000031"`, "Харків", "2022-03-01", "Matching cases: 1",
			`id="cases-map"`, `data-src="/cases/map.json?place=`, `<svg class="weeks"`, `class="week"`, "Week of 28 February 2022: 1 cases",
			"Shelling &lt;img src=x onerror=alert(1)&gt; of Kharkiv", `aria-current="page">Cases`)
		if strings.Contains(page, "<img src=x") || strings.Contains(page, "style=") || regexp.MustCompile(`<script>[^<]`).MatchString(page) {
			t.Errorf("search %s: unescaped title, inline style or inline script", place)
		}
	}
	code, page := ua.page("/cases?place=Lviv")
	if code != http.StatusOK || strings.Contains(page, "UA-2022-000031") || !strings.Contains(page, "No case matches the search.") {
		t.Errorf("a search for Lviv: %d, lists UA's case or no empty row", code)
	}
	// Other filters: words of the title, dates, crime code, distance.
	for _, q := range []string{"text=shelling", "from=2022-03-01&to=2022-03-01", "crime_code=RS-8.2.b.i", "lat=50&lon=36.2&radius_km=5"} {
		if _, page := ua.page("/cases?" + q); !strings.Contains(page, `href="/cases/UA-2022-000031"`) {
			t.Errorf("%s does not find UA's case", q)
		}
	}
	if _, page := ua.page("/cases?from=2022-03-02"); strings.Contains(page, `href="/cases/UA-2022-000031"`) {
		t.Errorf("from=2022-03-02 finds a case of 1 March")
	}

	m := ua.mapJSON("/cases/map.json?place=Kharkiv&zoom=10&south=45&west=30&north=52&east=40")
	if m.Cases != 1 || len(m.Cells) != 1 || m.Cells[0].Lat != 49.9935 || m.Cells[0].Lon != 36.2304 || m.Cells[0].Cases != 1 ||
		m.Cells[0].Case != "UA-2022-000031" || m.Cells[0].Href != "/cases/UA-2022-000031" || m.CellDeg != 360.0/1024*mapCellPx/256 {
		t.Errorf("map: %+v", m)
	}

	// A second case 40 km away: one cell of two cases at zoom 3, two at
	// zoom 10; a box without them has no cell but counts both.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	lat, lon := 49.7, 36.5
	if _, err := f.cases["UA"].CreateCase(ctx, &accordv1.CreateCaseRequest{Case: &accordv1.Case{CaseId: "UA-2022-000032", Country: "UA",
		Title: "Second case", Sensitivity: accordv1.Sensitivity_SENSITIVITY_NATIONAL,
		Incidents: []*accordv1.Incident{{Start: "2022-04-01T08:00:00Z", Place: "Kharkiv Oblast", Lat: &lat, Lon: &lon}}}}); err != nil {
		t.Fatal(err)
	}
	m = ua.mapJSON("/cases/map.json?zoom=3")
	if m.Cases != 2 || len(m.Cells) != 1 || m.Cells[0].Cases != 2 || m.Cells[0].Case != "" || m.Cells[0].Href != "" ||
		m.Cells[0].Lat != (49.9935+49.7)/2 || m.Cells[0].South > 49.7 || m.Cells[0].North < 49.9935 {
		t.Errorf("map at zoom 3: %+v", m)
	}
	if m = ua.mapJSON("/cases/map.json?zoom=10&south=49&west=35&north=51&east=38"); m.Cases != 2 || len(m.Cells) != 2 {
		t.Errorf("map at zoom 10: %+v", m)
	}
	if m = ua.mapJSON("/cases/map.json?zoom=10&south=40&west=20&north=41&east=21"); m.Cases != 2 || len(m.Cells) != 0 {
		t.Errorf("map of a box without the cases: %+v", m)
	}
	_, page = ua.page("/cases")
	wantIn(t, "two cases", page, "Matching cases: 2", "Week of 28 February 2022: 1 cases", "Week of 28 March 2022: 1 cases")
	for q, field := range map[string]string{"zoom=19": "zoom", "zoom=x": "zoom", "south=1": "south", "zoom=3&south=1&west=x&north=2&east=3": "west"} {
		for _, p := range []string{"/cases/map.json?", "/federation/map.json?"} {
			if code, page := ua.page(p + q); code != http.StatusBadRequest || !strings.Contains(page, field) {
				t.Errorf("%s%s: %d, want 400 naming %s\n%s", p, q, code, field, page)
			}
		}
	}

	code, page = ua.page("/cases/UA-2022-000031")
	if code != http.StatusOK {
		t.Fatalf("case page: %d\n%s", code, page)
	}
	wantIn(t, "case page", page, "Case UA-2022-000031", "Shelling &lt;img src=x onerror=alert(1)&gt; of Kharkiv", "Харків", "Харківська область",
		"2022-03-01T08:00:00&#43;02:00", "49.9935, 36.2304", "RS-8.2.b.i", "64th Separate Motor Rifle Brigade", "UA-E1", strings.Repeat("c3", 32),
		"Custody chain verified (1 events).", "registered", "Version 1, last changed")
	if strings.Contains(page, "<img src=x") {
		t.Errorf("the case page's title is not escaped")
	}
	if code, page := ua.page("/cases/UA-2099-000001"); code != http.StatusNotFound {
		t.Errorf("an unknown case: %d\n%s", code, page)
	}

	// Bad filters: refused, naming the field, with 400.
	for q, field := range map[string]string{"radius_km=-1": "radius_km", "from=2022-13-01": "from", "to=yesterday": "to", "lat=north&radius_km=3": "lat",
		"lat=95&lon=30&radius_km=3": "near_lat"} {
		for _, p := range []string{"/cases?", "/cases/map.json?", "/federation?", "/federation/map.json?"} {
			code, page := ua.page(p + q)
			if code != http.StatusBadRequest || !strings.Contains(page, field) {
				t.Errorf("%s%s: %d, want 400 naming %s\n%s", p, q, code, field, page)
			}
		}
	}
}

// TestConsoleFederation: the federation search finds PL's shared case of
// Charków by Kharkiv, shows it without person encodings, and the status
// panel lists PL.
func TestConsoleFederation(t *testing.T) {
	f := startFixture(t)
	ua := f.signIn(t, "UA")
	for _, place := range []string{"Kharkiv", "Харків"} {
		code, page := ua.page("/federation?place=" + url.QueryEscape(place))
		if code != http.StatusOK {
			t.Fatalf("federation %s: %d\n%s", place, code, page)
		}
		wantIn(t, "federation "+place, page, `href="/federation/PL/PL-2022-000031"`, "Ostrzał osiedla w Charkowie", "Charków", "2022-03-01",
			"Exchange status", "<td>PL</td>", `aria-current="page">Federation`)
		if strings.Contains(page, "UA-2022-000031") {
			t.Errorf("the federation search lists the office's own case")
		}
	}
	if _, page := ua.page("/federation?member=UA&place=Kharkiv"); strings.Contains(page, "PL-2022-000031") {
		t.Errorf("member=UA lists PL's case")
	}
	_, page := ua.page("/federation?place=Kharkiv")
	wantIn(t, "federation map", page, "Matching cases: 1", `id="cases-map"`, `data-src="/federation/map.json?place=Kharkiv"`, `class="week"`)
	m := ua.mapJSON("/federation/map.json?place=Kharkiv&zoom=8")
	if m.Cases != 1 || len(m.Cells) != 1 || m.Cells[0].Case != "PL/PL-2022-000031" || m.Cells[0].Href != "/federation/PL/PL-2022-000031" {
		t.Errorf("federation map: %+v", m)
	}
	if m := ua.mapJSON("/federation/map.json?member=UA&place=Kharkiv"); m.Cases != 0 || len(m.Cells) != 0 {
		t.Errorf("federation map of member UA: %+v", m)
	}
	code, page := ua.page("/federation/PL/PL-2022-000031")
	if code != http.StatusOK {
		t.Fatalf("shared case: %d\n%s", code, page)
	}
	wantIn(t, "shared case", page, "Shared case PL/PL-2022-000031", "Ostrzał osiedla w Charkowie", "Charków", "obwód charkowski",
		"2022-03-01T06:10:00Z", "RS-8.2.b.i", "64 OMSBr", strings.Repeat("c3", 32), "video/mp4", "Shared by PL")
	if code, _ := ua.page("/federation/PL/PL-2099-000001"); code != http.StatusNotFound {
		t.Errorf("an unknown shared case: %d", code)
	}
}

// TestConsoleCasesLanguages: the new pages render in every language
// without a missing string.
func TestConsoleCasesLanguages(t *testing.T) {
	f := startFixture(t)
	ua := f.signIn(t, "UA")
	for _, l := range languages {
		ua.do(http.MethodGet, "/cases?lang="+l.Code, nil, "")
		for _, p := range []string{"/cases?place=Kharkiv", "/cases/UA-2022-000031", "/federation?place=Kharkiv", "/federation/PL/PL-2022-000031"} {
			code, page := ua.page(p)
			if code != http.StatusOK || !strings.Contains(page, `<html lang="`+l.Code+`">`) {
				t.Errorf("%s in %s: %d", p, l.Code, code)
			}
			if m := regexp.MustCompile(`\[[a-z_]+\.[a-z_.0-9]+\]`).FindString(page); m != "" {
				t.Errorf("%s in %s shows a missing string %s", p, l.Code, m)
			}
		}
	}
}

// TestBrowserCases: in Chromium the case search draws its markers
// (clustered) on the map, with no CSP violation or exception.
func TestBrowserCases(t *testing.T) {
	h := newHeadless(t)
	f := startFixture(t)
	h.run(t, "sign in", chromedp.Navigate(f.consoles["UA"].URL+"/login?token="+f.tokens["UA"]), chromedp.WaitVisible(chromedp.CSS(`a[href="/cases"]`)))
	h.run(t, "cases", chromedp.Click(chromedp.CSS(`a[href="/cases"]`)), chromedp.WaitVisible(chromedp.CSS(`#s-place`)),
		chromedp.SendKeys(chromedp.CSS(`#s-place`), "Kharkiv"), chromedp.Click(chromedp.CSS(`form.search button`)),
		// The results page: the field's value attribute (typing sets
		// only the property of the page before).
		chromedp.WaitVisible(chromedp.CSS(`#s-place[value="Kharkiv"]`)),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/cases/UA-2022-000031"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#cases-map .leaflet-marker-icon`)),
		// The base map's borders, around the incidents.
		chromedp.WaitVisible(chromedp.CSS(`#cases-map .leaflet-overlay-pane svg path`)))
	markers := value(t, h, "markers", chromedp.Evaluate[int](`document.querySelectorAll("#cases-map .leaflet-marker-icon").length`))
	if markers != 1 {
		t.Errorf("the map draws %d markers, want 1", markers)
	}
	h.shot(t, "cases")

	// A second case in the same cell: a circle counting two.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	lat, lon := 49.98, 36.25
	if _, err := f.cases["UA"].CreateCase(ctx, &accordv1.CreateCaseRequest{Case: &accordv1.Case{CaseId: "UA-2022-000033", Country: "UA",
		Title: "Near case", Sensitivity: accordv1.Sensitivity_SENSITIVITY_NATIONAL,
		Incidents: []*accordv1.Incident{{Start: "2022-03-02T08:00:00Z", Place: "Kharkiv", Lat: &lat, Lon: &lon}}}}); err != nil {
		t.Fatal(err)
	}
	h.run(t, "cells", chromedp.Navigate(f.consoles["UA"].URL+"/cases?place=Kharkiv"), chromedp.WaitVisible(chromedp.CSS(`#cases-map path.leaflet-interactive`)))
	if note := value(t, h, "map note", chromedp.Text(chromedp.CSS(`#map-note`))); !strings.Contains(note, "each circle is an area") {
		t.Errorf("the note under the map of cells: %q", note)
	}

	h.run(t, "case page", chromedp.Click(chromedp.CSS(`a[href="/cases/UA-2022-000031"]`)), chromedp.WaitVisible(chromedp.CSS(`table.custody`)))
	h.shot(t, "case")
	h.run(t, "federation", chromedp.Navigate(f.consoles["UA"].URL+"/federation?place=Kharkiv"), chromedp.WaitVisible(chromedp.CSS(`a[href="/federation/PL/PL-2022-000031"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#cases-map .leaflet-marker-icon`)))
	h.shot(t, "federation")
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.dialogs) > 0 || len(h.problems) > 0 {
		t.Errorf("dialogs %q, page problems %q", h.dialogs, h.problems)
	}
}

// aggregatingCases is a connection whose CaseService.AggregateCases
// answers two cells and keeps the last request.
type aggregatingCases struct {
	fakeConn
	mu   sync.Mutex
	last *accordv1.AggregateCasesRequest
}

func (c *aggregatingCases) Invoke(_ context.Context, method string, req, reply any, _ ...grpc.CallOption) error {
	if method != accordv1.CaseService_AggregateCases_FullMethodName {
		return status.Error(codes.Unimplemented, method)
	}
	c.mu.Lock()
	c.last = proto.Clone(req.(proto.Message)).(*accordv1.AggregateCasesRequest)
	c.mu.Unlock()
	proto.Merge(reply.(proto.Message), &accordv1.AggregateCasesResponse{CaseCount: 250000, Cells: []*accordv1.MapCell{
		{Lat: 49.9, Lon: 36.2, Bounds: &accordv1.GeoBox{South: 49, West: 36, North: 50, East: 37}, CaseCount: 249999},
		{Lat: 50.4, Lon: 30.5, Bounds: &accordv1.GeoBox{South: 50, West: 30, North: 51, East: 31}, CaseCount: 1, CaseId: "UA/1"},
	}})
	return nil
}

// TestCasesMapFromTheNode: map.json asks the node's AggregateCases with
// the search's filter, the cell size of the zoom and the view's box
// (clamped to the world), and passes on every cell and the count.
func TestCasesMapFromTheNode(t *testing.T) {
	conn := &aggregatingCases{}
	token := randomToken()
	srv, err := New(Options{Conn: conn, Member: "UA", User: "analyst", LoginToken: token})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	jar, _ := cookiejar.New(nil)
	b := &browser{t: t, base: ts.URL, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	b.do(http.MethodGet, "/login?token="+token, nil, "")
	m := b.mapJSON("/cases/map.json?place=Kharkiv&zoom=6&south=40.5&west=-200&north=95&east=45")
	conn.mu.Lock()
	req := conn.last
	conn.mu.Unlock()
	wantBox := &accordv1.GeoBox{South: 40.5, West: -180, North: 90, East: 45}
	if req.GetFilter().GetPlace() != "Kharkiv" || req.GetCellDeg() != 360.0/64*mapCellPx/256 || !proto.Equal(req.GetBounds(), wantBox) {
		t.Errorf("the node was asked %v", req)
	}
	if m.Cases != 250000 || len(m.Cells) != 2 || m.Cells[0].Cases != 249999 || m.Cells[0].Href != "" || m.Cells[0].South != 49 ||
		m.Cells[1].Case != "UA/1" || m.Cells[1].Href != "/cases/UA%2F1" || m.CellDeg != req.GetCellDeg() {
		t.Errorf("map: %+v", m)
	}
	// Without a view: the whole world, cells of the default zoom.
	b.mapJSON("/cases/map.json")
	conn.mu.Lock()
	req = conn.last
	conn.mu.Unlock()
	if req.GetBounds() != nil || req.GetCellDeg() != 360.0/8*mapCellPx/256 {
		t.Errorf("the node was asked %v", req)
	}
}

// TestWeekChartBoundsItsSpan: a member's case dated in year 1 or 9999
// does not stretch the timeline over centuries: the chart draws the ten
// years with the most cases and says how many lie outside.
func TestWeekChartBoundsItsSpan(t *testing.T) {
	monday := func(y int, m time.Month, d int) time.Time {
		t := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
		return t.AddDate(0, 0, -(int(t.Weekday())+6)%7)
	}
	weeks := map[time.Time]int{}
	for i := range 60 {
		weeks[monday(2022, 3, 1).AddDate(0, 0, 7*i)] = 1 + i%4
	}
	c := newWeekChart("en", weeks)
	if c.Outside != 0 || c.From != "28 February 2022" || len(c.Bars) != 60 {
		t.Fatalf("a year of weeks: from %s, %d bars, %d outside", c.From, len(c.Bars), c.Outside)
	}
	weeks[monday(1, 1, 3)] = 1
	weeks[monday(9999, 6, 1)] = 2
	c = newWeekChart("en", weeks)
	if c.Outside != 3 || c.From != "28 February 2022" || len(c.Bars) != 60 || c.Width > weekChartLeft+maxChartWeeks*2+10 {
		t.Errorf("with weeks in years 1 and 9999: from %s to %s, %d bars, %d outside, %d px wide", c.From, c.To, len(c.Bars), c.Outside, c.Width)
	}
}
