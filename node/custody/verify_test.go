package custody_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/accordfed/accord/node/custody"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

func TestVerifyChainIntact(t *testing.T) {
	for name, key := range map[string]func(testing.TB) *fixture{
		"ECDSA P-256": func(t testing.TB) *fixture { return newFixture(t, newECDSAKey(t)) },
		"Ed25519":     func(t testing.TB) *fixture { return newFixture(t, newEd25519Key(t)) },
	} {
		t.Run(name, func(t *testing.T) {
			f := key(t)
			v := f.verifier()
			if br := v.VerifyChain(itemID, f.chain); br != nil {
				t.Fatalf("intact chain: %v", br)
			}
			for _, ev := range f.others {
				if br := v.VerifyChain(ev.GetEvidenceId(), []*accordv1.CustodyEvent{ev}); br != nil {
					t.Fatalf("other item in the batch seal: %v", br)
				}
			}
			// Each prefix is a valid chain too (which is why the store must
			// keep the chain's length; see the package documentation).
			for n := 1; n <= len(f.chain); n++ {
				if br := v.VerifyChain(itemID, f.chain[:n]); br != nil {
					t.Fatalf("first %d events: %v", n, br)
				}
			}
			if st := v.Stats(); st.SignatureChecks != 4 || st.SealLookups != 4 || st.CachedSeals != 4 || st.CachedHashes != 8 {
				t.Fatalf("stats %+v, want 4 seals checked once, 8 hashes cached", st)
			}
		})
	}
}

// tamper is one way a stored chain can be broken.
type tamper struct {
	name string
	// change alters the fixture and returns the chain to verify.
	change func(t *testing.T, f *fixture) []*accordv1.CustodyEvent
	seq    int64
	kind   custody.Kind
	reason string // a part of the reason
}

