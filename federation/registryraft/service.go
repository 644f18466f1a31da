package registryraft

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/hashicorp/raft"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/raftnet"
	"github.com/accordfed/accord/federation/registry"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// ServiceMethods is the method prefix of accord.v1.RegistryService, for
// grpcserver.Policy.Allow (the service checks its callers itself too).
const ServiceMethods = "/accord.v1.RegistryService/"

// Service is the server side of accord.v1.RegistryService on one node.
// Register it with accordv1.RegisterRegistryServiceServer.
type Service struct {
	accordv1.UnimplementedRegistryServiceServer
	n *Node
}

// NewService returns the RegistryService of n.
func NewService(n *Node) *Service { return &Service{n: n} }

// caller returns the verified identity of the caller, which must be a
// registry server: a node in the registry's Raft configuration. While this
// node knows no configuration yet (it is starting: its gRPC service may
// answer before Raft has loaded its state), it cannot tell, and answers
// Unavailable so that the caller tries again rather than taking a refusal
// for final.
func (s *Service) caller(ctx context.Context) (identity.Identity, error) {
	id, err := identity.FromContext(ctx)
	if err != nil {
		return identity.Identity{}, status.Error(codes.Unauthenticated, err.Error())
	}
	if id.Kind != identity.KindNode {
		return identity.Identity{}, status.Error(codes.PermissionDenied, fmt.Sprintf("%v: %s", ErrNotRegistryServer, id))
	}
	known, isServer := s.n.knowsServer(raftnet.ServerID(id))
	switch {
	case !known:
		return identity.Identity{}, unavailable("registry server is starting: its Raft configuration is not loaded yet")
	case !isServer:
		return identity.Identity{}, status.Error(codes.PermissionDenied, fmt.Sprintf("%v: %s", ErrNotRegistryServer, id))
	}
	return id, nil
}

// Submit applies a forwarded command on the leader. A server forwards only
// commands it signed itself: the acting node must be the caller's verified
// identity (the state machine checks the signature).
func (s *Service) Submit(ctx context.Context, req *accordv1.SubmitRequest) (*accordv1.SubmitResponse, error) {
	id, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	return s.submit(ctx, id, req.GetCommand())
}

// MaxBatchCommands is the most commands a SubmitBatch call may carry.
const MaxBatchCommands = 1024

// SubmitBatch applies several forwarded commands on the leader, each as
// Submit does (the same checks, its own signature, request id and
// exactly-once entry), and answers with one result per command: a refused
// command does not fail the others. The commands are proposed
// concurrently, as separate Submit calls would be, so that Raft appends
// them together (its leader groups the entries waiting to be appended, up
// to MaxAppendEntries, into one write of the log and one AppendEntries
// per follower); their order in the log is Raft's, as for concurrent
// calls.
func (s *Service) SubmitBatch(ctx context.Context, req *accordv1.SubmitBatchRequest) (*accordv1.SubmitBatchResponse, error) {
	id, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	cmds := req.GetCommands()
	switch {
	case len(cmds) == 0:
		return nil, status.Error(codes.InvalidArgument, "commands: required")
	case len(cmds) > MaxBatchCommands:
		return nil, status.Error(codes.InvalidArgument, fmt.Sprintf("commands: %d commands, at most %d in one call", len(cmds), MaxBatchCommands))
	}
	if !s.n.isLeader() {
		return nil, unavailable("not the registry leader")
	}
	results := make([]*accordv1.SubmitResult, len(cmds))
	var wg sync.WaitGroup
	for i, data := range cmds {
		wg.Go(func() {
			resp, err := s.submit(ctx, id, data)
			if err != nil {
				st := status.Convert(err)
				// The message Submit would have given: the follower hands
				// it to its caller, whose command it is.
				results[i] = &accordv1.SubmitResult{Code: int32(st.Code()), Message: st.Message()}
				return
			}
			results[i] = &accordv1.SubmitResult{Code: int32(codes.OK), Response: resp}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, status.FromContextError(err).Err()
	}
	return &accordv1.SubmitBatchResponse{Results: results}, nil
}

// submit applies one command that the server id forwarded, on the leader.
// A server forwards only commands it signed itself: the acting node must
// be the caller's verified identity (the state machine checks the
// signature). The error is a gRPC status.
func (s *Service) submit(ctx context.Context, id identity.Identity, data []byte) (*accordv1.SubmitResponse, error) {
	cmd, err := registry.DecodeCommand(data)
	if err != nil {
		return nil, refusalStatus(err)
	}
	if cmd.Actor.Node != id.String() || cmd.Member != id.Member {
		return nil, status.Error(codes.PermissionDenied, fmt.Sprintf("%v: command: acts as %s of member %s, but the caller is %s; a server submits only its own commands",
			ErrForeignCommand, cmd.Actor.Node, cmd.Member, id))
	}
	if !s.n.isLeader() {
		return nil, unavailable("not the registry leader")
	}
	out, index, retry, err := s.n.applyLocal(ctx, cmd)
	switch {
	case retry:
		return nil, unavailable("not the registry leader: %v", err)
	case errors.Is(err, ErrClosed):
		return nil, unavailable("registry server is shutting down")
	case err != nil && ctx.Err() != nil:
		return nil, status.FromContextError(ctx.Err()).Err()
	case err != nil:
		return nil, refusalStatus(err)
	}
	return &accordv1.SubmitResponse{Id: out.ID, Version: int32(out.Version), Status: out.Status, Index: index}, nil
}

// ReadIndex answers the leader's read index.
func (s *Service) ReadIndex(ctx context.Context, _ *accordv1.ReadIndexRequest) (*accordv1.ReadIndexResponse, error) {
	if _, err := s.caller(ctx); err != nil {
		return nil, err
	}
	if !s.n.isLeader() {
		return nil, unavailable("not the registry leader")
	}
	index, retry, err := s.n.localReadIndex(ctx)
	switch {
	case retry:
		return nil, unavailable("not the registry leader: %v", err)
	case errors.Is(err, ErrClosed):
		return nil, unavailable("registry server is shutting down")
	case err != nil:
		return nil, status.FromContextError(err).Err()
	}
	return &accordv1.ReadIndexResponse{Index: index}, nil
}

func (n *Node) isLeader() bool {
	return !n.closed.Load() && n.raft != nil && n.raft.State() == raft.Leader
}
