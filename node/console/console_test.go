package console

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/accordfed/accord/federation/pki/pkitest"
	"github.com/accordfed/accord/federation/raftnet/raftnettest"
	"github.com/accordfed/accord/node/daemon/daemontest"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// fixture is a two-member federation whose matcher proposed one match,
// with a console for each office's analyst.
type fixture struct {
	consoles map[string]*httptest.Server
	tokens   map[string]string
	coord    map[string]accordv1.CoordinationServiceClient
	cases    map[string]accordv1.CaseServiceClient
	match    string
}

// xssTitle is a case title that must show as text.
const xssTitle = `Shelling <img src=x onerror=alert(1)> of Kharkiv`

func startFixture(t *testing.T) *fixture {
	t.Helper()
	fed := pkitest.NewFederation(t, "accord.test", "UA", "PL")
	nodes, _ := daemontest.StartFederation(t, fed, nil, "UA", "PL")
	f := &fixture{consoles: map[string]*httptest.Server{}, tokens: map[string]string{}, coord: map[string]accordv1.CoordinationServiceClient{},
		cases: map[string]accordv1.CaseServiceClient{}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	video := strings.Repeat("c3", 32)
	lat, lon, lat2, lon2 := 49.9935, 36.2304, 49.9951, 36.2288
	cases := map[string]*accordv1.Case{
		"UA": {CaseId: "UA-2022-000031", Country: "UA", Title: xssTitle, Sensitivity: accordv1.Sensitivity_SENSITIVITY_FEDERATION,
			CrimeCodes: []string{"RS-8.2.b.i"}, VictimCount: ptr[int64](3),
			Incidents:    []*accordv1.Incident{{Start: "2022-03-01T08:00:00+02:00", End: "2022-03-01T09:00:00+02:00", Place: "Харків", Region: "Харківська область", Lat: &lat, Lon: &lon}},
			Perpetrators: []*accordv1.Perpetrator{{Kind: accordv1.PerpetratorKind_PERPETRATOR_KIND_UNIT, Name: "64th Separate Motor Rifle Brigade"}},
			Evidence:     []*accordv1.EvidenceRef{{Id: "UA-E1", Sha256: video, MediaType: "video/mp4"}}},
		"PL": {CaseId: "PL-2022-000031", Country: "PL", Title: "Ostrzał osiedla w Charkowie", Sensitivity: accordv1.Sensitivity_SENSITIVITY_FEDERATION,
			CrimeCodes: []string{"RS-8.2.b.i"}, VictimCount: ptr[int64](3),
			Incidents:    []*accordv1.Incident{{Start: "2022-03-01T06:10:00Z", End: "2022-03-01T07:00:00Z", Place: "Charków", Region: "obwód charkowski", Lat: &lat2, Lon: &lon2}},
			Perpetrators: []*accordv1.Perpetrator{{Kind: accordv1.PerpetratorKind_PERPETRATOR_KIND_UNIT, Name: "64 OMSBr"}},
			Evidence:     []*accordv1.EvidenceRef{{Id: "PL-E1", Sha256: video, MediaType: "video/mp4"}}},
	}
	for _, n := range nodes {
		conn := daemontest.LocalConn(t, n.D, fed.User(n.Member, "analyst"), n.Member)
		if _, err := accordv1.NewCaseServiceClient(conn).CreateCase(ctx, &accordv1.CreateCaseRequest{Case: cases[n.Member]}); err != nil {
			t.Fatal(err)
		}
		f.coord[n.Member] = accordv1.NewCoordinationServiceClient(conn)
		f.cases[n.Member] = accordv1.NewCaseServiceClient(conn)
		f.tokens[n.Member] = randomToken()
		srv, err := New(Options{Conn: conn, Member: n.Member, User: "analyst", LoginToken: f.tokens[n.Member]})
		if err != nil {
			t.Fatal(err)
		}
		f.consoles[n.Member] = httptest.NewServer(srv)
		t.Cleanup(f.consoles[n.Member].Close)
	}
	raftnettest.WaitFor(t, 30*time.Second, func() error {
		r, err := f.coord["UA"].ListMatchDecisions(ctx, &accordv1.ListMatchDecisionsRequest{AwaitingAnswer: true})
		if err != nil {
			return err
		}
		if len(r.GetMatchDecisions()) != 1 {
			return fmt.Errorf("UA's queue holds %d decisions", len(r.GetMatchDecisions()))
		}
		f.match = shortName(r.GetMatchDecisions()[0].GetName())
		return nil
	})
	// Until the matcher has indexed both cases the pair is not scored.
	raftnettest.WaitFor(t, 30*time.Second, func() error {
		r, err := f.coord["UA"].CompareMatchDecision(ctx, &accordv1.CompareMatchDecisionRequest{Name: "matchDecisions/" + f.match})
		if err != nil {
			return err
		}
		if len(r.GetPairs()) != 1 || !r.GetPairs()[0].GetScored() {
			return fmt.Errorf("the pair is not scored yet")
		}
		return nil
	})
	return f
}

func ptr[T any](v T) *T { return &v }

// browser is an HTTP client with a cookie jar, signed in to a console.
type browser struct {
	t    *testing.T
	c    *http.Client
	base string
}

func (f *fixture) signIn(t *testing.T, member string) *browser {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	b := &browser{t: t, base: f.consoles[member].URL, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	resp := b.do(http.MethodGet, "/login?token="+f.tokens[member], nil, "")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/queue" {
		t.Fatalf("login: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	for _, c := range resp.Cookies() {
		if c.Name == sessionCookie && (!c.HttpOnly || c.SameSite != http.SameSiteStrictMode) {
			t.Errorf("session cookie %+v: want HttpOnly and SameSite=Strict", c)
		}
	}
	return b
}

func (b *browser) do(method, path string, form url.Values, origin string) *http.Response {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.base+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	b.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func (b *browser) page(path string) (int, string) {
	b.t.Helper()
	resp := b.do(http.MethodGet, path, nil, "")
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

func wantIn(t *testing.T, what, page string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(page, w) {
			t.Errorf("%s lacks %q", what, w)
		}
	}
}

// TestConsoleReview: an analyst signs in with the one-time link, reads the
// queue, opens the match with both cases side by side, and confirms it; a
// change without the session's CSRF token or from another origin is
// refused; the other office confirms through its own console.
func TestConsoleReview(t *testing.T) {
	f := startFixture(t)
	ua := f.signIn(t, "UA")
	// The link works once.
	if code, _ := (&browser{t: t, base: ua.base, c: http.DefaultClient}).page("/login?token=" + f.tokens["UA"]); code != http.StatusForbidden {
		t.Errorf("a used sign-in link: %d, want 403", code)
	}
	if code, _ := (&browser{t: t, base: ua.base, c: http.DefaultClient}).page("/queue"); code != http.StatusUnauthorized {
		t.Errorf("the queue without a session: %d, want 401", code)
	}

	resp := ua.do(http.MethodGet, "/queue", nil, "")
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("CSP %q", csp)
	}
	code, queue := ua.page("/queue")
	if code != http.StatusOK {
		t.Fatalf("queue: %d\n%s", code, queue)
	}
	wantIn(t, "queue", queue, f.match, "PL/PL-2022-000031", "Review queue", `href="/matches/`+f.match+`"`)

	code, page := ua.page("/matches/" + f.match)
	if code != http.StatusOK {
		t.Fatalf("match: %d\n%s", code, page)
	}
	wantIn(t, "match page", page, "UA/UA-2022-000031", "PL/PL-2022-000031", "Charków", "obwód charkowski", "Харків",
		"2022-03-01T06:10:00Z", "2022-03-01T08:00:00&#43;02:00", "the pair the score compares", "64 OMSBr", "1 in common",
		`id="map"`, `data-points="[{`, "<svg class=\"timeline\"", "How the score came about", "Confirm: the same incident")
	// The XSS title shows as text.
	if strings.Contains(page, "<img src=x") || !strings.Contains(page, "Shelling &lt;img src=x onerror=alert(1)&gt; of Kharkiv") {
		t.Errorf("the title is not escaped:\n%s", page)
	}
	if strings.Contains(page, "style=") || regexp.MustCompile(`<script>[^<]`).MatchString(page) {
		t.Errorf("inline style or script on the page")
	}

	m := csrfRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token on the page")
	}
	form := url.Values{"answer": {"yes"}, "reason": {"same video"}, "request_id": {"console-test-1"}}
	// Without the token, with a wrong one, or from another origin: refused.
	for _, c := range []struct {
		csrf, origin string
	}{{"", ua.base}, {strings.Repeat("0", 64), ua.base}, {m[1], "https://evil.example"}} {
		form.Set("csrf", c.csrf)
		if r := ua.do(http.MethodPost, "/matches/"+f.match+"/answer", form, c.origin); r.StatusCode != http.StatusForbidden {
			t.Errorf("csrf %q origin %q: %d, want 403", c.csrf, c.origin, r.StatusCode)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := f.coord["UA"].GetMatchDecision(ctx, &accordv1.GetMatchDecisionRequest{Name: "matchDecisions/" + f.match})
	if err != nil || d.GetMatchDecision().GetAnswers()[1].GetAnswer() != accordv1.Answer_ANSWER_PENDING {
		t.Fatalf("a refused form changed the answer: %v %v", d, err)
	}
	form.Set("csrf", m[1])
	r := ua.do(http.MethodPost, "/matches/"+f.match+"/answer", form, ua.base)
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/matches/"+f.match+"?done=yes" {
		t.Fatalf("confirm: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	_, page = ua.page("/matches/" + f.match + "?done=yes")
	wantIn(t, "after confirming", page, "Your office confirmed this match.", "same video")

	// A rejection without a reason: the node's refusal, naming the field.
	pl := f.signIn(t, "PL")
	_, page = pl.page("/matches/" + f.match)
	m = csrfRE.FindStringSubmatch(page)
	r = pl.do(http.MethodPost, "/matches/"+f.match+"/answer", url.Values{"csrf": {m[1]}, "answer": {"no"}, "request_id": {"pl-1"}}, pl.base)
	body, _ := io.ReadAll(r.Body)
	if r.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "reason") {
		t.Errorf("a rejection without a reason: %d\n%s", r.StatusCode, body)
	}
	r = pl.do(http.MethodPost, "/matches/"+f.match+"/answer", url.Values{"csrf": {m[1]}, "answer": {"yes"}, "request_id": {"pl-2"}}, pl.base)
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("PL confirms: %d", r.StatusCode)
	}
	d, err = f.coord["UA"].GetMatchDecision(ctx, &accordv1.GetMatchDecisionRequest{Name: "matchDecisions/" + f.match})
	if err != nil || d.GetMatchDecision().GetState() != accordv1.MatchDecisionState_MATCH_DECISION_STATE_CONFIRMED {
		t.Fatalf("after both consoles confirmed: %v %v", d, err)
	}
}

// TestConsoleRule: the rule page's dry run answers nothing; its apply
// answers what it showed.
func TestConsoleRule(t *testing.T) {
	f := startFixture(t)
	ua := f.signIn(t, "UA")
	_, page := ua.page("/rule")
	m := csrfRE.FindStringSubmatch(page)
	r := ua.do(http.MethodPost, "/rule", url.Values{"csrf": {m[1]}, "action": {"dryrun"}, "answer": {"yes"}, "min_score": {"0.5"}, "shared_evidence": {"1"}}, ua.base)
	body, _ := io.ReadAll(r.Body)
	if r.StatusCode != http.StatusOK {
		t.Fatalf("dry run: %d\n%s", r.StatusCode, body)
	}
	wantIn(t, "dry run", string(body), "The rule selects 1 matches", f.match, "Confirm these 1 matches")
	sel := regexp.MustCompile(`name="selection" value="(sel1\.[0-9a-f]+)"`).FindStringSubmatch(string(body))
	rid := regexp.MustCompile(`name="request_id" value="([^"]+)"`).FindStringSubmatch(string(body))
	if sel == nil || rid == nil {
		t.Fatalf("no selection form:\n%s", body)
	}
	// Bad input: the node's refusal names the field.
	r = ua.do(http.MethodPost, "/rule", url.Values{"csrf": {m[1]}, "action": {"dryrun"}, "answer": {"yes"}, "min_score": {"2"}}, ua.base)
	body, _ = io.ReadAll(r.Body)
	if r.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "rule.min_score") {
		t.Errorf("min_score 2: %d", r.StatusCode)
	}
	r = ua.do(http.MethodPost, "/rule", url.Values{"csrf": {m[1]}, "action": {"apply"}, "answer": {"yes"}, "selection": {sel[1]}, "request_id": {rid[1]}}, ua.base)
	body, _ = io.ReadAll(r.Body)
	if r.StatusCode != http.StatusOK {
		t.Fatalf("apply: %d\n%s", r.StatusCode, body)
	}
	wantIn(t, "apply", string(body), "Answered: 1; failed: 0")
}

// TestConsoleLanguages: the switch sets the language on any page; every
// page renders in every language without a missing string.
func TestConsoleLanguages(t *testing.T) {
	f := startFixture(t)
	ua := f.signIn(t, "UA")
	r := ua.do(http.MethodGet, "/matches/"+f.match+"?lang=uk", nil, "")
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/matches/"+f.match {
		t.Fatalf("switch: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	_, page := ua.page("/matches/" + f.match)
	wantIn(t, "Ukrainian page", page, `<html lang="uk">`, "Черга розгляду", "Підтвердити: той самий інцидент", "березня")
	// The switch keeps a search.
	_, page = ua.page("/queue?member=PL&min_score=0.5")
	wantIn(t, "the switch's links", page, `href="/queue?lang=de&amp;member=PL&amp;min_score=0.5"`)
	for _, l := range languages {
		ua.do(http.MethodGet, "/queue?lang="+l.Code, nil, "")
		for _, p := range []string{"/queue", "/matches/" + f.match, "/rule"} {
			code, page := ua.page(p)
			if code != http.StatusOK {
				t.Errorf("%s in %s: %d", p, l.Code, code)
			}
			if m := regexp.MustCompile(`\[[a-z_]+\.[a-z_.0-9]+\]`).FindString(page); m != "" {
				t.Errorf("%s in %s shows a missing string %s", p, l.Code, m)
			}
		}
	}
}

// TestCatalogs: every catalog has every key of English and no other, with
// the same format verbs, and every key the templates and the code use is
// in English's.
func TestCatalogs(t *testing.T) {
	en := catalogKeys("en")
	verbs := regexp.MustCompile(`%[dsv]`)
	for _, l := range languages {
		if got := catalogKeys(l.Code); !slices.Equal(got, en) {
			t.Errorf("catalog %s: keys differ from English's (%d against %d)", l.Code, len(got), len(en))
			for _, k := range en {
				if _, ok := catalogs[l.Code][k]; !ok {
					t.Errorf("  %s lacks %s", l.Code, k)
				}
			}
		}
		for k, v := range catalogs[l.Code] {
			if a, b := verbs.FindAllString(v, -1), verbs.FindAllString(catalogs["en"][k], -1); !slices.Equal(a, b) {
				t.Errorf("%s %s: verbs %v, English has %v", l.Code, k, a, b)
			}
		}
	}
	used := map[string]bool{}
	files, _ := filepath.Glob("templates/*.html")
	goFiles, _ := filepath.Glob("*.go")
	tmplKey := regexp.MustCompile(`\{\{t [^"}]*"([a-z_.0-9]+)"`)
	goKey := regexp.MustCompile(`T\((?:q\.)?lang, "([a-z_.0-9]+)"`)
	for _, name := range append(files, goFiles...) {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, re := range []*regexp.Regexp{tmplKey, goKey} {
			for _, m := range re.FindAllStringSubmatch(string(b), -1) {
				used[m[1]] = true
			}
		}
	}
	if len(used) < 50 {
		t.Fatalf("found only %d keys in use: the scan is broken", len(used))
	}
	for k := range used {
		if _, ok := catalogs["en"][k]; !ok {
			t.Errorf("key %q is used but not in the catalogs", k)
		}
	}
}

// TestConsoleHost: a request whose Host is not the loopback (a page whose
// name was rebound to 127.0.0.1) is refused before anything else.
func TestConsoleHost(t *testing.T) {
	srv, err := New(Options{Conn: fakeConn{}, Member: "UA", User: "analyst", LoginToken: randomToken()})
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]int{
		"127.0.0.1:7480": http.StatusSeeOther, "localhost:7480": http.StatusSeeOther, "[::1]:7480": http.StatusSeeOther,
		"evil.example:7480": http.StatusMisdirectedRequest, "127.0.0.1.evil.example": http.StatusMisdirectedRequest,
	} {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Host = host
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("Host %s: %d, want %d", host, rec.Code, want)
		}
	}
	// With its own name, only that name and port.
	named, err := New(Options{Conn: fakeConn{}, Member: "UA", User: "analyst", LoginToken: randomToken(), Host: "c0ffee.localhost:7480"})
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]int{
		"c0ffee.localhost:7480": http.StatusSeeOther, "C0FFEE.localhost:7480": http.StatusSeeOther,
		"127.0.0.1:7480": http.StatusMisdirectedRequest, "c0ffee.localhost:7481": http.StatusMisdirectedRequest, "localhost:7480": http.StatusMisdirectedRequest,
	} {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Host = host
		rec := httptest.NewRecorder()
		named.ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("named console, Host %s: %d, want %d", host, rec.Code, want)
		}
	}
	// Another site may link to it, not load it (an image, a fetch).
	for _, c := range []struct {
		site, mode string
		want       int
	}{{"cross-site", "no-cors", http.StatusForbidden}, {"same-site", "cors", http.StatusForbidden}, {"cross-site", "navigate", http.StatusSeeOther}, {"none", "navigate", http.StatusSeeOther}} {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Host = "127.0.0.1:7480"
		req.Header.Set("Sec-Fetch-Site", c.site)
		req.Header.Set("Sec-Fetch-Mode", c.mode)
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code != c.want {
			t.Errorf("Sec-Fetch-Site %s, mode %s: %d, want %d", c.site, c.mode, rec.Code, c.want)
		}
	}
}

