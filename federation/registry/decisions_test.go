package registry

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"math"
	"strings"
	"testing"
)

func TestMatchDecisions(t *testing.T) {
	h := bootstrapped(t, Policy{}, "UA", "PL", "LT", "DE")
	h.ok("UA", ProposeMember{Code: "FR", Name: "France", CACerts: []string{validCA(t, "FR")}})
	cases := []CaseRef{cref("PL", "17"), cref("UA", "2022-1"), cref("LT", "3")}

	h.refuse("UA", ProposeMatch{Cases: cases[:1], Score: 0.9}, ErrInvalidArgument)
	h.refuse("UA", ProposeMatch{Cases: []CaseRef{cref("UA", "1"), cref("UA", "2")}, Score: 0.9}, ErrInvalidArgument)
	h.refuse("UA", ProposeMatch{Cases: []CaseRef{cref("UA", "1"), cref("UA", "1"), cref("PL", "1")}, Score: 0.9}, ErrInvalidArgument)
	h.refuse("UA", ProposeMatch{Cases: cases, Score: 1.5}, ErrInvalidArgument)
	h.refuse("UA", ProposeMatch{Cases: cases, Score: 0.5, Reasons: []string{""}}, ErrInvalidArgument)
	h.refuse("DE", ProposeMatch{Cases: cases, Score: 0.9}, ErrPermissionDenied)
	h.refuse("UA", ProposeMatch{Cases: []CaseRef{cref("UA", "1"), cref("FR", "1")}, Score: 0.9}, ErrFailedPrecondition)
	h.refuse("UA", ProposeMatch{Cases: []CaseRef{cref("UA", "1"), cref("ES", "1")}, Score: 0.9}, ErrNotFound)

	out := h.ok("UA", ProposeMatch{Cases: cases, Score: 0.92, Reasons: []string{"same place and day", "shared evidence hash"}})
	id := out.ID
	if id != "match-000001" || out.Status != string(MatchProposed) {
		t.Fatalf("outcome %+v", out)
	}
	// The same group, in another order, is the same proposal.
	h.refuse("PL", ProposeMatch{Cases: []CaseRef{cases[2], cases[0], cases[1]}, Score: 0.5}, ErrAlreadyExists)

	h.refuse("PL", DecideMatch{Match: id, Member: "UA", Confirm: true}, ErrPermissionDenied)
	h.refuse("DE", DecideMatch{Match: id, Confirm: true}, ErrNotFound) // not involved: not shown
	h.refuse("PL", DecideMatch{Match: "match-000404", Confirm: true}, ErrNotFound)
	h.ok("UA", DecideMatch{Match: id, Confirm: true})
	// A rejection needs a reason once the registry applies match answers v2
	// (the first reason given switches it).
	h.ok("UA", DecideMatch{Match: id, Confirm: true, Reason: "same shelling, same street"})
	h.refuse("UA", DecideMatch{Match: id, Confirm: false}, ErrInvalidArgument)
	if out := h.ok("PL", DecideMatch{Match: id, Member: "PL", Confirm: true}); out.Status != string(MatchProposed) {
		t.Fatalf("confirmed before everyone answered: %+v", out)
	}
	if out := h.ok("LT", DecideMatch{Match: id, Confirm: true}); out.Status != string(MatchConfirmed) {
		t.Fatalf("not confirmed: %+v", out)
	}

	// One rejection rejects; the group may then be proposed again.
	other := []CaseRef{cref("UA", "5"), cref("DE", "5")}
	rej := h.ok("DE", ProposeMatch{Cases: other, Score: 0.4}).ID
	if out := h.ok("UA", DecideMatch{Match: rej, Confirm: false, Reason: "another village"}); out.Status != string(MatchRejected) {
		t.Fatalf("not rejected: %+v", out)
	}
	h.read(func(v View) {
		if d, _ := v.GetMatchDecision(rej, "DE"); d.Decisions[1].Reason != "another village" || len(d.Earlier) != 0 {
			t.Errorf("%+v", d)
		}
	})
	// A rejected group comes back only when a case changed.
	h.refuse("DE", ProposeMatch{Cases: other, Score: 0.6}, ErrFailedPrecondition)
	h.refuse("DE", ProposeMatch{Cases: other, Score: 0.6, Versions: map[string]int64{"XX/1": 2}}, ErrInvalidArgument)
	again := h.ok("DE", ProposeMatch{Cases: other, Score: 0.6, Versions: map[string]int64{"UA/UA-5": 2, "DE/DE-5": 1}}).ID
	h.ok("DE", DecideMatch{Match: again, Confirm: false, Reason: "not the same day"})
	h.refuse("DE", ProposeMatch{Cases: other, Score: 0.6, Versions: map[string]int64{"UA/UA-5": 2, "DE/DE-5": 1}}, ErrFailedPrecondition)
	h.ok("DE", ProposeMatch{Cases: other, Score: 0.7, Versions: map[string]int64{"UA/UA-5": 3, "DE/DE-5": 1}})

	// Visibility: involved members only.
	h.read(func(v View) {
		d, err := v.GetMatchDecision(id, "LT")
		if err != nil || d.Status != MatchConfirmed || len(d.Decisions) != 3 || d.Decisions[0].Change == nil {
			t.Errorf("involved member: %+v %v", d, err)
		}
		if _, err := v.GetMatchDecision(id, "DE"); !errors.Is(err, ErrNotFound) {
			t.Errorf("uninvolved member: %v", err)
		}
		ds, err := v.ListMatchDecisions("DE")
		if err != nil || len(ds) != 3 {
			t.Errorf("DE lists %d: %v", len(ds), err)
		}
		ds, err = v.ListMatchDecisions("PL")
		if err != nil || len(ds) != 1 || ds[0].ID != id {
			t.Errorf("PL lists %+v: %v", ds, err)
		}
	})
}

