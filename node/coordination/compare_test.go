package coordination

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/matching"
	"github.com/accordfed/accord/federation/registry"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// heldCases is a CaseSource over shared cases by member/case id.
type heldCases map[string]*accordv1.SharedCase

func (h heldCases) Case(member, caseID string) (*accordv1.FederationCase, bool, error) {
	c, ok := h[member+"/"+caseID]
	if !ok {
		return nil, false, nil
	}
	return &accordv1.FederationCase{Member: member, Case: c, Seq: 7}, true, nil
}

func sha(n int) string { return fmt.Sprintf("%064x", n) }

func sharedCase(id, place string, lat, lon float64, start string, evidence []int, persons ...accordv1.PersonRole) *accordv1.SharedCase {
	c := &accordv1.SharedCase{
		CaseId: id, Title: "shelling of a school in " + place, Version: 3, CrimeCodes: []string{"8(2)(b)(ix)"},
		Sensitivity:  accordv1.Sensitivity_SENSITIVITY_FEDERATION,
		Incidents:    []*accordv1.Incident{{Start: start, Place: place, Region: "Kharkivska", Lat: &lat, Lon: &lon}},
		Perpetrators: []*accordv1.Perpetrator{{Kind: accordv1.PerpetratorKind_PERPETRATOR_KIND_UNIT, Name: "200th Motor Rifle Brigade"}},
	}
	for _, e := range evidence {
		c.Evidence = append(c.Evidence, &accordv1.SharedEvidence{Sha256: sha(e), MediaType: "image/jpeg"})
	}
	for _, r := range persons {
		c.Persons = append(c.Persons, &accordv1.PersonEncoding{Role: r, KeyName: "x/x-1", KeyVersion: 1, Encoding: []byte{1}})
	}
	return c
}

// proposeScored has n propose a match of two cases with a score.
func proposeScored(t *testing.T, n *fsmNode, a, b string, score float64) string {
	t.Helper()
	cases := []registry.CaseRef{caseRef(a), caseRef(b)}
	slices.SortFunc(cases, registry.CompareCaseRefs)
	cmd, err := registry.NewCommand(fmt.Sprintf("p.%s.%s", a, b), registry.ProposeMatch{Cases: cases, Score: score, Versions: map[string]int64{cases[0].String(): 2}})
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := n.ApplyIndex(context.Background(), cmd)
	if err != nil {
		t.Fatalf("proposing %s ~ %s: %v", a, b, err)
	}
	return out.ID
}

