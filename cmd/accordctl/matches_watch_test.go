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

	"github.com/accordfed/accord/federation/pki/pkitest"
	"github.com/accordfed/accord/federation/raftnet/raftnettest"
	"github.com/accordfed/accord/node/config"
	"github.com/accordfed/accord/node/daemon/daemontest"
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
func startWatch(ctx context.Context, t *testing.T, m *regMember, args ...string) (*syncBuffer, <-chan error) {
	root := newRootCmd()
	out, errOut := &syncBuffer{}, &syncBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("stderr of matches watch %v:\n%s", args, errOut.String())
		}
	})
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
	table, tableDone := startWatch(ctx, t, ua)
	jsonOut, jsonDone := startWatch(ctx, t, ua, "-o", "json")

	rctx, rcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer rcancel()
	// The streams start from now: wait until both are open (a heartbeat
	// would take 15s; instead propose until the first event shows).
	var (
		m        *accordv1.MatchDecision
		proposed []*accordv1.MatchDecision
	)
	raftnettest.WaitFor(t, 20*time.Second, func() error {
		for _, p := range proposed {
			if strings.Contains(table.String(), shortID(p.GetName())+" ") && strings.Contains(jsonOut.String(), p.GetName()) {
				m = p
				return nil
			}
		}
		if len(proposed) < 50 {
			r, err := pl.coord.CreateMatchDecision(rctx, &accordv1.CreateMatchDecisionRequest{RequestId: fmt.Sprintf("cli-w-%d", len(proposed)), MatchDecision: &accordv1.MatchDecision{
				Cases: []*accordv1.RegistryCaseRef{{Member: "PL", CaseId: "PL-2023-17"}, {Member: "UA", CaseId: fmt.Sprintf("UA-W-%d", len(proposed))}}, Score: 0.91,
			}})
			if err != nil {
				return err
			}
			proposed = append(proposed, r.GetMatchDecision())
		}
		return fmt.Errorf("waiting for both streams to print one of %d proposed", len(proposed))
	})
	if _, err := pl.coord.DecideMatch(rctx, &accordv1.DecideMatchRequest{Name: m.GetName(), Answer: accordv1.Answer_ANSWER_NO, Reason: "another incident", RequestId: "cli-w-no"}); err != nil {
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
	resumed, resumedDone := startWatch(sctx, t, ua, "--since", fmt.Sprint(rejected.GetIndex()-1))
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

// TestMatchesWatchReconnects: the node restarts under a running watch; the
// command reconnects and resumes after the last index it printed: the
// event before the restart is printed once, the one after it too.
func TestMatchesWatchReconnects(t *testing.T) {
	saved := watchBackoff
	watchBackoff.first, watchBackoff.max = 20*time.Millisecond, 200*time.Millisecond
	defer func() { watchBackoff = saved }()
	fed := pkitest.NewFederation(t, "accord.test", "UA", "PL")
	// The local API on a fixed port, as a real node restarts on its
	// configured one.
	nodes, _ := daemontest.StartFederationConfigured(t, fed, nil, func(member string, cfg *config.Config) {
		if member == "UA" {
			cfg.LocalAPI.Listen = daemontest.FreeAddrs(t, 1)[0]
		}
	}, "UA", "PL")
	var uaNode *daemontest.Node
	var pl accordv1.CoordinationServiceClient
	for _, n := range nodes {
		if n.Member == "UA" {
			uaNode = n
		} else {
			pl = daemontest.Coordination(t, n.D, fed.User(n.Member, "analyst"), n.Member)
		}
	}
	ua := &regMember{code: "UA", d: uaNode.D, analyst: writeClientConfig(t, fed.User("UA", "analyst"))}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, done := startWatch(ctx, t, ua, "-o", "json")
	propose := func(i int) string {
		rctx, rcancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer rcancel()
		r, err := pl.CreateMatchDecision(rctx, &accordv1.CreateMatchDecisionRequest{RequestId: fmt.Sprintf("rc-%d", i), MatchDecision: &accordv1.MatchDecision{
			Cases: []*accordv1.RegistryCaseRef{{Member: "PL", CaseId: fmt.Sprintf("PL-RC-%d", i)}, {Member: "UA", CaseId: fmt.Sprintf("UA-RC-%d", i)}}, Score: 0.9,
		}})
		if err != nil {
			t.Fatal(err)
		}
		return r.GetMatchDecision().GetName()
	}
	// The stream starts from now: propose until one is printed.
	var first string
	i := 0
	raftnettest.WaitFor(t, 20*time.Second, func() error {
		for j := range i {
			if name := fmt.Sprintf("PL-RC-%d", j); strings.Contains(out.String(), name) {
				first = name
				return nil
			}
		}
		propose(i)
		i++
		return fmt.Errorf("nothing printed yet")
	})
	if err := uaNode.D.Close(); err != nil {
		t.Fatal(err)
	}
	raftnettest.WaitFor(t, 30*time.Second, func() error {
		d, err := daemontest.Start(uaNode.Cfg, nil)
		if err != nil {
			return err
		}
		t.Cleanup(func() { _ = d.Close() })
		return nil
	})
	propose(1000)
	raftnettest.WaitFor(t, 30*time.Second, func() error {
		if !strings.Contains(out.String(), "PL-RC-1000") {
			return fmt.Errorf("not printed after the restart yet")
		}
		return nil
	})
	if n := strings.Count(out.String(), `"`+first+`"`); n != 1 {
		t.Errorf("%s printed %d times, want once:\n%s", first, n, out.String())
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("watch ended with %v", err)
	}
}
