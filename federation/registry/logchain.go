package registry

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"

	"github.com/hashicorp/raft"
)

// The log chain.
//
// Every replica folds each log entry it applies into a running SHA-256
// chain: chain(n) = SHA-256(chain(n-1) ‖ index ‖ term ‖ type ‖ SHA-256(data)).
// Replicas that applied the same entries have the same chain at each index,
// refused commands included; one that applied anything else — an entry a
// rogue leader wrote into its log alone, a damaged entry, a bug — differs
// from then on. Servers compare their chains (registryraft's divergence
// check), which is how a divergence that Raft cannot see is found. The
// chain at a snapshot's index is written into the snapshot, so a server
// restored from one goes on with the others' chain.

// recentChains is how many of the latest indexes' chains a replica keeps
// for comparison with servers that are a little behind or ahead.
const recentChains = 4096

// chainRing keeps the chain at the latest applied indexes.
type chainRing struct {
	index [recentChains]uint64
	sum   [recentChains][32]byte
}

func (r *chainRing) put(index uint64, sum [32]byte) {
	i := index % recentChains
	r.index[i], r.sum[i] = index, sum
}

func (r *chainRing) get(index uint64) ([32]byte, bool) {
	i := index % recentChains
	if r.index[i] != index || index == 0 {
		return [32]byte{}, false
	}
	return r.sum[i], true
}

// nextChain folds one applied entry into the chain.
func nextChain(prev [32]byte, index, term uint64, typ raft.LogType, data []byte) [32]byte {
	d := sha256.Sum256(data)
	var b [32 + 8 + 8 + 1 + 32]byte
	copy(b[:32], prev[:])
	binary.BigEndian.PutUint64(b[32:], index)
	binary.BigEndian.PutUint64(b[40:], term)
	b[48] = byte(typ)
	copy(b[49:], d[:])
	return sha256.Sum256(b[:])
}

// foldLocked adds an applied entry to the chain. Call with mu held.
func (f *FSM) foldLocked(index, term uint64, typ raft.LogType, data []byte) {
	f.chain = nextChain(f.chain, index, term, typ, data)
	f.recent.put(index, f.chain)
}

// LogChain returns the replica's log chain at index, if it has applied
// that index and still remembers it (the latest few thousand indexes, and
// the index it was restored at).
func (f *FSM) LogChain(index uint64) ([32]byte, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if index == f.applied.Load() && index > 0 {
		return f.chain, true
	}
	return f.recent.get(index)
}

func parseChain(s string) ([32]byte, error) {
	var c [32]byte
	if s == "" {
		return c, nil
	}
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 32 {
		return c, fmt.Errorf("%w: header: log_chain: not 64 hex digits", ErrSnapshot)
	}
	copy(c[:], b)
	return c, nil
}
