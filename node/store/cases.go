package store

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/accordfed/accord/federation/records"
	"github.com/accordfed/accord/node/custody"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// Actor says who makes a change and signs what it seals.
type Actor struct {
	// ID is the certificate identity of the user or node.
	ID string
	// Sealer signs custody events; nil refuses changes that need custody
	// events (new evidence).
	Sealer *custody.Sealer
}

// write is the state of one write transaction.
type write struct {
	tx      *bolt.Tx
	s       *Store
	actor   Actor
	now     time.Time
	pending []*accordv1.CustodyEvent          // custody events to seal at commit
	buf     map[string]map[string]op          // bucket -> key -> buffered write, for buckets read back
	log     map[string]*[]kvop                // bucket -> buffered writes, for the others
	vault   map[string]*accordv1.EvidenceItem // vault details of items being registered
	seqs    map[string]uint64                 // counters of bucketMeta, written back by flush
	notify  bool                              // a case changed: wake the publisher after commit
	ids     []string                          // the cases changed, for the OnCaseChange hook
}

func (s *Store) update(actor Actor, fn func(w *write) error) error {
	notify := false
	var ids []string
	err := s.db.Update(func(tx *bolt.Tx) error {
		s.db.NoFreelistSync = false // an import batch may set it again
		w := s.newWrite(tx, actor)
		if err := fn(w); err != nil {
			return err
		}
		if err := w.sealPending(); err != nil {
			return err
		}
		notify, ids = w.notify, w.ids
		return w.flush()
	})
	if err == nil && notify {
		s.changes.fire()
	}
	if err == nil && len(ids) > 0 {
		if h := s.hooks.Load(); h != nil && h.cases != nil {
			h.cases(ids)
		}
	}
	return err
}

// newWrite starts the buffered writes of a transaction.
func (s *Store) newWrite(tx *bolt.Tx, actor Actor) *write {
	return &write{tx: tx, s: s, actor: actor, now: s.now(), buf: map[string]map[string]op{}, log: map[string]*[]kvop{}, seqs: map[string]uint64{}}
}

// op is a buffered write: a put of val, or a delete.
type op struct {
	val []byte
	del bool
}

// kvop is a buffered write to a bucket that the transaction never reads.
type kvop struct {
	key []byte
	n   int // order of the write, so that the last write to a key wins
	op
}

// appendOnly lists the buckets keyed by sequence numbers, where new keys
// always come last.
var appendOnly = map[string]bool{
	string(bucketCases): true, string(bucketTitles): true, string(bucketEvidence): true,
	string(bucketCustody): true, string(bucketCustodyHeads): true, string(bucketSeals): true,
	string(bucketChanges): true,
}

// readBack lists the buckets a write transaction reads back (and so must
// see its own buffered writes in). Writes to every other bucket are only
// logged.
var readBack = map[string]bool{
	string(bucketCaseIDs): true, string(bucketCases): true,
	string(bucketEvidenceIDs): true, string(bucketEvidence): true,
}

// A write transaction buffers its puts and deletes and applies them at the
// end, bucket by bucket in key order. bbolt keeps a transaction's new keys in
// unsplit in-memory nodes, where inserting at random places costs a copy of
// the node each time; in key order every insert is an append. Reads within
// the transaction go through get, which sees the buffer first.
func (w *write) put(bucket, key, val []byte) { w.record(bucket, key, op{val: val}) }

func (w *write) del(bucket, key []byte) { w.record(bucket, key, op{del: true}) }

// record buffers a write. The key slice is kept: callers pass fresh ones.
func (w *write) record(bucket, key []byte, o op) {
	if !readBack[string(bucket)] {
		if l, ok := w.log[string(bucket)]; ok {
			*l = append(*l, kvop{key: key, n: len(*l), op: o})
		} else {
			w.log[string(bucket)] = &[]kvop{{key: key, op: o}}
		}
		return
	}
	b := w.buf[string(bucket)]
	if b == nil {
		b = make(map[string]op, 1024)
		w.buf[string(bucket)] = b
	}
	b[string(key)] = o
}

