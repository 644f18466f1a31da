package store

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/accordfed/accord/federation/feed"
)

// The change feed: what the node shares with the other members.
//
// Every write that changes a case (create, update, import, delete,
// evidence added) appends the case id to bucketChanges in the same
// transaction, so that no change is lost between the store and the feed.
// The node's publisher (federation/exchange) reads the changes in order,
// makes each case's shared record or tombstone, signs them, and publishes
// them with Publish: a record gets the next feed sequence number, replaces
// the case's previous feed entry (the feed keeps the latest entry of each
// case), and is what peers pull (ReadFeed).
var (
	// bucketChanges: change seq -> case id.
	bucketChanges = []byte("changes")
	// bucketFeed: feed seq -> case id (the latest entry of each case).
	bucketFeed = []byte("feed")
	// bucketShared: case id -> feed seq (8) + flags (1) + signed record.
	bucketShared = []byte("shared")
	// bucketFedRecords: origin + 0x00 + case id -> feed seq (8) + flags (1)
	// + signed record: the federation index, other members' records. A
	// withdrawn record leaves its tombstone's seq and flags (no record), so
	// that an older record of the case, replayed or relayed later, is
	// recognised as stale; FedScan and FedCounts skip these.
	bucketFedRecords = []byte("fed_records")
	// bucketFedCursors: origin -> the cursor to resume its feed from.
	bucketFedCursors = []byte("fed_cursors")

	metaChangeSeq = []byte("change_seq")
	metaPublished = []byte("feed_published_change")
	metaFeedSeq   = []byte("feed_seq")
	metaFeedFloor = []byte("feed_floor")
	metaFeedEpoch = []byte("feed_epoch")
	metaCursorKey = []byte("feed_cursor_key")
)

// initFeed gives a store without a feed its epoch and cursor key, and
// queues every case it holds as changed (a store made before the feed
// existed publishes its cases once).
func initFeed(tx *bolt.Tx) error {
	meta := tx.Bucket(bucketMeta)
	if meta.Get(metaFeedEpoch) != nil {
		return nil
	}
	var epoch [8]byte
	key := make([]byte, 32)
	if _, err := rand.Read(epoch[:]); err != nil {
		return err
	}
	if _, err := rand.Read(key); err != nil {
		return err
	}
	if err := meta.Put(metaFeedEpoch, epoch[:]); err != nil {
		return err
	}
	if err := meta.Put(metaCursorKey, key); err != nil {
		return err
	}
	changes := tx.Bucket(bucketChanges)
	n := getU64(meta.Get(metaChangeSeq))
	err := tx.Bucket(bucketCaseIDs).ForEach(func(k, _ []byte) error {
		n++
		return changes.Put(u64(n), bytes.Clone(k))
	})
	if err != nil {
		return err
	}
	return meta.Put(metaChangeSeq, u64(n))
}

// RenewFeedEpoch gives the store file at path (not open) a new feed epoch:
// every cursor its feed issued before becomes void (OutOfRange), and every
// peer drops this member's records and resyncs from the start. A store
// restored from a backup needs it before it serves again: its feed went
// back to the backup's head, and the feed seqs after that head, which peers
// already hold records under, will be given to other records.
func RenewFeedEpoch(path string) error {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return fmt.Errorf("open store %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			return fmt.Errorf("%w: %s has no meta bucket: not a store", ErrCorrupt, path)
		}
		if meta.Get(metaFeedEpoch) == nil {
			return nil // a store without a feed gets its first epoch at Open
		}
		var epoch [8]byte
		if _, err := rand.Read(epoch[:]); err != nil {
			return err
		}
		return meta.Put(metaFeedEpoch, epoch[:])
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	return err
}

// changed records, in the write's transaction, that a case changed.
func (w *write) changed(caseID string) {
	w.put(bucketChanges, u64(w.nextSeq(metaChangeSeq)), []byte(caseID))
	w.notify = true
	w.ids = append(w.ids, caseID)
}

// notifier broadcasts that the store has new changes or feed entries.
type notifier struct {
	mu sync.Mutex
	ch chan struct{}
}

