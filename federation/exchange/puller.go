package exchange

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"sort"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/accordfed/accord/federation/feed"
	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/records"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// Dialer returns a client of a peer's ExchangeService, over mutual TLS
// with a check that the server is exactly the peer's node.
type Dialer func(p Peer) (accordv1.ExchangeServiceClient, error)

// PeerStatus is how pulling from one member goes.
type PeerStatus struct {
	Member  string
	Node    string
	Address string
	// Connected: a Sync stream is open now (a message came on it).
	Connected bool
	// Answering: the peer sent something on the open stream (records or a
	// heartbeat) within the puller's SilentAfter, or this node is still
	// busy with what it sent. When false, Head and Lag are as last heard
	// and may be out of date: the lag is unknown.
	Answering bool
	// LastHeard is when the peer last sent anything (records or a
	// heartbeat); LastChange when records last came (an idle feed sends
	// none); CaughtUp when this node last knew it held the peer's whole
	// feed.
	LastHeard, LastChange, CaughtUp time.Time
	// Head is the peer's feed head as last heard; Seq the highest feed seq
	// received.
	Head, Seq uint64
	// Received counts records stored, Refused records refused (bad
	// signature, malformed, not meant for this member), Stale records
	// older than the copy held; Resyncs full resyncs.
	Received, Refused, Stale, Resyncs int
	// LastError is the last failure, if the last attempt failed.
	LastError string

	// waitingSince is when the receiver started waiting for the peer's
	// next message (zero while it is not waiting: no stream, or this node
	// still handling what came).
	waitingSince time.Time
}

// Lag is how many feed entries the member is behind its head as last
// heard (0 when caught up); unknown when the peer is not Answering.
func (s PeerStatus) Lag() uint64 {
	if s.Head > s.Seq {
		return s.Head - s.Seq
	}
	return 0
}

// BehindFor is how long this node has not known itself caught up with the
// peer at now: 0 while the peer answers and the node holds its whole feed,
// otherwise since the node last was caught up (or, when it never was,
// since it last heard the peer). A peer that stopped answering counts as
// behind from the last time the node knew it was caught up.
func (s PeerStatus) BehindFor(now time.Time) time.Duration {
	if s.Answering && s.Seq >= s.Head {
		return 0
	}
	since := s.CaughtUp
	if since.IsZero() {
		since = s.LastHeard
	}
	if since.IsZero() || now.Before(since) {
		return 0
	}
	return now.Sub(since)
}

// Puller keeps the federation index: it pulls every other admitted
// member's feed.
type Puller struct {
	self     identity.Identity
	st       Store
	dir      Directory
	verifier *records.Verifier
	dial     Dialer
	audit    Auditor
	logger   *slog.Logger
	onChange func(origin string, caseIDs []string)
	silent   time.Duration
	now      func() time.Time

	mu     sync.Mutex
	status map[string]*PeerStatus
	wake   map[string]chan struct{}
	cancel map[string]context.CancelFunc
	wg     sync.WaitGroup
}

// PullerOptions configure a Puller.
type PullerOptions struct {
	// OnChange is called after records of origin were stored or removed
	// (for incremental matching).
	OnChange func(origin string, caseIDs []string)
	// SilentAfter is how long the peer may send nothing on an open stream
	// (peers send a heartbeat every ServiceOptions.Heartbeat) before it
	// counts as not answering and the stream is closed and opened again
	// (default twice DefaultHeartbeat).
	SilentAfter time.Duration
	Now         func() time.Time
	Logger      *slog.Logger
}

// NewPuller returns the puller of the node self.
func NewPuller(self identity.Identity, st Store, dir Directory, dial Dialer, audit Auditor, o PullerOptions) *Puller {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.OnChange == nil {
		o.OnChange = func(string, []string) {}
	}
	if o.SilentAfter <= 0 {
		o.SilentAfter = 2 * DefaultHeartbeat
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Puller{
		self: self, st: st, dir: dir, verifier: records.NewVerifier(dir.Key), dial: dial, audit: audit,
		logger: o.Logger, onChange: o.OnChange, silent: o.SilentAfter, now: o.Now,
		status: map[string]*PeerStatus{}, wake: map[string]chan struct{}{}, cancel: map[string]context.CancelFunc{},
	}
}

// Run pulls from every peer the directory lists, following changes of the
// list, until ctx ends.
func (p *Puller) Run(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		p.reconcile(ctx)
		select {
		case <-ctx.Done():
			p.wg.Wait()
			return
		case <-t.C:
		}
	}
}