func (w *write) get(bucket, key []byte) []byte {
	if o, ok := w.buf[string(bucket)][string(key)]; ok {
		if o.del {
			return nil
		}
		return o.val
	}
	return w.tx.Bucket(bucket).Get(key)
}

// nextSeq returns the next value of a counter of bucketMeta; the counter is
// read once per transaction and written back by flush.
func (w *write) nextSeq(key []byte) uint64 {
	n, ok := w.seqs[string(key)]
	if !ok {
		n = getU64(w.tx.Bucket(bucketMeta).Get(key))
	}
	n++
	w.seqs[string(key)] = n
	return n
}

func (w *write) flush() error {
	for k, n := range w.seqs {
		if err := w.tx.Bucket(bucketMeta).Put([]byte(k), u64(n)); err != nil {
			return err
		}
	}
	for name, ops := range w.buf {
		log := make([]kvop, 0, len(ops))
		for k, o := range ops {
			log = append(log, kvop{key: []byte(k), op: o})
		}
		w.log[name] = &log
	}
	for name, lp := range w.log {
		log := *lp
		// By key, then by order: of several writes to one key, the last
		// one wins.
		byKey := func(a, b kvop) int {
			if c := bytes.Compare(a.key, b.key); c != 0 {
				return c
			}
			return cmp.Compare(a.n, b.n)
		}
		if !slices.IsSortedFunc(log, byKey) {
			slices.SortFunc(log, byKey)
		}
		if name == string(idxSHA256) {
			if err := flushRuns(w.tx, log); err != nil {
				return fmt.Errorf("store %s: %w", name, err)
			}
			continue
		}
		b := w.tx.Bucket([]byte(name))
		if appendOnly[name] {
			// Keys grow with every new record: fill pages instead of
			// leaving the default half of each empty.
			b.FillPercent = 0.95
		}
		for i, o := range log {
			if i+1 < len(log) && bytes.Equal(log[i+1].key, o.key) {
				continue
			}
			var err error
			if o.del {
				err = b.Delete(o.key)
			} else {
				err = b.Put(o.key, o.val)
			}
			if err != nil {
				return fmt.Errorf("store %s: %w", name, err)
			}
		}
	}
	w.buf, w.log = map[string]map[string]op{}, map[string]*[]kvop{}
	return nil
}

// getter reads a bucket: a read transaction, or a write with its buffer.
type getter interface {
	get(bucket, key []byte) []byte
}

type txGetter struct{ tx *bolt.Tx }

func (g txGetter) get(bucket, key []byte) []byte { return g.tx.Bucket(bucket).Get(key) }

// sealPending signs the transaction's new custody events, with as few
// seals as custody.MaxSealEvents allows, and stores them.
func (w *write) sealPending() error {
	if len(w.pending) == 0 {
		return nil
	}
	if w.actor.Sealer == nil {
		return fmt.Errorf("%w: no custody sealer: evidence cannot be registered", ErrInvalid)
	}
	for start := 0; start < len(w.pending); start += custody.MaxSealEvents {
		events := w.pending[start:min(start+custody.MaxSealEvents, len(w.pending))]
		id := w.nextSeq(metaSealSeq)
		seal, err := w.actor.Sealer.Seal(id, events, w.now)
		if err != nil {
			return fmt.Errorf("seal custody events: %w", err)
		}
		sb, err := proto.Marshal(seal)
		if err != nil {
			return err
		}
		w.put(bucketSeals, u64(id), sb)
		if err := w.tx.Bucket(bucketMeta).Put(sealKeyKey(seal.GetSignerPublicKey()), seal.GetSignerPublicKey()); err != nil {
			return err
		}
		for _, ev := range events {
			eseq := getU64(w.get(bucketEvidenceIDs, []byte(ev.GetEvidenceId())))
			eb, err := proto.Marshal(ev)
			if err != nil {
				return err
			}
			w.put(bucketCustody, custodyKey(eseq, ev.GetSeq()), eb)
			if ev.GetSeq() > 1 {
				// A chain of one event needs no head record while its item
				// is indexed (see removeEvidence and checkHead).
				w.put(bucketCustodyHeads, u64(eseq), headValue(ev))
			}
		}
	}
	w.pending = nil
	return nil
}

