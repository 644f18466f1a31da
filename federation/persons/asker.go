package persons

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/persontoken"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// PeerKey is the current person-token key of one of another member's
// nodes, as the registry lists it.
type PeerKey struct {
	Member  string
	Node    identity.Identity
	Version int
	Public  []byte
}

// KeyName is the key's name in shared records: "<member>/<node name>".
func (k PeerKey) KeyName() string { return k.Member + "/" + k.Node.Name }

// ID is the key's id in persontoken.Tokens.
func (k PeerKey) ID() string { return persontoken.KeyID(k.KeyName(), k.Version) }

// pin tells keys apart in the asker's caches by their public key too, so
// that a node that comes back with another key under the same version (a
// node rebuilt without its backup) never gets tokens of the old one
// compared with its new ones.
func (k PeerKey) pin() string {
	sum := sha256.Sum256(k.Public)
	return "|" + hex.EncodeToString(sum[:8])
}

// Peers lists the other members' current person-token keys.
type Peers interface {
	PeerKeys() []PeerKey
}

// Dialer returns a client of a node's PersonTokenService over mutual TLS,
// checking that the server is that node.
type Dialer func(node identity.Identity) (accordv1.PersonTokenServiceClient, error)

// personsPerRequest is how many persons one request carries (five
// elements each at most).
const personsPerRequest = persontoken.MaxBatch / 5

// Own returns the node's own current person-token key and its key id.
type Own func() (keyID string, key *persontoken.Key)

// Asker obtains what the node needs of other members' keys. For a lookup:
// the office's person's tokens under each member's key (never cached, so
// that each lookup is counted and audited by the members asked). For the
// matcher, per other member's key and the node's own key, the pair tokens
// (persontoken.PairKeyID) of the office's persons on both sides of a
// comparison:
//   - compared here: F_own(F_peer(person)), from the person's tokens the
//     peer's node evaluated (three elements each) and the node's own key;
//   - published to the peer: F_peer(F_own(person)), the person's own
//     tokens evaluated by the peer's node (five elements each), which the
//     peer compares.
//
// Both caches hold the office's own data only, in memory.
type Asker struct {
	peers  Peers
	own    Own
	dial   Dialer
	logger *slog.Logger

	prefetchMu sync.Mutex
	// matching bounds the matching requests in flight to all members'
	// nodes together.
	matching chan struct{}

	// The publisher's prefetches that PrefetchWithin left to finish in the
	// background: queued, and taken together by one worker at a time.
	bgMu      sync.Mutex
	bgQueue   []*lateRequest
	bgRunning bool
	bg        sync.WaitGroup

	mu       sync.Mutex
	compared map[string]map[[32]byte]persontoken.Tokens // pair key id -> input digest -> tokens
	publish  map[string]map[[32]byte]persontoken.Tokens // pair key id -> input digest -> tokens
	gen      uint64                                     // counts changes of the caches
	backoff  map[string]backoff                         // peer key id + pin
	// ownToks are the persons' tokens under the node's own key (the same
	// for every other member's key), for the own key id ownOf.
	ownToks map[[32]byte]persontoken.Tokens
	ownOf   string
}

// backoff is when a failing key is asked again, and the wait after the
// next failure.
type backoff struct {
	until time.Time
	wait  time.Duration
}

// Generation changes each time the caches gain or lose tokens: the matcher
// then builds its records again, and the office's cases are published
// again with their pair tokens.
func (a *Asker) Generation() uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.gen
}

// NewAsker returns an asker.
func NewAsker(peers Peers, own Own, dial Dialer, logger *slog.Logger) *Asker {
	return &Asker{peers: peers, own: own, dial: dial, logger: logger,
		matching: make(chan struct{}, min(maxParallelBatches, max(2, runtime.GOMAXPROCS(0)))),
		compared: map[string]map[[32]byte]persontoken.Tokens{}, publish: map[string]map[[32]byte]persontoken.Tokens{},
		backoff: map[string]backoff{}, ownToks: map[[32]byte]persontoken.Tokens{}}
}

// digest identifies an input in the cache.
func digest(in persontoken.Input) [32]byte {
	h := sha256.New()
	for _, b := range [][]byte{in.Name, in.Skel, in.Year} {
		var n [4]byte
		n[0], n[1], n[2], n[3] = byte(len(b)>>24), byte(len(b)>>16), byte(len(b)>>8), byte(len(b))
		h.Write(n[:])
		h.Write(b)
	}
	var d [32]byte
	h.Sum(d[:0])
	return d
}