var tampers = []tamper{
	{"details byte", func(_ *testing.T, f *fixture) []*accordv1.CustodyEvent {
		f.chain[3].Details = flipString(f.chain[3].Details, 5)
		return f.chain
	}, 4, custody.KindHash, "hash does not match the event's content (altered after it was written)"},
	{"actor byte", func(_ *testing.T, f *fixture) []*accordv1.CustodyEvent {
		f.chain[1].Actor = flipString(f.chain[1].Actor, 20)
		return f.chain
	}, 2, custody.KindHash, "altered"},
	{"time seconds", func(_ *testing.T, f *fixture) []*accordv1.CustodyEvent {
		f.chain[4].Time.Seconds++
		return f.chain
	}, 5, custody.KindHash, "altered"},
	{"time nanos", func(_ *testing.T, f *fixture) []*accordv1.CustodyEvent {
		f.chain[4].Time.Nanos ^= 1
		return f.chain
	}, 5, custody.KindHash, "altered"},
	{"action", func(_ *testing.T, f *fixture) []*accordv1.CustodyEvent {
		f.chain[2].Action = accordv1.CustodyAction_CUSTODY_ACTION_RELEASED
		return f.chain
	}, 3, custody.KindHash, "altered"},
	{"stored hash byte", func(_ *testing.T, f *fixture) []*accordv1.CustodyEvent {
		f.chain[2].Hash[7] ^= 0x20
		return f.chain
	}, 3, custody.KindHash, "altered"},
	{"prev_hash byte", func(_ *testing.T, f *fixture) []*accordv1.CustodyEvent {
		f.chain[3].PrevHash[0] ^= 1
		return f.chain
	}, 4, custody.KindPrevHash, "prev_hash is not the hash of event 3"},
	{"first event given a prev_hash", func(_ *testing.T, f *fixture) []*accordv1.CustodyEvent {
		f.chain[0].PrevHash = make([]byte, 32)
		return f.chain
	}, 1, custody.KindPrevHash, "the first event has a prev_hash"},
	{"seq byte", func(_ *testing.T, f *fixture) []*accordv1.CustodyEvent {
		f.chain[2].Seq ^= 0x40
		return f.chain
	}, 3, custody.KindHash, "altered"},
	{"evidence_id byte", func(_ *testing.T, f *fixture) []*accordv1.CustodyEvent {
		f.chain[1].EvidenceId = flipString(f.chain[1].EvidenceId, 3)
		return f.chain
	}, 2, custody.KindHash, "altered"},
	{"event removed", func(_ *testing.T, f *fixture) []*accordv1.CustodyEvent {
		return append(f.chain[:2:2], f.chain[3:]...)
	}, 3, custody.KindSequence, "event 3 is missing: event 4 follows event 2"},
	{"first event removed", func(_ *testing.T, f *fixture) []*accordv1.CustodyEvent {
		return f.chain[1:]
	}, 1, custody.KindSequence, "event 1 is missing: the chain starts at event 2"},
	{"events reordered", func(_ *testing.T, f *fixture) []*accordv1.CustodyEvent {
		f.chain[2], f.chain[3] = f.chain[3], f.chain[2]
		return f.chain
	}, 3, custody.KindSequence, "event 4 is stored where event 3 belongs (out of order)"},
	{"event duplicated", func(_ *testing.T, f *fixture) []*accordv1.CustodyEvent {
		return append(f.chain[:2:2], f.chain[1:]...)
	}, 3, custody.KindSequence, "event 2 is stored again where event 3 belongs"},
	{"event of another item", func(_ *testing.T, f *fixture) []*accordv1.CustodyEvent {
		f.chain[0] = f.others[0]
		return f.chain
	}, 1, custody.KindEvidenceID, `belongs to evidence item "UA-2022-000001-E001"`},
	{"nil event", func(_ *testing.T, f *fixture) []*accordv1.CustodyEvent {
		f.chain[4] = nil
		return f.chain
	}, 5, custody.KindInvalid, "nil"},
	{"empty chain", func(_ *testing.T, _ *fixture) []*accordv1.CustodyEvent {
		return nil
	}, 1, custody.KindSequence, "the chain has no events"},
	{"single seal signature byte", func(_ *testing.T, f *fixture) []*accordv1.CustodyEvent {
		f.seals[3].Signature[10] ^= 1
		return f.chain
	}, 5, custody.KindSealInvalid, "seal 3's signature does not verify"},
	{"batch seal signature byte", func(_ *testing.T, f *fixture) []*accordv1.CustodyEvent {
		f.seals[1].Signature[len(f.seals[1].Signature)-1] ^= 0x80
		return f.chain
	}, 1, custody.KindSealInvalid, "seal 1's signature does not verify"},
	{"batch seal: another item's hash", func(_ *testing.T, f *fixture) []*accordv1.CustodyEvent {
		f.seals[1].EventHashes[3][0] ^= 1
		return f.chain
	}, 1, custody.KindSealInvalid, "seal 1's signature does not verify"},
	{"seal malformed", func(_ *testing.T, f *fixture) []*accordv1.CustodyEvent {
		f.seals[2].SignerPublicKey = f.seals[2].SignerPublicKey[:20]
		return f.chain
	}, 4, custody.KindSealInvalid, "seal 2 is malformed"},
	{"seal missing", func(_ *testing.T, f *fixture) []*accordv1.CustodyEvent {
		delete(f.seals, 4)
		return f.chain
	}, 6, custody.KindSealMissing, "seal 4 is missing"},
	{"seal unreadable", func(_ *testing.T, f *fixture) []*accordv1.CustodyEvent {
		f.lookup = func(id uint64) (*accordv1.CustodySeal, error) {
			if id == 2 {
				return nil, errors.New("disk I/O error")
			}
			return f.seals.lookup(id)
		}
		return f.chain
	}, 4, custody.KindSealMissing, "seal 2 could not be read: disk I/O error"},
	{"store returns another seal", func(_ *testing.T, f *fixture) []*accordv1.CustodyEvent {
		f.seals[3] = f.seals[2]
		return f.chain
	}, 5, custody.KindSealInvalid, "the store returned seal 2 for seal 3"},
	{"event not sealed", func(_ *testing.T, f *fixture) []*accordv1.CustodyEvent {
		f.chain[5].SealId = 0
		return f.chain
	}, 6, custody.KindSealMissing, "not sealed"},
	{"event points at another seal", func(_ *testing.T, f *fixture) []*accordv1.CustodyEvent {
		f.chain[4].SealId = 2
		return f.chain
	}, 5, custody.KindNotInSeal, "seal 2 does not cover this event"},
	{"event rewritten with its hash recomputed", func(_ *testing.T, f *fixture) []*accordv1.CustodyEvent {
		f.chain[3].Details = "nothing found"
		f.chain[3].Hash = custody.Hash(f.chain[3])
		return f.chain
	}, 4, custody.KindNotInSeal, "seal 2 does not cover this event"},
	{"tail rewritten and re-linked without the key", func(_ *testing.T, f *fixture) []*accordv1.CustodyEvent {
		f.chain[3].Actor = otherURI
		for i := 3; i < len(f.chain); i++ {
			f.chain[i].PrevHash = f.chain[i-1].GetHash()
			f.chain[i].Hash = custody.Hash(f.chain[i])
		}
		return f.chain
	}, 4, custody.KindNotInSeal, "seal 2 does not cover this event"},
	{"resealed with an untrusted key", func(t *testing.T, f *fixture) []*accordv1.CustodyEvent {
		other := newSealer(t, newECDSAKey(t))
		f.chain[5].SealId = 0
		f.seals.add(t, other, 9, f.chain[5])
		return f.chain
	}, 6, custody.KindUntrustedKey, "seal 9 is signed by a key that is not trusted"},
	{"tail rewritten and resealed with an untrusted key", func(t *testing.T, f *fixture) []*accordv1.CustodyEvent {
		f.chain[2].Details = "never accessed"
		f.forge(t, newSealer(t, newEd25519Key(t)), 9, f.chain[2:], f.chain[1])
		return f.chain
	}, 3, custody.KindUntrustedKey, "not trusted"},

	// Authentic chains (sealed with the trusted key) that break the rules:
	// only a bug in the writer, or the key's holder, makes them.
	{"first event not registered", func(t *testing.T, f *fixture) []*accordv1.CustodyEvent {
		f.chain[0].Action = accordv1.CustodyAction_CUSTODY_ACTION_TRANSFERRED
		f.forge(t, f.sealer, 9, f.chain, nil)
		return f.chain
	}, 1, custody.KindFirstEvent, "the first event must be registered, not transferred"},
	{"registered again", func(t *testing.T, f *fixture) []*accordv1.CustodyEvent {
		f.chain[4].Action = accordv1.CustodyAction_CUSTODY_ACTION_REGISTERED
		f.forge(t, f.sealer, 9, f.chain[4:], f.chain[3])
		return f.chain
	}, 5, custody.KindFirstEvent, "only the first event may be"},
	{"unknown action", func(t *testing.T, f *fixture) []*accordv1.CustodyEvent {
		f.chain[4].Action = 17
		f.forge(t, f.sealer, 9, f.chain[4:], f.chain[3])
		return f.chain
	}, 5, custody.KindInvalid, "action 17 is not a known custody action"},
	{"empty actor", func(t *testing.T, f *fixture) []*accordv1.CustodyEvent {
		f.chain[2].Actor = ""
		f.forge(t, f.sealer, 9, f.chain[2:], f.chain[1])
		return f.chain
	}, 3, custody.KindInvalid, "actor is empty"},
	{"details too long", func(t *testing.T, f *fixture) []*accordv1.CustodyEvent {
		f.chain[1].Details = strings.Repeat("x", custody.MaxDetailsChars+1)
		f.forge(t, f.sealer, 9, f.chain[1:], f.chain[0])
		return f.chain
	}, 2, custody.KindInvalid, "details has 2001 characters, at most 2000"},
	{"time missing", func(t *testing.T, f *fixture) []*accordv1.CustodyEvent {
		f.chain[3].Time = nil
		f.forge(t, f.sealer, 9, f.chain[3:], f.chain[2])
		return f.chain
	}, 4, custody.KindInvalid, "time is missing"},
	{"time out of range", func(t *testing.T, f *fixture) []*accordv1.CustodyEvent {
		f.chain[3].Time.Nanos = -1
		f.forge(t, f.sealer, 9, f.chain[3:], f.chain[2])
		return f.chain
	}, 4, custody.KindInvalid, "time is invalid"},
	{"time going backwards", func(t *testing.T, f *fixture) []*accordv1.CustodyEvent {
		f.chain[3].Time = timestamppb.New(f.chain[2].GetTime().AsTime().Add(-time.Nanosecond))
		f.forge(t, f.sealer, 9, f.chain[3:], f.chain[2])
		return f.chain
	}, 4, custody.KindTime, "time 2022-03-04T12:30:00.123456788Z is before the previous event's time 2022-03-04T12:30:00.123456789Z"},
}

