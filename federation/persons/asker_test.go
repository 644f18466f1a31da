package persons_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/persons"
	"github.com/accordfed/accord/federation/persontoken"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// direct calls a service in-process as node caller.
type direct struct {
	s      *persons.Service
	caller identity.Identity
}

func (d direct) EvaluatePersons(ctx context.Context, in *accordv1.EvaluatePersonsRequest, _ ...grpc.CallOption) (*accordv1.EvaluatePersonsResponse, error) {
	return d.s.EvaluatePersons(identity.NewContext(ctx, d.caller), in)
}

type staticPeers struct{ keys []persons.PeerKey }

func (p *staticPeers) PeerKeys() []persons.PeerKey { return p.keys }

func TestAsker(t *testing.T) {
	// UA's node serves evaluations; PL's node asks.
	svc, ring, _ := newService(t, persons.DefaultBudgets(), nil)
	_, uaKey := ring.Current()
	plKey, err := persontoken.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	const uaID, plID = "UA/ua-1#1", "PL/pl-1#1"
	ua := node("UA", "ua-1")
	peers := &staticPeers{keys: []persons.PeerKey{{Member: "UA", Node: ua, Version: 1, Public: uaKey.Public()}}}
	asker := persons.NewAsker(peers, func() (string, *persontoken.Key) { return plID, plKey },
		func(identity.Identity) (accordv1.PersonTokenServiceClient, error) {
			return direct{s: svc, caller: node("PL", "pl-1")}, nil
		}, logger)
	in, _ := persontoken.Inputs(persontoken.Person{Name: "Olena Kovalenko", BirthYear: 1978})
	if got := asker.Cached(in); len(got) != 0 {
		t.Fatalf("cached before asking: %v", got)
	}
	gen := asker.Generation()
	if n, err := asker.Prefetch(context.Background(), []persontoken.Input{in, in}); err != nil || n != 2 {
		t.Fatalf("prefetch of one person with one key: %d obtained, %v", n, err)
	}
	if n, err := asker.Prefetch(context.Background(), []persontoken.Input{in}); err != nil || n != 0 {
		t.Fatalf("prefetch of cached tokens: %d obtained, %v", n, err)
	}
	if asker.Generation() == gen {
		t.Fatal("the generation did not change")
	}
	// Compared at PL: F_PL(F_UA(person)); UA publishes the same of its
	// persons (its own tokens, evaluated by PL).
	compared := asker.Cached(in)
	uaSingle, _ := uaKey.Tokens(uaID, in)
	uaPublishes, _ := plKey.Tokens(persontoken.PairKeyID(uaID, plID), persontoken.OuterInputs(uaSingle))
	if len(compared) != 1 || compared[0].Key != "UA/ua-1#1>PL/pl-1#1" || persontoken.Compare(&uaPublishes, &compared[0]).Year != persontoken.YearSame {
		t.Fatalf("compared %+v", compared)
	}
	// Published by PL for UA: F_UA(F_PL(person)); UA compares its own
	// persons the same way.
	published := asker.Published(in)
	plSingle, _ := plKey.Tokens(plID, in)
	uaCompares, _ := uaKey.Tokens(persontoken.PairKeyID(plID, uaID), persontoken.OuterInputs(plSingle))
	if len(published) != 1 || published[0].Key != "PL/pl-1#1>UA/ua-1#1" || !published[0].HasNear ||
		persontoken.Compare(&published[0], &uaCompares).Year != persontoken.YearSame {
		t.Fatalf("published %+v", published)
	}
	// UA's node comes back with another key under the same version: the
	// old tokens are dropped, never compared with the new ones.
	other, _ := persontoken.GenerateKey(nil)
	peers.keys = []persons.PeerKey{{Member: "UA", Node: ua, Version: 1, Public: other.Public()}}
	gen = asker.Generation()
	// The service still evaluates with the old key: the proof does not
	// verify against the published one, and nothing is cached.
	if _, err := asker.Prefetch(context.Background(), []persontoken.Input{in}); !errors.Is(err, persons.ErrPeer) || !errors.Is(err, persontoken.ErrProof) {
		t.Fatalf("an evaluation with another key than the published one: %v", err)
	}
	if got := asker.Cached(in); len(got) != 0 || asker.Generation() == gen {
		t.Fatalf("after the key changed: cached %v", got)
	}
	if got := asker.Published(in); len(got) != 0 {
		t.Fatalf("after the key changed: published %v", got)
	}
}