// CreateCase stores a new case. The caller has validated it against the
// interchange format's rules (node/caseformat).
func (s *Store) CreateCase(c *accordv1.Case, actor Actor) (*accordv1.Case, error) {
	var out *accordv1.Case
	err := s.update(actor, func(w *write) error {
		if w.get(bucketCaseIDs, []byte(c.GetCaseId())) != nil {
			return fmt.Errorf("%w: case %s", ErrExists, c.GetCaseId())
		}
		var err error
		out, _, err = w.putCase(c)
		return err
	})
	return out, err
}

// UpdateCase replaces a case's content. expectedVersion 0 accepts any stored
// version. An update that changes nothing keeps the version.
func (s *Store) UpdateCase(c *accordv1.Case, expectedVersion int64, actor Actor) (*accordv1.Case, error) {
	var out *accordv1.Case
	err := s.update(actor, func(w *write) error {
		old, _, err := w.getCase(c.GetCaseId())
		if err != nil {
			return err
		}
		if expectedVersion != 0 && old.GetVersion() != expectedVersion {
			return fmt.Errorf("%w: case %s is at version %d, not %d", ErrVersionMismatch, c.GetCaseId(), old.GetVersion(), expectedVersion)
		}
		out, _, err = w.putCase(c)
		return err
	})
	return out, err
}

// ImportCounts says what an import batch did.
type ImportCounts struct {
	Created, Updated, Unchanged int
}

// ImportBatch creates or updates cases in one transaction: either all of
// them are stored or none. Cases are applied in order, so a later case with
// the same id updates an earlier one.
func (s *Store) ImportBatch(cases []*accordv1.Case, actor Actor) (ImportCounts, error) {
	return s.ImportPrepared(s.Prepare(cases, actor), actor, false)
}

// Prepared is a case made ready, outside any transaction, to be written as
// a new case: its record as it will be stored, its index entries, and its
// evidence items with the first events of their custody chains. Imports
// prepare the next batch on another core while the store writes this one.
type Prepared struct {
	in    *accordv1.Case
	c     *accordv1.Case
	data  []byte
	ix    caseIndex
	items []prepItem
	err   error
}

type prepItem struct {
	id   string
	sum  []byte
	data []byte
	ev   *accordv1.CustodyEvent
}

// Prepare makes cases ready for ImportPrepared, on every core.
func (s *Store) Prepare(cases []*accordv1.Case, actor Actor) []*Prepared {
	now := s.now()
	out := make([]*Prepared, len(cases))
	workers := min(runtime.GOMAXPROCS(0), max(1, len(cases)/64))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(cases); i += workers {
				out[i] = prepare(cases[i], actor, now)
			}
		}()
	}
	wg.Wait()
	return out
}

func prepare(in *accordv1.Case, actor Actor, now time.Time) *Prepared {
	p := &Prepared{in: in}
	c := proto.CloneOf(in)
	c.Version, c.CreateTime, c.UpdateTime, c.UpdateBy = 1, timestamppb.New(now), timestamppb.New(now), actor.ID
	for i, e := range c.GetEvidence() {
		sum, err := hex.DecodeString(e.GetSha256())
		if err != nil || len(sum) != 32 {
			p.err = fmt.Errorf("%w: evidence[%d].sha256: not 64 hex digits", ErrInvalid, i)
			return p
		}
		data, err := proto.Marshal(&accordv1.EvidenceItem{
			Id: e.GetId(), CaseId: c.GetCaseId(), Sha256: e.GetSha256(), MediaType: e.GetMediaType(),
			Collected: e.GetCollected(), Description: e.GetDescription(), RegisteredBy: actor.ID, RegisterTime: timestamppb.New(now),
		})
		if err != nil {
			p.err = err
			return p
		}
		ev, err := custody.Next(nil, e.GetId(), accordv1.CustodyAction_CUSTODY_ACTION_REGISTERED, actor.ID, "", now)
		if err != nil {
			p.err = err
			return p
		}
		p.items = append(p.items, prepItem{id: e.GetId(), sum: sum, data: data, ev: ev})
	}
	data, err := proto.Marshal(c)
	if err != nil {
		p.err = err
		return p
	}
	p.c, p.data, p.ix = c, data, indexOf(c)
	return p
}

