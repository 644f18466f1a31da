package registryraft_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/accordfed/accord/federation/registry"
	"github.com/accordfed/accord/federation/registryraft"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// earlierAnswers is a node's RegistryService whose ServerStatus says that
// it does not apply match answers v2 while earlier is set (a server of an
// earlier build).
type earlierAnswers struct {
	*registryraft.Service
	earlier atomic.Bool
	// version is the match answers version it then says it applies.
	version atomic.Int32
}

func (s *earlierAnswers) ServerStatus(ctx context.Context, req *accordv1.ServerStatusRequest) (*accordv1.ServerStatusResponse, error) {
	resp, err := s.Service.ServerStatus(ctx, req)
	if err == nil && s.earlier.Load() {
		resp.MatchAnswers = s.version.Load()
	}
	return resp, err
}

// TestMatchAnswersSwitch: while a registry server does not say that it
// applies match answers v2, nodes name it and the leader refuses an
// answer with a reason; once every server says so, it is applied.
func TestMatchAnswersSwitch(t *testing.T) {
	svcs := map[string]*earlierAnswers{}
	o := fastTimeouts()
	o.manualVersions = true
	o.wrapService = func(name string, svc *registryraft.Service) accordv1.RegistryServiceServer {
		s := &earlierAnswers{Service: svc}
		s.earlier.Store(true)
		svcs[name] = s
		return s
	}
	c := startCluster(t, []string{"UA", "PL", "DE"}, o)
	leader := c.waitLeader(10 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	round := func() {
		t.Helper()
		for _, tn := range c.nodes {
			if _, err := tn.node.GroupStatus(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	by := map[string]*testNode{}
	for _, tn := range c.nodes {
		by[tn.member] = tn
	}
	// One follower's server plays an earlier build.
	lag := followersOf(c, leader)[0]
	for name, s := range svcs {
		s.earlier.Store(name == lag.name)
	}
	round()
	cmd, err := registry.NewCommand("m-1", registry.ProposeMatch{
		Cases: []registry.CaseRef{{Member: "PL", CaseID: "PL-1"}, {Member: "UA", CaseID: "UA-1"}}, Score: 0.9})
	if err != nil {
		t.Fatal(err)
	}
	out, err := by["UA"].node.Apply(ctx, cmd)
	if err != nil {
		t.Fatal(err)
	}
	if b := leader.node.MatchAnswersBehind(); len(b) != 1 || b[0] != string(lag.node.ID()) {
		t.Fatalf("the leader sees %v behind, want %s", b, lag.node.ID())
	}
	answer := func(rid string) error {
		cmd, err := registry.NewCommand(rid, registry.DecideMatch{Match: out.ID, Confirm: false, Reason: "another village"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = by["PL"].node.Apply(ctx, cmd)
		return err
	}
	if err := answer("d-1"); err == nil || !strings.Contains(err.Error(), "not yet applied by every registry server") ||
		!strings.Contains(err.Error(), string(lag.node.ID())) {
		t.Fatalf("an answer with a reason while %s is behind: %v", lag.name, err)
	}
	svcs[lag.name].earlier.Store(false)
	round()
	for _, tn := range c.nodes {
		if b := tn.node.MatchAnswersBehind(); len(b) != 0 {
			t.Fatalf("%s sees %v behind", tn.name, b)
		}
	}
	if err := answer("d-2"); err != nil {
		t.Fatal(err)
	}

	// A server of the v2 build: reasons go, a first answer only (v3) is
	// refused until it says it applies v3.
	svcs[lag.name].version.Store(registry.MatchAnswersV2)
	svcs[lag.name].earlier.Store(true)
	round()
	if b := leader.node.MatchAnswersBehindFor(registry.MatchAnswersV3); len(b) != 1 || b[0] != string(lag.node.ID()) || len(leader.node.MatchAnswersBehind()) != 0 {
		t.Fatalf("behind v3: %v, behind v2: %v; want %s behind v3 only", b, leader.node.MatchAnswersBehind(), lag.node.ID())
	}
	first := func(rid string) error {
		cmd, err := registry.NewCommand(rid, registry.DecideMatch{Match: out.ID, Confirm: true, Reason: "same strike", FirstOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		_, err = by["UA"].node.Apply(ctx, cmd)
		return err
	}
	if err := first("f-1"); !registryraft.IsMatchAnswersRefusal(err) || !strings.Contains(err.Error(), string(lag.node.ID())) {
		t.Fatalf("a first answer only while %s applies v2: %v", lag.name, err)
	}
	svcs[lag.name].earlier.Store(false)
	round()
	// Applied now, and refused by the registry itself: PL rejected it,
	// so it no longer waits for UA's first answer.
	if err := first("f-2"); err == nil || registryraft.IsMatchAnswersRefusal(err) || !strings.Contains(err.Error(), "first answer") {
		t.Fatalf("a first answer only on a rejected decision: %v", err)
	}
	if _, err := leader.node.Read(ctx, true, func(v registry.View) {
		d, err := v.GetMatchDecision(out.ID, "PL")
		if err != nil || d.Status != registry.MatchRejected || d.Decisions[0].Reason != "another village" {
			t.Errorf("%+v %v", d, err)
		}
	}); err != nil {
		t.Fatal(err)
	}
}
