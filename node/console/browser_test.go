package console

import (
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// chromium returns the path of a Chromium or Chrome, or skips the test.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("ACCORD_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no Chromium found (apt-get install chromium, or set ACCORD_CHROMIUM): the console's browser tests are skipped; .ci/run installs it")
	return ""
}

// headless is a headless Chromium driving one tab. Dialogs (an XSS
// alert), uncaught exceptions and Content-Security-Policy violations are
// collected.
type headless struct {
	ctx      context.Context
	mu       sync.Mutex
	dialogs  []string
	problems []string
}

func newHeadless(t *testing.T, extra ...chromedp.ExecAllocatorOption) *headless {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.WindowSize(1280, 1000), chromedp.Flag("lang", "en-GB"))
	opts = append(opts, extra...)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelC(); cancelA() })
	h := &headless{ctx: ctx}
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*page.EventJavascriptDialogOpening); ok {
			h.mu.Lock()
			h.dialogs = append(h.dialogs, e.Message)
			h.mu.Unlock()
			go func() {
				_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
			}()
		}
	}); err != nil {
		t.Fatal(err)
	}
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleException || strings.Contains(m.Text, "Content Security Policy") {
				h.mu.Lock()
				h.problems = append(h.problems, m.Text)
				h.mu.Unlock()
			}
		}
	}()
	return h
}