func TestLeadAssignments(t *testing.T) {
	h := bootstrapped(t, Policy{}, "UA", "PL", "LT", "DE")
	cases := []CaseRef{cref("UA", "1"), cref("PL", "1")}

	h.refuse("DE", ProposeLead{Cases: cases, Lead: "UA"}, ErrPermissionDenied)
	h.refuse("UA", ProposeLead{Cases: cases, Lead: "DE"}, ErrInvalidArgument)
	h.refuse("UA", ProposeLead{Cases: cases[:1], Lead: "UA"}, ErrInvalidArgument)
	h.refuse("UA", ProposeLead{Cases: cases, Lead: "UA", Note: strings.Repeat("n", 1001)}, ErrInvalidArgument)
	h.refuse("UA", ProposeLead{Cases: cases, Match: "match-000001", Lead: "UA"}, ErrInvalidArgument)
	h.refuse("UA", ProposeLead{Match: "match-000001", Lead: "UA"}, ErrNotFound)

	id := h.ok("UA", ProposeLead{Cases: cases, Lead: "PL", Note: "PL holds the suspect"}).ID
	h.refuse("PL", ProposeLead{Cases: []CaseRef{cases[1], cases[0]}, Lead: "UA"}, ErrAlreadyExists)
	h.refuse("UA", ConsentLead{Assignment: id, Member: "PL", Consent: true}, ErrPermissionDenied)
	h.refuse("DE", ConsentLead{Assignment: id, Consent: true}, ErrNotFound)
	h.refuse("UA", ConsentLead{Assignment: "lead-000404", Consent: true}, ErrNotFound)
	if out := h.ok("UA", ConsentLead{Assignment: id, Consent: true}); out.Status != string(LeadProposed) {
		t.Fatalf("%+v", out)
	}
	h.refuse("UA", ConsentLead{Assignment: id, Consent: false}, ErrFailedPrecondition)
	if out := h.ok("PL", ConsentLead{Assignment: id, Member: "PL", Consent: true}); out.Status != string(LeadAgreed) {
		t.Fatalf("%+v", out)
	}
	// An agreed group cannot be proposed again.
	h.refuse("PL", ProposeLead{Cases: cases, Lead: "UA"}, ErrAlreadyExists)

	// From a confirmed match decision.
	mcases := []CaseRef{cref("LT", "1"), cref("DE", "1"), cref("UA", "2")}
	mid := h.ok("LT", ProposeMatch{Cases: mcases, Score: 0.8}).ID
	h.refuse("LT", ProposeLead{Match: mid, Lead: "LT"}, ErrFailedPrecondition)
	for _, m := range []string{"LT", "DE", "UA"} {
		h.ok(m, DecideMatch{Match: mid, Confirm: true})
	}
	h.refuse("PL", ProposeLead{Match: mid, Lead: "LT"}, ErrNotFound) // not involved: not shown
	lid := h.ok("DE", ProposeLead{Match: mid, Lead: "LT"}).ID
	if out := h.ok("UA", ConsentLead{Assignment: lid, Consent: false}); out.Status != string(LeadRefused) {
		t.Fatalf("%+v", out)
	}
	h.refuse("LT", ConsentLead{Assignment: lid, Consent: true}, ErrFailedPrecondition)
	// A refused group may be proposed again.
	h.ok("UA", ProposeLead{Match: mid, Lead: "UA"})

	h.read(func(v View) {
		a, err := v.GetLeadAssignment(lid, "DE")
		if err != nil || a.Match != mid || len(a.Cases) != 3 || a.Status != LeadRefused || a.Cases[0].Member != "DE" {
			t.Errorf("assignment %+v %v", a, err)
		}
		if _, err := v.GetLeadAssignment(id, "DE"); !errors.Is(err, ErrNotFound) {
			t.Errorf("uninvolved member: %v", err)
		}
		as, err := v.ListLeadAssignments("UA")
		if err != nil || len(as) != 3 {
			t.Errorf("UA lists %d: %v", len(as), err)
		}
		as, err = v.ListLeadAssignments("PL")
		if err != nil || len(as) != 1 || as[0].Status != LeadAgreed {
			t.Errorf("PL lists %+v: %v", as, err)
		}
	})
}

