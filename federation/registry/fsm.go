package registry

import (
	"context"
	"io"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/raft"
	"golang.org/x/sync/errgroup"
)

// Result is what FSM.Apply returns for every log entry, and what the
// leader's raft.ApplyFuture.Response() holds: the Outcome of an applied
// command in Value, or the refusal in Err (wrapping one of the package's
// sentinels). A refused command changed nothing.
type Result struct {
	Value any
	Err   error
}

// FSM is the registry's replicated state machine: it implements raft.FSM,
// raft.BatchingFSM (the signatures of entries committed together are
// checked on every core) and raft.ConfigurationStore (so that
// configuration entries advance its applied index too).
//
// Apply, ApplyBatch, Snapshot and Restore are called by Raft from one
// goroutine; Preverify, Read, AppliedIndex and WaitApplied may be called
// from any goroutine at the same time.
type FSM struct {
	mu sync.RWMutex
	st *state
	// applied is the index of the last log entry applied (or restored from a
	// snapshot). Written under mu; read with or without it.
	applied atomic.Uint64
	// changed is closed, and replaced, whenever applied advances. Guarded by
	// mu.
	changed chan struct{}
	// certs caches signer certificates and verified chains; sigs the
	// signature checks of the commands this server proposes as the leader
	// (Preverify). Both are safe for concurrent use.
	certs *certCache
	sigs  *checkedSignatures
	// chain is the log chain at the applied index, recent the chain at the
	// latest indexes (logchain.go). Guarded by mu.
	chain  [32]byte
	recent *chainRing
	// previousBuild makes the replica play the previous build, which
	// refuses every version 3 command at decode and folds only the entry
	// into the chain (tests of a mixed-version group).
	previousBuild bool
}

var (
	_ raft.FSM                = (*FSM)(nil)
	_ raft.BatchingFSM        = (*FSM)(nil)
	_ raft.ConfigurationStore = (*FSM)(nil)
)

// NewFSM returns the state machine of an empty registry, waiting for its
// bootstrap command.
func NewFSM() *FSM {
	f := &FSM{st: newState(), changed: make(chan struct{}), certs: newCertCache(), sigs: newCheckedSignatures(), recent: &chainRing{}}
	f.st.certs = f.certs
	return f
}

// Apply applies one committed log entry. It never panics on bad input: a
// refused command is answered with Result.Err and changes nothing but the
// applied index and the exactly-once table.
func (f *FSM) Apply(l *raft.Log) any {
	return f.applyPrepared(l, f.prepare(l))
}

// ApplyBatch implements raft.BatchingFSM: Raft hands over the entries it
// committed together (commands and configuration entries). Each command's
// decoding and signature check, which need no registry state, run on
// every core at once; the entries then change the state one by one, in
// log order, exactly as Apply would (the outcome, the state and the log
// chain are those of applying them singly, which a replica of an earlier
// build does).
func (f *FSM) ApplyBatch(logs []*raft.Log) []any {
	prepared := make([]preparedEntry, len(logs))
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, l := range logs {
		if l.Type != raft.LogCommand {
			continue
		}
		g.Go(func() error {
			prepared[i] = f.prepare(l)
			return nil
		})
	}
	_ = g.Wait()
	out := make([]any, len(logs))
	for i, l := range logs {
		if l.Type == raft.LogConfiguration {
			// What Raft does with a configuration entry for a state
			// machine that does not take batches.
			f.StoreConfiguration(l.Index, raft.DecodeConfiguration(l.Data))
			continue
		}
		out[i] = f.applyPrepared(l, prepared[i])
	}
	return out
}

// preparedEntry is the part of applying a log entry that needs no registry
// state: the decoded command and its signature check.
type preparedEntry struct {
	cmd       *Command
	decodeErr error
	sig       signatureCheck
}

// prepare decodes a command entry and checks its signature. It takes no
// lock (reads wait only for the state's part) and may run on several
// goroutines at once.
func (f *FSM) prepare(l *raft.Log) preparedEntry {
	var p preparedEntry
	if l.Type != raft.LogCommand {
		return p
	}
	p.cmd, p.decodeErr = DecodeCommand(l.Data)
	if p.decodeErr == nil && p.cmd.Type != CmdNoop {
		p.sig = f.sigs.check(p.cmd, f.certs)
	}
	return p
}

