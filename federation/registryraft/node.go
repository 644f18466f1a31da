package registryraft

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"google.golang.org/grpc"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/raftnet"
	"github.com/accordfed/accord/federation/registry"
)

// LogCacheSize is how many of the newest log entries a node keeps in
// memory for replication.
const LogCacheSize = 1024

// Node is one registry server's member of the registry's Raft group. Its
// methods are safe for concurrent use.
type Node struct {
	cfg    Config
	fsm    *registry.FSM
	self   identity.Identity
	id     raft.ServerID
	logger *slog.Logger

	trans raft.Transport
	bolt  *raftboltdb.BoltStore
	store Store // bolt, or Config.WrapStore's wrapper of it
	snaps *raft.FileSnapshotStore

	raft    *raft.Raft
	started atomic.Bool
	closed  atomic.Bool

	// leaderChanged is closed, and replaced, whenever the node learns of a
	// new leader (or of none). Guarded by mu.
	mu            sync.Mutex
	leaderChanged chan struct{}
	// conns caches one gRPC client connection per leader (id and address).
	conns map[connKey]*grpc.ClientConn
	// servers is the set of registry servers (the latest Raft configuration
	// known), for authorising RegistryService callers.
	servers map[raft.ServerID]raft.Server
	// versions holds the highest registry command version each server said
	// it applies (versions.go). Guarded by mu.
	versions map[raft.ServerID]int
	// batchSigners holds the servers that said they check batch
	// signatures (versions.go). Guarded by mu.
	batchSigners map[raft.ServerID]bool
	// matchAnswers holds the version of match answers each server said it
	// applies (versions.go). Guarded by mu.
	matchAnswers map[raft.ServerID]int
	// failing holds, on the leader, the servers that stopped answering
	// heartbeats and since when.
	failing map[raft.ServerID]time.Time

	// div is what the background divergence check found (divergence.go).
	div divergence

	// ready is the current leadership's no-op: a read index is only safe
	// once it is applied.
	ready atomic.Pointer[leadership]
	// reads coalesces a follower's ReadIndex calls to the leader.
	reads readShare
	// fwd batches a follower's forwarded writes (batch.go).
	fwd forwardQueue

	stop      chan struct{}
	observers sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// leadership is one term of this node as leader.
type leadership struct {
	term uint64
	done chan struct{} // closed when the no-op is applied or failed
	err  error         // set before done is closed
}

type connKey struct {
	id   raft.ServerID
	addr string
}

// configStore wraps the FSM so that every configuration Raft commits (on
// every node, also when replayed) updates the node's address book and
// registry server set.
type configStore struct {
	*registry.FSM
	n *Node
}

func (c configStore) StoreConfiguration(index uint64, cfg raft.Configuration) {
	c.FSM.StoreConfiguration(index, cfg)
	c.n.noteConfiguration(cfg)
}

// ApplyBatch implements raft.BatchingFSM: Raft then hands configuration
// entries to the state machine with the commands, not to
// StoreConfiguration, so the node notes them here.
func (c configStore) ApplyBatch(logs []*raft.Log) []any {
	out := c.FSM.ApplyBatch(logs)
	for _, l := range logs {
		if l.Type == raft.LogConfiguration {
			c.n.noteConfiguration(raft.DecodeConfiguration(l.Data))
		}
	}
	return out
}

var _ raft.BatchingFSM = configStore{}

// New opens the node's stores in cfg.DataDir. trans is the Raft transport
// (raftnet.NewTransport over a raftnet.StreamLayer); the node owns it once
// New succeeds, and Raft closes it on shutdown. fsm is the registry's state
// machine; self is this node's certificate identity, whose ServerID is its
// Raft id. A nil logger discards. Start starts Raft.
func New(cfg Config, trans raft.Transport, fsm *registry.FSM, self identity.Identity, logger *slog.Logger) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	switch {
	case trans == nil:
		return nil, fmt.Errorf("%w: transport: required", ErrConfig)
	case fsm == nil:
		return nil, fmt.Errorf("%w: fsm: required", ErrConfig)
	}
	if err := self.Validate(); err != nil || self.Kind != identity.KindNode {
		return nil, fmt.Errorf("%w: self: %q is not a node identity", ErrConfig, self)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("registryraft: data dir: %w", err)
	}
	// bbolt panics on some damage as it opens a file: check it first
	// (integrity.go).
	if err := checkBoltFile(filepath.Join(cfg.DataDir, "raft.db")); err != nil {
		return nil, corrupt(cfg.DataDir, err)
	}
	store, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(cfg.DataDir, "raft.db")})
	if err != nil {
		return nil, fmt.Errorf("registryraft: open %s: %w", filepath.Join(cfg.DataDir, "raft.db"), err)
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(cfg.DataDir, cfg.RetainSnapshots, raftnet.NewHCLogger(logger, "raft-snapshots"))
	if err != nil {
		_ = store.Close()
		return nil, fmt.Errorf("registryraft: snapshot store: %w", err)
	}
	var wrapped Store = store
	if cfg.WrapStore != nil {
		wrapped = cfg.WrapStore(store)
	}
	return &Node{
		cfg: cfg, fsm: fsm, self: self, id: raftnet.ServerID(self), logger: logger,
		trans: trans, bolt: store, store: wrapped, snaps: snaps,
		leaderChanged: make(chan struct{}),
		conns:         map[connKey]*grpc.ClientConn{},
		servers:       map[raft.ServerID]raft.Server{},
		failing:       map[raft.ServerID]time.Time{},
		stop:          make(chan struct{}),
	}, nil
}

