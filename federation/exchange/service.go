package exchange

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/accordfed/accord/federation/feed"
	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/records"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// MaxBatch is the largest number of records in one SyncResponse.
const MaxBatch = 1000

// Service serves this node's feed: accord.v1.ExchangeService.
type Service struct {
	accordv1.UnimplementedExchangeServiceServer
	st      Store
	dir     Directory
	signer  *records.Signer
	member  string
	audit   Auditor
	logger  *slog.Logger
	now     func() time.Time
	maxAge  time.Duration
	onNudge func(member string)

	mu        sync.Mutex
	following map[string]int // open follow streams per member
	closing   chan struct{}  // closed by Close: follow streams end
	closeOnce sync.Once
}

// Close ends every follow stream (their callers reconnect elsewhere or
// later), so that a graceful server stop does not wait for them.
func (s *Service) Close() {
	s.closeOnce.Do(func() { close(s.closing) })
}

// ServiceOptions configure a Service.
type ServiceOptions struct {
	// MaxStreamAge closes a follow stream after this long (default 10m);
	// the peer reconnects, and is re-authorised.
	MaxStreamAge time.Duration
	// OnNudge is called when a member's node nudges this one.
	OnNudge func(member string)
	Now     func() time.Time
	Logger  *slog.Logger
}

// NewService returns the service of member's feed.
func NewService(st Store, dir Directory, member string, signer *records.Signer, audit Auditor, o ServiceOptions) *Service {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxStreamAge == 0 {
		o.MaxStreamAge = 10 * time.Minute
	}
	if o.OnNudge == nil {
		o.OnNudge = func(string) {}
	}
	return &Service{st: st, dir: dir, signer: signer, member: member, audit: audit, logger: o.Logger, now: o.Now,
		maxAge: o.MaxStreamAge, onNudge: o.OnNudge, following: map[string]int{}, closing: make(chan struct{})}
}

// caller returns the calling node, which must be of another admitted
// member.
func (s *Service) caller(ctx context.Context) (identity.Identity, error) {
	id, err := identity.FromContext(ctx)
	if err != nil {
		return identity.Identity{}, err
	}
	if id.Kind != identity.KindNode || id.Member == s.member || !s.dir.Admitted(id.Member) {
		return identity.Identity{}, fmt.Errorf("%w: %s", ErrNotMember, id)
	}
	return id, nil
}

// Following reports whether member has a follow stream open.
func (s *Service) Following(member string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.following[member] > 0
}

// Sync implements ExchangeService.Sync.
func (s *Service) Sync(req *accordv1.SyncRequest, stream accordv1.ExchangeService_SyncServer) error {
	ctx := stream.Context()
	id, err := s.caller(ctx)
	if err != nil {
		return err
	}
	limit := int(req.GetMaxBatch())
	switch {
	case limit == 0:
		limit = MaxBatch
	case limit < 0 || limit > MaxBatch:
		return fmt.Errorf("%w: max_batch: %d: must be 1-%d", ErrRequest, limit, MaxBatch)
	}
	fi, err := s.st.Feed()
	if err != nil {
		return err
	}
	c, err := resumeCursor(fi, id.Member, req.GetCursor())
	if err != nil {
		s.refused(id, err)
		return err
	}
	if req.GetFollow() {
		s.mu.Lock()
		s.following[id.Member]++
		s.mu.Unlock()
		defer func() {
			s.mu.Lock()
			s.following[id.Member]--
			s.mu.Unlock()
		}()
	}
	expire := time.NewTimer(s.maxAge)
	defer expire.Stop()
	pos := c.Seq
	sentCaughtUp := false
	for {
		published := s.st.Published()
		resp, next, err := s.batch(id, fi.Epoch, fi.CursorKey, pos, limit)
		if err != nil {
			if errors.Is(err, ErrCursorExpired) {
				s.refused(id, err)
			}
			return err
		}
		if len(resp.Records) > 0 || (resp.CaughtUp && !sentCaughtUp) {
			if err := stream.Send(resp); err != nil {
				return err
			}
			sentCaughtUp = resp.CaughtUp
			if n := len(resp.Records); n > 0 {
				s.audit.Audit(Event{Kind: Served, Peer: id.Member, PeerNode: id.String(), Records: n, FromSeq: pos + 1, ToSeq: next})
			}
		}
		pos = next
		switch {
		case !resp.CaughtUp, len(resp.Records) > 0 && req.GetFollow():
			continue // more, or look again before waiting
		case !req.GetFollow():
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-expire.C:
			return nil
		case <-s.closing:
			return nil
		case <-published:
		}
	}
}

// batch reads the entries after pos that the caller may see, as records
// or tombstones meant for it, and the cursor position after them.
func (s *Service) batch(id identity.Identity, epoch uint64, key []byte, pos uint64, limit int) (*accordv1.SyncResponse, uint64, error) {
	fi, err := s.st.Feed()
	if err != nil {
		return nil, pos, err
	}
	resp := &accordv1.SyncResponse{Head: fi.Head}
	next, n := pos, 0
	err = s.st.ReadFeed(pos, limit, func(e feed.Entry) error {
		n++
		next = e.Seq
		if e.Flags&feed.JIT != 0 && !s.dir.JITVisible(id.Member, e.CaseID) {
			sr, err := s.withdrawn(id.Member, e)
			if err != nil {
				return err
			}
			resp.Records = append(resp.Records, sr)
			return nil
		}
		var sr accordv1.SignedRecord
		if err := proto.Unmarshal(e.Record, &sr); err != nil {
			return fmt.Errorf("feed entry %d (%s): %w", e.Seq, e.CaseID, err)
		}
		resp.Records = append(resp.Records, &sr)
		return nil
	})
	if err != nil {
		return nil, pos, err
	}
	// Purging tombstones raises the floor. Once it is above pos, the
	// tombstones between pos and the floor are gone, and the entries just
	// read may have skipped them: the caller would keep cases that were
	// withdrawn. The floor is read again after the entries, so a purge
	// that the read missed shows here; the caller must resync (at pos 0,
	// the start of the feed, nothing can be missed: the caller holds none
	// of the cases those tombstones withdrew).
	if pos > 0 {
		now, err := s.st.Feed()
		if err != nil {
			return nil, pos, err
		}
		if now.Floor > pos {
			return nil, pos, fmt.Errorf("%w: the feed was compacted past this stream's position (feed seq %d; retained from %d)", ErrCursorExpired, pos, now.Floor)
		}
	}
	if n < limit {
		resp.CaughtUp = true
		next = max(next, fi.Head)
	}
	resp.Cursor = encodeCursor(key, cursor{Epoch: epoch, Seq: next, Peer: id.Member})
	return resp, next, nil
}

// withdrawn is the tombstone of a jit case for a member that may not see
// it, signed for that member alone.
func (s *Service) withdrawn(member string, e feed.Entry) (*accordv1.SignedRecord, error) {
	out, err := s.signer.SignBatch([]*accordv1.FeedRecord{{
		Origin: s.member, CaseId: e.CaseID, Seq: e.Seq, Tombstone: true, Recipient: member, PublishTime: timestamppb.New(s.now()),
	}})
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

func (s *Service) refused(id identity.Identity, err error) {
	s.audit.Audit(Event{Kind: Refused, Peer: id.Member, PeerNode: id.String(), Err: err})
}

// Nudge implements ExchangeService.Nudge.
func (s *Service) Nudge(ctx context.Context, req *accordv1.NudgeRequest) (*accordv1.NudgeResponse, error) {
	id, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	s.onNudge(id.Member)
	return &accordv1.NudgeResponse{}, nil
}
