package registryraft_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/accordfed/accord/federation/registryraft"
)

// Storage faults under the checked workload: fsync stalls of seconds on
// the leader, and a follower that falls behind the log the others keep.

// stallStore wraps a node's log and stable store (raft-boltdb) so that its
// writes can be made to stall, as they do when an fsync takes seconds:
// while stalled, StoreLog, StoreLogs, Set and SetUint64 block until the
// stall is released, then write.
type stallStore struct {
	registryraft.Store

	mu   sync.Mutex
	gate chan struct{} // non-nil while stalled; closed by release

	// stalled counts the writes that had to wait.
	stalled atomic.Int64
}

func (s *stallStore) stall() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gate == nil {
		s.gate = make(chan struct{})
	}
}

func (s *stallStore) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gate != nil {
		close(s.gate)
		s.gate = nil
	}
}

func (s *stallStore) wait() {
	s.mu.Lock()
	gate := s.gate
	s.mu.Unlock()
	if gate != nil {
		s.stalled.Add(1)
		<-gate
	}
}

func (s *stallStore) StoreLog(l *raft.Log) error {
	s.wait()
	return s.Store.StoreLog(l)
}

func (s *stallStore) StoreLogs(logs []*raft.Log) error {
	s.wait()
	return s.Store.StoreLogs(logs)
}

func (s *stallStore) Set(key, val []byte) error {
	s.wait()
	return s.Store.Set(key, val)
}

func (s *stallStore) SetUint64(key []byte, val uint64) error {
	s.wait()
	return s.Store.SetUint64(key, val)
}

// stallStores makes every node's store a stallStore and returns them by
// node name.
func stallStores(o *clusterOptions) map[string]*stallStore {
	var mu sync.Mutex
	stores := map[string]*stallStore{}
	o.wrapStore = func(name string) func(registryraft.Store) registryraft.Store {
		return func(s registryraft.Store) registryraft.Store {
			mu.Lock()
			defer mu.Unlock()
			st := &stallStore{Store: s}
			stores[name] = st
			return st
		}
	}
	return stores
}

// TestFaultFsyncStall: in rounds, the leader's log store stalls for one to
// two seconds (every write waits, as on a disk whose fsync hangs) while
// the clients write; then it is released. Writes wait through the stall
// and none fails; after each stall the group takes writes at once; at the
// end nothing is lost and the state machines agree.
func TestFaultFsyncStall(t *testing.T) {
	forSizes(t, func(t *testing.T, n int) {
		o := faultTimeouts()
		stores := stallStores(&o)
		c, _ := faultCluster(t, n, o)
		c.waitLeader(30 * time.Second)
		w := startWorkload(t, "fsync-stall", c, c.nodes, workloadOptions{strict: true})
		w.progress("before any fault", 0, 20, 30*time.Second)
		rng := rand.New(rand.NewPCG(uint64(n), uint64(time.Now().UnixNano())))
		deadline := time.Now().Add(soak(t, 3*time.Second))
		var stalled time.Duration
		for round := 0; round < 1 || time.Now().Before(deadline); round++ {
			leader := waitLeaderAmong(w, "before the round", c.nodes, 30*time.Second)
			st := stores[leader.name]
			d := time.Second + time.Duration(rng.Int64N(int64(time.Second)))
			before := st.stalled.Load()
			st.stall()
			w.faults.Add(1)
			hold(w, d)
			st.release()
			stalled += d
			step := fmt.Sprintf("round %d: %s's store stalled %s (%d writes waited)", round, leader.name, d.Round(time.Millisecond), st.stalled.Load()-before)
			if st.stalled.Load() == before {
				t.Errorf("%s: no write to the store waited: the stall did not bite", step)
			}
			w.progress(step, w.acks.Load(), 20, 30*time.Second)
		}
		t.Logf("leaders' stores stalled %s in all", stalled.Round(time.Millisecond))
		waitLeaderAmong(w, "at the end", c.nodes, 30*time.Second)
		w.finish(c.nodes)
	})
}

// TestFaultLaggingFollower: in rounds, a follower is cut off while the
// others take writes and snapshot, keeping 64 entries of log, so that the
// log no longer holds what the follower lacks. Healed, it catches up by
// installing a snapshot (its own snapshot index reaches the leader's, which
// it could not reach through its log), under the clients' load; at the end
// nothing is lost and the state machines agree.
func TestFaultLaggingFollower(t *testing.T) {
	forSizes(t, func(t *testing.T, n int) {
		const trailing = 64
		o := faultTimeouts()
		o.trailingLogs = trailing
		c, network := faultCluster(t, n, o)
		c.waitLeader(30 * time.Second)
		w := startWorkload(t, "lagging-follower", c, c.nodes, workloadOptions{strict: true, opTimeout: 90 * time.Second})
		w.progress("before any fault", 0, 20, 30*time.Second)
		deadline := time.Now().Add(soak(t, time.Second))
		for round := 0; round < 1 || time.Now().Before(deadline); round++ {
			leader := waitLeaderAmong(w, "before the round", c.nodes, 30*time.Second)
			lagging := others(c, leader)[round%(n-1)]
			network.Isolate(lagging.name)
			w.faults.Add(1)
			lastIndex := lagging.node.Raft().LastIndex()
			live := others(c, lagging)
			step := fmt.Sprintf("round %d: %s cut off at log index %d", round, lagging.name, lastIndex)
			// Enough entries that the kept log starts after the follower's.
			w.progress(step, w.acks.Load(), 2*trailing+50, 60*time.Second)
			var snapIdx, firstKept uint64
			for i, tn := range live {
				if err := tn.node.Raft().Snapshot().Error(); err != nil && !errors.Is(err, raft.ErrNothingNewToSnapshot) {
					w.halt()
					t.Fatalf("%s: snapshot on %s: %v", step, tn.name, err)
				}
				s, last := statUint(t, tn, "last_snapshot_index"), statUint(t, tn, "last_log_index")
				kept := min(s, last-trailing) + 1
				if i == 0 || s < snapIdx {
					snapIdx = s
				}
				if i == 0 || kept < firstKept {
					firstKept = kept
				}
			}
			if lastIndex+1 >= firstKept {
				w.halt()
				t.Fatalf("%s: the others still hold its next entry %d (they keep from %d): no snapshot would be needed", step, lastIndex+1, firstKept)
			}
			network.Heal()
			start := time.Now()
			if err := poll(60*time.Second, func() error {
				if got := statUint(t, lagging, "last_snapshot_index"); got < snapIdx {
					return fmt.Errorf("%s's last snapshot index %d, the others snapshotted at %d", lagging.name, got, snapIdx)
				}
				return nil
			}); err != nil {
				w.halt()
				t.Fatalf("%s, healed: %v", step, err)
			}
			t.Logf("%s: installed a snapshot at index %d or later %s after healing (the others keep their log from %d)",
				step, snapIdx, time.Since(start).Round(time.Millisecond), firstKept)
			w.progress(step+", healed", w.acks.Load(), 20, 30*time.Second)
		}
		waitLeaderAmong(w, "at the end", c.nodes, 30*time.Second)
		w.finish(c.nodes)
	})
}