// ID returns the node's Raft server id (its identity URI).
func (n *Node) ID() raft.ServerID { return n.id }

// Address returns the node's Raft address as the other servers dial it.
func (n *Node) Address() string { return string(n.trans.LocalAddr()) }

// HasState reports whether the node has Raft state (a log, a snapshot or a
// term): a node without it must bootstrap or join.
func (n *Node) HasState() (bool, error) {
	return raft.HasExistingState(n.store, n.store, n.snaps)
}

// Raft returns the underlying Raft instance, or nil before Start. For
// tests and diagnostics; writes must go through Apply.
func (n *Node) Raft() *raft.Raft { return n.raft }

// Start starts Raft: it restores the latest snapshot and replays the log,
// then follows (or, once bootstrapped, stands for election).
func (n *Node) Start() error {
	if n.closed.Load() {
		return ErrClosed
	}
	if !n.started.CompareAndSwap(false, true) {
		return fmt.Errorf("registryraft: already started")
	}
	// Raft reads its log and newest snapshot as it starts; a damaged one
	// must stop the node rather than Raft (integrity.go).
	if err := removeUnfinishedSnapshots(n.cfg.DataDir, n.logger); err != nil {
		return fmt.Errorf("registryraft: snapshot store: %w", err)
	}
	logStore := checksummedLogs{n.store}
	if err := checkRaftData(n.cfg.DataDir, logStore, n.snaps); err != nil {
		return corrupt(n.cfg.DataDir, err)
	}
	rc := n.cfg.raftConfig(n.id)
	rc.Logger = raftnet.NewClosingHCLogger(n.logger, "raft", n.closed.Load)
	// The newest entries are read back to replicate them; a cache in front
	// of the log store saves those reads.
	logs, err := raft.NewLogCache(LogCacheSize, logStore)
	if err != nil {
		return fmt.Errorf("registryraft: log cache: %w", err)
	}
	r, err := raft.NewRaft(rc, configStore{FSM: n.fsm, n: n}, logs, n.store, n.snaps, n.trans)
	if err != nil {
		return fmt.Errorf("registryraft: start raft: %w", err)
	}
	n.raft = r
	if f := r.GetConfiguration(); f.Error() == nil {
		n.noteConfiguration(f.Configuration())
	}
	obs := make(chan raft.Observation, 64)
	observer := raft.NewObserver(obs, false, func(o *raft.Observation) bool {
		switch o.Data.(type) {
		case raft.LeaderObservation, raft.FailedHeartbeatObservation, raft.ResumedHeartbeatObservation:
			return true
		}
		return false
	})
	r.RegisterObserver(observer)
	n.observers.Add(1)
	go func() {
		defer n.observers.Done()
		defer r.DeregisterObserver(observer)
		n.observe(obs)
	}()
	if n.cfg.ManageMembership {
		n.observers.Add(1)
		go n.manage()
	}
	n.observers.Add(1)
	go n.watchDivergence()
	return nil
}