func (h *headless) run(t *testing.T, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(h.ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func value[T any](t *testing.T, h *headless, what string, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(h.ctx, time.Minute)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// shot saves a screenshot of the page as <name>.png in the folder
// ACCORD_SCREENSHOTS names, when it does (make screenshots).
func (h *headless) shot(t *testing.T, name string) {
	t.Helper()
	dir := os.Getenv("ACCORD_SCREENSHOTS")
	if dir == "" {
		return
	}
	// The whole page in one viewport first: a screenshot beyond the
	// viewport resizes the view while it captures, and Leaflet redraws its
	// vector layers only after a resize settles (a 200 ms debounce), so the
	// maps' borders would be missing. The page is given that time here;
	// this is picture-taking, not a test's wait.
	size := value(t, h, "page size", chromedp.Evaluate[[]int64](`[window.innerWidth, window.innerHeight, document.documentElement.scrollHeight]`))
	h.run(t, "whole page in view", chromedp.EmulateViewport(size[0], max(size[1], size[2])),
		chromedp.Evaluate[chromedp.Void](`new Promise(function (r) { setTimeout(r, 600); })`, chromedp.EvalAwaitPromise))
	png := value(t, h, "screenshot "+name, chromedp.CaptureScreenshot())
	h.run(t, "viewport back", chromedp.EmulateViewport(size[0], size[1]))
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestBrowserReview: in a real Chromium, UA's analyst signs in, opens the
// match from the queue, sees both cases with the map drawn, confirms with a
// reason, switches to Ukrainian; PL's analyst confirms too: the registry
// says confirmed. No script runs from a case's title, no CSP violation.
func TestBrowserReview(t *testing.T) {
	h := newHeadless(t)
	f := startFixture(t)

	link := chromedp.CSS(`a[href="/matches/` + f.match + `"]`)
	h.run(t, "sign in", chromedp.Navigate(f.consoles["UA"].URL+"/login?token="+f.tokens["UA"]), chromedp.WaitVisible(link))
	interactive := value(t, h, "timing", chromedp.Evaluate[float64](`performance.getEntriesByType("navigation")[0].domInteractive`))
	t.Logf("first page (the review queue) interactive after %.0f ms", interactive)
	h.shot(t, "queue")

	h.run(t, "open the match", chromedp.Click(link), chromedp.WaitVisible(chromedp.CSS(`#map .leaflet-interactive`)))
	markers := value(t, h, "markers", chromedp.Evaluate[int](`document.querySelectorAll("#map path.leaflet-interactive").length`))
	if markers != 2 {
		t.Errorf("the map draws %d incident markers, want 2", markers)
	}
	// The base map loads (country borders) without a tile server.
	h.run(t, "base map", chromedp.WaitVisible(chromedp.CSS(`#map .leaflet-overlay-pane svg path:not(.leaflet-interactive)`)))
	text := value(t, h, "page text", chromedp.Text(chromedp.CSS(`main`)))
	for _, want := range []string{"Shelling <img src=x onerror=alert(1)> of Kharkiv", "Charków", "64 OMSBr", "How the score came about"} {
		if !strings.Contains(text, want) {
			t.Errorf("the match page does not show %q", want)
		}
	}
	h.shot(t, "match")

	h.run(t, "confirm", chromedp.SendKeys(chromedp.CSS(`#reason-yes`), "same video, same hour"),
		chromedp.Click(chromedp.CSS(`form button.yes`)), chromedp.WaitVisible(chromedp.CSS(`p.notice`)))
	h.run(t, "Ukrainian", chromedp.Click(chromedp.CSS(`a[hreflang="uk"]`)), chromedp.WaitVisible(chromedp.CSS(`html[lang="uk"] main`)))
	text = value(t, h, "Ukrainian text", chromedp.Text(chromedp.CSS(`main`)))
	if !strings.Contains(text, "Ваш офіс підтвердив цей збіг") && !strings.Contains(text, "Відповіді") {
		t.Errorf("after switching to Ukrainian: %q", text[:min(300, len(text))])
	}
	h.shot(t, "match-uk")

	pl := newHeadless(t)
	pl.run(t, "PL signs in and confirms", chromedp.Navigate(f.consoles["PL"].URL+"/login?token="+f.tokens["PL"]),
		chromedp.WaitVisible(link), chromedp.Click(link),
		chromedp.WaitVisible(chromedp.CSS(`form button.yes`)), chromedp.Click(chromedp.CSS(`form button.yes`)),
		chromedp.WaitVisible(chromedp.CSS(`p.notice`)))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := f.coord["UA"].GetMatchDecision(ctx, &accordv1.GetMatchDecisionRequest{Name: "matchDecisions/" + f.match})
	if err != nil || d.GetMatchDecision().GetState() != accordv1.MatchDecisionState_MATCH_DECISION_STATE_CONFIRMED {
		t.Fatalf("after both offices confirmed in the browser: %v %v", d, err)
	}
	if r := d.GetMatchDecision().GetAnswers(); r[1].GetReason() != "same video, same hour" {
		t.Errorf("UA's reason: %q", r[1].GetReason())
	}

	// The rule page's dry run in the browser.
	h.run(t, "rule page", chromedp.Navigate(f.consoles["UA"].URL+"/rule?lang=en"), chromedp.WaitVisible(chromedp.CSS(`#r-min`)))
	h.shot(t, "rule")

	// The import page: a file chosen in the browser's file field, one line
	// invalid (its value a script): refused, the line shown as text; with
	// skip-invalid the valid line is imported.
	file := filepath.Join(t.TempDir(), "register.jsonl")
	if err := os.WriteFile(file, []byte(importLine("UA-2024-000201", "Shelling of Izium")+"\n"+
		strings.Replace(importLine("UA-2024-000202", "Strike on Kupiansk"), "2022-03-01T08:00:00+02:00", `<img src=x onerror=alert(3)>`, 1)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h.run(t, "import refused", chromedp.Navigate(f.consoles["UA"].URL+"/cases"), chromedp.Click(chromedp.CSS(`a[href="/cases/import"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#i-file`)), chromedp.SetUploadFiles(chromedp.CSS(`#i-file`), []string{file}),
		chromedp.Click(chromedp.CSS(`form.import button`)), chromedp.WaitVisible(chromedp.CSS(`table.import-errors`)))
	text = value(t, h, "import result", chromedp.Text(chromedp.CSS(`#import-result`)))
	for _, want := range []string{"Nothing was imported: 1 of 2 lines are invalid", "incidents[0].start", `<img src=x onerror=alert(3)>`} {
		if !strings.Contains(text, want) {
			t.Errorf("the import result does not show %q: %q", want, text)
		}
	}
	h.shot(t, "import")
	h.run(t, "import with skip-invalid", chromedp.Click(chromedp.CSS(`#i-skip`)), chromedp.SetUploadFiles(chromedp.CSS(`#i-file`), []string{file}),
		chromedp.Click(chromedp.CSS(`form.import button`)), chromedp.WaitVisible(chromedp.CSS(`#import-result p.notice`)))
	if _, err := f.cases["UA"].GetCase(ctx, &accordv1.GetCaseRequest{CaseId: "UA-2024-000201"}); err != nil {
		t.Errorf("the valid line was not imported: %v", err)
	}

	for _, x := range []*headless{h, pl} {
		x.mu.Lock()
		if len(x.dialogs) > 0 || len(x.problems) > 0 {
			t.Errorf("dialogs %q, page problems %q", x.dialogs, x.problems)
		}
		x.mu.Unlock()
	}
}

// TestBrowserLocalhostName: Chromium reaches a console served under a
// random name below .localhost (as accordctl console serves it), and its
// session cookie works there.
func TestBrowserLocalhostName(t *testing.T) {
	h := newHeadless(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	host := randomToken()[:16] + ".localhost:" + port
	token := randomToken()
	srv, err := New(Options{Conn: fakeConn{}, Member: "UA", User: "analyst", LoginToken: token, Host: host})
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close() })
	// The sign-in goes on to the queue, which needs a node; the rule page
	// does not: it shows that the session holds under this name.
	// (The queue's page fails on the fake connection: its error is not the
	// point.)
	ctx, cancel := context.WithTimeout(h.ctx, 30*time.Second)
	_ = chromedp.Do(ctx, chromedp.Navigate("http://"+host+"/login?token="+token))
	cancel()
	h.run(t, "rule page", chromedp.Navigate("http://"+host+"/rule"), chromedp.WaitVisible(chromedp.CSS(`#r-min`)))
}