// reconcile starts a pull loop for each new peer and stops those of
// members no longer listed (or whose node moved).
func (p *Puller) reconcile(ctx context.Context) {
	want := map[string]Peer{}
	for _, peer := range p.dir.Peers() {
		if peer.Member != p.self.Member {
			want[peer.Member] = peer
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for m, cancel := range p.cancel {
		st := p.status[m]
		if peer, ok := want[m]; !ok || peer.Address != st.Address || peer.Node.String() != st.Node {
			cancel()
			delete(p.cancel, m)
		}
	}
	for m, peer := range want {
		if _, ok := p.cancel[m]; ok {
			continue
		}
		pctx, cancel := context.WithCancel(ctx)
		p.cancel[m] = cancel
		st, ok := p.status[m]
		if !ok {
			st = &PeerStatus{Member: m}
			p.status[m] = st
		}
		st.Node, st.Address = peer.Node.String(), peer.Address
		wake, ok := p.wake[m]
		if !ok {
			wake = make(chan struct{}, 1)
			p.wake[m] = wake
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.loop(pctx, peer, wake)
		}()
	}
}

// Wake makes the loop of member try again now (a nudge).
func (p *Puller) Wake(member string) {
	p.mu.Lock()
	ch := p.wake[member]
	p.mu.Unlock()
	if ch != nil {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// Status returns the status of every peer, by member.
func (p *Puller) Status() []PeerStatus {
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]PeerStatus, 0, len(p.status))
	for _, s := range p.status {
		c := *s
		c.Answering = c.Connected && !p.silentSince(s, now)
		c.waitingSince = time.Time{}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Member < out[j].Member })
	return out
}

// silentSince reports whether the receiver has waited for the peer's next
// message for longer than SilentAfter.
func (p *Puller) silentSince(s *PeerStatus, now time.Time) bool {
	return !s.waitingSince.IsZero() && now.Sub(s.waitingSince) > p.silent
}

func (p *Puller) update(member string, fn func(*PeerStatus)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if s, ok := p.status[member]; ok {
		fn(s)
	}
}

// loop pulls from one peer, reconnecting with backoff (cut short by a
// nudge).
func (p *Puller) loop(ctx context.Context, peer Peer, wake <-chan struct{}) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := p.pull(ctx, peer)
		p.update(peer.Member, func(s *PeerStatus) {
			s.Connected, s.waitingSince = false, time.Time{}
			if err != nil {
				s.LastError = err.Error()
			}
		})
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			backoff = 100 * time.Millisecond
		} else {
			p.logger.Debug("pulling a member's feed failed", "member", peer.Member, "err", err)
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-wake:
			t.Stop()
		case <-t.C:
			backoff = min(backoff*2, 5*time.Second)
		}
	}
}

