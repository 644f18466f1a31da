package registryraft_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	bolt "go.etcd.io/bbolt"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/registry"
	"github.com/accordfed/accord/federation/registryraft"
)

// TestDamagedDataIsRefused: a node whose raft.db or snapshots are damaged
// refuses to start with ErrCorrupt, naming the file and what to do,
// instead of a panic in bbolt or Raft or a restore from a partial state;
// undamaged data opens, and the unfinished snapshot a crash left behind is
// removed.
func TestDamagedDataIsRefused(t *testing.T) {
	o := fastTimeouts()
	o.trailingLogs = 5
	c := startCluster(t, []string{"UA"}, o)
	tn := c.nodes[0]
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range 300 {
		if _, err := tn.node.Apply(ctx, entry(t, fmt.Sprintf("d-%d", i))); err != nil {
			t.Fatal(err)
		}
		if i == 100 || i == 200 {
			if err := tn.node.Raft().Snapshot().Error(); err != nil {
				t.Fatal(err)
			}
		}
	}
	c.kill(tn)
	snaps, err := filepath.Glob(filepath.Join(tn.dataDir, "snapshots", "*", "state.bin"))
	if err != nil || len(snaps) != 2 {
		t.Fatalf("want two snapshots, have %v (%v)", snaps, err)
	}
	newest := snaps[len(snaps)-1] // ids sort by term, then index

	flip := func(path string, at func(size int) (int, int)) func(string) error {
		return func(dir string) error {
			p := filepath.Join(dir, path)
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			from, to := at(len(b))
			for i := from; i < to; i++ {
				b[i] ^= 0x5a
			}
			return os.WriteFile(p, b, 0o600)
		}
	}
	rel := func(p string) string { r, _ := filepath.Rel(tn.dataDir, p); return r }
	cases := []struct {
		name   string
		damage func(dir string) error
		want   string // in the message; "" for data that must open
	}{
		{"intact", func(string) error { return nil }, ""},
		{"unfinished snapshot left by a crash", func(dir string) error {
			return os.MkdirAll(filepath.Join(dir, "snapshots", "2-999-1.tmp"), 0o700)
		}, ""},
		{"raft.db meta pages", flip("raft.db", func(int) (int, int) { return 0, 8192 }), "raft.db"},
		{"raft.db page of the log overwritten", func(dir string) error { return overwritePage(filepath.Join(dir, "raft.db"), "logs") }, "raft.db"},
		{"raft.db truncated", func(dir string) error { return os.Truncate(filepath.Join(dir, "raft.db"), 3*4096) }, "raft.db"},
		{"newest snapshot", flip(rel(newest), func(n int) (int, int) { return n / 2, n/2 + 10 }), rel(filepath.Dir(newest))},
		{"snapshots lost", func(dir string) error { return os.RemoveAll(filepath.Join(dir, "snapshots")) }, "are missing"},
		// A server that installed a snapshot keeps the older entries it
		// had, with a hole before the snapshot's; Raft never reads them.
		{"hole before the newest snapshot", deleteLogs(func(first, _ uint64) (uint64, uint64) { return first + 1, first + 2 }), ""},
		// bbolt does not notice a changed value; the entry's checksum does.
		{"a log entry's data changed", func(dir string) error {
			p := filepath.Join(dir, "raft.db")
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			// The entries are typed commands (version 3: a single server
			// applies it), whose title and request id are d-NNN.
			changed := bytes.ReplaceAll(b, []byte("d-29"), []byte("x-29"))
			if bytes.Equal(changed, b) {
				return errors.New("no entry to change")
			}
			return os.WriteFile(p, changed, 0o600)
		}, "checksum"},
		{"hole after the newest snapshot", deleteLogs(func(_, last uint64) (uint64, uint64) { return last - 3, last - 2 }), "log not found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.CopyFS(dir, os.DirFS(tn.dataDir)); err != nil {
				t.Fatal(err)
			}
			if err := tc.damage(dir); err != nil {
				t.Fatal(err)
			}
			n, err := reopen(t, dir, tn.id)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("intact data refused: %v", err)
				}
				_ = n.Shutdown()
				if tmp, _ := filepath.Glob(filepath.Join(dir, "snapshots", "*.tmp")); len(tmp) != 0 {
					t.Errorf("unfinished snapshots left: %v", tmp)
				}
				return
			}
			if !errors.Is(err, registryraft.ErrCorrupt) {
				if n != nil {
					_ = n.Shutdown()
				}
				t.Fatalf("damaged data: got %v, want ErrCorrupt", err)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "aside") {
				t.Errorf("message does not name %q and what to do: %v", tc.want, err)
			}
			t.Log(err)
		})
	}
}

// reopen opens and starts a node on a data folder, as a restarting server
// does.
func reopen(t *testing.T, dir string, id identity.Identity) (*registryraft.Node, error) {
	t.Helper()
	_, trans := raft.NewInmemTransport("")
	n, err := registryraft.New(registryraft.Config{
		DataDir:           dir,
		GRPCAddress:       func(raft.ServerID) (string, bool) { return "", false },
		ClientCredentials: func(identity.Identity) credentials.TransportCredentials { return insecure.NewCredentials() },
		Certificate:       func() *tls.Certificate { return nil },
	}, trans, registry.NewFSM(), id, nil)
	if err != nil {
		return nil, err
	}
	if err := n.Start(); err != nil {
		_ = n.Shutdown()
		return nil, err
	}
	return n, nil
}

// deleteLogs deletes the log entries that span(first, last) names from a
// node's raft.db.
func deleteLogs(span func(first, last uint64) (uint64, uint64)) func(dir string) error {
	return func(dir string) error {
		store, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dir, "raft.db")})
		if err != nil {
			return err
		}
		defer store.Close()
		first, err := store.FirstIndex()
		if err != nil {
			return err
		}
		last, err := store.LastIndex()
		if err != nil {
			return err
		}
		from, to := span(first, last)
		return store.DeleteRange(from, to)
	}
}

// overwritePage overwrites the first bytes of the page that holds a bucket
// of a bbolt file (a page in use, wherever bbolt placed it).
func overwritePage(path, bucket string) error {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		return err
	}
	var root, pageSize int64
	err = db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucket))
		if b == nil {
			return fmt.Errorf("no bucket %s", bucket)
		}
		root, pageSize = int64(b.Root()), int64(db.Info().PageSize)
		if root == 0 {
			// A small bucket lives inline in its parent's page: the
			// top-level root page.
			root = int64(tx.Cursor().Bucket().Root())
		}
		return nil
	})
	db.Close()
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.WriteAt(bytes.Repeat([]byte{0x5a}, 64), root*pageSize)
	return err
}