// gated holds every evaluation until its gate opens.
type gated struct {
	direct
	gate chan struct{}
}

func (g gated) EvaluatePersons(ctx context.Context, in *accordv1.EvaluatePersonsRequest, opts ...grpc.CallOption) (*accordv1.EvaluatePersonsResponse, error) {
	select {
	case <-g.gate:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return g.direct.EvaluatePersons(ctx, in, opts...)
}

func TestPrefetchWithin(t *testing.T) {
	svc, ring, _ := newService(t, persons.DefaultBudgets(), nil)
	_, uaKey := ring.Current()
	plKey, err := persontoken.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	peers := &staticPeers{keys: []persons.PeerKey{{Member: "UA", Node: node("UA", "ua-1"), Version: 1, Public: uaKey.Public()}}}
	var calls atomic.Int64
	newAsker := func(gate chan struct{}) *persons.Asker {
		return persons.NewAsker(peers, func() (string, *persontoken.Key) { return "PL/pl-1#1", plKey },
			func(identity.Identity) (accordv1.PersonTokenServiceClient, error) {
				calls.Add(1)
				return gated{direct: direct{s: svc, caller: node("PL", "pl-1")}, gate: gate}, nil
			}, logger)
	}
	person := func(name string) persontoken.Input {
		in, err := persontoken.Inputs(persontoken.Person{Name: name, BirthYear: 1978})
		if err != nil {
			t.Fatal(err)
		}
		return in
	}
	in, other := person("Olena Kovalenko"), person("Petro Bondarenko")
	late := make(chan bool, 16)
	onLate := func(obtained bool) { late <- obtained }
	noLate := func(what string) {
		t.Helper()
		select {
		case got := <-late:
			t.Fatalf("%s: late was called (obtained %v)", what, got)
		default:
		}
	}

	// UA's node does not answer in time: the caller goes on without the
	// tokens, and is told when they arrive.
	gate := make(chan struct{})
	asker := newAsker(gate)
	if asker.PrefetchWithin(context.Background(), []persontoken.Input{in}, 20*time.Millisecond, onLate) {
		t.Fatal("a prefetch held at the peer ended in time")
	}
	if got := asker.Published(in); len(got) != 0 {
		t.Fatalf("published tokens before the peer answered: %v", got)
	}
	// More batches while the first waits: they wait together, and each
	// is told once.
	for range 5 {
		if asker.PrefetchWithin(context.Background(), []persontoken.Input{in, other}, 20*time.Millisecond, onLate) {
			t.Fatal("a prefetch held at the peer ended in time")
		}
	}
	noLate("before the tokens came")
	close(gate)
	for i := range 6 {
		select {
		case obtained := <-late:
			if !obtained {
				t.Fatalf("late prefetch %d obtained the tokens and said it did not", i)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("late prefetch %d was not told after the tokens came", i)
		}
	}
	asker.Wait()
	noLate("after every late prefetch was told")
	if got := asker.Published(other); len(got) != 1 {
		t.Fatalf("published after the late prefetch: %v", got)
	}

	// Tokens already held: true at once, nothing asked, nothing told,
	// also while another prefetch is held at the peer.
	held := make(chan struct{})
	asker2 := newAsker(held)
	before := calls.Load()
	if asker2.PrefetchWithin(context.Background(), []persontoken.Input{other}, 20*time.Millisecond, onLate) {
		t.Fatal("a prefetch held at the peer ended in time")
	}
	if !asker.PrefetchWithin(context.Background(), []persontoken.Input{in, other}, time.Nanosecond, onLate) {
		t.Fatal("a prefetch of cached tokens did not end in time")
	}
	if n, err := asker.Prefetch(context.Background(), []persontoken.Input{in, other}); n != 0 || err != nil {
		t.Fatalf("a prefetch of cached tokens obtained %d: %v", n, err)
	}
	if calls.Load() != before+1 {
		t.Fatalf("%d calls for cached tokens", calls.Load()-before-1)
	}

	// The node stops while a prefetch is late: it is told that nothing
	// came, and stops asking.
	ctx, cancel := context.WithCancel(context.Background())
	if asker2.PrefetchWithin(ctx, []persontoken.Input{in}, 20*time.Millisecond, onLate) {
		t.Fatal("a prefetch held at the peer ended in time")
	}
	cancel()
	close(held)
	asker2.Wait()
	for range 2 {
		select {
		case <-late:
		default:
			t.Fatal("a late prefetch was not told")
		}
	}
	noLate("after the node stopped")
}

// counting is gated and counts the requests that arrived.
type counting struct {
	gated
	arrived *atomic.Int64
}

func (c counting) EvaluatePersons(ctx context.Context, in *accordv1.EvaluatePersonsRequest, opts ...grpc.CallOption) (*accordv1.EvaluatePersonsResponse, error) {
	c.arrived.Add(1)
	return c.gated.EvaluatePersons(ctx, in, opts...)
}

// TestSlowMemberHoldsOnePlace: a member's node that holds every matching
// request until its deadline (a dishonest member's may) holds one of the
// asker's shared places in flight at most: another member's node is
// asked, and answers, meanwhile.
func TestSlowMemberHoldsOnePlace(t *testing.T) {
	honestSvc, honestRing, _ := newService(t, persons.DefaultBudgets(), nil)
	_, honestKey := honestRing.Current()
	slowSvc, slowRing, _ := newService(t, persons.DefaultBudgets(), nil)
	_, slowKey := slowRing.Current()
	plKey, err := persontoken.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	ua, mt := node("UA", "ua-1"), node("MT", "mt-1")
	peers := &staticPeers{}
	held := make(chan struct{})
	var arrived atomic.Int64
	asker := persons.NewAsker(peers, func() (string, *persontoken.Key) { return "PL/pl-1#1", plKey },
		func(n identity.Identity) (accordv1.PersonTokenServiceClient, error) {
			if n == mt {
				return counting{gated: gated{direct: direct{s: slowSvc, caller: node("PL", "pl-1")}, gate: held}, arrived: &arrived}, nil
			}
			return direct{s: honestSvc, caller: node("PL", "pl-1")}, nil
		}, logger)
	// Enough persons for four requests (the most places there are).
	var ins []persontoken.Input
	for i := range 4*819 + 1 {
		in, err := persontoken.Inputs(persontoken.Person{Name: fmt.Sprintf("Person %c%c%c", 'a'+i%26, 'a'+i/26%26, 'a'+i/676%26)})
		if err != nil {
			t.Fatal(err)
		}
		ins = append(ins, in)
	}
	ctx, cancel := context.WithCancel(context.Background())
	slowDone := make(chan struct{})
	go func() {
		defer close(slowDone)
		_, _ = asker.Evaluate(ctx, persons.PeerKey{Member: "MT", Node: mt, Version: 1, Public: slowKey.Public()},
			accordv1.EvaluationPurpose_EVALUATION_PURPOSE_MATCHING, "", "", ins)
	}()
	for arrived.Load() == 0 {
		select {
		case <-slowDone:
			t.Fatal("the slow node's evaluation ended")
		case <-time.After(time.Millisecond):
		}
	}
	// MT's node holds its first request: UA's node is still asked.
	uaCtx, uaCancel := context.WithTimeout(ctx, 20*time.Second)
	defer uaCancel()
	if _, err := asker.Evaluate(uaCtx, persons.PeerKey{Member: "UA", Node: ua, Version: 1, Public: honestKey.Public()},
		accordv1.EvaluationPurpose_EVALUATION_PURPOSE_MATCHING, "", "", ins[:1]); err != nil {
		t.Fatalf("another member's node was not asked while MT's held its request: %v", err)
	}
	if n := arrived.Load(); n != 1 {
		t.Errorf("MT's node holds %d requests at once, want 1", n)
	}
	cancel()
	close(held)
	<-slowDone
}
