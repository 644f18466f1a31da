package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/accordfed/accord/federation/raftnet/raftnettest"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startWatch runs accordctl matches watch as m's analyst until ctx ends.
func startWatch(ctx context.Context, m *regMember, args ...string) (*syncBuffer, <-chan error) {
	root := newRootCmd()
	out, errOut := &syncBuffer{}, &syncBuffer{}
	root.SetOut(out)
	root.SetErr(errOut)
	root.SetArgs(append(append([]string{"--config", m.analyst, "matches", "watch"}, args...), "--server", m.d.LocalAddr()))
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	return out, done
}

// TestMatchesWatch: UA's analyst watches (table and JSON lines); PL
// proposes and answers; each event is printed once; --since resumes;
// a bad --since is refused; ending the context ends the command cleanly.
func TestMatchesWatch(t *testing.T) {
	fed := startRegistryFederation(t, "UA", "PL")
	ua, pl := fed["UA"], fed["PL"]
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	table, tableDone := startWatch(ctx, ua)
	jsonOut, jsonDone := startWatch(ctx, ua, "-o", "json")

	rctx, rcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer rcancel()
	// The streams start from now: wait until both are open (a heartbeat
	// would take 15s; instead propose until the first event shows).
	var m *accordv1.MatchDecision
	raftnettest.WaitFor(t, 20*time.Second, func() error {
		if m == nil || (!strings.Contains(table.String(), shortID(m.GetName())) || !strings.Contains(jsonOut.String(), m.GetName())) {
			r, err := pl.coord.CreateMatchDecision(rctx, &accordv1.CreateMatchDecisionRequest{RequestId: fmt.Sprintf("cli-w-%d", time.Now().UnixNano()), MatchDecision: &accordv1.MatchDecision{
				Cases: []*accordv1.RegistryCaseRef{{Member: "PL", CaseId: "PL-2023-17"}, {Member: "UA", CaseId: fmt.Sprintf("UA-W-%d", time.Now().UnixNano())}}, Score: 0.91,
			}})
			if err != nil {
				return err
			}
			if m == nil {
				m = r.GetMatchDecision()
			}
			return fmt.Errorf("waiting for the streams to print %s", m.GetName())
		}
		return nil
	})
	if _, err := pl.coord.DecideMatch(rctx, &accordv1.DecideMatchRequest{Name: m.GetName(), Answer: accordv1.Answer_ANSWER_NO, RequestId: "cli-w-no"}); err != nil {
		t.Fatal(err)
	}
	raftnettest.WaitFor(t, 20*time.Second, func() error {
		if !strings.Contains(table.String(), "answered PL no") || !strings.Contains(table.String(), "rejected") {
			return fmt.Errorf("table so far:\n%s", table.String())
		}
		return nil
	})
	line := ""
	for _, l := range strings.Split(table.String(), "\n") {
		if strings.Contains(l, "answered PL no") {
			line = l
		}
	}
	wantIn(t, "event line", line, shortID(m.GetName()), "0.91", "PL/PL-2023-17", "rejected", "index ")
	if strings.Contains(line, "UA/") {
		t.Errorf("the line names the office's own case as the other's: %s", line)
	}

	// JSON: one object per line, each a WatchMatchesResponse.
	var rejected *accordv1.WatchMatchesResponse
	raftnettest.WaitFor(t, 20*time.Second, func() error {
		for _, l := range strings.Split(strings.TrimSpace(jsonOut.String()), "\n") {
			var r accordv1.WatchMatchesResponse
			if err := protojson.Unmarshal([]byte(l), &r); err != nil {
				t.Fatalf("line %q: %v", l, err)
			}
			if r.GetKind() == accordv1.MatchEventKind_MATCH_EVENT_KIND_ANSWERED && r.GetMatchDecision().GetName() == m.GetName() {
				rejected = &r
				return nil
			}
		}
		return fmt.Errorf("no answered event in the JSON lines yet")
	})
	if rejected.GetAnswer().GetMember() != "PL" || rejected.GetMatchDecision().GetState() != accordv1.MatchDecisionState_MATCH_DECISION_STATE_REJECTED {
		t.Fatalf("JSON event %v", rejected)
	}

	// --since resumes: from just before the rejection, it is printed.
	sctx, scancel := context.WithCancel(ctx)
	resumed, resumedDone := startWatch(sctx, ua, "--since", fmt.Sprint(rejected.GetIndex()-1))
	raftnettest.WaitFor(t, 20*time.Second, func() error {
		if !strings.Contains(resumed.String(), "answered PL no") {
			return fmt.Errorf("resumed so far: %q", resumed.String())
		}
		return nil
	})
	scancel()
	if err := <-resumedDone; err != nil {
		t.Fatalf("watch ended with %v on its context's end", err)
	}

	// A since ahead of the registry is refused, with the flag's field.
	_, err := ua.ctl(t, "matches", "watch", "--since", "1099511627776")
	wantExit(t, err, 1, "since", "ahead")

	cancel()
	for _, done := range []<-chan error{tableDone, jsonDone} {
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("watch ended with %v, want a clean end", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("watch did not end with its context")
		}
	}
}