// Bootstrap founds a new Raft group with servers (this node among them).
// It refuses, with ErrExistingState, a node that has any Raft state: only
// the founding servers bootstrap, once; others join through AddServer.
func (n *Node) Bootstrap(servers []raft.Server) error {
	if n.raft == nil {
		return fmt.Errorf("registryraft: bootstrap before start")
	}
	has, err := raft.HasExistingState(n.store, n.store, n.snaps)
	if err != nil {
		return fmt.Errorf("registryraft: bootstrap: %w", err)
	}
	if has {
		return ErrExistingState
	}
	cfg := raft.Configuration{Servers: servers}
	if n.cfg.AddressBook != nil {
		if err := n.cfg.AddressBook.SetConfiguration(cfg); err != nil {
			return fmt.Errorf("registryraft: bootstrap: %w", err)
		}
	}
	if err := n.raft.BootstrapCluster(cfg).Error(); err != nil {
		if errors.Is(err, raft.ErrCantBootstrap) {
			return ErrExistingState
		}
		return fmt.Errorf("registryraft: bootstrap: %w", err)
	}
	n.noteConfiguration(cfg)
	return nil
}

// observe follows leader changes: it wakes waiters and, when this node has
// won an election, proposes the leadership's no-op.
func (n *Node) observe(obs <-chan raft.Observation) {
	for {
		select {
		case <-n.stop:
			return
		case o := <-obs:
			lo, ok := o.Data.(raft.LeaderObservation)
			if !ok {
				n.noteHeartbeat(o.Data)
				continue
			}
			term := n.raft.CurrentTerm()
			n.logger.Info("registry leader", "leader", string(lo.LeaderID), "term", term)
			n.mu.Lock()
			close(n.leaderChanged)
			n.leaderChanged = make(chan struct{})
			clear(n.failing)
			n.mu.Unlock()
			if lo.LeaderID == n.id {
				n.startLeadership(term)
			}
		}
	}
}

// startLeadership proposes a no-op for a newly won term. Reads on this
// leader wait for it (see readIndex).
func (n *Node) startLeadership(term uint64) {
	if cur := n.ready.Load(); cur != nil && cur.term == term {
		return
	}
	l := &leadership{term: term, done: make(chan struct{})}
	n.ready.Store(l)
	cmd, err := registry.NewCommand("", registry.Noop{})
	if err == nil {
		n.versioned(cmd)
		var data []byte
		data, err = cmd.Encode()
		if err == nil {
			f := n.raft.Apply(data, n.cfg.ApplyTimeout)
			go func() {
				l.err = f.Error()
				switch {
				case l.err == nil:
				case n.closed.Load() || errors.Is(l.err, raft.ErrLeadershipTransferInProgress) || errors.Is(l.err, raft.ErrRaftShutdown):
					// Handing over or shutting down: the next leader proposes its own.
					n.logger.Info("registry leader no-op not applied", "term", term, "err", l.err)
				default:
					n.logger.Warn("registry leader no-op failed", "term", term, "err", l.err)
				}
				close(l.done)
			}()
			return
		}
	}
	l.err = err
	close(l.done)
}

// leaderWait returns a channel that is closed at the next leader change.
func (n *Node) leaderWait() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.leaderChanged
}

// wait waits for a leader change, a short while (in case an observation was
// dropped), or the end of ctx.
func (n *Node) wait(ctx context.Context, ch <-chan struct{}) error {
	t := time.NewTimer(50 * time.Millisecond)
	defer t.Stop()
	select {
	case <-ch:
	case <-t.C:
	case <-ctx.Done():
		return ctx.Err()
	case <-n.stop:
		return ErrClosed
	}
	return nil
}

