package registryraft

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/accordfed/accord/federation/raftnet"
	"github.com/accordfed/accord/federation/registry"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// Status is a node's view of the Raft group.
type Status struct {
	// ID and Address are this node's.
	ID      raft.ServerID
	Address raft.ServerAddress
	// State is Follower, Candidate, Leader or Shutdown.
	State string
	Term  uint64
	// LeaderID and LeaderAddress are empty while there is no leader known.
	LeaderID      raft.ServerID
	LeaderAddress raft.ServerAddress
	// AppliedIndex is what the registry's state reflects; CommitIndex what
	// this node knows to be committed; LastIndex the last entry of its log.
	AppliedIndex uint64
	CommitIndex  uint64
	LastIndex    uint64
	// Servers is the latest configuration, voters first.
	Servers []ServerStatus
	// DivergedFromMajority (GroupStatus only) says that this server's log
	// chain differs from most of the servers it could compare it with: its
	// registry state is not the federation's (divergence.go).
	DivergedFromMajority bool
}

// ServerStatus is one server of the configuration.
type ServerStatus struct {
	ID       raft.ServerID
	Address  raft.ServerAddress
	Suffrage string // Voter, Nonvoter or Staging
	Leader   bool

	// Filled in by GroupStatus only: whether the server answered, its own
	// state and applied index, how far that is behind the highest applied
	// index seen, and why it could not be asked.
	Reachable    bool
	State        string
	AppliedIndex uint64
	Lag          uint64
	Err          error
	// Compared says that its log chain was compared with this server's at
	// a common index; Diverged that the two differ there (at DivergedAt).
	Compared   bool
	Diverged   bool
	DivergedAt uint64
	// CommandVersion is the highest registry command version the server
	// applies (2 for the previous build, which does not say).
	CommandVersion int
}

// Status returns the node's view of the group.
func (n *Node) Status() (Status, error) {
	if n.raft == nil {
		return Status{}, fmt.Errorf("registryraft: not started")
	}
	leaderAddr, leaderID := n.raft.LeaderWithID()
	st := Status{
		ID: n.id, Address: n.trans.LocalAddr(), State: n.raft.State().String(), Term: n.raft.CurrentTerm(),
		LeaderID: leaderID, LeaderAddress: leaderAddr,
		AppliedIndex: n.fsm.AppliedIndex(), CommitIndex: n.raft.CommitIndex(), LastIndex: n.raft.LastIndex(),
	}
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return st, fmt.Errorf("registryraft: configuration: %w", err)
	}
	for _, s := range f.Configuration().Servers {
		st.Servers = append(st.Servers, ServerStatus{ID: s.ID, Address: s.Address, Suffrage: s.Suffrage.String(), Leader: s.ID == leaderID})
	}
	slices.SortStableFunc(st.Servers, func(a, b ServerStatus) int {
		return rank(a.Suffrage) - rank(b.Suffrage)
	})
	return st, nil
}

// GroupStatus is Status with every server's own view: each server is asked
// (RegistryService/ServerStatus) at once, bounded by ctx, for its state and
// applied index, and each server's lag behind the highest applied index seen
// is computed.
func (n *Node) GroupStatus(ctx context.Context) (Status, error) {
	st, err := n.Status()
	if err != nil {
		return st, err
	}
	var wg sync.WaitGroup
	for i := range st.Servers {
		s := &st.Servers[i]
		if s.ID == n.id {
			s.Reachable, s.State, s.AppliedIndex = true, st.State, st.AppliedIndex
			s.CommandVersion = registry.CommandVersion
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			addr, ok := n.cfg.GRPCAddress(s.ID)
			if !ok {
				s.Err = fmt.Errorf("no gRPC address known")
				return
			}
			client, err := n.clientAt(s.ID, addr)
			if err != nil {
				s.Err = err
				return
			}
			resp, err := client.ServerStatus(ctx, &accordv1.ServerStatusRequest{ChainIndex: st.AppliedIndex})
			if err != nil {
				s.Err = err
				return
			}
			s.Reachable, s.State, s.AppliedIndex = true, resp.GetState(), resp.GetAppliedIndex()
			s.CommandVersion = max(int(resp.GetCommandVersion()), registry.LegacyCommandVersion)
			n.noteCommandVersion(s.ID, s.CommandVersion)
			n.noteBatchSignatures(s.ID, resp.GetBatchSignatures())
			n.noteMatchAnswers(s.ID, int(resp.GetMatchAnswers()))
			s.Compared, s.Diverged = n.compareChain(resp.GetChainIndex(), resp.GetLogChain())
			if s.Diverged {
				s.DivergedAt = resp.GetChainIndex()
			}
		}()
	}
	wg.Wait()
	st.DivergedFromMajority = fromMajority(st)
	var top uint64
	for _, s := range st.Servers {
		top = max(top, s.AppliedIndex)
	}
	for i := range st.Servers {
		if st.Servers[i].Reachable {
			st.Servers[i].Lag = top - st.Servers[i].AppliedIndex
		}
	}
	return st, nil
}

func rank(suffrage string) int {
	switch suffrage {
	case raft.Voter.String():
		return 0
	case raft.Staging.String():
		return 1
	}
	return 2
}

