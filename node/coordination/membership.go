package coordination

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/registry"
	"github.com/accordfed/accord/federation/trust"
	"github.com/accordfed/accord/node/grpcserver"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// MembershipService implements accord.v1.MembershipService: members, their
// nodes and federation keys as typed resources. It sends its commands and
// reads through the coordination Service it is made from (the same access
// checks, key material and registry).
type MembershipService struct {
	accordv1.UnimplementedMembershipServiceServer
	s *Service
}

// NewMembership returns the membership service of s (which also signs its
// page tokens: Service.WithPageTokenKey).
func NewMembership(s *Service) *MembershipService {
	return &MembershipService{s: s}
}

// Allow adds the service to the local API's policy: users of the node's own
// member only (admin-only methods are checked per call).
func (m *MembershipService) Allow(p *grpcserver.Policy) {
	member := m.s.member
	p.Allow("/"+accordv1.MembershipService_ServiceDesc.ServiceName+"/", func(id identity.Identity) error {
		if id.Kind != identity.KindUser || id.Member != member {
			return fmt.Errorf("%w: the local API serves users of member %s only, not %s", grpcserver.ErrPermissionDenied, member, id)
		}
		return nil
	})
}

// caller returns the calling user, refused at once when the command type
// needs the admin role the user does not have (before its request is even
// looked at).
func (m *MembershipService) caller(ctx context.Context, typ registry.CommandType) (identity.Identity, error) {
	id, err := m.s.user(ctx)
	if err != nil {
		return identity.Identity{}, err
	}
	if sender, _ := registry.SenderOf(typ); sender == registry.SenderAdmin && !m.s.isAdmin(id) {
		return identity.Identity{}, grpcserver.ToStatus(fmt.Errorf("%w: %s needs the admin role (local_api.admins); %s is an analyst", grpcserver.ErrPermissionDenied, typ, id))
	}
	return id, nil
}

// send applies one command for the user id.
func (m *MembershipService) send(ctx context.Context, id identity.Identity, requestID string, p registry.Payload) (registry.Outcome, error) {
	if requestID == "" {
		return registry.Outcome{}, fmt.Errorf("%w: request_id: required (the same on every retry of this request)", grpcserver.ErrInvalidArgument)
	}
	payload, err := json.Marshal(p)
	if err != nil {
		return registry.Outcome{}, fmt.Errorf("%w: %w", grpcserver.ErrInvalidArgument, err)
	}
	out, _, err := m.s.execute(ctx, id, p.CommandType(), requestID, payload)
	return out, err
}

// member reads a member after a change (linearizable: the change is
// applied on this node before the read).
func (m *MembershipService) member(ctx context.Context, code string, stale bool) (*accordv1.Member, error) {
	var (
		rec  registry.Member
		rerr error
	)
	if _, err := m.s.reg.Read(ctx, !stale, func(v registry.View) { rec, rerr = v.GetMember(code) }); err != nil {
		return nil, err
	}
	if rerr != nil {
		return nil, rerr
	}
	return memberToProto(rec), nil
}

// federationKey reads a key's metadata on behalf of viewer.
func (m *MembershipService) federationKey(ctx context.Context, name, viewer string, stale bool) (*accordv1.FederationKey, error) {
	var (
		rec  registry.FederationKey
		rerr error
	)
	if _, err := m.s.reg.Read(ctx, !stale, func(v registry.View) { rec, rerr = v.FederationKey(name, viewer) }); err != nil {
		return nil, err
	}
	if rerr != nil {
		return nil, rerr
	}
	return keyToProto(rec), nil
}

// GetMember implements MembershipService.GetMember.
func (m *MembershipService) GetMember(ctx context.Context, req *accordv1.GetMemberRequest) (*accordv1.GetMemberResponse, error) {
	if _, err := m.s.user(ctx); err != nil {
		return nil, err
	}
	code, err := parseMemberName("name", req.GetName())
	if err != nil {
		return nil, grpcserver.ToStatus(err)
	}
	mem, err := m.member(ctx, code, req.GetStale())
	if err != nil {
		return nil, grpcserver.ToStatus(err)
	}
	return &accordv1.GetMemberResponse{Member: mem}, nil
}

