package console

import (
	"bytes"
	"context"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/accordfed/accord/federation/pki/pkitest"
	"github.com/accordfed/accord/node/daemon/daemontest"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// startImportFixture is one member's node (UA) with its analyst's console
// and no case.
func startImportFixture(t *testing.T) *fixture {
	t.Helper()
	fed := pkitest.NewFederation(t, "accord.test", "UA")
	nodes, _ := daemontest.StartFederation(t, fed, nil, "UA")
	conn := daemontest.LocalConn(t, nodes[0].D, fed.User("UA", "analyst"), "UA")
	f := &fixture{consoles: map[string]*httptest.Server{}, tokens: map[string]string{"UA": randomToken()},
		cases: map[string]accordv1.CaseServiceClient{"UA": accordv1.NewCaseServiceClient(conn)}}
	srv, err := New(Options{Conn: conn, Member: "UA", User: "analyst", LoginToken: f.tokens["UA"]})
	if err != nil {
		t.Fatal(err)
	}
	f.consoles["UA"] = httptest.NewServer(srv)
	t.Cleanup(f.consoles["UA"].Close)
	return f
}

// importLine is a valid line of the interchange format for UA: a case
// with the given id and title.
func importLine(id, title string) string {
	return `{"case_id":"` + id + `","country":"UA","title":"` + title + `","status":"investigation","sensitivity":"federation",` +
		`"crime_codes":["RS-8.2.b.i"],"incidents":[{"start":"2022-03-01T08:00:00+02:00","place":"Kharkiv"}],"perpetrators":[],"persons":[],"evidence":[]}`
}

// upload posts a multipart form as a browser does: the fields in order,
// then the file (when name is not empty).
func (b *browser) upload(path string, fields [][2]string, name, content, origin string) (int, string) {
	b.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, f := range fields {
		_ = mw.WriteField(f[0], f[1])
	}
	if name != "-" {
		fw, err := mw.CreateFormFile("file", name)
		if err != nil {
			b.t.Fatal(err)
		}
		_, _ = io.WriteString(fw, content)
	}
	_ = mw.Close()
	req, err := http.NewRequest(http.MethodPost, b.base+path, &body)
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	page, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(page)
}

// caseIDs lists UA's cases through the node.
func caseIDs(t *testing.T, cs accordv1.CaseServiceClient) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := cs.ListCases(ctx, &accordv1.ListCasesRequest{PageSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range resp.GetCases() {
		ids = append(ids, c.GetCaseId())
	}
	return ids
}

// TestConsoleImport: the import page streams a file to the node's
// ImportCases and shows its result. A file with an invalid line imports
// nothing and shows the line, the field and the node's reason (as text);
// with skip-invalid the valid lines are imported; a dry run writes nothing;
// a good file's cases are then listed, their titles as text. A form without
// the CSRF token or from another origin, without a file, with an empty
// file or with one larger than the bound is refused and imports nothing.
func TestConsoleImport(t *testing.T) {
	f := startImportFixture(t)
	ua := f.signIn(t, "UA")
	base := ua.base
	cs := f.cases["UA"]

	_, cases := ua.page("/cases")
	wantIn(t, "cases page", cases, `href="/cases/import"`, "Import a case file")
	code, page := ua.page("/cases/import")
	if code != http.StatusOK {
		t.Fatalf("import page: %d\n%s", code, page)
	}
	wantIn(t, "import page", page, `enctype="multipart/form-data"`, `name="file" type="file"`, `name="skip_invalid"`, `name="dry_run"`,
		`aria-current="page">Import`, "at most 32 MiB")
	m := csrfRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no CSRF token on the import page")
	}
	csrf := [2]string{"csrf", m[1]}

	good := importLine("UA-2024-000101", `Shelling <img src=x onerror=alert(1)> of Kharkiv`) + "\n" + importLine("UA-2024-000102", "Strike on Izium") + "\n"
	bad := importLine("UA-2024-000101", "Shelling of Kharkiv") + "\n" +
		strings.Replace(importLine("UA-2024-000103", "Strike on Kupiansk"), "2022-03-01T08:00:00+02:00", `<script>alert(1)</script>`, 1) + "\n"

	// Refused before the node is asked: no token, a wrong one, another
	// origin.
	for _, c := range []struct {
		fields [][2]string
		origin string
	}{{nil, base}, {[][2]string{{"csrf", strings.Repeat("0", 64)}}, base}, {[][2]string{csrf}, "https://evil.example"}} {
		if code, _ := ua.upload("/cases/import", c.fields, "register.jsonl", good, c.origin); code != http.StatusForbidden {
			t.Errorf("fields %v origin %s: %d, want 403", c.fields, c.origin, code)
		}
	}
	// The token after the file: the file would be read before the token
	// is checked, so the form is refused.
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("file", "register.jsonl")
	_, _ = io.WriteString(fw, good)
	_ = mw.WriteField("csrf", m[1])
	_ = mw.Close()
	req, _ := http.NewRequest(http.MethodPost, base+"/cases/import", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Origin", base)
	if resp, err := ua.c.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("the token after the file: %v %v, want 403", resp, err)
	} else {
		resp.Body.Close()
	}
	// No file, an empty file, a file over the bound.
	if code, page := ua.upload("/cases/import", [][2]string{csrf}, "-", "", base); code != http.StatusBadRequest || !strings.Contains(page, "file: no file was chosen") {
		t.Errorf("no file: %d\n%s", code, page)
	}
	if code, page := ua.upload("/cases/import", [][2]string{csrf}, "", "", base); code != http.StatusBadRequest || !strings.Contains(page, "file: no file was chosen") {
		t.Errorf("a file field without a file: %d\n%s", code, page)
	}
	if code, page := ua.upload("/cases/import", [][2]string{csrf}, "empty.jsonl", "\n  \n", base); code != http.StatusBadRequest || !strings.Contains(page, "file: the file holds no case line") {
		t.Errorf("an empty file: %d\n%s", code, page)
	}
	old := maxUploadBytes
	maxUploadBytes = 4 << 10
	big := strings.Repeat(importLine("UA-2024-000101", "Shelling of Kharkiv")+"\n", 40)
	code, page = ua.upload("/cases/import", [][2]string{csrf}, "big.jsonl", big, base)
	maxUploadBytes = old
	if code != http.StatusRequestEntityTooLarge || !strings.Contains(page, "file: the file is larger than") {
		t.Errorf("a file over the bound: %d\n%s", code, page)
	}
	if ids := caseIDs(t, cs); len(ids) != 0 {
		t.Fatalf("refused uploads imported %v", ids)
	}

	// Not the format: every line invalid, the node's reason shown.
	code, page = ua.upload("/cases/import", [][2]string{csrf}, "notes.txt", "case notes, not JSON\n", base)
	if code != http.StatusBadRequest || !strings.Contains(page, "Nothing was imported: 1 of 1 lines are invalid") || !strings.Contains(page, `<td class="lines">1</td>`) {
		t.Errorf("a file not of the format: %d\n%s", code, page)
	}

	// An invalid line: nothing imported, its line, field and reason shown,
	// the value as text.
	code, page = ua.upload("/cases/import", [][2]string{csrf, {"skip_invalid", ""}}, "register.jsonl", bad, base)
	if code != http.StatusBadRequest {
		t.Fatalf("a file with an invalid line: %d\n%s", code, page)
	}
	wantIn(t, "refused import", page, "Result for register.jsonl", "Nothing was imported: 1 of 2 lines are invalid",
		`<td class="lines">2</td>`, "<code>incidents[0].start</code>", "&lt;script&gt;alert(1)&lt;/script&gt;")
	if strings.Contains(page, "<script>alert") {
		t.Errorf("the node's reason is not escaped:\n%s", page)
	}
	if ids := caseIDs(t, cs); len(ids) != 0 {
		t.Fatalf("a refused import imported %v", ids)
	}
	// The row says what the node said, in its words.
	row := regexp.MustCompile(`(?s)<td class="lines">2</td>.*?</tr>`).FindString(page)
	if !strings.Contains(row, "must be") {
		t.Errorf("the error row %q lacks the node's reason", row)
	}

	// A dry run writes nothing and counts.
	code, page = ua.upload("/cases/import", [][2]string{csrf, {"skip_invalid", ""}, {"dry_run", "1"}}, "register.jsonl", good, base)
	if code != http.StatusOK {
		t.Fatalf("dry run: %d\n%s", code, page)
	}
	wantIn(t, "dry run", page, "Dry run: nothing was written", "Cases an import would create")
	if ids := caseIDs(t, cs); len(ids) != 0 {
		t.Fatalf("a dry run imported %v", ids)
	}

	// With skip-invalid the valid line is imported.
	code, page = ua.upload("/cases/import", [][2]string{csrf, {"skip_invalid", "1"}}, "register.jsonl", bad, base)
	if code != http.StatusOK {
		t.Fatalf("skip-invalid: %d\n%s", code, page)
	}
	wantIn(t, "skip-invalid", page, "The file was imported.", "1 invalid lines were skipped.", `<td class="lines">2</td>`)
	if ids := caseIDs(t, cs); strings.Join(ids, ",") != "UA-2024-000101" {
		t.Fatalf("after skip-invalid the node holds %v", ids)
	}

	// A good file: imported (one created, one updated), then listed.
	code, page = ua.upload("/cases/import", [][2]string{csrf}, "register.jsonl", good, base)
	if code != http.StatusOK {
		t.Fatalf("good file: %d\n%s", code, page)
	}
	wantIn(t, "good file", page, "The file was imported.", `href="/cases"`)
	if strings.Contains(page, "import-errors") {
		t.Errorf("a good file shows errors:\n%s", page)
	}
	if ids := caseIDs(t, cs); strings.Join(ids, ",") != "UA-2024-000101,UA-2024-000102" {
		t.Fatalf("after the good file the node holds %v", ids)
	}
	_, cases = ua.page("/cases")
	wantIn(t, "cases after the import", cases, `href="/cases/UA-2024-000101"`, `href="/cases/UA-2024-000102"`,
		"Shelling &lt;img src=x onerror=alert(1)&gt; of Kharkiv")
	if strings.Contains(cases, "<img src=x") {
		t.Errorf("an imported title is not escaped")
	}

	// Every language has the page's strings.
	for _, l := range languages {
		ua.do(http.MethodGet, "/cases/import?lang="+l.Code, nil, "")
		code, page := ua.upload("/cases/import", [][2]string{csrf}, "register.jsonl", bad, base)
		if code != http.StatusBadRequest {
			t.Errorf("in %s: %d", l.Code, code)
		}
		if m := regexp.MustCompile(`\[[a-z_]+\.[a-z_.0-9]+\]`).FindString(page); m != "" {
			t.Errorf("the import page in %s shows a missing string %s", l.Code, m)
		}
	}
}
