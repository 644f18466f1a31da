package raftnet_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/mtls"
	"github.com/accordfed/accord/federation/pki/pkitest"
	"github.com/accordfed/accord/federation/raftnet"
	"github.com/accordfed/accord/federation/raftnet/raftnettest"
)

// allowSet is the test's list of registry servers.
type allowSet struct {
	mu  sync.Mutex
	ids map[identity.Identity]bool
}

func newAllowSet(ids ...identity.Identity) *allowSet {
	a := &allowSet{ids: map[identity.Identity]bool{}}
	for _, id := range ids {
		a.ids[id] = true
	}
	return a
}

func (a *allowSet) set(id identity.Identity, ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.ids[id] = ok
}

func (a *allowSet) allow(id identity.Identity) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.ids[id] {
		return errors.New("not a registry server")
	}
	return nil
}

func allowAll(identity.Identity) error { return nil }

// refusals records the layer's Refused hook.
type refusals struct {
	mu   sync.Mutex
	list []string // side:reason
}

func (r *refusals) add(side, _ string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.list = append(r.list, side+":"+raftnet.Reason(err))
}

func (r *refusals) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.list...)
}

// countingLayer counts what the layer hands to raft.
type countingLayer struct {
	*raftnet.StreamLayer
	accepted atomic.Int64
}

func (c *countingLayer) Accept() (net.Conn, error) {
	conn, err := c.StreamLayer.Accept()
	if err == nil {
		c.accepted.Add(1)
	}
	return conn, err
}

func newSource(t testing.TB, cfg mtls.Config, logger *slog.Logger) *mtls.Source {
	t.Helper()
	src, err := mtls.NewSource(cfg, mtls.Hooks{}, logger, nil)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// newLayer starts a layer for src on 127.0.0.1:0; mutate may change the
// configuration first.
func newLayer(t testing.TB, src *mtls.Source, mutate func(*raftnet.Config)) *raftnet.StreamLayer {
	t.Helper()
	ln := listen(t)
	cfg := raftnet.Config{Listener: ln, Source: src, Allow: allowAll, Expect: raftnet.NewAddressBook().Expect}
	if mutate != nil {
		mutate(&cfg)
	}
	l, err := raftnet.New(cfg)
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// countFSM counts applied commands.
type countFSM struct{ n atomic.Int64 }

func (f *countFSM) Apply(*raft.Log) any { return f.n.Add(1) }

func (f *countFSM) Snapshot() (raft.FSMSnapshot, error) { return countSnapshot(f.n.Load()), nil }

func (f *countFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	var b [8]byte
	if _, err := io.ReadFull(rc, b[:]); err != nil {
		return err
	}
	f.n.Store(int64(binary.BigEndian.Uint64(b[:])))
	return nil
}

type countSnapshot int64

func (s countSnapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := sink.Write(binary.BigEndian.AppendUint64(nil, uint64(s))); err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

func (countSnapshot) Release() {}

// testNode is one raft server of a test cluster.
type testNode struct {
	name   string
	id     identity.Identity
	layer  *raftnet.StreamLayer
	raft   *raft.Raft
	fsm    *countFSM
	leader *leaderWatch
}

// leaderWatch records every leader a node learns of.
type leaderWatch struct {
	mu      sync.Mutex
	leaders []raft.ServerID
}

func (w *leaderWatch) add(id raft.ServerID) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.leaders = append(w.leaders, id)
}

func (w *leaderWatch) seen() []raft.ServerID {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]raft.ServerID(nil), w.leaders...)
}

type clusterOptions struct {
	// network, when set, carries every connection (faults).
	network *raftnettest.Network
	// timeouts of raft
	heartbeat, election, lease time.Duration
}