// ImportPrepared writes prepared cases in one transaction, like
// ImportBatch. A case that exists already (or appears twice) takes the
// ordinary update path. more says that further batches of the same import
// follow at once: their commits skip writing bbolt's freelist (a large
// import frees and reuses many pages, and writing the freelist each time
// costs about a tenth of the import's speed); the last batch writes it. If
// the process dies in between, the next open rebuilds the freelist from the
// pages, once.
func (s *Store) ImportPrepared(prepared []*Prepared, actor Actor, more bool) (ImportCounts, error) {
	var n ImportCounts
	err := s.update(actor, func(w *write) error {
		// Set inside the transaction: no other writer commits meanwhile.
		s.db.NoFreelistSync = more
		var err error
		n, err = w.importPrepared(prepared)
		return err
	})
	return n, err
}

// DryRunPrepared says what ImportPrepared would do with prepared: how many
// cases it would create, update or leave unchanged, or the error it would
// fail with. It writes nothing: the same code runs in a read-only
// transaction, whose buffered writes (which the code reads back) are
// dropped at the end instead of applied.
func (s *Store) DryRunPrepared(prepared []*Prepared, actor Actor) (ImportCounts, error) {
	var n ImportCounts
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		n, err = s.newWrite(tx, actor).importPrepared(prepared)
		return err
	})
	return n, err
}

func (w *write) importPrepared(prepared []*Prepared) (ImportCounts, error) {
	var n ImportCounts
	for _, p := range prepared {
		if p.err != nil {
			return n, fmt.Errorf("case %s: %w", p.in.GetCaseId(), p.err)
		}
		if p.in.GetCountry() != w.s.member || w.get(bucketCaseIDs, []byte(p.in.GetCaseId())) != nil || p.in.GetCaseId() == "" {
			_, result, err := w.putCase(p.in)
			if err != nil {
				return n, fmt.Errorf("case %s: %w", p.in.GetCaseId(), err)
			}
			switch result {
			case created:
				n.Created++
			case updated:
				n.Updated++
			default:
				n.Unchanged++
			}
			continue
		}
		if err := w.putPrepared(p); err != nil {
			return n, fmt.Errorf("case %s: %w", p.in.GetCaseId(), err)
		}
		n.Created++
	}
	return n, nil
}

// putPrepared writes a prepared new case.
func (w *write) putPrepared(p *Prepared) error {
	seq := w.nextSeq(metaCaseSeq)
	id := p.c.GetCaseId()
	w.put(bucketCaseIDs, []byte(id), u64(seq))
	for i, it := range p.items {
		if v := w.get(bucketEvidenceIDs, []byte(it.id)); v != nil {
			owner := "another case"
			if rec, err := w.evidenceByEseq(getU64(v)); err == nil {
				owner = "case " + rec.GetCaseId()
			}
			return fmt.Errorf("%w: evidence[%d].id: %s is already used by %s", ErrInvalid, i, it.id, owner)
		}
		eseq := w.nextSeq(metaEvidenceSeq)
		w.put(bucketEvidence, u64(eseq), it.data)
		w.put(bucketEvidenceIDs, []byte(it.id), u64(eseq))
		w.put(idxSHA256, shaKey(it.sum, eseq), []byte{})
		w.pending = append(w.pending, it.ev)
	}
	w.indexEntries(p.ix, id, seq, true)
	w.put(bucketCases, u64(seq), p.data)
	w.changed(id)
	return nil
}

// SyncFreelist commits an empty transaction that writes bbolt's freelist:
// an import that ended early after batches that skipped it calls this.
func (s *Store) SyncFreelist() error {
	return s.db.Update(func(*bolt.Tx) error {
		s.db.NoFreelistSync = false
		return nil
	})
}

// GetCase returns a case.
func (s *Store) GetCase(caseID string) (*accordv1.Case, error) {
	var out *accordv1.Case
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		out, _, err = getCase(txGetter{tx}, caseID)
		return err
	})
	return out, err
}

