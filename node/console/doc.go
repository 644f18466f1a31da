// Package console is the analysts' web console: an office's review queue
// (match decisions and incident clusters waiting for its answer, both
// cases side by side with their incidents on a map and a timeline, the
// explained score as a waterfall), answers, and answers by rule with a dry
// run first.
//
// The console holds no privilege of its own: every page is read, and every
// answer written, through the node's typed local API (accord.v1 gRPC) on a
// connection made with the user's own certificate, so that the node applies
// the same identity and authorisation rules as to accordctl. It is
// server-rendered (html/template, embedded with go:embed), with a little
// hand-written JavaScript for the map only (Leaflet, vendored from Debian's
// libjs-leaflet), under a strict Content-Security-Policy: no inline script
// or style, nothing from another origin but an office's configured tile
// server.
//
// A browser gets in with a one-time login token (accordctl console prints
// the URL that carries it), exchanged at once for an HttpOnly,
// SameSite=Strict session cookie; every change also needs the session's
// CSRF token and a same-origin request. Interface strings come from message
// catalogs (English, Ukrainian, Polish, German; i18n/*.json); data is shown
// as the offices wrote it. No person's name is ever put in a URL or a log.
package console
