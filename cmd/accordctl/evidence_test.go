package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// writeFile writes content to a new file and returns its path and SHA-256.
func writeFile(t *testing.T, dir, name string, content []byte) (string, string) {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(content)
	return path, hex.EncodeToString(sum[:])
}

// addEvidence registers a file for UA-2022-000001 and returns the new
// item's id.
func addEvidence(t *testing.T, e *localEnv, args ...string) (string, string) {
	t.Helper()
	out := e.must(t, append([]string{"evidence", "add", "--case", "UA-2022-000001"}, args...)...)
	m := regexp.MustCompile(`registered (\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("evidence add said:\n%s", out)
	}
	return m[1], out
}

func TestEvidenceAddVerifyGetFind(t *testing.T) {
	e := startLocalNode(t)
	e.must(t, "cases", "create", writeLines(t, "case.json", smallCases[:1]))
	dir := t.TempDir()
	// More than one hashing buffer, to hash across reads.
	content := bytes.Repeat([]byte("drone footage, north approach\n"), 80_000)
	video, sum := writeFile(t, dir, "drone.mp4", content)

	id, out := addEvidence(t, e, "--collected", "2022-04-02", "--description", "north approach", video)
	for _, want := range []string{
		"sha256 " + sum, "2.29 MiB (2,400,000 bytes)", "video/mp4",
		"custody chain opened (event 1, seal ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("evidence add lacks %q:\n%s", want, out)
		}
	}
	if id == "UA-2022-000001-E001" || !strings.HasPrefix(id, "UA-2022-000001-E") {
		t.Errorf("item id %s (E001 is the case's own evidence reference)", id)
	}

	out = e.must(t, "evidence", "get", id)
	for _, want := range []string{"case:         UA-2022-000001", "sha256:       " + sum, "location:     " + video,
		"collected:    2022-04-02", "description:  north approach", "by spiffe://accord.test/member/UA/user/u-1"} {
		if !strings.Contains(out, want) {
			t.Errorf("evidence get lacks %q:\n%s", want, out)
		}
	}

	// The file verifies, and so does a copy elsewhere (not the recorded
	// location).
	out = e.must(t, "evidence", "verify", video)
	if !strings.Contains(out, "OK  "+video) || !strings.Contains(out, id+"  case UA-2022-000001  registered by spiffe://accord.test/member/UA/user/u-1") ||
		!strings.Contains(out, "recorded location: this file") {
		t.Errorf("verify:\n%s", out)
	}
	cp, _ := writeFile(t, t.TempDir(), "copy.bin", content)
	out = e.must(t, "evidence", "verify", cp)
	if !strings.Contains(out, "OK  "+cp) || !strings.Contains(out, "recorded location: "+video) {
		t.Errorf("verify of a copy:\n%s", out)
	}
	out = e.must(t, "evidence", "find", strings.ToUpper(sum))
	if !strings.Contains(out, id) || !strings.Contains(out, "2.29 MiB") {
		t.Errorf("find:\n%s", out)
	}
	out = e.must(t, "evidence", "find", strings.Repeat("0", 64))
	if !strings.Contains(out, "no evidence item has sha256") {
		t.Errorf("find of an unknown hash:\n%s", out)
	}

	// A changed copy is not in the index.
	changed, _ := writeFile(t, t.TempDir(), "copy.bin", append(bytes.Clone(content), '!'))
	out, err := e.ctl(t, e.analyst, nil, "evidence", "verify", video, changed)
	wantExit(t, err, 2, "1 of 2 files are not in the evidence index")
	if !strings.Contains(out, "NOT IN THE INDEX  "+changed) {
		t.Errorf("verify of a changed file:\n%s", out)
	}
	var results []struct {
		File    string
		Indexed bool
		Items   []struct {
			Item struct {
				ID string `json:"id"`
			}
			ThisFile bool `json:"this_file"`
		}
	}
	out, err = e.ctl(t, e.analyst, nil, "evidence", "verify", video, changed, "-o", "json")
	wantExit(t, err, 2)
	if err := json.Unmarshal([]byte(out), &results); err != nil || len(results) != 2 || !results[0].Indexed || results[1].Indexed ||
		results[0].Items[0].Item.ID != id || !results[0].Items[0].ThisFile {
		t.Errorf("verify -o json: %v %+v\n%s", err, results, out)
	}

	// The vault file itself is checked by id; then it changes.
	out = e.must(t, "evidence", "verify", "--id", id)
	if !strings.Contains(out, "OK  "+id+"  content at "+video+" matches the registered hash") {
		t.Errorf("verify --id:\n%s", out)
	}
	if err := os.WriteFile(video, []byte("tampered"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = e.ctl(t, e.analyst, nil, "evidence", "verify", "--id", id)
	wantExit(t, err, 2, "content at "+video+" no longer matches the registered hash", "size was 2,400,000, now 8")
	if !strings.Contains(out, "CHANGED  "+id) {
		t.Errorf("verify --id of a changed file:\n%s", out)
	}
	if err := os.Remove(video); err != nil {
		t.Fatal(err)
	}
	_, err = e.ctl(t, e.analyst, nil, "evidence", "verify", "--id", id)
	wantExit(t, err, 2, "is gone")
}

func TestEvidenceAddChoosesMediaTypeAndLocation(t *testing.T) {
	e := startLocalNode(t)
	e.must(t, "cases", "create", writeLines(t, "case.json", smallCases[:1]))
	dir := t.TempDir()
	note, _ := writeFile(t, dir, "note.txt", []byte("witness statement"))
	png, _ := writeFile(t, dir, "scan", append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 100)...))
	out := e.must(t, "evidence", "add", "--case", "UA-2022-000001", note, png)
	if !strings.Contains(out, "text/plain") || !strings.Contains(out, "image/png") || strings.Count(out, "registered ") != 2 {
		t.Errorf("media types:\n%s", out)
	}

	_, err := e.ctl(t, e.analyst, nil, "evidence", "add", "--case", "UA-2022-000001", "--location", "s3://vault/x", note, png)
	wantExit(t, err, 1, "--location", "one FILE")
	_, err = e.ctl(t, e.analyst, nil, "evidence", "add", note)
	wantExit(t, err, 1, "--case")
	_, err = e.ctl(t, e.analyst, nil, "evidence", "add", "--case", "UA-2099-000009", note)
	wantExit(t, err, 1, "case UA-2099-000009", "NotFound")

	var added []struct {
		File string
		Item struct {
			ID       string `json:"id"`
			Location string `json:"location"`
		}
		Registered struct {
			Seq    string `json:"seq"`
			SealID string `json:"seal_id"`
		}
	}
	// The same content again, kept elsewhere: a second item, asked for.
	out = e.must(t, "evidence", "add", "--case", "UA-2022-000001", "--allow-duplicate", "--media-type", "application/pdf", "--location", "s3://vault-ua/x.pdf", note, "-o", "json")
	if err := json.Unmarshal([]byte(out), &added); err != nil || len(added) != 1 || added[0].Item.Location != "s3://vault-ua/x.pdf" || added[0].Registered.Seq != "1" {
		t.Fatalf("add -o json: %v %+v\n%s", err, added, out)
	}
	_, err = e.ctl(t, e.analyst, nil, "evidence", "verify", "--id", added[0].Item.ID)
	wantExit(t, err, 1, "not a local path")
}

func TestMediaTypeAndLocalPath(t *testing.T) {
	for _, c := range []struct {
		flag, path string
		head       []byte
		want       string
	}{
		{"video/mp4", "x.bin", nil, "video/mp4"},
		{"", "report.PDF", nil, "application/pdf"},
		{"", "note.txt", nil, "text/plain"},
		{"", "noext", []byte("hello, plain text"), "text/plain"},
		{"", "noext", []byte{0, 1, 2, 3}, "application/octet-stream"},
	} {
		if got := mediaType(c.flag, c.path, c.head); got != c.want {
			t.Errorf("mediaType(%q, %q) = %q, want %q", c.flag, c.path, got, c.want)
		}
	}
	for loc, want := range map[string]string{"/vault/a.mp4": "/vault/a.mp4", "file:///vault/a%20b.mp4": "/vault/a b.mp4", "file://localhost/v/a": "/v/a",
		"s3://vault/a": "", "relative/a": "", "file://other-host/a": ""} {
		got, ok := localPath(loc)
		if got != want || ok != (want != "") {
			t.Errorf("localPath(%q) = %q, %v; want %q", loc, got, ok, want)
		}
	}
}

// TestEvidenceAddSameContentTwice: registering content the case already
// holds says which item holds it and needs --allow-duplicate; the node
// refuses it to any client that does not set allow_duplicate.
func TestEvidenceAddSameContentTwice(t *testing.T) {
	e := startLocalNode(t)
	e.must(t, "cases", "create", writeLines(t, "case.json", smallCases[:1]))
	video, _ := writeFile(t, t.TempDir(), "drone.mp4", []byte("drone footage, north approach\n"))
	id, _ := addEvidence(t, e, video)

	out, err := e.ctl(t, e.analyst, nil, "evidence", "add", "--case", "UA-2022-000001", video)
	wantExit(t, err, 1, "register "+video+": case UA-2022-000001 already holds this content as evidence "+id+" (registered ",
		"by spiffe://accord.test/member/UA/user/u-1); use --allow-duplicate to register it again (gRPC FailedPrecondition)")
	if strings.Contains(out, "registered UA-") {
		t.Errorf("registered anyway:\n%s", out)
	}
	again, _ := addEvidence(t, e, "--allow-duplicate", video)
	if again == id {
		t.Errorf("--allow-duplicate registered %s again instead of a new item", id)
	}
	if out := e.must(t, "cases", "get", "UA-2022-000001", "-o", "json"); strings.Count(out, `"id": "UA-2022-000001-E`) != 3 {
		t.Errorf("the case should hold its own reference and two items:\n%s", out)
	}
}
