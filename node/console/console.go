package console

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"

	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Errors of New.
var (
	// ErrConfig is wrapped by New's refusals of its Options.
	ErrConfig = errors.New("console: invalid options")
)

const (
	sessionCookie = "accord_console"
	langCookie    = "accord_lang"
	// sessionLife is how long a session lasts without use.
	sessionLife = 12 * time.Hour
	// callTimeout bounds one call to the node.
	callTimeout = 30 * time.Second
)

// Options configure a console.
type Options struct {
	// Conn is a connection to the node's local API made with the user's
	// certificate (one user's console, accordctl console: required
	// unless Office is set).
	Conn grpc.ClientConnInterface
	// Member is the user's member code and User the user's account (for
	// the header; required with Conn).
	Member, User string
	// LoginToken is the one-time token a browser exchanges for a session
	// (required with Conn: at least 16 bytes).
	LoginToken string
	// Office, when set instead of Conn, makes this an office's console
	// (accordd's console.listen): it is served over HTTPS to browsers
	// that present a user certificate of the office, verified in the TLS
	// handshake before a request reaches the console. Office returns whom
	// a request acts for and its connection to the local API, which
	// carries that certificate (the node authorises each call as it does
	// accordctl's); an error refuses the request. Each certificate has
	// its own session; there is no login token.
	Office func(r *http.Request) (member, account string, conn grpc.ClientConnInterface, err error)
	// Host, when set, is the only Host (name and port) the console answers
	// to, e.g. "<random>.localhost:7480": its session cookie is then the
	// browser's for that name only, not for every server on 127.0.0.1
	// (browsers do not keep cookies apart by port). Empty: any loopback
	// name or address.
	Host string
	// TileURL is the office's map tile server ({z}/{x}/{y} template); empty:
	// the bundled offline base map.
	TileURL string
	// Logger receives one line per request error (never a name or token).
	Logger *slog.Logger
	// Now is the clock (tests); nil: time.Now.
	Now func() time.Time
}

// Validate checks the options.
func (o *Options) Validate() error {
	switch {
	case o.Office != nil && (o.Conn != nil || o.LoginToken != ""):
		return fmt.Errorf("%w: office: an office's console has no conn and no login token (each browser's certificate names its user)", ErrConfig)
	case o.Office != nil:
	case o.Conn == nil:
		return fmt.Errorf("%w: conn: required (or office)", ErrConfig)
	case o.Member == "":
		return fmt.Errorf("%w: member: required", ErrConfig)
	case len(o.LoginToken) < 16:
		return fmt.Errorf("%w: login token: at least 16 characters", ErrConfig)
	}
	if o.TileURL != "" {
		u, err := url.Parse(o.TileURL)
		if err != nil || u.Scheme != "https" || u.Host == "" || !strings.Contains(o.TileURL, "{z}") {
			return fmt.Errorf("%w: tile url %q: an https URL template with {z}, {x} and {y}", ErrConfig, o.TileURL)
		}
	}
	return nil
}

// Server serves the console.
type Server struct {
	opts   Options
	logger *slog.Logger
	pages  map[string]*template.Template
	mux    *http.ServeMux

	mu       sync.Mutex
	login    string // the one-time token; empty once used
	sessions map[string]*session
	// swept is when ended sessions were last dropped: once a minute, not
	// at every request (an office's console holds a session per user).
	swept time.Time
}

// session is a browser's (in an office's console, a certificate's): its
// user, its CSRF token and when it was last used.
type session struct {
	member, account string
	csrf            string
	used            time.Time
}

// New returns the console of one user (Options.Conn) or of an office
// (Options.Office).
func New(o Options) (*Server, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Server{opts: o, logger: o.Logger, login: o.LoginToken, sessions: map[string]*session{}}
	var err error
	if s.pages, err = parsePages(); err != nil {
		return nil, err
	}
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	m := http.NewServeMux()
	m.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	m.HandleFunc("GET /login", s.handleLogin)
	m.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/queue", http.StatusSeeOther) })
	m.Handle("GET /queue", s.page(s.handleQueue))
	m.Handle("GET /matches/{id}", s.page(s.handleMatch))
	m.Handle("POST /matches/{id}/answer", s.page(s.handleAnswer))
	m.Handle("GET /rule", s.page(s.handleRule))
	m.Handle("POST /rule", s.page(s.handleRule))
	s.routeJits(m)
	s.routeCases(m)
	s.routeImport(m)
	s.mux = m
	return s, nil
}

