package store

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	"github.com/accordfed/accord/node/custody"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// RegisterOptions tune RegisterEvidence.
type RegisterOptions struct {
	// AllowDuplicate registers content (a SHA-256) that the case already
	// holds as another item; without it that is ErrDuplicateContent.
	AllowDuplicate bool
}

// RegisterEvidence adds an item from the office's vault to a case: the case
// gains an evidence reference (its version goes up), the index records where
// the content is kept, and the item's custody chain opens with a signed
// "registered" event. An empty item id gets the next <case_id>-E<nnn>.
// Content the case already holds is refused (ErrDuplicateContent, naming the
// item that holds it) unless opts.AllowDuplicate.
func (s *Store) RegisterEvidence(item *accordv1.EvidenceItem, opts RegisterOptions, actor Actor) (*accordv1.EvidenceItem, *accordv1.CustodyEvent, error) {
	var out *accordv1.EvidenceItem
	var first *accordv1.CustodyEvent
	err := s.update(actor, func(w *write) error {
		c, _, err := w.getCase(item.GetCaseId())
		if err != nil {
			return err
		}
		if !opts.AllowDuplicate {
			if err := duplicateContent(w, c, item.GetSha256()); err != nil {
				return err
			}
		}
		id := item.GetId()
		if id == "" {
			id = nextEvidenceID(w, c)
		}
		next := proto.CloneOf(c)
		next.Evidence = append(next.Evidence, &accordv1.EvidenceRef{
			Id: id, Sha256: item.GetSha256(), MediaType: item.GetMediaType(),
			Collected: item.GetCollected(), Description: item.GetDescription(),
		})
		v := proto.CloneOf(item)
		v.Id = id
		w.vault = map[string]*accordv1.EvidenceItem{id: v}
		if _, _, err := w.putCase(next); err != nil {
			return err
		}
		first = w.pending[len(w.pending)-1]
		eseq := getU64(w.get(bucketEvidenceIDs, []byte(id)))
		out, err = w.evidenceByEseq(eseq)
		return err
	})
	return out, first, err
}

// duplicateContent returns ErrDuplicateContent, naming the item and when it
// was registered, when case c already holds content of this SHA-256.
func duplicateContent(w *write, c *accordv1.Case, sha string) error {
	for _, e := range c.GetEvidence() {
		if e.GetSha256() != sha {
			continue
		}
		when := ""
		if v := w.get(bucketEvidenceIDs, []byte(e.GetId())); v != nil {
			if it, err := w.evidenceByEseq(getU64(v)); err == nil && it.GetRegisterTime() != nil {
				when = " (registered " + it.GetRegisterTime().AsTime().UTC().Format(time.RFC3339) + " by " + it.GetRegisteredBy() + ")"
			}
		}
		return fmt.Errorf("%w: sha256: case %s already holds this content as evidence %s%s; set allow_duplicate to register it again",
			ErrDuplicateContent, c.GetCaseId(), e.GetId(), when)
	}
	return nil
}

// nextEvidenceID returns the first free <case_id>-E<nnn>.
func nextEvidenceID(g getter, c *accordv1.Case) string {
	for n := len(c.GetEvidence()) + 1; ; n++ {
		id := fmt.Sprintf("%s-E%03d", c.GetCaseId(), n)
		if g.get(bucketEvidenceIDs, []byte(id)) == nil {
			return id
		}
	}
}

// GetEvidence returns an item.
func (s *Store) GetEvidence(id string) (*accordv1.EvidenceItem, error) {
	var out *accordv1.EvidenceItem
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketEvidenceIDs).Get([]byte(id))
		if v == nil {
			return fmt.Errorf("%w: evidence item %s", ErrNotFound, id)
		}
		var err error
		out, err = evidenceByEseq(txGetter{tx}, getU64(v))
		return err
	})
	return out, err
}

// FindEvidenceByHash returns the items whose content has this SHA-256 (64
// lower-case hex digits).
func (s *Store) FindEvidenceByHash(sha string) ([]*accordv1.EvidenceItem, error) {
	sum, err := hex.DecodeString(sha)
	if err != nil || len(sum) != 32 || strings.ToLower(sha) != sha {
		return nil, fmt.Errorf("%w: sha256: must be 64 lower-case hex digits", ErrInvalid)
	}
	var out []*accordv1.EvidenceItem
	err = s.db.View(func(tx *bolt.Tx) error {
		for _, k := range shaLookup(tx, sum) {
			item, err := evidenceByEseq(txGetter{tx}, getU64(k[32:]))
			if err != nil {
				return err
			}
			out = append(out, item)
		}
		return nil
	})
	slices.SortFunc(out, func(a, b *accordv1.EvidenceItem) int { return strings.Compare(a.GetId(), b.GetId()) })
	return out, err
}

