package store

import (
	"slices"
	"testing"

	"github.com/accordfed/accord/federation/feed"
)

// TestFedGetAndHooks: FedGet reads one record of the federation index by
// key; the Fed hook reports what each commit stored or dropped (stale
// records: nothing), and the Cases hook the office's cases each write
// changed.
func TestFedGetAndHooks(t *testing.T) {
	st := openTest(t)
	var seen []string
	var cases [][]string
	st.SetHooks(Hooks{
		Fed: func(origin, caseID string, seq uint64, record []byte) {
			seen = append(seen, origin+" "+caseID+" "+string(record))
		},
		Cases: func(ids []string) { cases = append(cases, slices.Clone(ids)) },
	})
	get := func(origin, id string) (uint64, string, bool) {
		t.Helper()
		seq, rec, ok, err := st.FedGet(origin, id)
		if err != nil {
			t.Fatal(err)
		}
		return seq, string(rec), ok
	}
	if _, _, err := st.FedApply("UA", "c1", []feed.Record{{CaseID: "UA-1", Seq: 5, Record: []byte("v5")}, {CaseID: "UA-2", Seq: 6, Record: []byte("w6")}}); err != nil {
		t.Fatal(err)
	}
	if seq, rec, ok := get("UA", "UA-1"); !ok || seq != 5 || rec != "v5" {
		t.Errorf("UA-1: %d %q %v", seq, rec, ok)
	}
	for _, k := range [][2]string{{"UA", "UA-3"}, {"DE", "UA-1"}, {"U", "A\x00UA-1"}} {
		if _, _, ok := get(k[0], k[1]); ok {
			t.Errorf("%q found", k)
		}
	}
	// A stale record changes nothing and reports nothing; a tombstone
	// withdraws.
	if _, _, err := st.FedApply("UA", "", []feed.Record{{CaseID: "UA-1", Seq: 4, Record: []byte("v4")}, {CaseID: "UA-1", Seq: 7, Flags: feed.Tombstone}}); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := get("UA", "UA-1"); ok {
		t.Error("withdrawn UA-1 found")
	}
	if _, err := st.FedReset("UA"); err != nil {
		t.Fatal(err)
	}
	want := []string{"UA UA-1 v5", "UA UA-2 w6", "UA UA-1 ", "UA UA-1 ", "UA UA-2 "}
	if !slices.Equal(seen, want) {
		t.Errorf("hook saw %q, want %q", seen, want)
	}

	a := testActor(t)
	c := testCase("UA-9", "Kharkiv", "2022-03-01T10:00:00+02:00")
	if _, err := st.CreateCase(c, a); err != nil {
		t.Fatal(err)
	}
	if _, err := st.DeleteCase("UA-9", "test", a); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateCase(c, a); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateCase(c, a); err == nil {
		t.Fatal("created twice")
	}
	if want := [][]string{{"UA-9"}, {"UA-9"}, {"UA-9"}}; !slices.EqualFunc(cases, want, slices.Equal) {
		t.Errorf("Cases hook saw %v, want %v", cases, want)
	}
}
