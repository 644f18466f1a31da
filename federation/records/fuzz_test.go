package records_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/accordfed/accord/federation/records"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// The fuzzers' signer: UA's key "ua-1.k", from a fixed seed so that the
// committed corpus stays valid.
var (
	fuzzPriv  = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	fuzzKeyID = "ua-1.k"
	// Another member's key, registered for PL, and a key UA does not have.
	plPriv    = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, ed25519.SeedSize))
	roguePriv = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{11}, ed25519.SeedSize))
)

// fuzzKeys is the registry of the fuzzers: UA's and PL's keys.
func fuzzKeys(member, keyID string) (ed25519.PublicKey, error) {
	switch {
	case member == "UA" && keyID == fuzzKeyID:
		return fuzzPriv.Public().(ed25519.PublicKey), nil
	case member == "PL" && keyID == "pl-1.k":
		return plPriv.Public().(ed25519.PublicKey), nil
	}
	return nil, fmt.Errorf("no key %q of %s", keyID, member)
}

// genuineBatch is a batch of n records of UA (cases and tombstones), as
// UA's signer signs them.
func genuineBatch(tb testing.TB, n int) ([]*accordv1.FeedRecord, []*accordv1.SignedRecord) {
	tb.Helper()
	var recs []*accordv1.FeedRecord
	for i := range n {
		id := fmt.Sprintf("UA-2022-%06d", i+1)
		r := &accordv1.FeedRecord{Origin: "UA", CaseId: id, Seq: uint64(100 + i), PublishTime: timestamppb.New(time.Date(2024, 5, 1, 12, 0, i, 0, time.UTC))}
		if i%3 == 2 {
			r.Tombstone = true
		} else {
			r.Case = &accordv1.SharedCase{
				CaseId: id, Title: "Shelling of Kharkiv", Status: accordv1.CaseStatus_CASE_STATUS_INVESTIGATION,
				Sensitivity: accordv1.Sensitivity_SENSITIVITY_FEDERATION, CrimeCodes: []string{"RS-8.2.b.i"},
				Incidents: []*accordv1.Incident{{Start: "2022-03-01T10:00:00+02:00", Place: "Харків"}},
				Evidence:  []*accordv1.SharedEvidence{{Sha256: strings.Repeat("ab", 32), MediaType: "video/mp4"}},
				Version:   int64(i + 1),
			}
		}
		recs = append(recs, r)
	}
	signed, err := records.NewSigner("UA", fuzzKeyID, fuzzPriv).SignBatch(recs)
	if err != nil {
		tb.Fatal(err)
	}
	return recs, signed
}

// fuzzBatchSize is the size of the batch the mutation fuzzer starts from:
// not a power of two, so that paths have different lengths.
const fuzzBatchSize = 7

// signedSet is every record that its origin's registered key signed in
// the fuzzers (UA's batches, PL's batch), by its bytes.
type signedSet map[string]*accordv1.FeedRecord

func genuineSet(tb testing.TB) signedSet {
	set := signedSet{}
	for _, n := range []int{1, 2, 3, fuzzBatchSize} {
		recs, signed := genuineBatch(tb, n)
		for i, sr := range signed {
			set[string(sr.GetRecord())] = recs[i]
		}
	}
	recs, signed := plBatch(tb)
	set[string(signed[0].GetRecord())] = recs[0]
	return set
}

// plBatch is a tombstone of PL, signed by PL's registered key.
func plBatch(tb testing.TB) ([]*accordv1.FeedRecord, []*accordv1.SignedRecord) {
	tb.Helper()
	recs := []*accordv1.FeedRecord{{Origin: "PL", CaseId: "PL-1", Seq: 1, Tombstone: true}}
	signed, err := records.NewSigner("PL", "pl-1.k", plPriv).SignBatch(recs)
	if err != nil {
		tb.Fatal(err)
	}
	return recs, signed
}

