package custody_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/accordfed/accord/node/custody"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// goldenEvent is hashed to goldenHash; the pair pins the canonical layout,
// so that a change to it cannot go unnoticed.
func goldenEvent() *accordv1.CustodyEvent {
	return &accordv1.CustodyEvent{
		EvidenceId: itemID,
		Seq:        3,
		Action:     accordv1.CustodyAction_CUSTODY_ACTION_ACCESSED,
		Time:       &timestamppb.Timestamp{Seconds: 1646389800, Nanos: 123456789},
		Actor:      userURI,
		Details:    "viewed — переглянуто",
		PrevHash:   bytes.Repeat([]byte{0xab}, 32),
		Hash:       []byte("ignored"),
		SealId:     99,
	}
}

const goldenHash = "61750313e69ea81d617bc74cee17ffb0e437a809cd65ac90376fb341b1c78da7"

func TestHashGolden(t *testing.T) {
	if got := hex.EncodeToString(custody.Hash(goldenEvent())); got != goldenHash {
		t.Fatalf("Hash(golden) = %s, want %s: the canonical encoding changed; that needs a new version tag", got, goldenHash)
	}
}

// TestHashLayout re-implements the layout the package documentation
// describes and compares.
func TestHashLayout(t *testing.T) {
	str := func(b []byte, s string) []byte {
		b = binary.BigEndian.AppendUint64(b, uint64(len(s)))
		return append(b, s...)
	}
	for _, ev := range []*accordv1.CustodyEvent{
		goldenEvent(),
		{EvidenceId: "x", Seq: -1, Action: 77, Actor: "a"}, // no time, odd values
		{},
	} {
		var b []byte
		b = str(b, "accord-custody-event-v1")
		b = str(b, ev.GetEvidenceId())
		b = binary.BigEndian.AppendUint64(b, uint64(ev.GetSeq()))
		b = binary.BigEndian.AppendUint32(b, uint32(ev.GetAction()))
		if ev.GetTime() == nil {
			b = append(b, 0)
		} else {
			b = append(b, 1)
			b = binary.BigEndian.AppendUint64(b, uint64(ev.GetTime().GetSeconds()))
			b = binary.BigEndian.AppendUint32(b, uint32(ev.GetTime().GetNanos()))
		}
		b = str(b, ev.GetActor())
		b = str(b, ev.GetDetails())
		b = str(b, string(ev.GetPrevHash()))
		want := sha256.Sum256(b)
		if got := custody.Hash(ev); !bytes.Equal(got, want[:]) {
			t.Errorf("Hash(%v) = %x, want %x", ev, got, want)
		}
	}
	if !bytes.Equal(custody.Hash(nil), custody.Hash(&accordv1.CustodyEvent{})) {
		t.Error("Hash(nil) differs from the hash of an empty event")
	}
}

// TestHashCoverage changes each field in turn: every field but hash and
// seal_id changes the hash, including moving bytes between neighbouring
// strings and a missing versus a zero time.
func TestHashCoverage(t *testing.T) {
	base := custody.Hash(goldenEvent())
	changes := map[string]func(*accordv1.CustodyEvent){
		"evidence_id":         func(e *accordv1.CustodyEvent) { e.EvidenceId += "x" },
		"seq":                 func(e *accordv1.CustodyEvent) { e.Seq++ },
		"action":              func(e *accordv1.CustodyEvent) { e.Action++ },
		"time.seconds":        func(e *accordv1.CustodyEvent) { e.Time.Seconds++ },
		"time.nanos":          func(e *accordv1.CustodyEvent) { e.Time.Nanos++ },
		"time missing":        func(e *accordv1.CustodyEvent) { e.Time = nil },
		"actor":               func(e *accordv1.CustodyEvent) { e.Actor += "x" },
		"details":             func(e *accordv1.CustodyEvent) { e.Details += "x" },
		"prev_hash":           func(e *accordv1.CustodyEvent) { e.PrevHash[31] ^= 1 },
		"prev_hash empty":     func(e *accordv1.CustodyEvent) { e.PrevHash = nil },
		"actor/details shift": func(e *accordv1.CustodyEvent) { e.Actor, e.Details = e.Actor+e.Details[:1], e.Details[1:] },
	}
	for name, change := range changes {
		ev := goldenEvent()
		change(ev)
		if bytes.Equal(custody.Hash(ev), base) {
			t.Errorf("%s: the hash did not change", name)
		}
	}
	zero := goldenEvent()
	zero.Time = &timestamppb.Timestamp{}
	noTime := goldenEvent()
	noTime.Time = nil
	if bytes.Equal(custody.Hash(zero), custody.Hash(noTime)) {
		t.Error("a zero time and a missing time hash the same")
	}
	ev := goldenEvent()
	ev.Hash, ev.SealId = nil, 0
	if !bytes.Equal(custody.Hash(ev), base) {
		t.Error("hash and seal_id must not be covered")
	}
}

