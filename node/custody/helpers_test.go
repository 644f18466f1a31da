package custody_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/accordfed/accord/node/custody"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

const (
	itemID   = "UA-2022-000001-E002"
	nodeURI  = "spiffe://accord.test/member/UA/node/kyiv-1"
	userURI  = "spiffe://accord.test/member/UA/user/a1b2c3"
	otherURI = "spiffe://accord.test/member/PL/node/warsaw-1"
)

// t0 is the time of the first event of test chains.
var t0 = time.Date(2022, 3, 4, 10, 30, 0, 123456789, time.UTC)

func newECDSAKey(t testing.TB) crypto.Signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newEd25519Key(t testing.TB) crypto.Signer {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newSealer(t testing.TB, key crypto.Signer) *custody.Sealer {
	t.Helper()
	s, err := custody.NewSealer(key, nodeURI)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// sealStore is an in-memory seal store for tests.
type sealStore map[uint64]*accordv1.CustodySeal

func (s sealStore) lookup(id uint64) (*accordv1.CustodySeal, error) {
	if seal, ok := s[id]; ok {
		return seal, nil
	}
	return nil, fmt.Errorf("seal %d: %w", id, custody.ErrSealNotFound)
}

func (s sealStore) clone() sealStore {
	c := make(sealStore, len(s))
	for id, seal := range s {
		c[id] = proto.Clone(seal).(*accordv1.CustodySeal)
	}
	return c
}

func (s sealStore) add(t testing.TB, sealer *custody.Sealer, id uint64, events ...*accordv1.CustodyEvent) {
	t.Helper()
	seal, err := sealer.Seal(id, events, t0.Add(time.Duration(id)*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	s[id] = seal
}

// fixture is a chain of six events of itemID: events 1 to 3 sealed by
// batch seal 1 together with the registered events of two other items (an
// import), events 4, 5 and 6 each by a seal of their own (2, 3 and 4).
type fixture struct {
	sealer *custody.Sealer
	seals  sealStore
	chain  []*accordv1.CustodyEvent
	others []*accordv1.CustodyEvent // first events of the other items

	// What verifier uses; tests may replace them.
	lookup  func(uint64) (*accordv1.CustodySeal, error)
	trusted func([]byte) error
}

// verifier returns a new verifier over the fixture's seals that trusts only
// the fixture's key (unless the test replaced lookup or trusted).
func (f *fixture) verifier() *custody.Verifier {
	return custody.NewVerifier(f.lookup, f.trusted)
}

// forge rewrites events as the node's key holder could: it re-links them
// from the first given one (prev_hash from the event before, hash
// recomputed) and seals them in a new seal id with sealer. It stands for
// chains that are authentic but break the rules, to test the checks that
// only such chains reach.
func (f *fixture) forge(t testing.TB, sealer *custody.Sealer, id uint64, events []*accordv1.CustodyEvent, prev *accordv1.CustodyEvent) {
	t.Helper()
	for _, ev := range events {
		ev.PrevHash = nil
		if prev != nil {
			ev.PrevHash = append([]byte(nil), prev.GetHash()...)
		}
		ev.SealId = 0
		ev.Hash = custody.Hash(ev)
		prev = ev
	}
	f.seals.add(t, sealer, id, events...)
}

var fixtureSteps = []struct {
	action  accordv1.CustodyAction
	actor   string
	details string
}{
	{accordv1.CustodyAction_CUSTODY_ACTION_REGISTERED, nodeURI, "imported from the case register"},
	{accordv1.CustodyAction_CUSTODY_ACTION_TRANSFERRED, userURI, "to the forensic laboratory, Kharkiv; courier 17"},
	{accordv1.CustodyAction_CUSTODY_ACTION_ACCESSED, userURI, "viewed by the analyst on duty"},
	{accordv1.CustodyAction_CUSTODY_ACTION_ANALYSED, userURI, "metadata extracted; geolocation 49.99 N 36.23 E"},
	{accordv1.CustodyAction_CUSTODY_ACTION_SEALED, userURI, "bag 4411, seal number A-77"},
	{accordv1.CustodyAction_CUSTODY_ACTION_RELEASED, userURI, "released to the court, case 1-kp/2023 — Харків"},
}

func newFixture(t testing.TB, key crypto.Signer) *fixture {
	t.Helper()
	f := &fixture{sealer: newSealer(t, key), seals: sealStore{}}
	var prev *accordv1.CustodyEvent
	for i, st := range fixtureSteps {
		ev, err := custody.Next(prev, itemID, st.action, st.actor, st.details, t0.Add(time.Duration(i)*time.Hour))
		if err != nil {
			t.Fatalf("Next(%d): %v", i+1, err)
		}
		f.chain = append(f.chain, ev)
		prev = ev
	}
	for _, id := range []string{"UA-2022-000001-E001", "UA-2022-000001-E003"} {
		ev, err := custody.Next(nil, id, accordv1.CustodyAction_CUSTODY_ACTION_REGISTERED, nodeURI, "imported", t0)
		if err != nil {
			t.Fatal(err)
		}
		f.others = append(f.others, ev)
	}
	f.seals.add(t, f.sealer, 1, f.others[0], f.chain[0], f.chain[1], f.others[1], f.chain[2])
	f.seals.add(t, f.sealer, 2, f.chain[3])
	f.seals.add(t, f.sealer, 3, f.chain[4])
	f.seals.add(t, f.sealer, 4, f.chain[5])
	f.lookup = f.seals.lookup
	f.trusted = custody.TrustKeys(f.sealer.PublicKey())
	return f
}

// cloneChain deep-copies a chain so that a test can alter it.
func cloneChain(chain []*accordv1.CustodyEvent) []*accordv1.CustodyEvent {
	c := make([]*accordv1.CustodyEvent, len(chain))
	for i, ev := range chain {
		c[i] = proto.Clone(ev).(*accordv1.CustodyEvent)
	}
	return c
}
