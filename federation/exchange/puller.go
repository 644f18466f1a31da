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
	// Connected: a Sync stream is open now.
	Connected bool
	// LastSync is when a batch was last received; CaughtUp when the peer's
	// feed head was last reached.
	LastSync, CaughtUp time.Time
	// Head is the peer's feed head as last seen; Seq the highest feed seq
	// received.
	Head, Seq uint64
	// Received counts records stored, Refused records refused (bad
	// signature, malformed, not meant for this member), Stale records
	// older than the copy held; Resyncs full resyncs.
	Received, Refused, Stale, Resyncs int
	// LastError is the last failure, if the last attempt failed.
	LastError string
}

// Lag is how many feed entries the member is behind (0 when caught up).
func (s PeerStatus) Lag() uint64 {
	if s.Head > s.Seq {
		return s.Head - s.Seq
	}
	return 0
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
	Logger   *slog.Logger
}

// NewPuller returns the puller of the node self.
func NewPuller(self identity.Identity, st Store, dir Directory, dial Dialer, audit Auditor, o PullerOptions) *Puller {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.OnChange == nil {
		o.OnChange = func(string, []string) {}
	}
	return &Puller{
		self: self, st: st, dir: dir, verifier: records.NewVerifier(dir.Key), dial: dial, audit: audit,
		logger: o.Logger, onChange: o.OnChange,
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
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]PeerStatus, 0, len(p.status))
	for _, s := range p.status {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Member < out[j].Member })
	return out
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
			s.Connected = false
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
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := client.Sync(sctx, &accordv1.SyncRequest{Cursor: cur, Follow: true})
	if err != nil {
		return err
	}
	// One goroutine receives while this one verifies and stores: batches
	// that arrive while the store writes are verified and written together,
	// in one transaction.
	batches := make(chan *accordv1.SyncResponse, 8)
	var recvErr error
	go func() {
		defer close(batches)
		for {
			resp, err := stream.Recv()
			if err != nil {
				recvErr = err
				return
			}
			select {
			case batches <- resp:
			case <-sctx.Done():
				recvErr = sctx.Err()
				return
			}
		}
	}()
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
		if err := p.apply(peer, group); err != nil {
			cancel()
			for range batches {
			}
			return err
		}
	}
	err = recvErr
	if errors.Is(err, io.EOF) {
		return nil
	}
	if c := status.Code(err); (c == codes.OutOfRange || c == codes.InvalidArgument) && ctx.Err() == nil {
		return p.resync(peer, err)
	}
	return err
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
	now := time.Now()
	p.update(peer.Member, func(st *PeerStatus) {
		st.LastSync, st.Head = now, last.GetHead()
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