// cut returns the bounds of the page in positions (sorted): the first
// position after p.after, and at most p.size of them.
func (p page) cut(positions []string) (int, int) {
	from := 0
	if p.after != "" {
		from, _ = slices.BinarySearch(positions, p.after)
		if from < len(positions) && positions[from] == p.after {
			from++
		}
	}
	to := min(from+p.size, len(positions))
	return from, to
}

// next returns the token of the page after the one ending at position
// last, or "" when it was the last page.
func (m *MembershipService) next(p page, more bool, last string) string {
	if !more {
		return ""
	}
	return m.s.tokens.Encode(p.bind, last)
}

// ListMembers implements MembershipService.ListMembers.
func (m *MembershipService) ListMembers(ctx context.Context, req *accordv1.ListMembersRequest) (*accordv1.ListMembersResponse, error) {
	id, err := m.s.user(ctx)
	if err != nil {
		return nil, err
	}
	status := req.GetStatus()
	var want registry.MemberStatus
	if status != accordv1.MemberStatus_MEMBER_STATUS_UNSPECIFIED {
		for st, ps := range memberStatusToProto {
			if ps == status {
				want = st
			}
		}
		if want == "" {
			return nil, grpcserver.ToStatus(fmt.Errorf("%w: status: %d is not a member status", grpcserver.ErrInvalidArgument, status))
		}
	}
	p, err := m.s.pageOf(id, accordv1.MembershipService_ListMembers_FullMethodName, req.GetPageSize(), req.GetPageToken(), string(want))
	if err != nil {
		return nil, grpcserver.ToStatus(err)
	}
	var all []registry.Member
	if _, err := m.s.reg.Read(ctx, !req.GetStale(), func(v registry.View) { all = v.ListMembers() }); err != nil {
		return nil, grpcserver.ToStatus(err)
	}
	var (
		members   []registry.Member
		positions []string
	)
	for _, mem := range all {
		if want == "" || mem.Status == want {
			members = append(members, mem)
			positions = append(positions, mem.Code)
		}
	}
	from, to := p.cut(positions)
	resp := &accordv1.ListMembersResponse{}
	for _, mem := range members[from:to] {
		resp.Members = append(resp.Members, memberToProto(mem))
	}
	if to > from {
		resp.NextPageToken = m.next(p, to < len(members), positions[to-1])
	}
	return resp, nil
}

// ProposeMember implements MembershipService.ProposeMember.
func (m *MembershipService) ProposeMember(ctx context.Context, req *accordv1.ProposeMemberRequest) (*accordv1.ProposeMemberResponse, error) {
	id, err := m.caller(ctx, registry.CmdProposeMember)
	if err != nil {
		return nil, err
	}
	p, err := proposal(req.GetMember())
	if err != nil {
		return nil, grpcserver.ToStatus(err)
	}
	if _, err := m.send(ctx, id, req.GetRequestId(), p); err != nil {
		return nil, grpcserver.ToStatus(err)
	}
	mem, err := m.member(ctx, p.Code, false)
	if err != nil {
		return nil, grpcserver.ToStatus(err)
	}
	return &accordv1.ProposeMemberResponse{Member: mem}, nil
}

