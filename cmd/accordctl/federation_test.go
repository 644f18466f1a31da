package main

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/accordfed/accord/federation/raftnet/raftnettest"
	"github.com/accordfed/accord/node/audit"
	"github.com/accordfed/accord/node/custody"
	"github.com/accordfed/accord/node/store"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// runCtl runs accordctl in-process with args as they are (no --server) and
// returns what it printed on stdout.
func runCtl(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	err := root.Execute()
	if errOut.Len() > 0 {
		t.Logf("stderr of %v:\n%s", args, errOut.String())
	}
	return out.String(), err
}

// writeAuditLog writes a small audit log in dir and returns its entries.
func writeAuditLog(t *testing.T, dir string) []audit.Entry {
	t.Helper()
	// A clock a minute apart per reading, ending before now.
	at := time.Now().Add(-time.Hour).UTC()
	l, err := audit.OpenWith(dir, nil, audit.Options{Now: func() time.Time {
		at = at.Add(time.Minute)
		return at
	}})
	if err != nil {
		t.Fatal(err)
	}
	const (
		pl = "spiffe://accord.test/member/PL/node/pl-1"
		ua = "spiffe://accord.test/member/UA/node/ua-1"
		de = "spiffe://accord.test/member/DE/node/de-1"
	)
	var entries []audit.Entry
	for _, e := range []audit.Entry{
		{Kind: audit.KindServed, Peer: "PL", PeerID: pl, What: audit.What{Records: 3, FromSeq: 1, ToSeq: 3, CaseIDs: []string{"LT-2022-000001"}, Cursor: "c3"}},
		{Kind: audit.KindReceived, Peer: "UA", PeerID: ua, What: audit.What{Records: 2, FromSeq: 10, ToSeq: 11}},
		{Kind: audit.KindRefused, Peer: "PL", PeerID: pl, What: audit.What{Reason: "bad_cursor"}},
		{Kind: audit.KindNudged, Peer: "DE", PeerID: de, What: audit.What{ToSeq: 3}},
		{Kind: audit.KindResync, Peer: "UA", PeerID: ua, What: audit.What{Reason: "cursor_expired"}},
		{Kind: audit.KindServed, Peer: "PL", PeerID: pl, What: audit.What{Records: 1, FromSeq: 4, ToSeq: 4}},
	} {
		out, err := l.Append(e) // one at a time: one time each
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, out...)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return entries
}

// auditRows returns the SEQ column of show's table.
func auditRows(t *testing.T, out string) []string {
	t.Helper()
	var seqs []string
	for i, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		if i == 0 || line == "(no entries)" {
			continue
		}
		seqs = append(seqs, strings.Fields(line)[0])
	}
	return seqs
}

