package console

import (
	"context"
	_ "embed"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// a11yScript is the accessibility check run in the page
// (testdata/a11y.js says its rules).
//
//go:embed testdata/a11y.js
var a11yScript string

// violation is one finding of a11yScript.
type violation struct {
	Rule, Where, What string
}

func (v violation) String() string { return v.Rule + " at " + v.Where + ": " + v.What }

// audit runs the check on the page h shows.
func (h *headless) audit(t *testing.T, page string) []violation {
	t.Helper()
	return value(t, h, "accessibility of "+page, chromedp.Evaluate[[]violation](a11yScript))
}

// focusState is what window.accordFocusState says of the focused element.
type focusState struct {
	Where   string
	Visible bool // a focus ring (outline or shadow) is drawn
	Shown   bool // the element is on screen
}

// keyboard presses Tab up to n times from the top of the page and checks
// that every stop shows where the focus is and that the order never comes
// back on itself before the end; then it checks that the skip link's Enter
// moves the focus to the main content.
func (h *headless) keyboard(t *testing.T, page string, n int) []string {
	t.Helper()
	var problems []string
	var order []string
	for i := range n {
		h.run(t, "Tab", chromedp.KeyEvent(kb.Tab))
		st := value(t, h, "focus", chromedp.Evaluate[focusState](`window.accordFocusState()`))
		if st.Where == "body" {
			break // past the last control: the browser's own chrome
		}
		if i > 0 && st.Where == order[0] {
			break // wrapped around
		}
		if !st.Visible || !st.Shown {
			problems = append(problems, fmt.Sprintf("%s: Tab stop %d (%s) shows no focus (ring %v, on screen %v)", page, i+1, st.Where, st.Visible, st.Shown))
		}
		order = append(order, st.Where)
	}
	if len(order) == 0 || !strings.Contains(order[0], "a.skip") {
		problems = append(problems, fmt.Sprintf("%s: the first Tab stop is %v, not the skip link", page, order[:min(1, len(order))]))
	}
	return problems
}

// skipLink checks that Enter on the skip link puts the focus in main.
func (h *headless) skipLink(t *testing.T, url string) string {
	t.Helper()
	h.run(t, "reload", chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS(`main`)))
	h.run(t, "skip link", chromedp.KeyEvent(kb.Tab), chromedp.KeyEvent(kb.Enter))
	id := value(t, h, "focus after the skip link", chromedp.Evaluate[string](`document.activeElement && document.activeElement.id`))
	if id != "main" {
		return fmt.Sprintf("%s: Enter on the skip link leaves the focus on %q, not main", url, id)
	}
	return ""
}

// TestBrowserAccessibility: every page of the console, in English and
// Ukrainian, at a desktop's and a phone's width, passes the accessibility
// check (labels, contrast, headings, language, skip link, keyboard order)
// and shows the keyboard focus at every Tab stop.
func TestBrowserAccessibility(t *testing.T) {
	h := newHeadless(t)
	f := startFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	jit, err := f.coord["UA"].CreateJit(ctx, &accordv1.CreateJitRequest{Jit: &accordv1.Jit{DisplayName: "Kharkiv 2022", LegalBasis: "Art. 13 MLA Convention 2000"},
		InviteMembers: []string{"PL"}, RequestId: "a11y-jit"})
	if err != nil {
		t.Fatal(err)
	}
	base := f.consoles["UA"].URL
	h.run(t, "sign in", chromedp.Navigate(base+"/login?token="+f.tokens["UA"]), chromedp.WaitVisible(chromedp.CSS(`main`)))
	pages := []string{"/queue", "/matches/" + f.match, "/rule", "/cases?place=Kharkiv", "/cases/UA-2022-000031", "/cases/import",
		"/federation?place=Kharkiv", "/federation/PL/PL-2022-000031", "/jits", "/" + jit.GetJit().GetName(), "/audit"}
	var problems []string
	for _, size := range [][2]int64{{1400, 900}, {390, 844}} {
		h.run(t, "viewport", chromedp.EmulateViewport(size[0], size[1]))
		for _, lang := range []string{"en", "uk"} {
			for _, p := range pages {
				sep := "?"
				if strings.Contains(p, "?") {
					sep = "&"
				}
				url := base + p + sep + "lang=" + lang
				h.run(t, "open "+url, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS(`main h1`)))
				where := fmt.Sprintf("%s (%s, %dpx)", p, lang, size[0])
				for _, v := range h.audit(t, where) {
					problems = append(problems, where+": "+v.String())
				}
				if lang == "en" {
					problems = append(problems, h.keyboard(t, where, 60)...)
					if size[0] == 1400 {
						if s := h.skipLink(t, base+p); s != "" {
							problems = append(problems, s)
						}
					}
				}
			}
		}
	}
	slices.Sort(problems)
	for _, p := range slices.Compact(problems) {
		t.Error(p)
	}
}

// badPage breaks every rule the check knows.
const badPage = `<!DOCTYPE html><html><head><title></title>
<style>.faint { color: #aaa; background: #fff; } .skip { position: absolute; left: -999px; } .narrow { width: 8px; }</style></head>
<body>
<h2>No h1 first</h2><h4>A skipped level</h4>
<p class="faint">Grey on white</p><p class="narrow">Squeezed into a column</p>
<form><input id="x" type="text"><input id="x" type="text" aria-label="twice"><button></button></form>
<a href="/elsewhere"></a><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">
<div tabindex="3">jumps the queue</div>
</body></html>`

// TestAccessibilityCheckFinds: the check finds each kind of violation on
// a page made to have them (so that a pass of the console means something).
func TestAccessibilityCheckFinds(t *testing.T) {
	h := newHeadless(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(badPage))
	}))
	t.Cleanup(srv.Close)
	h.run(t, "bad page", chromedp.Navigate(srv.URL), chromedp.WaitVisible(chromedp.CSS(`body`)))
	found := map[string]bool{}
	for _, v := range h.audit(t, "the bad page") {
		found[v.Rule] = true
		t.Log(v)
	}
	for _, rule := range []string{"lang", "title", "h1", "headings", "name", "contrast", "tabindex", "skip", "ids", "reflow"} {
		if !found[rule] {
			t.Errorf("the check did not find a %s violation on the bad page", rule)
		}
	}
	if p := h.keyboard(t, "the bad page", 10); len(p) == 0 {
		t.Errorf("the keyboard check found nothing on a page without a skip link or focus rings")
	}
}
