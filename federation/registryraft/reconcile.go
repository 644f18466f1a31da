package registryraft

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/raftnet"
	"github.com/accordfed/accord/federation/registry"
)

// ServerPolicy returns the transport's Allow function (raftnet.Config.Allow)
// for a registry server whose state machine is fsm: once the registry is
// founded, a peer may take part in Raft only if it is a registered registry
// server of an admitted member; before that (a founding node before the
// registry's Bootstrap command, or a joining node that has not received the
// registry's state yet) only the configured seeds may.
func ServerPolicy(fsm *registry.FSM, seeds []identity.Identity) func(identity.Identity) error {
	return func(id identity.Identity) error {
		var (
			founded bool
			found   bool
		)
		fsm.Read(func(v registry.View) {
			founded = v.Bootstrapped()
			if !founded {
				return
			}
			n, status, err := v.GetNode(id.String())
			found = err == nil && n.RegistryServer && status == registry.MemberAdmitted
		})
		if founded {
			if found {
				return nil
			}
			return fmt.Errorf("%w: %s is not a registry server of an admitted member", ErrNotRegistryServer, id)
		}
		for _, s := range seeds {
			if s == id {
				return nil
			}
		}
		return fmt.Errorf("%w: %s is not one of the configured registry servers (the registry is not founded yet here)", ErrNotRegistryServer, id)
	}
}

// FederationAddresses looks a server's gRPC address up in the registry
// (the node's federation_address) and in static (the node's configured
// registry.servers), for Config.GRPCAddress and Config.GRPCAddressFailed.
// When the two differ — every server moved while stopped, and the registry
// still holds the old addresses until each server registers its new one —
// it keeps to one until a call to it fails, then tries the other.
func FederationAddresses(fsm *registry.FSM, static map[raft.ServerID]string) *AddressLookup {
	return &AddressLookup{fsm: fsm, static: static, avoid: map[raft.ServerID]string{}}
}

// AddressLookup is FederationAddresses' lookup.
type AddressLookup struct {
	fsm    *registry.FSM
	static map[raft.ServerID]string
	mu     sync.Mutex
	avoid  map[raft.ServerID]string // an address a call failed at
}

// candidates returns the registry's address and the configured one, each
// once.
func (a *AddressLookup) candidates(id raft.ServerID) []string {
	var out []string
	a.fsm.Read(func(v registry.View) {
		if n, _, err := v.GetNode(string(id)); err == nil && n.FederationAddress != "" {
			out = append(out, n.FederationAddress)
		}
	})
	if s, ok := a.static[id]; ok && s != "" && !slices.Contains(out, s) {
		out = append(out, s)
	}
	return out
}

// Lookup returns the address to call id at.
func (a *AddressLookup) Lookup(id raft.ServerID) (string, bool) {
	c := a.candidates(id)
	if len(c) == 0 {
		return "", false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(c) > 1 && a.avoid[id] == c[0] {
		return c[1], true
	}
	return c[0], true
}

// Failed records that a call to id at addr failed: the next lookup tries
// the other address, if there is one (and after both failed, the first
// again).
func (a *AddressLookup) Failed(id raft.ServerID, addr string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.avoid[id] == addr {
		delete(a.avoid, id)
		return
	}
	a.avoid[id] = addr
}

// noteHeartbeat records, on the leader, that a follower stopped or resumed
// answering heartbeats.
func (n *Node) noteHeartbeat(o any) {
	n.mu.Lock()
	defer n.mu.Unlock()
	switch h := o.(type) {
	case raft.FailedHeartbeatObservation:
		if _, ok := n.failing[h.PeerID]; !ok {
			since := h.LastContact
			if since.IsZero() {
				since = time.Now()
			}
			n.failing[h.PeerID] = since
		}
	case raft.ResumedHeartbeatObservation:
		delete(n.failing, h.PeerID)
	}
}

// unreachableSince returns since when the leader has not reached a server,
// or the zero time.
func (n *Node) unreachableSince(id raft.ServerID) time.Time {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.failing[id]
}

// manage keeps, on the leader, the Raft configuration in step with the
// registry: it adds registered registry servers, removes servers whose
// node was removed or whose member was suspended, updates a server's
// address, and keeps one voter per member and at most MaxVoters (votes.go:
// a lost voter's vote goes only to a server of the same member). It makes
// at most one change per round.
func (n *Node) manage() {
	defer n.observers.Done()
	interval := min(time.Second, n.cfg.ElectionTimeout)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-t.C:
		}
		if !n.isLeader() {
			continue
		}
		l := n.ready.Load()
		if l == nil || l.term != n.raft.CurrentTerm() {
			continue
		}
		select {
		case <-l.done:
		default:
			continue
		}
		if l.err != nil {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*n.cfg.ElectionTimeout+5*time.Second)
		change, err := n.reconcile(ctx)
		cancel()
		switch {
		case err != nil && !errors.Is(err, ErrNotLeader):
			n.logger.Warn("registry membership change failed", "change", change, "err", err)
		case change != "":
			n.logger.Info("registry membership changed", "change", change)
		}
	}
}

