package registryraft

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/hashicorp/raft"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/raftnet"
	"github.com/accordfed/accord/federation/registry"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// registration returns this node's registration as a registry server at
// the given addresses: a registry.RegisterNode command acting for the node
// itself, signed by it. The joining node makes it; the leader proposes it
// unchanged, so that the state machine decides whether the member may do it
// (admitted, its own node) and records who did, and no leader can register
// a node in another member's name.
func (n *Node) registration(raftAddr, fedAddr string) (*registry.Command, error) {
	rid := make([]byte, 8)
	_, _ = rand.Read(rid)
	cmd, err := registry.NewCommand("node.join."+hex.EncodeToString(rid), registry.RegisterNode{Node: registry.NodeSpec{
		URI: n.self.String(), RegistryServer: true, Address: raftAddr, FederationAddress: fedAddr,
	}})
	if err != nil {
		return nil, err
	}
	// Version 2, which a leader of either build applies (versions.go).
	cmd.Version = registry.LegacyCommandVersion
	cmd.Member = n.self.Member
	cmd.Actor.Node = n.self.String()
	if err := n.sign(cmd); err != nil {
		return nil, err
	}
	return cmd, nil
}

// joinRequest checks a joining node's signed registration: a RegisterNode
// command of the caller for itself, at the addresses of the request.
func joinRequest(caller identity.Identity, req *accordv1.JoinRequest) (*registry.Command, error) {
	cmd, err := registry.DecodeCommand(req.GetCommand())
	if err != nil {
		return nil, err
	}
	if cmd.Type != registry.CmdRegisterNode {
		return nil, fmt.Errorf("%w: command: a join carries a %s command, not %s", registry.ErrInvalidArgument, registry.CmdRegisterNode, cmd.Type)
	}
	p, ok := cmd.Payload.(*registry.RegisterNode)
	if !ok {
		return nil, fmt.Errorf("%w: command: payload: not a node registration", registry.ErrInvalidArgument)
	}
	if cmd.Actor.Node != caller.String() || cmd.Member != caller.Member || p.Node.URI != caller.String() {
		return nil, fmt.Errorf("%w: command: registers %s acting as %s, but the caller is %s", ErrForeignCommand, p.Node.URI, cmd.Actor.Node, caller)
	}
	if p.Node.Address != req.GetRaftAddress() || p.Node.FederationAddress != req.GetFederationAddress() {
		return nil, fmt.Errorf("%w: command: the registration's addresses differ from the request's", registry.ErrInvalidArgument)
	}
	return cmd, nil
}

// join registers a node (of an admitted member, the verified caller) as a
// registry server with its signed registration cmd and adds it to the
// group. It runs on the leader.
func (n *Node) join(ctx context.Context, node identity.Identity, cmd *registry.Command, raftAddr string) (voter bool, index uint64, err error) {
	_, index, retry, err := n.applyLocal(ctx, cmd)
	switch {
	case retry:
		return false, 0, fmt.Errorf("%w: %w", ErrNotLeader, err)
	case err != nil:
		return false, 0, err
	}
	voter, err = n.AddServer(ctx, raftnet.ServerID(node), raft.ServerAddress(raftAddr))
	return voter, index, err
}

// Seed is a registry server a joining node asks to be added.
type Seed struct {
	// ID is the server's node identity (its Raft server id).
	ID identity.Identity
	// GRPCAddress is its federation gRPC address.
	GRPCAddress string
}