// proposal checks a proposed member and returns the registry's payload.
func proposal(mem *accordv1.Member) (registry.ProposeMember, error) {
	bad := func(format string, a ...any) (registry.ProposeMember, error) {
		return registry.ProposeMember{}, fmt.Errorf("%w: "+format, append([]any{grpcserver.ErrInvalidArgument}, a...)...)
	}
	if mem == nil {
		return bad("member: required (code, display_name, ca_certs)")
	}
	code := mem.GetCode()
	if code == "" {
		return bad("member.code: required (the new member's code, e.g. FR)")
	}
	if err := identity.ValidateMember(code); err != nil {
		return bad("member.code: %q must be 2-16 upper-case letters or digits starting with a letter (e.g. FR, ICC)", code)
	}
	if n := mem.GetName(); n != "" && n != memberName(code) {
		return bad("member.name: %q does not match member.code %s (want %s, or leave it empty)", n, code, memberName(code))
	}
	if strings.TrimSpace(mem.GetDisplayName()) == "" {
		return bad("member.display_name: required (the office's name)")
	}
	if len(mem.GetCaCerts()) == 0 {
		return bad("member.ca_certs: at least one CA certificate (PEM) is required")
	}
	switch {
	case mem.GetStatus() != accordv1.MemberStatus_MEMBER_STATUS_UNSPECIFIED:
		return bad("member.status: output only (a proposed member is proposed)")
	case len(mem.GetNodes()) > 0:
		return bad("member.nodes: output only (the new member registers its nodes itself once admitted)")
	case len(mem.GetPersonKeys()) > 0:
		return bad("member.person_keys: output only at proposal (the new member's nodes register theirs)")
	case len(mem.GetAdmissionVotes()) > 0 || len(mem.GetSuspensionVotes()) > 0:
		return bad("member.admission_votes: output only (vote with VoteMember)")
	case mem.GetCaFingerprint() != "":
		return bad("member.ca_fingerprint: output only (the fingerprint of member.ca_certs)")
	}
	sig, err := signingKeysFromProto("member.signing_keys", mem.GetSigningKeys())
	if err != nil {
		return registry.ProposeMember{}, err
	}
	enc, err := encryptionKeysFromProto("member.encryption_keys", mem.GetEncryptionKeys())
	if err != nil {
		return registry.ProposeMember{}, err
	}
	return registry.ProposeMember{Code: code, Name: mem.GetDisplayName(), CACerts: mem.GetCaCerts(), SigningKeys: sig, EncryptionKeys: enc}, nil
}

// VoteMember implements MembershipService.VoteMember.
func (m *MembershipService) VoteMember(ctx context.Context, req *accordv1.VoteMemberRequest) (*accordv1.VoteMemberResponse, error) {
	id, err := m.caller(ctx, registry.CmdVoteAdmission)
	if err != nil {
		return nil, err
	}
	code, err := parseMemberName("name", req.GetName())
	if err != nil {
		return nil, grpcserver.ToStatus(err)
	}
	var approve bool
	switch req.GetDecision() {
	case accordv1.VoteDecision_VOTE_DECISION_APPROVE:
		approve = true
	case accordv1.VoteDecision_VOTE_DECISION_REJECT:
	default:
		return nil, grpcserver.ToStatus(fmt.Errorf("%w: decision: required (VOTE_DECISION_APPROVE or VOTE_DECISION_REJECT)", grpcserver.ErrInvalidArgument))
	}
	fp := normalizeFingerprint(req.GetCaFingerprint())
	if approve && fp == "" {
		return nil, grpcserver.ToStatus(fmt.Errorf("%w: ca_fingerprint: required to approve: the fingerprint of %s's CA certificates as the candidate gave it to you over a second channel (phone, letter); compare it with the one GetMember shows", grpcserver.ErrInvalidArgument, code))
	}
	if approve {
		// Checked here too, against the registry as this node reads it
		// at once: while the group still writes command version 2 the
		// fingerprint cannot travel in the vote (the previous build would
		// refuse the field), and the registry checks it only from version
		// 3 on.
		var want string
		var rerr error
		if _, err := m.s.reg.Read(ctx, true, func(v registry.View) {
			cand, err := v.GetMember(code)
			if err != nil {
				rerr = err
				return
			}
			want, rerr = trust.CASetFingerprint(cand.CACerts)
		}); err != nil {
			return nil, grpcserver.ToStatus(err)
		}
		if rerr != nil {
			return nil, grpcserver.ToStatus(rerr)
		}
		if fp != want {
			return nil, grpcserver.ToStatus(fmt.Errorf("%w: ca_fingerprint: %s does not match the CA certificates proposed for %s (%s): do not approve; ask the candidate again over a second channel", grpcserver.ErrFailedPrecondition, fp, code, want))
		}
	}
	if _, err := m.send(ctx, id, req.GetRequestId(), registry.VoteAdmission{Candidate: code, Approve: approve, CAFingerprint: fp}); err != nil {
		return nil, grpcserver.ToStatus(err)
	}
	mem, err := m.member(ctx, code, false)
	if err != nil {
		return nil, grpcserver.ToStatus(err)
	}
	return &accordv1.VoteMemberResponse{Member: mem}, nil
}

