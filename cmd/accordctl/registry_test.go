package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/accordfed/accord/federation/pki/pkitest"
	"github.com/accordfed/accord/federation/raftnet/raftnettest"
	"github.com/accordfed/accord/federation/registry"
	"github.com/accordfed/accord/node/daemon"
	"github.com/accordfed/accord/node/daemon/daemontest"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// regMember is one member's registry server of a test federation, with the
// accordctl configuration of its analyst.
type regMember struct {
	code    string
	d       *daemon.Daemon
	analyst string // accordctl configuration file of user "analyst"
}

// ctl runs accordctl as the member's analyst against its node.
func (m *regMember) ctl(t *testing.T, args ...string) (string, error) {
	t.Helper()
	return (&localEnv{addr: m.d.LocalAddr()}).ctl(t, m.analyst, nil, args...)
}

// must runs accordctl and fails the test on error.
func (m *regMember) must(t *testing.T, args ...string) string {
	t.Helper()
	out, err := m.ctl(t, args...)
	if err != nil {
		t.Fatalf("%s: accordctl %s: %v\n%s", m.code, strings.Join(args, " "), err, out)
	}
	return out
}

// startRegistryFederation starts one registry server per founder, founds
// the registry, and waits until every node sees it founded with a leader.
func startRegistryFederation(t *testing.T, founders ...string) map[string]*regMember {
	t.Helper()
	fed := pkitest.NewFederation(t, "accord.test", founders...)
	nodes, _ := daemontest.StartFederation(t, fed, nil, founders...)
	out := map[string]*regMember{}
	for _, n := range nodes {
		out[n.Member] = &regMember{code: n.Member, d: n.D, analyst: writeClientConfig(t, fed.User(n.Member, "analyst"))}
	}
	return out
}

// writeJSON runs a write with -o json and returns its result.
func writeJSON(t *testing.T, m *regMember, args ...string) regWriteResult {
	t.Helper()
	out := m.must(t, append(args, "-o", "json")...)
	var r regWriteResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if r.RequestID == "" || r.Index == 0 {
		t.Fatalf("write result without request id or index: %s", out)
	}
	return r
}

func wantIn(t *testing.T, what, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, out)
		}
	}
}

// wantRow checks that a "key: value" row of a show command has value.
func wantRow(t *testing.T, out, key, value string) {
	t.Helper()
	re := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(key+":") + `\s+` + regexp.QuoteMeta(value) + `\s*$`)
	if !re.MatchString(out) {
		t.Errorf("no row %q: %q in:\n%s", key, value, out)
	}
}