func (n *notifier) wait() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ch == nil {
		n.ch = make(chan struct{})
	}
	return n.ch
}

func (n *notifier) fire() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ch != nil {
		close(n.ch)
		n.ch = nil
	}
}

// Changed returns a channel that is closed at the next committed change of
// a case.
func (s *Store) Changed() <-chan struct{} { return s.changes.wait() }

// Published returns a channel that is closed at the next Publish.
func (s *Store) Published() <-chan struct{} { return s.published.wait() }

// Changes returns up to limit changes after seq, in order.
func (s *Store) Changes(after uint64, limit int) ([]feed.Change, error) {
	var out []feed.Change
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketChanges).Cursor()
		for k, v := c.Seek(u64(after + 1)); k != nil && len(out) < limit; k, v = c.Next() {
			out = append(out, feed.Change{Seq: getU64(k), CaseID: string(v)})
		}
		return nil
	})
	return out, err
}

// Feed returns the feed's state.
func (s *Store) Feed() (feed.Info, error) {
	var fi feed.Info
	err := s.db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		fi = feed.Info{
			Epoch: binary.BigEndian.Uint64(meta.Get(metaFeedEpoch)),
			Head:  getU64(meta.Get(metaFeedSeq)), Floor: getU64(meta.Get(metaFeedFloor)),
			PublishedChange: getU64(meta.Get(metaPublished)),
			CursorKey:       bytes.Clone(meta.Get(metaCursorKey)),
		}
		return nil
	})
	return fi, err
}

// SharedState returns a case's feed entry: its seq and flags; ok is false
// when the case was never published.
func (s *Store) SharedState(caseID string) (seq uint64, flags byte, ok bool, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketShared).Get([]byte(caseID))
		if len(v) >= 9 {
			seq, flags, ok = getU64(v[:8]), v[8], true
		}
		return nil
	})
	return seq, flags, ok, err
}

// SharedRecord returns what the node last published of its own case
// caseID: the feed seq and the record (an accordv1.SignedRecord,
// marshalled). ok is false when the case was never published or its last
// publication is a tombstone (deleted, or no longer shareable).
func (s *Store) SharedRecord(caseID string) (seq uint64, record []byte, ok bool, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketShared).Get([]byte(caseID))
		if len(v) < 9 || v[8]&feed.Tombstone != 0 {
			return nil
		}
		seq, record, ok = getU64(v[:8]), bytes.Clone(v[9:]), true
		return nil
	})
	return seq, record, ok, err
}

// Publish appends pubs to the feed with seqs first, first+1, ..., and
// records that the changes up to change seq upTo are published. first must
// be the next seq (Feed().Head + 1): one publisher writes the feed.
func (s *Store) Publish(upTo, first uint64, pubs []feed.Publication) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		head := getU64(meta.Get(metaFeedSeq))
		if len(pubs) > 0 && first != head+1 {
			return fmt.Errorf("%w: publish at feed seq %d, but the feed's head is %d", ErrInvalid, first, head)
		}
		entries, shared := tx.Bucket(bucketFeed), tx.Bucket(bucketShared)
		for i, p := range pubs {
			seq := first + uint64(i)
			if old := shared.Get([]byte(p.CaseID)); len(old) >= 8 {
				if err := entries.Delete(old[:8]); err != nil {
					return err
				}
			}
			if err := entries.Put(u64(seq), []byte(p.CaseID)); err != nil {
				return err
			}
			v := make([]byte, 0, 9+len(p.Record))
			v = append(append(append(v, u64(seq)...), p.Flags), p.Record...)
			if err := shared.Put([]byte(p.CaseID), v); err != nil {
				return err
			}
			head = seq
		}
		if err := meta.Put(metaFeedSeq, u64(head)); err != nil {
			return err
		}
		return meta.Put(metaPublished, u64(upTo))
	})
	if err == nil {
		s.published.fire()
	}
	return err
}