// checkVerdict checks a verifier's answer on sr: an accepted record is one
// its origin's registered key signed, returned as signed; a refusal wraps
// one of the package's errors.
func checkVerdict(t *testing.T, set signedSet, sr *accordv1.SignedRecord, got *accordv1.FeedRecord, err error) {
	t.Helper()
	if err != nil {
		if got != nil {
			t.Errorf("a record with error %v", err)
		}
		if !errors.Is(err, records.ErrInvalid) && !errors.Is(err, records.ErrSignature) && !errors.Is(err, records.ErrUnknownKey) {
			t.Errorf("error %v is none of the package's", err)
		}
		return
	}
	want, ok := set[string(sr.GetRecord())]
	if !ok {
		t.Fatalf("accepted a record the key never signed: %v", sr)
	}
	if !proto.Equal(got, want) {
		t.Fatalf("accepted record %v differs from the signed %v", got, want)
	}
}

// FuzzVerify feeds arbitrary bytes, as a SignedRecord (record bytes,
// signature, audit path, leaf index and count, key id), to a fresh
// verifier and to one that has verified every genuine batch before (its
// cache warm). Neither may panic, and neither may accept a record that its
// origin's registered key did not sign (the registry has a key of UA and
// one of PL).
func FuzzVerify(f *testing.F) {
	set := genuineSet(f)
	warm := records.NewVerifier(fuzzKeys)
	for _, n := range []int{1, 2, 3, fuzzBatchSize} {
		_, signed := genuineBatch(f, n)
		for _, sr := range signed {
			if _, err := warm.Verify(sr); err != nil {
				f.Fatal(err)
			}
			b, err := proto.Marshal(sr)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	// PL's record signed by PL's key (which verifies PL's records only),
	// and UA's records signed by a key UA does not have, under UA's key id.
	_, pl := plBatch(f)
	recs, _ := genuineBatch(f, 2)
	rogue, err := records.NewSigner("UA", fuzzKeyID, roguePriv).SignBatch(recs)
	if err != nil {
		f.Fatal(err)
	}
	for _, sr := range append(pl, rogue...) {
		b, _ := proto.Marshal(sr)
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{0x0a, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		var sr accordv1.SignedRecord
		if proto.Unmarshal(data, &sr) != nil {
			return
		}
		for _, v := range []*records.Verifier{records.NewVerifier(fuzzKeys), warm} {
			got, err := v.Verify(&sr)
			checkVerdict(t, set, &sr, got, err)
		}
	})
}

// mutate changes one thing of sr, chosen by what: a bit pattern of a byte
// of the record, of the signature or of a proof hash; a proof hash
// removed, added or replaced by extra; the leaf index or count; the key
// id; a byte of the whole encoded SignedRecord; or the record's bytes
// replaced by extra. It reports false when the choice changes nothing.
func mutate(sr *accordv1.SignedRecord, what uint8, at uint, mask byte, extra []byte) bool {
	flip := func(b []byte) bool {
		if len(b) == 0 || mask == 0 {
			return false
		}
		b[at%uint(len(b))] ^= mask
		return true
	}
	proof := sr.GetProof()
	switch what % 10 {
	case 0:
		return flip(sr.Record)
	case 1:
		return flip(sr.Signature)
	case 2:
		if len(proof) == 0 {
			return false
		}
		i := at % uint(len(proof))
		at /= uint(len(proof))
		return flip(proof[i])
	case 3:
		if len(proof) == 0 {
			return false
		}
		i := at % uint(len(proof))
		sr.Proof = append(proof[:i:i], proof[i+1:]...)
	case 4:
		i := at % uint(len(proof)+1)
		h := make([]byte, 32)
		copy(h, extra)
		sr.Proof = append(append(proof[:i:i], h), proof[i:]...)
	case 5:
		if len(proof) == 0 {
			return false
		}
		sr.Proof[at%uint(len(proof))] = extra
	case 6:
		sr.LeafIndex = uint32(at)
	case 7:
		sr.LeafCount = uint32(at)
	case 8:
		sr.KeyId = string(extra)
	case 9:
		sr.Record = extra
	}
	return true
}

// FuzzVerifyMutated starts from a genuine signed record (leaf of a batch of
// fuzzBatchSize) and changes one thing of it (mutate), or one byte of its
// encoding: whatever differs from the genuine record after the change is
// refused, by a fresh verifier and by one whose cache holds the batch.
func FuzzVerifyMutated(f *testing.F) {
	_, signed := genuineBatch(f, fuzzBatchSize)
	set := genuineSet(f)
	warm := records.NewVerifier(fuzzKeys)
	for _, sr := range signed {
		if _, err := warm.Verify(sr); err != nil {
			f.Fatal(err)
		}
	}
	for what := range uint8(11) {
		f.Add(uint8(what), what, uint(what)*37, byte(1), []byte{})
		f.Add(uint8(6-what%7), what, 1000+uint(what), byte(0x80), bytes.Repeat([]byte{what}, 32))
	}
	f.Add(uint8(0), uint8(6), uint(0), byte(0), []byte{})                     // leaf index unchanged
	f.Add(uint8(6), uint8(9), uint(0), byte(0), signed[5].GetRecord())        // another leaf's record
	f.Add(uint8(3), uint8(5), uint(1), byte(0), signed[2].GetProof()[1])      // another leaf's proof hash
	f.Add(uint8(1), uint8(7), uint(fuzzBatchSize+1), byte(0), []byte("ua-1")) // another count
	f.Fuzz(func(t *testing.T, leaf, what uint8, at uint, mask byte, extra []byte) {
		orig := signed[int(leaf)%len(signed)]
		sr := proto.Clone(orig).(*accordv1.SignedRecord)
		if what%11 == 10 {
			// One byte of the encoding.
			b, err := proto.MarshalOptions{Deterministic: true}.Marshal(sr)
			if err != nil {
				t.Fatal(err)
			}
			if mask == 0 {
				return
			}
			b[at%uint(len(b))] ^= mask
			sr = &accordv1.SignedRecord{}
			if proto.Unmarshal(b, sr) != nil {
				return
			}
		} else if !mutate(sr, what, at, mask, extra) {
			return
		}
		same := proto.Equal(sr, orig)
		for _, v := range []*records.Verifier{records.NewVerifier(fuzzKeys), warm} {
			got, err := v.Verify(sr)
			if same {
				if err != nil || !proto.Equal(got, set[string(orig.GetRecord())]) {
					t.Fatalf("the genuine record, unchanged: %v, %v", got, err)
				}
				continue
			}
			if err == nil {
				t.Fatalf("changed record accepted (what %d at %d mask %#x): %v", what%11, at, mask, sr)
			}
			checkVerdict(t, set, sr, got, err)
		}
	})
}

// TestEveryByteFlipIsRefused changes, one at a time, every byte of the
// record bytes, signature and audit path of the first, a middle and the
// last leaf of a batch, and every byte of their encoded SignedRecord, each
// with two masks (one bit, varying with the position, and all bits): each
// change is refused (or, for the encoding, does not decode, or decodes to
// the same record). FuzzVerifyMutated tries other masks and changes.
func TestEveryByteFlipIsRefused(t *testing.T) {
	_, signed := genuineBatch(t, fuzzBatchSize)
	v := records.NewVerifier(fuzzKeys)
	for _, sr := range signed {
		if _, err := v.Verify(sr); err != nil {
			t.Fatal(err)
		}
	}
	flips := 0
	for _, leaf := range []int{0, fuzzBatchSize / 2, fuzzBatchSize - 1} {
		orig := signed[leaf]
		masks := func(i int) []byte { return []byte{1 << (i % 8), 0xff} }
		for fi := range 2 + len(orig.GetProof()) {
			for i := range append([][]byte{orig.GetRecord(), orig.GetSignature()}, orig.GetProof()...)[fi] {
				for _, m := range masks(i) {
					sr := proto.Clone(orig).(*accordv1.SignedRecord)
					append([][]byte{sr.Record, sr.Signature}, sr.Proof...)[fi][i] ^= m
					flips++
					if _, err := v.Verify(sr); err == nil {
						t.Fatalf("leaf %d, field %d, byte %d ^%#x: accepted", leaf, fi, i, m)
					}
				}
			}
		}
		enc, err := proto.Marshal(orig)
		if err != nil {
			t.Fatal(err)
		}
		for i := range enc {
			for _, m := range masks(i) {
				b := bytes.Clone(enc)
				b[i] ^= m
				var sr accordv1.SignedRecord
				if proto.Unmarshal(b, &sr) != nil || proto.Equal(&sr, orig) {
					continue
				}
				flips++
				if _, err := v.Verify(&sr); err == nil {
					t.Fatalf("leaf %d: encoding byte %d ^%#x: accepted %v", leaf, i, m, &sr)
				}
			}
		}
	}
	t.Logf("%d single-byte changes refused", flips)
}