// loopbackHost reports whether a request's Host names this machine's
// loopback (127.0.0.1, ::1 or localhost, any port): a page of another
// origin whose name was made to resolve to 127.0.0.1 (DNS rebinding) sends
// its own name and is refused.
func loopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ServeHTTP serves a request with the console's security headers.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// An office's console is reached over HTTPS by its own name (the
	// browser checks the server's certificate); one user's console on
	// loopback answers its own name only (DNS rebinding).
	if (s.opts.Host != "" && !strings.EqualFold(r.Host, s.opts.Host)) || (s.opts.Host == "" && s.opts.Office == nil && !loopbackHost(r.Host)) {
		http.Error(w, "this console answers on its own loopback address only", http.StatusMisdirectedRequest)
		return
	}
	// A page of another site may link to the console (a navigation), but
	// not load it as an image, a script or a fetch: with the browser's
	// cookie that would be an authenticated read on its behalf.
	if site := r.Header.Get("Sec-Fetch-Site"); (site == "cross-site" || site == "same-site") && r.Header.Get("Sec-Fetch-Mode") != "navigate" {
		http.Error(w, "the console serves its own pages only", http.StatusForbidden)
		return
	}
	h := w.Header()
	img := "'self' data:"
	if s.opts.TileURL != "" {
		u, _ := url.Parse(s.opts.TileURL)
		img += " https://" + strings.ReplaceAll(u.Host, "{s}", "*")
	}
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src "+img+
		"; connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	// same-origin, not no-referrer: with no-referrer a browser sends
	// "Origin: null" on the console's own form posts.
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-store")
	s.mux.ServeHTTP(w, r)
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// handleLogin exchanges the one-time token for a session cookie. An
// office's console has no token: the browser's certificate signs in.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	if s.opts.Office != nil {
		http.Redirect(w, r, "/queue", http.StatusSeeOther)
		return
	}
	token := r.URL.Query().Get("token")
	s.mu.Lock()
	ok := s.login != "" && subtle.ConstantTimeCompare([]byte(token), []byte(s.login)) == 1
	var id string
	if ok {
		s.login = "" // one time only
		id = randomToken()
		s.sessions[id] = &session{member: s.opts.Member, account: s.opts.User, csrf: randomToken(), used: s.opts.Now()}
	}
	s.mu.Unlock()
	if !ok {
		s.logger.Warn("console login refused: the token is wrong or was used already", "remote", r.RemoteAddr)
		lang := s.lang(r)
		w.WriteHeader(http.StatusForbidden)
		s.render(w, r, "error", lang, nil, pageData{Title: T(lang, "error.login.title"), Error: T(lang, "error.login.text")})
		return
	}
	// A browser-session cookie: the server ends the session after
	// sessionLife without use.
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: id, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: r.TLS != nil})
	http.Redirect(w, r, "/queue", http.StatusSeeOther)
}

// sessionOf returns the request's session, refreshing it, and the
// connection it calls the node on; nil when there is none. In an office's
// console the session is the browser certificate's, made at its first
// request.
func (s *Server) sessionOf(r *http.Request) (*session, grpc.ClientConnInterface) {
	key, conn := "", s.opts.Conn
	var member, account string
	if s.opts.Office != nil {
		var err error
		var c grpc.ClientConnInterface
		if member, account, c, err = s.opts.Office(r); err != nil || r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
			if err != nil {
				s.logger.Warn("console request refused", "remote", r.RemoteAddr, "err", err)
			}
			return nil, nil
		}
		sum := sha256.Sum256(r.TLS.PeerCertificates[0].Raw)
		key, conn = "cert:"+hex.EncodeToString(sum[:]), c
	} else if c, err := r.Cookie(sessionCookie); err == nil {
		key = c.Value
	} else {
		return nil, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Now()
	if now.Sub(s.swept) > time.Minute {
		s.swept = now
		for id, x := range s.sessions {
			if now.Sub(x.used) > sessionLife {
				delete(s.sessions, id)
			}
		}
	}
	x := s.sessions[key]
	if x != nil && now.Sub(x.used) > sessionLife {
		// Ended since the last sweep.
		delete(s.sessions, key)
		x = nil
	}
	if x == nil && s.opts.Office != nil {
		x = &session{member: member, account: account, csrf: randomToken()}
		s.sessions[key] = x
	}
	if x == nil {
		return nil, nil
	}
	x.used = now
	return x, conn
}

