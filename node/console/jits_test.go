package console

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"google.golang.org/grpc"

	"github.com/accordfed/accord/federation/pki/pkitest"
	"github.com/accordfed/accord/federation/raftnet/raftnettest"
	"github.com/accordfed/accord/node/audit"
	"github.com/accordfed/accord/node/config"
	"github.com/accordfed/accord/node/daemon/daemontest"
	"github.com/accordfed/accord/node/jitcontent"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// formRequestID returns the request id of the form posting to action on
// a page, or fails the test.
func formRequestID(t *testing.T, page, action string) string {
	t.Helper()
	re := regexp.MustCompile(`action="` + regexp.QuoteMeta(action) + `"[^>]*>\s*<input type="hidden" name="csrf" value="[0-9a-f]+">\s*<input type="hidden" name="request_id" value="([^"]+)"`)
	m := re.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no form to %s with a request id on the page", action)
	}
	return m[1]
}

// post sends a form with the page's CSRF token and returns the status,
// the Location and the body.
func (b *browser) post(path string, form url.Values) (int, string, string) {
	b.t.Helper()
	resp := b.do(http.MethodPost, path, form, b.base)
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Location"), string(body)
}

// csrfOf returns the CSRF token of a page.
func csrfOf(t *testing.T, page string) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no CSRF token on the page")
	}
	return m[1]
}

var jitPathRE = regexp.MustCompile(`^/jits/(jit-[0-9]+)\?done=created$`)