func TestFederationKeys(t *testing.T) {
	h := bootstrapped(t, Policy{}, "UA", "PL")
	m1, m2, m3 := []byte(strings.Repeat("1", 32)), []byte(strings.Repeat("2", 32)), []byte(strings.Repeat("3", 32))
	h.refuse("UA", CreateKey{Name: "Person Key", Material: m1}, ErrInvalidArgument)
	h.refuse("UA", CreateKey{Name: "person", Material: []byte("short")}, ErrInvalidArgument)
	if out := h.ok("UA", CreateKey{Name: "person", Purpose: "person encodings", Material: m1}); out.Version != 1 {
		t.Fatalf("%+v", out)
	}
	h.refuse("PL", CreateKey{Name: "person", Material: m2}, ErrAlreadyExists)
	h.refuse("PL", RotateKey{Name: "person", Material: m2}, ErrPermissionDenied)
	h.refuse("UA", RotateKey{Name: "nope", Material: m2}, ErrNotFound)
	h.refuse("UA", RotateKey{Name: "person", Material: m1}, ErrInvalidArgument)
	if out := h.ok("UA", RotateKey{Name: "person", Material: m2}); out.Version != 2 {
		t.Fatalf("%+v", out)
	}
	check := func(want ...KeyState) FederationKey {
		t.Helper()
		var k FederationKey
		var err error
		h.read(func(v View) { k, err = v.FederationKey("person", "PL") })
		if err != nil {
			t.Fatal(err)
		}
		if len(k.Versions) != len(want) {
			t.Fatalf("%d versions, want %d", len(k.Versions), len(want))
		}
		for i, w := range want {
			if k.Versions[i].State != w {
				t.Fatalf("version %d is %s, want %s", i+1, k.Versions[i].State, w)
			}
		}
		return k
	}
	k := check(KeyPrevious, KeyCurrent)
	if string(k.Versions[0].Material) != string(m1) || string(k.Current().Material) != string(m2) {
		t.Fatalf("material %+v", k)
	}
	h.ok("UA", RotateKey{Name: "person", Material: m3})
	k = check(KeyRetired, KeyPrevious, KeyCurrent)
	if k.Versions[0].Material != nil || k.Versions[0].Retired == nil || string(k.Versions[1].Material) != string(m2) {
		t.Fatalf("after second rotation %+v", k)
	}
	h.read(func(v View) {
		ks, err := v.ListFederationKeys("PL")
		if err != nil || len(ks) != 1 || ks[0].Versions[2].Material != nil {
			t.Errorf("list %+v %v", ks, err)
		}
		if _, err := v.FederationKey("nope", "PL"); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown key: %v", err)
		}
		if _, err := v.FederationKey("person", "ES"); !errors.Is(err, ErrPermissionDenied) {
			t.Errorf("unknown viewer: %v", err)
		}
	})

	// Destroying: only the owner; every version's material is gone from
	// the state (and so from every snapshot taken after), the key listed.
	h.refuse("PL", DestroyKey{Name: "person"}, ErrPermissionDenied)
	h.refuse("UA", DestroyKey{Name: "nope"}, ErrNotFound)
	h.ok("UA", DestroyKey{Name: "person"})
	k = check(KeyRetired, KeyRetired, KeyRetired)
	for _, v := range k.Versions {
		if v.Material != nil || v.Retired == nil {
			t.Fatalf("after destroying: %+v", v)
		}
	}
	snap := snapshotBytes(t, h.f)
	for _, m := range [][]byte{m1, m2, m3} {
		if bytes.Contains(snap, m) || bytes.Contains(snap, []byte(base64.StdEncoding.EncodeToString(m))) {
			t.Fatal("a snapshot after destroying holds key material")
		}
	}
}