// request is what a page handler gets: the session, and the node's
// services called as the session's user.
type request struct {
	r      *http.Request
	w      http.ResponseWriter
	sess   *session
	lang   string
	ctx    context.Context
	member string

	// upload is a multipart POST's file field (formFile), not yet read;
	// nil when there is none.
	upload *multipart.Part

	conn     grpc.ClientConnInterface
	coord    accordv1.CoordinationServiceClient
	clusters accordv1.ClusterServiceClient
}

// page wraps a handler: a session is required; a POST needs the session's
// CSRF token and a same-origin request (a multipart POST's token is read
// from its fields before its file: readFields); ?lang= switches the
// language.
func (s *Server) page(h func(*request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if l := r.URL.Query().Get("lang"); r.Method == http.MethodGet && l != "" {
			if _, ok := catalogs[l]; ok {
				http.SetCookie(w, &http.Cookie{Name: langCookie, Value: l, Path: "/", SameSite: http.SameSiteStrictMode, MaxAge: 365 * 24 * 3600})
			}
			q := r.URL.Query()
			q.Del("lang")
			u := *r.URL
			u.RawQuery = q.Encode()
			http.Redirect(w, r, u.RequestURI(), http.StatusSeeOther)
			return
		}
		lang := s.lang(r)
		sess, conn := s.sessionOf(r)
		if sess == nil {
			w.WriteHeader(http.StatusUnauthorized)
			text := "error.session.text"
			if s.opts.Office != nil {
				text = "error.office.text"
			}
			s.render(w, r, "error", lang, nil, pageData{Title: T(lang, "error.session.title"), Error: T(lang, text)})
			return
		}
		var upload *multipart.Part
		if r.Method == http.MethodPost {
			var err error
			if isMultipart(r) {
				upload, err = readFields(w, r)
			} else {
				err = r.ParseForm()
			}
			if err != nil || !sameOrigin(r) ||
				subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(sess.csrf)) != 1 {
				w.WriteHeader(http.StatusForbidden)
				s.render(w, r, "error", lang, sess, pageData{Title: T(lang, "error.csrf.title"), Error: T(lang, "error.csrf.text")})
				return
			}
		}
		ctx, cancel := context.WithTimeout(r.Context(), callTimeout)
		defer cancel()
		q := &request{r: r, w: w, sess: sess, lang: lang, ctx: ctx, member: sess.member, conn: conn, upload: upload,
			coord: accordv1.NewCoordinationServiceClient(conn), clusters: accordv1.NewClusterServiceClient(conn)}
		if err := h(q); err != nil {
			// The account is an opaque id, never a person's name.
			s.logger.Warn("console page failed", "path", r.URL.Path, "member", sess.member, "account", sess.account, "err", err)
			w.WriteHeader(httpStatus(err))
			s.render(w, r, "error", lang, sess, pageData{Title: T(lang, "error.call.title"), Error: errorText(err)})
		}
	})
}

// sameOrigin reports whether a POST comes from the console's own pages:
// its Origin (or, without one, its Referer) is the request's host.
func sameOrigin(r *http.Request) bool {
	src := r.Header.Get("Origin")
	if src == "" || src == "null" {
		src = r.Header.Get("Referer")
	}
	if src == "" {
		return r.Header.Get("Sec-Fetch-Site") == "same-origin"
	}
	u, err := url.Parse(src)
	return err == nil && u.Host == r.Host
}

// lang is the request's language: the cookie, else the browser's first
// supported language, else English.
func (s *Server) lang(r *http.Request) string {
	if c, err := r.Cookie(langCookie); err == nil {
		if _, ok := catalogs[c.Value]; ok {
			return c.Value
		}
	}
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		base, _, _ := strings.Cut(strings.ToLower(tag), "-")
		if _, ok := catalogs[base]; ok {
			return base
		}
	}
	return "en"
}