// Join asks the group to add this node: it calls RegistryService/Join on
// each seed in turn until the leader accepts, waiting a little between
// rounds while no seed is the leader. The node's member must be admitted;
// the caller's identity comes from its certificate. It returns whether the
// node joined as a voter. ctx bounds the whole.
//
// A server of the group that comes back at a new address joins again to
// move there; it may have won an election meanwhile (its vote and log are
// intact), and then it leads and makes the change itself.
func (n *Node) Join(ctx context.Context, seeds []Seed, raftAddr, fedAddr string) (bool, error) {
	if len(seeds) == 0 {
		return false, fmt.Errorf("%w: join: no registry server to ask", ErrConfig)
	}
	var last error
	// A server that does not lead names the leader (leaderHint); the
	// leader is then asked too, in the same round. At most maxRedirects
	// are added, whatever the servers say.
	seeds = slices.Clone(seeds)
	redirects := 0
	for round := 0; ; round++ {
		reg, err := n.registration(raftAddr, fedAddr)
		if err != nil {
			return false, err
		}
		data, err := reg.Encode()
		if err != nil {
			return false, err
		}
		if n.isLeader() {
			voter, index, err := n.join(ctx, n.self, reg, raftAddr)
			if err == nil {
				n.logger.Info("joined the registry group", "via", "self", "voter", voter, "index", index)
				return voter, nil
			}
			if status.Code(refusalStatus(err)) != codes.Internal {
				// The registry refused: asking again will not help.
				return false, fmt.Errorf("registry join refused: %w", err)
			}
			last = err // leadership moved, or the change failed: go on
		}
		for i := 0; i < len(seeds); i++ {
			s := seeds[i]
			if s.ID == n.self {
				continue
			}
			client, err := n.clientAt(raftnet.ServerID(s.ID), s.GRPCAddress)
			if err != nil {
				last = err
				continue
			}
			resp, err := client.Join(ctx, &accordv1.JoinRequest{RaftAddress: raftAddr, FederationAddress: fedAddr, Command: data,
				CommandVersion: registry.CommandVersion, BatchSignatures: true})
			if err == nil {
				n.logger.Info("joined the registry group", "via", s.ID.String(), "voter", resp.GetVoter(), "index", resp.GetIndex())
				return resp.GetVoter(), nil
			}
			st, _ := status.FromError(err)
			switch st.Code() {
			case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled:
				last = fmt.Errorf("%s: %w", s.ID, err)
				if hint, ok := leaderHint(st); ok && redirects < maxRedirects && !slices.ContainsFunc(seeds, func(x Seed) bool { return x == hint }) {
					// Dialled with its own identity expected, as every
					// seed is: a server can point only at a node whose
					// certificate says it is that leader.
					redirects++
					seeds = append(seeds, hint)
				}
			default:
				// Refused: the member is not admitted, or the node belongs to
				// another member. Asking again will not help.
				if r := statusRefusal(st); r != nil {
					return false, fmt.Errorf("registry join refused by %s: %w", s.ID, r)
				}
				return false, fmt.Errorf("registry join refused by %s: %w", s.ID, err)
			}
		}
		t := time.NewTimer(min(time.Duration(round+1)*200*time.Millisecond, 2*time.Second))
		select {
		case <-ctx.Done():
			t.Stop()
			return false, fmt.Errorf("registry join: %w (last attempt: %w)", ctx.Err(), last)
		case <-n.stop:
			t.Stop()
			return false, ErrClosed
		case <-t.C:
		}
	}
}

// Join serves RegistryService/Join, on the leader.
func (s *Service) Join(ctx context.Context, req *accordv1.JoinRequest) (*accordv1.JoinResponse, error) {
	id, err := identity.FromContext(ctx)
	if err != nil {
		return nil, status.Error(codes.Unauthenticated, err.Error())
	}
	if id.Kind != identity.KindNode {
		return nil, status.Error(codes.PermissionDenied, fmt.Sprintf("%v: %s is not a node", ErrNotRegistryServer, id))
	}
	if req.GetRaftAddress() == "" {
		return nil, status.Error(codes.InvalidArgument, "raft_address: required")
	}
	if !s.n.isLeader() {
		return nil, s.n.notLeader()
	}
	cmd, err := joinRequest(id, req)
	switch {
	case errors.Is(err, ErrForeignCommand):
		return nil, status.Error(codes.PermissionDenied, err.Error())
	case err != nil:
		return nil, refusalStatus(err)
	}
	joining := max(int(req.GetCommandVersion()), registry.LegacyCommandVersion)
	oldVersion := joining < registry.CommandVersion && s.n.writeVersion() >= registry.CommandVersion
	// Entries signed in batches are in the log when the group signs them:
	// a build that does not check them could not apply it.
	noBatches := !req.GetBatchSignatures() && s.n.signsBatches()
	if oldVersion || noBatches {
		// Who may not join at all is told so first; an admitted
		// member's node of an earlier build is told to upgrade.
		admitted := false
		s.n.fsm.Read(func(v registry.View) {
			m, err := v.GetMember(id.Member)
			admitted = err == nil && m.Status == registry.MemberAdmitted
		})
		if !admitted {
			return nil, status.Error(codes.PermissionDenied, fmt.Sprintf("%v: member %s is not an admitted member of the federation", ErrNotRegistryServer, id.Member))
		}
		if oldVersion {
			return nil, status.Error(codes.FailedPrecondition, fmt.Sprintf(
				"command_version: this registry group writes command version %d, which node %s (a build that applies version %d) cannot apply: upgrade it first (docs/operations.md)",
				registry.CommandVersion, id, joining))
		}
		return nil, status.Error(codes.FailedPrecondition, fmt.Sprintf(
			"batch_signatures: this registry group signs forwarded writes in batches, which node %s (an earlier build) cannot check: upgrade it first (docs/operations.md)", id))
	}
	s.n.noteCommandVersion(raftnet.ServerID(id), joining)
	s.n.noteBatchSignatures(raftnet.ServerID(id), req.GetBatchSignatures())
	voter, index, err := s.n.join(ctx, id, cmd, req.GetRaftAddress())
	switch {
	case errors.Is(err, ErrNotLeader):
		return nil, unavailable("not the registry leader: %v", err)
	case errors.Is(err, ErrClosed):
		return nil, unavailable("registry server is shutting down")
	case err != nil && ctx.Err() != nil:
		return nil, status.FromContextError(ctx.Err()).Err()
	case err != nil:
		if r := refusalStatus(err); status.Code(r) != codes.Internal {
			return nil, r
		}
		return nil, status.Error(codes.Unavailable, err.Error())
	}
	return &accordv1.JoinResponse{Voter: voter, Index: index}, nil
}

