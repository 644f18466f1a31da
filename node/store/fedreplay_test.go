package store_test

import (
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