func TestNextChain(t *testing.T) {
	f := newFixture(t, newECDSAKey(t))
	for i, ev := range f.chain {
		if ev.GetSeq() != int64(i+1) || ev.GetEvidenceId() != itemID {
			t.Fatalf("event %d: seq %d, evidence_id %q", i+1, ev.GetSeq(), ev.GetEvidenceId())
		}
		if !bytes.Equal(ev.GetHash(), custody.Hash(ev)) || len(ev.GetHash()) != custody.HashSize {
			t.Fatalf("event %d: hash %x", i+1, ev.GetHash())
		}
		if i == 0 && ev.GetPrevHash() != nil {
			t.Fatalf("first event has prev_hash %x", ev.GetPrevHash())
		}
		if i > 0 && !bytes.Equal(ev.GetPrevHash(), f.chain[i-1].GetHash()) {
			t.Fatalf("event %d: prev_hash %x, want %x", i+1, ev.GetPrevHash(), f.chain[i-1].GetHash())
		}
		if !ev.GetTime().AsTime().Equal(t0.Add(time.Duration(i) * time.Hour)) {
			t.Fatalf("event %d: time %v", i+1, ev.GetTime().AsTime())
		}
	}
	// prev_hash is a copy: changing the previous event later does not
	// change the link.
	f.chain[0].Hash[0] ^= 1
	if bytes.Equal(f.chain[1].GetPrevHash(), f.chain[0].GetHash()) {
		t.Fatal("prev_hash aliases the previous event's hash")
	}
	// Same time as the previous event is allowed.
	if _, err := custody.Next(f.chain[5], itemID, accordv1.CustodyAction_CUSTODY_ACTION_ACCESSED, userURI, "", f.chain[5].GetTime().AsTime()); err != nil {
		t.Fatalf("same time as previous: %v", err)
	}
}

func TestNextRefuses(t *testing.T) {
	first, err := custody.Next(nil, itemID, accordv1.CustodyAction_CUSTODY_ACTION_REGISTERED, nodeURI, "", t0)
	if err != nil {
		t.Fatal(err)
	}
	const (
		reg  = accordv1.CustodyAction_CUSTODY_ACTION_REGISTERED
		xfer = accordv1.CustodyAction_CUSTODY_ACTION_TRANSFERRED
	)
	noHash := proto.Clone(first).(*accordv1.CustodyEvent)
	noHash.Hash = nil
	noTime := proto.Clone(first).(*accordv1.CustodyEvent)
	noTime.Time = nil
	badSeq := proto.Clone(first).(*accordv1.CustodyEvent)
	badSeq.Seq = 0
	tests := []struct {
		name    string
		prev    *accordv1.CustodyEvent
		id      string
		action  accordv1.CustodyAction
		actor   string
		details string
		at      time.Time
		field   string // must appear in the error
	}{
		{"empty evidence id", nil, "", reg, nodeURI, "", t0, "evidence_id"},
		{"long evidence id", nil, strings.Repeat("E", custody.MaxEvidenceIDBytes+1), reg, nodeURI, "", t0, "evidence_id"},
		{"evidence id not UTF-8", nil, "UA-\xff", reg, nodeURI, "", t0, "evidence_id"},
		{"unspecified action", nil, itemID, accordv1.CustodyAction_CUSTODY_ACTION_UNSPECIFIED, nodeURI, "", t0, "action"},
		{"unknown action", first, itemID, 42, userURI, "", t0, "action"},
		{"first not registered", nil, itemID, xfer, nodeURI, "", t0, "action"},
		{"registered again", first, itemID, reg, nodeURI, "", t0, "action"},
		{"empty actor", nil, itemID, reg, "", "", t0, "actor"},
		{"long actor", nil, itemID, reg, strings.Repeat("a", custody.MaxActorBytes+1), "", t0, "actor"},
		{"actor not UTF-8", nil, itemID, reg, "\xc3", "", t0, "actor"},
		{"details too long", nil, itemID, reg, nodeURI, strings.Repeat("я", custody.MaxDetailsChars+1), t0, "details"},
		{"details not UTF-8", nil, itemID, reg, nodeURI, "ok \xff", t0, "details"},
		{"zero time", nil, itemID, reg, nodeURI, "", time.Time{}, "time"},
		{"time out of range", nil, itemID, reg, nodeURI, "", time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), "time"},
		{"time before previous", first, itemID, xfer, userURI, "", t0.Add(-time.Nanosecond), "time"},
		{"other item's chain", first, "UA-2022-000001-E003", xfer, userURI, "", t0, "evidence_id"},
		{"prev without hash", noHash, itemID, xfer, userURI, "", t0, "prev.hash"},
		{"prev without time", noTime, itemID, xfer, userURI, "", t0, "prev.time"},
		{"prev with seq 0", badSeq, itemID, xfer, userURI, "", t0, "prev.seq"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := custody.Next(tt.prev, tt.id, tt.action, tt.actor, tt.details, tt.at)
			if !errors.Is(err, custody.ErrInvalidEvent) {
				t.Fatalf("Next = %v, %v; want ErrInvalidEvent", ev, err)
			}
			if !strings.Contains(err.Error(), tt.field) {
				t.Fatalf("error %q does not name %s", err, tt.field)
			}
			t.Log(err)
		})
	}
	// Exactly the limit is fine; the limit counts characters, not bytes.
	if _, err := custody.Next(nil, itemID, reg, nodeURI, strings.Repeat("я", custody.MaxDetailsChars), t0); err != nil {
		t.Fatalf("details of %d characters: %v", custody.MaxDetailsChars, err)
	}
}