// callTimeout bounds one EvaluatePersons call: a node that does not
// answer holds nobody up for longer.
const callTimeout = 30 * time.Second

// Back-off of a key whose node failed or refused: it is asked again after
// minBackoff, doubling up to maxBackoff.
const (
	minBackoff = 30 * time.Second
	maxBackoff = 10 * time.Minute
)

// maxParallelBatches bounds the batches of one key in flight at once:
// the asker blinds and checks one while the origin evaluates another, and
// uses every core for its part.
const maxParallelBatches = 4

// Evaluate asks key's node for the tokens of inputs and returns them in the
// order of inputs; on an error, nothing.
func (a *Asker) Evaluate(ctx context.Context, key PeerKey, purpose accordv1.EvaluationPurpose, user, lookupID string, inputs []persontoken.Input) ([]persontoken.Tokens, error) {
	out := make([]persontoken.Tokens, len(inputs))
	err := a.evaluate(ctx, key, key.ID(), false, purpose, user, lookupID, inputs, func(start int, toks []persontoken.Tokens) {
		copy(out[start:], toks)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// evaluate asks key's node to evaluate inputs (with the years around when
// near), naming the tokens tokenKey, in batches of personsPerRequest
// persons, several in flight, and calls got (serially) with each batch
// answered: its first input's index and its tokens. After a refusal or a
// failure no further batch is sent; the first error is returned.
func (a *Asker) evaluate(ctx context.Context, key PeerKey, tokenKey string, near bool, purpose accordv1.EvaluationPurpose, user, lookupID string, inputs []persontoken.Input, got func(start int, toks []persontoken.Tokens)) error {
	client, err := a.dial(key.Node)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrPeer, key.Node, err)
	}
	var (
		mu    sync.Mutex
		first error
		wg    sync.WaitGroup
		sem   = make(chan struct{}, min(maxParallelBatches, max(1, runtime.GOMAXPROCS(0))))
	)
	var shared chan struct{}
	if purpose == accordv1.EvaluationPurpose_EVALUATION_PURPOSE_MATCHING {
		// Matching asks every member's node at once, in the background:
		// its requests in flight are bounded across all of them, so that
		// no member's node holds more of this node's requests than it
		// evaluates before their deadline, and one at a time per node, so
		// that a node that answers slowly (or holds every request until
		// its deadline, as a dishonest member's may) holds one of the
		// shared places at most, never all. A lookup (a user waits) is
		// not held behind them.
		sem, shared = make(chan struct{}, 1), a.matching
	}
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if first == nil {
			first = err
		}
	}
	failed := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return first != nil
	}
	for start := 0; start < len(inputs) && !failed(); start += personsPerRequest {
		batch := inputs[start:min(len(inputs), start+personsPerRequest)]
		sem <- struct{}{}
		if shared != nil {
			shared <- struct{}{}
		}
		wg.Add(1)
		go func() {
			defer func() {
				if shared != nil {
					<-shared
				}
				<-sem
				wg.Done()
			}()
			newRequest := persontoken.NewRequest
			if near {
				newRequest = persontoken.NewRequestWithNear
			}
			var req *persontoken.Request
			if err := onCore(ctx, func() { req, err = newRequest(tokenKey, key.Public, batch) }); err != nil {
				fail(err)
				return
			}
			if err != nil {
				fail(err)
				return
			}
			cctx, cancel := context.WithTimeout(ctx, callTimeout)
			resp, err := client.EvaluatePersons(cctx, &accordv1.EvaluatePersonsRequest{
				KeyVersion: int32(key.Version), Purpose: purpose, User: user, LookupId: lookupID, Elements: req.Elements,
			})
			cancel()
			if err != nil {
				fail(fmt.Errorf("%w: %s: %w", ErrPeer, key.Node, err))
				return
			}
			var toks []persontoken.Tokens
			if err := onCore(ctx, func() { toks, err = req.Finish(resp.GetElements(), resp.GetProof()) }); err != nil {
				fail(err)
				return
			}
			if err != nil {
				// A node that evaluates with another key than it
				// published is lying or broken: nothing of this answer
				// is used.
				fail(fmt.Errorf("%w: %s: %w", ErrPeer, key.Node, err))
				return
			}
			mu.Lock()
			got(start, toks)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return first
}

// KeySet names the other members' keys the asker works with now: it
// changes when a key appears, rotates or goes.
func (a *Asker) KeySet() string {
	var b strings.Builder
	for _, k := range a.peers.PeerKeys() {
		b.WriteString(k.ID())
		b.WriteString(k.pin())
		b.WriteByte(' ')
	}
	return b.String()
}

// Prefetch obtains, for the matcher, the pair tokens of inputs with every
// other member's current keys that the caches do not hold yet, on both
// sides (compared here, published to the peer), and returns how many
// persons' tokens it obtained (a person counts once per key and side). A
// key whose node cannot be asked, or refuses, is skipped (and tried again
// next time); the first such error is returned after the others were
// asked. When the caches hold everything already it returns at once,
// without waiting for a prefetch under way.
func (a *Asker) Prefetch(ctx context.Context, inputs []persontoken.Input) (int, error) {
	ownID, ownKey := a.own()
	if len(a.lacking(ownID, inputs, true)) == 0 {
		return 0, nil
	}
	// One at a time (the publisher and the matcher both ask): the second
	// finds what the first obtained, and nothing is evaluated twice.
	a.prefetchMu.Lock()
	defer a.prefetchMu.Unlock()
	a.forget(ownID)
	var (
		mu       sync.Mutex
		first    error
		obtained int
		wg       sync.WaitGroup
	)
	// Every member's node at once: one that does not answer holds up no
	// other (and is asked again only after its back-off).
	for _, key := range a.peers.PeerKeys() {
		if !a.due(key) {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := a.prefetchKey(ctx, key, ownID, ownKey, inputs)
			a.settle(key, err)
			mu.Lock()
			defer mu.Unlock()
			obtained += n
			if err != nil && first == nil {
				first = err
			}
		}()
	}
	wg.Wait()
	return obtained, first
}

// slot is one token a cache may hold: the cache (compared or published),
// the pair key id with the peer key's pin, and the input's digest.
type slot struct {
	published bool
	id        string
	digest    [32]byte
}

// lacking returns the slots of inputs that the caches do not hold for the
// keys that may be asked now (not backing off); only the first when first.
func (a *Asker) lacking(ownID string, inputs []persontoken.Input, first bool) []slot {
	var ids []slot // the slot ids of every due key, both sides
	for _, key := range a.peers.PeerKeys() {
		if a.due(key) {
			ids = append(ids,
				slot{id: persontoken.PairKeyID(key.ID(), ownID) + key.pin()},
				slot{published: true, id: persontoken.PairKeyID(ownID, key.ID()) + key.pin()})
		}
	}
	if len(ids) == 0 {
		return nil
	}
	digests := make([][32]byte, len(inputs))
	for i, in := range inputs {
		digests[i] = digest(in)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []slot
	for _, s := range ids {
		have := a.cacheOf(s)[s.id]
		for _, d := range digests {
			if _, ok := have[d]; !ok {
				out = append(out, slot{published: s.published, id: s.id, digest: d})
				if first {
					return out
				}
			}
		}
	}
	return out
}

// cacheOf returns the cache a slot is in (a.mu held).
func (a *Asker) cacheOf(s slot) map[string]map[[32]byte]persontoken.Tokens {
	if s.published {
		return a.publish
	}
	return a.compared
}

// holdsAny reports whether the caches now hold any of slots.
func (a *Asker) holdsAny(slots []slot) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, s := range slots {
		if _, ok := a.cacheOf(s)[s.id][s.digest]; ok {
			return true
		}
	}
	return false
}

// lateRequest is a publisher's prefetch that PrefetchWithin may leave to
// finish in the background.
type lateRequest struct {
	ctx    context.Context
	inputs []persontoken.Input
	late   func(obtained bool)
	done   chan struct{}

	mu       sync.Mutex
	finished bool
	gaveUp   bool
	lacking  []slot // what the caches lacked when the publisher gave up
}

// PrefetchWithin is Prefetch for a publisher, which must not wait for the
// slowest member's node: it waits at most wait and reports whether the
// batch's tokens were there in time. When they were not, the prefetch goes
// on in the background and late is called once it has ended: obtained
// says whether it brought any token the caches lacked when the publisher
// gave up (false also when ctx ended first), and the caller then
// publishes again, with their pair tokens, the cases it published without
// them. One member whose node is slow or down therefore delays no
// publication by more than wait, and the federation's indexes do not wait
// for the person-token work (whose cost grows with the members × the
// persons).
//
// The prefetches left in the background are queued and taken together by
// one worker: whatever the publisher publishes meanwhile, one prefetch at
// a time runs, over the union of what waits, and a batch is published
// again at most one or two such rounds after its tokens came (a round
// lasts as long as its slowest member's node, 30 s per call at most).
func (a *Asker) PrefetchWithin(ctx context.Context, inputs []persontoken.Input, wait time.Duration, late func(obtained bool)) bool {
	ownID, _ := a.own()
	if len(a.lacking(ownID, inputs, true)) == 0 {
		return true
	}
	r := &lateRequest{ctx: ctx, inputs: inputs, late: late, done: make(chan struct{})}
	a.bgMu.Lock()
	a.bgQueue = append(a.bgQueue, r)
	if !a.bgRunning {
		a.bgRunning = true
		a.bg.Add(1)
		go a.work()
	}
	a.bgMu.Unlock()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-r.done:
		return true
	case <-timer.C:
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.finished {
		return true
	}
	if r.lacking = a.lacking(ownID, inputs, false); len(r.lacking) == 0 {
		return true // came just now (or their keys back off)
	}
	r.gaveUp = true
	return false
}

// work runs the queued prefetches, all that wait in one round, until the
// queue is empty.
func (a *Asker) work() {
	defer a.bg.Done()
	for {
		a.bgMu.Lock()
		reqs := a.bgQueue
		a.bgQueue = nil
		if len(reqs) == 0 {
			a.bgRunning = false
			a.bgMu.Unlock()
			return
		}
		a.bgMu.Unlock()
		var (
			ctx    context.Context
			inputs []persontoken.Input
		)
		for _, r := range reqs {
			if r.ctx.Err() == nil {
				if ctx == nil {
					ctx = r.ctx
				}
				inputs = append(inputs, r.inputs...)
			}
		}
		if ctx != nil {
			_, _ = a.Prefetch(ctx, inputs) // logged by prefetchKey
		}
		for _, r := range reqs {
			r.mu.Lock()
			r.finished = true
			gaveUp := r.gaveUp
			r.mu.Unlock()
			close(r.done)
			if gaveUp {
				r.late(r.ctx.Err() == nil && a.holdsAny(r.lacking))
			}
		}
	}
}

// Wait waits for the prefetches PrefetchWithin left in the background:
// end their ctx first, and call it only once nothing calls PrefetchWithin
// any more.
func (a *Asker) Wait() { a.bg.Wait() }

// due reports whether key may be asked now (it is not backing off).
func (a *Asker) due(key PeerKey) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return !time.Now().Before(a.backoff[key.ID()+key.pin()].until)
}