// ReadFeed calls fn with up to limit feed entries after seq, in order.
// Record is valid only during the call.
func (s *Store) ReadFeed(after uint64, limit int, fn func(feed.Entry) error) error {
	return s.db.View(func(tx *bolt.Tx) error {
		shared := tx.Bucket(bucketShared)
		c := tx.Bucket(bucketFeed).Cursor()
		n := 0
		for k, v := c.Seek(u64(after + 1)); k != nil && n < limit; k, v = c.Next() {
			e := shared.Get(v)
			if len(e) < 9 {
				return fmt.Errorf("%w: feed entry %d: case %s has no shared record", ErrCorrupt, getU64(k), v)
			}
			if err := fn(feed.Entry{Seq: getU64(k), CaseID: string(v), Flags: e[8], Record: e[9:]}); err != nil {
				return err
			}
			n++
		}
		return nil
	})
}

// PurgeTombstones removes tombstones published at or before feed seq
// upTo, and raises the feed's floor to it when it removed any: a peer
// whose cursor is older has missed them and must resync in full.
func (s *Store) PurgeTombstones(upTo uint64) (int, error) {
	n := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if upTo <= getU64(meta.Get(metaFeedFloor)) {
			return nil
		}
		entries, shared := tx.Bucket(bucketFeed), tx.Bucket(bucketShared)
		c := entries.Cursor()
		var drop [][]byte
		for k, v := c.First(); k != nil && getU64(k) <= upTo; k, v = c.Next() {
			if e := shared.Get(v); len(e) >= 9 && e[8]&feed.Tombstone != 0 {
				drop = append(drop, bytes.Clone(k), bytes.Clone(v))
			}
		}
		if len(drop) == 0 {
			return nil // nothing a cursor could miss: the floor stays
		}
		for i := 0; i < len(drop); i += 2 {
			if err := entries.Delete(drop[i]); err != nil {
				return err
			}
			if err := shared.Delete(drop[i+1]); err != nil {
				return err
			}
			n++
		}
		return meta.Put(metaFeedFloor, u64(upTo))
	})
	return n, err
}

func fedKey(origin, caseID string) []byte {
	return append(append([]byte(origin), 0), caseID...)
}

// FedApply stores, in one transaction, records received from origin's
// feed and the cursor to resume after them (kept as it is when cursor is
// empty). A record not newer than the one held, or than the tombstone that
// withdrew it (by feed seq), is skipped as stale; a tombstone removes the
// record, also one of the same seq (a withdrawal wins a tie: the origin
// withdraws a jit case from a member with a tombstone of the record's own
// seq). It returns how many records changed the index.
func (s *Store) FedApply(origin, cursor string, recs []feed.Record) (applied, stale int, err error) {
	var changed []feed.Record
	defer func() {
		if err == nil {
			s.fedChanged(origin, changed)
		}
	}()
	err = s.db.Update(func(tx *bolt.Tx) error {
		changed = changed[:0]
		b := tx.Bucket(bucketFedRecords)
		held := 0 // the change of origin's count of records held
		for _, r := range recs {
			k := fedKey(origin, r.CaseID)
			old := b.Get(k)
			live := len(old) >= 9 && old[8]&feed.Tombstone == 0
			if len(old) >= 9 {
				oldSeq := getU64(old[:8])
				withdraws := r.Flags&feed.Tombstone != 0 && live
				if oldSeq > r.Seq || (oldSeq == r.Seq && !withdraws) {
					stale++
					continue
				}
			}
			if r.Flags&feed.Tombstone != 0 {
				if live {
					applied++
					held--
					changed = append(changed, feed.Record{CaseID: r.CaseID, Seq: r.Seq, Flags: r.Flags})
				}
				if err := b.Put(k, append(u64(r.Seq), r.Flags)); err != nil {
					return err
				}
				continue
			}
			v := make([]byte, 0, 9+len(r.Record))
			v = append(append(append(v, u64(r.Seq)...), r.Flags), r.Record...)
			if err := b.Put(k, v); err != nil {
				return err
			}
			if !live {
				held++
			}
			applied++
			changed = append(changed, r)
		}
		if cursor != "" { // "": records relayed from another member's feed
			if err := tx.Bucket(bucketFedCursors).Put([]byte(origin), []byte(cursor)); err != nil {
				return err
			}
		}
		s.fedCounted(func(counts map[string]int) { counts[origin] += held })
		return nil
	})
	if err != nil {
		s.fedUncounted()
	}
	return applied, stale, err
}

