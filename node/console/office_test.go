package console

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/mtls"
	"github.com/accordfed/accord/federation/pki"
	"github.com/accordfed/accord/federation/pki/pkitest"
	"github.com/accordfed/accord/node/config"
	"github.com/accordfed/accord/node/daemon"
	"github.com/accordfed/accord/node/daemon/daemontest"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// office is a node serving the office's console (console.listen), with a
// case of UA's.
type office struct {
	fed   *pkitest.Federation
	node  *daemontest.Node
	url   string // https://127.0.0.1:PORT
	cases accordv1.CaseServiceClient
}

func startOffice(t *testing.T) *office {
	t.Helper()
	fed := pkitest.NewFederation(t, "accord.test", "UA", "PL")
	// As cmd/accordd builds it.
	build := func(env daemon.ConsoleEnv) (http.Handler, error) {
		return New(Options{Office: env.User, TileURL: env.TileURL, Logger: env.Logger})
	}
	nodes, _ := daemontest.StartFederationWith(t, fed, nil, func(_ string, cfg *config.Config) {
		cfg.Console.Listen = "127.0.0.1:0"
		cfg.LocalAPI.Admins = []string{"admin"}
	}, []daemon.Option{daemon.WithConsole(build)}, "UA")
	o := &office{fed: fed, node: nodes[0], url: "https://" + nodes[0].D.ConsoleAddr()}
	conn := daemontest.LocalConn(t, o.node.D, fed.User("UA", "analyst"), "UA")
	o.cases = accordv1.NewCaseServiceClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	lat, lon := 49.9935, 36.2304
	if _, err := o.cases.CreateCase(ctx, &accordv1.CreateCaseRequest{Case: &accordv1.Case{CaseId: "UA-2022-000031", Country: "UA", Title: xssTitle,
		Sensitivity: accordv1.Sensitivity_SENSITIVITY_FEDERATION, CrimeCodes: []string{"RS-8.2.b.i"},
		Incidents: []*accordv1.Incident{{Start: "2022-03-01T08:00:00+02:00", Place: "Харків", Lat: &lat, Lon: &lon}}}}); err != nil {
		t.Fatal(err)
	}
	return o
}