func TestRegistryCommandsAcrossFederation(t *testing.T) {
	fed := startRegistryFederation(t, "UA", "PL", "DE")
	ua, pl, de := fed["UA"], fed["PL"], fed["DE"]

	t.Run("status", func(t *testing.T) {
		out := de.must(t, "registry", "status", "-o", "json")
		var st accordv1.RegistryStatusResponse
		if err := protojson.Unmarshal([]byte(out), &st); err != nil {
			t.Fatalf("%v:\n%s", err, out)
		}
		if len(st.GetServers()) != 3 || !st.GetBootstrapped() || st.GetFederation() != "accord.test" {
			t.Fatalf("status: %s", out)
		}
		leaders := 0
		for _, s := range st.GetServers() {
			if s.GetLeader() {
				leaders++
				if s.GetId() != st.GetLeaderId() {
					t.Errorf("leader mark on %s, leader_id %s", s.GetId(), st.GetLeaderId())
				}
			}
			if s.GetSuffrage() != "Voter" {
				t.Errorf("server %s: suffrage %s", s.GetId(), s.GetSuffrage())
			}
		}
		if leaders != 1 {
			t.Errorf("%d servers marked leader:\n%s", leaders, out)
		}
		text := de.must(t, "registry", "status")
		wantIn(t, "registry status", text, "accord.test (founded)", "leader:", "SUFFRAGE", "Voter", "/member/UA/node/ua-1", "/member/PL/node/pl-1", "/member/DE/node/de-1")

		members := pl.must(t, "registry", "members")
		for _, m := range []string{"UA", "PL", "DE"} {
			wantIn(t, "registry members", members, m+" Prosecutor General's Office")
		}
		if n := strings.Count(members, "admitted"); n != 3 {
			t.Errorf("%d admitted members:\n%s", n, members)
		}
		member := pl.must(t, "registry", "member", "UA")
		wantIn(t, "registry member UA", member, "UA  UA Prosecutor General's Office", "status:", "admitted", "spiffe://accord.test/member/UA/node/ua-1", "certificate authorities (1)")
		_, err := pl.ctl(t, "registry", "member", "ua")
		wantExit(t, err, 1, `member "ua": not a member code`)
	})

	t.Run("jit", func(t *testing.T) {
		created := writeJSON(t, ua, "jit", "create", "--name", "Kharkiv shelling 2022", "--legal-basis", "EU JIT model agreement", "--agreement-ref", "JIT-2024-07", "--invite", "PL")
		jit := created.ID
		if jit == "" || created.Type != "jit.create" || created.Status != "active" {
			t.Fatalf("create: %+v", created)
		}
		// A retry with the same request id is answered as the first time.
		again := writeJSON(t, ua, "jit", "create", "--name", "Kharkiv shelling 2022", "--legal-basis", "EU JIT model agreement", "--agreement-ref", "JIT-2024-07", "--invite", "PL", "--request-id", created.RequestID)
		if again.ID != jit {
			t.Errorf("retry created %s, first %s", again.ID, jit)
		}

		// Invited, PL sees the team but not its cases.
		wantIn(t, "jit show as invited", pl.must(t, "jit", "show", jit), "PL      invited", "linked cases: shown to accepted members only (PL is invited)")
		out := pl.must(t, "jit", "accept", jit)
		wantIn(t, "jit accept", out, "accepted the invitation to "+jit, "request id: ctl-")
		out = ua.must(t, "jit", "link", jit, "UA-2022-000001")
		wantIn(t, "jit link", out, "linked UA/UA-2022-000001 to "+jit)
		// A new lead takes every member's consent: UA proposes, PL consents.
		out = ua.must(t, "jit", "lead", jit, "PL")
		wantIn(t, "jit lead", out, "proposed PL as lead of "+jit+" as "+jit+"/1", "accordctl jit consent "+jit+"/1")
		wantRow(t, pl.must(t, "jit", "show", jit), "lead", "UA")
		wantIn(t, "jit show with a proposal", pl.must(t, "jit", "show", jit), "proposals (1):", jit+"/1", "set_lead PL", "proposed", "PL pending, UA yes")
		out = pl.must(t, "jit", "consent", jit+"/1")
		wantIn(t, "jit consent", out, "consented to "+jit+"/1 (proposal now agreed)")

		// UA's node wraps the team key for PL in the background once PL has
		// accepted (node/jitcontent): until then PL's node cannot open the
		// team's text.
		var show string
		raftnettest.WaitFor(t, 15*time.Second, func() error {
			if show = pl.must(t, "jit", "show", jit); strings.Contains(show, "waiting for the team key") {
				return errors.New("PL's node has no team key yet")
			}
			return nil
		})
		wantIn(t, "jit show", show,
			jit+"  Kharkiv shelling 2022", "JIT-2024-07",
			"members (2):", "UA/UA-2022-000001", "linked cases (1):",
			"by UA/user/analyst via UA/node/ua-1", "by PL/user/analyst via PL/node/pl-1")
		wantRow(t, show, "lead", "PL")
		wantRow(t, show, "legal basis", "EU JIT model agreement")
		wantRow(t, show, "status", "active")
		for _, line := range strings.Split(show, "\n") {
			f := strings.Fields(line)
			if len(f) >= 2 && (f[0] == "UA" || f[0] == "PL") && f[1] != "accepted" {
				t.Errorf("member line %q: not accepted", line)
			}
		}
		var j registry.JIT
		if err := json.Unmarshal([]byte(pl.must(t, "jit", "show", jit, "-o", "json")), &j); err != nil {
			t.Fatal(err)
		}
		if j.Lead != "PL" || len(j.Members) != 2 || len(j.Cases) != 1 || j.Cases[0].Case != (registry.CaseRef{Member: "UA", CaseID: "UA-2022-000001"}) {
			t.Errorf("team as PL sees it: %+v", j)
		}

		// A stale read catches up; poll it.
		raftnettest.WaitFor(t, 10*time.Second, func() error {
			out, err := pl.ctl(t, "jit", "list", "--stale")
			if err != nil {
				return err
			}
			if !strings.Contains(out, jit) || !strings.Contains(out, "PL accepted, UA accepted") {
				return fmt.Errorf("jit list --stale:\n%s", out)
			}
			return nil
		})

		// DE is not in the team: it does not see it.
		_, err := de.ctl(t, "jit", "show", jit)
		wantExit(t, err, 1, "jit show "+jit, "NotFound")
		if out := de.must(t, "jit", "list"); !strings.Contains(out, "(no teams)") {
			t.Errorf("DE's team list:\n%s", out)
		}
		// DE cannot link into it, and is told no more than that it does not
		// exist.
		_, err = de.ctl(t, "jit", "link", jit, "DE-1")
		wantExit(t, err, 1, "NotFound")
	})

	t.Run("strategy", func(t *testing.T) {
		added := writeJSON(t, ua, "strategy", "add", "--kind", "priority", "--title", "Attacks on energy infrastructure",
			"--text", "Winter campaigns", "--target", "unit:64th Separate Motor Rifle Brigade")
		entry := added.ID
		if entry == "" || added.Version != 1 {
			t.Fatalf("add: %+v", added)
		}
		out := ua.must(t, "strategy", "update", entry, "--title", "Attacks on energy infrastructure, winter 2022")
		wantIn(t, "strategy update", out, "updated "+entry+" to version 2", "request id: ")

		show := pl.must(t, "strategy", "show", entry)
		wantIn(t, "strategy show", show, "Attacks on energy infrastructure, winter 2022", "Winter campaigns", "unit 64th Separate Motor Rifle Brigade")
		wantRow(t, show, "owner", "UA")
		wantRow(t, show, "version", "2")

		hist := pl.must(t, "strategy", "history", entry)
		wantIn(t, "strategy history", hist, entry+": 2 versions", "by UA/user/analyst via UA/node/ua-1")
		var vs []registry.StrategyVersion
		if err := json.Unmarshal([]byte(pl.must(t, "strategy", "history", entry, "-o", "json")), &vs); err != nil {
			t.Fatal(err)
		}
		if len(vs) != 2 || vs[0].Title != "Attacks on energy infrastructure" || vs[1].Title != "Attacks on energy infrastructure, winter 2022" ||
			vs[1].Text != "Winter campaigns" || len(vs[1].Targets) != 1 {
			t.Errorf("history: %+v", vs)
		}

		// PL may read UA's entry but not change it.
		_, err := pl.ctl(t, "strategy", "update", entry, "--title", "Mine now")
		wantExit(t, err, 1, "strategy update "+entry, "PermissionDenied", "owned by UA")
		_, err = pl.ctl(t, "strategy", "delete", entry)
		wantExit(t, err, 1, "PermissionDenied")
		// A stale expected version is refused.
		_, err = ua.ctl(t, "strategy", "update", entry, "--text", "x", "--expected-version", "1")
		wantExit(t, err, 1, "FailedPrecondition")

		list := pl.must(t, "strategy", "list", "--owner", "UA", "--kind", "priority")
		wantIn(t, "strategy list", list, entry, "priority", "federation")
		if out := pl.must(t, "strategy", "list", "--kind", "theme"); !strings.Contains(out, "(no entries)") {
			t.Errorf("theme list:\n%s", out)
		}

		out = ua.must(t, "strategy", "delete", entry, "--reason", "superseded")
		wantIn(t, "strategy delete", out, "deleted "+entry)
		if out := pl.must(t, "strategy", "list"); strings.Contains(out, entry) {
			t.Errorf("deleted entry listed:\n%s", out)
		}
		wantIn(t, "strategy list --include-deleted", pl.must(t, "strategy", "list", "--include-deleted"), entry, "(deleted)")
		wantIn(t, "history after delete", pl.must(t, "strategy", "history", entry), "3 versions", "deleted: superseded")
	})

	t.Run("lead", func(t *testing.T) {
		proposed := writeJSON(t, ua, "lead", "propose", "--cases", "UA/UA-2022-000001,PL/PL-2023-17", "--lead", "UA", "--note", "most evidence in Kharkiv")
		if proposed.ID == "" {
			t.Fatalf("propose: %+v", proposed)
		}
		out := pl.must(t, "lead", "consent", proposed.ID)
		wantIn(t, "lead consent", out, "consented to "+proposed.ID, "assignment now proposed")
		out = ua.must(t, "lead", "consent", proposed.ID)
		wantIn(t, "lead consent", out, "assignment now agreed")
		show := ua.must(t, "lead", "show", proposed.ID)
		wantIn(t, "lead show", show, "lead UA", "agreed", "UA/UA-2022-000001", "PL/PL-2023-17", "most evidence in Kharkiv", "PL  yes", "UA  yes")
		wantIn(t, "lead list", pl.must(t, "lead", "list"), proposed.ID, "agreed", "PL yes, UA yes")
		_, err := de.ctl(t, "lead", "show", proposed.ID)
		wantExit(t, err, 1, "NotFound")
	})

	t.Run("flag errors", func(t *testing.T) {
		_, err := ua.ctl(t, "strategy", "add", "--kind", "urgent", "--title", "x")
		wantExit(t, err, 1, `--kind "urgent": must be priority, target or theme`)
		_, err = ua.ctl(t, "strategy", "list", "--kind", "urgent")
		wantExit(t, err, 1, `--kind "urgent"`)
		_, err = ua.ctl(t, "strategy", "add", "--kind", "target", "--title", "x", "--target", "person:Ivan Petrenko")
		wantExit(t, err, 1, "--target", "never a name")
		_, err = ua.ctl(t, "strategy", "add", "--kind", "target", "--title", "x", "--target", "vehicle:T-72")
		wantExit(t, err, 1, "--target", "type must be unit or person")
		_, err = ua.ctl(t, "jit", "create", "--name", "x", "--legal-basis", "y", "--request-id", "has space")
		wantExit(t, err, 1, "--request-id")
		_, err = ua.ctl(t, "lead", "propose", "--cases", "nonsense", "--lead", "UA")
		wantExit(t, err, 1, `--cases "nonsense": must be MEMBER/CASE_ID`)
		_, err = ua.ctl(t, "strategy", "update", "E-1")
		wantExit(t, err, 1, "nothing to change")
		// The registry's own refusal names the field.
		_, err = ua.ctl(t, "jit", "create", "--name", " ", "--legal-basis", "y")
		wantExit(t, err, 1, "InvalidArgument", "name")
	})
}