// Preverify checks the signature of a command this server is about to
// propose as the leader, and keeps the result for the moment the command
// is applied: the check then costs the state machine's one goroutine,
// which every write waits for, a lookup instead of an ECDSA verification.
// The result is a pure function of the command's signed bytes, signature
// and certificate (which the lookup's key covers), so it changes no
// decision; a command that is not applied soon is forgotten.
func (f *FSM) Preverify(c *Command) {
	if c == nil || c.Type == CmdNoop {
		return
	}
	f.sigs.remember(c, f.certs)
}

// applyPrepared applies one entry whose command prepare decoded and
// checked.
func (f *FSM) applyPrepared(l *raft.Log, p preparedEntry) any {
	cmd, decodeErr := p.cmd, p.decodeErr
	f.mu.Lock()
	defer f.mu.Unlock()
	if applied := f.applied.Load(); l.Index <= applied {
		return Result{Err: precondition("log index %d is already applied (applied index %d)", l.Index, applied)}
	}
	defer f.advance(l.Index)
	if f.previousBuild && decodeErr == nil && cmd.Version != LegacyCommandVersion {
		cmd, decodeErr = nil, invalid("command: version %d: unknown fields", CommandVersion)
	}
	// A version 3 command's link covers its outcome too (logchain.go);
	// every other entry's covers the entry alone, as the previous build's.
	withOutcome := decodeErr == nil && cmd != nil && cmd.Version == CommandVersion
	if !withOutcome {
		f.foldLocked(l.Index, l.Term, l.Type, l.Data)
	}
	switch {
	case l.Type != raft.LogCommand:
		return Result{}
	case decodeErr != nil:
		return Result{Err: decodeErr}
	}
	out, err := f.st.execute(l.Index, cmd, p.sig)
	if withOutcome {
		f.foldOutcomeLocked(l.Index, l.Term, l.Type, l.Data, out, err)
	}
	if err != nil {
		return Result{Err: err}
	}
	return Result{Value: out}
}

// StoreConfiguration implements raft.ConfigurationStore: the registry keeps
// no Raft configuration, but the entry's index counts as applied.
func (f *FSM) StoreConfiguration(index uint64, cfg raft.Configuration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if index > f.applied.Load() {
		f.foldLocked(index, 0, raft.LogConfiguration, raft.EncodeConfiguration(cfg))
		f.advance(index)
	}
}

// advance records index as applied and wakes WaitApplied. Call with mu held
// for writing.
func (f *FSM) advance(index uint64) {
	f.applied.Store(index)
	close(f.changed)
	f.changed = make(chan struct{})
}

// AppliedIndex returns the index of the last log entry the state reflects.
func (f *FSM) AppliedIndex() uint64 { return f.applied.Load() }

// WaitApplied waits until the state reflects the log up to index, or ctx
// ends. For a linearizable read: take the leader's commit index, confirm
// leadership (raft.VerifyLeader), WaitApplied(commit index), then Read.
//
// Raft hands the FSM command and configuration entries only, not its own
// no-op and barrier entries. An index that names one of those is reached
// when the next command is applied; the Raft wiring proposes a CmdNoop
// command after winning an election so that a fresh leader's reads do not
// wait for the next write.
func (f *FSM) WaitApplied(ctx context.Context, index uint64) error {
	for {
		f.mu.RLock()
		if f.applied.Load() >= index {
			f.mu.RUnlock()
			return nil
		}
		changed := f.changed
		f.mu.RUnlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Read calls fn with a consistent view of the registry and returns the
// applied index the view reflects. fn must not keep the view, nor call the
// FSM: Apply waits while fn runs.
func (f *FSM) Read(fn func(v View)) uint64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	fn(View{s: f.st})
	return f.applied.Load()
}

// Snapshot captures the state in constant time: the tables are
// copy-on-write, so the snapshot keeps the current ones and Apply copies a
// table before its next change. Persist then streams them while Apply goes
// on.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fz := f.st.freeze(f.applied.Load())
	fz.chain = f.chain
	return &fsmSnapshot{fz: fz}, nil
}

// Restore replaces the state with a snapshot written by Persist, read line
// by line. On error the FSM keeps its previous state.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	st, index, chain, err := readSnapshot(rc)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	st.certs = f.certs
	f.st = st
	f.chain = chain
	f.recent = &chainRing{}
	f.recent.put(index, chain)
	f.advance(index)
	return nil
}

// fsmSnapshot is a point-in-time state, streamed by Persist.
type fsmSnapshot struct {
	fz *frozen
}

// Persist writes the snapshot to the sink as JSON lines and closes it, or
// cancels it on error.
func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := writeSnapshot(sink, s.fz); err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

// Release implements raft.FSMSnapshot.
func (s *fsmSnapshot) Release() { s.fz = nil }