// deletionRecord is what the store keeps of a deleted case.
type deletionRecord struct {
	CaseID    string          `json:"case_id"`
	DeletedBy string          `json:"deleted_by"`
	DeletedAt time.Time       `json:"deleted_at"`
	Reason    string          `json:"reason"`
	Case      json.RawMessage `json:"case"`
}

// DeleteCase removes a case and its evidence index entries, and records
// who deleted it, when, why, and the case as it was. Custody chains are
// kept: they are the record of what happened to the evidence.
func (s *Store) DeleteCase(caseID, reason string, actor Actor) (*accordv1.Case, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return nil, fmt.Errorf("%w: reason: a deletion must say why", ErrInvalid)
	}
	var out *accordv1.Case
	err := s.update(actor, func(w *write) error {
		old, seq, err := w.getCase(caseID)
		if err != nil {
			return err
		}
		if err := w.removeIndexes(old, seq); err != nil {
			return err
		}
		for _, e := range old.GetEvidence() {
			if err := w.removeEvidence(e.GetId()); err != nil {
				return err
			}
		}
		w.del(bucketCases, u64(seq))
		w.del(bucketCaseIDs, []byte(caseID))
		body, err := protojson.Marshal(old)
		if err != nil {
			return err
		}
		rec, err := json.Marshal(deletionRecord{CaseID: caseID, DeletedBy: actor.ID, DeletedAt: w.now.UTC(), Reason: reason, Case: body})
		if err != nil {
			return err
		}
		key := append(append([]byte(caseID), 0), u64(uint64(w.now.UnixNano()))...)
		out = old
		w.put(bucketDeleted, key, rec)
		w.changed(caseID)
		return nil
	})
	return out, err
}

type outcome int

const (
	unchanged outcome = iota
	created
	updated
)

func getCase(g getter, caseID string) (*accordv1.Case, uint64, error) {
	v := g.get(bucketCaseIDs, []byte(caseID))
	if v == nil {
		return nil, 0, fmt.Errorf("%w: case %s", ErrNotFound, caseID)
	}
	seq := getU64(v)
	c, err := loadCase(g, seq)
	return c, seq, err
}

func loadCase(g getter, seq uint64) (*accordv1.Case, error) {
	data := g.get(bucketCases, u64(seq))
	if data == nil {
		return nil, fmt.Errorf("%w: case record %d missing", ErrCorrupt, seq)
	}
	c := &accordv1.Case{}
	if err := proto.Unmarshal(data, c); err != nil {
		return nil, fmt.Errorf("%w: case record %d: %w", ErrCorrupt, seq, err)
	}
	return c, nil
}

func (w *write) getCase(caseID string) (*accordv1.Case, uint64, error) {
	return getCase(w, caseID)
}

// sameContent reports whether two cases have the same interchange-format
// content (ignoring what the node keeps: version, times, author).
func sameContent(a, b *accordv1.Case) bool {
	x, y := proto.CloneOf(a), proto.CloneOf(b)
	for _, c := range []*accordv1.Case{x, y} {
		c.Version, c.CreateTime, c.UpdateTime, c.UpdateBy = 0, nil, nil, ""
	}
	return proto.Equal(x, y)
}

// putCase creates or updates a case with its indexes and evidence.
func (w *write) putCase(in *accordv1.Case) (*accordv1.Case, outcome, error) {
	if in.GetCountry() != w.s.member {
		return nil, unchanged, fmt.Errorf("%w: country: case %s belongs to %s, this node is %s", ErrInvalid, in.GetCaseId(), in.GetCountry(), w.s.member)
	}
	if in.GetCaseId() == "" {
		return nil, unchanged, fmt.Errorf("%w: case_id: required", ErrInvalid)
	}
	c := proto.CloneOf(in)
	var old *accordv1.Case
	var seq uint64
	result := created
	if v := w.get(bucketCaseIDs, []byte(c.GetCaseId())); v != nil {
		seq = getU64(v)
		var err error
		if old, err = loadCase(w, seq); err != nil {
			return nil, unchanged, err
		}
		if err := w.keepVaultItems(old, c); err != nil {
			return nil, unchanged, err
		}
		if sameContent(old, c) {
			return old, unchanged, nil
		}
		result = updated
		c.Version = old.GetVersion() + 1
		c.CreateTime = old.GetCreateTime()
		if err := w.removeIndexes(old, seq); err != nil {
			return nil, unchanged, err
		}
	} else {
		seq = w.nextSeq(metaCaseSeq)
		c.Version = 1
		c.CreateTime = timestamppb.New(w.now)
		w.put(bucketCaseIDs, []byte(c.GetCaseId()), u64(seq))
	}
	c.UpdateTime = timestamppb.New(w.now)
	c.UpdateBy = w.actor.ID
	if err := w.syncEvidence(old, c); err != nil {
		return nil, unchanged, err
	}
	if err := w.addIndexes(c, seq); err != nil {
		return nil, unchanged, err
	}
	data, err := proto.Marshal(c)
	if err != nil {
		return nil, unchanged, err
	}
	w.put(bucketCases, u64(seq), data)
	w.changed(c.GetCaseId())
	return c, result, nil
}

