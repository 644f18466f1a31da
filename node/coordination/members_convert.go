package coordination

import (
	"encoding/base64"
	"fmt"
	"strings"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/registry"
	"github.com/accordfed/accord/federation/trust"
	"github.com/accordfed/accord/node/grpcserver"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// Resource names of the membership API (AIP-122).
const (
	membersPrefix = "members/"
	nodesInfix    = "/nodes/"
	keysPrefix    = "federationKeys/"
	// allMembers is the parent "members/-": every member (AIP-159).
	allMembers = "-"
)

func memberName(code string) string { return membersPrefix + code }

func nodeName(code, node string) string { return membersPrefix + code + nodesInfix + node }

func keyName(name string) string { return keysPrefix + name }

// parseMemberName returns the code of a member's resource name; field
// names the request field in errors.
func parseMemberName(field, name string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("%w: %s: required (members/{member}, e.g. members/UA)", grpcserver.ErrInvalidArgument, field)
	}
	code, ok := strings.CutPrefix(name, membersPrefix)
	if !ok || identity.ValidateMember(code) != nil {
		return "", fmt.Errorf("%w: %s: %q is not a member's name: members/ and a member code of 2-16 upper-case letters or digits (e.g. members/UA)", grpcserver.ErrInvalidArgument, field, name)
	}
	return code, nil
}

// parseNodeName returns the member code and node name of a node's resource
// name.
func parseNodeName(field, name string) (string, string, error) {
	if name == "" {
		return "", "", fmt.Errorf("%w: %s: required (members/{member}/nodes/{node}, e.g. members/UA/nodes/ua-1)", grpcserver.ErrInvalidArgument, field)
	}
	rest, ok := strings.CutPrefix(name, membersPrefix)
	code, node, ok2 := strings.Cut(rest, nodesInfix)
	if !ok || !ok2 || identity.ValidateMember(code) != nil || identity.ValidateName(node) != nil {
		return "", "", fmt.Errorf("%w: %s: %q is not a node's name: members/{member}/nodes/{node} (e.g. members/UA/nodes/ua-1)", grpcserver.ErrInvalidArgument, field, name)
	}
	return code, node, nil
}

// parseKeyName returns the registry name of a federation key's resource
// name.
func parseKeyName(field, name string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("%w: %s: required (federationKeys/{key})", grpcserver.ErrInvalidArgument, field)
	}
	k, ok := strings.CutPrefix(name, keysPrefix)
	if !ok || identity.ValidateName(k) != nil {
		return "", fmt.Errorf("%w: %s: %q is not a federation key's name: federationKeys/ and 1-63 of a-z, 0-9, '.', '_', '-' (e.g. federationKeys/evidence-pseudonyms)", grpcserver.ErrInvalidArgument, field, name)
	}
	return k, nil
}

// changeToProto converts a registry change; a zero change is nil.
func changeToProto(c registry.Change) *accordv1.RegistryChange {
	if c == (registry.Change{}) {
		return nil
	}
	out := &accordv1.RegistryChange{Index: c.Index, RequestId: c.RequestID, Member: c.Member, Node: c.Node, User: c.User}
	if !c.Time.IsZero() {
		out.Time = timestamppb.New(c.Time)
	}
	return out
}

func changePtrToProto(c *registry.Change) *accordv1.RegistryChange {
	if c == nil {
		return nil
	}
	return changeToProto(*c)
}

var memberStatusToProto = map[registry.MemberStatus]accordv1.MemberStatus{
	registry.MemberProposed:  accordv1.MemberStatus_MEMBER_STATUS_PROPOSED,
	registry.MemberAdmitted:  accordv1.MemberStatus_MEMBER_STATUS_ADMITTED,
	registry.MemberSuspended: accordv1.MemberStatus_MEMBER_STATUS_SUSPENDED,
}

// memberToProto converts a member record.
func memberToProto(m registry.Member) *accordv1.Member {
	out := &accordv1.Member{
		Name: memberName(m.Code), Code: m.Code, DisplayName: m.Name, Status: memberStatusToProto[m.Status],
		CaCerts: append([]string(nil), m.CACerts...), SuspendReason: m.SuspendReason,
		Proposed: changeToProto(m.Proposed), Admitted: changePtrToProto(m.Admitted),
		Suspended: changePtrToProto(m.Suspended), Update: changeToProto(m.Updated),
		Etag: etagOf(int(m.Updated.Index)), //nolint:gosec // a log index, far below MaxInt
	}
	if fp, err := trust.CASetFingerprint(m.CACerts); err == nil {
		out.CaFingerprint = fp
	}
	for _, k := range m.SigningKeys {
		out.SigningKeys = append(out.SigningKeys, &accordv1.SigningKey{Id: k.ID, PublicKeyPem: k.PublicKeyPEM})
	}
	for _, k := range m.EncryptionKeys {
		out.EncryptionKeys = append(out.EncryptionKeys, &accordv1.EncryptionKey{Id: k.ID, PublicKey: unbase64(k.PublicKey)})
	}
	for _, k := range m.PersonKeys {
		out.PersonKeys = append(out.PersonKeys, &accordv1.PersonKey{Node: k.Node, Version: int32(k.Version), PublicKey: unbase64(k.PublicKey)})
	}
	for _, n := range m.Nodes {
		out.Nodes = append(out.Nodes, nodeToProto(m.Code, n))
	}
	for _, v := range m.AdmissionVotes {
		out.AdmissionVotes = append(out.AdmissionVotes, voteToProto(v))
	}
	for _, v := range m.SuspensionVotes {
		out.SuspensionVotes = append(out.SuspensionVotes, voteToProto(v))
	}
	return out
}