// pull holds one Sync stream with a peer.
func (p *Puller) pull(ctx context.Context, peer Peer) error {
	client, err := p.dial(peer)
	if err != nil {
		return err
	}
	cur, err := p.st.FedCursor(peer.Member)
	if err != nil {
		return err
	}
	sctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stream, err := client.Sync(sctx, &accordv1.SyncRequest{Cursor: cur, Follow: true})
	if err != nil {
		return err
	}
	// One goroutine receives while this one verifies and stores: batches
	// that arrive while the store writes are verified and written together,
	// in one transaction. The receiver notes when it starts waiting for the
	// peer and when the peer last sent anything (heartbeats included); a
	// watchdog closes the stream when the peer stays silent.
	batches := make(chan *accordv1.SyncResponse, 8)
	var recvErr error
	go func() {
		defer close(batches)
		for {
			p.update(peer.Member, func(s *PeerStatus) { s.waitingSince = p.now() })
			resp, err := stream.Recv()
			if err != nil {
				recvErr = err
				return
			}
			now := p.now()
			p.update(peer.Member, func(s *PeerStatus) {
				s.Connected, s.LastHeard, s.Head, s.waitingSince = true, now, resp.GetHead(), time.Time{}
			})
			select {
			case batches <- resp:
			case <-sctx.Done():
				recvErr = sctx.Err()
				return
			}
		}
	}()
	go p.watch(sctx, peer, cancel)
	for resp := range batches {
		group := []*accordv1.SyncResponse{resp}
	more:
		for len(group) < cap(batches) {
			select {
			case r, ok := <-batches:
				if !ok {
					break more
				}
				group = append(group, r)
			default:
				break more
			}
		}
		p.update(peer.Member, func(s *PeerStatus) { s.Connected, s.LastError = true, "" })
		if last := group[len(group)-1]; last.GetCursor() == cur && noRecords(group) {
			// Heartbeats: nothing to store, the cursor has not moved.
			p.heard(peer, last)
			continue
		}
		cur = group[len(group)-1].GetCursor()
		if err := p.apply(peer, group); err != nil {
			cancel(nil)
			for range batches {
			}
			return err
		}
	}
	err = recvErr
	if errors.Is(err, io.EOF) {
		return nil
	}
	if cause := context.Cause(sctx); errors.Is(cause, ErrPeerSilent) {
		return cause
	}
	if c := status.Code(err); (c == codes.OutOfRange || c == codes.InvalidArgument) && ctx.Err() == nil {
		return p.resync(peer, err)
	}
	return err
}

// noRecords reports whether a group of responses carries no records.
func noRecords(group []*accordv1.SyncResponse) bool {
	for _, r := range group {
		if len(r.GetRecords()) > 0 {
			return false
		}
	}
	return true
}

// heard notes a response without records (a heartbeat): when it says that
// this node holds the peer's whole feed, the node is caught up.
func (p *Puller) heard(peer Peer, resp *accordv1.SyncResponse) {
	now := p.now()
	p.update(peer.Member, func(st *PeerStatus) {
		if resp.GetCaughtUp() {
			st.Seq = max(st.Seq, resp.GetHead())
			st.CaughtUp = now
		}
	})
}

// watch closes the stream (cancel, with ErrPeerSilent) when the peer has
// sent nothing, not even a heartbeat, for longer than SilentAfter while the
// receiver waited for it.
func (p *Puller) watch(ctx context.Context, peer Peer, cancel context.CancelCauseFunc) {
	t := time.NewTicker(max(p.silent/4, time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var silent bool
		var heard time.Time
		p.update(peer.Member, func(s *PeerStatus) { silent, heard = p.silentSince(s, p.now()), s.LastHeard })
		if silent {
			last := "never on this stream"
			if !heard.IsZero() {
				last = "last heard " + heard.UTC().Format(time.RFC3339)
			}
			cancel(fmt.Errorf("%w: %s sent nothing, not even a heartbeat, for over %s (%s); reconnecting", ErrPeerSilent, peer.Member, p.silent, last))
			return
		}
	}
}

// resync drops a member's records and cursor after the peer refused the
// cursor; the next pull starts from the beginning.
func (p *Puller) resync(peer Peer, cause error) error {
	n, err := p.st.FedReset(peer.Member)
	if err != nil {
		return err
	}
	p.logger.Warn("full resync of a member's feed", "member", peer.Member, "dropped", n, "reason", cause)
	p.audit.Audit(Event{Kind: Resync, Peer: peer.Member, PeerNode: peer.Node.String(), Records: n, Err: cause})
	p.update(peer.Member, func(s *PeerStatus) { s.Resyncs++ })
	p.onChange(peer.Member, nil)
	return nil
}

// verified is a record that passed verification.
type verified struct {
	sr  *accordv1.SignedRecord
	rec *accordv1.FeedRecord
	err error
}

// verifyAll verifies records on every core.
func (p *Puller) verifyAll(srs []*accordv1.SignedRecord) []verified {
	out := make([]verified, len(srs))
	workers := min(runtime.GOMAXPROCS(0), max(1, len(srs)/256))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(srs); i += workers {
				r, err := p.verifier.Verify(srs[i])
				switch {
				case err != nil:
				case r.GetRecipient() != "" && r.GetRecipient() != p.self.Member:
					err = fmt.Errorf("%w: record %s is meant for %s", records.ErrInvalid, r.GetCaseId(), r.GetRecipient())
				case !r.GetTombstone() && r.GetCase().GetSensitivity() == accordv1.Sensitivity_SENSITIVITY_JIT && r.GetRecipient() == "":
					// A jit record is signed for each member of its JIT; one
					// without a recipient was passed on by someone else.
					err = fmt.Errorf("%w: jit record %s is not signed for a recipient", records.ErrInvalid, r.GetCaseId())
				}
				out[i] = verified{sr: srs[i], rec: r, err: err}
			}
		}()
	}
	wg.Wait()
	return out
}

