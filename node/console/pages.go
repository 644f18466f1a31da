package console

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// pageData is what every page's template gets.
type pageData struct {
	Title string
	// Lang is the page's language, Langs the switch's, Path the page's
	// path and query (for the switch's links).
	Lang  string
	Langs []langLink
	Path  string
	// Member and User say who is signed in; CSRF is the session's token
	// for the page's forms.
	Member, User string
	CSRF         string
	// SignedIn says the browser has a session (the navigation is shown).
	SignedIn bool
	// Nav is the page's entry of the navigation.
	Nav string
	// Error is an error page's text; Notice a message after a change.
	Error, Notice string
	// Page is the page's own data.
	Page any
}

// langLink is a language of the switch and the link to the page in it.
type langLink struct {
	Language
	Href string
}

// parsePages parses each page template with the layout.
func parsePages() (map[string]*template.Template, error) {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	out := map[string]*template.Template{}
	for _, n := range names {
		base := strings.TrimSuffix(path.Base(n), ".html")
		if base == "layout" || base == "partials" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/partials.html", n)
		if err != nil {
			return nil, fmt.Errorf("console: template %s: %w", n, err)
		}
		out[base] = t
	}
	return out, nil
}

// funcs are the templates' functions. Those that take the language take
// it first: {{t $.Lang "queue.title"}}.
var funcs = template.FuncMap{
	"t":       T,
	"number":  number,
	"decimal": decimal,
	"date":    date,
	"when":    dateTime,
	"ago":     ago,
	"add":     func(a, b int) int { return a + b },
	"mib":     func(n int64) int64 { return n >> 20 },
	// pathEscape makes an id one segment of a link's path: an office's case
	// id may hold "/" (and another member's anything its node let through).
	"pathEscape": url.PathEscape,
	"enum":       enumWord,
	"signed": func(lang string, x float64) string {
		if x >= 0 {
			return "+" + decimal(lang, x, 2)
		}
		return "−" + decimal(lang, -x, 2)
	},
	"victims": func(c *accordv1.SharedCase) string {
		if c.VictimCount == nil {
			return "–"
		}
		return fmt.Sprint(c.GetVictimCount())
	},
	"valuesOf": func(lang string, common, only []string) valuesView { return valuesView{lang, common, only} },
	"wf":       func(lang string, w waterfall) waterfallView { return waterfallView{lang, w} },
	"pair":     func(lang string, v any) langValue { return langValue{lang, v} },
	"shift":    func(x int) int { return x - labelWidth },
	"barWidth": func() int { return chartWidth },
	"vocab":    vocab,
}

// valuesView is a list of values in common and of one side's own, for the
// "values" template.
type valuesView struct {
	Lang         string
	Common, Only []string
}

// langValue is a value with the page's language, for the shared templates
// of partials.html.
type langValue struct {
	Lang string
	V    any
}

// waterfallView is a waterfall with the page's language, for the
// "waterfall" template.
type waterfallView struct {
	Lang string
	W    waterfall
}

// render writes a page (into a buffer first: a template error gives a
// plain 500, never half a page).
func (s *Server) render(w http.ResponseWriter, r *http.Request, name, lang string, sess *session, d pageData) {
	d.Lang, d.Path = lang, r.URL.RequestURI()
	for _, l := range languages {
		// The same page, with its search (a GET's query), in l.
		u := url.URL{Path: r.URL.Path}
		q := url.Values{}
		if r.Method == http.MethodGet {
			q = r.URL.Query()
		}
		q.Set("lang", l.Code)
		u.RawQuery = q.Encode()
		d.Langs = append(d.Langs, langLink{Language: l, Href: u.RequestURI()})
	}
	d.Member = s.opts.Member
	if sess != nil {
		// Who is signed in, and the navigation, only to a signed-in
		// browser: an error page before sign-in says neither.
		d.Member, d.User, d.CSRF, d.SignedIn = sess.member, sess.account, sess.csrf, true
	}
	var buf bytes.Buffer
	if err := s.pages[name].ExecuteTemplate(&buf, "layout.html", d); err != nil {
		s.logger.Error("console template failed", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = buf.WriteTo(w)
}

// httpStatus maps a node's gRPC error to the page's HTTP status.
func httpStatus(err error) int {
	switch status.Code(err) {
	case codes.InvalidArgument, codes.FailedPrecondition, codes.OutOfRange:
		return http.StatusBadRequest
	case codes.NotFound:
		return http.StatusNotFound
	case codes.PermissionDenied:
		return http.StatusForbidden
	case codes.Aborted, codes.AlreadyExists:
		return http.StatusConflict
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// errorText is what a page says of a node's error: its message, as the
// node wrote it (it names the field and the reason).
func errorText(err error) string {
	if st, ok := status.FromError(err); ok {
		return st.Message() + " (" + st.Code().String() + ")"
	}
	// Not the node's answer (a connection that failed, a bug): its text
	// may name the machine's internals, which the log has.
	return "internal error (" + codes.Internal.String() + ")"
}

// since is how long ago t was by the server's clock.
func (s *Server) since(t time.Time) time.Duration { return s.opts.Now().Sub(t) }