// indexOf builds a matcher index over the held cases.
func indexOf(t testing.TB, held heldCases) *matching.Index {
	t.Helper()
	x := matching.NewIndex(matching.Config{})
	for _, c := range held {
		r, err := matching.FromShared(c)
		if err != nil {
			t.Fatal(err)
		}
		if err := x.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	return x
}

func TestCompareMatchDecision(t *testing.T) {
	_, nodes := newFSMLog(t, "UA", "PL", "DE")
	held := heldCases{
		// The same shelling written in two scripts, two offsets and
		// 2 km apart; two photos in common.
		"UA/UA-1": sharedCase("UA-1", "Kharkiv", 49.99, 36.23, "2022-03-01T10:00:00+02:00", []int{1, 2, 3}, accordv1.PersonRole_PERSON_ROLE_VICTIM, accordv1.PersonRole_PERSON_ROLE_VICTIM),
		"PL/PL-1": sharedCase("PL-1", "Харків", 50.00, 36.25, "2022-03-01T11:30:00+03:00", []int{2, 1}, accordv1.PersonRole_PERSON_ROLE_WITNESS),
		"UA/UA-2": sharedCase("UA-2", "Izium", 49.21, 37.26, "2022-04-01T10:00:00+03:00", nil),
	}
	held["PL/PL-1"].CrimeCodes = []string{"8(2)(b)(ix)", "8(2)(b)(i)"}
	held["PL/PL-1"].Perpetrators[0].Name = "200th motor rifle brigade"
	s := New(nodes["UA"], "UA", nil, nil)
	ctx := as("UA", "analyst")

	m1 := proposeScored(t, nodes["PL"], "UA-1", "PL-1", 0.97)
	_, err := s.CompareMatchDecision(ctx, &accordv1.CompareMatchDecisionRequest{Name: matchName(m1)})
	wantCode(t, "no case source", err, codes.FailedPrecondition, "shared cases")

	s.WithCompare(held, indexOf(t, held))
	r, err := s.CompareMatchDecision(ctx, &accordv1.CompareMatchDecisionRequest{Name: matchName(m1)})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.GetCases()) != 2 || len(r.GetPairs()) != 1 {
		t.Fatalf("cases %d, pairs %d: want 2 and 1", len(r.GetCases()), len(r.GetPairs()))
	}
	// The decision orders its cases by member: PL before UA.
	pl, ua := r.GetCases()[0], r.GetCases()[1]
	if pl.GetCaseRef().GetCaseId() != "PL-1" || !pl.GetHeld() || ua.GetCaseRef().GetCaseId() != "UA-1" || !ua.GetHeld() {
		t.Fatalf("cases: %v", r.GetCases())
	}
	if pl.GetDecidedVersion() != 2 || pl.GetShared().GetVersion() != 3 || pl.GetSeq() != 7 {
		t.Errorf("PL-1: decided version %d, shared version %d, seq %d; want 2, 3, 7", pl.GetDecidedVersion(), pl.GetShared().GetVersion(), pl.GetSeq())
	}
	if len(ua.GetShared().GetPersons()) != 0 || len(ua.GetPersons()) != 1 || ua.GetPersons()[0].GetCount() != 2 {
		t.Errorf("UA-1's persons: encodings %d (want none), counts %v (want 2 victims)", len(ua.GetShared().GetPersons()), ua.GetPersons())
	}
	p := r.GetPairs()[0]
	if p.GetFirst() != 0 || p.GetSecond() != 1 {
		t.Errorf("pair %d-%d, want 0-1", p.GetFirst(), p.GetSecond())
	}
	if len(p.GetIncidents()) != 1 {
		t.Fatalf("incidents %v", p.GetIncidents())
	}
	in := p.GetIncidents()[0]
	// PL's 11:30+03:00 is 08:30Z, UA's 10:00+02:00 is 08:00Z.
	if !in.GetBest() || !in.GetSamePlace() || !in.GetHasDistance() || in.GetDistanceKm() < 1 || in.GetDistanceKm() > 3 || in.GetStartDifferenceSeconds() != -1800 {
		t.Errorf("incident pair %v: want the best pair, same place, 1-3 km apart, UA starting 30 min before PL", in)
	}
	if got := p.GetCrimeCodes(); !slices.Equal(got.GetCommon(), []string{"8(2)(b)(ix)"}) || !slices.Equal(got.GetOnlyFirst(), []string{"8(2)(b)(i)"}) || len(got.GetOnlySecond()) != 0 {
		t.Errorf("crime codes %v", got)
	}
	if got := p.GetUnits(); len(got.GetCommon()) != 1 || len(got.GetOnlyFirst())+len(got.GetOnlySecond()) != 0 {
		t.Errorf("units %v: want one in common (the same name in another case)", got)
	}
	if ev := p.GetEvidence(); !slices.Equal(ev.GetCommonSha256(), []string{sha(1), sha(2)}) || ev.GetOnlyFirst() != 0 || ev.GetOnlySecond() != 1 {
		t.Errorf("evidence %v: want 2 in common, 1 only at UA", ev)
	}
	// The test's encodings are no tokens: counted, never compared.
	if pa := p.GetPersons(); pa.GetFirst() != 1 || pa.GetSecond() != 2 || pa.GetMatching() != -1 || pa.GetLevel() != "" {
		t.Errorf("persons %v: want 1 and 2, not compared", pa)
	}
	if !p.GetScored() || p.GetScore() < 0.9 || len(p.GetReasons()) == 0 {
		t.Errorf("scored %v, score %v, reasons %v: want scored above 0.9 with reasons", p.GetScored(), p.GetScore(), p.GetReasons())
	}
	e := p.GetExplanation()
	sum := e.GetPriorWeight()
	for _, c := range e.GetComparisons() {
		sum += c.GetWeight()
	}
	if math.Abs(sum-e.GetWeight()) > 1e-9 || math.Abs(e.GetProbability()-p.GetScore()) > 1e-4 {
		t.Errorf("explanation %v does not add up to the score %v", e, p.GetScore())
	}

	// A case not held is listed as missing, and no pair is compared.
	m2 := proposeScored(t, nodes["DE"], "UA-2", "DE-9", 0.8)
	r, err = s.CompareMatchDecision(ctx, &accordv1.CompareMatchDecisionRequest{Name: matchName(m2)})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.GetPairs()) != 0 || r.GetCases()[0].GetHeld() || !strings.Contains(r.GetCases()[0].GetMissing(), "not received") || !r.GetCases()[1].GetHeld() {
		t.Errorf("with DE-9 not held: %v", r)
	}

	// A decision of three cases: only the pairs with UA's own case.
	held["DE/DE-1"] = sharedCase("DE-1", "Charkiw", 49.99, 36.24, "2022-03-01T09:00:00+01:00", []int{1})
	cases := []registry.CaseRef{caseRef("DE-1"), caseRef("PL-1"), caseRef("UA-1")}
	cmd, err := registry.NewCommand("p3", registry.ProposeMatch{Cases: cases, Score: 0.9})
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := nodes["DE"].ApplyIndex(context.Background(), cmd)
	if err != nil {
		t.Fatal(err)
	}
	r, err = s.CompareMatchDecision(ctx, &accordv1.CompareMatchDecisionRequest{Name: matchName(out.ID)})
	if err != nil {
		t.Fatal(err)
	}
	var pairs []string
	for _, p := range r.GetPairs() {
		pairs = append(pairs, fmt.Sprintf("%d-%d", p.GetFirst(), p.GetSecond()))
	}
	if !slices.Equal(pairs, []string{"0-2", "1-2"}) {
		t.Errorf("pairs %v: want DE~UA and PL~UA only", pairs)
	}

	// Bad names, and decisions UA is not involved in.
	m3 := proposeScored(t, nodes["PL"], "PL-1", "DE-1", 0.8)
	for _, c := range []struct {
		name string
		code codes.Code
		want string
	}{
		{"", codes.InvalidArgument, "name"},
		{"jits/jit-000001", codes.InvalidArgument, "name"},
		{"matchDecisions/match-999999", codes.NotFound, "match-999999"},
		{matchName(m3), codes.NotFound, m3},
	} {
		_, err := s.CompareMatchDecision(ctx, &accordv1.CompareMatchDecisionRequest{Name: c.name})
		wantCode(t, "compare "+c.name, err, c.code, c.want)
	}
}