func TestVerifyChainTampered(t *testing.T) {
	key := newECDSAKey(t)
	for _, tt := range tampers {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, key)
			chain := tt.change(t, f)
			br := f.verifier().VerifyChain(itemID, chain)
			if br == nil {
				t.Fatal("VerifyChain found no break")
			}
			t.Log(br)
			if br.EvidenceID != itemID || br.Seq != tt.seq || br.Kind != tt.kind || !strings.Contains(br.Reason, tt.reason) {
				t.Fatalf("break %q (kind %v), want at event %d, kind %v, reason containing %q", br, br.Kind, tt.seq, tt.kind, tt.reason)
			}
		})
	}
}

func TestBreakError(t *testing.T) {
	f := newFixture(t, newECDSAKey(t))
	f.chain[2].Details = "viewed by nobody"
	found := f.verifier().VerifyChain(itemID, f.chain)
	if found == nil {
		t.Fatal("no break")
	}
	var err error = found // only after the nil check: a nil *Break is not a nil error
	const want = "custody chain of UA-2022-000001-E002 broken at event 3: hash does not match the event's content (altered after it was written)"
	if err.Error() != want {
		t.Fatalf("error %v, want %q", err, want)
	}
	var br *custody.Break
	if !errors.As(err, &br) || br.Kind.String() != "hash" {
		t.Fatalf("errors.As: %#v", br)
	}
	p := br.Proto()
	if p.GetEvidenceId() != itemID || p.GetSeq() != 3 || p.GetReason() != br.Reason {
		t.Fatalf("Proto() = %v", p)
	}
	if br := f.verifier().VerifyChain("", f.chain); br == nil || br.Seq != 0 || !strings.Contains(br.Error(), "broken: no evidence id") {
		t.Fatalf("empty evidence id: %v", br)
	}
}