// SuspendMember implements MembershipService.SuspendMember.
func (m *MembershipService) SuspendMember(ctx context.Context, req *accordv1.SuspendMemberRequest) (*accordv1.SuspendMemberResponse, error) {
	id, err := m.caller(ctx, registry.CmdSuspendMember)
	if err != nil {
		return nil, err
	}
	code, err := parseMemberName("name", req.GetName())
	if err != nil {
		return nil, grpcserver.ToStatus(err)
	}
	if _, err := m.send(ctx, id, req.GetRequestId(), registry.SuspendMember{Code: code, Reason: req.GetReason()}); err != nil {
		return nil, grpcserver.ToStatus(err)
	}
	mem, err := m.member(ctx, code, false)
	if err != nil {
		return nil, grpcserver.ToStatus(err)
	}
	return &accordv1.SuspendMemberResponse{Member: mem}, nil
}

// memberUpdatable are the member fields UpdateMember replaces.
var memberUpdatable = []string{"display_name", "ca_certs", "signing_keys", "encryption_keys", "person_keys"}

// UpdateMember implements MembershipService.UpdateMember.
func (m *MembershipService) UpdateMember(ctx context.Context, req *accordv1.UpdateMemberRequest) (*accordv1.UpdateMemberResponse, error) {
	id, err := m.caller(ctx, registry.CmdUpdateMember)
	if err != nil {
		return nil, err
	}
	mem := req.GetMember()
	if mem == nil {
		return nil, grpcserver.ToStatus(fmt.Errorf("%w: member: required", grpcserver.ErrInvalidArgument))
	}
	code, err := parseMemberName("member.name", mem.GetName())
	if err != nil {
		return nil, grpcserver.ToStatus(err)
	}
	if code != id.Member {
		return nil, grpcserver.ToStatus(fmt.Errorf("%w: member.name: member %s may update only its own record (%s), not %s", grpcserver.ErrPermissionDenied, id.Member, memberName(id.Member), mem.GetName()))
	}
	paths := req.GetUpdateMask().GetPaths()
	if len(paths) == 0 {
		return nil, grpcserver.ToStatus(fmt.Errorf("%w: update_mask: required (the fields to replace: %s, or *)", grpcserver.ErrInvalidArgument, strings.Join(memberUpdatable, ", ")))
	}
	set := map[string]bool{}
	for i, p := range paths {
		switch {
		case p == "*":
			for _, f := range memberUpdatable {
				set[f] = true
			}
		case slices.Contains(memberUpdatable, p):
			set[p] = true
		default:
			return nil, grpcserver.ToStatus(fmt.Errorf("%w: update_mask.paths[%d]: %q cannot be updated (only %s, or *)", grpcserver.ErrInvalidArgument, i, p, strings.Join(memberUpdatable, ", ")))
		}
	}
	expected, err := parseEtag("member.etag", mem.GetEtag())
	if err != nil {
		return nil, grpcserver.ToStatus(err)
	}
	// The new values, parsed once; the others are the record's as read
	// for each attempt (updateFresh).
	var p registry.UpdateMember
	if set["signing_keys"] {
		if p.SigningKeys, err = signingKeysFromProto("member.signing_keys", mem.GetSigningKeys()); err != nil {
			return nil, grpcserver.ToStatus(err)
		}
	}
	if set["encryption_keys"] {
		if p.EncryptionKeys, err = encryptionKeysFromProto("member.encryption_keys", mem.GetEncryptionKeys()); err != nil {
			return nil, grpcserver.ToStatus(err)
		}
	}
	if set["person_keys"] {
		if p.PersonKeys, err = personKeysFromProto("member.person_keys", mem.GetPersonKeys()); err != nil {
			return nil, grpcserver.ToStatus(err)
		}
	}
	build := func(v registry.View) (registry.Payload, error) {
		cur, err := v.GetMember(code)
		if err != nil {
			return nil, err
		}
		u := registry.UpdateMember{Code: code, Name: cur.Name, CACerts: cur.CACerts, SigningKeys: cur.SigningKeys,
			EncryptionKeys: cur.EncryptionKeys, PersonKeys: cur.PersonKeys, ExpectedVersion: uint64(expected)}
		if expected == 0 {
			u.ExpectedVersion = cur.Updated.Index
		}
		if set["display_name"] {
			u.Name = mem.GetDisplayName()
		}
		if set["ca_certs"] {
			u.CACerts = mem.GetCaCerts()
		}
		if set["signing_keys"] {
			u.SigningKeys = p.SigningKeys
		}
		if set["encryption_keys"] {
			u.EncryptionKeys = p.EncryptionKeys
		}
		if set["person_keys"] {
			u.PersonKeys = p.PersonKeys
		}
		return u, nil
	}
	send := func(ctx context.Context, requestID string, p registry.Payload) (registry.Outcome, error) {
		return m.send(ctx, id, requestID, p)
	}
	if _, err := m.s.updateFresh(ctx, id, req.GetRequestId(), "member.etag", expected != 0, build, send); err != nil {
		return nil, grpcserver.ToStatus(err)
	}
	out, err := m.member(ctx, code, false)
	if err != nil {
		return nil, grpcserver.ToStatus(err)
	}
	return &accordv1.UpdateMemberResponse{Member: out}, nil
}

