package persons_test

import (
	"context"
	"errors"
	"testing"

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
	svc, ring, _ := newService(t, persons.DefaultBudgets(), nil)
	_, key := ring.Current()
	ua := node("UA", "ua-1")
	peers := &staticPeers{keys: []persons.PeerKey{{Member: "UA", Node: ua, Version: 1, Public: key.Public()}}}
	asker := persons.NewAsker(peers, func(identity.Identity) (accordv1.PersonTokenServiceClient, error) {
		return direct{s: svc, caller: node("PL", "pl-1")}, nil
	}, logger)
	in, _ := persontoken.Inputs(persontoken.Person{Name: "Olena Kovalenko", BirthYear: 1978})
	if got := asker.Cached(in); len(got) != 0 {
		t.Fatalf("cached before asking: %v", got)
	}
	gen := asker.Generation()
	if err := asker.Prefetch(context.Background(), []persontoken.Input{in, in}); err != nil {
		t.Fatal(err)
	}
	got := asker.Cached(in)
	origin, _ := key.Tokens(persontoken.KeyID("UA/ua-1", 1), in)
	if len(got) != 1 || got[0].Key != "UA/ua-1#1" || !persontoken.Compare(&origin, &got[0]).Name || asker.Generation() == gen {
		t.Fatalf("cached %+v", got)
	}
	// UA's node comes back with another key under the same version: the
	// old evaluations are dropped, never compared with the new tokens.
	other, _ := persontoken.GenerateKey(nil)
	peers.keys = []persons.PeerKey{{Member: "UA", Node: ua, Version: 1, Public: other.Public()}}
	gen = asker.Generation()
	// The service still evaluates with the old key: the proof does not
	// verify against the published one, and nothing is cached.
	if err := asker.Prefetch(context.Background(), []persontoken.Input{in}); !errors.Is(err, persons.ErrPeer) || !errors.Is(err, persontoken.ErrProof) {
		t.Fatalf("an evaluation with another key than the published one: %v", err)
	}
	if got := asker.Cached(in); len(got) != 0 || asker.Generation() == gen {
		t.Fatalf("after the key changed: cached %v", got)
	}
}