// TestConsoleJits: UA creates a team inviting PL through the form; PL sees
// the invitation and accepts it; UA adds a strategy entry and links a
// case; both workspaces show the members and the entry. A team without a
// name is refused by the node naming the field (400, nothing created); a
// form without the CSRF token is refused (403). The audit page shows the
// log's entries and its verified chain. Every page in every language.
func TestConsoleJits(t *testing.T) {
	f := startFixture(t)
	ua, pl := f.signIn(t, "UA"), f.signIn(t, "PL")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	code, page := ua.page("/jits")
	if code != http.StatusOK {
		t.Fatalf("/jits: %d\n%s", code, page)
	}
	wantIn(t, "teams page", page, "Joint investigation teams", "Create a team", `for="j-name"`, `aria-current="page">JITs`)
	csrf := csrfOf(t, page)
	rid := formRequestID(t, page, "/jits")

	// Without a name: the node's refusal names the field, nothing is made.
	code, _, body := ua.post("/jits", url.Values{"csrf": {csrf}, "request_id": {rid}, "legal_basis": {"Art. 13 EU MLA Convention 2000"}, "invite": {"PL"}})
	if code != http.StatusBadRequest || !strings.Contains(body, "display_name") {
		t.Errorf("a team without a name: %d, want 400 naming display_name\n%s", code, body)
	}
	// Without the CSRF token: 403.
	if code, _, _ := ua.post("/jits", url.Values{"request_id": {"console-x"}, "display_name": {"No token"}, "legal_basis": {"x"}}); code != http.StatusForbidden {
		t.Errorf("a team without the CSRF token: %d, want 403", code)
	}
	if r, err := f.coord["UA"].ListJits(ctx, &accordv1.ListJitsRequest{}); err != nil || len(r.GetJits()) != 0 {
		t.Fatalf("refused forms made teams: %v %v", r, err)
	}

	_, page = ua.page("/jits")
	code, loc, body := ua.post("/jits", url.Values{"csrf": {csrf}, "request_id": {formRequestID(t, page, "/jits")},
		"display_name": {"Kharkiv shelling 2022"}, "legal_basis": {"Art. 13 EU MLA Convention 2000"}, "invite": {"pl"}})
	m := jitPathRE.FindStringSubmatch(loc)
	if code != http.StatusSeeOther || m == nil {
		t.Fatalf("create: %d %q\n%s", code, loc, body)
	}
	id := m[1]
	code, page = ua.page(loc)
	if code != http.StatusOK {
		t.Fatalf("workspace: %d\n%s", code, page)
	}
	wantIn(t, "UA's new workspace", page, "The team was created.", "Team: Kharkiv shelling 2022", "Art. 13 EU MLA Convention 2000",
		"<td>PL</td><td>invited</td><td>UA</td>", "created the team “Kharkiv shelling 2022”", "Strategy board (0 entries)")

	// PL sees the invitation and accepts it.
	_, page = pl.page("/jits")
	// (An invited member reads the name once it holds the team key.)
	wantIn(t, "PL's teams", page, `href="/jits/`+id+`"`, "Invitation waiting for your answer")
	_, page = pl.page("/jits/" + id)
	wantIn(t, "PL's invitation", page, "Your office is invited", "Accept the invitation", "Decline the invitation")
	code, loc, body = pl.post("/jits/"+id+"/accept", url.Values{"csrf": {csrfOf(t, page)}, "request_id": {formRequestID(t, page, "/jits/"+id+"/accept")}})
	if code != http.StatusSeeOther || loc != "/jits/"+id+"?done=accepted" {
		t.Fatalf("accept: %d %q\n%s", code, loc, body)
	}
	_, page = pl.page(loc)
	wantIn(t, "PL after accepting", page, "Your office accepted the invitation.", `<td>PL <span class="hint">(your office)</span></td><td>accepted</td>`, "Add a strategy entry")

	// UA adds an entry and links a case.
	_, page = ua.page("/jits/" + id)
	code, loc, body = ua.post("/jits/"+id+"/entries", url.Values{"csrf": {csrf}, "request_id": {formRequestID(t, page, "/jits/"+id+"/entries")},
		"kind": {"target"}, "title": {"Artillery units around Kharkiv"}, "text": {"Compare the fire logs."}, "target_unit": {"64th Separate Motor Rifle Brigade"}})
	if code != http.StatusSeeOther || loc != "/jits/"+id+"?done=entry" {
		t.Fatalf("add an entry: %d %q\n%s", code, loc, body)
	}
	code, loc, body = ua.post("/jits/"+id+"/cases", url.Values{"csrf": {csrf}, "request_id": {formRequestID(t, page, "/jits/"+id+"/cases")}, "case_id": {"UA-2022-000031"}})
	if code != http.StatusSeeOther || loc != "/jits/"+id+"?done=linked" {
		t.Fatalf("link a case: %d %q\n%s", code, loc, body)
	}
	// An entry without a title: the node names the field.
	code, _, body = ua.post("/jits/"+id+"/entries", url.Values{"csrf": {csrf}, "request_id": {"console-no-title"}, "kind": {"theme"}})
	if code != http.StatusBadRequest || !strings.Contains(body, "title") {
		t.Errorf("an entry without a title: %d\n%s", code, body)
	}
	for who, b := range map[string]*browser{"UA": ua, "PL": pl} {
		other := map[string]string{"UA": "<td>PL</td><td>accepted</td>", "PL": `<td>UA <span class="hint">(lead)</span></td><td>accepted</td>`}[who]
		raftnettest.WaitFor(t, 10*time.Second, func() error {
			_, page := b.page("/jits/" + id)
			for _, w := range []string{other, "Kharkiv shelling 2022", "Artillery units around Kharkiv", "Targets: 64th Separate Motor Rifle Brigade",
				"by UA", "current, version 1", "Strategy board (1 entries)", "UA/UA-2022-000031", "linked case UA/UA-2022-000031", "PL: accepted"} {
				if !strings.Contains(page, w) {
					return &missing{who, w}
				}
			}
			return nil
		})
	}
	r, err := f.coord["PL"].ListStrategyEntries(ctx, &accordv1.ListStrategyEntriesRequest{Jit: "jits/" + id})
	if err != nil || len(r.GetStrategyEntries()) != 1 || r.GetStrategyEntries()[0].GetKind() != accordv1.StrategyEntryKind_STRATEGY_ENTRY_KIND_TARGET {
		t.Errorf("the team's entries as PL reads them: %v %v", r, err)
	}

	// A team proposal waiting for PL's consent: PL consents in its
	// workspace, and the change is made.
	if _, err := f.coord["UA"].SetJitLead(ctx, &accordv1.SetJitLeadRequest{Jit: "jits/" + id, Lead: "PL", RequestId: "test-lead-1"}); err != nil {
		t.Fatal(err)
	}
	_, page = pl.page("/jits/" + id)
	wantIn(t, "PL's proposals", page, "make PL the lead", "PL: pending", "Consent")
	action := regexp.MustCompile(`/jits/` + id + `/proposals/[0-9]+/consent`).FindString(page)
	if action == "" {
		t.Fatalf("no consent form on PL's workspace:\n%s", page)
	}
	code, loc, body = pl.post(action, url.Values{"csrf": {csrfOf(t, page)}, "request_id": {formRequestID(t, page, action)}, "answer": {"yes"}})
	if code != http.StatusSeeOther || loc != "/jits/"+id+"?done=consented" {
		t.Fatalf("consent: %d %q\n%s", code, loc, body)
	}
	_, page = pl.page(loc)
	wantIn(t, "PL after consenting", page, "answer was recorded.", "<dd>PL</dd>", "agreed")
	if j, err := f.coord["UA"].GetJit(ctx, &accordv1.GetJitRequest{Name: "jits/" + id}); err != nil || j.GetJit().GetLead() != "PL" {
		t.Errorf("after PL's consent: %v %v", j, err)
	}

	// The audit log.
	code, page = ua.page("/audit")
	if code != http.StatusOK {
		t.Fatalf("/audit: %d\n%s", code, page)
	}
	wantIn(t, "audit page", page, "The hash chain is verified", "Entries, newest first", `aria-current="page">Audit`)
	if strings.Contains(page, "The log has no entries yet.") || !regexp.MustCompile(`<td>(served|received|nudged)</td><td>PL · pl-1</td>`).MatchString(page) {
		t.Errorf("the audit page shows no exchange with PL:\n%s", page)
	}

	for _, l := range languages {
		ua.do(http.MethodGet, "/jits?lang="+l.Code, nil, "")
		for _, p := range []string{"/jits", "/jits/" + id, "/audit"} {
			code, page := ua.page(p)
			if code != http.StatusOK {
				t.Errorf("%s in %s: %d", p, l.Code, code)
			}
			if m := regexp.MustCompile(`\[[a-z_]+\.[a-z_.0-9]+\]`).FindString(page); m != "" {
				t.Errorf("%s in %s shows a missing string %s", p, l.Code, m)
			}
			if strings.Contains(page, "style=") || regexp.MustCompile(`<script>[^<]`).MatchString(page) {
				t.Errorf("%s in %s: inline style or script", p, l.Code)
			}
		}
	}
}

