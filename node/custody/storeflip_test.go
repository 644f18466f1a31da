package custody_test

import (
	"bytes"
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/accordfed/accord/node/custody"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// flipMasks are XORed, one at a time, into each byte of a stored record:
// the lowest bit, the highest bit, and every bit.
var flipMasks = []byte{0x01, 0x80, 0xff}

// TestStoredEventByteFlips mirrors a byte flipped in the store: each event
// of the chain is marshalled, one byte of it flipped, in every position and
// with each mask in turn, and unmarshalled. Whenever the record still
// unmarshals, the verifier must report a break at that event.
func TestStoredEventByteFlips(t *testing.T) {
	f := newFixture(t, newECDSAKey(t))
	v := f.verifier() // the seals are not touched: one verifier, warm cache
	var flips, unreadable int
	for k, ev := range f.chain {
		wire, err := proto.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		for j := range wire {
			for _, mask := range flipMasks {
				flipped := bytes.Clone(wire)
				flipped[j] ^= mask
				stored := new(accordv1.CustodyEvent)
				if proto.Unmarshal(flipped, stored) != nil {
					unreadable++
					continue
				}
				flips++
				chain := slices.Clone(f.chain)
				chain[k] = stored
				br := v.VerifyChain(itemID, chain)
				if br == nil || br.Seq != int64(k+1) {
					t.Errorf("event %d, byte %d ^ %#x: break %v, want one at event %d (stored %v)", k+1, j, mask, br, k+1, stored)
				}
			}
		}
	}
	t.Logf("%d flipped events unmarshalled and were caught; %d did not unmarshal", flips, unreadable)
	if flips == 0 {
		t.Fatal("no flip unmarshalled")
	}
}

// TestStoredSealByteFlips does the same to the seals. A flip caught must be
// reported at the first event of the chain that the seal covers. A flip
// that changes only the seal's signer or time is not caught: the signature
// does not cover them (the accord.v1 contract); the test pins that.
func TestStoredSealByteFlips(t *testing.T) {
	f := newFixture(t, newECDSAKey(t))
	firstSealed := map[uint64]int64{}
	for _, ev := range f.chain {
		if _, ok := firstSealed[ev.GetSealId()]; !ok {
			firstSealed[ev.GetSealId()] = ev.GetSeq()
		}
	}
	signed := func(a, b *accordv1.CustodySeal) bool {
		return a.GetId() == b.GetId() && bytes.Equal(a.GetSignature(), b.GetSignature()) &&
			bytes.Equal(a.GetSignerPublicKey(), b.GetSignerPublicKey()) &&
			slices.EqualFunc(a.GetEventHashes(), b.GetEventHashes(), bytes.Equal)
	}
	var caught, informational, unreadable int
	for id, seal := range f.seals {
		wire, err := proto.Marshal(seal)
		if err != nil {
			t.Fatal(err)
		}
		for j := range wire {
			for _, mask := range flipMasks {
				flipped := bytes.Clone(wire)
				flipped[j] ^= mask
				stored := new(accordv1.CustodySeal)
				if proto.Unmarshal(flipped, stored) != nil {
					unreadable++
					continue
				}
				seals := f.seals.clone()
				seals[id] = stored
				br := custody.NewVerifier(seals.lookup, f.trusted).VerifyChain(itemID, f.chain)
				if signed(stored, seal) {
					informational++
					if br != nil {
						t.Errorf("seal %d, byte %d ^ %#x changed only signer or time, yet: %v", id, j, mask, br)
					}
					continue
				}
				caught++
				if br == nil || br.Seq != firstSealed[id] {
					t.Errorf("seal %d, byte %d ^ %#x: break %v, want one at event %d", id, j, mask, br, firstSealed[id])
				}
			}
		}
	}
	t.Logf("%d flipped seals caught; %d changed only signer or time; %d did not unmarshal", caught, informational, unreadable)
}