func TestCoordErrorSaysHowToRetry(t *testing.T) {
	c := &coordClient{localClient: &localClient{addr: "127.0.0.1:7401"}}
	err := c.coordError("jit create", "r-1", status.Error(codes.Unavailable, "unavailable: no registry leader within 10s"))
	wantExit(t, err, 1, "jit create: unavailable: no registry leader", "no leader just now", "retry with --request-id r-1")
	if strings.Contains(err.Error(), "is the node running") {
		t.Errorf("a registry without a leader is not a node that is down: %v", err)
	}
	err = c.coordError("jit create", "r-1", status.Error(codes.Unavailable, "connection error: desc = \"transport: Error while dialing: dial tcp 127.0.0.1:7401: connect: connection refused\""))
	wantExit(t, err, 1, "is the node running", "retry with --request-id r-1")
	err = c.coordError("jit create", "r-1", status.Error(codes.DeadlineExceeded, "context deadline exceeded"))
	wantExit(t, err, 1, "DeadlineExceeded", "may or may not have been applied", "--request-id r-1")
	err = c.coordError("strategy update E", "r-2", status.Error(codes.PermissionDenied, "permission denied: strategy entry E is owned by UA"))
	wantExit(t, err, 1, "owned by UA", "PermissionDenied")
	if strings.Contains(err.Error(), "retry") {
		t.Errorf("a refusal is not worth retrying: %v", err)
	}
	err = c.coordError("jit list", "", status.Error(codes.Unavailable, "unavailable: no registry leader"))
	if strings.Contains(err.Error(), "request-id") {
		t.Errorf("a read has no request id: %v", err)
	}
}

