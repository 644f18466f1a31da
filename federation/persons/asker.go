package persons

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"runtime"
	"sync"

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

// cacheID names a key in the asker's cache: its id and its public key, so
// that a node that comes back with another key under the same version (a
// node rebuilt without its backup) never gets tokens of the old one
// compared with its new ones.
func (k PeerKey) cacheID() string {
	sum := sha256.Sum256(k.Public)
	return k.ID() + "|" + hex.EncodeToString(sum[:8])
}

// Peers lists the other members' current person-token keys.
type Peers interface {
	PeerKeys() []PeerKey
}

// Dialer returns a client of a node's PersonTokenService over mutual TLS,
// checking that the server is that node.
type Dialer func(node identity.Identity) (accordv1.PersonTokenServiceClient, error)

// personsPerRequest is how many persons one request carries (three
// elements each at most).
const personsPerRequest = persontoken.MaxBatch / 3

// Asker obtains the tokens of the office's own persons under other
// members' keys. For the matcher it caches them per key (the cache holds
// the office's own data only, in memory); lookups are never cached, so
// that each is counted and audited by the members asked.
type Asker struct {
	peers  Peers
	dial   Dialer
	logger *slog.Logger

	mu    sync.Mutex
	cache map[string]map[[32]byte]persontoken.Tokens // key id -> input digest -> tokens
	gen   uint64                                     // counts changes of the cache
}

// Generation changes each time the cache gains or loses tokens: the
// matcher then builds its records again.
func (a *Asker) Generation() uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.gen
}

// NewAsker returns an asker.
func NewAsker(peers Peers, dial Dialer, logger *slog.Logger) *Asker {
	return &Asker{peers: peers, dial: dial, logger: logger, cache: map[string]map[[32]byte]persontoken.Tokens{}}
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

// maxParallelBatches bounds the batches of one key in flight at once:
// the asker blinds and checks one while the origin evaluates another, and
// uses every core for its part.
const maxParallelBatches = 4

// Evaluate asks key's node for the tokens of inputs and returns them in the
// order of inputs; on an error, nothing.
func (a *Asker) Evaluate(ctx context.Context, key PeerKey, purpose accordv1.EvaluationPurpose, user, lookupID string, inputs []persontoken.Input) ([]persontoken.Tokens, error) {
	out := make([]persontoken.Tokens, len(inputs))
	err := a.evaluate(ctx, key, purpose, user, lookupID, inputs, func(start int, toks []persontoken.Tokens) {
		copy(out[start:], toks)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// evaluate asks key's node for the tokens of inputs in batches of
// personsPerRequest persons, several in flight, and calls got (serially)
// with each batch answered: its first input's index and its tokens. A
// batch refused or failed does not stop the others (they were, or will
// be, paid for); the first error is returned.
func (a *Asker) evaluate(ctx context.Context, key PeerKey, purpose accordv1.EvaluationPurpose, user, lookupID string, inputs []persontoken.Input, got func(start int, toks []persontoken.Tokens)) error {
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
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if first == nil {
			first = err
		}
	}
	for start := 0; start < len(inputs); start += personsPerRequest {
		batch := inputs[start:min(len(inputs), start+personsPerRequest)]
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			req, err := persontoken.NewRequest(key.ID(), key.Public, batch)
			if err != nil {
				fail(err)
				return
			}
			resp, err := client.EvaluatePersons(ctx, &accordv1.EvaluatePersonsRequest{
				KeyVersion: int32(key.Version), Purpose: purpose, User: user, LookupId: lookupID, Elements: req.Elements,
			})
			if err != nil {
				fail(fmt.Errorf("%w: %s: %w", ErrPeer, key.Node, err))
				return
			}
			toks, err := req.Finish(resp.GetElements(), resp.GetProof())
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

// Prefetch obtains, for the matcher, the tokens of inputs under every
// other member's current keys that the cache does not hold yet. A key
// whose node cannot be asked is skipped (and tried again next time); the
// first such error is returned after the others were asked.
func (a *Asker) Prefetch(ctx context.Context, inputs []persontoken.Input) error {
	a.forget()
	var first error
	for _, key := range a.peers.PeerKeys() {
		id := key.cacheID()
		a.mu.Lock()
		have := a.cache[id]
		var missing []persontoken.Input
		var digests [][32]byte
		seen := map[[32]byte]bool{}
		for _, in := range inputs {
			d := digest(in)
			if _, ok := have[d]; ok || seen[d] {
				continue
			}
			seen[d] = true
			missing = append(missing, in)
			digests = append(digests, d)
		}
		a.mu.Unlock()
		if len(missing) == 0 {
			continue
		}
		obtained := 0
		err := a.evaluate(ctx, key, accordv1.EvaluationPurpose_EVALUATION_PURPOSE_MATCHING, "", "", missing, func(start int, toks []persontoken.Tokens) {
			a.mu.Lock()
			defer a.mu.Unlock()
			if a.cache[id] == nil {
				a.cache[id] = map[[32]byte]persontoken.Tokens{}
			}
			for i, t := range toks {
				a.cache[id][digests[start+i]] = t
			}
			obtained += len(toks)
			a.gen++
		})
		if err != nil {
			if first == nil {
				first = err
			}
			a.logger.Warn("person tokens for matching not obtained", "member", key.Member, "node", key.Node.String(),
				"persons", len(missing), "obtained", obtained, "err", err)
		}
	}
	return first
}

// Cached returns the cached tokens of in under the other members' current
// keys (those not obtained yet are missing).
func (a *Asker) Cached(in persontoken.Input) []persontoken.Tokens {
	keys := a.peers.PeerKeys()
	d := digest(in)
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []persontoken.Tokens
	for _, k := range keys {
		if t, ok := a.cache[k.cacheID()][d]; ok {
			out = append(out, t)
		}
	}
	return out
}

// forget drops the cache of keys no longer listed (rotated away, a member
// gone): what they gave is of no further use.
func (a *Asker) forget() {
	live := map[string]bool{}
	for _, k := range a.peers.PeerKeys() {
		live[k.cacheID()] = true
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for id := range a.cache {
		if !live[id] {
			delete(a.cache, id)
			a.gen++
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