// TestMatchAnswersChange: answers carry reasons, may be changed both ways
// with their history kept, and the status and the group indexes follow,
// also after a snapshot is restored.
func TestMatchAnswersChange(t *testing.T) {
	h := bootstrapped(t, Policy{}, "UA", "PL", "DE")
	cases := []CaseRef{cref("PL", "1"), cref("UA", "1")}
	id := h.ok("UA", ProposeMatch{Cases: cases, Score: 0.9}).ID

	// Reasons are replicated free text: bounded, no control or
	// bidirectional formatting characters.
	for _, r := range []string{strings.Repeat("r", 1001), "a\x1b[2Jb", "evil\u202etxt", " "} {
		h.refuse("UA", DecideMatch{Match: id, Confirm: false, Reason: r}, ErrInvalidArgument)
	}
	h.refuse("DE", DecideMatch{Match: id, Confirm: false, Reason: "x"}, ErrNotFound) // not involved

	status := func(out Outcome, want MatchStatus) {
		t.Helper()
		if out.Status != string(want) {
			t.Fatalf("status %s, want %s", out.Status, want)
		}
	}
	status(h.ok("UA", DecideMatch{Match: id, Confirm: true, Reason: "same strike"}), MatchProposed)
	status(h.ok("PL", DecideMatch{Match: id, Confirm: true}), MatchConfirmed)
	// A rejection now needs a reason.
	h.refuse("PL", DecideMatch{Match: id, Confirm: false}, ErrInvalidArgument)
	// yes -> no: rejected, the group is free for nobody (a rejected group
	// comes back only with other versions).
	status(h.ok("PL", DecideMatch{Match: id, Confirm: false, Reason: "our case is a different night"}), MatchRejected)
	h.refuse("UA", ProposeMatch{Cases: cases, Score: 0.9}, ErrFailedPrecondition)
	// Restating the same answer with a new reason is kept too.
	status(h.ok("PL", DecideMatch{Match: id, Confirm: false, Reason: "different night, checked the logs"}), MatchRejected)
	// no -> yes: confirmed again, and the group is taken again.
	status(h.ok("PL", DecideMatch{Match: id, Confirm: true, Reason: "the logs were wrong"}), MatchConfirmed)
	h.refuse("UA", ProposeMatch{Cases: cases, Score: 0.9, Versions: map[string]int64{"UA/UA-1": 5}}, ErrAlreadyExists)

	check := func(v View) {
		d, err := v.GetMatchDecision(id, "UA")
		if err != nil {
			t.Fatal(err)
		}
		hist := d.History()
		want := []struct {
			m      string
			a      Answer
			reason string
		}{
			{"UA", AnswerYes, "same strike"}, {"PL", AnswerYes, ""},
			{"PL", AnswerNo, "our case is a different night"}, {"PL", AnswerNo, "different night, checked the logs"},
			{"PL", AnswerYes, "the logs were wrong"},
		}
		if len(hist) != len(want) {
			t.Fatalf("history %+v", hist)
		}
		for i, w := range want {
			if hist[i].Member != w.m || hist[i].Answer != w.a || hist[i].Reason != w.reason || hist[i].Change == nil {
				t.Errorf("history[%d] = %+v, want %+v", i, hist[i], w)
			}
			if i > 0 && hist[i].Change.Index <= hist[i-1].Change.Index {
				t.Errorf("history out of order at %d", i)
			}
		}
		if d.Decisions[0].Member != "PL" || d.Decisions[0].Reason != "the logs were wrong" || d.Status != MatchConfirmed {
			t.Errorf("current %+v", d)
		}
	}
	h.read(check)

	// The indexes after a restore are those kept while applying: the
	// group is taken; once rejected again it may be proposed with other
	// versions, and the older decision cannot be reopened beside it.
	restored := newHarness(t)
	restored.index, restored.now, restored.rid = h.index, h.now, h.rid
	if err := restored.f.Restore(io.NopCloser(bytes.NewReader(snapshotBytes(t, h.f)))); err != nil {
		t.Fatal(err)
	}
	restored.read(check)
	for _, x := range []*harness{h, restored} {
		x.refuse("UA", ProposeMatch{Cases: cases, Score: 0.9, Versions: map[string]int64{"UA/UA-1": 5}}, ErrAlreadyExists)
		status(x.ok("UA", DecideMatch{Match: id, Confirm: false, Reason: "changed our mind"}), MatchRejected)
		newer := x.ok("UA", ProposeMatch{Cases: cases, Score: 0.9, Versions: map[string]int64{"UA/UA-1": 5}}).ID
		x.refuse("UA", DecideMatch{Match: id, Confirm: true, Reason: "back"}, ErrFailedPrecondition)
		status(x.ok("UA", DecideMatch{Match: newer, Confirm: true}), MatchProposed)
		// The switch to match answers v2 is part of the state.
		x.refuse("PL", DecideMatch{Match: newer, Confirm: false}, ErrInvalidArgument)
	}
	if a, b := h.dump(true), restored.dump(true); a != b {
		t.Fatalf("restored state differs: %s", firstDiff(a, b))
	}
}

