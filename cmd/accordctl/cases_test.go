package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// smallCases are valid lines of the interchange format, as Encode writes
// them (every list present, status and sensitivity explicit).
var smallCases = []string{
	`{"case_id":"UA-2022-000001","country":"UA","title":"Shelling of a residential block in Kharkiv","opened":"2022-03-05","status":"investigation","sensitivity":"federation","crime_codes":["RS-8.2.b.i","UA-CC-438"],"incidents":[{"start":"2022-03-01T08:00:00+02:00","end":"2022-03-01T09:00:00+02:00","precision":"hour","place":"Kharkiv","region":"Kharkiv Oblast","lat":49.9935,"lon":36.2304,"location_precision_m":200}],"perpetrators":[{"kind":"unit","name":"64th Separate Motor Rifle Brigade"}],"persons":[{"role":"victim","name":"Олена Коваль","birth_year":1978},{"role":"witness","name":"Ivan Petrenko"}],"victim_count":3,"evidence":[{"id":"UA-2022-000001-E001","sha256":"` + strings.Repeat("a1", 32) + `","media_type":"video/mp4","collected":"2022-03-02"}]}`,
	`{"case_id":"UA-2022-000002","country":"UA","title":"Strike on hospital in Chernihiv","status":"closed","sensitivity":"national","crime_codes":["UA-CC-438"],"incidents":[{"start":"2022-07-22T18:00:00+03:00","place":"Chernihiv","region":"Chernihiv Oblast"}],"perpetrators":[],"persons":[],"evidence":[]}`,
	`{"case_id":"UA-2022-000003","country":"UA","title":"Unlawful detention in Bucha","opened":"2022-04-10","status":"trial","sensitivity":"jit","crime_codes":["RS-8.2.a.vii"],"incidents":[{"start":"2022-03-10T00:00:00+02:00","end":"2022-03-20T00:00:00+02:00","precision":"week","place":"Буча","region":"Kyiv Oblast"},{"start":"2022-02-28T00:00:00+02:00","end":"2022-03-01T00:00:00+02:00","precision":"day","place":"Irpin"}],"perpetrators":[{"kind":"organisation","name":"Wagner Group"}],"persons":[{"role":"suspect","name":"A. B."}],"victim_count":0,"evidence":[]}`,
	`{"case_id":"UA-2023-000004","country":"UA","title":"Deportation of children from Kherson","status":"investigation","sensitivity":"federation","crime_codes":["RS-8.2.a.vii","UA-CC-438"],"incidents":[{"start":"2022-10-01T00:00:00+03:00","end":"2022-11-01T00:00:00+02:00","precision":"month","place":"Kherson","region":"Kherson Oblast","lat":46.6354,"lon":32.6169}],"perpetrators":[],"persons":[],"evidence":[]}`,
	`{"case_id":"UA-2023-000005","country":"UA","title":"Shelling of Kharkiv railway station","status":"indictment","sensitivity":"federation","crime_codes":["RS-8.2.b.i"],"incidents":[{"start":"2022-08-17T21:30:00+03:00","end":"2022-08-17T21:40:00+03:00","precision":"minute","place":"Kharkov"}],"perpetrators":[],"persons":[],"evidence":[]}`,
}

func writeLines(t *testing.T, name string, lines []string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// normalCase reads a line as a JSON value, with the defaults the format
// implies written out: status, sensitivity and the lists.
func normalCase(t *testing.T, line string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		t.Fatalf("%v: %s", err, line)
	}
	defaults := map[string]any{"status": "investigation", "sensitivity": "federation"}
	for _, l := range []string{"crime_codes", "incidents", "perpetrators", "persons", "evidence"} {
		defaults[l] = []any{}
	}
	for k, v := range defaults {
		if _, ok := m[k]; !ok {
			m[k] = v
		}
	}
	return m
}

// readCases reads a file of the format into case id -> JSON value.
func readCases(t *testing.T, path string) (map[string]map[string]any, []string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]map[string]any{}
	var order []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<20), 4<<20)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		m := normalCase(t, sc.Text())
		id, _ := m["case_id"].(string)
		out[id] = m
		order = append(order, id)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out, order
}

