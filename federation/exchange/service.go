package exchange

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"
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

// MinBatch is the smallest: a request for fewer records per response
// (max_batch 1-99) is served MinBatch at a time, so that a caller cannot
// make the node do per-batch work (a response, a signature check at the
// receiver) for every record.
const MinBatch = 100

// Defaults of ServiceOptions.
const (
	DefaultMaxStreamsPerPeer = 4
	DefaultMaxBatchBytes     = 1 << 20
	DefaultAuditEvery        = time.Minute
	// DefaultHeartbeat is how often a follow stream with nothing to send
	// sends an empty response (the feed's head, the cursor): the caller
	// learns that this node is alive and how far its feed goes.
	DefaultHeartbeat = 5 * time.Second
)

// Service serves this node's feed: accord.v1.ExchangeService.
type Service struct {
	accordv1.UnimplementedExchangeServiceServer
	st         Store
	dir        Directory
	signer     *records.Signer
	member     string
	audit      Auditor
	logger     *slog.Logger
	now        func() time.Time
	maxAge     time.Duration
	maxStreams int
	maxBytes   int
	auditEvery time.Duration
	heartbeat  time.Duration
	onNudge    func(member string)

	mu        sync.Mutex
	streams   map[string]int    // open Sync streams per member
	following map[string]int    // open follow streams per member
	tooMany   map[string]uint64 // streams refused per member: it had as many open as it may
	closing   chan struct{}     // closed by Close: follow streams end
	closeOnce sync.Once
	// buffered is the bytes of responses the open streams hold: built and
	// not yet handed to gRPC, or handed over and possibly still queued
	// there (the last one of each stream).
	buffered atomic.Int64
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
	// MaxStreamsPerPeer is how many Sync streams one member may have open
	// on this node at once, over all its nodes (default 4); one more is
	// refused with ErrTooManyStreams.
	MaxStreamsPerPeer int
	// MaxBatchBytes bounds the records of one SyncResponse (default 1
	// MiB; a single larger record is sent alone). With gRPC's flow
	// control, a stream whose caller does not read holds at most two
	// responses on this node.
	MaxBatchBytes int
	// AuditEvery is how often a stream that keeps serving records without
	// catching up is audited between its opening and its end (default 1m);
	// a follow stream is also audited each time it has caught up.
	AuditEvery time.Duration
	// Heartbeat is how often a follow stream that is caught up sends an
	// empty response with the feed's head (default DefaultHeartbeat), so
	// that the caller can tell an idle feed from a node that stopped
	// answering. Callers expect it at the same interval (PullerOptions).
	Heartbeat time.Duration
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
	if o.MaxStreamsPerPeer <= 0 {
		o.MaxStreamsPerPeer = DefaultMaxStreamsPerPeer
	}
	if o.MaxBatchBytes <= 0 {
		o.MaxBatchBytes = DefaultMaxBatchBytes
	}
	if o.AuditEvery <= 0 {
		o.AuditEvery = DefaultAuditEvery
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = DefaultHeartbeat
	}
	if o.OnNudge == nil {
		o.OnNudge = func(string) {}
	}
	return &Service{heartbeat: o.Heartbeat, st: st, dir: dir, signer: signer, member: member, audit: audit, logger: o.Logger, now: o.Now,
		maxAge: o.MaxStreamAge, maxStreams: o.MaxStreamsPerPeer, maxBytes: o.MaxBatchBytes, auditEvery: o.AuditEvery,
		onNudge: o.OnNudge, streams: map[string]int{}, following: map[string]int{}, tooMany: map[string]uint64{},
		closing: make(chan struct{})}
}

// caller returns the calling node, which must be a registered node of
// another admitted member.
func (s *Service) caller(ctx context.Context) (identity.Identity, error) {
	id, err := identity.FromContext(ctx)
	if err != nil {
		return identity.Identity{}, err
	}
	if err := s.authorized(id); err != nil {
		return identity.Identity{}, err
	}
	return id, nil
}

// authorized checks that id is a registered node of another admitted
// member, as the registry shows now.
func (s *Service) authorized(id identity.Identity) error {
	if id.Kind != identity.KindNode || id.Member == s.member || !s.dir.NodeAdmitted(id) {
		return fmt.Errorf("%w: %s", ErrNotMember, id)
	}
	return nil
}