// TestMatchAnswerRetry: a changed answer retried under the same request
// id is answered once.
func TestMatchAnswerRetry(t *testing.T) {
	h := bootstrapped(t, Policy{}, "UA", "PL")
	id := h.ok("UA", ProposeMatch{Cases: []CaseRef{cref("PL", "1"), cref("UA", "1")}, Score: 0.9}).ID
	h.ok("UA", DecideMatch{Match: id, Confirm: true})
	c := h.command("UA", DecideMatch{Match: id, Confirm: false, Reason: "wrong town"})
	r1, r2 := h.applyCommand(c), h.applyCommand(c)
	if r1.Err != nil || r2.Err != nil || r1.Value != r2.Value {
		t.Fatalf("%+v / %+v", r1, r2)
	}
	h.read(func(v View) {
		if d, _ := v.GetMatchDecision(id, "UA"); len(d.Earlier) != 1 || len(d.History()) != 2 {
			t.Errorf("answered twice: %+v", d)
		}
	})
}

// TestMatchChangeUnderLead: a yes to a lead proposal that rests on a match
// decision is refused once an answer turned the match to rejected; the
// lead proposal stays.
func TestMatchChangeUnderLead(t *testing.T) {
	h := bootstrapped(t, Policy{}, "UA", "PL")
	id := h.ok("UA", ProposeMatch{Cases: []CaseRef{cref("PL", "1"), cref("UA", "1")}, Score: 0.9}).ID
	h.ok("UA", DecideMatch{Match: id, Confirm: true})
	h.ok("PL", DecideMatch{Match: id, Confirm: true})
	lead := h.ok("UA", ProposeLead{Match: id, Lead: "UA"}).ID
	h.ok("PL", DecideMatch{Match: id, Confirm: false, Reason: "different incident after all"})
	h.refuse("UA", ConsentLead{Assignment: lead, Consent: true}, ErrFailedPrecondition)
	if out := h.ok("UA", ConsentLead{Assignment: lead, Consent: false}); out.Status != string(LeadRefused) {
		t.Fatalf("%+v", out)
	}
}