func TestRegCaseRefAndTargets(t *testing.T) {
	for in, want := range map[string]registry.CaseRef{
		"UA/UA-2022-000001": {Member: "UA", CaseID: "UA-2022-000001"},
		"PL-2023-17":        {Member: "PL", CaseID: "PL-2023-17"},
		"ICC/ICC-01/22-1":   {Member: "ICC", CaseID: "ICC-01/22-1"},
	} {
		got, err := regCaseRef("--cases", in)
		if err != nil || got != want {
			t.Errorf("regCaseRef(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "ua-1", "/UA-1", "UA/"} {
		if _, err := regCaseRef("--cases", bad); err == nil {
			t.Errorf("regCaseRef(%q) accepted", bad)
		}
	}
	ts, err := regTargets(context.Background(), nil, []string{"unit:1st Tank Army", "person:" + strings.Repeat("ab", 16) + "@person-encoding:2"})
	if err != nil {
		t.Fatal(err)
	}
	if ts[0] != (registry.TargetRef{Type: registry.TargetUnit, Ref: "1st Tank Army"}) ||
		ts[1] != (registry.TargetRef{Type: registry.TargetPerson, Ref: strings.Repeat("ab", 16), Key: "person-encoding", KeyVersion: 2}) {
		t.Errorf("targets: %+v", ts)
	}
	var wf writeFlags
	id1, _ := wf.id()
	id2, _ := wf.id()
	if id1 == id2 || !regRequestIDRE.MatchString(id1) {
		t.Errorf("request ids %q, %q", id1, id2)
	}
}
