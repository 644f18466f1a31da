package coordination

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"

	"github.com/accordfed/accord/federation/registry"
	"github.com/accordfed/accord/node/grpcserver"
	"github.com/accordfed/accord/node/matchwatch"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// The defaults of WatchMatches' limits (WithWatchLimits).
const (
	// DefaultWatchHeartbeat is how often an idle WatchMatches stream
	// carries a heartbeat: well under the idle timeouts of common proxies
	// (60 s).
	DefaultWatchHeartbeat = 15 * time.Second
	// DefaultWatchBuffer is how many events a WatchMatches stream holds
	// for a client that does not read before it is cut.
	DefaultWatchBuffer = 1024
)

// errWatchFull ends a stream whose client does not read.
var errWatchFull = errors.New("the client does not read")

// waiter is what WatchMatches needs of the registry beyond Registry
// (*registryraft.Node has it).
type waiter interface {
	WaitApplied(ctx context.Context, index uint64) error
}

// WithWatchLimits sets WatchMatches' heartbeat interval and the events a
// stream holds for a client that does not read (<= 0: the defaults).
func (s *Service) WithWatchLimits(heartbeat time.Duration, buffer int) {
	s.watchHeartbeat, s.watchBuffer = heartbeat, buffer
}

// Close ends the open WatchMatches streams (cleanly: the client sees the
// stream end with UNAVAILABLE and resumes elsewhere or later), so that a
// graceful stop of the server does not wait for them. Idempotent.
func (s *Service) Close() {
	s.closeOnce.Do(func() { close(s.closing) })
}

type watchSource struct {
	Registry
	waiter
}

// WatchMatches implements CoordinationService.WatchMatches: a follower of
// the registry's changes (matchwatch.Follow) fills a bounded buffer, the
// handler sends it and a heartbeat while nothing changes.
func (s *Service) WatchMatches(req *accordv1.WatchMatchesRequest, stream grpc.ServerStreamingServer[accordv1.WatchMatchesResponse]) error {
	ctx := stream.Context()
	id, err := s.user(ctx)
	if err != nil {
		return err
	}
	w, ok := s.reg.(waiter)
	if !ok {
		return grpcserver.ToStatus(fmt.Errorf("%w: this node's registry cannot be watched", grpcserver.ErrFailedPrecondition))
	}
	src := watchSource{s.reg, w}
	// A linearizable read: the node has applied everything the registry
	// committed (a node just restarted catches up first), so a since
	// beyond it is ahead of the registry itself, not of this node.
	applied, err := s.reg.Read(ctx, true, func(registry.View) {})
	if err != nil {
		return grpcserver.ToStatus(err)
	}
	since := req.GetSince()
	switch {
	case since > applied:
		return grpcserver.ToStatus(invalidf("since: %d is ahead of this node's registry (applied index %d): pass the index of the last event seen, or 0 for from now", since, applied))
	case since == 0:
		since = applied
	}
	heartbeat, buffer := s.watchHeartbeat, s.watchBuffer
	if heartbeat <= 0 {
		heartbeat = DefaultWatchHeartbeat
	}
	if buffer <= 0 {
		buffer = DefaultWatchBuffer
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	events := make(chan *accordv1.WatchMatchesResponse, buffer)
	followed := make(chan error, 1)
	go func() {
		followed <- matchwatch.Follow(ctx, src, id.Member, since, func(evs []matchwatch.Event) error {
			for _, e := range evs {
				if req.GetAwaitingAnswer() && !matchwatch.Waits(e.Decision, id.Member) {
					continue
				}
				select {
				case events <- toMatchEvent(e):
				default:
					return errWatchFull
				}
			}
			return nil
		})
	}()
	// One goroutine sends (events and heartbeats); this one watches the
	// follower, the sender and the service's closing. A client that does
	// not read blocks the sender in Send, the buffer fills, the follower
	// stops with errWatchFull and the handler returns: gRPC then ends the
	// stream, which unblocks the sender.
	var last atomic.Uint64
	last.Store(since)
	sent := make(chan error, 1)
	go func() { sent <- s.sendWatch(ctx, stream, events, heartbeat, &last) }()
	select {
	case err := <-sent:
		return err
	case err := <-followed:
		switch {
		case errors.Is(err, errWatchFull):
			return grpcserver.ToStatus(fmt.Errorf("%w: the client did not read %d events in time; resume with since = the index of the last event it read (at most %d)", grpcserver.ErrResourceExhausted, buffer, last.Load()))
		case ctx.Err() != nil:
			return ctx.Err()
		default:
			return grpcserver.ToStatus(err)
		}
	case <-s.closing:
		return grpcserver.ToStatus(fmt.Errorf("%w: the node is stopping; resume with since=%d", grpcserver.ErrUnavailable, last.Load()))
	}
}

// sendWatch sends the events as they come, and a heartbeat after each
// idle interval, until ctx ends or a Send fails.
func (s *Service) sendWatch(ctx context.Context, stream grpc.ServerStreamingServer[accordv1.WatchMatchesResponse],
	events <-chan *accordv1.WatchMatchesResponse, heartbeat time.Duration, last *atomic.Uint64) error {
	tick := time.NewTicker(heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ev := <-events:
			if err := stream.Send(ev); err != nil {
				return err
			}
			last.Store(ev.GetIndex())
			tick.Reset(heartbeat)
		case <-tick.C:
			// The last position sent: an index read ahead of the
			// buffer could skip events on resuming.
			at := last.Load()
			if err := stream.Send(&accordv1.WatchMatchesResponse{Heartbeat: true, Index: at}); err != nil {
				return err
			}
		}
	}
}

var eventKinds = map[matchwatch.Kind]accordv1.MatchEventKind{
	matchwatch.KindCreated:      accordv1.MatchEventKind_MATCH_EVENT_KIND_CREATED,
	matchwatch.KindAnswered:     accordv1.MatchEventKind_MATCH_EVENT_KIND_ANSWERED,
	matchwatch.KindStateChanged: accordv1.MatchEventKind_MATCH_EVENT_KIND_STATE_CHANGED,
}

func toMatchEvent(e matchwatch.Event) *accordv1.WatchMatchesResponse {
	out := &accordv1.WatchMatchesResponse{Kind: eventKinds[e.Kind], MatchDecision: toMatch(&e.Decision), Index: e.Index}
	if e.Answer != nil {
		out.Answer = toAnswers([]registry.Consent{*e.Answer})[0]
	}
	return out
}