// settle records how asking key went: a failure backs it off (doubling),
// a success clears it.
func (a *Asker) settle(key PeerKey, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	id := key.ID() + key.pin()
	if err == nil {
		delete(a.backoff, id)
		return
	}
	b := a.backoff[id]
	b.wait = min(max(2*b.wait, minBackoff), maxBackoff)
	b.until = time.Now().Add(b.wait)
	a.backoff[id] = b
}

// prefetchKey obtains the pair tokens with one key of another member.
func (a *Asker) prefetchKey(ctx context.Context, key PeerKey, ownID string, ownKey *persontoken.Key, inputs []persontoken.Input) (int, error) {
	var (
		first error
		total int
	)
	note := func(err error, side string, n, obtained int) {
		if err == nil {
			return
		}
		if first == nil {
			first = err
		}
		a.logger.Warn("person tokens for matching not obtained", "member", key.Member, "node", key.Node.String(),
			"side", side, "persons", n, "obtained", obtained, "err", err)
	}

	// Compared here: the peer evaluates the persons' inputs, the
	// node's own key goes over them.
	cmpID := persontoken.PairKeyID(key.ID(), ownID)
	missing, digests := a.missing(a.compared, cmpID+key.pin(), inputs)
	if len(missing) > 0 {
		obtained := 0
		err := a.evaluate(ctx, key, key.ID(), false, accordv1.EvaluationPurpose_EVALUATION_PURPOSE_MATCHING, "", "", missing, func(start int, inner []persontoken.Tokens) {
			toks := make([]persontoken.Tokens, 0, len(inner))
			_ = onCore(ctx, func() {
				for _, t := range inner {
					out, err := ownKey.Tokens(cmpID, persontoken.OuterInputs(t))
					if err != nil {
						return
					}
					toks = append(toks, out)
				}
			})
			a.store(a.compared, cmpID+key.pin(), digests[start:], toks)
			obtained += len(toks)
		})
		note(err, "compared", len(missing), obtained)
		total += obtained
	}
	// Published to the peer: the node's own tokens of the persons,
	// evaluated by the peer (with the years around).
	pubID := persontoken.PairKeyID(ownID, key.ID())
	missing, digests = a.missing(a.publish, pubID+key.pin(), inputs)
	if len(missing) > 0 {
		outer := make([]persontoken.Input, 0, len(missing))
		for i, in := range missing {
			t, err := a.ownTokens(ownID, ownKey, in, digests[i])
			if err != nil {
				return total, err
			}
			outer = append(outer, persontoken.OuterInputs(t))
		}
		obtained := 0
		err := a.evaluate(ctx, key, pubID, true, accordv1.EvaluationPurpose_EVALUATION_PURPOSE_MATCHING, "", "", outer, func(start int, toks []persontoken.Tokens) {
			a.store(a.publish, pubID+key.pin(), digests[start:], toks)
			obtained += len(toks)
		})
		note(err, "published", len(missing), obtained)
		total += obtained
	}
	return total, first
}