// AppendCustody adds an event to an item's custody chain, sealed alone.
func (s *Store) AppendCustody(evidenceID string, action accordv1.CustodyAction, details string, actor Actor) (*accordv1.CustodyEvent, error) {
	var out *accordv1.CustodyEvent
	err := s.update(actor, func(w *write) error {
		v := w.get(bucketEvidenceIDs, []byte(evidenceID))
		if v == nil {
			return fmt.Errorf("%w: evidence item %s", ErrNotFound, evidenceID)
		}
		events, err := chainTx(w.tx, getU64(v))
		if err != nil {
			return err
		}
		if len(events) == 0 {
			return fmt.Errorf("%w: evidence item %s has no custody chain", ErrCorrupt, evidenceID)
		}
		last := events[len(events)-1]
		ev, err := custody.Next(last, evidenceID, action, actor.ID, details, w.now)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		w.pending = append(w.pending, ev)
		out = ev
		return nil
	})
	return out, err
}

// CustodyChain returns an item's custody events, oldest first, and the
// seals that sign them.
func (s *Store) CustodyChain(evidenceID string) ([]*accordv1.CustodyEvent, []*accordv1.CustodySeal, error) {
	var events []*accordv1.CustodyEvent
	var seals []*accordv1.CustodySeal
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketEvidenceIDs).Get([]byte(evidenceID))
		if v == nil {
			return fmt.Errorf("%w: evidence item %s", ErrNotFound, evidenceID)
		}
		var err error
		events, err = chainTx(tx, getU64(v))
		if err != nil {
			return err
		}
		seen := map[uint64]bool{}
		for _, ev := range events {
			if seen[ev.GetSealId()] {
				continue
			}
			seen[ev.GetSealId()] = true
			seal, err := sealTx(tx, ev.GetSealId())
			if errors.Is(err, custody.ErrSealNotFound) {
				continue // shown without it; VerifyCustody names the break
			}
			if err != nil {
				return err
			}
			seals = append(seals, seal)
		}
		return nil
	})
	return events, seals, err
}

func chainTx(tx *bolt.Tx, eseq uint64) ([]*accordv1.CustodyEvent, error) {
	var events []*accordv1.CustodyEvent
	prefix := u64(eseq)
	c := tx.Bucket(bucketCustody).Cursor()
	for k, data := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, data = c.Next() {
		ev := &accordv1.CustodyEvent{}
		if err := proto.Unmarshal(data, ev); err != nil {
			// A record that no longer decodes is itself a broken link;
			// keep a placeholder so that the verifier names it.
			ev = &accordv1.CustodyEvent{Seq: -1, Details: "undecodable record: " + err.Error()}
		}
		events = append(events, ev)
	}
	return events, nil
}

// checkHead compares a chain's last event with the head the store recorded:
// a verified chain that stops short has lost its last events.
func checkHead(tx *bolt.Tx, eseq uint64, id string, events []*accordv1.CustodyEvent) *custody.Break {
	head := tx.Bucket(bucketCustodyHeads).Get(u64(eseq))
	if head == nil {
		// No head: the chain must be a single event of an indexed item.
		switch {
		case len(events) == 0:
			return &custody.Break{EvidenceID: id, Seq: 1, Kind: custody.KindSequence, Reason: "every event of the chain is missing"}
		case len(events) > 1:
			return &custody.Break{EvidenceID: id, Seq: 2, Kind: custody.KindSequence, Reason: "the chain has more than one event but no record of its last one"}
		case tx.Bucket(bucketEvidence).Get(u64(eseq)) == nil:
			return &custody.Break{EvidenceID: id, Seq: 2, Kind: custody.KindSequence, Reason: "the record of the chain's last event is missing"}
		}
		return nil
	}
	if len(head) != 4+32 {
		return &custody.Break{EvidenceID: id, Seq: 0, Kind: custody.KindSequence, Reason: "the record of the chain's last event is damaged"}
	}
	want := int64(binary.BigEndian.Uint32(head[:4]))
	if len(events) == 0 {
		return &custody.Break{EvidenceID: id, Seq: 1, Kind: custody.KindSequence, Reason: "every event of the chain is missing"}
	}
	last := events[len(events)-1]
	if last.GetSeq() != want || !bytes.Equal(last.GetHash(), head[4:]) {
		return &custody.Break{EvidenceID: id, Seq: last.GetSeq() + 1, Kind: custody.KindSequence,
			Reason: fmt.Sprintf("the chain ends at event %d but %d events were recorded: the events after %d are missing", last.GetSeq(), want, last.GetSeq())}
	}
	return nil
}