// checkHostPort checks an address field of a node: host:port, port 1-65535.
func checkHostPort(field, addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return fmt.Errorf("%w: %s: %q must be host:port (e.g. fr-1.example.org:7400)", grpcserver.ErrInvalidArgument, field, addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("%w: %s: %q: the port must be 1-65535", grpcserver.ErrInvalidArgument, field, addr)
	}
	return nil
}

// CreateNode implements MembershipService.CreateNode.
func (m *MembershipService) CreateNode(ctx context.Context, req *accordv1.CreateNodeRequest) (*accordv1.CreateNodeResponse, error) {
	id, err := m.caller(ctx, registry.CmdRegisterNode)
	if err != nil {
		return nil, err
	}
	spec, name, err := nodeSpec(id, req)
	if err != nil {
		return nil, grpcserver.ToStatus(err)
	}
	if _, err := m.send(ctx, id, req.GetRequestId(), registry.RegisterNode{Node: spec}); err != nil {
		return nil, grpcserver.ToStatus(err)
	}
	mem, err := m.member(ctx, id.Member, false)
	if err != nil {
		return nil, grpcserver.ToStatus(err)
	}
	for _, n := range mem.GetNodes() {
		if n.GetName() == name {
			return &accordv1.CreateNodeResponse{Node: n}, nil
		}
	}
	return nil, grpcserver.ToStatus(fmt.Errorf("%w: node %s is not in the registry after its registration", grpcserver.ErrUnavailable, name))
}