// client is an HTTPS client presenting cert (none when cert is zero) and
// trusting the federation's CAs for the server.
func (o *office) client(t *testing.T, cert mtls.Config) *http.Client {
	t.Helper()
	roots := x509.NewCertPool()
	for _, ca := range o.fed.CAs {
		roots.AddCert(ca.Cert)
	}
	cfg := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	if cert.CertFile != "" {
		kp, err := tls.LoadX509KeyPair(cert.CertFile, cert.KeyFile)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{kp}
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func get(t *testing.T, c *http.Client, u string) (int, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

// TestOfficeConsole: accordd's console serves the office's users by
// their certificates, with the local API's authorisation, and no one
// else.
func TestOfficeConsole(t *testing.T) {
	o := startOffice(t)
	analyst := o.client(t, o.fed.User("UA", "analyst"))

	code, body := get(t, analyst, o.url+"/cases?place=Kharkiv")
	if code != http.StatusOK || !strings.Contains(body, "UA-2022-000031") || !strings.Contains(body, "analyst") {
		t.Fatalf("the analyst's case search: %d\n%.400s", code, body)
	}
	if strings.Contains(body, xssTitle) || !strings.Contains(body, "Shelling &lt;img src=x onerror=alert(1)&gt; of Kharkiv") {
		t.Errorf("the title is not escaped as text")
	}
	// A change: a JIT created by the analyst, with the session's CSRF
	// token and from the console's own origin; without the token it is
	// refused and nothing is made.
	code, body = get(t, analyst, o.url+"/jits")
	m := csrfField.FindStringSubmatch(body)
	if code != http.StatusOK || m == nil {
		t.Fatalf("JIT page: %d, csrf %v", code, m)
	}
	form := url.Values{"display_name": {"JIT Kharkiv"}, "legal_basis": {"Art. 13 MLA Convention 2000"}, "request_id": {"office-test-1"}}
	post := func(v url.Values) int {
		req, _ := http.NewRequest(http.MethodPost, o.url+"/jits", strings.NewReader(v.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", o.url)
		resp, err := analyst.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := post(form); c != http.StatusForbidden {
		t.Errorf("a POST without the CSRF token: %d, want 403", c)
	}
	form.Set("csrf", m[1])
	if c := post(form); c != http.StatusSeeOther {
		t.Fatalf("creating a JIT: %d", c)
	}
	coord := accordv1.NewCoordinationServiceClient(daemontest.LocalConn(t, o.node.D, o.fed.User("UA", "analyst"), "UA"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	jits, err := coord.ListJits(ctx, &accordv1.ListJitsRequest{})
	if err != nil || len(jits.GetJits()) != 1 {
		t.Fatalf("JITs after the console's create: %v %v", jits, err)
	}
	if who := jits.GetJits()[0].GetCreate().GetUser(); !strings.HasSuffix(who, "/member/UA/user/analyst") {
		t.Errorf("the JIT was made by %q, want the analyst's account", who)
	}

	// The audit page: the node's AuditService, read as the analyst.
	if code, body := get(t, analyst, o.url+"/audit"); code != http.StatusOK || !strings.Contains(body, "The hash chain is verified") {
		t.Errorf("the analyst's audit page: %d", code)
	}
	// There is no token sign-in: /login goes to the queue.
	if resp, err := analyst.Get(o.url + "/login?token=x"); err != nil || resp.StatusCode != http.StatusSeeOther {
		t.Errorf("login on an office console: %v %v", resp, err)
	}

	// Refused in the handshake: no certificate, another member's user, a
	// node's certificate, a revoked user.
	for name, cert := range map[string]mtls.Config{
		"no certificate": {},
		"a PL user":      o.fed.User("PL", "analyst"),
		"a UA node":      o.fed.Node("UA", "ua-2"),
	} {
		if _, err := o.client(t, cert).Get(o.url + "/queue"); err == nil {
			t.Errorf("%s: served, want the TLS handshake refused", name)
		}
	}
	gone := o.fed.User("UA", "gone")
	if code, _ := get(t, o.client(t, gone), o.url+"/rule"); code != http.StatusOK {
		t.Fatalf("a user before revocation: %d", code)
	}
	o.fed.Revoke("UA", gone)
	o.fed.PublishCRL("UA")
	if err := o.node.D.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, err := o.client(t, gone).Get(o.url + "/rule"); err == nil {
		t.Errorf("a revoked user is still served")
	}
}

// nssTool returns the path of an NSS tool or skips the test.
func nssTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("no %s (apt-get install libnss3-tools): the browser-certificate test is skipped; .ci/run installs it", name)
	}
	return p
}

// browserWithCertificate is a headless Chromium whose profile holds the
// user's certificate, imported from a PKCS#12 file as a user imports it,
// trusts the federation's CA for the server, and sends the certificate to
// origin without asking (the AutoSelectCertificateForUrls setting, as an
// office's managed browsers have it).
func browserWithCertificate(t *testing.T, o *office, p12, password, origin string) *headless {
	t.Helper()
	certutil, pk12util := nssTool(t, "certutil"), nssTool(t, "pk12util")
	home := t.TempDir()
	db := "sql:" + filepath.Join(home, ".pki", "nssdb")
	if err := os.MkdirAll(filepath.Join(home, ".pki", "nssdb"), 0o700); err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(home, "ua-ca.pem")
	if err := os.WriteFile(caFile, o.fed.CAs["UA"].CertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{certutil, "-N", "-d", db, "--empty-password"},
		{certutil, "-A", "-d", db, "-n", "Accord UA CA", "-t", "C,,", "-i", caFile},
		{pk12util, "-i", p12, "-d", db, "-W", password},
	} {
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args[:2], " "), err, out)
		}
	}
	profile := t.TempDir()
	prefs := map[string]any{"profile": map[string]any{"content_settings": map[string]any{"exceptions": map[string]any{
		"auto_select_certificate": map[string]any{origin + ",*": map[string]any{"setting": map[string]any{"filters": []any{map[string]any{}}}}},
	}}}}
	b, _ := json.Marshal(prefs)
	if err := os.MkdirAll(filepath.Join(profile, "Default"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(profile, "Default", "Preferences"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	return newHeadless(t, chromedp.UserDataDir(profile), chromedp.Env("HOME="+home))
}

// TestBrowserOfficeCertificate: a user certificate issued as a PKCS#12
// file (what accordctl certs issue --pkcs12 writes) and imported into
// Chromium's certificate store signs the browser in to accordd's console:
// the queue names the user, a search in Cyrillic finds the case, its
// title shows as text.
func TestBrowserOfficeCertificate(t *testing.T) {
	chromium(t)
	nssTool(t, "pk12util")
	o := startOffice(t)
	iss, err := o.fed.CAs["UA"].Issue(pki.IssueOptions{Kind: identity.KindUser, Name: "u-1042"})
	if err != nil {
		t.Fatal(err)
	}
	const password = "correct horse battery"
	p12, err := pki.WritePKCS12(t.TempDir(), iss, o.fed.CAs["UA"], password)
	if err != nil {
		t.Fatal(err)
	}
	h := browserWithCertificate(t, o, p12, password, o.url)
	h.run(t, "open the office's console", chromedp.Navigate(o.url+"/"), chromedp.WaitVisible(chromedp.CSS(`main`)))
	header := value(t, h, "header", chromedp.Text(chromedp.CSS(`header`)))
	if !strings.Contains(header, "u-1042") || !strings.Contains(header, "UA") {
		t.Fatalf("the console's header: %q, want the user's account", header)
	}
	h.shot(t, "office-queue")
	h.run(t, "search", chromedp.Navigate(o.url+"/cases?place="+url.QueryEscape("Харків")), chromedp.WaitVisible(chromedp.CSS(`main table`)))
	text := value(t, h, "results", chromedp.Text(chromedp.CSS(`main`)))
	if !strings.Contains(text, "Shelling <img src=x onerror=alert(1)> of Kharkiv") {
		t.Errorf("the search does not show the case's title as text: %.300q", text)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.dialogs) > 0 || len(h.problems) > 0 {
		t.Errorf("dialogs %q, page problems %q", h.dialogs, h.problems)
	}
}

// A browser without a certificate gets no page: the handshake fails.
func TestBrowserOfficeWithoutCertificate(t *testing.T) {
	h := newHeadless(t, chromedp.Flag("ignore-certificate-errors", true))
	o := startOffice(t)
	ctx, cancel := context.WithTimeout(h.ctx, 30*time.Second)
	defer cancel()
	err := chromedp.Do(ctx, chromedp.Navigate(o.url+"/queue"))
	if err == nil {
		text, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`body`)))
		if strings.Contains(text, "UA-2022") || strings.Contains(text, "Review") {
			t.Fatalf("a browser without a certificate was served: %.200q", text)
		}
	} else if !errors.Is(err, context.DeadlineExceeded) && !strings.Contains(fmt.Sprint(err), "net::ERR_") {
		t.Fatalf("navigation: %v", err)
	}
}