// configuration returns the leader's latest configuration and its index.
func (n *Node) configuration() (raft.Configuration, uint64, error) {
	if !n.isLeader() {
		return raft.Configuration{}, 0, ErrNotLeader
	}
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return raft.Configuration{}, 0, fmt.Errorf("registryraft: configuration: %w", err)
	}
	return f.Configuration(), f.Index(), nil
}

func voters(cfg raft.Configuration) int {
	v := 0
	for _, s := range cfg.Servers {
		if s.Suffrage == raft.Voter {
			v++
		}
	}
	return v
}

// timeout is what a membership change may take: ctx's deadline, or 30 s.
func timeout(ctx context.Context) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		return max(time.Until(dl), time.Millisecond)
	}
	return 30 * time.Second
}

// AddServer adds a registry server to the group, on the leader: as a voter
// while the group has fewer than MaxVoters voters and no other server of
// its member votes (one vote per member, votes.go), otherwise as a
// non-voter; a server that is a voter already stays one (its address is
// updated). It
// returns whether the server votes. The server's node must already be a
// registry server (its member admitted, its node registered): the
// transport refuses others.
func (n *Node) AddServer(ctx context.Context, id raft.ServerID, addr raft.ServerAddress) (bool, error) {
	cfg, index, err := n.configuration()
	if err != nil {
		return false, err
	}
	for _, s := range cfg.Servers {
		if s.ID == id && s.Suffrage == raft.Voter {
			// A voter added again (at a new address, say) keeps its vote.
			return true, n.AddVoter(ctx, id, addr, index)
		}
	}
	if m := memberOf(id); m != "" && voters(cfg) < n.cfg.MaxVoters && !memberVotes(cfg.Servers, m, id) {
		return true, n.AddVoter(ctx, id, addr, index)
	}
	return false, n.AddNonvoter(ctx, id, addr, index)
}

// AddVoter adds (or promotes) a voter; prevIndex, when not zero, is the
// configuration index the change applies to. The address book learns the
// server's address first, so that the leader can dial it at once.
func (n *Node) AddVoter(ctx context.Context, id raft.ServerID, addr raft.ServerAddress, prevIndex uint64) error {
	if err := n.expect(id, addr); err != nil {
		return err
	}
	return n.change(n.raft.AddVoter(id, addr, prevIndex, timeout(ctx)))
}

// AddNonvoter adds a server that receives the log but does not vote.
func (n *Node) AddNonvoter(ctx context.Context, id raft.ServerID, addr raft.ServerAddress, prevIndex uint64) error {
	if err := n.expect(id, addr); err != nil {
		return err
	}
	return n.change(n.raft.AddNonvoter(id, addr, prevIndex, timeout(ctx)))
}

// RemoveServer removes a server, on the leader. When it was a voter and
// the group has non-voters, one is promoted, keeping MaxVoters voters: a
// server of the removed voter's member first, else one of a member
// without a vote (one vote per member).
func (n *Node) RemoveServer(ctx context.Context, id raft.ServerID) error {
	cfg, index, err := n.configuration()
	if err != nil {
		return err
	}
	var removed *raft.Server
	for i := range cfg.Servers {
		if cfg.Servers[i].ID == id {
			removed = &cfg.Servers[i]
		}
	}
	if removed == nil {
		return nil
	}
	if err := n.change(n.raft.RemoveServer(id, index, timeout(ctx))); err != nil {
		return err
	}
	if n.cfg.AddressBook != nil {
		n.cfg.AddressBook.Remove(removed.Address)
	}
	if removed.Suffrage != raft.Voter || voters(cfg)-1 >= n.cfg.MaxVoters {
		return nil
	}
	rest := slices.DeleteFunc(slices.Clone(cfg.Servers), func(s raft.Server) bool { return s.ID == id })
	var next *raft.Server
	for i, s := range rest {
		m := memberOf(s.ID)
		if s.Suffrage != raft.Nonvoter || m == "" || memberVotes(rest, m, "") {
			continue
		}
		if m == memberOf(id) {
			next = &rest[i]
			break
		}
		if next == nil {
			next = &rest[i]
		}
	}
	if next == nil {
		return nil
	}
	if n.raft.State() != raft.Leader {
		// The leader removed itself; the next leader promotes.
		return nil
	}
	return n.change(n.raft.AddVoter(next.ID, next.Address, 0, timeout(ctx)))
}

// TransferLeadership hands leadership to another voter, on the leader.
func (n *Node) TransferLeadership() error {
	if !n.isLeader() {
		return ErrNotLeader
	}
	return n.transfer()
}

func (n *Node) expect(id raft.ServerID, addr raft.ServerAddress) error {
	ident, err := raftnet.ParseServerID(id)
	if err != nil {
		return fmt.Errorf("registryraft: server id %q: %w", id, err)
	}
	if n.cfg.AddressBook != nil {
		n.cfg.AddressBook.Set(addr, ident)
	}
	return nil
}

// change waits for a membership change and records the new configuration.
func (n *Node) change(f raft.IndexFuture) error {
	if err := f.Error(); err != nil {
		if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) {
			return fmt.Errorf("%w: %w", ErrNotLeader, err)
		}
		return fmt.Errorf("registryraft: membership change: %w", err)
	}
	if cf := n.raft.GetConfiguration(); cf.Error() == nil {
		n.noteConfiguration(cf.Configuration())
	}
	return nil
}