// TestSessionEnds: a session unused for sessionLife ends, whether or not
// a sweep of ended sessions has run since; one in use goes on.
func TestSessionEnds(t *testing.T) {
	now := time.Date(2026, 12, 8, 9, 0, 0, 0, time.UTC)
	token := randomToken()
	srv, err := New(Options{Conn: fakeConn{}, Member: "UA", User: "analyst", LoginToken: token, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	b := (&fixture{consoles: map[string]*httptest.Server{"UA": hs}, tokens: map[string]string{"UA": token}}).signIn(t, "UA")
	for range 3 {
		now = now.Add(sessionLife - time.Minute)
		if code, _ := b.page("/rule"); code != http.StatusOK {
			t.Fatalf("a session in use: %d", code)
		}
	}
	// Another browser's request sweeps just before the session ends; the
	// session's own next request, within the minute, finds it ended.
	now = now.Add(sessionLife - 30*time.Second)
	req, _ := http.NewRequest(http.MethodGet, hs.URL+"/rule", nil)
	req.AddCookie(&http.Cookie{Name: sessionCookie, Value: "another-browser"})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	now = now.Add(31 * time.Second)
	if code, _ := b.page("/rule"); code != http.StatusUnauthorized {
		t.Errorf("a session unused for longer than its life: %d, want 401", code)
	}
}
