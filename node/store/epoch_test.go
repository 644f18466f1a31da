package store_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/accordfed/accord/federation/feed"
	"github.com/accordfed/accord/node/store"
)

// TestRenewFeedEpoch: a restored store's feed keeps its entries, head and
// cursor key but gets another epoch, so that every cursor issued before is
// void; a file that is not a store is refused.
func TestRenewFeedEpoch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	st, err := store.Open(path, "UA", store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Publish(0, 1, []feed.Publication{{CaseID: "UA-1", Record: []byte("r1")}}); err != nil {
		t.Fatal(err)
	}
	before, err := st.Feed()
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if err := store.RenewFeedEpoch(path); err != nil {
		t.Fatal(err)
	}
	st, err = store.Open(path, "UA", store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	after, err := st.Feed()
	if err != nil {
		t.Fatal(err)
	}
	if after.Epoch == before.Epoch {
		t.Errorf("epoch %d kept", after.Epoch)
	}
	if after.Head != before.Head || after.Floor != before.Floor || !bytes.Equal(after.CursorKey, before.CursorKey) {
		t.Errorf("feed changed beyond its epoch: %+v, was %+v", after, before)
	}

	other := filepath.Join(t.TempDir(), "other.db")
	if err := os.WriteFile(other, []byte("not a bbolt file"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := store.RenewFeedEpoch(other); err == nil {
		t.Error("a file that is not a store got a feed epoch")
	}
}