// noteConfiguration records a Raft configuration: registry servers for
// authorisation, and identities at addresses for the transport.
func (n *Node) noteConfiguration(cfg raft.Configuration) {
	n.mu.Lock()
	defer n.mu.Unlock()
	m := make(map[raft.ServerID]raft.Server, len(cfg.Servers))
	for _, s := range cfg.Servers {
		m[s.ID] = s
		if n.cfg.AddressBook != nil {
			if id, err := raftnet.ParseServerID(s.ID); err == nil {
				n.cfg.AddressBook.Set(s.Address, id)
			}
		}
	}
	n.servers = m
}

// knowsServer reports whether the node knows a configuration (one with
// servers: it has started and has Raft state) and whether id is a server
// of the latest one.
func (n *Node) knowsServer(id raft.ServerID) (known, isServer bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	_, isServer = n.servers[id]
	return len(n.servers) > 0, isServer
}

// Close shuts the node down in order: a leader first transfers its
// leadership (bounded by the election timeout and a few seconds), so the
// group elects at once rather than after a timeout; Raft then shuts down,
// closing the transport; then the observer and the gRPC client connections
// stop; the log store closes last, when nothing writes to it any more.
func (n *Node) Close() error {
	return n.close(true)
}

// Shutdown stops the node like a crash would, as far as the group sees it:
// no leadership transfer. The stores are closed cleanly. For tests and for
// leaving a group that is being torn down.
func (n *Node) Shutdown() error {
	return n.close(false)
}

func (n *Node) close(transfer bool) error {
	n.closeOnce.Do(func() {
		n.closed.Store(true)
		var errs []error
		if n.raft != nil {
			if transfer && n.raft.State() == raft.Leader {
				if err := n.transfer(); err != nil {
					// The others elect a leader after their election
					// timeout, as after a crash; nothing is lost.
					n.logger.Info("leadership not handed over before shutdown; the others will elect a leader", "err", err)
				}
			}
			if err := n.raft.Shutdown().Error(); err != nil {
				errs = append(errs, fmt.Errorf("raft shutdown: %w", err))
			}
		} else if c, ok := n.trans.(interface{ Close() error }); ok {
			// Raft never took the transport; close it here.
			errs = append(errs, c.Close())
		}
		close(n.stop)
		n.observers.Wait()
		n.mu.Lock()
		for k, cc := range n.conns {
			_ = cc.Close()
			delete(n.conns, k)
		}
		n.mu.Unlock()
		if err := n.bolt.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close log store: %w", err))
		}
		n.closeErr = errors.Join(errs...)
	})
	return n.closeErr
}

// transfer hands leadership to another voter and waits until that is done
// or a bound passes.
func (n *Node) transfer() error {
	// To a voter that answers heartbeats: raft's own choice (the most
	// up-to-date follower) may be a server that has stopped already, as
	// when a whole federation shuts down one node after another.
	target, answering, voters := n.answeringVoter()
	if answering == 0 || answering < voters/2+1 {
		// Without this server the others cannot elect anyone: a transfer
		// could only time out.
		n.logger.Info("too few registry servers answer to take over the leadership; shutting down without a transfer",
			"answering", answering, "voters", voters)
		return nil
	}
	f := n.raft.LeadershipTransferToServer(target.ID, target.Address)
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	t := time.NewTimer(n.cfg.ElectionTimeout + 5*time.Second)
	defer t.Stop()
	select {
	case err := <-done:
		return err
	case <-t.C:
		return fmt.Errorf("leadership transfer: timed out")
	}
}

// answeringVoter returns, on the leader, a voter other than itself that
// has not stopped answering heartbeats (the first such in the
// configuration).
// It also returns how many other voters answer, and how many voters there
// are in all.
func (n *Node) answeringVoter() (target raft.Server, answering, voters int) {
	cfg := n.raft.GetConfiguration()
	if cfg.Error() != nil {
		return raft.Server{}, 0, 0
	}
	n.mu.Lock()
	failing := maps.Clone(n.failing)
	n.mu.Unlock()
	for _, s := range cfg.Configuration().Servers {
		if s.Suffrage != raft.Voter {
			continue
		}
		voters++
		if s.ID == n.id {
			continue
		}
		if _, down := failing[s.ID]; down {
			continue
		}
		if answering == 0 {
			target = s
		}
		answering++
	}
	return target, answering, voters
}
