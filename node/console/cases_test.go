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
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// mapAnswer is /cases/map.json as the tests read it.
type mapAnswer struct {
	Cases   int  `json:"cases"`
	Stopped bool `json:"stopped"`
	Points  []struct {
		Lat, Lon    float64
		Case, Place string
	} `json:"points"`
	Cells []struct {
		Lat, Lon float64
		Cases    int
	} `json:"cells"`
	CellDeg float64 `json:"cell_deg"`
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

// setBound sets a package bound for one test.
func setBound(t *testing.T, v *int, to int) {
	old := *v
	*v = to
	t.Cleanup(func() { *v = old })
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

	m := ua.mapJSON("/cases/map.json?place=Kharkiv")
	if m.Cases != 1 || m.Stopped || len(m.Points) != 1 || len(m.Cells) != 0 || m.Points[0].Lat != 49.9935 || m.Points[0].Lon != 36.2304 ||
		m.Points[0].Case != "UA-2022-000031" || m.Points[0].Place != "Харків" {
		t.Errorf("map: %+v", m)
	}
	setBound(t, &mapPointLimit, 0)
	m = ua.mapJSON("/cases/map.json?place=Kharkiv")
	if len(m.Points) != 0 || len(m.Cells) != 1 || m.Cells[0].Cases != 1 || m.CellDeg != baseCellDeg ||
		m.Cells[0].Lat != 49.875 || m.Cells[0].Lon != 36.125 {
		t.Errorf("map above the point bound: %+v", m)
	}

	// The page renders with a bound that stops the read early.
	setBound(t, &mapCaseLimit, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	lat, lon := 48.5, 35.0
	if _, err := f.cases["UA"].CreateCase(ctx, &accordv1.CreateCaseRequest{Case: &accordv1.Case{CaseId: "UA-2022-000032", Country: "UA",
		Title: "Second case", Sensitivity: accordv1.Sensitivity_SENSITIVITY_NATIONAL,
		Incidents: []*accordv1.Incident{{Start: "2022-04-01T08:00:00Z", Place: "Дніпро", Lat: &lat, Lon: &lon}}}}); err != nil {
		t.Fatal(err)
	}
	m = ua.mapJSON("/cases/map.json")
	if m.Cases != 1 || !m.Stopped {
		t.Errorf("with the case bound 1 and 2 cases: %+v", m)
	}
	_, page = ua.page("/cases")
	wantIn(t, "search stopped early", page, "stopped after the first 1 matching cases", "Matching cases: 1")

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
		for _, p := range []string{"/cases?", "/cases/map.json?", "/federation?"} {
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
		chromedp.WaitVisible(chromedp.CSS(`#cases-map .leaflet-marker-icon`)))
	markers := value(t, h, "markers", chromedp.Evaluate[int](`document.querySelectorAll("#cases-map .leaflet-marker-icon").length`))
	if markers != 1 {
		t.Errorf("the map draws %d markers, want 1", markers)
	}
	h.shot(t, "cases")

	// Above the point bound: cells, drawn as circles.
	setBound(t, &mapPointLimit, 0)
	h.run(t, "cells", chromedp.Navigate(f.consoles["UA"].URL+"/cases?place=Kharkiv"), chromedp.WaitVisible(chromedp.CSS(`#cases-map path.leaflet-interactive`)))
	if note := value(t, h, "map note", chromedp.Text(chromedp.CSS(`#map-note`))); !strings.Contains(note, "each circle is an area") {
		t.Errorf("the note under the map of cells: %q", note)
	}

	h.run(t, "case page", chromedp.Click(chromedp.CSS(`a[href="/cases/UA-2022-000031"]`)), chromedp.WaitVisible(chromedp.CSS(`table.custody`)))
	h.shot(t, "case")
	h.run(t, "federation", chromedp.Navigate(f.consoles["UA"].URL+"/federation?place=Kharkiv"), chromedp.WaitVisible(chromedp.CSS(`a[href="/federation/PL/PL-2022-000031"]`)))
	h.shot(t, "federation")
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.dialogs) > 0 || len(h.problems) > 0 {
		t.Errorf("dialogs %q, page problems %q", h.dialogs, h.problems)
	}
}

// countingCases is a connection whose CaseService.ListCases answers one
// case and counts its calls.
type countingCases struct {
	fakeConn
	calls atomic.Int32
}

func (c *countingCases) Invoke(_ context.Context, method string, _, reply any, _ ...grpc.CallOption) error {
	if method != accordv1.CaseService_ListCases_FullMethodName {
		return status.Error(codes.Unimplemented, method)
	}
	c.calls.Add(1)
	lat, lon := 49.99, 36.23
	proto.Merge(reply.(proto.Message), &accordv1.ListCasesResponse{Cases: []*accordv1.Case{{CaseId: "UA-1", Title: "x",
		Incidents: []*accordv1.Incident{{Start: "2022-03-01T10:00:00Z", Place: "Kharkiv", Lat: &lat, Lon: &lon}}}}})
	return nil
}

// TestCasesSearchReadOnce: a search's page and its map read the matching
// cases once (the session keeps the read for a minute); another search
// reads again.
func TestCasesSearchReadOnce(t *testing.T) {
	conn := &countingCases{}
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
	for _, p := range []string{"/cases?place=Kharkiv", "/cases/map.json?place=Kharkiv", "/cases?place=Kharkiv&page_token=x"} {
		if code, body := b.page(p); code != http.StatusOK {
			t.Fatalf("%s: %d %s", p, code, body)
		}
	}
	// One ListCases for each results page (2), one read for the search.
	if n := conn.calls.Load(); n != 3 {
		t.Errorf("%d ListCases calls, want 3: the search read once", n)
	}
	b.page("/cases/map.json?place=Lviv")
	if n := conn.calls.Load(); n != 4 {
		t.Errorf("%d ListCases calls after another search, want 4", n)
	}
}