// startCluster starts one raft server per name (a node of member UA, PL,
// DE in turn), each allowed, bootstrapped together.
func startCluster(t *testing.T, logger *slog.Logger, names []string, o clusterOptions) []*testNode {
	t.Helper()
	members := []string{"UA", "PL", "DE"}
	fed := pkitest.NewFederation(t, "accord.test", members...)
	book := raftnet.NewAddressBook()
	allow := newAllowSet()
	nodes := make([]*testNode, len(names))
	var servers []raft.Server
	for i, name := range names {
		src := newSource(t, fed.Node(members[i%len(members)], name), logger)
		n := &testNode{name: name, id: src.Identity(), fsm: &countFSM{}, leader: &leaderWatch{}}
		allow.set(n.id, true)
		n.layer = newLayer(t, src, func(c *raftnet.Config) {
			c.Allow = allow.allow
			c.Expect = book.Expect
			c.Logger = logger.With("node", name)
			if o.network != nil {
				c.DialContext = o.network.Dialer(name)
			}
		})
		addr := raft.ServerAddress(n.layer.Addr().String())
		book.Set(addr, n.id)
		if o.network != nil {
			o.network.Register(name, string(addr))
		}
		servers = append(servers, raft.Server{ID: raftnet.ServerID(n.id), Address: addr})
		nodes[i] = n
	}
	for _, n := range nodes {
		conf := raft.DefaultConfig()
		conf.LocalID = raftnet.ServerID(n.id)
		conf.Logger = raftnet.NewHCLogger(logger.With("node", n.name), "raft")
		conf.HeartbeatTimeout, conf.ElectionTimeout, conf.LeaderLeaseTimeout = o.heartbeat, o.election, o.lease
		conf.CommitTimeout = 10 * time.Millisecond
		trans := raftnet.NewTransport(n.layer, raftnet.TransportOptions{Logger: logger.With("node", n.name)})
		store := raft.NewInmemStore()
		r, err := raft.NewRaft(conf, n.fsm, store, store, raft.NewInmemSnapshotStore(), trans)
		if err != nil {
			t.Fatal(err)
		}
		n.raft = r
		t.Cleanup(func() {
			if err := r.Shutdown().Error(); err != nil {
				t.Errorf("shutdown %s: %v", n.name, err)
			}
		})
		obs := make(chan raft.Observation, 16)
		r.RegisterObserver(raft.NewObserver(obs, false, func(o *raft.Observation) bool {
			_, ok := o.Data.(raft.LeaderObservation)
			return ok
		}))
		done := make(chan struct{})
		stopped := make(chan struct{})
		go func() {
			defer close(stopped)
			for {
				select {
				case o := <-obs:
					if lo := o.Data.(raft.LeaderObservation); lo.LeaderID != "" {
						n.leader.add(lo.LeaderID)
					}
				case <-done:
					return
				}
			}
		}()
		t.Cleanup(func() { close(done); <-stopped })
		if err := r.BootstrapCluster(raft.Configuration{Servers: servers}).Error(); err != nil {
			t.Fatal(err)
		}
	}
	return nodes
}

// waitLeader waits until every node follows the same leader and returns it.
func waitLeader(t *testing.T, nodes []*testNode, timeout time.Duration) *testNode {
	t.Helper()
	var leader *testNode
	raftnettest.WaitFor(t, timeout, func() error {
		leader = nil
		for _, n := range nodes {
			if n.raft.State() == raft.Leader {
				if leader != nil {
					return fmt.Errorf("two leaders: %s and %s", leader.name, n.name)
				}
				leader = n
			}
		}
		if leader == nil {
			return fmt.Errorf("no leader")
		}
		for _, n := range nodes {
			if _, id := n.raft.LeaderWithID(); id != raftnet.ServerID(leader.id) {
				return fmt.Errorf("%s follows %q, not %s", n.name, id, leader.name)
			}
		}
		return nil
	})
	return leader
}

// waitApplied waits until every node's state machine applied want commands.
func waitApplied(t *testing.T, nodes []*testNode, want int64, timeout time.Duration) {
	t.Helper()
	raftnettest.WaitFor(t, timeout, func() error {
		for _, n := range nodes {
			if got := n.fsm.n.Load(); got != want {
				return fmt.Errorf("%s applied %d commands, want %d", n.name, got, want)
			}
		}
		return nil
	})
}