// sameCases compares two files of the format case by case.
func sameCases(t *testing.T, wantPath, gotPath string) {
	t.Helper()
	want, _ := readCases(t, wantPath)
	got, order := readCases(t, gotPath)
	if len(got) != len(want) {
		t.Errorf("%d cases, want %d", len(got), len(want))
	}
	for id, w := range want {
		g, ok := got[id]
		switch {
		case !ok:
			t.Errorf("%s: missing from the export", id)
		case !reflect.DeepEqual(g, w):
			gb, _ := json.Marshal(g)
			wb, _ := json.Marshal(w)
			t.Errorf("%s differs:\n got  %s\n want %s", id, gb, wb)
		}
	}
	for i := 1; i < len(order); i++ {
		if order[i-1] >= order[i] {
			t.Errorf("export not ordered by case id: %s before %s", order[i-1], order[i])
			break
		}
	}
}

func TestCasesImportExportRoundTrip(t *testing.T) {
	e := startLocalNode(t)
	in := writeLines(t, "register.jsonl", smallCases)

	out := e.must(t, "cases", "import", in)
	for _, want := range []string{"5 lines: 5 valid, 0 invalid", "written: 5 created, 0 updated, 0 unchanged"} {
		if !strings.Contains(out, want) {
			t.Errorf("import output lacks %q:\n%s", want, out)
		}
	}

	exported := filepath.Join(t.TempDir(), "out.jsonl")
	out = e.must(t, "cases", "export", "--out", exported)
	if !strings.Contains(out, "exported 5 cases to "+exported) {
		t.Errorf("export said:\n%s", out)
	}
	sameCases(t, in, exported)
	if fi, err := os.Stat(exported); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("export file: %v, mode %v", err, fi.Mode())
	}

	// To stdout, with a filter.
	out = e.must(t, "cases", "export", "--status", "closed")
	if strings.Count(out, "\n") != 1 || !strings.Contains(out, `"case_id":"UA-2022-000002"`) {
		t.Errorf("export --status closed:\n%s", out)
	}

	// The same file again changes nothing.
	var res struct {
		Lines, Valid, Created, Updated, Unchanged string
		Written                                   bool
	}
	out = e.must(t, "cases", "import", in, "-o", "json")
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if res.Lines != "5" || res.Unchanged != "5" || res.Created != "0" || res.Updated != "0" {
		t.Errorf("re-import: %+v", res)
	}

	// A changed line is an update; from stdin.
	changed := strings.Replace(smallCases[1], `"status":"closed"`, `"status":"trial"`, 1)
	out, err := e.ctl(t, e.analyst, strings.NewReader(changed+"\n"+smallCases[0]+"\n"), "cases", "import", "-")
	if err != nil || !strings.Contains(out, "stdin: 2 lines") || !strings.Contains(out, "0 created, 1 updated, 1 unchanged") {
		t.Errorf("import of a changed line: %v\n%s", err, out)
	}
	out = e.must(t, "cases", "get", "UA-2022-000002", "-o", "json")
	if !strings.Contains(out, `"version": "2"`) || !strings.Contains(out, `"CASE_STATUS_TRIAL"`) {
		t.Errorf("updated case:\n%s", out)
	}
}

