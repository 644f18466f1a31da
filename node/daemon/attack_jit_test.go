package daemon_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/accordfed/accord/federation/pki/pkitest"
	"github.com/accordfed/accord/federation/registry"
	"github.com/accordfed/accord/node/custody"
	"github.com/accordfed/accord/node/store"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// uaCaseActor returns an actor of UA's analyst for writing cases straight
// into UA's store.
func uaCaseActor(t *testing.T) store.Actor {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := custody.NewSealer(key, "spiffe://accord.test/member/UA/node/ua-1")
	if err != nil {
		t.Fatal(err)
	}
	return store.Actor{ID: "spiffe://accord.test/member/UA/user/analyst", Sealer: sealer}
}

// jitExec sends a registry command with a JSON payload as a node's analyst.
func jitExec(t *testing.T, n *regNode, typ, rid string, payload any) (*accordv1.ExecuteResponse, error) {
	t.Helper()
	raw, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return execJSON(ctx, n.user, typ, rid, raw)
}

// jitWithProposals is a team as a member reads it, with its proposals
// (declared here so that the test builds against a release without them,
// where it must fail).
type jitWithProposals struct {
	registry.JIT
	Proposals []struct {
		ID     string `json:"id"`
		Kind   string `json:"kind"`
		Status string `json:"status"`
	} `json:"proposals"`
}

