package store_test

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/accordfed/accord/federation/feed"
	"github.com/accordfed/accord/node/store"
)

// TestFedTombstoneOutlivesReplays: a record withdrawn by a tombstone stays
// withdrawn when an older record of the case arrives again (a replay, or a
// relay by another member); a newer record brings it back; a full resync
// forgets the tombstones with the records.
func TestFedTombstoneOutlivesReplays(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "store.db"), "PL", store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	held := func() map[string]uint64 {
		out := map[string]uint64{}
		if err := st.FedScan("UA", func(_, id string, seq uint64, _ []byte) error {
			out[id] = seq
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	apply := func(recs ...feed.Record) (int, int) {
		t.Helper()
		a, s, err := st.FedApply("UA", "", recs)
		if err != nil {
			t.Fatal(err)
		}
		return a, s
	}
	v5 := feed.Record{CaseID: "UA-1", Seq: 5, Record: []byte("v5")}
	if a, s := apply(v5, feed.Record{CaseID: "UA-2", Seq: 6, Record: []byte("other")}); a != 2 || s != 0 {
		t.Fatalf("first records: applied %d stale %d", a, s)
	}
	// A withdrawal of the same seq as the record held wins: the origin
	// withdraws a jit case from a member with a tombstone of the record's
	// own seq (a copy another member passed on had that seq).
	if a, s := apply(feed.Record{CaseID: "UA-2", Seq: 6, Flags: feed.Tombstone}); a != 1 || s != 0 {
		t.Fatalf("a tombstone of the held record's seq: applied %d stale %d, want it applied", a, s)
	}
	if a, s := apply(feed.Record{CaseID: "UA-2", Seq: 6, Record: []byte("other")}); a != 0 || s != 1 {
		t.Fatalf("the record again after its same-seq tombstone: applied %d stale %d, want it stale", a, s)
	}
	if a, s := apply(feed.Record{CaseID: "UA-2", Seq: 6, Record: []byte("other")}, feed.Record{CaseID: "UA-2", Seq: 10, Record: []byte("back")}); a != 1 || s != 1 {
		t.Fatalf("the case shared again: applied %d stale %d", a, s)
	}
	if a, s := apply(feed.Record{CaseID: "UA-1", Seq: 7, Flags: feed.Tombstone}); a != 1 || s != 0 {
		t.Fatalf("tombstone: applied %d stale %d", a, s)
	}
	if a, s := apply(v5); a != 0 || s != 1 {
		t.Fatalf("the withdrawn record replayed: applied %d stale %d, want it stale", a, s)
	}
	if got := held(); len(got) != 1 || got["UA-2"] != 10 {
		t.Fatalf("held %v, want only UA-2", got)
	}
	if counts, err := st.FedCounts(); err != nil || counts["UA"] != 1 {
		t.Fatalf("counts %v %v, want 1 record of UA", counts, err)
	}
	// A second tombstone of a withdrawn record changes nothing visible.
	if a, s := apply(feed.Record{CaseID: "UA-1", Seq: 8, Flags: feed.Tombstone}); a != 0 || s != 0 {
		t.Fatalf("second tombstone: applied %d stale %d", a, s)
	}
	if a, _ := apply(feed.Record{CaseID: "UA-1", Seq: 9, Record: []byte("v9")}); a != 1 || held()["UA-1"] != 9 {
		t.Fatalf("a newer record after the tombstone: applied %d, held %v", a, held())
	}
	if _, err := st.FedReset("UA"); err != nil {
		t.Fatal(err)
	}
	if a, _ := apply(v5); a != 1 || held()["UA-1"] != 5 {
		t.Fatalf("after a full resync the origin's records are taken as they come: applied %d, held %v", a, held())
	}
}

// TestFedCountsKept: the counts FedCounts keeps after its first count
// follow every kind of write of the index (new records, newer versions,
// stale replays, tombstones, records back after one, a full resync)
// exactly as a count of the records would, before and after the first
// call, and in a store opened again.
func TestFedCountsKept(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	st, err := store.Open(path, "PL", store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { st.Close() }()
	recount := func() map[string]int {
		out := map[string]int{}
		if err := st.FedScan("", func(origin, _ string, _ uint64, _ []byte) error {
			out[origin]++
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	check := func(step int) {
		t.Helper()
		got, err := st.FedCounts()
		if err != nil {
			t.Fatal(err)
		}
		if want := recount(); !maps.Equal(got, want) {
			t.Fatalf("step %d: FedCounts %v, the records %v", step, got, want)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	origins := []string{"DE", "FR", "UA"}
	seq := map[string]uint64{}
	for step := range 400 {
		origin := origins[r.IntN(len(origins))]
		if r.IntN(60) == 0 {
			if _, err := st.FedReset(origin); err != nil {
				t.Fatal(err)
			}
		} else {
			var recs []feed.Record
			for range 1 + r.IntN(8) {
				id := fmt.Sprintf("%s-%d", origin, r.IntN(30))
				s := seq[origin] + 1
				if r.IntN(5) == 0 && s > 3 {
					s -= uint64(1 + r.IntN(3)) // a replay, maybe stale
				} else {
					seq[origin] = s
				}
				rec := feed.Record{CaseID: id, Seq: s, Record: []byte("v")}
				if r.IntN(3) == 0 {
					rec = feed.Record{CaseID: id, Seq: s, Flags: feed.Tombstone}
				}
				recs = append(recs, rec)
			}
			if _, _, err := st.FedApply(origin, "", recs); err != nil {
				t.Fatal(err)
			}
		}
		if step >= 50 { // the first count comes after writes; then kept
			check(step)
		}
	}
	st.Close()
	if st, err = store.Open(path, "PL", store.Options{}); err != nil {
		t.Fatal(err)
	}
	check(-1)
}