// ServerStatus serves RegistryService/ServerStatus.
func (s *Service) ServerStatus(ctx context.Context, req *accordv1.ServerStatusRequest) (*accordv1.ServerStatusResponse, error) {
	if _, err := s.caller(ctx); err != nil {
		return nil, err
	}
	if s.n.raft == nil || s.n.closed.Load() {
		return nil, unavailable("registry server is shutting down")
	}
	resp := &accordv1.ServerStatusResponse{
		State: s.n.raft.State().String(), Term: s.n.raft.CurrentTerm(),
		AppliedIndex: s.n.fsm.AppliedIndex(), LastIndex: s.n.raft.LastIndex(),
		CommandVersion: registry.CommandVersion, BatchSignatures: true, MatchAnswers: registry.MatchAnswers,
	}
	// The chain at the caller's index if this server holds it, else at
	// its own applied index (which the caller may hold).
	for _, at := range []uint64{req.GetChainIndex(), resp.AppliedIndex} {
		if c, ok := s.n.fsm.LogChain(at); ok {
			resp.ChainIndex, resp.LogChain = at, c[:]
			break
		}
	}
	return resp, nil
}

// maxRedirects bounds the leaders a joining node adds to its seeds in one
// Join, on the word of the servers it asks.
const maxRedirects = 8

// notLeaderReason is the ErrorInfo reason of a Join refused by a server
// that does not lead; its metadata name the leader it knows of.
const notLeaderReason = "NOT_LEADER"

// notLeader is the answer of a server that does not lead to a Join:
// Unavailable, with the leader this server knows of (its id and gRPC
// address) in an ErrorInfo, so that the joining node asks it next.
func (n *Node) notLeader() error {
	st := status.New(codes.Unavailable, "not the registry leader")
	if n.raft == nil {
		return st.Err()
	}
	_, leader := n.raft.LeaderWithID()
	if leader == "" {
		return st.Err()
	}
	addr, ok := n.cfg.GRPCAddress(leader)
	if !ok {
		return st.Err()
	}
	withHint, err := st.WithDetails(&errdetails.ErrorInfo{Reason: notLeaderReason, Domain: "accord.registry",
		Metadata: map[string]string{"leader_id": string(leader), "leader_address": addr}})
	if err != nil {
		return st.Err()
	}
	return withHint.Err()
}

// leaderHint reads the leader a server named in its refusal (notLeader).
func leaderHint(st *status.Status) (Seed, bool) {
	for _, d := range st.Details() {
		info, ok := d.(*errdetails.ErrorInfo)
		if !ok || info.GetReason() != notLeaderReason {
			continue
		}
		id, err := identity.Parse(info.GetMetadata()["leader_id"])
		addr := info.GetMetadata()["leader_address"]
		if err != nil || id.Kind != identity.KindNode || addr == "" {
			return Seed{}, false
		}
		return Seed{ID: id, GRPCAddress: addr}, true
	}
	return Seed{}, false
}