// TestMatchExplanation: a proposal's explanation is stored when it adds
// up to the score, and refused, naming the field, when it does not.
func TestMatchExplanation(t *testing.T) {
	h := bootstrapped(t, Policy{}, "UA", "PL")
	cases := []CaseRef{cref("PL", "1"), cref("UA", "1")}
	good := func() *Explanation {
		e := &Explanation{Prior: 0.1, PriorWeight: math.Log2(0.1 / 0.9), Comparisons: []ComparisonWeight{
			{Name: "time", Level: 0, Label: "same hour", Weight: 2.5},
			{Name: "persons", Level: -1},
			{Name: "place", Level: 1, Label: "same name up to vowels", Weight: 3.25},
		}}
		fillComparisons(e)
		e.Weight = e.PriorWeight + 2.5 + 0 + 3.25
		e.Probability = 1 / (1 + math.Exp2(-e.Weight))
		return e
	}
	score := math.Round(good().Probability*10000) / 10000
	for name, bad := range map[string]func(e *Explanation){
		"sum":         func(e *Explanation) { e.Weight += 0.5 },
		"probability": func(e *Explanation) { e.Probability -= 0.01 },
		"nan":         func(e *Explanation) { e.Comparisons[0].Weight = math.NaN() },
		"label":       func(e *Explanation) { e.Comparisons[0].Label = "same\x1bhour" },
		"unobserved":  func(e *Explanation) { e.Comparisons[4].Weight = 1 }, // persons, not observed
		"none":        func(e *Explanation) { e.Comparisons = nil },
	} {
		e := good()
		bad(e)
		t.Run(name, func(t *testing.T) {
			h.refuse("UA", ProposeMatch{Cases: cases, Score: score, Explanation: e}, ErrInvalidArgument)
		})
	}
	h.refuse("UA", ProposeMatch{Cases: cases, Score: score + 0.01, Explanation: good()}, ErrInvalidArgument)
	id := h.ok("UA", ProposeMatch{Cases: cases, Score: score, Explanation: good()}).ID
	h.read(func(v View) {
		d, _ := v.GetMatchDecision(id, "PL")
		if d.Explanation == nil || len(d.Explanation.Comparisons) != 9 || d.Explanation.Comparisons[1].Label != "same name up to vowels" {
			t.Errorf("%+v", d.Explanation)
		}
	})
	// It survives the command's encodings (typed and the round trip).
	c := h.command("UA", ProposeMatch{Cases: cases, Score: score, Explanation: good()})
	data, err := c.Encode()
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeCommand(data)
	if err != nil {
		t.Fatal(err)
	}
	if got := back.Payload.(*ProposeMatch).Explanation; got == nil || len(got.Comparisons) != 9 || got.Weight != good().Weight {
		t.Errorf("round trip: %+v", got)
	}
}