func TestBreakUnwrap(t *testing.T) {
	f := newFixture(t, newECDSAKey(t))
	delete(f.seals, 2)
	if br := f.verifier().VerifyChain(itemID, f.chain); !errors.Is(br, custody.ErrSealNotFound) {
		t.Fatalf("missing seal: %v does not wrap ErrSealNotFound", br)
	}
	f = newFixture(t, newECDSAKey(t))
	f.seals[2].Signature[4] ^= 1
	if br := f.verifier().VerifyChain(itemID, f.chain); !errors.Is(br, custody.ErrBadSignature) {
		t.Fatalf("bad signature: %v does not wrap ErrBadSignature", br)
	}
	f = newFixture(t, newECDSAKey(t))
	f.trusted = custody.TrustKeys()
	if br := f.verifier().VerifyChain(itemID, f.chain); !errors.Is(br, custody.ErrUntrustedKey) {
		t.Fatalf("untrusted: %v does not wrap ErrUntrustedKey", br)
	}
	// A nil lookup finds no seal; a lookup that returns nil, nil neither.
	if br := custody.NewVerifier(nil, nil).VerifyChain(itemID, f.chain); br == nil || br.Kind != custody.KindSealMissing {
		t.Fatalf("nil lookup: %v", br)
	}
	nothing := func(uint64) (*accordv1.CustodySeal, error) { return nil, nil }
	if br := custody.NewVerifier(nothing, nil).VerifyChain(itemID, f.chain); !errors.Is(br, custody.ErrSealNotFound) {
		t.Fatalf("nil, nil lookup: %v", br)
	}
}