// fedCounted changes the kept counts of the federation index (when they
// are kept) inside the write transaction that changes the index: writes
// are serialised, so no other change comes between.
func (s *Store) fedCounted(change func(map[string]int)) {
	s.fedCountMu.Lock()
	defer s.fedCountMu.Unlock()
	if s.fedCount != nil {
		change(s.fedCount)
	}
}

// fedUncounted forgets the kept counts after a write of the index failed
// (its transaction rolled back after the counts were changed): the next
// FedCounts counts again.
func (s *Store) fedUncounted() {
	s.fedCountMu.Lock()
	s.fedCount = nil
	s.fedCountMu.Unlock()
}

// FedCursor returns the cursor to resume origin's feed from ("" for the
// start).
func (s *Store) FedCursor(origin string) (string, error) {
	var out string
	err := s.db.View(func(tx *bolt.Tx) error {
		out = string(tx.Bucket(bucketFedCursors).Get([]byte(origin)))
		return nil
	})
	return out, err
}

// FedReset drops origin's records and cursor, for a full resync.
func (s *Store) FedReset(origin string) (int, error) {
	n := 0
	var changed []feed.Record
	err := s.db.Update(func(tx *bolt.Tx) error {
		changed = changed[:0]
		b := tx.Bucket(bucketFedRecords)
		prefix := append([]byte(origin), 0)
		var keys [][]byte
		c := b.Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			keys = append(keys, bytes.Clone(k))
		}
		for _, k := range keys {
			if err := b.Delete(k); err != nil {
				return err
			}
			changed = append(changed, feed.Record{CaseID: string(k[len(prefix):]), Flags: feed.Tombstone})
		}
		n = len(keys)
		if err := tx.Bucket(bucketFedCursors).Delete([]byte(origin)); err != nil {
			return err
		}
		s.fedCounted(func(counts map[string]int) { delete(counts, origin) })
		return nil
	})
	if err == nil {
		s.fedChanged(origin, changed)
	} else {
		s.fedUncounted()
	}
	return n, err
}

// FedGet returns the federation index's record of origin's case caseID
// and the feed seq it was stored under; ok is false when the index holds
// none (never received, or withdrawn: a tombstone holds no record). The
// record is a copy.
func (s *Store) FedGet(origin, caseID string) (seq uint64, record []byte, ok bool, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketFedRecords).Get(fedKey(origin, caseID))
		if v == nil {
			return nil
		}
		if len(v) < 9 {
			return fmt.Errorf("%w: federation index entry %s %s", ErrCorrupt, origin, caseID)
		}
		if v[8]&feed.Tombstone != 0 {
			return nil
		}
		seq, record, ok = getU64(v[:8]), bytes.Clone(v[9:]), true
		return nil
	})
	return seq, record, ok, err
}

// Hooks are called after a write committed, in the writer's goroutine,
// so that in-memory indexes (node/casesearch) follow the store. They must
// not call back into the store's writes.
type Hooks struct {
	// Cases is called with the ids of the office's cases a write created,
	// changed or deleted.
	Cases func(caseIDs []string)
	// Fed is called for each record the federation index stored (record
	// is the stored record, valid only during the call) or dropped
	// (record nil: withdrawn, or dropped for a resync).
	Fed func(origin, caseID string, seq uint64, record []byte)
}

// hookSet is Hooks as the store keeps them.
type hookSet struct {
	cases func([]string)
	fed   func(origin, caseID string, seq uint64, record []byte)
}

// SetHooks installs h (replacing earlier hooks); set them before the
// writers start (accordd does at start).
func (s *Store) SetHooks(h Hooks) {
	s.hooks.Store(&hookSet{cases: h.Cases, fed: h.Fed})
}