// apply verifies and stores a group of consecutive batches, with the last
// batch's cursor, in one transaction per origin.
func (p *Puller) apply(peer Peer, group []*accordv1.SyncResponse) error {
	var srs []*accordv1.SignedRecord
	for _, resp := range group {
		srs = append(srs, resp.GetRecords()...)
	}
	last := group[len(group)-1]
	byOrigin := map[string][]feed.Record{}
	var refused int
	var changed []string
	var lo, hi uint64
	for _, v := range p.verifyAll(srs) {
		r, err := v.rec, v.err
		if errors.Is(err, records.ErrUnknownKey) && originOf(v.sr) == peer.Member {
			// The registry may not yet hold the sender's new key here: keep
			// nothing of these batches and try again. (A key unknown for
			// another origin is a refusal.)
			return err
		}
		if err != nil {
			refused++
			caseID := ""
			if r != nil {
				caseID = r.GetCaseId()
			}
			p.audit.Audit(Event{Kind: Refused, Peer: peer.Member, PeerNode: peer.Node.String(), Records: 1, CaseIDs: nonEmpty(caseID), Err: err})
			continue
		}
		var flags byte
		if r.GetTombstone() {
			flags |= feed.Tombstone
		} else if r.GetCase().GetSensitivity() == accordv1.Sensitivity_SENSITIVITY_JIT {
			flags |= feed.JIT
		}
		b, err := proto.Marshal(v.sr)
		if err != nil {
			return err
		}
		byOrigin[r.GetOrigin()] = append(byOrigin[r.GetOrigin()], feed.Record{CaseID: r.GetCaseId(), Seq: r.GetSeq(), Flags: flags, Record: b})
		if r.GetOrigin() == peer.Member {
			if lo == 0 || r.GetSeq() < lo {
				lo = r.GetSeq()
			}
			hi = max(hi, r.GetSeq())
		}
		changed = append(changed, r.GetCaseId())
	}
	// Records another member relayed (signature intact) go in under their
	// origin without moving that origin's cursor; the peer's own records
	// and its cursor go in together.
	var applied, stale int
	for origin, recs := range byOrigin {
		if origin == peer.Member {
			continue
		}
		a, s, err := p.st.FedApply(origin, "", recs)
		if err != nil {
			return err
		}
		applied, stale = applied+a, stale+s
	}
	a, s, err := p.st.FedApply(peer.Member, last.GetCursor(), byOrigin[peer.Member])
	if err != nil {
		return err
	}
	applied, stale = applied+a, stale+s
	if n := len(srs) - refused; n > 0 {
		p.audit.Audit(Event{Kind: Received, Peer: peer.Member, PeerNode: peer.Node.String(), Records: n, FromSeq: lo, ToSeq: hi})
	}
	now := p.now()
	p.update(peer.Member, func(st *PeerStatus) {
		if len(srs) > 0 {
			st.LastChange = now
		}
		st.Seq = max(st.Seq, hi)
		if last.GetCaughtUp() {
			st.Seq = max(st.Seq, last.GetHead())
			st.CaughtUp = now
		}
		st.Received += applied
		st.Stale += stale
		st.Refused += refused
	})
	if applied > 0 {
		p.onChange(peer.Member, changed)
	}
	return nil
}

// originOf reads the origin of a signed record without verifying it.
func originOf(sr *accordv1.SignedRecord) string {
	var r accordv1.FeedRecord
	if err := proto.Unmarshal(sr.GetRecord(), &r); err != nil {
		return ""
	}
	return r.GetOrigin()
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}
