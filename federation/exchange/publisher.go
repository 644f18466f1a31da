package exchange

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/accordfed/accord/federation/feed"
	"github.com/accordfed/accord/federation/records"
	"github.com/accordfed/accord/federation/redact"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// publishBatch is how many changes one publication takes at most.
const publishBatch = 4096

// Publisher turns the store's changes into signed feed entries.
type Publisher struct {
	st      Store
	signer  *records.Signer
	member  string
	encoder func() records.PersonEncoder
	now     func() time.Time
	logger  *slog.Logger
	// published is called after each publication with the new head.
	published func(head uint64)
	names     *redact.Names
	withheld  func(Withheld)
}

// Withheld is what one publication kept out of its records' free text:
// per field (records.FieldTitle, ...), how many words were blanked and in
// which cases. Never the words.
type Withheld struct {
	Words map[string]int
	Cases map[string][]string
}

// PublisherOptions configure a Publisher.
type PublisherOptions struct {
	// Encoder returns the person encoder of the current federation key, or
	// nil while there is none (persons are then not shared).
	Encoder func() records.PersonEncoder
	// Published is called after each publication (nudge the peers).
	Published func(head uint64)
	Now       func() time.Time
	Logger    *slog.Logger
	// Names are the names and birth years of every person the office
	// holds: every shared free-text field is checked against them (and
	// against the case's own persons). The publisher adds the persons of
	// each case it publishes. Nil: each case's own persons only.
	Names *redact.Names
	// Withheld is called after each publication that blanked anything
	// (count it, audit it).
	Withheld func(Withheld)
}

// NewPublisher returns the publisher of member's feed.
func NewPublisher(st Store, member string, signer *records.Signer, o PublisherOptions) *Publisher {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Encoder == nil {
		o.Encoder = func() records.PersonEncoder { return nil }
	}
	if o.Published == nil {
		o.Published = func(uint64) {}
	}
	if o.Withheld == nil {
		o.Withheld = func(Withheld) {}
	}
	return &Publisher{st: st, signer: signer, member: member, encoder: o.Encoder, now: o.Now, logger: o.Logger, published: o.Published,
		names: o.Names, withheld: o.Withheld}
}

// Run publishes changes as they come until ctx ends.
func (p *Publisher) Run(ctx context.Context) {
	for {
		changed := p.st.Changed()
		n, err := p.PublishPending()
		switch {
		case err != nil:
			p.logger.Error("publishing the feed failed; retrying", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
			continue
		case n > 0:
			continue // there may be more
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
	}
}

// PublishPending publishes the next batch of changes and returns how many
// changes it took (0: none pending).
func (p *Publisher) PublishPending() (int, error) {
	fi, err := p.st.Feed()
	if err != nil {
		return 0, err
	}
	changes, err := p.st.Changes(fi.PublishedChange, publishBatch)
	if err != nil || len(changes) == 0 {
		return 0, err
	}
	// The latest change of each case, in the order of those changes.
	last := map[string]int{}
	for i, c := range changes {
		last[c.CaseID] = i
	}
	var ids []string
	for i, c := range changes {
		if last[c.CaseID] == i {
			ids = append(ids, c.CaseID)
		}
	}
	recs, flags, withheld, err := p.build(ids)
	if err != nil {
		return 0, err
	}
	var pubs []feed.Publication
	var batch []*accordv1.FeedRecord
	now := timestamppb.New(p.now())
	for i, r := range recs {
		if r == nil {
			continue
		}
		r.Seq = fi.Head + 1 + uint64(len(batch))
		r.PublishTime = now
		batch = append(batch, r)
		pubs = append(pubs, feed.Publication{CaseID: ids[i], Flags: flags[i]})
	}
	signed, err := p.signer.SignBatch(batch)
	if err != nil {
		return 0, err
	}
	for i, sr := range signed {
		b, err := proto.Marshal(sr)
		if err != nil {
			return 0, err
		}
		pubs[i].Record = b
	}
	if err := p.st.Publish(changes[len(changes)-1].Seq, fi.Head+1, pubs); err != nil {
		return 0, err
	}
	if len(withheld.Words) > 0 {
		p.withheld(withheld)
	}
	if len(pubs) > 0 {
		p.logger.Debug("feed published", "records", len(pubs), "head", fi.Head+uint64(len(pubs)))
		p.published(fi.Head + uint64(len(pubs)))
	}
	return len(changes), nil
}

// build makes the record of each case (nil when there is nothing to
// publish) and its feed flags, on every core, and says what it withheld.
// The office's names learn every person of the batch before any case of it
// is projected.
func (p *Publisher) build(ids []string) ([]*accordv1.FeedRecord, []byte, Withheld, error) {
	recs := make([]*accordv1.FeedRecord, len(ids))
	flags := make([]byte, len(ids))
	found := make([]*accordv1.Case, len(ids))
	held := make([]records.Withheld, len(ids))
	enc := p.encoder()
	err := parallel(len(ids), func(i int) (err error) {
		found[i], err = p.st.FindCase(ids[i])
		return err
	})
	if err != nil {
		return nil, nil, Withheld{}, err
	}
	if p.names != nil {
		for _, c := range found {
			if c != nil {
				records.AddPersons(p.names, c)
			}
		}
	}
	if prep, ok := enc.(records.PersonPreparer); ok {
		// The pair tokens the other members' nodes evaluate for these
		// persons, before the cases are published without them.
		prep.Prepare(found)
	}
	err = parallel(len(ids), func(i int) (err error) {
		recs[i], flags[i], held[i], err = p.record(ids[i], found[i], enc)
		return err
	})
	if err != nil {
		return nil, nil, Withheld{}, err
	}
	var w Withheld
	for i, h := range held {
		for field, n := range h.Fields {
			if w.Words == nil {
				w.Words, w.Cases = map[string]int{}, map[string][]string{}
			}
			w.Words[field] += n
			w.Cases[field] = append(w.Cases[field], ids[i])
		}
	}
	return recs, flags, w, nil
}

// parallel runs fn(0..n-1) on every core and returns the first error.
func parallel(n int, fn func(i int) error) error {
	workers := min(runtime.GOMAXPROCS(0), max(1, n/64))
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				if err := fn(i); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	return firstErr
}

// record makes one case's record (c is the case as found, nil when it is
// gone): its shared form, a tombstone when a case that was shared is gone,
// no longer shareable or withheld (its id carries a name), or nil.
func (p *Publisher) record(id string, c *accordv1.Case, enc records.PersonEncoder) (*accordv1.FeedRecord, byte, records.Withheld, error) {
	var w records.Withheld
	if c != nil && records.Shareable(c) {
		sc, held, err := records.Project(c, enc, p.names)
		if err != nil {
			return nil, 0, w, fmt.Errorf("case %s: %w", id, err)
		}
		w = held
		if sc != nil {
			var f byte
			if sc.GetSensitivity() == accordv1.Sensitivity_SENSITIVITY_JIT {
				f = feed.JIT
			}
			return &accordv1.FeedRecord{Origin: p.member, CaseId: id, Case: sc}, f, w, nil
		}
	}
	_, f, ok, err := p.st.SharedState(id)
	if err != nil || !ok || f&feed.Tombstone != 0 {
		return nil, 0, w, err // never shared, or already withdrawn
	}
	return &accordv1.FeedRecord{Origin: p.member, CaseId: id, Tombstone: true}, feed.Tombstone, w, nil
}