func TestVerifyAnyKey(t *testing.T) {
	f := newFixture(t, newECDSAKey(t))
	f.chain[5].SealId = 0
	f.seals.add(t, newSealer(t, newEd25519Key(t)), 9, f.chain[5])
	if br := custody.NewVerifier(f.seals.lookup, nil).VerifyChain(itemID, f.chain); br != nil {
		t.Fatalf("nil trustedKey must accept any key that verifies: %v", br)
	}
	other := newSealer(t, newEd25519Key(t))
	trustBoth := custody.TrustKeys(other.PublicKey(), f.sealer.PublicKey())
	if br := custody.NewVerifier(f.seals.lookup, trustBoth).VerifyChain(itemID, f.chain); br == nil || br.Kind != custody.KindUntrustedKey {
		t.Fatalf("a third key: %v", br)
	}
}

// chains makes items chains of n events each, sealed in batch seals that
// take one event of every item in turn (as an import does), so that every
// chain touches every seal.
func chains(t testing.TB, sealer *custody.Sealer, items, n int) (map[string][]*accordv1.CustodyEvent, sealStore) {
	t.Helper()
	out := make(map[string][]*accordv1.CustodyEvent, items)
	seals := sealStore{}
	ids := make([]string, items)
	for i := range ids {
		ids[i] = fmt.Sprintf("UA-2022-%06d-E001", i)
	}
	for step := range n {
		batch := make([]*accordv1.CustodyEvent, 0, items)
		for _, id := range ids {
			action := accordv1.CustodyAction_CUSTODY_ACTION_ACCESSED
			var prev *accordv1.CustodyEvent
			if c := out[id]; len(c) > 0 {
				prev = c[len(c)-1]
			} else {
				action = accordv1.CustodyAction_CUSTODY_ACTION_REGISTERED
			}
			ev, err := custody.Next(prev, id, action, nodeURI, "bulk", t0.Add(time.Duration(step)*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			out[id] = append(out[id], ev)
			batch = append(batch, ev)
		}
		seals.add(t, sealer, uint64(step)+1, batch...)
	}
	return out, seals
}

// TestVerifierCache: a thousand chains sealed by five seals cost five seal
// lookups and five signature checks.
func TestVerifierCache(t *testing.T) {
	all, seals := chains(t, newSealer(t, newECDSAKey(t)), 1000, 5)
	v := custody.NewVerifier(seals.lookup, nil)
	for id, c := range all {
		if br := v.VerifyChain(id, c); br != nil {
			t.Fatal(br)
		}
	}
	if st := v.Stats(); st.SealLookups != 5 || st.SignatureChecks != 5 || st.CachedSeals != 5 || st.CachedHashes != 5000 {
		t.Fatalf("stats %+v, want 5 lookups and checks, 5000 hashes", st)
	}

	// A failed seal is cached too (a signature that does not verify stays
	// so); a failed lookup is not.
	broken := seals.clone()
	broken[3].Signature[5] ^= 1
	delete(broken, 4)
	v = custody.NewVerifier(broken.lookup, nil)
	for id, c := range all {
		if br := v.VerifyChain(id, c); br == nil || br.Seq != 3 || br.Kind != custody.KindSealInvalid {
			t.Fatalf("%s: %v", id, br)
		}
	}
	if st := v.Stats(); st.SignatureChecks != 3 || st.SealLookups != 3 {
		t.Fatalf("stats %+v, want 3 signature checks and lookups", st)
	}
	missing := seals.clone()
	delete(missing, 4)
	v = custody.NewVerifier(missing.lookup, nil)
	for id, c := range all {
		if br := v.VerifyChain(id, c); br == nil || br.Seq != 4 || br.Kind != custody.KindSealMissing {
			t.Fatalf("%s: %v", id, br)
		}
	}
	if st := v.Stats(); st.SignatureChecks != 3 || st.SealLookups != 3+1000 {
		t.Fatalf("stats %+v, want the missing seal looked up by every chain", st)
	}

	// A limit smaller than two seals keeps one at a time; no limit, none.
	for _, limit := range []int{1500, 0} {
		v = custody.NewVerifier(seals.lookup, nil)
		v.SetCacheLimit(limit)
		for id, c := range all {
			if br := v.VerifyChain(id, c); br != nil {
				t.Fatal(br)
			}
			if st := v.Stats(); st.CachedHashes > limit {
				t.Fatalf("limit %d: %d hashes cached", limit, st.CachedHashes)
			}
		}
		t.Logf("limit %d: %+v", limit, v.Stats())
	}
	v = custody.NewVerifier(seals.lookup, nil)
	for id, c := range all {
		if br := v.VerifyChain(id, c); br != nil {
			t.Fatal(br)
		}
	}
	v.SetCacheLimit(2000)
	if st := v.Stats(); st.CachedSeals != 2 || st.CachedHashes != 2000 {
		t.Fatalf("after lowering the limit: %+v", st)
	}
	v.Reset()
	if st := v.Stats(); st.CachedSeals != 0 || st.CachedHashes != 0 {
		t.Fatalf("after Reset: %+v", st)
	}
}

func TestVerifierConcurrent(t *testing.T) {
	all, seals := chains(t, newSealer(t, newECDSAKey(t)), 200, 4)
	// The store's lookup must be safe for concurrent use; a map read is.
	v := custody.NewVerifier(seals.lookup, nil)
	const workers = 8
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for id, c := range all {
				if w%2 == 1 {
					c = cloneChain(c)
					c[2].Details = "changed"
					switch br := v.VerifyChain(id, c); {
					case br == nil:
						errs <- fmt.Errorf("%s: no break, want one at event 3", id)
						return
					case br.Seq != 3:
						errs <- fmt.Errorf("want a break at event 3: %w", br)
						return
					}
					continue
				}
				if br := v.VerifyChain(id, c); br != nil {
					errs <- br
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if st := v.Stats(); st.SignatureChecks < 4 || st.SignatureChecks > 4*workers {
		t.Fatalf("stats %+v", st)
	}
}

// TestVerifyDoesNotModify: verifying leaves events and seals as they were.
func TestVerifyDoesNotModify(t *testing.T) {
	f := newFixture(t, newECDSAKey(t))
	chain, seals := cloneChain(f.chain), f.seals.clone()
	if br := f.verifier().VerifyChain(itemID, f.chain); br != nil {
		t.Fatal(br)
	}
	for i := range chain {
		if !proto.Equal(chain[i], f.chain[i]) {
			t.Fatalf("event %d changed", i+1)
		}
	}
	for id := range seals {
		if !proto.Equal(seals[id], f.seals[id]) {
			t.Fatalf("seal %d changed", id)
		}
	}
}

// flipString flips the low bit of byte i of s (ASCII stays ASCII).
func flipString(s string, i int) string {
	b := []byte(s)
	b[i] ^= 1
	return string(b)
}
