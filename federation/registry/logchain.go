package registry

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"

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
//
// The link of a version 3 command covers its outcome as well:
// chain(n) = SHA-256(chain(n-1) ‖ index ‖ term ‖ type ‖ SHA-256(data) ‖
// SHA-256(outcome)), where outcome says whether the command applied (with
// its Outcome's id, version and status) or was refused (with the code of
// the refusal, as the exactly-once table stores it). The same log does not
// mean the same state across builds: the previous build refuses every
// version 3 command at decode, so a version 3 entry appended while a server
// of the previous build remains (a dishonest member's node writes it early)
// would leave that server without a change the others made, under the same
// chain. With the outcome in the link, such a server's chain (the entry's
// bytes alone) differs from the others' from that entry on, and the
// divergence check reports it. The outcome is deterministic: what this
// build's replicas decide from the same log and state, with nothing of
// the clock or the replica. A refusal's code, not its message, is folded:
// the words of a message may change from one build to the next, which must
// not raise an alarm between two builds that both apply version 3; what
// the state becomes depends on whether and how the command applied, which
// the code and the Outcome carry. Version 2 entries (and configuration
// entries, and entries that do not decode) keep the entry-only link, the
// previous build's, so that builds agree while the group writes version 2.

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

// nextChainOutcome folds one applied version 3 command, with its outcome,
// into the chain.
func nextChainOutcome(prev [32]byte, index, term uint64, typ raft.LogType, data []byte, outcome [32]byte) [32]byte {
	d := sha256.Sum256(data)
	var b [32 + 8 + 8 + 1 + 32 + 32]byte
	copy(b[:32], prev[:])
	binary.BigEndian.PutUint64(b[32:], index)
	binary.BigEndian.PutUint64(b[40:], term)
	b[48] = byte(typ)
	copy(b[49:], d[:])
	copy(b[81:], outcome[:])
	return sha256.Sum256(b[:])
}

// outcomeDigest is the digest of a command's outcome that the chain folds:
// "applied" with the Outcome's id, version and status, or "refused" with
// the refusal's code.
func outcomeDigest(out Outcome, err error) [32]byte {
	h := sha256.New()
	if err != nil {
		h.Write([]byte("refused\x00"))
		h.Write([]byte(codeOf(canonical(err))))
	} else {
		h.Write([]byte("applied\x00"))
		h.Write([]byte(out.ID))
		h.Write([]byte{0})
		h.Write([]byte(strconv.Itoa(out.Version)))
		h.Write([]byte{0})
		h.Write([]byte(out.Status))
	}
	var d [32]byte
	h.Sum(d[:0])
	return d
}

// foldOutcomeLocked adds an applied version 3 command and its outcome to
// the chain. Call with mu held.
func (f *FSM) foldOutcomeLocked(index, term uint64, typ raft.LogType, data []byte, out Outcome, err error) {
	f.chain = nextChainOutcome(f.chain, index, term, typ, data, outcomeDigest(out, err))
	f.recent.put(index, f.chain)
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