func TestAuditCommands(t *testing.T) {
	dir := t.TempDir()
	entries := writeAuditLog(t, dir)
	cfg := filepath.Join(t.TempDir(), "node.yaml")
	if err := os.WriteFile(cfg, []byte("data_dir: "+dir+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, audit.FileName)
	head := entries[len(entries)-1].Hash

	t.Run("verify", func(t *testing.T) {
		out, err := runCtl(t, "--config", cfg, "audit", "verify")
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		wantIn(t, "audit verify", out, "file:", path, "6 entries", "head:", head+" (entry 6)", "OK: the chain is intact",
			"first:", entries[0].Time.UTC().Format(time.RFC3339Nano), "last:", entries[5].Time.UTC().Format(time.RFC3339Nano))
		out, err = runCtl(t, "audit", "verify", "--file", path, "-o", "json")
		if err != nil {
			t.Fatal(err)
		}
		var rep auditReport
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		if !rep.OK || rep.Entries != 6 || rep.Head != head || rep.Break != nil || rep.First == nil || rep.File != path {
			t.Errorf("report: %s", out)
		}
	})

	t.Run("show", func(t *testing.T) {
		out, err := runCtl(t, "--config", cfg, "audit", "show")
		if err != nil {
			t.Fatal(err)
		}
		wantIn(t, "audit show", out, "SEQ", "TIME", "KIND", "PEER", "RECORDS", "SEQS", "REASON", "bad_cursor", "cursor_expired", "10-11", "-3")
		if got := auditRows(t, out); strings.Join(got, ",") != "1,2,3,4,5,6" {
			t.Errorf("rows %v:\n%s", got, out)
		}
		if !regexp.MustCompile(`(?m)^1\s+\S+ \S+\s+served\s+PL\s+-\s+3\s+1-3\s+-$`).MatchString(out) {
			t.Errorf("row 1:\n%s", out)
		}
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"--peer", "PL"}, "1,3,6"},
			{[]string{"--kind", "served"}, "1,6"},
			{[]string{"--kind", "Resync"}, "5"},
			{[]string{"--peer", "PL", "--kind", "served", "--limit", "1"}, "1"},
			{[]string{"--limit", "2"}, "1,2"},
			{[]string{"--since", "1h"}, "1,2,3,4,5,6"},
			{[]string{"--since", "2d"}, "1,2,3,4,5,6"},
			{[]string{"--since", entries[3].Time.Format(time.RFC3339Nano)}, "4,5,6"},
			{[]string{"--since", time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}, ""},
			{[]string{"--peer", "FR"}, ""},
		} {
			out, err := runCtl(t, append([]string{"--config", cfg, "audit", "show"}, tc.args...)...)
			if err != nil {
				t.Fatalf("%v: %v", tc.args, err)
			}
			if got := strings.Join(auditRows(t, out), ","); got != tc.want {
				t.Errorf("%v: rows %q, want %q:\n%s", tc.args, got, tc.want, out)
			}
			if tc.want == "" && !strings.Contains(out, "(no entries)") {
				t.Errorf("%v: no '(no entries)':\n%s", tc.args, out)
			}
		}
		out, err = runCtl(t, "audit", "show", "--file", path, "--peer", "UA", "-o", "json")
		if err != nil {
			t.Fatal(err)
		}
		var got []audit.Entry
		sc := bufio.NewScanner(strings.NewReader(out))
		for sc.Scan() {
			var e audit.Entry
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				t.Fatalf("%v: %s", err, sc.Text())
			}
			got = append(got, e)
		}
		if len(got) != 2 || got[0].Seq != 2 || got[0].Kind != audit.KindReceived || got[0].Hash != entries[1].Hash ||
			got[1].Seq != 5 || got[1].What.Reason != "cursor_expired" {
			t.Errorf("json lines: %s", out)
		}
	})

	t.Run("tampered", func(t *testing.T) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.SplitAfter(string(data), "\n")
		if !strings.Contains(lines[2], `"reason":"bad_cursor"`) {
			t.Fatalf("line 3: %s", lines[2])
		}
		lines[2] = strings.Replace(lines[2], `"reason":"bad_cursor"`, `"reason":"not_member"`, 1)
		bad := filepath.Join(t.TempDir(), "audit.log")
		if err := os.WriteFile(bad, []byte(strings.Join(lines, "")), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := runCtl(t, "audit", "verify", "--file", bad)
		wantExit(t, err, 2, "line 3", "entry 3")
		wantIn(t, "audit verify of a tampered log", out, "BROKEN at line 3 (entry 3)", "2 entries intact before the break")
		out, err = runCtl(t, "audit", "verify", "--file", bad, "-o", "json")
		wantExit(t, err, 2, "line 3")
		var rep auditReport
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		if rep.OK || rep.Break == nil || rep.Break.Line != 3 || rep.Break.Seq != 3 || rep.Break.Reason == "" {
			t.Errorf("report: %s", out)
		}
		out, err = runCtl(t, "audit", "show", "--file", bad)
		wantExit(t, err, 2, "line 3")
		if got := strings.Join(auditRows(t, out), ","); got != "1,2" {
			t.Errorf("show of a tampered log listed %q:\n%s", got, out)
		}
	})

	t.Run("errors", func(t *testing.T) {
		_, err := runCtl(t, "audit", "verify", "--file", filepath.Join(dir, "missing.log"))
		wantExit(t, err, 1, "missing.log")
		t.Setenv("ACCORD_CONFIG", "")
		_, err = runCtl(t, "audit", "verify")
		wantExit(t, err, 1, "--config", "--file")
		empty := filepath.Join(t.TempDir(), "empty.yaml")
		if err := os.WriteFile(empty, []byte("log:\n  level: warn\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err = runCtl(t, "--config", empty, "audit", "show")
		wantExit(t, err, 1, "data_dir")
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"--kind", "pushed"}, "--kind"},
			{[]string{"--peer", "pl"}, "--peer"},
			{[]string{"--since", "yesterday"}, "--since"},
			{[]string{"--since", "-5h"}, "--since"},
			{[]string{"--limit", "-1"}, "--limit"},
		} {
			_, err := runCtl(t, append([]string{"--config", cfg, "audit", "show"}, tc.args...)...)
			wantExit(t, err, 1, tc.want)
		}
	})
}