func TestCasesImportInvalidImportsNothing(t *testing.T) {
	e := startLocalNode(t)
	lines := []string{
		smallCases[0],
		strings.Replace(smallCases[3], `"lat":46.6354`, `"lat":91`, 1),
		"",
		smallCases[2],
		`{"case_id":"UA-2022-000009","country":"PL",`,
		smallCases[4],
	}
	in := writeLines(t, "bad.jsonl", lines)

	out, err := e.ctl(t, e.analyst, nil, "cases", "import", in)
	wantExit(t, err, 1, "nothing was imported", "2 of 5 lines are invalid", "--skip-invalid")
	for _, want := range []string{"5 lines: 3 valid, 2 invalid", "nothing was written", "line 2: incidents[0].lat: must be between -90 and 90", "line 5: "} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if out := e.must(t, "cases", "list"); strings.Contains(out, "UA-") {
		t.Errorf("something was imported:\n%s", out)
	}

	// A dry run says the same and writes nothing.
	out, err = e.ctl(t, e.analyst, nil, "cases", "import", "--dry-run", in)
	wantExit(t, err, 1, "dry run")
	if !strings.Contains(out, "dry run: nothing was written") {
		t.Errorf("dry run:\n%s", out)
	}

	out = e.must(t, "cases", "import", "--skip-invalid", in)
	for _, want := range []string{"written: 3 created", "line 2: incidents[0].lat", "2 invalid lines were skipped"} {
		if !strings.Contains(out, want) {
			t.Errorf("--skip-invalid output lacks %q:\n%s", want, out)
		}
	}
	out = e.must(t, "cases", "list")
	for _, id := range []string{"UA-2022-000001", "UA-2022-000003", "UA-2023-000005"} {
		if !strings.Contains(out, id) {
			t.Errorf("list lacks %s:\n%s", id, out)
		}
	}
	if strings.Contains(out, "UA-2023-000004") {
		t.Errorf("the invalid line was imported:\n%s", out)
	}
}

