package registryraft

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/hashicorp/raft"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// The node's Raft data is checked before Raft uses it. A damaged raft.db
// would otherwise make bbolt or Raft panic (a truncated file, a page of
// garbage) or, worse, feed Raft a log it cannot read halfway through a
// restore; a damaged snapshot would make Raft fall back to an older one
// whose following log entries are gone. Each of these stops the node with
// ErrCorrupt instead, naming the file and what to do: the registry's state
// is the group's, so a server whose copy is damaged gets it back from the
// others once its registry folder is moved aside.

// checkBoltFile checks a bbolt file that no one has open: it opens the
// file read-only, reads every bucket, key and value (turning bbolt's
// panics and the faults of pages beyond a truncated file into errors), and
// then runs bbolt's consistency check. A missing file is fine.
func checkBoltFile(path string) error {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	done := make(chan error, 1)
	go func() {
		// A page beyond the end of a truncated file faults in the memory
		// mapping; this goroutine turns that into a panic, recovered below.
		debug.SetPanicOnFault(true)
		defer func() {
			if r := recover(); r != nil {
				done <- fmt.Errorf("%s: bbolt: %v", path, r)
			}
		}()
		if err := readBoltFile(path); err != nil {
			done <- fmt.Errorf("%s: %w", path, err)
			return
		}
		done <- nil
	}()
	return <-done
}

func readBoltFile(path string) error {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return fmt.Errorf("%s is in use by another process", path)
		}
		return err
	}
	defer db.Close()
	return db.View(func(tx *bolt.Tx) error {
		var walk func(b *bolt.Bucket) error
		walk = func(b *bolt.Bucket) error {
			return b.ForEach(func(k, v []byte) error {
				if v == nil {
					if nested := b.Bucket(k); nested != nil {
						return walk(nested)
					}
				}
				return nil
			})
		}
		if err := tx.ForEach(func(_ []byte, b *bolt.Bucket) error { return walk(b) }); err != nil {
			return err
		}
		// Every reachable page was read above without a fault; the
		// consistency check also covers the free list.
		for err := range tx.Check() {
			return err
		}
		return nil
	})
}

// checkRaftData checks what Raft reads when it starts: every log entry
// decodes and has its index, every snapshot kept matches its checksum, and
// the log begins no later than just after the newest snapshot.
func checkRaftData(dataDir string, store raft.LogStore, snaps *raft.FileSnapshotStore) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	metas, err := snaps.List()
	if err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(dataDir, "snapshots"), err)
	}
	for _, m := range metas {
		// Open reads the whole snapshot and verifies its checksum.
		_, rc, err := snaps.Open(m.ID)
		if err != nil {
			return fmt.Errorf("snapshot %s: %w", filepath.Join(dataDir, "snapshots", m.ID), err)
		}
		rc.Close()
	}
	var snapIndex uint64
	if len(metas) > 0 {
		snapIndex = metas[0].Index
	}
	db := filepath.Join(dataDir, "raft.db")
	first, err := store.FirstIndex()
	if err != nil {
		return fmt.Errorf("%s: first index: %w", db, err)
	}
	last, err := store.LastIndex()
	if err != nil {
		return fmt.Errorf("%s: last index: %w", db, err)
	}
	// Raft reads every entry after the newest snapshot as it starts; the
	// entries the snapshot covers may have holes (a server that installed
	// a snapshot keeps older entries it had), and are checked where present.
	var l raft.Log
	for i := first; last > 0 && i <= last; i++ {
		err := store.GetLog(i, &l)
		switch {
		case errors.Is(err, raft.ErrLogNotFound) && i <= snapIndex:
			i = snapIndex // a hole below the snapshot: go on after it
		case err != nil:
			return fmt.Errorf("%s: log entry %d of %d-%d: %w", db, i, first, last, err)
		case l.Index != i:
			return fmt.Errorf("%s: log entry %d holds index %d", db, i, l.Index)
		}
	}
	if last > 0 && first > snapIndex+1 {
		return fmt.Errorf("%s: the log begins at entry %d but the newest snapshot ends at %d: entries %d-%d are missing",
			db, first, snapIndex, snapIndex+1, first-1)
	}
	return nil
}

// corrupt wraps a damage found in the node's Raft data into ErrCorrupt,
// with what the operator does about it.
func corrupt(dataDir string, err error) error {
	return fmt.Errorf("%w: %w; stop the node, move the folder %s aside (or delete it) and start the node again: "+
		"it gets the registry back from the other registry servers", ErrCorrupt, err, dataDir)
}

// removeUnfinishedSnapshots deletes the temporary folders of snapshots that
// a crash interrupted (taking one, or receiving one from the leader). Raft
// ignores them but never deletes them, so each crash during a snapshot
// would otherwise leave a partial copy of the registry on disk for good.
// Nothing writes a snapshot before Raft starts.
func removeUnfinishedSnapshots(dataDir string, logger *slog.Logger) error {
	dir := filepath.Join(dataDir, "snapshots")
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range ents {
		if !e.IsDir() || !strings.HasSuffix(e.Name(), ".tmp") {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
		logger.Warn("removed an unfinished snapshot left by a crash", "snapshot", e.Name())
	}
	return nil
}