func voteToProto(v registry.Vote) *accordv1.MemberVote {
	return &accordv1.MemberVote{Member: v.Member, Approve: v.Approve, Change: changeToProto(v.Change)}
}

// nodeToProto converts a registered node of member code.
func nodeToProto(code string, n registry.Node) *accordv1.Node {
	name := ""
	if id, err := identity.Parse(n.URI); err == nil {
		name = nodeName(code, id.Name)
	}
	return &accordv1.Node{
		Name: name, Uri: n.URI, RegistryServer: n.RegistryServer, RaftAddress: n.Address,
		FederationAddress: n.FederationAddress, Registered: changeToProto(n.Registered),
	}
}

var keyStateToProto = map[registry.KeyState]accordv1.FederationKeyState{
	registry.KeyCurrent:  accordv1.FederationKeyState_FEDERATION_KEY_STATE_CURRENT,
	registry.KeyPrevious: accordv1.FederationKeyState_FEDERATION_KEY_STATE_PREVIOUS,
	registry.KeyRetired:  accordv1.FederationKeyState_FEDERATION_KEY_STATE_RETIRED,
}

// keyToProto converts a federation key's metadata. Its material is never
// read: the API has no field for it.
func keyToProto(k registry.FederationKey) *accordv1.FederationKey {
	out := &accordv1.FederationKey{
		Name: keyName(k.Name), Purpose: k.Purpose, Owner: k.Owner,
		Created: changeToProto(k.Created), Update: changeToProto(k.Updated),
	}
	for _, v := range k.Versions {
		out.Versions = append(out.Versions, &accordv1.FederationKeyVersion{
			Version: int32(v.Version), State: keyStateToProto[v.State],
			Created: changeToProto(v.Created), Retired: changePtrToProto(v.Retired),
		})
	}
	return out
}

// unbase64 decodes a key the registry holds in standard base64 (checked
// when it was registered).
func unbase64(s string) []byte {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil
	}
	return b
}

// signingKeysFromProto converts signing keys of a request.
func signingKeysFromProto(field string, in []*accordv1.SigningKey) ([]registry.SigningKey, error) {
	var out []registry.SigningKey
	for i, k := range in {
		if k == nil {
			return nil, fmt.Errorf("%w: %s[%d]: required", grpcserver.ErrInvalidArgument, field, i)
		}
		out = append(out, registry.SigningKey{ID: k.GetId(), PublicKeyPEM: k.GetPublicKeyPem()})
	}
	return out, nil
}

// encryptionKeysFromProto converts X25519 keys of a request.
func encryptionKeysFromProto(field string, in []*accordv1.EncryptionKey) ([]registry.EncryptionKey, error) {
	var out []registry.EncryptionKey
	for i, k := range in {
		if k == nil {
			return nil, fmt.Errorf("%w: %s[%d]: required", grpcserver.ErrInvalidArgument, field, i)
		}
		if len(k.GetPublicKey()) != 32 {
			return nil, fmt.Errorf("%w: %s[%d].public_key: must be a 32-byte X25519 public key (got %d bytes)", grpcserver.ErrInvalidArgument, field, i, len(k.GetPublicKey()))
		}
		out = append(out, registry.EncryptionKey{ID: k.GetId(), PublicKey: base64.StdEncoding.EncodeToString(k.GetPublicKey())})
	}
	return out, nil
}

// personKeysFromProto converts person-token public keys of a request.
func personKeysFromProto(field string, in []*accordv1.PersonKey) ([]registry.PersonKey, error) {
	var out []registry.PersonKey
	for i, k := range in {
		if k == nil {
			return nil, fmt.Errorf("%w: %s[%d]: required", grpcserver.ErrInvalidArgument, field, i)
		}
		out = append(out, registry.PersonKey{Node: k.GetNode(), Version: int(k.GetVersion()), PublicKey: base64.StdEncoding.EncodeToString(k.GetPublicKey())})
	}
	return out, nil
}
