package store

import (
	"bytes"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// The evidence-hash index is kept as sorted runs, like the levels of an
// LSM tree, because its keys (SHA-256 values) are random: inserted into one
// B+tree, every import batch would rewrite pages all over the index, and an
// import of a million cases would write the index a hundred times over.
// Instead an import batch writes its entries as a new run (nested bucket),
// filled in key order so that bbolt only appends pages, and small writes go
// to a "hot" run. After a new run, the two newest runs are merged while the
// older is not at least mergeRatio times the size of the newer, so that there
// are about mergeRatio*log(entries/batch)/log(mergeRatio) runs (a lookup
// seeks in each) and each entry is rewritten about log(entries/batch)/
// log(mergeRatio) times. Every key lives in
// exactly one run (writes are fresh keys; deletes remove the key wherever it
// is).

// Run sizes are recorded in bucketMeta under runSizeKey. Tests lower these.
var (
	// runMinEntries is the number of entries a transaction must write to
	// make a run of its own; fewer go to the hot run.
	runMinEntries = 1024
	// hotRunMax is the size at which the hot run becomes a sorted run.
	hotRunMax = 4096
	// mergeRatio: see above. 4 halves the rewriting of 2 for a few more
	// seeks per lookup.
	mergeRatio uint64 = 4
	// maxMergeEntries caps the size of a merged run: merging bigger runs
	// would rewrite millions of entries in one transaction (slow, and
	// memory-hungry) to save a seek or two per lookup. A store with n
	// entries keeps about n/maxMergeEntries big runs.
	maxMergeEntries uint64 = 1 << 18
)

// hotRun is the id of the run that takes small writes.
const hotRun = 0

func runSizeKey(id uint64) []byte {
	return append([]byte("sha_run/"), u64(id)...)
}

func runSize(tx *bolt.Tx, id uint64) uint64 {
	return getU64(tx.Bucket(bucketMeta).Get(runSizeKey(id)))
}

func setRunSize(tx *bolt.Tx, id, n uint64) error {
	return tx.Bucket(bucketMeta).Put(runSizeKey(id), u64(n))
}

// runIDs returns the ids of the index's runs, oldest first (the hot run
// last).
func runIDs(parent *bolt.Bucket) []uint64 {
	var ids []uint64
	hot := false
	c := parent.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if v != nil || len(k) != 8 {
			continue
		}
		if id := getU64(k); id == hotRun {
			hot = true
		} else {
			ids = append(ids, id)
		}
	}
	if hot {
		ids = append(ids, hotRun)
	}
	return ids
}

// shaLookup returns the keys of all runs that start with prefix.
func shaLookup(tx *bolt.Tx, prefix []byte) [][]byte {
	parent := tx.Bucket(idxSHA256)
	var out [][]byte
	for _, id := range runIDs(parent) {
		c := parent.Bucket(u64(id)).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			out = append(out, slices.Clone(k))
		}
	}
	return out
}

// flushRuns applies a transaction's writes to the run index: deletes
// wherever the key is, puts (sorted, fresh keys) as a new run or into the
// hot run, then merges runs as the policy says.
func flushRuns(tx *bolt.Tx, log []kvop) error {
	parent := tx.Bucket(idxSHA256)
	var puts []kvop
	for i, o := range log {
		if i+1 < len(log) && bytes.Equal(log[i+1].key, o.key) {
			continue // a later write to the same key wins
		}
		if !o.del {
			puts = append(puts, o)
			continue
		}
		for _, id := range runIDs(parent) {
			b := parent.Bucket(u64(id))
			if b.Get(o.key) != nil {
				if err := b.Delete(o.key); err != nil {
					return err
				}
				if n := runSize(tx, id); n > 0 {
					if err := setRunSize(tx, id, n-1); err != nil {
						return err
					}
				}
			}
		}
	}
	if len(puts) == 0 {
		return nil
	}
	id := uint64(hotRun)
	if len(puts) >= runMinEntries {
		id = nextSeq(tx, metaRunSeq)
	}
	b, err := parent.CreateBucketIfNotExists(u64(id))
	if err != nil {
		return err
	}
	if id != hotRun {
		b.FillPercent = 1 // appended in order, never inserted into
	}
	for _, o := range puts {
		if err := b.Put(o.key, o.val); err != nil {
			return err
		}
	}
	if err := setRunSize(tx, id, runSize(tx, id)+uint64(len(puts))); err != nil {
		return err
	}
	if id == hotRun && runSize(tx, hotRun) < uint64(hotRunMax) {
		return nil
	}
	if id == hotRun {
		// The hot run is full: it becomes a sorted run.
		if _, err := mergeRuns(tx, parent, []uint64{hotRun}); err != nil {
			return err
		}
	}
	return compactRuns(tx, parent)
}

// compactRuns merges the two newest sorted runs while the older is not at
// least mergeRatio times the size of the newer.
func compactRuns(tx *bolt.Tx, parent *bolt.Bucket) error {
	for {
		ids := slices.DeleteFunc(runIDs(parent), func(id uint64) bool { return id == hotRun })
		if len(ids) < 2 {
			return nil
		}
		older, newer := ids[len(ids)-2], ids[len(ids)-1]
		so, sn := runSize(tx, older), runSize(tx, newer)
		if so > mergeRatio*sn || so+sn > maxMergeEntries {
			return nil
		}
		if _, err := mergeRuns(tx, parent, []uint64{older, newer}); err != nil {
			return err
		}
	}
}

// mergeRuns writes the entries of the given runs, in key order, into a new
// run and drops them; it returns the new run's id.
func mergeRuns(tx *bolt.Tx, parent *bolt.Bucket, ids []uint64) (uint64, error) {
	id := nextSeq(tx, metaRunSeq)
	out, err := parent.CreateBucket(u64(id))
	if err != nil {
		return 0, err
	}
	out.FillPercent = 1
	cursors := make([]*bolt.Cursor, len(ids))
	keys := make([][]byte, len(ids))
	vals := make([][]byte, len(ids))
	for i, rid := range ids {
		cursors[i] = parent.Bucket(u64(rid)).Cursor()
		keys[i], vals[i] = cursors[i].First()
	}
	var n uint64
	for {
		best := -1
		for i, k := range keys {
			if k != nil && (best < 0 || bytes.Compare(k, keys[best]) < 0) {
				best = i
			}
		}
		if best < 0 {
			break
		}
		if err := out.Put(slices.Clone(keys[best]), slices.Clone(vals[best])); err != nil {
			return 0, err
		}
		n++
		keys[best], vals[best] = cursors[best].Next()
	}
	for _, rid := range ids {
		if err := parent.DeleteBucket(u64(rid)); err != nil {
			return 0, fmt.Errorf("drop run %d: %w", rid, err)
		}
		if err := tx.Bucket(bucketMeta).Delete(runSizeKey(rid)); err != nil {
			return 0, err
		}
	}
	return id, setRunSize(tx, id, n)
}
