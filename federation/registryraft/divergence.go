package registryraft

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// Divergence.
//
// Raft cannot tell an elected leader from a server that merely claims a
// higher term: a dishonest member's server can write entries into one
// follower's log, which that follower commits and applies. Signed commands
// (federation/registry) keep such entries from acting in another member's
// name, but the follower has still applied entries the others have not
// (and may have skipped some they applied). So every server compares its
// log chain (registry.FSM.LogChain) with the other servers' at a common
// index: in every GroupStatus (accordctl status), and in the background
// every Config.DivergenceCheckInterval. A server whose chain differs from
// another's is reported as diverged from it; a server that differs from
// most of those it could compare with knows that its own state is not the
// federation's, logs it at ERROR with what to do, and says so in its
// status (Status.DivergedFromMajority).

// DefaultDivergenceCheckInterval is how often a server compares its log
// chain with the others' in the background.
const DefaultDivergenceCheckInterval = 30 * time.Second

// divergence is what the background check found last.
type divergence struct {
	mu       sync.Mutex
	servers  map[raft.ServerID]uint64 // diverged server -> index compared
	majority bool
}

// Diverged returns how many servers the last background check found with
// another log chain than this server's, and whether this server differs
// from most of those it compared with.
func (n *Node) Diverged() (servers int, fromMajority bool) {
	n.div.mu.Lock()
	defer n.div.mu.Unlock()
	return len(n.div.servers), n.div.majority
}

// compareChain compares this server's log chain with another server's
// chain at index; compared is false when this server no longer holds its
// chain at that index (or has not applied it).
func (n *Node) compareChain(index uint64, other []byte) (compared, diverged bool) {
	if index == 0 || len(other) != 32 {
		return false, false
	}
	own, ok := n.fsm.LogChain(index)
	if !ok {
		return false, false
	}
	return true, string(own[:]) != string(other)
}

// fromMajority says whether this server differs from most of the servers
// whose chains it compared.
func fromMajority(st Status) bool {
	compared, diverged := 0, 0
	for _, s := range st.Servers {
		if s.ID == st.ID || !s.Compared {
			continue
		}
		compared++
		if s.Diverged {
			diverged++
		}
	}
	return compared > 0 && 2*diverged > compared
}

// DefaultVersionProbeInterval is how often the background comparison runs
// while some server of the group has not answered it yet (versions.go): a
// new group learns within about a second that it may write the current
// version and sign in batches. A server that answered, whatever it said,
// is asked again at the usual interval only (one that keeps saying "no" is
// not polled every second).
const DefaultVersionProbeInterval = time.Second

// watchDivergence runs the background comparison until the node stops:
// every Config.DivergenceCheckInterval, and every Config.VersionProbeInterval
// while some server of the group has never answered it.
func (n *Node) watchDivergence() {
	defer n.observers.Done()
	t := time.NewTimer(min(n.cfg.VersionProbeInterval, n.cfg.DivergenceCheckInterval))
	defer t.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		st, err := n.GroupStatus(ctx)
		cancel()
		if err == nil {
			n.noteDivergence(st)
		}
		next := n.cfg.DivergenceCheckInterval
		if n.unanswered() {
			next = min(next, n.cfg.VersionProbeInterval)
		}
		t.Reset(next)
	}
}

// noteDivergence records a comparison's findings and logs what changed.
func (n *Node) noteDivergence(st Status) {
	n.div.mu.Lock()
	defer n.div.mu.Unlock()
	found := map[raft.ServerID]uint64{}
	for _, s := range st.Servers {
		if s.Diverged {
			found[s.ID] = s.DivergedAt
			if _, known := n.div.servers[s.ID]; !known {
				n.logger.Error("registry divergence: this server and another applied different log entries",
					"server", string(s.ID), "index", s.DivergedAt)
			}
		}
	}
	for id := range n.div.servers {
		if _, still := found[id]; !still {
			n.logger.Info("registry divergence: no longer seen", "server", string(id))
		}
	}
	n.div.servers = found
	if st.DivergedFromMajority && !n.div.majority {
		n.logger.Error(fmt.Sprintf("registry divergence: this server's registry state differs from most servers'; "+
			"stop the node, move %s aside and start it again: it rejoins by the leader's snapshot", n.cfg.DataDir),
			"diverged_from", len(found))
	}
	n.div.majority = st.DivergedFromMajority
}
