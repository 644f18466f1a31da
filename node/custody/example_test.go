package custody_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/accordfed/accord/node/custody"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

func Example() {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader) // the node's TLS key
	sealer, err := custody.NewSealer(key, "spiffe://accord.example/member/UA/node/kyiv-1")
	if err != nil {
		panic(err)
	}
	seals := map[uint64]*accordv1.CustodySeal{} // the store's seals
	at := time.Date(2022, 3, 4, 10, 30, 0, 0, time.UTC)

	// Open the chain, then append an event; each is sealed alone here.
	registered, _ := custody.Next(nil, "UA-2022-000001-E002", accordv1.CustodyAction_CUSTODY_ACTION_REGISTERED,
		"spiffe://accord.example/member/UA/user/a1b2c3", "photographs, 14 files", at)
	transferred, _ := custody.Next(registered, "UA-2022-000001-E002", accordv1.CustodyAction_CUSTODY_ACTION_TRANSFERRED,
		"spiffe://accord.example/member/UA/user/a1b2c3", "to the forensic laboratory", at.Add(time.Hour))
	for id, ev := range []*accordv1.CustodyEvent{registered, transferred} {
		seal, err := sealer.Seal(uint64(id)+1, []*accordv1.CustodyEvent{ev}, at.Add(time.Hour))
		if err != nil {
			panic(err)
		}
		seals[seal.GetId()] = seal
	}

	v := custody.NewVerifier(func(id uint64) (*accordv1.CustodySeal, error) {
		if s, ok := seals[id]; ok {
			return s, nil
		}
		return nil, custody.ErrSealNotFound
	}, custody.TrustKeys(sealer.PublicKey()))
	chain := []*accordv1.CustodyEvent{registered, transferred}
	fmt.Println(v.VerifyChain("UA-2022-000001-E002", chain))

	transferred.Details = "to a private collector" // altered in the store
	fmt.Println(v.VerifyChain("UA-2022-000001-E002", chain))
	// Output:
	// <nil>
	// custody chain of UA-2022-000001-E002 broken at event 2: hash does not match the event's content (altered after it was written)
}