// keepVaultItems adds to c the evidence references of old that c lacks
// but that were registered from the office's vault (evidence add): a case
// register re-imported or an update written without them must not drop
// evidence the node holds, with its location and custody chain.
func (w *write) keepVaultItems(old, c *accordv1.Case) error {
	have := map[string]bool{}
	for _, e := range c.GetEvidence() {
		have[e.GetId()] = true
	}
	for _, e := range old.GetEvidence() {
		if have[e.GetId()] {
			continue
		}
		v := w.get(bucketEvidenceIDs, []byte(e.GetId()))
		if v == nil {
			continue
		}
		item, err := w.evidenceByEseq(getU64(v))
		if err != nil {
			return err
		}
		if item.GetLocation() != "" {
			c.Evidence = append(c.Evidence, proto.CloneOf(e))
		}
	}
	return nil
}

// syncEvidence brings the evidence index in line with a case's new list of
// evidence references.
func (w *write) syncEvidence(old, c *accordv1.Case) error {
	before := map[string]*accordv1.EvidenceRef{}
	for _, e := range old.GetEvidence() {
		before[e.GetId()] = e
	}
	now := map[string]bool{}
	for i, e := range c.GetEvidence() {
		now[e.GetId()] = true
		if prev, ok := before[e.GetId()]; ok {
			if prev.GetSha256() != e.GetSha256() {
				return fmt.Errorf("%w: evidence[%d].sha256: item %s is registered with another hash; register the new content as a new item",
					ErrInvalid, i, e.GetId())
			}
			if !proto.Equal(prev, e) {
				if err := w.updateEvidenceMeta(e); err != nil {
					return err
				}
			}
			continue
		}
		item := &accordv1.EvidenceItem{
			Id: e.GetId(), CaseId: c.GetCaseId(), Sha256: e.GetSha256(), MediaType: e.GetMediaType(),
			Collected: e.GetCollected(), Description: e.GetDescription(),
		}
		if v := w.vault[e.GetId()]; v != nil {
			item.Location, item.SizeBytes = v.GetLocation(), v.GetSizeBytes()
		}
		if err := w.addEvidence(c.GetCaseId(), i, item); err != nil {
			return err
		}
	}
	for id := range before {
		if !now[id] {
			if err := w.removeEvidence(id); err != nil {
				return err
			}
		}
	}
	return nil
}

// addEvidence indexes a new evidence item and opens its custody chain.
func (w *write) addEvidence(caseID string, index int, item *accordv1.EvidenceItem) error {
	if v := w.get(bucketEvidenceIDs, []byte(item.GetId())); v != nil {
		owner := "another case"
		if rec, err := w.evidenceByEseq(getU64(v)); err == nil {
			owner = "case " + rec.GetCaseId()
		}
		return fmt.Errorf("%w: evidence[%d].id: %s is already used by %s", ErrInvalid, index, item.GetId(), owner)
	}
	sum, err := hex.DecodeString(item.GetSha256())
	if err != nil || len(sum) != 32 {
		return fmt.Errorf("%w: evidence[%d].sha256: not 64 hex digits", ErrInvalid, index)
	}
	eseq := w.nextSeq(metaEvidenceSeq)
	item.RegisteredBy = w.actor.ID
	item.RegisterTime = timestamppb.New(w.now)
	if err := w.putEvidenceRecord(eseq, item); err != nil {
		return err
	}
	w.put(bucketEvidenceIDs, []byte(item.GetId()), u64(eseq))
	w.put(idxSHA256, shaKey(sum, eseq), []byte{})
	// An item from the case register needs no words: the event's actor
	// and seal say who imported it and when; a vault item says where.
	details := ""
	if item.GetLocation() != "" {
		details = "registered in the vault"
	}
	ev, err := custody.Next(nil, item.GetId(), accordv1.CustodyAction_CUSTODY_ACTION_REGISTERED, w.actor.ID, details, w.now)
	if err != nil {
		return err
	}
	w.pending = append(w.pending, ev)
	return nil
}