// nodeSpec checks a node registration by user id and returns the
// registry's node and its resource name.
func nodeSpec(id identity.Identity, req *accordv1.CreateNodeRequest) (registry.NodeSpec, string, error) {
	bad := func(format string, a ...any) (registry.NodeSpec, string, error) {
		return registry.NodeSpec{}, "", fmt.Errorf("%w: "+format, append([]any{grpcserver.ErrInvalidArgument}, a...)...)
	}
	code, err := parseMemberName("parent", req.GetParent())
	if err != nil {
		return registry.NodeSpec{}, "", err
	}
	if code != id.Member {
		return registry.NodeSpec{}, "", fmt.Errorf("%w: parent: member %s may register only its own nodes (%s), not %s's", grpcserver.ErrPermissionDenied, id.Member, memberName(id.Member), code)
	}
	nodeID := req.GetNodeId()
	if nodeID == "" {
		return bad("node_id: required (the node's name as its certificate names it, e.g. %s-1)", strings.ToLower(code))
	}
	if identity.ValidateName(nodeID) != nil {
		return bad("node_id: %q must be 1-63 of a-z, 0-9, '.', '_', '-' starting with a letter or digit", nodeID)
	}
	n := req.GetNode()
	if n == nil {
		return bad("node: required (federation_address, and raft_address for a registry server)")
	}
	name := nodeName(code, nodeID)
	if n.GetName() != "" && n.GetName() != name {
		return bad("node.name: %q does not match parent and node_id (%s)", n.GetName(), name)
	}
	uri := identity.Identity{Federation: id.Federation, Member: code, Kind: identity.KindNode, Name: nodeID}.String()
	if n.GetUri() != "" && n.GetUri() != uri {
		return bad("node.uri: output only (%s)", uri)
	}
	if n.GetRegistered() != nil {
		return bad("node.registered: output only")
	}
	if n.GetFederationAddress() == "" {
		return bad("node.federation_address: required (host:port where the other members' nodes reach this node)")
	}
	if err := checkHostPort("node.federation_address", n.GetFederationAddress()); err != nil {
		return registry.NodeSpec{}, "", err
	}
	switch {
	case n.GetRegistryServer() && n.GetRaftAddress() == "":
		return bad("node.raft_address: required for a registry server")
	case n.GetRaftAddress() != "":
		if err := checkHostPort("node.raft_address", n.GetRaftAddress()); err != nil {
			return registry.NodeSpec{}, "", err
		}
	}
	return registry.NodeSpec{URI: uri, RegistryServer: n.GetRegistryServer(), Address: n.GetRaftAddress(), FederationAddress: n.GetFederationAddress()}, name, nil
}

// DeleteNode implements MembershipService.DeleteNode.
func (m *MembershipService) DeleteNode(ctx context.Context, req *accordv1.DeleteNodeRequest) (*accordv1.DeleteNodeResponse, error) {
	id, err := m.caller(ctx, registry.CmdRemoveNode)
	if err != nil {
		return nil, err
	}
	code, node, err := parseNodeName("name", req.GetName())
	if err != nil {
		return nil, grpcserver.ToStatus(err)
	}
	if code != id.Member {
		return nil, grpcserver.ToStatus(fmt.Errorf("%w: name: member %s may remove only its own nodes, not %s", grpcserver.ErrPermissionDenied, id.Member, req.GetName()))
	}
	uri := identity.Identity{Federation: id.Federation, Member: code, Kind: identity.KindNode, Name: node}.String()
	if _, err := m.send(ctx, id, req.GetRequestId(), registry.RemoveNode{URI: uri}); err != nil {
		return nil, grpcserver.ToStatus(err)
	}
	mem, err := m.member(ctx, code, false)
	if err != nil {
		return nil, grpcserver.ToStatus(err)
	}
	return &accordv1.DeleteNodeResponse{Member: mem}, nil
}

