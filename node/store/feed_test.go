package store_test

import (
	"path/filepath"
	"testing"

	"github.com/accordfed/accord/federation/feed"
	"github.com/accordfed/accord/node/store"
)

// TestPurgeTombstonesFloor: purging raises the feed's floor only when a
// tombstone was dropped, so that peers resync only when they may have
// missed one.
func TestPurgeTombstonesFloor(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "store.db"), "UA", store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	pubs := []feed.Publication{{CaseID: "UA-1", Record: []byte("r1")}, {CaseID: "UA-2", Record: []byte("r2")}}
	if err := st.Publish(0, 1, pubs); err != nil {
		t.Fatal(err)
	}
	if n, err := st.PurgeTombstones(2); err != nil || n != 0 {
		t.Fatalf("purge without tombstones: %d %v", n, err)
	}
	if fi, _ := st.Feed(); fi.Floor != 0 {
		t.Fatalf("floor %d after purging nothing", fi.Floor)
	}
	if err := st.Publish(0, 3, []feed.Publication{{CaseID: "UA-1", Flags: feed.Tombstone, Record: []byte("t1")}}); err != nil {
		t.Fatal(err)
	}
	if n, err := st.PurgeTombstones(3); err != nil || n != 1 {
		t.Fatalf("purge: %d %v", n, err)
	}
	fi, _ := st.Feed()
	if fi.Floor != 3 || fi.Head != 3 {
		t.Fatalf("floor %d head %d", fi.Floor, fi.Head)
	}
	var seen []string
	if err := st.ReadFeed(0, 10, func(e feed.Entry) error { seen = append(seen, e.CaseID); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 1 || seen[0] != "UA-2" {
		t.Fatalf("feed after purge: %v", seen)
	}
}

// TestSharedRecord: a case's last publication, and none once it is a
// tombstone or was never published.
func TestSharedRecord(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "store.db"), "UA", store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, _, ok, err := st.SharedRecord("UA-1"); ok || err != nil {
		t.Fatalf("never published: ok %v, %v", ok, err)
	}
	if err := st.Publish(0, 1, []feed.Publication{{CaseID: "UA-1", Record: []byte("r1")}, {CaseID: "UA-2", Record: []byte("r2")}}); err != nil {
		t.Fatal(err)
	}
	if err := st.Publish(0, 3, []feed.Publication{{CaseID: "UA-1", Record: []byte("r1b")}}); err != nil {
		t.Fatal(err)
	}
	seq, rec, ok, err := st.SharedRecord("UA-1")
	if err != nil || !ok || seq != 3 || string(rec) != "r1b" {
		t.Fatalf("UA-1: seq %d, %q, %v, %v: want its latest publication", seq, rec, ok, err)
	}
	if err := st.Publish(0, 4, []feed.Publication{{CaseID: "UA-2", Flags: feed.Tombstone, Record: []byte("t2")}}); err != nil {
		t.Fatal(err)
	}
	if _, _, ok, err := st.SharedRecord("UA-2"); ok || err != nil {
		t.Fatalf("a tombstone: ok %v, %v", ok, err)
	}
}