// fedTestCase is a case of UA for the federation commands.
func fedTestCase(id string, sens accordv1.Sensitivity, place, crime, start string) *accordv1.Case {
	return &accordv1.Case{
		CaseId: id, Country: "UA", Title: "Shelling at " + place, Sensitivity: sens,
		Status:     accordv1.CaseStatus_CASE_STATUS_INVESTIGATION,
		CrimeCodes: []string{crime},
		Incidents:  []*accordv1.Incident{{Start: start, Place: place, Region: place + " Oblast"}},
		Persons:    []*accordv1.Person{{Role: accordv1.PersonRole_PERSON_ROLE_VICTIM, Name: "Olena Kovalenko"}},
		Evidence: []*accordv1.EvidenceRef{
			{Id: id + "-E1", Sha256: fmt.Sprintf("%064x", 1), MediaType: "video/mp4"},
			{Id: id + "-E2", Sha256: fmt.Sprintf("%064x", 2), MediaType: "image/jpeg"},
		},
	}
}

// fedCases runs federation cases -o json and returns the case ids.
func fedCases(t *testing.T, m *regMember, args ...string) ([]string, string) {
	t.Helper()
	out := m.must(t, append([]string{"federation", "cases", "-o", "json"}, args...)...)
	var resp accordv1.ListFederationCasesResponse
	if err := protojson.Unmarshal([]byte(out), &resp); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	var ids []string
	for _, c := range resp.GetCases() {
		ids = append(ids, c.GetMember()+"/"+c.GetCase().GetCaseId())
	}
	return ids, resp.GetNextPageToken()
}

func fedStatus(t *testing.T, m *regMember) *accordv1.FederationStatusResponse {
	t.Helper()
	out := m.must(t, "federation", "status", "-o", "json")
	var st accordv1.FederationStatusResponse
	if err := protojson.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	return &st
}