// ownTokens returns a person's tokens under the node's own key, made once
// per key.
func (a *Asker) ownTokens(ownID string, ownKey *persontoken.Key, in persontoken.Input, d [32]byte) (persontoken.Tokens, error) {
	a.mu.Lock()
	if a.ownOf != ownID {
		clear(a.ownToks)
		a.ownOf = ownID
	}
	t, ok := a.ownToks[d]
	a.mu.Unlock()
	if ok {
		return t, nil
	}
	t, err := ownKey.Tokens(ownID, in)
	if err != nil {
		return t, err
	}
	a.mu.Lock()
	if a.ownOf == ownID {
		a.ownToks[d] = t
	}
	a.mu.Unlock()
	return t, nil
}

// missing returns the inputs (de-duplicated) that cache lacks for id, and
// their digests.
func (a *Asker) missing(cache map[string]map[[32]byte]persontoken.Tokens, id string, inputs []persontoken.Input) ([]persontoken.Input, [][32]byte) {
	a.mu.Lock()
	defer a.mu.Unlock()
	have := cache[id]
	var (
		out     []persontoken.Input
		digests [][32]byte
	)
	seen := map[[32]byte]bool{}
	for _, in := range inputs {
		d := digest(in)
		if _, ok := have[d]; ok || seen[d] {
			continue
		}
		seen[d] = true
		out = append(out, in)
		digests = append(digests, d)
	}
	return out, digests
}