func TestCasesImportLongLines(t *testing.T) {
	e := startLocalNode(t)
	// A line just under 1 MiB is sent whole (its title is too long, so the
	// node rejects it by field); a line over 1 MiB is reported as too long.
	near := strings.Replace(smallCases[4], "Shelling of Kharkiv railway station", strings.Repeat("x", 1<<20-600), 1)
	over := strings.Replace(smallCases[3], "Deportation of children from Kherson", strings.Repeat("y", 1<<20+10), 1)
	in := writeLines(t, "long.jsonl", []string{smallCases[0], near, over})
	out, err := e.ctl(t, e.analyst, nil, "cases", "import", in)
	wantExit(t, err, 1, "2 of 3 lines are invalid")
	for _, want := range []string{"line 2: title: ", "line 3: line is longer than 1 MiB"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestCasesListFiltersAndPages(t *testing.T) {
	e := startLocalNode(t)
	e.must(t, "cases", "import", writeLines(t, "register.jsonl", smallCases))

	ids := func(out string) []string {
		var ids []string
		for _, l := range strings.Split(out, "\n") {
			if f := strings.Fields(l); len(f) > 0 && strings.HasPrefix(f[0], "UA-") {
				ids = append(ids, f[0])
			}
		}
		return ids
	}
	for _, c := range []struct {
		args []string
		want []string
	}{
		{nil, []string{"UA-2022-000001", "UA-2022-000002", "UA-2022-000003", "UA-2023-000004", "UA-2023-000005"}},
		{[]string{"--status", "trial"}, []string{"UA-2022-000003"}},
		{[]string{"--crime-code", "RS-8.2.b.i"}, []string{"UA-2022-000001", "UA-2023-000005"}},
		{[]string{"--place", "kharkiv"}, []string{"UA-2022-000001", "UA-2023-000005"}},
		{[]string{"--place", "Харків"}, []string{"UA-2022-000001", "UA-2023-000005"}},
		{[]string{"--place", "Charków"}, []string{"UA-2022-000001", "UA-2023-000005"}},
		{[]string{"--place", "Czernihów"}, []string{"UA-2022-000002"}},
		{[]string{"--place", "Херсон"}, []string{"UA-2023-000004"}},
		{[]string{"--near", "46.6,32.6", "--radius", "10"}, []string{"UA-2023-000004"}},
		{[]string{"--near", "46.6,32.6", "--radius", "1"}, nil},
		{[]string{"--text", "shelling харків"}, []string{"UA-2022-000001", "UA-2023-000005"}},
		{[]string{"--text", "shelling railway", "--place", "Kharkov"}, []string{"UA-2023-000005"}},
		{[]string{"--title", "KHARKIV"}, []string{"UA-2022-000001", "UA-2023-000005"}},
		{[]string{"--after", "2022-07-01", "--before", "2022-09-01"}, []string{"UA-2022-000002", "UA-2023-000005"}},
		{[]string{"--after", "2022-02-28T12:00:00+02:00", "--before", "2022-03-05"}, []string{"UA-2022-000001", "UA-2022-000003"}},
	} {
		out := e.must(t, append([]string{"cases", "list"}, c.args...)...)
		if got := ids(out); !reflect.DeepEqual(got, c.want) {
			t.Errorf("list %v = %v, want %v\n%s", c.args, got, c.want, out)
		}
	}

	out := e.must(t, "cases", "list", "--place", "Буча")
	if !strings.Contains(out, "UA-2022-000003  trial   2022-02-28 Irpin") {
		t.Errorf("the first incident is the earliest:\n%s", out)
	}

	// Pages of two.
	out = e.must(t, "cases", "list", "--page-size", "2")
	if got := ids(out); !reflect.DeepEqual(got, []string{"UA-2022-000001", "UA-2022-000002"}) {
		t.Errorf("page 1: %v", got)
	}
	i := strings.Index(out, "next page: --page-token ")
	if i < 0 {
		t.Fatalf("no next page token:\n%s", out)
	}
	tok := strings.TrimSpace(out[i+len("next page: --page-token "):])
	out = e.must(t, "cases", "list", "--page-size", "2", "--page-token", tok)
	if got := ids(out); !reflect.DeepEqual(got, []string{"UA-2022-000003", "UA-2023-000004"}) {
		t.Errorf("page 2: %v\n%s", got, out)
	}
	out = e.must(t, "cases", "list", "--page-size", "2", "--all")
	if got := ids(out); len(got) != 5 || strings.Contains(out, "next page") {
		t.Errorf("--all: %v\n%s", got, out)
	}
	var page struct {
		Cases []struct {
			CaseID string `json:"case_id"`
		}
		NextPageToken string `json:"next_page_token"`
	}
	out = e.must(t, "cases", "list", "--page-size", "3", "-o", "json")
	if err := json.Unmarshal([]byte(out), &page); err != nil || len(page.Cases) != 3 || page.NextPageToken == "" {
		t.Errorf("json page: %v %+v\n%s", err, page, out)
	}

	_, err := e.ctl(t, e.analyst, nil, "cases", "list", "--status", "pending")
	wantExit(t, err, 1, "--status", "investigation, indictment, trial or closed")
	_, err = e.ctl(t, e.analyst, nil, "cases", "list", "--after", "March")
	wantExit(t, err, 1, "--after", "RFC 3339")
	_, err = e.ctl(t, e.analyst, nil, "cases", "list", "--page-token", "bogus")
	wantExit(t, err, 1, "page_token", "InvalidArgument")
	_, err = e.ctl(t, e.analyst, nil, "cases", "list", "--near", "46.6,32.6")
	wantExit(t, err, 1, "--radius")
	_, err = e.ctl(t, e.analyst, nil, "cases", "list", "--near", "46.6;32.6", "--radius", "3")
	wantExit(t, err, 1, "--near", "LAT,LON")
	_, err = e.ctl(t, e.analyst, nil, "cases", "list", "--text", "??")
	wantExit(t, err, 1, "filter.text", "InvalidArgument")
}

func TestCasesGet(t *testing.T) {
	e := startLocalNode(t)
	e.must(t, "cases", "import", writeLines(t, "register.jsonl", smallCases))
	out := e.must(t, "cases", "get", "UA-2022-000001")
	for _, want := range []string{
		"UA-2022-000001  Shelling of a residential block in Kharkiv",
		"status:       investigation", "sensitivity:  federation", "version:      1",
		"crime codes:  RS-8.2.b.i, UA-CC-438",
		"2022-03-01T08:00:00+02:00 to 2022-03-01T09:00:00+02:00 (hour)  Kharkiv, Kharkiv Oblast  49.9935, 36.2304 ±200 m",
		"unit: 64th Separate Motor Rifle Brigade",
		"persons (2):\n  victim: Олена Коваль (born 1978)\n  witness: Ivan Petrenko\n",
		"UA-2022-000001-E001  sha256 " + strings.Repeat("a1", 32) + "  video/mp4  collected 2022-03-02",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("get lacks %q:\n%s", want, out)
		}
	}
	out = e.must(t, "cases", "get", "UA-2022-000003", "-o", "json")
	var c struct {
		CaseID    string `json:"case_id"`
		Incidents []any  `json:"incidents"`
		Version   string `json:"version"`
	}
	if err := json.Unmarshal([]byte(out), &c); err != nil || c.CaseID != "UA-2022-000003" || len(c.Incidents) != 2 || c.Version != "1" {
		t.Errorf("get -o json: %v %+v\n%s", err, c, out)
	}
	_, err := e.ctl(t, e.analyst, nil, "cases", "get", "UA-2099-999999")
	wantExit(t, err, 1, "get case UA-2099-999999", "NotFound")
}

func TestCasesCreateUpdateDelete(t *testing.T) {
	e := startLocalNode(t)
	file := writeLines(t, "case.json", smallCases[:1])

	out := e.must(t, "cases", "create", file)
	if out != "created UA-2022-000001 (version 1)\n" {
		t.Errorf("create said %q", out)
	}
	_, err := e.ctl(t, e.analyst, nil, "cases", "create", file)
	wantExit(t, err, 1, "AlreadyExists")

	// Checked locally, with the field named; nothing is sent.
	bad := strings.Replace(smallCases[1], `"place":"Chernihiv"`, `"place":""`, 1)
	_, err = e.ctl(t, e.analyst, strings.NewReader(bad), "cases", "create", "-")
	wantExit(t, err, 1, "stdin is not a valid case; nothing was sent", "line 1: incidents[0].place")
	_, err = e.ctl(t, e.analyst, strings.NewReader(strings.Join(smallCases[:2], "\n")), "cases", "create", "-")
	wantExit(t, err, 1, "2 lines", "cases import")
	other := strings.Replace(smallCases[1], `"country":"UA"`, `"country":"PL"`, 1)
	_, err = e.ctl(t, e.analyst, strings.NewReader(other), "cases", "create", "-")
	wantExit(t, err, 1, "country")

	// An indented object is one case too.
	var v any
	if err := json.Unmarshal([]byte(smallCases[1]), &v); err != nil {
		t.Fatal(err)
	}
	indented, _ := json.MarshalIndent(v, "", "  ")
	out, err = e.ctl(t, e.analyst, strings.NewReader(string(indented)), "cases", "create", "-")
	if err != nil || out != "created UA-2022-000002 (version 1)\n" {
		t.Errorf("create of an indented case: %v %q", err, out)
	}

	upd := writeLines(t, "upd.json", []string{strings.Replace(smallCases[0], `"victim_count":3`, `"victim_count":4`, 1)})
	out = e.must(t, "cases", "update", upd, "--expected-version", "1")
	if out != "updated UA-2022-000001 (version 2)\n" {
		t.Errorf("update said %q", out)
	}
	_, err = e.ctl(t, e.analyst, nil, "cases", "update", upd, "--expected-version", "1")
	wantExit(t, err, 1, "Aborted")
	out = e.must(t, "cases", "get", "UA-2022-000001")
	if !strings.Contains(out, "victims:      4") || !strings.Contains(out, "version:      2") {
		t.Errorf("after update:\n%s", out)
	}

	_, err = e.ctl(t, e.analyst, nil, "cases", "delete", "UA-2022-000001")
	wantExit(t, err, 1, "reason")
	_, err = e.ctl(t, e.analyst, nil, "cases", "delete", "UA-2022-000001", "--reason", "registered twice")
	wantExit(t, err, 1, "PermissionDenied", "admin role")
	if strings.Contains(fmt.Sprint(err), "hint: accordctl used the node's own certificate") {
		t.Errorf("an analyst's refusal is not about node certificates: %v", err)
	}
	out, err = e.ctl(t, e.admin, nil, "cases", "delete", "UA-2022-000001", "--reason", "registered twice")
	if err != nil || out != "deleted UA-2022-000001 (it was at version 2)\n" {
		t.Errorf("delete by admin: %v %q", err, out)
	}
	_, err = e.ctl(t, e.analyst, nil, "cases", "get", "UA-2022-000001")
	wantExit(t, err, 1, "NotFound")
}

// datasetPath is the development dataset of the repository's shared folder,
// when it is there.
const datasetPath = "../../../shared/datasets/dedup-dev/cases-UA.jsonl"

func TestCasesDatasetRoundTrip(t *testing.T) {
	if _, err := os.Stat(datasetPath); err != nil {
		t.Skipf("dataset %s not available (%v): the round trip of a real register is not tested", datasetPath, err)
	}
	e := startLocalNode(t)
	want, _ := readCases(t, datasetPath)

	var res struct {
		Lines, Valid, Created string
		Invalid               string
		Written               bool
	}
	out := e.must(t, "cases", "import", datasetPath, "-o", "json")
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if res.Invalid != "0" || !res.Written || res.Created != fmt.Sprint(len(want)) {
		t.Fatalf("import of the dataset: %+v", res)
	}
	exported := filepath.Join(t.TempDir(), "export.jsonl")
	e.must(t, "cases", "export", "--out", exported)
	sameCases(t, datasetPath, exported)
}

// TestCasesImportGroupsErrors: the same field and reason on 1,000 lines is
// one line of output with the count and the first line numbers.
func TestCasesImportGroupsErrors(t *testing.T) {
	e := startLocalNode(t)
	var lines []string
	for i := range 1000 {
		lines = append(lines, fmt.Sprintf(`{"case_id":"UA-2024-%06d","country":"UA","opened":"2024-02-%d","incidents":[{"start":"2024-01-01T00:00:00Z","place":"Kyiv"}]}`, i+1, 30+i%2))
	}
	lines = append(lines, smallCases[0])
	out, err := e.ctl(t, e.analyst, nil, "cases", "import", writeLines(t, "bad.jsonl", lines))
	wantExit(t, err, 1, "1,000 of 1,001 lines are invalid")
	want := `opened: must be a real date written YYYY-MM-DD — 1,000 lines: 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, … (line 1: got "2024-02-30")`
	if !strings.Contains(out, want+"\n") {
		t.Errorf("output lacks %q:\n%s", want, out)
	}
	if n := strings.Count(out, "\n"); n > 4 {
		t.Errorf("%d lines of output for one kind of error:\n%s", n, out)
	}
}

// TestCasesImportDryRunCounts: --dry-run says how many cases an import
// would create, update or leave unchanged, and changes nothing.
func TestCasesImportDryRunCounts(t *testing.T) {
	e := startLocalNode(t)
	e.must(t, "cases", "import", writeLines(t, "first.jsonl", smallCases[:2]))
	before := e.must(t, "cases", "list", "-o", "json")

	changed := strings.Replace(smallCases[1], `"status":"closed"`, `"status":"trial"`, 1)
	in := writeLines(t, "next.jsonl", []string{smallCases[0], changed, smallCases[2], smallCases[3]})
	out := e.must(t, "cases", "import", "--dry-run", in)
	if !strings.Contains(out, "dry run: nothing was written; an import would write: 2 created, 1 updated, 1 unchanged") {
		t.Errorf("dry run:\n%s", out)
	}
	if after := e.must(t, "cases", "list", "-o", "json"); after != before {
		t.Errorf("the dry run changed the cases:\nbefore %s\nafter  %s", before, after)
	}
	out = e.must(t, "cases", "import", in)
	if !strings.Contains(out, "written: 2 created, 1 updated, 1 unchanged") {
		t.Errorf("import after the dry run:\n%s", out)
	}
}