// Following reports whether member has a follow stream open.
func (s *Service) Following(member string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.following[member] > 0
}

// ServiceStats is what the open Sync streams hold.
type ServiceStats struct {
	// Streams are the open Sync streams per member.
	Streams map[string]int
	// Refused counts, per member, the streams refused because the member
	// had as many open as it may.
	Refused map[string]uint64
	// BufferedBytes is the size of the responses the open streams hold.
	BufferedBytes int64
}

// Stats returns what the open streams hold now.
func (s *Service) Stats() ServiceStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := ServiceStats{Streams: map[string]int{}, Refused: map[string]uint64{}, BufferedBytes: s.buffered.Load()}
	for m, n := range s.streams {
		if n > 0 {
			st.Streams[m] = n
		}
	}
	maps.Copy(st.Refused, s.tooMany)
	return st
}

// open counts a new stream of id's member, or refuses it when the member
// has as many open as it may.
func (s *Service) open(id identity.Identity, follow bool) (release func(), err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := s.streams[id.Member]; n >= s.maxStreams {
		s.tooMany[id.Member]++
		return nil, fmt.Errorf("%w: member %s has %d Sync streams open on this node, the most a member may (exchange.max_streams_per_peer); close one first", ErrTooManyStreams, id.Member, n)
	}
	s.streams[id.Member]++
	if follow {
		s.following[id.Member]++
	}
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.streams[id.Member]--
		if follow {
			s.following[id.Member]--
		}
	}, nil
}

// Sync implements ExchangeService.Sync.
func (s *Service) Sync(req *accordv1.SyncRequest, stream accordv1.ExchangeService_SyncServer) (err error) {
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
	case limit < MinBatch:
		limit = MinBatch
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
	release, err := s.open(id, req.GetFollow())
	if err != nil {
		return err
	}
	defer release()

	// The stream is audited when it opens, when it ends, and in between
	// when a follow stream has caught up or every auditEvery: never per
	// batch.
	pos := c.Seq
	sum := streamSummary{from: pos + 1, last: s.now()}
	s.audit.Audit(Event{Kind: Served, Peer: id.Member, PeerNode: id.String(), FromSeq: pos + 1, ToSeq: fi.Head, Stream: StreamOpened})
	defer func() {
		s.audit.Audit(Event{Kind: Served, Peer: id.Member, PeerNode: id.String(), Records: sum.records, FromSeq: sum.from, ToSeq: max(sum.to, sum.from), Stream: StreamClosed, Err: err})
	}()
	// held is the size of the last response handed to gRPC, which its
	// transport may still hold while the caller does not read.
	var held int64
	defer func() { s.buffered.Add(-held) }()

	expire := time.NewTimer(s.maxAge)
	defer expire.Stop()
	// beat is due when the stream has sent nothing for a heartbeat
	// interval: an empty response then tells the caller that this node is
	// alive and where its feed's head is.
	beat := time.NewTimer(s.heartbeat)
	defer beat.Stop()
	beatDue := false
	sentCaughtUp := false
	for {
		changed := s.dir.Changed()
		if err := s.authorized(id); err != nil {
			s.refused(id, err)
			return fmt.Errorf("%w; stream closed: the registry no longer shows it (member suspended or node removed)", err)
		}
		published := s.st.Published()
		resp, next, err := s.batch(id, fi.Epoch, fi.CursorKey, pos, limit)
		if err != nil {
			if errors.Is(err, ErrCursorExpired) {
				s.refused(id, err)
			}
			return err
		}
		if len(resp.Records) > 0 || (resp.CaughtUp && !sentCaughtUp) || beatDue {
			beatDue = false
			beat.Reset(s.heartbeat)
			size := int64(proto.Size(resp))
			s.buffered.Add(size)
			err := stream.Send(resp)
			s.buffered.Add(-held)
			held = size
			if err != nil {
				return err
			}
			sentCaughtUp = resp.CaughtUp
			if n := len(resp.Records); n > 0 {
				sum.add(n, pos+1, next)
				if now := s.now(); now.Sub(sum.last) >= s.auditEvery {
					s.audit.Audit(Event{Kind: Served, Peer: id.Member, PeerNode: id.String(), Records: sum.records, FromSeq: sum.from, ToSeq: sum.to, Stream: StreamProgress})
					sum = streamSummary{from: next + 1, last: now}
				}
			}
		}
		pos = next
		switch {
		case !resp.CaughtUp, len(resp.Records) > 0 && req.GetFollow():
			continue // more, or look again before waiting
		case !req.GetFollow():
			return nil
		}
		// Caught up: what was served is audited before waiting (at the
		// pace of this node's own publications, whatever the caller does).
		if sum.records > 0 {
			s.audit.Audit(Event{Kind: Served, Peer: id.Member, PeerNode: id.String(), Records: sum.records, FromSeq: sum.from, ToSeq: sum.to, Stream: StreamProgress})
			sum = streamSummary{from: pos + 1, last: s.now()}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-expire.C:
			return nil
		case <-s.closing:
			return nil
		case <-published:
		case <-changed:
		case <-beat.C:
			beatDue = req.GetFollow()
		}
	}
}