// ListNodes implements MembershipService.ListNodes.
func (m *MembershipService) ListNodes(ctx context.Context, req *accordv1.ListNodesRequest) (*accordv1.ListNodesResponse, error) {
	id, err := m.s.user(ctx)
	if err != nil {
		return nil, err
	}
	parent := allMembers
	if req.GetParent() != memberName(allMembers) {
		if parent, err = parseMemberName("parent", req.GetParent()); err != nil {
			return nil, grpcserver.ToStatus(fmt.Errorf("%w (or members/- for every member's nodes)", err))
		}
	}
	p, err := m.s.pageOf(id, accordv1.MembershipService_ListNodes_FullMethodName, req.GetPageSize(), req.GetPageToken(), parent)
	if err != nil {
		return nil, grpcserver.ToStatus(err)
	}
	var (
		all  []registry.Member
		rerr error
	)
	if _, err := m.s.reg.Read(ctx, !req.GetStale(), func(v registry.View) {
		if parent == allMembers {
			all = v.ListMembers()
			return
		}
		var mem registry.Member
		mem, rerr = v.GetMember(parent)
		all = []registry.Member{mem}
	}); err != nil {
		return nil, grpcserver.ToStatus(err)
	}
	if rerr != nil {
		return nil, grpcserver.ToStatus(rerr)
	}
	var nodes []*accordv1.Node
	for _, mem := range all {
		for _, n := range mem.Nodes {
			nodes = append(nodes, nodeToProto(mem.Code, n))
		}
	}
	slices.SortFunc(nodes, func(a, b *accordv1.Node) int { return strings.Compare(a.GetName(), b.GetName()) })
	positions := make([]string, len(nodes))
	for i, n := range nodes {
		positions[i] = n.GetName()
	}
	from, to := p.cut(positions)
	resp := &accordv1.ListNodesResponse{Nodes: nodes[from:to]}
	if to > from {
		resp.NextPageToken = m.next(p, to < len(nodes), positions[to-1])
	}
	return resp, nil
}

// GetFederationKey implements MembershipService.GetFederationKey.
func (m *MembershipService) GetFederationKey(ctx context.Context, req *accordv1.GetFederationKeyRequest) (*accordv1.GetFederationKeyResponse, error) {
	id, err := m.s.user(ctx)
	if err != nil {
		return nil, err
	}
	name, err := parseKeyName("name", req.GetName())
	if err != nil {
		return nil, grpcserver.ToStatus(err)
	}
	k, err := m.federationKey(ctx, name, id.Member, req.GetStale())
	if err != nil {
		return nil, grpcserver.ToStatus(err)
	}
	return &accordv1.GetFederationKeyResponse{FederationKey: k}, nil
}

// ListFederationKeys implements MembershipService.ListFederationKeys.
func (m *MembershipService) ListFederationKeys(ctx context.Context, req *accordv1.ListFederationKeysRequest) (*accordv1.ListFederationKeysResponse, error) {
	id, err := m.s.user(ctx)
	if err != nil {
		return nil, err
	}
	p, err := m.s.pageOf(id, accordv1.MembershipService_ListFederationKeys_FullMethodName, req.GetPageSize(), req.GetPageToken())
	if err != nil {
		return nil, grpcserver.ToStatus(err)
	}
	var (
		keys []registry.FederationKey
		rerr error
	)
	if _, err := m.s.reg.Read(ctx, !req.GetStale(), func(v registry.View) { keys, rerr = v.ListFederationKeys(id.Member) }); err != nil {
		return nil, grpcserver.ToStatus(err)
	}
	if rerr != nil {
		return nil, grpcserver.ToStatus(rerr)
	}
	positions := make([]string, len(keys))
	for i, k := range keys {
		positions[i] = k.Name
	}
	from, to := p.cut(positions)
	resp := &accordv1.ListFederationKeysResponse{}
	for _, k := range keys[from:to] {
		resp.FederationKeys = append(resp.FederationKeys, keyToProto(k))
	}
	if to > from {
		resp.NextPageToken = m.next(p, to < len(keys), positions[to-1])
	}
	return resp, nil
}

