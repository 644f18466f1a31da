package daemon_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/accordfed/accord/federation/pki/pkitest"
	"github.com/accordfed/accord/node/config"
	"github.com/accordfed/accord/node/daemon/daemontest"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// watchStream reads a WatchMatches stream in the background.
type watchStream struct {
	got  chan *accordv1.WatchMatchesResponse
	done chan error
}

func watch(ctx context.Context, t *testing.T, c accordv1.CoordinationServiceClient, req *accordv1.WatchMatchesRequest) *watchStream {
	t.Helper()
	st, err := c.WatchMatches(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	w := &watchStream{got: make(chan *accordv1.WatchMatchesResponse, 1000), done: make(chan error, 1)}
	go func() {
		for {
			r, err := st.Recv()
			if err != nil {
				w.done <- err
				return
			}
			w.got <- r
		}
	}()
	return w
}

// next returns the next event (heartbeats skipped).
func (w *watchStream) next(t *testing.T) *accordv1.WatchMatchesResponse {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case r := <-w.got:
			if !r.GetHeartbeat() {
				return r
			}
		case err := <-w.done:
			t.Fatalf("stream ended: %v", err)
		case <-timeout:
			t.Fatal("no event within 20s")
		}
	}
}

func newMatch(ctx context.Context, t *testing.T, c accordv1.CoordinationServiceClient, rid, ua, pl string) *accordv1.MatchDecision {
	t.Helper()
	r, err := c.CreateMatchDecision(ctx, &accordv1.CreateMatchDecisionRequest{RequestId: rid, MatchDecision: &accordv1.MatchDecision{
		Cases: []*accordv1.RegistryCaseRef{{Member: "PL", CaseId: pl}, {Member: "UA", CaseId: ua}}, Score: 0.93, Reasons: []string{"same place and day"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return r.GetMatchDecision()
}

// analysts returns UA's and PL's analysts' CoordinationService clients.
func analysts(t *testing.T, fed *pkitest.Federation, nodes []*daemontest.Node) (ua, pl accordv1.CoordinationServiceClient) {
	t.Helper()
	for _, n := range nodes {
		c := daemontest.Coordination(t, n.D, fed.User(n.Member, "analyst"), n.Member)
		if n.Member == "UA" {
			ua = c
		} else {
			pl = c
		}
	}
	return ua, pl
}

// TestWatchMatches: UA's analyst watches; PL proposes a match and both
// answer; UA sees each change on its own node, resumes from an index,
// filters what waits for its answer; a bad since is refused; a client
// that does not read is cut with RESOURCE_EXHAUSTED; stopping the node
// ends the stream at once.
func TestWatchMatches(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA", "PL")
	nodes, _ := daemontest.StartFederationConfigured(t, fed, nil, func(member string, cfg *config.Config) {
		cfg.Notifications.Watch.Heartbeat = 100 * time.Millisecond
		cfg.Notifications.Watch.Buffer = 4
	}, "UA", "PL")
	ua, pl := analysts(t, fed, nodes)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	w := watch(ctx, t, ua, &accordv1.WatchMatchesRequest{})
	// A heartbeat comes while nothing changes.
	select {
	case r := <-w.got:
		if !r.GetHeartbeat() || r.GetKind() != accordv1.MatchEventKind_MATCH_EVENT_KIND_UNSPECIFIED {
			t.Fatalf("first message %v, want a heartbeat", r)
		}
	case err := <-w.done:
		t.Fatal(err)
	case <-time.After(10 * time.Second):
		t.Fatal("no heartbeat")
	}
	waitOnly := watch(ctx, t, ua, &accordv1.WatchMatchesRequest{AwaitingAnswer: true})

	m := newMatch(ctx, t, pl, "w-1", "UA-2022-000001", "PL-2023-17")
	created := w.next(t)
	if created.GetKind() != accordv1.MatchEventKind_MATCH_EVENT_KIND_CREATED || created.GetMatchDecision().GetName() != m.GetName() ||
		created.GetIndex() != m.GetCreate().GetIndex() || created.GetAnswer() != nil {
		t.Fatalf("created event %v, want %s at %d", created, m.GetName(), m.GetCreate().GetIndex())
	}
	if r := waitOnly.next(t); r.GetMatchDecision().GetName() != m.GetName() {
		t.Fatalf("awaiting-answer stream: %v", r)
	}
	if _, err := pl.DecideMatch(ctx, &accordv1.DecideMatchRequest{Name: m.GetName(), Answer: accordv1.Answer_ANSWER_YES, RequestId: "w-2"}); err != nil {
		t.Fatal(err)
	}
	answered := w.next(t)
	if answered.GetKind() != accordv1.MatchEventKind_MATCH_EVENT_KIND_ANSWERED || answered.GetAnswer().GetMember() != "PL" ||
		answered.GetAnswer().GetAnswer() != accordv1.Answer_ANSWER_YES || answered.GetMatchDecision().GetState() != accordv1.MatchDecisionState_MATCH_DECISION_STATE_PROPOSED {
		t.Fatalf("answered event %v", answered)
	}
	if _, err := ua.DecideMatch(ctx, &accordv1.DecideMatchRequest{Name: m.GetName(), Answer: accordv1.Answer_ANSWER_YES, RequestId: "w-3"}); err != nil {
		t.Fatal(err)
	}
	confirmed := w.next(t)
	if confirmed.GetKind() != accordv1.MatchEventKind_MATCH_EVENT_KIND_ANSWERED || confirmed.GetAnswer().GetMember() != "UA" ||
		confirmed.GetMatchDecision().GetState() != accordv1.MatchDecisionState_MATCH_DECISION_STATE_CONFIRMED {
		t.Fatalf("confirming event %v", confirmed)
	}
	// The awaiting-answer stream saw PL's answer (still waiting for UA)
	// and not UA's own (waits no more).
	if r := waitOnly.next(t); r.GetIndex() != answered.GetIndex() {
		t.Fatalf("awaiting-answer stream: %v, want PL's answer at %d", r, answered.GetIndex())
	}

	// Resuming after the created event: both answers, coalesced into the
	// decision as it stands (one event, UA's answer, confirmed).
	resumed := watch(ctx, t, ua, &accordv1.WatchMatchesRequest{Since: created.GetIndex()})
	if r := resumed.next(t); r.GetIndex() != confirmed.GetIndex() || r.GetAnswer().GetMember() != "UA" {
		t.Fatalf("resumed: %v, want the decision as it stands at %d", r, confirmed.GetIndex())
	}

	// Bad since: ahead of the registry.
	bad, err := ua.WatchMatches(ctx, &accordv1.WatchMatchesRequest{Since: 1 << 40})
	if err == nil {
		_, err = bad.Recv()
	}
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("since ahead: %v, want InvalidArgument", err)
	}

	// A client that does not read: more events than the buffer (4) and
	// gRPC's windows hold, the stream is cut with RESOURCE_EXHAUSTED.
	stuckCtx, stopStuck := context.WithCancel(ctx)
	defer stopStuck()
	stuck, err := ua.WatchMatches(stuckCtx, &accordv1.WatchMatchesRequest{Since: created.GetIndex() - 1})
	if err != nil {
		t.Fatal(err)
	}
	reasons := make([]string, 100)
	for i := range reasons {
		reasons[i] = fmt.Sprintf("reason %03d %0900d", i, i) // large events fill the windows sooner
	}
	var last *accordv1.WatchMatchesResponse
	for i := 0; ; i++ {
		if _, err := pl.CreateMatchDecision(ctx, &accordv1.CreateMatchDecisionRequest{RequestId: fmt.Sprintf("w-fill-%d", i), MatchDecision: &accordv1.MatchDecision{
			Cases: []*accordv1.RegistryCaseRef{{Member: "PL", CaseId: fmt.Sprintf("PL-F-%d", i)}, {Member: "UA", CaseId: fmt.Sprintf("UA-F-%d", i)}}, Score: 0.8, Reasons: reasons,
		}}); err != nil {
			t.Fatal(err)
		}
		if i%20 == 19 {
			// Read now: what was sent, then the end.
			var rerr error
			for {
				r, err := stuck.Recv()
				if err != nil {
					rerr = err
					break
				}
				last = r
			}
			if status.Code(rerr) != codes.ResourceExhausted {
				t.Fatalf("a stream not read ended with %v, want ResourceExhausted", rerr)
			}
			break
		}
	}
	if last == nil || last.GetIndex() < created.GetIndex() {
		t.Fatalf("before the cut the client read %v", last)
	}
	// Drain the first stream's fill events before stopping.
	for len(w.got) > 0 {
		<-w.got
	}

	// Stopping the node ends the open streams at once (not after the
	// shutdown timeout).
	start := time.Now()
	for _, n := range nodes {
		if n.Member == "UA" {
			if err := n.D.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if took := time.Since(start); took > nodes[0].Cfg.ShutdownTimeout/2 {
		t.Errorf("closing UA's node took %s with open watch streams", took)
	}
	select {
	case err := <-w.done:
		if c := status.Code(err); c != codes.Unavailable && !errors.Is(err, io.EOF) && c != codes.Canceled {
			t.Errorf("stream ended with %v, want Unavailable", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("the stream did not end with the node")
	}
}

// TestWatchLatency measures how long an answer takes from the registry
// (DecideMatch returned on PL's node) to UA's WatchMatches stream on the
// other node (replication included), and on the answering node itself.
func TestWatchLatency(t *testing.T) {
	if testing.Short() {
		t.Skip("latency measurement")
	}
	fed := pkitest.NewFederation(t, "accord.test", "UA", "PL")
	nodes, _ := daemontest.StartFederation(t, fed, nil, "UA", "PL")
	ua, pl := analysts(t, fed, nodes)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	atUA := watch(ctx, t, ua, &accordv1.WatchMatchesRequest{})
	atPL := watch(ctx, t, pl, &accordv1.WatchMatchesRequest{})
	const n = 100
	var other, same []time.Duration
	for i := range n {
		start := time.Now()
		newMatch(ctx, t, pl, fmt.Sprintf("lat-%d", i), fmt.Sprintf("UA-L-%d", i), fmt.Sprintf("PL-L-%d", i))
		applied := time.Since(start)
		atPL.next(t)
		same = append(same, time.Since(start)-applied)
		atUA.next(t)
		other = append(other, time.Since(start)-applied)
	}
	pct := func(ds []time.Duration, p int) time.Duration {
		s := slices.Clone(ds)
		slices.Sort(s)
		return s[(len(s)*p+99)/100-1]
	}
	t.Logf("registry apply -> WatchMatches event, %d events: same node p50 %s p95 %s; other member's node p50 %s p95 %s",
		n, pct(same, 50), pct(same, 95), pct(other, 50), pct(other, 95))
}