// store puts toks (of the inputs with digests) in cache under id.
func (a *Asker) store(cache map[string]map[[32]byte]persontoken.Tokens, id string, digests [][32]byte, toks []persontoken.Tokens) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if cache[id] == nil {
		cache[id] = map[[32]byte]persontoken.Tokens{}
	}
	for i, t := range toks {
		cache[id][digests[i]] = t
	}
	a.gen++
}

// Cached returns the pair tokens of in compared here, one per other
// member's key obtained so far.
func (a *Asker) Cached(in persontoken.Input) []persontoken.Tokens {
	return a.lookupCache(a.compared, in, func(ownID string, k PeerKey) string { return persontoken.PairKeyID(k.ID(), ownID) })
}

// Published returns the pair tokens of in that the office publishes for the
// other members to compare, one per other member's key obtained so far.
func (a *Asker) Published(in persontoken.Input) []persontoken.Tokens {
	return a.lookupCache(a.publish, in, func(ownID string, k PeerKey) string { return persontoken.PairKeyID(ownID, k.ID()) })
}

func (a *Asker) lookupCache(cache map[string]map[[32]byte]persontoken.Tokens, in persontoken.Input, id func(string, PeerKey) string) []persontoken.Tokens {
	ownID, _ := a.own()
	keys := a.peers.PeerKeys()
	d := digest(in)
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []persontoken.Tokens
	for _, k := range keys {
		if t, ok := cache[id(ownID, k)+k.pin()][d]; ok {
			out = append(out, t)
		}
	}
	return out
}

// forget drops the pair tokens of keys no longer listed (rotated away, a
// member gone) or of a previous own key: what they gave is of no further
// use.
func (a *Asker) forget(ownID string) {
	live := map[string]bool{}
	for _, k := range a.peers.PeerKeys() {
		live[persontoken.PairKeyID(k.ID(), ownID)+k.pin()] = true
		live[persontoken.PairKeyID(ownID, k.ID())+k.pin()] = true
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, cache := range []map[string]map[[32]byte]persontoken.Tokens{a.compared, a.publish} {
		for id := range cache {
			if !live[id] {
				delete(cache, id)
				a.gen++
			}
		}
	}
}

// isRefusal reports whether the member's node answered with a refusal (a
// budget, a permission) rather than not answering.
func isRefusal(err error) bool {
	switch status.Code(err) {
	case codes.ResourceExhausted, codes.PermissionDenied, codes.InvalidArgument, codes.NotFound, codes.FailedPrecondition:
		return true
	}
	return false
}
