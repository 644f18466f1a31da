package main

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/accordfed/accord/federation/pki/pkitest"
	"github.com/accordfed/accord/federation/raftnet/raftnettest"
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
	// coord is the analyst's CoordinationService client, for what no
	// command does (proposing a match is the matching engine's).
	coord accordv1.CoordinationServiceClient
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
		out[n.Member] = &regMember{code: n.Member, d: n.D, analyst: writeClientConfig(t, fed.User(n.Member, "analyst")),
			coord: daemontest.Coordination(t, n.D, fed.User(n.Member, "analyst"), n.Member)}
	}
	return out
}

// ctlJSON runs accordctl with -o json and reads its answer, the API's
// message in protojson, into msg.
func ctlJSON(t *testing.T, m *regMember, msg proto.Message, args ...string) {
	t.Helper()
	out := m.must(t, append(args, "-o", "json")...)
	if err := protojson.Unmarshal([]byte(out), msg); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
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
		var created accordv1.CreateJitResponse
		ctlJSON(t, ua, &created, "jit", "create", "--name", "Kharkiv shelling 2022", "--legal-basis", "EU JIT model agreement", "--agreement-ref", "JIT-2024-07", "--invite", "PL")
		jit := strings.TrimPrefix(created.GetJit().GetName(), "jits/")
		rid := created.GetJit().GetCreate().GetRequestId()
		if !strings.HasPrefix(jit, "jit-") || created.GetJit().GetState() != accordv1.JitState_JIT_STATE_ACTIVE || !strings.HasPrefix(rid, "ctl-") {
			t.Fatalf("create: %v", &created)
		}
		// A retry with the same request id is answered as the first time.
		var again accordv1.CreateJitResponse
		ctlJSON(t, ua, &again, "jit", "create", "--name", "Kharkiv shelling 2022", "--legal-basis", "EU JIT model agreement", "--agreement-ref", "JIT-2024-07", "--invite", "PL", "--request-id", rid)
		if again.GetJit().GetName() != created.GetJit().GetName() {
			t.Errorf("retry created %s, first %s", again.GetJit().GetName(), created.GetJit().GetName())
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
		wantIn(t, "jit show with a proposal", pl.must(t, "jit", "show", jit), "proposals (1):", jit+"/1", "set_lead PL", "open", "PL pending, UA yes")
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
		var j accordv1.Jit
		ctlJSON(t, pl, &j, "jit", "show", jit)
		if j.GetLead() != "PL" || len(j.GetMemberships()) != 2 || len(j.GetCases()) != 1 || apiCase(j.GetCases()[0].GetCaseRef()) != "UA/UA-2022-000001" {
			t.Errorf("team as PL sees it: %v", &j)
		}
		// -o json is the API's own JSON: enum names, RFC 3339 times.
		js := pl.must(t, "jit", "show", jit, "-o", "json")
		wantIn(t, "jit show -o json", js, `"state": "JIT_STATE_ACTIVE"`, `"legal_basis": "EU JIT model agreement"`, `"time": "20`)

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
		var added accordv1.StrategyEntry
		ctlJSON(t, ua, &added, "strategy", "add", "--kind", "priority", "--title", "Attacks on energy infrastructure",
			"--text", "Winter campaigns", "--target", "unit:64th Separate Motor Rifle Brigade")
		entry := shortID(added.GetName())
		if !strings.HasPrefix(entry, "entry-") || added.GetVersion() != 1 {
			t.Fatalf("add: %v", &added)
		}
		out := ua.must(t, "strategy", "update", entry, "--title", "Attacks on energy infrastructure, winter 2022")
		wantIn(t, "strategy update", out, "updated "+entry+" to version 2", "request id: ")

		show := pl.must(t, "strategy", "show", entry)
		wantIn(t, "strategy show", show, "Attacks on energy infrastructure, winter 2022", "Winter campaigns", "unit 64th Separate Motor Rifle Brigade")
		wantRow(t, show, "owner", "UA")
		wantRow(t, show, "version", "2")

		hist := pl.must(t, "strategy", "history", entry)
		wantIn(t, "strategy history", hist, entry+": 2 versions", "by UA/user/analyst via UA/node/ua-1")
		var hr accordv1.ListStrategyEntryRevisionsResponse
		ctlJSON(t, pl, &hr, "strategy", "history", entry)
		vs := hr.GetRevisions()
		if len(vs) != 2 || vs[0].GetTitle() != "Attacks on energy infrastructure" || vs[1].GetTitle() != "Attacks on energy infrastructure, winter 2022" ||
			vs[1].GetText() != "Winter campaigns" || len(vs[1].GetTargets()) != 1 {
			t.Errorf("history: %v", vs)
		}

		// PL may read UA's entry but not change it.
		_, err := pl.ctl(t, "strategy", "update", entry, "--title", "Mine now")
		wantExit(t, err, 1, "strategy update "+entry, "PermissionDenied", "owned by UA")
		_, err = pl.ctl(t, "strategy", "delete", entry)
		wantExit(t, err, 1, "PermissionDenied")
		// A stale expected version (etag) is refused, and nothing changes.
		_, err = ua.ctl(t, "strategy", "update", entry, "--text", "x", "--expected-version", "1")
		wantExit(t, err, 1, "Aborted", "etag")
		wantRow(t, pl.must(t, "strategy", "show", entry), "version", "2")

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
		var proposed accordv1.LeadProposal
		ctlJSON(t, ua, &proposed, "lead", "propose", "--cases", "UA/UA-2022-000001,PL/PL-2023-17", "--lead", "UA", "--note", "most evidence in Kharkiv")
		id := shortID(proposed.GetName())
		if !strings.HasPrefix(id, "lead-") {
			t.Fatalf("propose: %v", &proposed)
		}
		wantIn(t, "lead list --awaiting", pl.must(t, "lead", "list", "--awaiting"), id, "proposed")
		out := pl.must(t, "lead", "consent", id)
		wantIn(t, "lead consent", out, "consented to "+id, "proposal now proposed")
		out = ua.must(t, "lead", "consent", id)
		wantIn(t, "lead consent", out, "proposal now agreed")
		show := ua.must(t, "lead", "show", id)
		wantIn(t, "lead show", show, "lead UA", "agreed", "UA/UA-2022-000001", "PL/PL-2023-17", "most evidence in Kharkiv", "PL  yes", "UA  yes")
		wantIn(t, "lead list", pl.must(t, "lead", "list"), id, "agreed", "PL yes, UA yes")
		wantIn(t, "lead list --awaiting", pl.must(t, "lead", "list", "--awaiting"), "(no lead proposals)")
		_, err := de.ctl(t, "lead", "show", id)
		wantExit(t, err, 1, "NotFound")
	})

	t.Run("matches", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		m, err := ua.coord.CreateMatchDecision(ctx, &accordv1.CreateMatchDecisionRequest{MatchDecision: &accordv1.MatchDecision{
			Cases: []*accordv1.RegistryCaseRef{{Member: "UA", CaseId: "UA-2022-000009"}, {Member: "PL", CaseId: "PL-2023-99"}},
			Score: 0.87, Reasons: []string{"same place and day"},
		}, RequestId: "test-match-1"})
		if err != nil {
			t.Fatal(err)
		}
		id := shortID(m.GetMatchDecision().GetName())
		wantIn(t, "matches list --awaiting", pl.must(t, "matches", "list", "--awaiting"), id, "proposed", "0.87", "PL/PL-2023-99, UA/UA-2022-000009", "PL pending, UA pending")
		wantIn(t, "matches list --case", pl.must(t, "matches", "list", "--case", "PL/PL-2023-99"), id)
		wantIn(t, "matches list --case", pl.must(t, "matches", "list", "--case", "PL/PL-2023-98"), "(no match decisions)")
		wantIn(t, "status", pl.must(t, "status"), "matches waiting for this office: 1 (accordctl matches list --awaiting)")
		out := pl.must(t, "matches", "confirm", id)
		wantIn(t, "matches confirm", out, "confirmed "+id+" for this office; the decision is now proposed")
		wantIn(t, "matches list --awaiting", pl.must(t, "matches", "list", "--awaiting"), "(no match decisions)")
		_, err = ua.ctl(t, "matches", "reject", id)
		wantExit(t, err, 1, "--reason: required with reject")
		out = ua.must(t, "matches", "reject", id, "--reason", "another village")
		wantIn(t, "matches reject", out, "the decision is now rejected")
		if strings.Contains(out, "not recorded") {
			t.Errorf("matches reject: %s", out)
		}
		show := pl.must(t, "matches", "show", id)
		wantIn(t, "matches show", show, id+"  rejected  score 0.87", "same place and day", "PL  yes", "UA  no",
			"history (2):", "reason: another village", "score explanation: none")
		// UA changes its answer: confirmed, with both answers kept.
		out = ua.must(t, "matches", "confirm", id, "--reason", "same village after all")
		wantIn(t, "matches confirm again", out, "the decision is now confirmed")
		wantIn(t, "matches show", pl.must(t, "matches", "show", id), "history (3):", "reason: another village", "reason: same village after all")
		var md accordv1.MatchDecision
		ctlJSON(t, pl, &md, "matches", "show", id)
		if md.GetState() != accordv1.MatchDecisionState_MATCH_DECISION_STATE_CONFIRMED || len(md.GetHistory()) != 3 {
			t.Errorf("matches show -o json: %v", &md)
		}
		_, err = de.ctl(t, "matches", "show", id)
		wantExit(t, err, 1, "NotFound")
		// The model the node scores with, level by level.
		wantIn(t, "matches model", pl.must(t, "matches", "model"), "model: ", "prior: ", "COMPARISON", "place", "same name up to vowels")
		var mm accordv1.MatchingModel
		ctlJSON(t, pl, &mm, "matches", "model")
		if len(mm.GetComparisons()) != 9 || mm.GetPrior() <= 0 || len(mm.GetComparisons()[0].GetLevels()) == 0 {
			t.Errorf("matches model -o json: %v", &mm)
		}
		_, err = pl.ctl(t, "matches", "list", "--status", "maybe")
		wantExit(t, err, 1, `--status "maybe"`)
	})

	t.Run("clusters", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var ids []string
		for i, pair := range [][2]string{{"PL-2023-41", "UA-2022-000041"}, {"DE-2024-41", "UA-2022-000041"}} {
			m, err := ua.coord.CreateMatchDecision(ctx, &accordv1.CreateMatchDecisionRequest{MatchDecision: &accordv1.MatchDecision{
				Cases: []*accordv1.RegistryCaseRef{{Member: pair[0][:2], CaseId: pair[0]}, {Member: "UA", CaseId: pair[1]}},
				Score: 0.9, Reasons: []string{"same place and day"},
			}, RequestId: fmt.Sprintf("test-cluster-%d", i)})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, shortID(m.GetMatchDecision().GetName()))
		}
		cluster := "cluster-" + strings.TrimPrefix(ids[0], "match-")
		var shown string
		raftnettest.WaitFor(t, 10*time.Second, func() error {
			out, err := ua.ctl(t, "clusters", "show", "--case", "DE/DE-2024-41")
			shown = out
			if err != nil || !strings.Contains(out, cluster+"  3 cases of DE, PL, UA") {
				return fmt.Errorf("clusters show: %w\n%s", err, out)
			}
			return nil
		})
		wantIn(t, "clusters show", shown, "DE/DE-2024-41", "PL/PL-2023-41", "UA/UA-2022-000041", ids[0], ids[1], "2 waiting for this office")
		wantIn(t, "clusters list --awaiting", ua.must(t, "clusters", "list", "--awaiting", "--member", "DE"), cluster, "DE,PL,UA")
		_, err := ua.ctl(t, "clusters", "split", cluster, "--at", ids[1])
		wantExit(t, err, 1, "--reason: required")
		out := ua.must(t, "clusters", "split", cluster, "--at", ids[1], "--reason", "another village")
		wantIn(t, "clusters split", out, "rejected 1 of 1 decisions", "clusters now: "+cluster+" (2 cases)")
		out = ua.must(t, "clusters", "confirm", cluster, "--reason", "same shelling")
		wantIn(t, "clusters confirm", out, "confirmed 1 of 1 decisions for this office")
		_, err = de.ctl(t, "clusters", "show", cluster)
		wantExit(t, err, 1, "NotFound")
	})

	t.Run("completion", func(t *testing.T) {
		// TAB completes the ids of the registry's resources from the node,
		// as the commands that take them would see them.
		env := &localEnv{addr: ua.d.LocalAddr(), analyst: ua.analyst}
		out, _, _ := env.complete(t, ua.d.LocalAddr(), "jit", "show", "")
		if ids := completions(out); !slices.Contains(ids, "jit-000001") {
			t.Errorf("jit show TAB offered %v, want jit-000001 among them\n%s", ids, out)
		}
		out, _, _ = env.complete(t, ua.d.LocalAddr(), "matches", "show", "match-")
		if ids := completions(out); len(ids) == 0 || !strings.HasPrefix(ids[0], "match-") {
			t.Errorf("matches show match-TAB offered %v\n%s", ids, out)
		}
		out, _, _ = env.complete(t, ua.d.LocalAddr(), "member", "vote", "p")
		if ids := completions(out); !slices.Equal(ids, []string{"PL"}) {
			t.Errorf("member vote pTAB offered %v, want [PL]\n%s", ids, out)
		}
		// A second argument is not an id of the same kind.
		out, _, _ = env.complete(t, ua.d.LocalAddr(), "jit", "show", "jit-000001", "")
		if ids := completions(out); len(ids) != 0 {
			t.Errorf("jit show JIT TAB offered %v, want nothing", ids)
		}
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
	for in, want := range map[string]string{
		"UA/UA-2022-000001": "UA/UA-2022-000001",
		"PL-2023-17":        "PL/PL-2023-17",
		"ICC/ICC-01/22-1":   "ICC/ICC-01/22-1",
	} {
		got, err := regCaseRef("--cases", in)
		if err != nil || apiCase(got) != want {
			t.Errorf("regCaseRef(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "ua-1", "/UA-1", "UA/"} {
		if _, err := regCaseRef("--cases", bad); err == nil {
			t.Errorf("regCaseRef(%q) accepted", bad)
		}
	}
	ts, err := regTargets([]string{"unit:1st Tank Army", "person:" + strings.Repeat("ab", 16) + "@person-encoding:2", "person:" + strings.Repeat("cd", 16) + "@person-encoding"})
	if err != nil {
		t.Fatal(err)
	}
	want := []*accordv1.StrategyTarget{
		{Type: accordv1.StrategyTargetType_STRATEGY_TARGET_TYPE_UNIT, Ref: "1st Tank Army"},
		{Type: accordv1.StrategyTargetType_STRATEGY_TARGET_TYPE_PERSON, Ref: strings.Repeat("ab", 16), Key: "person-encoding", KeyVersion: 2},
		// No version: 0, which the node makes the key's current one.
		{Type: accordv1.StrategyTargetType_STRATEGY_TARGET_TYPE_PERSON, Ref: strings.Repeat("cd", 16), Key: "person-encoding"},
	}
	for i := range want {
		if !proto.Equal(ts[i], want[i]) {
			t.Errorf("target %d: %v, want %v", i, ts[i], want[i])
		}
	}
	var wf writeFlags
	id1, _ := wf.id()
	id2, _ := wf.id()
	if id1 == id2 || !regRequestIDRE.MatchString(id1) {
		t.Errorf("request ids %q, %q", id1, id2)
	}
}