// reconcile makes the first change the configuration needs, and says what
// it did ("" for nothing).
func (n *Node) reconcile(ctx context.Context) (string, error) {
	var (
		founded bool
		want    = map[raft.ServerID]raft.ServerAddress{}
	)
	n.fsm.Read(func(v registry.View) {
		founded = v.Bootstrapped()
		for _, s := range v.RegistryServers() {
			want[raft.ServerID(s.URI)] = raft.ServerAddress(s.Address)
		}
	})
	if !founded {
		return "", nil
	}
	cfg, index, err := n.configuration()
	if err != nil {
		return "", err
	}
	have := map[raft.ServerID]raft.Server{}
	for _, s := range cfg.Servers {
		have[s.ID] = s
	}
	// Servers that should not be there.
	for _, s := range cfg.Servers {
		if _, ok := want[s.ID]; ok {
			continue
		}
		if s.ID == n.id {
			// The leader's own node left the registry: hand over, and let
			// the next leader remove it.
			return "transfer leadership away from a removed server", n.transfer()
		}
		return fmt.Sprintf("remove %s", s.ID), n.RemoveServer(ctx, s.ID)
	}
	// Servers that should be there, or have moved.
	for id, addr := range want {
		s, ok := have[id]
		switch {
		case !ok:
			if _, err := raftnet.ParseServerID(id); err != nil {
				continue
			}
			voter, err := n.AddServer(ctx, id, addr)
			return fmt.Sprintf("add %s at %s (voter: %v)", id, addr, voter), err
		case s.Address != addr:
			if s.Suffrage == raft.Voter {
				return fmt.Sprintf("move voter %s to %s", id, addr), n.AddVoter(ctx, id, addr, index)
			}
			return fmt.Sprintf("move non-voter %s to %s", id, addr), n.AddNonvoter(ctx, id, addr, index)
		}
	}
	// Voters: one per member, MaxVoters at most (votes.go).
	deadline := time.Now().Add(-n.cfg.DeadServerTimeout)
	ch, ok := planVoters(cfg.Servers, n.id, n.cfg.MaxVoters, voterHealth{
		reachable: func(id raft.ServerID) bool { return n.unreachableSince(id).IsZero() },
		lost: func(id raft.ServerID) bool {
			since := n.unreachableSince(id)
			return !since.IsZero() && since.Before(deadline)
		},
	})
	if !ok {
		return "", nil
	}
	switch {
	case ch.demote != "" && ch.promote != "":
		if err := n.change(n.raft.DemoteVoter(ch.demote, index, timeout(ctx))); err != nil {
			return fmt.Sprintf("demote unreachable voter %s (%s)", ch.demote, ch.why), err
		}
		return fmt.Sprintf("replace unreachable voter %s by %s (%s)", ch.demote, ch.promote, ch.why), n.AddVoter(ctx, ch.promote, ch.promoteAddr, 0)
	case ch.demote != "":
		return fmt.Sprintf("demote %s (%s)", ch.demote, ch.why), n.change(n.raft.DemoteVoter(ch.demote, index, timeout(ctx)))
	default:
		return fmt.Sprintf("promote %s (%s)", ch.promote, ch.why), n.AddVoter(ctx, ch.promote, ch.promoteAddr, index)
	}
}