func TestFederationCommands(t *testing.T) {
	fed := startRegistryFederation(t, "UA", "PL")
	ua, pl := fed["UA"], fed["PL"]

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := custody.NewSealer(key, "spiffe://accord.test/member/UA/node/ua-1")
	if err != nil {
		t.Fatal(err)
	}
	actor := store.Actor{ID: "spiffe://accord.test/member/UA/user/analyst", Sealer: sealer}
	fs := accordv1.Sensitivity_SENSITIVITY_FEDERATION
	for _, c := range []*accordv1.Case{
		fedTestCase("UA-2022-000001", fs, "Kharkiv", "RS-8.2.b.i", "2022-03-01T10:00:00+02:00"),
		fedTestCase("UA-2022-000002", fs, "Kharkiv", "RS-8.2.b.i", "2022-03-14T10:00:00+02:00"),
		fedTestCase("UA-2022-000003", fs, "Mariupol", "RS-8.2.b.iv", "2022-04-16T10:00:00+03:00"),
		fedTestCase("UA-2022-000004", accordv1.Sensitivity_SENSITIVITY_NATIONAL, "Kharkiv", "RS-8.2.b.i", "2022-03-02T10:00:00+02:00"),
	} {
		if _, err := ua.d.Store().CreateCase(c, actor); err != nil {
			t.Fatal(err)
		}
	}
	all := []string{"UA/UA-2022-000001", "UA/UA-2022-000002", "UA/UA-2022-000003"}
	raftnettest.WaitFor(t, 30*time.Second, func() error {
		ids, _ := fedCases(t, pl)
		if strings.Join(ids, ",") != strings.Join(all, ",") {
			return fmt.Errorf("PL lists %v", ids)
		}
		return nil
	})

	t.Run("cases", func(t *testing.T) {
		out := pl.must(t, "federation", "cases")
		wantIn(t, "federation cases", out, "MEMBER", "CASE", "STATUS", "DAY", "PLACE", "EVIDENCE", "PERSONS", "TITLE")
		row := regexp.MustCompile(`(?m)^UA\s+UA-2022-000003\s+investigation\s+2022-04-16\s+Mariupol\s+2\s+\d+\s+Shelling at Mariupol$`)
		if !row.MatchString(out) {
			t.Errorf("no row of UA-2022-000003:\n%s", out)
		}
		if strings.Contains(out, "UA-2022-000004") || strings.Contains(out, "Kovalenko") {
			t.Errorf("a national case or a name reached PL:\n%s", out)
		}
		for _, tc := range []struct {
			args []string
			want []string
		}{
			{[]string{"--place", "KHARK*"}, all[:2]},
			{[]string{"--place", "KHARK"}, nil},
			{[]string{"--place", "Харків"}, all[:2]},
			{[]string{"--place", "Charków"}, all[:2]},
			{[]string{"--place", "Мариуполь"}, all[2:]},
			{[]string{"--text", "shelling mariupol"}, all[2:]},
			{[]string{"--text", "обстріл"}, nil},
			{[]string{"--near", "50,36.2", "--radius", "100"}, nil}, // no coordinates
			{[]string{"--place", "Kharkov", "--text", "Shelling", "--from", "2022-03-10"}, all[1:2]},
			{[]string{"--crime", "RS-8.2.b.iv"}, all[2:]},
			{[]string{"--from", "2022-03-10", "--to", "2022-03-31"}, all[1:2]},
			{[]string{"--member", "UA", "--place", "kharkiv", "--crime", "RS-8.2.b.i", "--from", "2022-03-01", "--to", "2022-03-01"}, all[:1]},
			{[]string{"--member", "PL"}, nil},
		} {
			ids, tok := fedCases(t, pl, tc.args...)
			if strings.Join(ids, ",") != strings.Join(tc.want, ",") || tok != "" {
				t.Errorf("%v: %v (token %q), want %v", tc.args, ids, tok, tc.want)
			}
		}
		wantIn(t, "federation cases --member PL", pl.must(t, "federation", "cases", "--member", "PL"), "(no cases)")
	})

	t.Run("pages", func(t *testing.T) {
		out := pl.must(t, "federation", "cases", "--place", "kharkiv", "--page-size", "1")
		m := regexp.MustCompile(`next page: --page-token (\S+)`).FindStringSubmatch(out)
		if m == nil || !strings.Contains(out, "UA-2022-000001") || strings.Contains(out, "UA-2022-000002") {
			t.Fatalf("first page:\n%s", out)
		}
		out = pl.must(t, "federation", "cases", "--place", "kharkiv", "--page-size", "1", "--page-token", m[1])
		if !strings.Contains(out, "UA-2022-000002") || strings.Contains(out, "next page") {
			t.Errorf("second page:\n%s", out)
		}
		_, err := pl.ctl(t, "federation", "cases", "--place", "mariupol", "--page-token", m[1])
		wantExit(t, err, 1, "page_token", "InvalidArgument")
		ids, tok := fedCases(t, pl, "--all", "--page-size", "1")
		if strings.Join(ids, ",") != strings.Join(all, ",") || tok != "" {
			t.Errorf("--all: %v (token %q)", ids, tok)
		}
		out = pl.must(t, "federation", "cases", "--all", "--page-size", "2")
		if n := strings.Count(out, "MEMBER"); n != 1 || strings.Count(out, "UA-2022-") != 3 {
			t.Errorf("--all in text: %d headers:\n%s", n, out)
		}
	})

	t.Run("bad flags", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			want []string
		}{
			{[]string{"--member", "ua"}, []string{"--member", "not a member code"}},
			{[]string{"--from", "2022-3-1"}, []string{"--from", "YYYY-MM-DD"}},
			{[]string{"--to", "March"}, []string{"--to"}},
			{[]string{"--page-size", "1001"}, []string{"--page-size"}},
			{[]string{"--from", "2022-03-31", "--to", "2022-03-01"}, []string{"to:", "InvalidArgument"}},
			{[]string{"--crime", strings.Repeat("X", 65)}, []string{"crime_code", "InvalidArgument"}},
			{[]string{"--near", "50,36"}, []string{"--radius"}},
			{[]string{"--radius", "5"}, []string{"--radius", "--near"}},
			{[]string{"--near", "50", "--radius", "5"}, []string{"--near", "LAT,LON"}},
			{[]string{"--near", "95,36", "--radius", "5"}, []string{"--near", "latitude"}},
			{[]string{"--near", "50,190", "--radius", "5"}, []string{"--near", "longitude"}},
			{[]string{"--near", "50,36", "--radius", "1001"}, []string{"--radius", "1000"}},
			{[]string{"--place", "*"}, []string{"place:", "InvalidArgument"}},
			{[]string{"--text", "!!"}, []string{"text:", "InvalidArgument"}},
		} {
			_, err := pl.ctl(t, append([]string{"federation", "cases"}, tc.args...)...)
			wantExit(t, err, 1, tc.want...)
		}
	})

	t.Run("get", func(t *testing.T) {
		out := pl.must(t, "federation", "get", "UA", "UA-2022-000003")
		wantIn(t, "federation get", out, "UA UA-2022-000003  Shelling at Mariupol", "status:       investigation",
			"crime codes:  RS-8.2.b.iv", "incidents (1):", "2022-04-16T10:00:00+03:00  Mariupol, Mariupol Oblast",
			"person encodings (", "evidence (2):", "sha256 "+fmt.Sprintf("%064x", 1)+"  video/mp4")
		if strings.Contains(out, "Kovalenko") {
			t.Errorf("a name reached PL:\n%s", out)
		}
		out = pl.must(t, "federation", "get", "UA", "UA-2022-000003", "-o", "json")
		var fc accordv1.FederationCase
		if err := protojson.Unmarshal([]byte(out), &fc); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		if fc.GetMember() != "UA" || fc.GetCase().GetCaseId() != "UA-2022-000003" || fc.GetSeq() == 0 || len(fc.GetCase().GetEvidence()) != 2 {
			t.Errorf("json: %v", &fc)
		}
		// A national case never reached PL: not found, as an unknown one.
		for _, id := range []string{"UA-2022-000004", "UA-2022-999999"} {
			_, err := pl.ctl(t, "federation", "get", "UA", id)
			wantExit(t, err, 1, "NotFound", "no such shared case")
		}
		_, err := pl.ctl(t, "federation", "get", "ua", "UA-2022-000003")
		wantExit(t, err, 1, "MEMBER", "not a member code")
		_, err = pl.ctl(t, "federation", "get", "UA")
		wantExit(t, err, 1, "2 arg")
	})

	t.Run("status", func(t *testing.T) {
		var st *accordv1.FederationStatusResponse
		raftnettest.WaitFor(t, 20*time.Second, func() error {
			st = fedStatus(t, pl)
			if len(st.GetPeers()) != 1 || st.GetPeers()[0].GetMember() != "UA" {
				return fmt.Errorf("peers %v", st.GetPeers())
			}
			if p := st.GetPeers()[0]; p.GetRecordsHeld() != 3 || p.GetLagRecords() != 0 || p.GetLastSync() == nil {
				return fmt.Errorf("UA: %v", p)
			}
			return nil
		})
		p := st.GetPeers()[0]
		if p.GetNode() != "spiffe://accord.test/member/UA/node/ua-1" || p.GetReceived() < 3 || p.GetRefused() != 0 || p.GetLagSeconds() != 0 {
			t.Errorf("UA as PL sees it: %v", p)
		}
		out := pl.must(t, "federation", "status")
		wantIn(t, "federation status", out, "MEMBER", "STATE", "LAST HEARD", "LAST CHANGE", "LAG", "HELD", "REFUSED", "STALE", "RESYNCS", "ERROR",
			"spiffe://accord.test/member/UA/node/ua-1", "this node's feed: head")
		if !regexp.MustCompile(`(?m)^UA\s+(connected|idle)\s+\d+[smhd]\S* ago\s+\d+[smhd]\S* ago\s+0\s+-\s+3\s+0\s+\d+\s+\d+\s+spiffe://`).MatchString(out) {
			t.Errorf("no row of UA:\n%s", out)
		}
		// UA's own feed holds its three shared cases (republished, maybe,
		// when the person-encoding key arrived).
		raftnettest.WaitFor(t, 20*time.Second, func() error {
			st := fedStatus(t, ua)
			if st.GetFeedHead() < 3 || st.GetFeedPending() != 0 {
				return fmt.Errorf("UA's feed: head %d, pending %d", st.GetFeedHead(), st.GetFeedPending())
			}
			return nil
		})
	})
}

func TestFederationStatusWithoutExchange(t *testing.T) {
	e := startLocalNode(t)
	out := e.must(t, "federation", "status")
	wantIn(t, "federation status of a node without a registry", out, "(no members)", "this node's feed: head 0, 0 changes waiting")
	out = e.must(t, "federation", "cases")
	wantIn(t, "federation cases of a node without a registry", out, "(no cases)")
}

func TestHumanDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0s", 1499 * time.Millisecond: "1s", 59 * time.Second: "59s", 61 * time.Second: "1m1s",
		90 * time.Minute: "1h30m", 47 * time.Hour: "47h0m", 50 * time.Hour: "2d2h",
	} {
		if got := humanDuration(d); got != want {
			t.Errorf("%s: %q, want %q", d, got, want)
		}
	}
}