// streamSummary counts what a stream served since its last audit entry.
type streamSummary struct {
	records  int
	from, to uint64
	last     time.Time
}

func (m *streamSummary) add(n int, from, to uint64) {
	if m.records == 0 {
		m.from = from
	}
	m.records += n
	m.to = to
}

// batch reads the entries after pos that the caller may see, as records
// or tombstones meant for it, and the cursor position after them.
func (s *Service) batch(id identity.Identity, epoch uint64, key []byte, pos uint64, limit int) (*accordv1.SyncResponse, uint64, error) {
	fi, err := s.st.Feed()
	if err != nil {
		return nil, pos, err
	}
	resp := &accordv1.SyncResponse{Head: fi.Head}
	next, n, size, full := pos, 0, 0, false
	// A jit record goes to a member of its JIT signed again for that
	// member alone (FeedRecord.recipient), so that the member cannot pass
	// it on: another member refuses a jit record meant for someone else.
	// They are signed together, one batch per response.
	var forCaller []int
	var jitRecs []*accordv1.FeedRecord
	err = s.st.ReadFeed(pos, limit, func(e feed.Entry) error {
		var sr *accordv1.SignedRecord
		if e.Flags&feed.JIT != 0 && !s.dir.JITVisible(id.Member, e.CaseID) {
			w, err := s.withdrawn(id.Member, e)
			if err != nil {
				return err
			}
			sr = w
		} else {
			sr = new(accordv1.SignedRecord)
			if err := proto.Unmarshal(e.Record, sr); err != nil {
				return fmt.Errorf("feed entry %d (%s): %w", e.Seq, e.CaseID, err)
			}
			if e.Flags&feed.JIT != 0 {
				r := new(accordv1.FeedRecord)
				if err := proto.Unmarshal(sr.GetRecord(), r); err != nil {
					return fmt.Errorf("feed entry %d (%s): %w", e.Seq, e.CaseID, err)
				}
				r.Recipient = id.Member
				forCaller = append(forCaller, len(resp.Records))
				jitRecs = append(jitRecs, r)
			}
		}
		// The response stays under maxBytes (a larger record goes alone).
		rs := len(e.Record)
		if e.Flags&feed.JIT != 0 {
			rs = proto.Size(sr) // possibly a tombstone made for the caller
		}
		if n > 0 && size+rs > s.maxBytes {
			full = true
			return errBatchFull
		}
		n++
		size += rs
		next = e.Seq
		resp.Records = append(resp.Records, sr)
		return nil
	})
	if err != nil && !errors.Is(err, errBatchFull) {
		return nil, pos, err
	}
	if len(jitRecs) > 0 {
		signed, err := s.signer.SignBatch(jitRecs)
		if err != nil {
			return nil, pos, err
		}
		for i, at := range forCaller {
			resp.Records[at] = signed[i]
		}
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
	if n < limit && !full {
		resp.CaughtUp = true
		next = max(next, fi.Head)
	}
	resp.Cursor = encodeCursor(key, cursor{Epoch: epoch, Seq: next, Peer: id.Member})
	return resp, next, nil
}

// errBatchFull stops reading the feed when a response is full.
var errBatchFull = errors.New("batch full")

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