// An incident of several is paired with the closest of the other case's,
// each once, and the rest listed alone.
func TestAlignIncidents(t *testing.T) {
	at := func(place, start string, lat, lon float64) *accordv1.Incident {
		return &accordv1.Incident{Place: place, Start: start, Lat: &lat, Lon: &lon}
	}
	a := []*accordv1.Incident{
		at("Bucha", "2022-03-05T10:00:00+02:00", 50.54, 30.21),
		at("Irpin", "2022-03-06T10:00:00+02:00", 50.52, 30.25),
		at("Hostomel", "2022-03-20T10:00:00+02:00", 50.57, 30.26),
	}
	b := []*accordv1.Incident{
		at("Ірпінь", "2022-03-06T12:00:00+02:00", 50.52, 30.25),
		at("Буча", "2022-03-05T09:00:00+02:00", 50.54, 30.21),
	}
	got := alignIncidents(a, b, [2]int{-1, -1})
	var pairs []string
	for _, p := range got {
		pairs = append(pairs, fmt.Sprintf("%d-%d", p.GetFirst(), p.GetSecond()))
	}
	if want := []string{"0-1", "1-0", "2--1"}; !slices.Equal(pairs, want) {
		t.Errorf("aligned %v, want %v", pairs, want)
	}
	if !got[0].GetSamePlace() || got[0].GetGapSeconds() > 0 {
		t.Errorf("Bucha ~ Буча: %v: want the same place, windows that meet", got[0])
	}
	// The matcher's best pair comes first even when another is closer.
	got = alignIncidents(a, b, [2]int{2, 0})
	if got[0].GetFirst() != 2 || got[0].GetSecond() != 0 || !got[0].GetBest() {
		t.Errorf("best pair first: %v", got[0])
	}
}

// localScores is a PairComparer that scores pairs as its map says (by
// the two case ids in order), and every other pair of known cases 0.5.
type localScores map[[2]string]float64

func (l localScores) Compare(a, b string) (matching.Comparison, bool) {
	if a > b {
		a, b = b, a
	}
	sc, ok := l[[2]string{a, b}]
	if !ok {
		sc = 0.5
	}
	return matching.Comparison{Match: matching.Match{A: a, B: b, Score: sc}}, true
}

// hookedRegistry runs before ahead of each command it applies.
type hookedRegistry struct {
	*fsmNode
	before func(cmd *registry.Command) error
}

func (h *hookedRegistry) ApplyIndex(ctx context.Context, cmd *registry.Command) (registry.Outcome, uint64, error) {
	if h.before != nil {
		if err := h.before(cmd); err != nil {
			return registry.Outcome{}, 0, err
		}
	}
	return h.fsmNode.ApplyIndex(ctx, cmd)
}

// ruleFixture is UA's service over a registry where PL proposed n matches
// UA-i ~ PL-i with descending scores, which UA's matcher agrees with;
// every other pair shares an evidence item.
type ruleFixture struct {
	s      *Service
	held   heldCases
	reg    *hookedRegistry
	nodes  map[string]*fsmNode
	ids    []string
	scores localScores
}

func newRuleFixture(t *testing.T, n int) *ruleFixture {
	t.Helper()
	_, nodes := newFSMLog(t, "UA", "PL", "DE")
	held := heldCases{}
	reg := &hookedRegistry{fsmNode: nodes["UA"]}
	f := &ruleFixture{nodes: nodes, reg: reg, s: New(reg, "UA", nil, nil), scores: localScores{}, held: held}
	for i := range n {
		ua, pl := fmt.Sprintf("UA-%d", i), fmt.Sprintf("PL-%d", i)
		ev := []int{1000 + i}
		if i%2 == 0 {
			ev = append(ev, i) // shared with PL's
		}
		held["UA/"+ua] = sharedCase(ua, "Kharkiv", 49.99, 36.23, "2022-03-01T10:00:00+02:00", ev)
		held["PL/"+pl] = sharedCase(pl, "Kharkiv", 49.99, 36.23, "2022-03-01T10:00:00+02:00", []int{i, 2000 + i})
		score := 0.99 - float64(i)*0.01
		f.ids = append(f.ids, proposeScored(t, nodes["PL"], ua, pl, score))
		f.scores[[2]string{pl, ua}] = score
	}
	f.s.WithCompare(held, f.scores)
	return f
}

func (f *ruleFixture) applied() uint64 { return f.nodes["UA"].log.fsm.AppliedIndex() }

// answerOf returns member's current answer to a decision.
func (f *ruleFixture) answerOf(t *testing.T, id, member string) *accordv1.MemberAnswer {
	t.Helper()
	d, err := f.s.GetMatchDecision(as("UA", "analyst"), &accordv1.GetMatchDecisionRequest{Name: matchName(id)})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range d.GetMatchDecision().GetAnswers() {
		if a.GetMember() == member {
			return a
		}
	}
	t.Fatalf("%s: no answer of %s", id, member)
	return nil
}

func selected(r *accordv1.DecideMatchesResponse) []string {
	var out []string
	for _, a := range r.GetAnswers() {
		out = append(out, strings.TrimPrefix(a.GetName(), "matchDecisions/"))
	}
	return out
}