// federationKeyIDRE is the form of a federation key's name.
var federationKeyIDRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// CreateFederationKey implements MembershipService.CreateFederationKey.
func (m *MembershipService) CreateFederationKey(ctx context.Context, req *accordv1.CreateFederationKeyRequest) (*accordv1.CreateFederationKeyResponse, error) {
	id, err := m.caller(ctx, registry.CmdCreateKey)
	if err != nil {
		return nil, err
	}
	name := req.GetFederationKeyId()
	switch {
	case name == "":
		return nil, grpcserver.ToStatus(fmt.Errorf("%w: federation_key_id: required (e.g. evidence-pseudonyms)", grpcserver.ErrInvalidArgument))
	case !federationKeyIDRE.MatchString(name):
		return nil, grpcserver.ToStatus(fmt.Errorf("%w: federation_key_id: %q must be 1-63 of a-z, 0-9, '.', '_', '-' starting with a letter or digit", grpcserver.ErrInvalidArgument, name))
	}
	k := req.GetFederationKey()
	if n := k.GetName(); n != "" && n != keyName(name) {
		return nil, grpcserver.ToStatus(fmt.Errorf("%w: federation_key.name: %q does not match federation_key_id (%s)", grpcserver.ErrInvalidArgument, n, keyName(name)))
	}
	if k.GetOwner() != "" || len(k.GetVersions()) > 0 || k.GetCreated() != nil || k.GetUpdate() != nil {
		return nil, grpcserver.ToStatus(fmt.Errorf("%w: federation_key: only purpose may be set (owner, versions, created and update are output only)", grpcserver.ErrInvalidArgument))
	}
	if _, err := m.send(ctx, id, req.GetRequestId(), registry.CreateKey{Name: name, Purpose: k.GetPurpose()}); err != nil {
		return nil, grpcserver.ToStatus(err)
	}
	out, err := m.federationKey(ctx, name, id.Member, false)
	if err != nil {
		return nil, grpcserver.ToStatus(err)
	}
	return &accordv1.CreateFederationKeyResponse{FederationKey: out}, nil
}

// RotateFederationKey implements MembershipService.RotateFederationKey.
func (m *MembershipService) RotateFederationKey(ctx context.Context, req *accordv1.RotateFederationKeyRequest) (*accordv1.RotateFederationKeyResponse, error) {
	k, err := m.keyCommand(ctx, registry.CmdRotateKey, req.GetName(), req.GetRequestId(), func(name string) registry.Payload { return registry.RotateKey{Name: name} })
	if err != nil {
		return nil, err
	}
	return &accordv1.RotateFederationKeyResponse{FederationKey: k}, nil
}

// DestroyFederationKey implements MembershipService.DestroyFederationKey.
func (m *MembershipService) DestroyFederationKey(ctx context.Context, req *accordv1.DestroyFederationKeyRequest) (*accordv1.DestroyFederationKeyResponse, error) {
	k, err := m.keyCommand(ctx, registry.CmdDestroyKey, req.GetName(), req.GetRequestId(), func(name string) registry.Payload { return registry.DestroyKey{Name: name} })
	if err != nil {
		return nil, err
	}
	return &accordv1.DestroyFederationKeyResponse{FederationKey: k}, nil
}

// keyCommand sends a command on one named key and returns the key after it.
func (m *MembershipService) keyCommand(ctx context.Context, typ registry.CommandType, resource, requestID string, payload func(string) registry.Payload) (*accordv1.FederationKey, error) {
	id, err := m.caller(ctx, typ)
	if err != nil {
		return nil, err
	}
	name, err := parseKeyName("name", resource)
	if err != nil {
		return nil, grpcserver.ToStatus(err)
	}
	if _, err := m.send(ctx, id, requestID, payload(name)); err != nil {
		return nil, grpcserver.ToStatus(err)
	}
	k, err := m.federationKey(ctx, name, id.Member, false)
	if err != nil {
		return nil, grpcserver.ToStatus(err)
	}
	return k, nil
}

// normalizeFingerprint accepts a fingerprint in the forms people copy it
// in: upper or lower case, with colons or spaces between the bytes.
func normalizeFingerprint(s string) string {
	return strings.ToLower(strings.NewReplacer(":", "", " ", "", "-", "").Replace(strings.TrimSpace(s)))
}
