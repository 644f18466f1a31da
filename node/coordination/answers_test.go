package coordination

import (
	"testing"

	"google.golang.org/grpc/codes"

	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// TestDecideMatchReasonsAndChanges: a rejection needs a reason; while a
// registry server runs an earlier build a first answer goes without its
// reason and a change is refused naming that server; once every server
// applies match answers v2 answers change both ways with their history.
func TestDecideMatchReasonsAndChanges(t *testing.T) {
	l, nodes := newFSMLog(t, "UA", "PL")
	ua := New(nodes["UA"], "UA", nil, nil)
	pl := New(nodes["PL"], "PL", nil, nil)
	cases := []*accordv1.RegistryCaseRef{{Member: "UA", CaseId: "UA-2022-000009"}, {Member: "PL", CaseId: "PL-2023-99"}}
	m, err := ua.CreateMatchDecision(as("UA", "analyst"), &accordv1.CreateMatchDecisionRequest{
		MatchDecision: &accordv1.MatchDecision{Cases: cases, Score: 0.7}, RequestId: "m-create"})
	if err != nil {
		t.Fatal(err)
	}
	name := m.GetMatchDecision().GetName()
	ctx := as("PL", "analyst")
	decide := func(answer accordv1.Answer, reason, rid string) (*accordv1.MatchDecision, error) {
		resp, err := pl.DecideMatch(ctx, &accordv1.DecideMatchRequest{Name: name, Answer: answer, Reason: reason, RequestId: rid})
		return resp.GetMatchDecision(), err
	}
	_, err = decide(accordv1.Answer_ANSWER_NO, "", "r0")
	wantCode(t, "no reason", err, codes.InvalidArgument, "reason")
	_, err = decide(accordv1.Answer_ANSWER_NO, "a\u202eb", "r00")
	wantCode(t, "bidi reason", err, codes.InvalidArgument, "reason")

	l.behind = []string{"pl-1"}
	d, err := decide(accordv1.Answer_ANSWER_YES, "same night", "r1")
	if err != nil || d.GetAnswers()[0].GetReason() != "" || d.GetAnswers()[0].GetAnswer() != accordv1.Answer_ANSWER_YES {
		t.Fatalf("first answer while behind: %v %v", d, err)
	}
	_, err = decide(accordv1.Answer_ANSWER_NO, "not the same night", "r2")
	wantCode(t, "change while behind", err, codes.FailedPrecondition, "pl-1")

	l.behind = nil
	d, err = decide(accordv1.Answer_ANSWER_NO, "not the same night", "r2")
	if err != nil || d.GetState() != accordv1.MatchDecisionState_MATCH_DECISION_STATE_REJECTED || len(d.GetHistory()) != 2 ||
		d.GetHistory()[1].GetReason() != "not the same night" || d.GetHistory()[0].GetAnswer() != accordv1.Answer_ANSWER_YES {
		t.Fatalf("after the change: %v %v", d, err)
	}
	d, err = decide(accordv1.Answer_ANSWER_YES, "it was after all", "r3")
	if err != nil || d.GetState() != accordv1.MatchDecisionState_MATCH_DECISION_STATE_PROPOSED || len(d.GetHistory()) != 3 ||
		d.GetAnswers()[0].GetReason() != "it was after all" {
		t.Fatalf("after changing back: %v %v", d, err)
	}
	// UA sees the same history; a member not involved sees nothing.
	got, err := ua.GetMatchDecision(as("UA", "analyst"), &accordv1.GetMatchDecisionRequest{Name: name})
	if err != nil || len(got.GetMatchDecision().GetHistory()) != 3 {
		t.Fatalf("UA reads %v %v", got, err)
	}
}
