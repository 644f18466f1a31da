package custody_test

import (
	"crypto"
	"fmt"
	"testing"
	"time"

	"github.com/accordfed/accord/node/custody"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// longChain builds one chain of n events of itemID.
func longChain(b *testing.B, n int) []*accordv1.CustodyEvent {
	b.Helper()
	chain := make([]*accordv1.CustodyEvent, 0, n)
	var prev *accordv1.CustodyEvent
	for i := range n {
		action := accordv1.CustodyAction_CUSTODY_ACTION_ACCESSED
		if i == 0 {
			action = accordv1.CustodyAction_CUSTODY_ACTION_REGISTERED
		}
		ev, err := custody.Next(prev, itemID, action, userURI, "viewed by the analyst on duty", t0.Add(time.Duration(i)*time.Second))
		if err != nil {
			b.Fatal(err)
		}
		chain = append(chain, ev)
		prev = ev
	}
	return chain
}

// BenchmarkHash: one event's canonical hash.
func BenchmarkHash(b *testing.B) {
	ev := goldenEvent()
	b.ReportAllocs()
	for b.Loop() {
		custody.Hash(ev)
	}
}

// BenchmarkNext: building (validating and hashing) one event.
func BenchmarkNext(b *testing.B) {
	prev := longChain(b, 2)[1]
	at := prev.GetTime().AsTime().Add(time.Second)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := custody.Next(prev, itemID, accordv1.CustodyAction_CUSTODY_ACTION_TRANSFERRED, userURI,
			"to the forensic laboratory, Kharkiv; courier 17", at); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSeal: one seal over 10,000 events (an import batch), and over
// one (an event appended alone). Each event's hash is re-checked, then one
// signature is made.
func BenchmarkSeal(b *testing.B) {
	for _, k := range []struct {
		name string
		key  func(testing.TB) crypto.Signer
	}{{"ECDSA-P256", newECDSAKey}, {"Ed25519", newEd25519Key}} {
		for _, n := range []int{10_000, 1} {
			b.Run(fmt.Sprintf("%s/events=%d", k.name, n), func(b *testing.B) {
				sealer := newSealer(b, k.key(b))
				events := longChain(b, n)
				b.ReportAllocs()
				id := uint64(0)
				for b.Loop() {
					for _, ev := range events {
						ev.SealId = 0
					}
					id++
					if _, err := sealer.Seal(id, events, t0); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/event")
			})
		}
	}
}

// BenchmarkVerifyChain: one chain of 100,000 events sealed by 10 seals of
// 10,000. cold: a new Verifier each time (10 lookups, 10 signature checks,
// 10 hash sets built); warm: the seals are cached.
func BenchmarkVerifyChain(b *testing.B) {
	const n, perSeal = 100_000, 10_000
	sealer := newSealer(b, newECDSAKey(b))
	chain := longChain(b, n)
	seals := sealStore{}
	for i := 0; i < n; i += perSeal {
		seals.add(b, sealer, uint64(i/perSeal)+1, chain[i:i+perSeal]...)
	}
	trusted := custody.TrustKeys(sealer.PublicKey())
	run := func(b *testing.B, v func() *custody.Verifier) {
		b.ReportAllocs()
		for b.Loop() {
			if br := v().VerifyChain(itemID, chain); br != nil {
				b.Fatal(br)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/event")
	}
	b.Run("events=100000/seals=10/cold", func(b *testing.B) {
		run(b, func() *custody.Verifier { return custody.NewVerifier(seals.lookup, trusted) })
	})
	b.Run("events=100000/seals=10/warm", func(b *testing.B) {
		v := custody.NewVerifier(seals.lookup, trusted)
		run(b, func() *custody.Verifier { return v })
	})
}