func (w *write) putEvidenceRecord(eseq uint64, item *accordv1.EvidenceItem) error {
	data, err := proto.Marshal(item)
	if err != nil {
		return err
	}
	w.put(bucketEvidence, u64(eseq), data)
	return nil
}

func (w *write) evidenceByEseq(eseq uint64) (*accordv1.EvidenceItem, error) {
	return evidenceByEseq(w, eseq)
}

func evidenceByEseq(g getter, eseq uint64) (*accordv1.EvidenceItem, error) {
	data := g.get(bucketEvidence, u64(eseq))
	if data == nil {
		return nil, fmt.Errorf("%w: evidence record %d missing", ErrCorrupt, eseq)
	}
	item := &accordv1.EvidenceItem{}
	if err := proto.Unmarshal(data, item); err != nil {
		return nil, fmt.Errorf("%w: evidence record %d: %w", ErrCorrupt, eseq, err)
	}
	return item, nil
}

// updateEvidenceMeta rewrites the descriptive fields of an item.
func (w *write) updateEvidenceMeta(e *accordv1.EvidenceRef) error {
	eseq := getU64(w.get(bucketEvidenceIDs, []byte(e.GetId())))
	item, err := w.evidenceByEseq(eseq)
	if err != nil {
		return err
	}
	item.MediaType, item.Collected, item.Description = e.GetMediaType(), e.GetCollected(), e.GetDescription()
	return w.putEvidenceRecord(eseq, item)
}

// removeEvidence drops an item from the index; its custody chain stays.
func (w *write) removeEvidence(id string) error {
	v := w.get(bucketEvidenceIDs, []byte(id))
	if v == nil {
		return nil
	}
	eseq := getU64(v)
	item, err := w.evidenceByEseq(eseq)
	if err != nil {
		return err
	}
	if sum, err := hex.DecodeString(item.GetSha256()); err == nil {
		w.del(idxSHA256, shaKey(sum, eseq))
	}
	// The item leaves the index but its custody chain stays: record the
	// chain's head now if it has none (a chain of one event).
	if w.tx.Bucket(bucketCustodyHeads).Get(u64(eseq)) == nil {
		var first *accordv1.CustodyEvent
		for _, ev := range w.pending {
			if ev.GetEvidenceId() == id && ev.GetSeq() == 1 {
				first = ev
			}
		}
		if first == nil {
			if data := w.tx.Bucket(bucketCustody).Get(custodyKey(eseq, 1)); data != nil {
				first = &accordv1.CustodyEvent{}
				if err := proto.Unmarshal(data, first); err != nil {
					return fmt.Errorf("%w: custody event of %s: %w", ErrCorrupt, id, err)
				}
			}
		}
		if first != nil {
			w.put(bucketCustodyHeads, u64(eseq), headValue(first))
		}
	}
	w.del(bucketEvidence, u64(eseq))
	w.del(bucketEvidenceIDs, []byte(id))
	return nil
}

// headValue is a custody_heads record: the event's seq and hash.
func headValue(ev *accordv1.CustodyEvent) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(ev.GetSeq())), ev.GetHash()...)
}

// caseIndex is what the indexes hold for one case.
type caseIndex struct {
	status byte
	places []string
	crimes []string
	days   []uint32
	long   bool
	title  string
}