// missing says what a page lacks.
type missing struct{ who, what string }

func (m *missing) Error() string { return m.who + "'s workspace lacks " + m.what }

// TestBrowserJits: in Chromium, UA's analyst creates a team and adds a
// strategy entry by filling the forms; no CSP violation or exception.
func TestBrowserJits(t *testing.T) {
	h := newHeadless(t)
	f := startFixture(t)
	base := f.consoles["UA"].URL
	h.run(t, "sign in", chromedp.Navigate(base+"/login?token="+f.tokens["UA"]), chromedp.WaitVisible(chromedp.CSS(`main`)),
		chromedp.Navigate(base+"/jits"), chromedp.WaitVisible(chromedp.CSS(`#j-name`)))
	h.run(t, "create a team", chromedp.SendKeys(chromedp.CSS(`#j-name`), "Kharkiv shelling 2022"),
		chromedp.SendKeys(chromedp.CSS(`#j-basis`), "Art. 13 EU MLA Convention 2000"),
		chromedp.SendKeys(chromedp.CSS(`#j-invite`), "PL"),
		chromedp.Click(chromedp.CSS(`form[action="/jits"] button`)), chromedp.WaitVisible(chromedp.CSS(`#e-title`)))
	h.run(t, "add an entry", chromedp.SendKeys(chromedp.CSS(`#e-title`), "Secure the drone footage"),
		chromedp.SendKeys(chromedp.CSS(`#e-text`), "Ask PL for the originals."),
		chromedp.Click(chromedp.CSS(`form[action$="/entries"] button`)), chromedp.WaitVisible(chromedp.CSS(`article.entry`)))
	path := value(t, h, "the team's page", chromedp.Evaluate[string](`location.pathname`))
	// PL's analyst joins the team in another browser.
	pl := newHeadless(t)
	pl.run(t, "PL accepts", chromedp.Navigate(f.consoles["PL"].URL+"/login?token="+f.tokens["PL"]), chromedp.WaitVisible(chromedp.CSS(`main`)),
		chromedp.Navigate(f.consoles["PL"].URL+path), chromedp.WaitVisible(chromedp.CSS(`form[action$="/accept"] button`)),
		chromedp.Click(chromedp.CSS(`form[action$="/accept"] button`)), chromedp.WaitVisible(chromedp.CSS(`p.notice`)))
	if got := value(t, pl, "PL's notice", chromedp.Text(chromedp.CSS(`p.notice`))); !strings.Contains(got, "accepted") {
		t.Errorf("PL after accepting in the browser: %q", got)
	}
	h.run(t, "UA sees PL in the team", chromedp.Navigate(base+path), chromedp.WaitVisible(chromedp.CSS(`article.entry`)))
	text := value(t, h, "workspace text", chromedp.Text(chromedp.CSS(`main`)))
	for _, want := range []string{"Secure the drone footage", "Kharkiv shelling 2022", "accepted"} {
		if !strings.Contains(text, want) {
			t.Errorf("the workspace does not show %q", want)
		}
	}
	h.shot(t, "jit")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := f.coord["UA"].ListJits(ctx, &accordv1.ListJitsRequest{})
	if err != nil || len(r.GetJits()) != 1 || r.GetJits()[0].GetDisplayName() != "Kharkiv shelling 2022" {
		t.Fatalf("the registry's teams after the browser's form: %v %v", r, err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.dialogs) > 0 || len(h.problems) > 0 {
		t.Errorf("dialogs %q, page problems %q", h.dialogs, h.problems)
	}
}

// fakeConn is a connection that no page of the tests using it calls.
type fakeConn struct{ grpc.ClientConnInterface }

// TestConsoleAuditBroken: the audit page reads the node's AuditService: a
// log of more than a page pages; a log altered after it was written shows
// as broken at the altered entry, with the entries before it.
func TestConsoleAuditBroken(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA")
	var path string
	nodes, _ := daemontest.StartFederationConfigured(t, fed, nil, func(_ string, cfg *config.Config) {
		// The node's log before it starts: a peer's pulls of UA's feed.
		l, err := audit.Open(cfg.DataDir, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := range auditPageSize + 20 {
			if _, err := l.Append(audit.Entry{Kind: audit.KindServed, Peer: "PL", PeerID: "spiffe://accord.test/member/PL/node/pl-1",
				What: audit.What{Records: 1, FromSeq: uint64(i + 1), ToSeq: uint64(i + 1), CaseIDs: []string{"UA-2022-000031"}}}); err != nil {
				t.Fatal(err)
			}
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		path = filepath.Join(cfg.DataDir, audit.FileName)
	}, "UA")
	conn := daemontest.LocalConn(t, nodes[0].D, fed.User("UA", "analyst"), "UA")
	token := randomToken()
	srv, err := New(Options{Conn: conn, Member: "UA", User: "analyst", LoginToken: token})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	b := (&fixture{consoles: map[string]*httptest.Server{"UA": hs}, tokens: map[string]string{"UA": token}}).signIn(t, "UA")
	_, page := b.page("/audit")
	wantIn(t, "a long log", page, "The hash chain is verified", "UA-2022-000031", "PL · pl-1", `href="/audit?before=21"`, "<td>served</td>")
	_, page = b.page("/audit?before=21")
	wantIn(t, "its older page", page, `<td class="num">20</td>`, `<td class="num">1</td>`, "Newer entries")

	// Alter entry 5: the chain breaks there.
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(data), "\n")
	lines[4] = strings.Replace(lines[4], `"records":1`, `"records":7`, 1)
	if err := os.WriteFile(path, []byte(strings.Join(lines, "")), 0o600); err != nil {
		t.Fatal(err)
	}
	code, page := b.page("/audit")
	if code != http.StatusOK {
		t.Fatalf("a broken log: %d\n%s", code, page)
	}
	wantIn(t, "a broken log", page, "The hash chain is broken at entry 5 (line 5)", `<td class="num">4</td>`)
	if strings.Contains(page, "is verified") || strings.Contains(page, `<td class="num">5</td>`) {
		t.Errorf("a broken log shows as verified or shows entries from the break on")
	}
}

// TestOpenedSealedText: what the node could not open is said in the
// page's language; a team's own text stays as written.
func TestOpenedSealedText(t *testing.T) {
	if got := opened("uk", jitcontent.Waiting); got != T("uk", "jit.sealed.waiting") || got == jitcontent.Waiting {
		t.Errorf("waiting in Ukrainian: %q", got)
	}
	if got := opened("de", jitcontent.Unreadable); got != T("de", "jit.sealed.unreadable") {
		t.Errorf("unreadable in German: %q", got)
	}
	if got := opened("uk", "Kharkiv shelling 2022"); got != "Kharkiv shelling 2022" {
		t.Errorf("a team's name: %q", got)
	}
}