func TestDecideMatchesByRule(t *testing.T) {
	f := newRuleFixture(t, 8)
	ctx := as("UA", "analyst")
	rule := &accordv1.MatchRule{MinScore: 0.95, MinSharedEvidence: 1}
	before := f.applied()
	dry, err := f.s.DecideMatches(ctx, &accordv1.DecideMatchesRequest{Rule: rule, Answer: accordv1.Answer_ANSWER_YES, ValidateOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	// Scores 0.99 .. 0.95 are decisions 0..4; of them 0, 2 and 4 share
	// evidence; highest score first.
	if want := []string{f.ids[0], f.ids[2], f.ids[4]}; !slices.Equal(selected(dry), want) || !dry.GetValidateOnly() || dry.GetSelection() == "" {
		t.Fatalf("dry run selected %v (selection %q), want %v", selected(dry), dry.GetSelection(), want)
	}
	for _, a := range dry.GetAnswers() {
		if a.GetSharedEvidence() != 1 || a.GetAnswered() || a.GetLocalScore() != a.GetScore() {
			t.Errorf("%s: shared %d, answered %v, local score %v", a.GetName(), a.GetSharedEvidence(), a.GetAnswered(), a.GetLocalScore())
		}
	}
	if f.applied() != before {
		t.Fatalf("the dry run changed the registry")
	}

	// Bad input names the field and changes nothing.
	for _, c := range []struct {
		req  *accordv1.DecideMatchesRequest
		code codes.Code
		want string
	}{
		{&accordv1.DecideMatchesRequest{Rule: rule, ValidateOnly: true}, codes.InvalidArgument, "answer"},
		{&accordv1.DecideMatchesRequest{Rule: rule, Answer: accordv1.Answer_ANSWER_NO, RequestId: "r"}, codes.InvalidArgument, "reason"},
		{&accordv1.DecideMatchesRequest{Rule: rule, Answer: accordv1.Answer_ANSWER_NO, Reason: "a\x1b[2Jb", RequestId: "r"}, codes.InvalidArgument, "reason"},
		{&accordv1.DecideMatchesRequest{Rule: rule, Answer: accordv1.Answer_ANSWER_YES, Reason: strings.Repeat("r", 5000), RequestId: "r"}, codes.InvalidArgument, "reason"},
		{&accordv1.DecideMatchesRequest{Rule: rule, Answer: accordv1.Answer_ANSWER_YES}, codes.InvalidArgument, "request_id"},
		{&accordv1.DecideMatchesRequest{Rule: rule, Answer: accordv1.Answer_ANSWER_YES, RequestId: "bad id"}, codes.InvalidArgument, "request_id"},
		{&accordv1.DecideMatchesRequest{Rule: rule, Answer: accordv1.Answer_ANSWER_YES, RequestId: strings.Repeat("r", 300)}, codes.InvalidArgument, "request_id"},
		{&accordv1.DecideMatchesRequest{Rule: &accordv1.MatchRule{MinScore: 2}, Answer: accordv1.Answer_ANSWER_YES, ValidateOnly: true}, codes.InvalidArgument, "rule.min_score"},
		{&accordv1.DecideMatchesRequest{Rule: &accordv1.MatchRule{MinSharedEvidence: -1}, Answer: accordv1.Answer_ANSWER_YES, ValidateOnly: true}, codes.InvalidArgument, "rule.min_shared_evidence"},
		{&accordv1.DecideMatchesRequest{Rule: &accordv1.MatchRule{Member: "pl"}, Answer: accordv1.Answer_ANSWER_YES, ValidateOnly: true}, codes.InvalidArgument, "rule.member"},
		{&accordv1.DecideMatchesRequest{Rule: &accordv1.MatchRule{Cluster: "clusters/cluster-000001"}, Answer: accordv1.Answer_ANSWER_YES, ValidateOnly: true}, codes.FailedPrecondition, "rule.cluster"},
		{&accordv1.DecideMatchesRequest{Rule: rule, Answer: accordv1.Answer_ANSWER_YES, ValidateOnly: true, MaxDecisions: 5000}, codes.InvalidArgument, "max_decisions"},
		{&accordv1.DecideMatchesRequest{Rule: rule, Answer: accordv1.Answer_ANSWER_YES, RequestId: "r", ExpectedSelection: "abc"}, codes.InvalidArgument, "expected_selection"},
		// The dry run's selection was for yes: it is not one for no.
		{&accordv1.DecideMatchesRequest{Rule: rule, Answer: accordv1.Answer_ANSWER_NO, Reason: "x", RequestId: "r", ExpectedSelection: dry.GetSelection()}, codes.FailedPrecondition, "expected_selection"},
		{&accordv1.DecideMatchesRequest{Rule: rule, Answer: accordv1.Answer_ANSWER_YES, RequestId: "r", ExpectedSelection: "sel1.0000"}, codes.FailedPrecondition, "expected_selection"},
		// Too many for max_decisions.
		{&accordv1.DecideMatchesRequest{Rule: rule, Answer: accordv1.Answer_ANSWER_YES, RequestId: "r", MaxDecisions: 2}, codes.FailedPrecondition, "max_decisions"},
	} {
		_, err := f.s.DecideMatches(ctx, c.req)
		wantCode(t, fmt.Sprintf("%v", c.req), err, c.code, c.want)
	}
	// A rule that would examine too many pairs is refused.
	maxRuleScan = 3
	_, err = f.s.DecideMatches(ctx, &accordv1.DecideMatchesRequest{Rule: rule, Answer: accordv1.Answer_ANSWER_YES, ValidateOnly: true})
	maxRuleScan = 100000
	wantCode(t, "scan bound", err, codes.FailedPrecondition, "narrow it")
	if f.applied() != before {
		t.Fatalf("a refused call changed the registry")
	}
	more, err := f.s.DecideMatches(ctx, &accordv1.DecideMatchesRequest{Rule: rule, Answer: accordv1.Answer_ANSWER_YES, ValidateOnly: true, MaxDecisions: 2})
	if err != nil || !more.GetMore() || len(more.GetAnswers()) != 2 || more.GetSelection() != "" {
		t.Fatalf("dry run over max_decisions: %v, %v: want the first 2, more, no selection", more, err)
	}

	// After the dry run a colleague rejects one of them, and a new match
	// comes that the rule would select: the run answers the others of
	// the dry run's, not the colleague's nor the new one.
	if _, err := f.s.DecideMatch(ctx, &accordv1.DecideMatchRequest{Name: matchName(f.ids[2]), Answer: accordv1.Answer_ANSWER_NO, Reason: "another school", RequestId: "colleague"}); err != nil {
		t.Fatal(err)
	}
	f.held["UA/UA-9"] = sharedCase("UA-9", "Kharkiv", 49.99, 36.23, "2022-03-01T10:00:00+02:00", []int{999})
	f.held["PL/PL-9"] = sharedCase("PL-9", "Kharkiv", 49.99, 36.23, "2022-03-01T10:00:00+02:00", []int{999})
	newer := proposeScored(t, f.nodes["PL"], "UA-9", "PL-9", 0.999)
	f.scores[[2]string{"PL-9", "UA-9"}] = 0.999
	done, err := f.s.DecideMatches(ctx, &accordv1.DecideMatchesRequest{Rule: rule, Answer: accordv1.Answer_ANSWER_YES, Reason: "same photos", RequestId: "rule-1", ExpectedSelection: dry.GetSelection()})
	if err != nil {
		t.Fatal(err)
	}
	if done.GetAnswered() != 2 || done.GetFailed() != 1 || !strings.Contains(done.GetAnswers()[1].GetError(), "no longer waits") {
		t.Fatalf("answered %d, failed %d: %v", done.GetAnswered(), done.GetFailed(), done)
	}
	for _, id := range []string{f.ids[0], f.ids[4]} {
		if a := f.answerOf(t, id, "UA"); a.GetAnswer() != accordv1.Answer_ANSWER_YES || a.GetReason() != "same photos" || !strings.HasPrefix(a.GetChange().GetRequestId(), "rule-1.") {
			t.Errorf("%s: UA's answer %v", id, a)
		}
	}
	if a := f.answerOf(t, f.ids[2], "UA"); a.GetAnswer() != accordv1.Answer_ANSWER_NO || a.GetReason() != "another school" {
		t.Errorf("the colleague's answer did not stand: %v", a)
	}
	if a := f.answerOf(t, newer, "UA"); a.GetAnswer() != accordv1.Answer_ANSWER_PENDING {
		t.Errorf("a decision the dry run did not show was answered: %v", a)
	}
	// Now the rule selects only the new one.
	dry, err = f.s.DecideMatches(ctx, &accordv1.DecideMatchesRequest{Rule: rule, Answer: accordv1.Answer_ANSWER_YES, ValidateOnly: true})
	if err != nil || !slices.Equal(selected(dry), []string{newer}) {
		t.Fatalf("after answering: %v, %v: want only %s", selected(dry), err, newer)
	}

	// A score range alone selects, by this node's score as well.
	g := newRuleFixture(t, 4)
	g.s.cases = nil
	r, err := g.s.DecideMatches(ctx, &accordv1.DecideMatchesRequest{Rule: &accordv1.MatchRule{MaxScore: 0.975}, Answer: accordv1.Answer_ANSWER_NO, Reason: "below our threshold", RequestId: "low"})
	if err != nil || r.GetAnswered() != 2 {
		t.Fatalf("score range alone: %v, %v: want decisions 2 and 3 rejected", r, err)
	}
	_, err = g.s.DecideMatches(ctx, &accordv1.DecideMatchesRequest{Rule: &accordv1.MatchRule{MinSharedEvidence: 1}, Answer: accordv1.Answer_ANSWER_YES, ValidateOnly: true})
	wantCode(t, "evidence without a case source", err, codes.FailedPrecondition, "rule.min_shared_evidence")
}

// A proposer's score is its claim: a rule selects by this node's own
// score too.
func TestDecideMatchesTrustsNoProposerScore(t *testing.T) {
	f := newRuleFixture(t, 3)
	ctx := as("UA", "analyst")
	// PL claims 1.0 for a pair UA's matcher finds unalike; another pair
	// UA's matcher does not score at all.
	forged := proposeScored(t, f.nodes["PL"], "UA-0", "PL-9", 1.0)
	f.scores[[2]string{"PL-9", "UA-0"}] = 0.0027
	dry, err := f.s.DecideMatches(ctx, &accordv1.DecideMatchesRequest{Rule: &accordv1.MatchRule{MinScore: 0.97}, Answer: accordv1.Answer_ANSWER_YES, ValidateOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{f.ids[0], f.ids[1], f.ids[2]}; !slices.Equal(selected(dry), want) {
		t.Fatalf("selected %v, want %v (not the forged %s)", selected(dry), want, forged)
	}
	f.s.comparer = nil
	_, err = f.s.DecideMatches(ctx, &accordv1.DecideMatchesRequest{Rule: &accordv1.MatchRule{MinScore: 0.97}, Answer: accordv1.Answer_ANSWER_YES, ValidateOnly: true})
	wantCode(t, "no local scores", err, codes.FailedPrecondition, "rule.min_score")
}

// A colleague's answer that lands between the rule's read and its write
// stands: the rule's answer is a first answer only, refused by the
// registry itself.
func TestDecideMatchesNeverChangesAnAnswer(t *testing.T) {
	f := newRuleFixture(t, 2)
	ctx := as("UA", "analyst")
	f.reg.before = func(cmd *registry.Command) error {
		var match string
		switch p := cmd.Payload.(type) {
		case registry.DecideMatch:
			match = p.Match
		case *registry.DecideMatch:
			match = p.Match
		}
		if match != f.ids[0] || !strings.HasPrefix(cmd.RequestID, "rule-") {
			return nil
		}
		c, err := registry.NewCommand("colleague", registry.DecideMatch{Match: f.ids[0], Confirm: false, Reason: "another school"})
		if err != nil {
			return err
		}
		_, _, err = f.nodes["UA"].ApplyIndex(context.Background(), c)
		return err
	}
	r, err := f.s.DecideMatches(ctx, &accordv1.DecideMatchesRequest{Rule: &accordv1.MatchRule{}, Answer: accordv1.Answer_ANSWER_YES, RequestId: "rule-1"})
	if err != nil {
		t.Fatal(err)
	}
	if r.GetAnswered() != 1 || r.GetFailed() != 1 || r.GetAnswers()[0].GetAnswered() {
		t.Fatalf("%v: want the first refused, the second answered", r)
	}
	if a := f.answerOf(t, f.ids[0], "UA"); a.GetAnswer() != accordv1.Answer_ANSWER_NO || a.GetReason() != "another school" {
		t.Errorf("the colleague's answer was changed: %v", a)
	}
	d, _ := f.s.GetMatchDecision(ctx, &accordv1.GetMatchDecisionRequest{Name: matchName(f.ids[0])})
	if len(d.GetMatchDecision().GetHistory()) != 1 {
		t.Errorf("history %v: want the colleague's answer only", d.GetMatchDecision().GetHistory())
	}
}

// A run cut short is retried with the same request id and selection: it
// answers the rest, and what the first try answered once.
func TestDecideMatchesRetry(t *testing.T) {
	f := newRuleFixture(t, 3)
	ctx := as("UA", "analyst")
	dry, err := f.s.DecideMatches(ctx, &accordv1.DecideMatchesRequest{Rule: &accordv1.MatchRule{}, Answer: accordv1.Answer_ANSWER_YES, ValidateOnly: true})
	if err != nil || len(dry.GetAnswers()) != 3 {
		t.Fatalf("dry run: %v, %v", dry, err)
	}
	writes := 0
	f.reg.before = func(*registry.Command) error {
		if writes++; writes > 1 {
			return status.Error(codes.Unavailable, "no leader")
		}
		return nil
	}
	req := &accordv1.DecideMatchesRequest{Rule: &accordv1.MatchRule{}, Answer: accordv1.Answer_ANSWER_YES, RequestId: "once", ExpectedSelection: dry.GetSelection()}
	r, err := f.s.DecideMatches(ctx, req)
	if err != nil || r.GetAnswered() != 1 || r.GetFailed() != 2 {
		t.Fatalf("first try: %v, %v: want 1 answered, 2 failed", r, err)
	}
	f.reg.before = nil
	r, err = f.s.DecideMatches(ctx, req)
	if err != nil || r.GetAnswered() != 3 || r.GetFailed() != 0 {
		t.Fatalf("retry: %v, %v: want all 3 answered", r, err)
	}
	for _, id := range f.ids {
		d, _ := f.s.GetMatchDecision(ctx, &accordv1.GetMatchDecisionRequest{Name: matchName(id)})
		if h := d.GetMatchDecision().GetHistory(); len(h) != 1 || h[0].GetChange().GetRequestId() != "once.rule."+id {
			t.Errorf("%s: history %v: want one answer under once.rule.%s", id, h, id)
		}
	}
}

// Units and organisations are compared as the matcher compares them: by
// unit number or name skeleton, whatever their spelling.
func TestCompareUnits(t *testing.T) {
	perp := func(kind accordv1.PerpetratorKind, name string) *accordv1.Perpetrator {
		return &accordv1.Perpetrator{Kind: kind, Name: name}
	}
	a := &accordv1.SharedCase{Perpetrators: []*accordv1.Perpetrator{
		perp(accordv1.PerpetratorKind_PERPETRATOR_KIND_UNIT, "64th Separate Motor Rifle Brigade"),
		perp(accordv1.PerpetratorKind_PERPETRATOR_KIND_ORGANISATION, "Wagner Group"),
		perp(accordv1.PerpetratorKind_PERPETRATOR_KIND_PERSON, "A. B."),
	}}
	b := &accordv1.SharedCase{Perpetrators: []*accordv1.Perpetrator{
		perp(accordv1.PerpetratorKind_PERPETRATOR_KIND_UNIT, "64 OMSBr"),
		perp(accordv1.PerpetratorKind_PERPETRATOR_KIND_ORGANISATION, "Wagner"),
		perp(accordv1.PerpetratorKind_PERPETRATOR_KIND_UNIT, "Rosgvardia"),
	}}
	got := compareUnits(unitNames(a), unitNames(b))
	if !slices.Equal(got.GetCommon(), []string{"64th Separate Motor Rifle Brigade", "Wagner Group"}) ||
		!slices.Equal(got.GetCommonSecond(), []string{"64 OMSBr", "Wagner"}) || len(got.GetOnlyFirst()) != 0 ||
		!slices.Equal(got.GetOnlySecond(), []string{"Rosgvardia"}) {
		t.Errorf("units %v", got)
	}
}

// A person published under two keys is one person.
func TestPersonCounts(t *testing.T) {
	c := &accordv1.SharedCase{}
	for _, k := range []struct {
		role accordv1.PersonRole
		key  string
		v    int32
	}{
		{accordv1.PersonRole_PERSON_ROLE_VICTIM, "UA/ua-1", 1}, {accordv1.PersonRole_PERSON_ROLE_VICTIM, "UA/ua-1", 2},
		{accordv1.PersonRole_PERSON_ROLE_VICTIM, "UA/ua-1", 1}, {accordv1.PersonRole_PERSON_ROLE_VICTIM, "UA/ua-1", 2},
		{accordv1.PersonRole_PERSON_ROLE_WITNESS, "UA/ua-1", 2},
	} {
		c.Persons = append(c.Persons, &accordv1.PersonEncoding{Role: k.role, KeyName: k.key, KeyVersion: k.v})
	}
	got := personCounts(c)
	if len(got) != 2 || got[accordv1.PersonRole_PERSON_ROLE_VICTIM] != 2 || got[accordv1.PersonRole_PERSON_ROLE_WITNESS] != 1 || personTotal(c) != 3 {
		t.Errorf("counts %v, total %d: want 2 victims and a witness", got, personTotal(c))
	}
}

// While a registry server applies match answers v2 but not v3, a rule's
// answers are plain answers checked just before the write: a colleague's
// answer after the dry run stands, and a run cut short is retried.
func TestDecideMatchesBeforeV3(t *testing.T) {
	f := newRuleFixture(t, 3)
	f.nodes["UA"].log.behindV3 = []string{"spiffe://accord.test/member/DE/node/de-1"}
	ctx := as("UA", "analyst")
	dry, err := f.s.DecideMatches(ctx, &accordv1.DecideMatchesRequest{Rule: &accordv1.MatchRule{}, Answer: accordv1.Answer_ANSWER_YES, ValidateOnly: true})
	if err != nil || len(dry.GetAnswers()) != 3 {
		t.Fatalf("dry run: %v, %v", dry, err)
	}
	if _, err := f.s.DecideMatch(ctx, &accordv1.DecideMatchRequest{Name: matchName(f.ids[1]), Answer: accordv1.Answer_ANSWER_NO, Reason: "another school", RequestId: "colleague"}); err != nil {
		t.Fatal(err)
	}
	writes := 0
	f.reg.before = func(cmd *registry.Command) error {
		if p, ok := cmd.Payload.(*registry.DecideMatch); ok && p.FirstOnly {
			t.Errorf("a first answer only sent while a server applies v2 only")
		}
		if writes++; writes > 1 {
			return status.Error(codes.Unavailable, "no leader")
		}
		return nil
	}
	req := &accordv1.DecideMatchesRequest{Rule: &accordv1.MatchRule{}, Answer: accordv1.Answer_ANSWER_YES, RequestId: "v2run", ExpectedSelection: dry.GetSelection()}
	r, err := f.s.DecideMatches(ctx, req)
	if err != nil || r.GetAnswered() != 1 || r.GetFailed() != 2 || !strings.Contains(r.GetAnswers()[1].GetError(), "no longer waits") {
		t.Fatalf("first try: %v, %v: want the first answered, the colleague's refused, the last cut short", r, err)
	}
	f.reg.before = nil
	r, err = f.s.DecideMatches(ctx, req)
	if err != nil || r.GetAnswered() != 2 || r.GetFailed() != 1 {
		t.Fatalf("retry: %v, %v: want 2 answered (one from the first try), the colleague's refused", r, err)
	}
	if a := f.answerOf(t, f.ids[1], "UA"); a.GetAnswer() != accordv1.Answer_ANSWER_NO {
		t.Errorf("the colleague's answer was changed: %v", a)
	}
	for _, id := range []string{f.ids[0], f.ids[2]} {
		d, _ := f.s.GetMatchDecision(ctx, &accordv1.GetMatchDecisionRequest{Name: matchName(id)})
		if h := d.GetMatchDecision().GetHistory(); len(h) != 1 {
			t.Errorf("%s answered %d times", id, len(h))
		}
	}
}

// A dry run's selection is its user's, for its answer, for an hour; a
// user keeps at most maxSelectionsPerUser.
func TestRuleSelections(t *testing.T) {
	f := newRuleFixture(t, 2)
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	f.s.now = func() time.Time { return now }
	dry, err := f.s.DecideMatches(as("UA", "analyst"), &accordv1.DecideMatchesRequest{Rule: &accordv1.MatchRule{}, Answer: accordv1.Answer_ANSWER_YES, ValidateOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	apply := func(ctx context.Context, rid string) error {
		_, err := f.s.DecideMatches(ctx, &accordv1.DecideMatchesRequest{Rule: &accordv1.MatchRule{}, Answer: accordv1.Answer_ANSWER_YES, RequestId: rid, ExpectedSelection: dry.GetSelection()})
		return err
	}
	wantCode(t, "another analyst's selection", apply(as("UA", "analyst2"), "a2"), codes.FailedPrecondition, "expected_selection")
	wantCode(t, "another member's", apply(as("PL", "analyst"), "pl"), codes.FailedPrecondition, "expected_selection")
	now = now.Add(selectionLife + time.Minute)
	wantCode(t, "an expired selection", apply(as("UA", "analyst"), "late"), codes.FailedPrecondition, "expected_selection")
	if f.answerOf(t, f.ids[0], "UA").GetAnswer() != accordv1.Answer_ANSWER_PENDING {
		t.Fatal("a refused selection answered")
	}

	var st selectionStore
	var first string
	for i := range maxSelectionsPerUser + 1 {
		tok := st.put(&selection{member: "UA", user: "analyst", confirm: true, ids: []string{"m"}, at: now.Add(time.Duration(i) * time.Second)})
		if i == 0 {
			first = tok
		}
	}
	other := st.put(&selection{member: "UA", user: "other", confirm: true, ids: []string{"m"}, at: now})
	me := identity.Identity{Member: "UA", Name: "analyst"}
	if _, ok := st.get(first, me, true, now); ok {
		t.Error("a user's oldest selection was kept beyond maxSelectionsPerUser")
	}
	if _, ok := st.get(other, identity.Identity{Member: "UA", Name: "other"}, true, now); !ok {
		t.Error("another user's selection was evicted by this user's")
	}
	if _, ok := st.get(other, identity.Identity{Member: "UA", Name: "other"}, false, now); ok {
		t.Error("a selection for yes given for no")
	}
}

// A rule's score range holds on this node's score too, at both ends.
func TestDecideMatchesLocalRange(t *testing.T) {
	f := newRuleFixture(t, 4)
	// Decision 2 (claimed 0.97) scores 0.99 here: above the rule's max.
	f.scores[[2]string{"PL-2", "UA-2"}] = 0.99
	dry, err := f.s.DecideMatches(as("UA", "analyst"), &accordv1.DecideMatchesRequest{Rule: &accordv1.MatchRule{MinScore: 0.95, MaxScore: 0.975}, Answer: accordv1.Answer_ANSWER_NO, Reason: "x", ValidateOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{f.ids[3]}; !slices.Equal(selected(dry), want) {
		t.Errorf("selected %v: want %v (decision 2, claimed 0.97, scores 0.99 here)", selected(dry), want)
	}
}

// Compare aligns at most maxComparePairs pairs and maxAlignIncidents
// incidents a side, stops when the call is cancelled, and reads an end
// before the start as the start.
func TestCompareBounds(t *testing.T) {
	_, nodes := newFSMLog(t, "UA", "PL", "DE")
	held := heldCases{"UA/UA-1": sharedCase("UA-1", "Kharkiv", 49.99, 36.23, "2022-03-01T10:00:00+02:00", nil)}
	cases := []registry.CaseRef{caseRef("UA-1")}
	for i := range maxComparePairs + 3 {
		id := fmt.Sprintf("DE-%d", i)
		held["DE/"+id] = sharedCase(id, "Kharkiv", 49.99, 36.23, "2022-03-01T10:00:00+02:00", nil)
		cases = append(cases, caseRef(id))
	}
	slices.SortFunc(cases, registry.CompareCaseRefs)
	cmd, err := registry.NewCommand("big", registry.ProposeMatch{Cases: cases, Score: 0.9})
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := nodes["DE"].ApplyIndex(context.Background(), cmd)
	if err != nil {
		t.Fatal(err)
	}
	s := New(nodes["UA"], "UA", nil, nil)
	s.WithCompare(held, indexOf(t, held))
	r, err := s.CompareMatchDecision(as("UA", "analyst"), &accordv1.CompareMatchDecisionRequest{Name: matchName(out.ID)})
	if err != nil || len(r.GetPairs()) != maxComparePairs {
		t.Fatalf("%d pairs, %v: want %d", len(r.GetPairs()), err, maxComparePairs)
	}
	ctx, cancel := context.WithCancel(as("UA", "analyst"))
	cancel()
	if _, err := s.CompareMatchDecision(ctx, &accordv1.CompareMatchDecisionRequest{Name: matchName(out.ID)}); status.Code(err) != codes.Canceled {
		t.Errorf("a cancelled compare: %v, want Canceled", err)
	}

	many := func(n int) []*accordv1.Incident {
		var out []*accordv1.Incident
		for i := range n {
			lat := 49.0 + float64(i)/100
			out = append(out, &accordv1.Incident{Place: "X", Start: fmt.Sprintf("2022-03-%02dT10:00:00Z", 1+i%28), Lat: &lat, Lon: &lat})
		}
		return out
	}
	got := alignIncidents(many(maxAlignIncidents+10), many(maxAlignIncidents+10), [2]int{-1, -1})
	paired := 0
	for _, p := range got {
		if p.GetFirst() >= 0 && p.GetSecond() >= 0 {
			paired++
			if p.GetFirst() >= maxAlignIncidents || p.GetSecond() >= maxAlignIncidents {
				t.Fatalf("incident %d~%d paired beyond the bound", p.GetFirst(), p.GetSecond())
			}
		}
	}
	if paired != maxAlignIncidents || len(got) != maxAlignIncidents+20 {
		t.Errorf("%d paired of %d rows: want %d paired and every incident listed", paired, len(got), maxAlignIncidents)
	}

	backwards := &accordv1.Incident{Start: "2022-03-01T10:00:00Z", End: "2022-03-01T08:00:00Z"}
	later := &accordv1.Incident{Start: "2022-03-01T11:00:00Z", End: "2022-03-01T12:00:00Z"}
	if p := pairIncidents(backwards, later); p.GetGapSeconds() != 3600 {
		t.Errorf("gap %d s: want 3600 (the backward window read as its start, as the matcher reads it)", p.GetGapSeconds())
	}
}