// TestAttackJITTakeover: PL, a member of UA's team, tries alone to widen
// it to DE, to make itself lead and to close it. None of it happens without
// UA's consent: DE is not invited, cannot accept and receives none of UA's
// jit cases; the lead and the team stay as they were. Once UA consents, DE
// is invited and, having accepted, receives the case.
func TestAttackJITTakeover(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA", "PL", "DE")
	nodes, _ := startFederation(t, fed, "UA", "PL", "DE")
	ua, pl, de := nodes[0], nodes[1], nodes[2]
	actor := uaCaseActor(t)

	if _, err := ua.d.Store().CreateCase(exCase("UA-2022-000010", accordv1.Sensitivity_SENSITIVITY_JIT, "Olena Kovalenko"), actor); err != nil {
		t.Fatal(err)
	}
	jit := mustExecute(t, ua.user, "jit-t", registry.CreateJIT{Name: "Izium", LegalBasis: "EU JIT model agreement", Invite: []string{"PL"}}).GetId()
	mustExecute(t, pl.user, "accept-t", registry.RespondToJIT{JIT: jit, Accept: true})
	mustExecute(t, ua.user, "link-t", registry.LinkCase{JIT: jit, Case: registry.CaseRef{Member: "UA", CaseID: "UA-2022-000010"}})
	waitIndex(t, pl.d.Store(), "UA", has("UA-2022-000010"))

	// PL alone: invite DE, make itself lead, close the team.
	invite, err := jitExec(t, pl, "jit.invite", "pl-invite-de", map[string]string{"jit": jit, "member": "DE"})
	if err != nil {
		t.Fatalf("PL proposes DE: %v", err)
	}
	if invite.GetStatus() != "proposed" {
		t.Fatalf("PL invited DE alone: %v", invite)
	}
	if _, err := jitExec(t, de, "jit.respond", "de-accept-early", map[string]any{"jit": jit, "accept": true}); status.Code(err) != codes.NotFound {
		t.Fatalf("DE accepts an invitation UA never agreed to: %v", err)
	}
	for _, w := range []struct {
		typ     string
		payload map[string]string
	}{
		{"jit.set_lead", map[string]string{"jit": jit, "lead": "PL"}},
		{"jit.close", map[string]string{"jit": jit}},
	} {
		resp, err := jitExec(t, pl, w.typ, "pl-"+w.typ, w.payload)
		if err != nil {
			t.Fatalf("PL %s: %v", w.typ, err)
		}
		if resp.GetStatus() != "proposed" {
			t.Fatalf("PL %s alone: %v", w.typ, resp)
		}
	}
	j := query[jitWithProposals](t, ua.user, "jit", jit)
	if j.Lead != "UA" || j.Status != registry.JITActive || len(j.Members) != 2 {
		t.Fatalf("after PL's attempts UA sees lead %q, status %s, members %+v", j.Lead, j.Status, j.Members)
	}
	if len(j.Proposals) != 3 {
		t.Fatalf("UA is not shown PL's proposals: %+v", j.Proposals)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := de.user.Query(ctx, &accordv1.QueryRequest{Kind: "jit", Id: jit}); status.Code(err) != codes.NotFound {
		t.Fatalf("DE reads the team it was only proposed for: %v", err)
	}

	// DE has synced with UA since (a later federation case arrived), and
	// holds no jit case of UA's.
	if _, err := ua.d.Store().CreateCase(exCase("UA-2022-000011", accordv1.Sensitivity_SENSITIVITY_FEDERATION, "Halyna Pavlenko"), actor); err != nil {
		t.Fatal(err)
	}
	waitIndex(t, de.d.Store(), "UA", has("UA-2022-000011"))
	if _, ok := fedIndex(t, de.d.Store(), "UA")["UA-2022-000010"]; ok {
		t.Fatal("UA's jit case reached DE without UA's consent")
	}

	// UA refuses the lead change and the closing, consents to DE.
	for _, p := range j.Proposals {
		consent := p.Kind == "invite"
		resp, err := jitExec(t, ua, "jit.consent", "ua-answers-"+p.ID, map[string]any{"proposal": p.ID, "consent": consent})
		if err != nil {
			t.Fatalf("UA answers %s: %v", p.ID, err)
		}
		want := "refused"
		if consent {
			want = "agreed"
		}
		if resp.GetStatus() != want {
			t.Fatalf("UA answers %s (%s): %v", p.ID, p.Kind, resp)
		}
	}
	mustExecute(t, de.user, "de-accept", registry.RespondToJIT{JIT: jit, Accept: true})
	waitIndex(t, de.d.Store(), "UA", has("UA-2022-000010"))
	j = query[jitWithProposals](t, pl.user, "jit", jit)
	if j.Lead != "UA" || j.Status != registry.JITActive || len(j.Members) != 3 {
		t.Fatalf("at the end PL sees lead %q, status %s, members %+v", j.Lead, j.Status, j.Members)
	}
}

// TestAttackProbeHiddenRecords: DE, in none of them, writes to UA's and
// PL's team, its strategy entry, its proposal, their match decision and
// lead assignment. Every answer is NotFound with the words a read and a
// write of a record that does not exist give, so DE learns nothing of what
// exists from an error.
func TestAttackProbeHiddenRecords(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA", "PL", "DE")
	nodes, _ := startFederation(t, fed, "UA", "PL", "DE")
	ua, pl, de := nodes[0], nodes[1], nodes[2]

	jit := mustExecute(t, ua.user, "jit-p", registry.CreateJIT{Name: "Kupiansk", LegalBasis: "EU JIT model agreement", Invite: []string{"PL"}}).GetId()
	mustExecute(t, pl.user, "accept-p", registry.RespondToJIT{JIT: jit, Accept: true})
	entry := mustExecute(t, pl.user, "entry-p", registry.CreateEntry{Kind: registry.KindTheme, Title: "Filtration", JIT: jit}).GetId()
	cases := []registry.CaseRef{{Member: "UA", CaseID: "UA-2022-000001"}, {Member: "PL", CaseID: "PL-2022-000001"}}
	match := mustExecute(t, ua.user, "match-p", registry.ProposeMatch{Cases: cases, Score: 0.9}).GetId()
	lead := mustExecute(t, ua.user, "lead-p", registry.ProposeLead{Cases: cases, Lead: "UA"}).GetId()
	// A team proposal, where the release has them (before, jit.close by a
	// non-lead was refused and this id names nothing).
	_, _ = jitExec(t, pl, "jit.close", "close-p", map[string]string{"jit": jit})
	proposal := jit + "/1"

	probes := []struct {
		typ        string
		real, gone string
		payload    func(id string) map[string]any
		readKind   string
	}{
		{"jit.invite", jit, "jit-000404", func(id string) map[string]any { return map[string]any{"jit": id, "member": "DE"} }, "jit"},
		{"jit.respond", jit, "jit-000404", func(id string) map[string]any { return map[string]any{"jit": id, "accept": true} }, "jit"},
		{"jit.leave", jit, "jit-000404", func(id string) map[string]any { return map[string]any{"jit": id} }, "jit"},
		{"jit.link_case", jit, "jit-000404", func(id string) map[string]any {
			return map[string]any{"jit": id, "case": map[string]string{"member": "DE", "case_id": "DE-1"}}
		}, "jit"},
		{"jit.set_lead", jit, "jit-000404", func(id string) map[string]any { return map[string]any{"jit": id, "lead": "UA"} }, "jit"},
		{"jit.close", jit, "jit-000404", func(id string) map[string]any { return map[string]any{"jit": id} }, "jit"},
		{"jit.consent", proposal, "jit-000404/1", func(id string) map[string]any { return map[string]any{"proposal": id, "consent": true} }, ""},
		{"strategy.create", jit, "jit-000404", func(id string) map[string]any { return map[string]any{"kind": "theme", "title": "x", "jit": id} }, "jit"},
		{"strategy.update", entry, "entry-000404", func(id string) map[string]any { return map[string]any{"entry": id, "kind": "theme", "title": "x"} }, "entry"},
		{"strategy.delete", entry, "entry-000404", func(id string) map[string]any { return map[string]any{"entry": id} }, "entry"},
		{"match.decide", match, "match-000404", func(id string) map[string]any { return map[string]any{"match": id, "confirm": true} }, "match"},
		{"lead.consent", lead, "lead-000404", func(id string) map[string]any { return map[string]any{"assignment": id, "consent": true} }, "lead"},
		{"lead.propose", match, "match-000404", func(id string) map[string]any { return map[string]any{"match": id, "lead": "UA"} }, "match"},
	}
	for i, p := range probes {
		_, err := jitExec(t, de, p.typ, fmt.Sprintf("probe-%d", i), p.payload(p.real))
		_, goneErr := jitExec(t, de, p.typ, fmt.Sprintf("probe-gone-%d", i), p.payload(p.gone))
		if status.Code(err) != codes.NotFound {
			t.Errorf("%s on a hidden record: %v", p.typ, err)
			continue
		}
		got, gone := status.Convert(err).Message(), status.Convert(goneErr).Message()
		if status.Code(goneErr) != codes.NotFound || got != strings.ReplaceAll(gone, p.gone, p.real) {
			t.Errorf("%s: a hidden record answers %q, a missing one %q", p.typ, got, gone)
		}
		if p.readKind == "" {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, rerr := de.user.Query(ctx, &accordv1.QueryRequest{Kind: p.readKind, Id: p.real})
		cancel()
		if status.Code(rerr) != codes.NotFound || status.Convert(rerr).Message() != got {
			t.Errorf("%s: the write answers %q, a read %v", p.typ, got, rerr)
		}
	}
	// Nothing changed for UA.
	if j := query[registry.JIT](t, ua.user, "jit", jit); len(j.Members) != 2 || j.Status != registry.JITActive {
		t.Errorf("the probes changed the team: %+v", j)
	}
}