// TestMatchFirstAnswerOnly: an answer that may only be a first answer
// (an answer by rule) is refused, changing nothing, once the member has
// answered or the decision is no longer proposed; it is applied where the
// member's answer is pending. It survives the proto form of a command.
func TestMatchFirstAnswerOnly(t *testing.T) {
	h := bootstrapped(t, Policy{}, "UA", "PL", "DE")
	a := h.ok("UA", ProposeMatch{Cases: []CaseRef{cref("PL", "1"), cref("UA", "1")}, Score: 0.9}).ID
	b := h.ok("UA", ProposeMatch{Cases: []CaseRef{cref("PL", "2"), cref("UA", "2")}, Score: 0.9}).ID
	c := h.ok("UA", ProposeMatch{Cases: []CaseRef{cref("DE", "3"), cref("PL", "3"), cref("UA", "3")}, Score: 0.9}).ID

	// A colleague at UA answered a first: the rule's yes is refused.
	h.ok("UA", DecideMatch{Match: a, Confirm: false, Reason: "another school"})
	before := h.dump(false)
	h.refuse("UA", DecideMatch{Match: a, Confirm: true, Reason: "rule", FirstOnly: true}, ErrFailedPrecondition)
	if h.dump(false) != before {
		t.Fatal("a refused first answer changed the state")
	}
	// DE rejected c: UA's answer is pending but c is no longer proposed.
	h.ok("DE", DecideMatch{Match: c, Confirm: false, Reason: "different day"})
	mid := h.dump(false)
	h.refuse("UA", DecideMatch{Match: c, Confirm: true, Reason: "rule", FirstOnly: true}, ErrFailedPrecondition)
	if h.dump(false) != mid {
		t.Fatal("a refused first answer changed the state")
	}
	// Where UA's answer is pending it is an answer like any other.
	if out := h.ok("UA", DecideMatch{Match: b, Confirm: true, Reason: "rule", FirstOnly: true}); out.Status != string(MatchProposed) {
		t.Fatalf("first answer: %+v", out)
	}
	h.read(func(v View) {
		d, _ := v.GetMatchDecision(a, "UA")
		if d.Decisions[1].Answer != AnswerNo || len(d.Earlier) != 0 {
			t.Errorf("the colleague's answer changed: %+v", d)
		}
	})
	// The proto form keeps the flag (an old build's would drop it: hence
	// match answers v3 before it is sent).
	m, err := decideMatchToProto(&DecideMatch{Match: a, Confirm: true, FirstOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	back, err := decideMatchFromProto(m)
	if err != nil || !back.FirstOnly {
		t.Fatalf("round trip: %+v, %v", back, err)
	}
	h.read(func(v View) {
		cmd := &Command{Member: "UA", Payload: DecideMatch{Match: b, Confirm: true, FirstOnly: true}}
		if got := MatchAnswersNeeded(v, cmd); got != MatchAnswersV3 {
			t.Errorf("a first answer only needs v%d, want v3", got)
		}
		cmd = &Command{Member: "PL", Payload: DecideMatch{Match: b, Confirm: true, Reason: "x"}}
		if got := MatchAnswersNeeded(v, cmd); got != MatchAnswersV2 {
			t.Errorf("an answer with a reason needs v%d, want v2", got)
		}
	})
}

// TestFirstOnlyNeverInVersion2: a first answer only is never written as a
// version 2 (JSON) entry, whose previous-build readers do not know it; a
// hand-written version 2 entry that carries it is refused as the previous
// build refuses it, changing nothing; and the exactly-once digest does not
// depend on it (a run retried across the switch to v3 is recognised).
func TestFirstOnlyNeverInVersion2(t *testing.T) {
	h := bootstrapped(t, Policy{}, "UA", "PL")
	a := h.ok("UA", ProposeMatch{Cases: []CaseRef{cref("PL", "1"), cref("UA", "1")}, Score: 0.9}).ID
	b := h.ok("UA", ProposeMatch{Cases: []CaseRef{cref("PL", "2"), cref("UA", "2")}, Score: 0.9}).ID

	c := h.command("PL", DecideMatch{Match: a, Confirm: true, FirstOnly: true})
	c.Version = LegacyCommandVersion
	if _, err := c.Encode(); !errors.Is(err, ErrNeedsVersion3) || !errors.Is(err, ErrFailedPrecondition) {
		t.Fatalf("encoding a first answer only as version 2: %v", err)
	}
	before := h.dump(false)
	raw := h.command("PL", DecideMatch{})
	raw.Version, raw.Payload = LegacyCommandVersion, nil
	raw.PayloadJSON = json.RawMessage(`{"match":"` + a + `","confirm":true,"first_only":true}`)
	if res := h.applyCommand(raw); res.Err == nil || !strings.Contains(res.Err.Error(), `unknown field "first_only"`) {
		t.Fatalf("a version 2 entry with first_only: %v", res.Err)
	}
	if h.dump(false) != before {
		t.Fatal("the refused version 2 entry changed the state")
	}

	first := h.command("PL", DecideMatch{Match: b, Confirm: true, FirstOnly: true})
	r1 := h.applyCommand(first)
	again := *first
	again.Payload, again.Signature = DecideMatch{Match: b, Confirm: true}, nil
	r2 := h.applyCommand(&again)
	if r1.Err != nil || r2.Err != nil || r1.Value != r2.Value {
		t.Fatalf("the same request with and without first_only: %+v / %+v", r1, r2)
	}
}
