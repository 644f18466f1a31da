package registry

import (
	"errors"
	"fmt"
	"slices"
	"testing"
)

func TestIDOrder(t *testing.T) {
	ids := []string{"jit-1000000", "jit-000010", "jit-999999", "jit-000009"}
	slices.SortFunc(ids, idCompare)
	want := []string{"jit-000009", "jit-000010", "jit-999999", "jit-1000000"}
	if !slices.Equal(ids, want) {
		t.Fatalf("%v, want %v", ids, want)
	}
}

func TestRequestQueue(t *testing.T) {
	var q requestQueue
	for i := 0; i < 1000; i++ {
		q.push(fmt.Sprint(i))
	}
	for i := 0; i < 900; i++ {
		if got := q.pop(); got != fmt.Sprint(i) {
			t.Fatalf("pop %d = %s", i, got)
		}
	}
	if q.len() != 100 || len(q.ids) > 500 {
		t.Fatalf("len %d, backing %d", q.len(), len(q.ids))
	}
	if got := q.pop(); got != "900" {
		t.Fatalf("after compaction: %s", got)
	}
}

// failingSink fails every write.
type failingSink struct{ memSink }

func (s *failingSink) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestPersistCancelsOnError(t *testing.T) {
	h := bootstrapped(t, Policy{}, "UA")
	snap, err := h.f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var sink failingSink
	if err := snap.Persist(&sink); err == nil {
		t.Fatal("Persist succeeded on a failing sink")
	}
	if !sink.cancelled || sink.closed {
		t.Fatalf("cancelled=%v closed=%v", sink.cancelled, sink.closed)
	}
}

func TestMemberDirectory(t *testing.T) {
	h := bootstrapped(t, Policy{AdmissionThresholdPercent: 60, DedupeWindow: 50}, "UA", "PL")
	h.ok("PL", ProposeMember{Code: "ICC", Name: "ICC", CACerts: []string{validCA(t, "ICC")}})
	h.read(func(v View) {
		if !v.Bootstrapped() || v.Federation() != testFed || v.Policy() != (Policy{AdmissionThresholdPercent: 60, DedupeWindow: 50}) {
			t.Errorf("bootstrapped=%v federation=%q policy=%+v", v.Bootstrapped(), v.Federation(), v.Policy())
		}
		ms := v.ListMembers()
		var codes []string
		for _, m := range ms {
			codes = append(codes, m.Code+":"+string(m.Status))
		}
		if want := []string{"ICC:proposed", "PL:admitted", "UA:admitted"}; !slices.Equal(codes, want) {
			t.Errorf("members %v, want %v", codes, want)
		}
		ms[0].CACerts[0] = "changed"
		if m, _ := v.GetMember("ICC"); m.CACerts[0] == "changed" {
			t.Error("a read shares memory with the state")
		}
		if _, err := v.GetMember("ES"); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown member: %v", err)
		}
	})
	var empty bool
	NewFSM().Read(func(v View) { empty = !v.Bootstrapped() && v.Federation() == "" })
	if !empty {
		t.Error("a new FSM is not empty")
	}
}