// fedChanged calls the Fed hook for the records a commit stored or
// dropped (a tombstone flag: dropped).
func (s *Store) fedChanged(origin string, recs []feed.Record) {
	h := s.hooks.Load()
	if h == nil || h.fed == nil {
		return
	}
	for _, r := range recs {
		if r.Flags&feed.Tombstone != 0 {
			h.fed(origin, r.CaseID, r.Seq, nil)
		} else {
			h.fed(origin, r.CaseID, r.Seq, r.Record)
		}
	}
}

// FedScan calls fn for each record of the federation index, of origin
// only when origin is not empty, in (origin, case id) order. record is
// valid only during the call.
func (s *Store) FedScan(origin string, fn func(origin, caseID string, seq uint64, record []byte) error) error {
	return s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketFedRecords).Cursor()
		var prefix []byte
		if origin != "" {
			prefix = append([]byte(origin), 0)
		}
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			i := bytes.IndexByte(k, 0)
			if i < 0 || len(v) < 9 {
				return fmt.Errorf("%w: federation index entry %q", ErrCorrupt, k)
			}
			if v[8]&feed.Tombstone != 0 {
				continue // a withdrawn record's tombstone
			}
			if err := fn(string(k[:i]), string(k[i+1:]), getU64(v[:8]), v[9:]); err != nil {
				return err
			}
		}
		return nil
	})
}

// FedCounts returns how many records the federation index holds per
// origin (withdrawn ones not counted). The first call reads every record;
// the store then keeps the counts with every write of the index, and
// later calls read none.
func (s *Store) FedCounts() (map[string]int, error) {
	s.fedCountMu.Lock()
	if s.fedCount != nil {
		out := heldCounts(s.fedCount)
		s.fedCountMu.Unlock()
		return out, nil
	}
	s.fedCountMu.Unlock()
	// Counted once, in a write transaction so that no write of the index
	// comes between the count and its keeping; every write after keeps it.
	var out map[string]int
	err := s.db.Update(func(tx *bolt.Tx) error {
		counts := map[string]int{}
		err := tx.Bucket(bucketFedRecords).ForEach(func(k, v []byte) error {
			if len(v) >= 9 && v[8]&feed.Tombstone != 0 {
				return nil // a withdrawn record's tombstone
			}
			if i := bytes.IndexByte(k, 0); i > 0 {
				counts[string(k[:i])]++
			}
			return nil
		})
		if err != nil {
			return err
		}
		s.fedCountMu.Lock()
		s.fedCount, out = counts, heldCounts(counts)
		s.fedCountMu.Unlock()
		return nil
	})
	if err != nil {
		s.fedUncounted()
		return nil, err
	}
	return out, nil
}

// heldCounts copies the kept counts without the origins of which the
// index holds no record any more.
func heldCounts(counts map[string]int) map[string]int {
	out := make(map[string]int, len(counts))
	for m, n := range counts {
		if n > 0 {
			out[m] = n
		}
	}
	return out
}

// Requeue records caseIDs as changed, so that they are published again
// (their visibility changed: a JIT now lists them, or a member left one),
// or every case when all is set (the federation key was rotated).
func (s *Store) Requeue(caseIDs []string, all bool) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		meta, changes := tx.Bucket(bucketMeta), tx.Bucket(bucketChanges)
		n := getU64(meta.Get(metaChangeSeq))
		put := func(id []byte) error {
			n++
			return changes.Put(u64(n), bytes.Clone(id))
		}
		if all {
			if err := tx.Bucket(bucketCaseIDs).ForEach(func(k, _ []byte) error { return put(k) }); err != nil {
				return err
			}
		}
		for _, id := range caseIDs {
			if err := put([]byte(id)); err != nil {
				return err
			}
		}
		return meta.Put(metaChangeSeq, u64(n))
	})
	if err == nil {
		s.changes.fire()
	}
	return err
}

// Backup writes a consistent copy of the store file to w, in one read
// transaction, while the store serves.
func (s *Store) Backup(w io.Writer) error {
	return s.db.View(func(tx *bolt.Tx) error {
		_, err := tx.WriteTo(w)
		return err
	})
}