func effectiveStatus(c *accordv1.Case) accordv1.CaseStatus {
	if c.GetStatus() == accordv1.CaseStatus_CASE_STATUS_UNSPECIFIED {
		return accordv1.CaseStatus_CASE_STATUS_INVESTIGATION
	}
	return c.GetStatus()
}

func dayNumber(t time.Time) uint32 {
	return uint32(t.UTC().Unix() / 86400)
}

func indexOf(c *accordv1.Case) caseIndex {
	ix := caseIndex{status: byte(effectiveStatus(c)), title: strings.ToLower(c.GetTitle())}
	for _, inc := range c.GetIncidents() {
		if p := NormalizePlace(inc.GetPlace()); p != "" && !slices.Contains(ix.places, p) {
			ix.places = append(ix.places, p)
		}
		start, end, ok := records.IncidentWindow(inc)
		if !ok {
			continue
		}
		last := end
		if end.After(start) {
			last = end.Add(-time.Nanosecond)
		}
		first, lastDay := dayNumber(start), dayNumber(last)
		if lastDay-first+1 > maxIndexedDays {
			ix.long = true
			continue
		}
		for d := first; d <= lastDay; d++ {
			if !slices.Contains(ix.days, d) {
				ix.days = append(ix.days, d)
			}
		}
	}
	for _, code := range c.GetCrimeCodes() {
		if !slices.Contains(ix.crimes, code) {
			ix.crimes = append(ix.crimes, code)
		}
	}
	return ix
}

func (w *write) addIndexes(c *accordv1.Case, seq uint64) error {
	return w.indexes(c, seq, true)
}

func (w *write) removeIndexes(c *accordv1.Case, seq uint64) error {
	return w.indexes(c, seq, false)
}

func (w *write) indexes(c *accordv1.Case, seq uint64, add bool) error {
	w.indexEntries(indexOf(c), c.GetCaseId(), seq, add)
	return nil
}

func (w *write) indexEntries(ix caseIndex, id string, seq uint64, add bool) {
	sv := u64(seq)
	type entry struct {
		bucket []byte
		key    []byte
	}
	entries := []entry{{idxStatus, statusKey(ix.status, id)}}
	for _, p := range ix.places {
		entries = append(entries, entry{idxPlace, textKey(p, id)})
	}
	for _, code := range ix.crimes {
		entries = append(entries, entry{idxCrime, textKey(code, id)})
	}
	for _, d := range ix.days {
		entries = append(entries, entry{idxDay, dayKey(d, id)})
	}
	if ix.long {
		entries = append(entries, entry{idxLongWindow, []byte(id)})
	}
	for _, e := range entries {
		if add {
			w.put(e.bucket, e.key, sv)
		} else {
			w.del(e.bucket, e.key)
		}
	}
	if add {
		w.put(bucketTitles, sv, []byte(ix.title))
	} else {
		w.del(bucketTitles, sv)
	}
}

// Conflict is a rule of the store that a valid case would break: an
// evidence id that belongs to another case, or an item whose hash changed.
type Conflict struct {
	Field  string // e.g. evidence[2].id
	Reason string
}

// CheckCase reports the conflicts a case would meet if it were written now,
// without writing anything (imports check every line before writing any).
func (s *Store) CheckCase(c *accordv1.Case) ([]Conflict, error) {
	var out []Conflict
	err := s.db.View(func(tx *bolt.Tx) error {
		g := txGetter{tx}
		for i, e := range c.GetEvidence() {
			v := g.get(bucketEvidenceIDs, []byte(e.GetId()))
			if v == nil {
				continue
			}
			item, err := evidenceByEseq(g, getU64(v))
			if err != nil {
				return err
			}
			switch {
			case item.GetCaseId() != c.GetCaseId():
				out = append(out, Conflict{Field: fmt.Sprintf("evidence[%d].id", i), Reason: fmt.Sprintf("%s is already used by case %s", e.GetId(), item.GetCaseId())})
			case item.GetSha256() != e.GetSha256():
				out = append(out, Conflict{Field: fmt.Sprintf("evidence[%d].sha256", i), Reason: fmt.Sprintf("item %s is registered with another hash; register the new content as a new item", e.GetId())})
			}
		}
		return nil
	})
	return out, err
}