func sealTx(tx *bolt.Tx, id uint64) (*accordv1.CustodySeal, error) {
	data := tx.Bucket(bucketSeals).Get(u64(id))
	if data == nil {
		return nil, fmt.Errorf("seal %d: %w", id, custody.ErrSealNotFound)
	}
	seal := &accordv1.CustodySeal{}
	if err := proto.Unmarshal(data, seal); err != nil {
		return nil, fmt.Errorf("%w: seal %d: %w", ErrCorrupt, id, err)
	}
	return seal, nil
}

// CustodyReport is the outcome of VerifyCustody.
type CustodyReport struct {
	Chains int
	Events int
	Breaks []*custody.Break
}

// VerifyCustody checks the custody chain of one item, or of every item
// ever registered (evidenceID empty), including items whose case was
// deleted. trustedKey, when not nil, decides whether a seal's signing key is
// acceptable.
func (s *Store) VerifyCustody(evidenceID string, trustedKey func(spkiDER []byte) error) (CustodyReport, error) {
	var rep CustodyReport
	defer s.trimAfterScan()
	err := s.db.View(func(tx *bolt.Tx) error {
		v := custody.NewVerifier(func(id uint64) (*accordv1.CustodySeal, error) { return sealTx(tx, id) }, trustedKey)
		check := func(eseq uint64, events []*accordv1.CustodyEvent) {
			rep.Chains++
			rep.Events += len(events)
			id := ""
			if len(events) > 0 {
				id = events[0].GetEvidenceId()
			}
			if item, err := evidenceByEseq(txGetter{tx}, eseq); err == nil {
				id = item.GetId()
			}
			if b := v.VerifyChain(id, events); b != nil {
				rep.Breaks = append(rep.Breaks, b)
				return
			}
			if b := checkHead(tx, eseq, id, events); b != nil {
				rep.Breaks = append(rep.Breaks, b)
			}
		}
		if evidenceID != "" {
			ev := tx.Bucket(bucketEvidenceIDs).Get([]byte(evidenceID))
			if ev == nil {
				return fmt.Errorf("%w: evidence item %s", ErrNotFound, evidenceID)
			}
			events, err := chainTx(tx, getU64(ev))
			if err != nil {
				return err
			}
			check(getU64(ev), events)
			return nil
		}
		// Every chain the store knows of: items in the index and chains
		// with a recorded head. One that has no events vanished whole.
		var known []uint64
		for _, b := range [][]byte{bucketEvidence, bucketCustodyHeads} {
			kc := tx.Bucket(b).Cursor()
			for k, _ := kc.First(); k != nil; k, _ = kc.Next() {
				known = append(known, getU64(k))
			}
		}
		slices.Sort(known)
		known = slices.Compact(known)
		ki := 0
		missingBefore := func(eseq uint64) {
			for ; ki < len(known) && known[ki] < eseq; ki++ {
				rep.Chains++
				rep.Breaks = append(rep.Breaks, &custody.Break{Seq: 1, Kind: custody.KindSequence,
					EvidenceID: fmt.Sprintf("(evidence record %d)", known[ki]), Reason: "every event of the chain is missing"})
			}
			if ki < len(known) && known[ki] == eseq {
				ki++
			}
		}
		c := tx.Bucket(bucketCustody).Cursor()
		var cur uint64
		var events []*accordv1.CustodyEvent
		for k, data := c.First(); k != nil; k, data = c.Next() {
			eseq := getU64(k[:8])
			if eseq != cur && events != nil {
				missingBefore(cur)
				check(cur, events)
				events = nil
			}
			cur = eseq
			if rep.Events%(1<<17) == 0 {
				_ = s.trimTx(tx) // keep the scan's pages from piling up in memory
			}
			ev := &accordv1.CustodyEvent{}
			if err := proto.Unmarshal(data, ev); err != nil {
				ev = &accordv1.CustodyEvent{Seq: -1, Details: "undecodable record: " + err.Error()}
			}
			events = append(events, ev)
		}
		if events != nil {
			missingBefore(cur)
			check(cur, events)
		}
		missingBefore(^uint64(0))
		return nil
	})
	return rep, err
}

// KnownSealKey accepts a custody signing key (DER SPKI) that this store
// recorded when the key sealed events through the store, and refuses any
// other: a seal made outside the node is a broken link.
func (s *Store) KnownSealKey(spki []byte) error {
	var ok bool
	_ = s.db.View(func(tx *bolt.Tx) error {
		ok = tx.Bucket(bucketMeta).Get(sealKeyKey(spki)) != nil
		return nil
	})
	if !ok {
		return fmt.Errorf("%w: seal signed by a key this node never used", ErrInvalid)
	}
	return nil
}

// trimAfterScan drops the pages a scan of the whole store brought into the
// process's resident memory.
func (s *Store) trimAfterScan() {
	if err := s.Trim(); err != nil {
		s.logger.Warn("could not trim the store's mapping", "err", err)
	}
}
