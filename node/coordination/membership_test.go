package coordination

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/pki/pkitest"
	"github.com/accordfed/accord/federation/registry"
	"github.com/accordfed/accord/federation/registryraft"
	"github.com/accordfed/accord/federation/trust"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// fsmLog is one registry state machine that several members' nodes write
// to, as Raft would: each command signed by its node and applied in turn.
type fsmLog struct {
	t     testing.TB
	fed   *pkitest.Federation
	mu    sync.Mutex
	fsm   *registry.FSM
	index uint64
	// behind is what MatchAnswersBehind reports, and behindV3 the servers
	// that apply match answers v2 but not v3.
	behind, behindV3 []string
}

// fsmNode is one member's node on an fsmLog: a coordination.Registry.
type fsmNode struct {
	log  *fsmLog
	self identity.Identity
	cert *tls.Certificate
}

func newFSMLog(t testing.TB, founders ...string) (*fsmLog, map[string]*fsmNode) {
	t.Helper()
	members := append([]string{}, founders...)
	members = append(members, "FR")
	fed := pkitest.NewFederation(t, "accord.test", members...)
	l := &fsmLog{t: t, fed: fed, fsm: registry.NewFSM()}
	nodes := map[string]*fsmNode{}
	var specs []registry.FounderSpec
	for _, m := range members {
		cfg := fed.Node(m, strings.ToLower(m)+"-1")
		cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			t.Fatal(err)
		}
		nodes[m] = &fsmNode{log: l, cert: &cert, self: identity.Identity{Federation: "accord.test", Member: m, Kind: identity.KindNode, Name: strings.ToLower(m) + "-1"}}
		if m == "FR" {
			continue
		}
		specs = append(specs, registry.FounderSpec{Code: m, Name: m + " office", CACerts: []string{caPEM(fed, m)},
			Nodes: []registry.NodeSpec{{URI: nodes[m].self.String(), RegistryServer: true, Address: "127.0.0.1:1", FederationAddress: "127.0.0.1:2"}}})
	}
	cmd, err := registry.NewCommand("found", registry.Bootstrap{Federation: "accord.test", Founders: specs})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := nodes[founders[0]].ApplyIndex(context.Background(), cmd); err != nil {
		t.Fatal(err)
	}
	return l, nodes
}

func caPEM(fed *pkitest.Federation, member string) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: fed.CAs[member].Cert.Raw}))
}

func (n *fsmNode) ApplyIndex(_ context.Context, cmd *registry.Command) (registry.Outcome, uint64, error) {
	l := n.log
	l.mu.Lock()
	defer l.mu.Unlock()
	c := *cmd
	c.Member, c.Actor.Node = n.self.Member, n.self.String()
	now := time.Now().UTC().Truncate(time.Microsecond)
	c.Time = now
	if err := c.Sign(n.cert, l.index, now); err != nil {
		return registry.Outcome{}, 0, err
	}
	data, err := c.Encode()
	if err != nil {
		return registry.Outcome{}, 0, err
	}
	l.index++
	res := l.fsm.Apply(&raft.Log{Index: l.index, Term: 1, Type: raft.LogCommand, Data: data}).(registry.Result)
	if res.Err != nil {
		return registry.Outcome{}, 0, res.Err
	}
	return res.Value.(registry.Outcome), l.index, nil
}

func (n *fsmNode) Read(_ context.Context, _ bool, fn func(registry.View)) (uint64, error) {
	return n.log.fsm.Read(fn), nil
}

func (n *fsmNode) MatchAnswersBehind() []string { return n.log.behind }

func (n *fsmNode) MatchAnswersBehindFor(version int) []string {
	if version <= registry.MatchAnswersV2 {
		return n.log.behind
	}
	return append(slices.Clone(n.log.behind), n.log.behindV3...)
}

func (n *fsmNode) GroupStatus(context.Context) (registryraft.Status, error) {
	return registryraft.Status{}, fmt.Errorf("not used")
}

// membership returns the membership service of member's node.
func membership(n *fsmNode) *MembershipService {
	s := New(n, n.self.Member, func(id identity.Identity) bool { return id.Name == "admin" }, nil)
	return NewMembership(s)
}

func as(member, user string) context.Context {
	return identity.NewContext(context.Background(), identity.Identity{Federation: "accord.test", Member: member, Kind: identity.KindUser, Name: user})
}

func wantCode(t *testing.T, what string, err error, code codes.Code, field string) {
	t.Helper()
	if status.Code(err) != code || !strings.Contains(status.Convert(err).Message(), field) {
		t.Errorf("%s: %v, want %s naming %q", what, err, code, field)
	}
}

// TestMembershipAdmitsAMember proposes FR, votes it in and registers its
// node through the typed API, as three members' admins would.
func TestMembershipAdmitsAMember(t *testing.T) {
	l, nodes := newFSMLog(t, "UA", "PL", "DE")
	ua, pl, fr := membership(nodes["UA"]), membership(nodes["PL"]), membership(nodes["FR"])

	prop, err := ua.ProposeMember(as("UA", "admin"), &accordv1.ProposeMemberRequest{RequestId: "propose-fr",
		Member: &accordv1.Member{Code: "FR", DisplayName: "Parquet national antiterroriste", CaCerts: []string{caPEM(l.fed, "FR")}}})
	if err != nil {
		t.Fatal(err)
	}
	m := prop.GetMember()
	if m.GetName() != "members/FR" || m.GetStatus() != accordv1.MemberStatus_MEMBER_STATUS_PROPOSED || m.GetProposed().GetMember() != "UA" ||
		!strings.HasSuffix(m.GetProposed().GetUser(), "/member/UA/user/admin") || m.GetProposed().GetIndex() == 0 {
		t.Fatalf("proposed: %v", m)
	}
	// A retry is answered as the first time and changes nothing.
	if _, err := ua.ProposeMember(as("UA", "admin"), &accordv1.ProposeMemberRequest{RequestId: "propose-fr",
		Member: &accordv1.Member{Code: "FR", DisplayName: "Parquet national antiterroriste", CaCerts: []string{caPEM(l.fed, "FR")}}}); err != nil {
		t.Fatalf("retry: %v", err)
	}

	// The fingerprint FR's office gives each voter over a second channel,
	// and the one the API shows for the CA registered: the same.
	frFP, err := trust.CASetFingerprint([]string{caPEM(l.fed, "FR")})
	if err != nil {
		t.Fatal(err)
	}
	if m.GetCaFingerprint() != frFP {
		t.Fatalf("ca_fingerprint %q, want %q", m.GetCaFingerprint(), frFP)
	}
	// An approval without it, or with another CA set's, is refused.
	_, err = ua.VoteMember(as("UA", "admin"), &accordv1.VoteMemberRequest{Name: "members/FR", Decision: accordv1.VoteDecision_VOTE_DECISION_APPROVE, RequestId: "vote-fr-0"})
	wantCode(t, "approval without a fingerprint", err, codes.InvalidArgument, "ca_fingerprint: required to approve")
	otherFP, _ := trust.CASetFingerprint([]string{caPEM(l.fed, "UA")})
	_, err = ua.VoteMember(as("UA", "admin"), &accordv1.VoteMemberRequest{Name: "members/FR", Decision: accordv1.VoteDecision_VOTE_DECISION_APPROVE, RequestId: "vote-fr-1", CaFingerprint: otherFP})
	wantCode(t, "approval with another CA set's fingerprint", err, codes.FailedPrecondition, "ca_fingerprint: "+otherFP+" does not match the CA certificates proposed for FR")

	v1, err := ua.VoteMember(as("UA", "admin"), &accordv1.VoteMemberRequest{Name: "members/FR", Decision: accordv1.VoteDecision_VOTE_DECISION_APPROVE, RequestId: "vote-fr", CaFingerprint: frFP})
	if err != nil {
		t.Fatal(err)
	}
	if v1.GetMember().GetStatus() != accordv1.MemberStatus_MEMBER_STATUS_PROPOSED || len(v1.GetMember().GetAdmissionVotes()) != 1 {
		t.Fatalf("after one vote of three: %v", v1.GetMember())
	}
	// FR cannot register a node before it is admitted.
	_, err = fr.CreateNode(as("FR", "admin"), &accordv1.CreateNodeRequest{Parent: "members/FR", NodeId: "fr-1", RequestId: "n0",
		Node: &accordv1.Node{FederationAddress: "127.0.0.1:7400"}})
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("a proposed member registers a node: %v", err)
	}
	// Copied as people copy it: upper case, with colons.
	var colons []string
	for i := 0; i < len(frFP); i += 2 {
		colons = append(colons, strings.ToUpper(frFP[i:i+2]))
	}
	v2, err := pl.VoteMember(as("PL", "admin"), &accordv1.VoteMemberRequest{Name: "members/FR", Decision: accordv1.VoteDecision_VOTE_DECISION_APPROVE, RequestId: "vote-fr", CaFingerprint: strings.Join(colons, ":")})
	if err != nil {
		t.Fatal(err)
	}
	if v2.GetMember().GetStatus() != accordv1.MemberStatus_MEMBER_STATUS_ADMITTED || v2.GetMember().GetAdmitted().GetMember() != "PL" {
		t.Fatalf("after two votes of three: %v", v2.GetMember())
	}

	n, err := fr.CreateNode(as("FR", "admin"), &accordv1.CreateNodeRequest{Parent: "members/FR", NodeId: "fr-1", RequestId: "n1",
		Node: &accordv1.Node{RegistryServer: true, RaftAddress: "127.0.0.1:7501", FederationAddress: "127.0.0.1:7400"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := n.GetNode(); got.GetName() != "members/FR/nodes/fr-1" || got.GetUri() != "spiffe://accord.test/member/FR/node/fr-1" ||
		!got.GetRegistryServer() || got.GetRaftAddress() != "127.0.0.1:7501" || got.GetFederationAddress() != "127.0.0.1:7400" || got.GetRegistered().GetIndex() == 0 {
		t.Fatalf("node: %v", got)
	}
	nl, err := ua.ListNodes(as("UA", "analyst"), &accordv1.ListNodesRequest{Parent: "members/FR"})
	if err != nil || len(nl.GetNodes()) != 1 {
		t.Fatalf("FR's nodes as UA sees them: %v %v", nl, err)
	}
	all, err := ua.ListNodes(as("UA", "analyst"), &accordv1.ListNodesRequest{Parent: "members/-"})
	if err != nil || len(all.GetNodes()) != 4 || all.GetNodes()[0].GetName() != "members/DE/nodes/de-1" {
		t.Fatalf("every node: %v %v", all, err)
	}

	// FR's admin updates its name; only its own record.
	up, err := fr.UpdateMember(as("FR", "admin"), &accordv1.UpdateMemberRequest{RequestId: "up-1",
		Member:     &accordv1.Member{Name: "members/FR", DisplayName: "Parquet national antiterroriste (PNAT)"},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"display_name"}}})
	if err != nil {
		t.Fatal(err)
	}
	if up.GetMember().GetDisplayName() != "Parquet national antiterroriste (PNAT)" || len(up.GetMember().GetCaCerts()) != 1 || len(up.GetMember().GetNodes()) != 1 {
		t.Fatalf("updated: %v", up.GetMember())
	}
	_, err = fr.UpdateMember(as("FR", "admin"), &accordv1.UpdateMemberRequest{RequestId: "up-2",
		Member: &accordv1.Member{Name: "members/UA", DisplayName: "x"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"display_name"}}})
	wantCode(t, "FR updates UA", err, codes.PermissionDenied, "member.name")

	d, err := fr.DeleteNode(as("FR", "admin"), &accordv1.DeleteNodeRequest{Name: "members/FR/nodes/fr-1", RequestId: "rm-1"})
	if err != nil || len(d.GetMember().GetNodes()) != 0 {
		t.Fatalf("delete: %v %v", d, err)
	}
	_, err = fr.DeleteNode(as("FR", "admin"), &accordv1.DeleteNodeRequest{Name: "members/FR/nodes/fr-1", RequestId: "rm-2"})
	wantCode(t, "delete again", err, codes.NotFound, "fr-1")

	// Suspension: FR suspends itself at once.
	s, err := fr.SuspendMember(as("FR", "admin"), &accordv1.SuspendMemberRequest{Name: "members/FR", Reason: "closing the office", RequestId: "s-1"})
	if err != nil || s.GetMember().GetStatus() != accordv1.MemberStatus_MEMBER_STATUS_SUSPENDED || s.GetMember().GetSuspendReason() != "closing the office" {
		t.Fatalf("suspend: %v %v", s, err)
	}
	got, err := pl.GetMember(as("PL", "analyst"), &accordv1.GetMemberRequest{Name: "members/FR"})
	if err != nil || got.GetMember().GetSuspended().GetMember() != "FR" {
		t.Fatalf("get: %v %v", got, err)
	}
}

// TestMembershipAdminOnly refuses every change to an analyst, before
// anything reaches the registry, and lets analysts read.
func TestMembershipAdminOnly(t *testing.T) {
	l, nodes := newFSMLog(t, "UA", "PL")
	ua := membership(nodes["UA"])
	ctx := as("UA", "analyst")
	before := l.fsm.AppliedIndex()
	calls := map[string]func() error{
		"ProposeMember": func() error {
			_, err := ua.ProposeMember(ctx, &accordv1.ProposeMemberRequest{RequestId: "r", Member: &accordv1.Member{Code: "FR", DisplayName: "x", CaCerts: []string{caPEM(l.fed, "FR")}}})
			return err
		},
		"VoteMember": func() error {
			_, err := ua.VoteMember(ctx, &accordv1.VoteMemberRequest{Name: "members/FR", Decision: accordv1.VoteDecision_VOTE_DECISION_APPROVE, RequestId: "r"})
			return err
		},
		"SuspendMember": func() error {
			_, err := ua.SuspendMember(ctx, &accordv1.SuspendMemberRequest{Name: "members/PL", RequestId: "r"})
			return err
		},
		"UpdateMember": func() error {
			_, err := ua.UpdateMember(ctx, &accordv1.UpdateMemberRequest{Member: &accordv1.Member{Name: "members/UA"}, RequestId: "r"})
			return err
		},
		"CreateNode": func() error {
			_, err := ua.CreateNode(ctx, &accordv1.CreateNodeRequest{Parent: "members/UA", NodeId: "ua-2", Node: &accordv1.Node{FederationAddress: "h:1"}, RequestId: "r"})
			return err
		},
		"DeleteNode": func() error {
			_, err := ua.DeleteNode(ctx, &accordv1.DeleteNodeRequest{Name: "members/UA/nodes/ua-1", RequestId: "r"})
			return err
		},
		"CreateFederationKey": func() error {
			_, err := ua.CreateFederationKey(ctx, &accordv1.CreateFederationKeyRequest{FederationKeyId: "k", RequestId: "r"})
			return err
		},
		"RotateFederationKey": func() error {
			_, err := ua.RotateFederationKey(ctx, &accordv1.RotateFederationKeyRequest{Name: "federationKeys/k", RequestId: "r"})
			return err
		},
		"DestroyFederationKey": func() error {
			_, err := ua.DestroyFederationKey(ctx, &accordv1.DestroyFederationKeyRequest{Name: "federationKeys/k", RequestId: "r"})
			return err
		},
	}
	for name, call := range calls {
		wantCode(t, name+" as an analyst", call(), codes.PermissionDenied, "admin")
	}
	if got := l.fsm.AppliedIndex(); got != before {
		t.Fatalf("refused calls reached the registry: applied index %d -> %d", before, got)
	}
	if _, err := ua.ListMembers(ctx, &accordv1.ListMembersRequest{}); err != nil {
		t.Errorf("an analyst lists members: %v", err)
	}
	if _, err := ua.ListFederationKeys(ctx, &accordv1.ListFederationKeysRequest{}); err != nil {
		t.Errorf("an analyst lists keys: %v", err)
	}
	// Not a registry server: FailedPrecondition naming the setting.
	none := NewMembership(New(nil, "UA", func(identity.Identity) bool { return true }, nil))
	_, err := none.ListMembers(as("UA", "admin"), &accordv1.ListMembersRequest{})
	wantCode(t, "no registry", err, codes.FailedPrecondition, "registry.server")
}

// TestMembershipInvalidArgument checks that bad input names its field and
// changes nothing.
func TestMembershipInvalidArgument(t *testing.T) {
	l, nodes := newFSMLog(t, "UA", "PL")
	ua := membership(nodes["UA"])
	ctx := as("UA", "admin")
	ca := caPEM(l.fed, "FR")
	before := l.fsm.AppliedIndex()
	for _, c := range []struct {
		name, field string
		call        func() error
	}{
		{"no member", "member", func() error {
			_, err := ua.ProposeMember(ctx, &accordv1.ProposeMemberRequest{RequestId: "r"})
			return err
		}},
		{"bad code", "member.code", func() error {
			_, err := ua.ProposeMember(ctx, &accordv1.ProposeMemberRequest{RequestId: "r", Member: &accordv1.Member{Code: "fr", DisplayName: "x", CaCerts: []string{ca}}})
			return err
		}},
		{"no name", "member.display_name", func() error {
			_, err := ua.ProposeMember(ctx, &accordv1.ProposeMemberRequest{RequestId: "r", Member: &accordv1.Member{Code: "FR", CaCerts: []string{ca}}})
			return err
		}},
		{"no CA", "member.ca_certs", func() error {
			_, err := ua.ProposeMember(ctx, &accordv1.ProposeMemberRequest{RequestId: "r", Member: &accordv1.Member{Code: "FR", DisplayName: "x"}})
			return err
		}},
		{"CA of another member", "ca_certs", func() error {
			_, err := ua.ProposeMember(ctx, &accordv1.ProposeMemberRequest{RequestId: "r", Member: &accordv1.Member{Code: "FR", DisplayName: "x", CaCerts: []string{caPEM(l.fed, "PL")}}})
			return err
		}},
		{"short encryption key", "member.encryption_keys[0].public_key", func() error {
			_, err := ua.ProposeMember(ctx, &accordv1.ProposeMemberRequest{RequestId: "r", Member: &accordv1.Member{Code: "FR", DisplayName: "x", CaCerts: []string{ca},
				EncryptionKeys: []*accordv1.EncryptionKey{{Id: "fr-1", PublicKey: []byte{1, 2}}}}})
			return err
		}},
		{"name mismatch", "member.name", func() error {
			_, err := ua.ProposeMember(ctx, &accordv1.ProposeMemberRequest{RequestId: "r", Member: &accordv1.Member{Name: "members/DE", Code: "FR", DisplayName: "x", CaCerts: []string{ca}}})
			return err
		}},
		{"no request id", "request_id", func() error {
			_, err := ua.ProposeMember(ctx, &accordv1.ProposeMemberRequest{Member: &accordv1.Member{Code: "FR", DisplayName: "x", CaCerts: []string{ca}}})
			return err
		}},
		{"vote without decision", "decision", func() error {
			_, err := ua.VoteMember(ctx, &accordv1.VoteMemberRequest{Name: "members/FR", RequestId: "r"})
			return err
		}},
		{"vote on a bad name", "name", func() error {
			_, err := ua.VoteMember(ctx, &accordv1.VoteMemberRequest{Name: "FR", Decision: accordv1.VoteDecision_VOTE_DECISION_APPROVE, RequestId: "r"})
			return err
		}},
		{"update without mask", "update_mask", func() error {
			_, err := ua.UpdateMember(ctx, &accordv1.UpdateMemberRequest{Member: &accordv1.Member{Name: "members/UA"}, RequestId: "r"})
			return err
		}},
		{"update of an output field", "update_mask.paths[0]", func() error {
			_, err := ua.UpdateMember(ctx, &accordv1.UpdateMemberRequest{Member: &accordv1.Member{Name: "members/UA"}, RequestId: "r", UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"status"}}})
			return err
		}},
		{"node without id", "node_id", func() error {
			_, err := ua.CreateNode(ctx, &accordv1.CreateNodeRequest{Parent: "members/UA", Node: &accordv1.Node{FederationAddress: "h:1"}, RequestId: "r"})
			return err
		}},
		{"node without address", "node.federation_address", func() error {
			_, err := ua.CreateNode(ctx, &accordv1.CreateNodeRequest{Parent: "members/UA", NodeId: "ua-2", Node: &accordv1.Node{}, RequestId: "r"})
			return err
		}},
		{"registry server without raft address", "node.raft_address", func() error {
			_, err := ua.CreateNode(ctx, &accordv1.CreateNodeRequest{Parent: "members/UA", NodeId: "ua-2", Node: &accordv1.Node{RegistryServer: true, FederationAddress: "h:1"}, RequestId: "r"})
			return err
		}},
		{"bad port", "node.federation_address", func() error {
			_, err := ua.CreateNode(ctx, &accordv1.CreateNodeRequest{Parent: "members/UA", NodeId: "ua-2", Node: &accordv1.Node{FederationAddress: "h:0"}, RequestId: "r"})
			return err
		}},
		{"delete a bad name", "name", func() error {
			_, err := ua.DeleteNode(ctx, &accordv1.DeleteNodeRequest{Name: "members/UA/ua-1", RequestId: "r"})
			return err
		}},
		{"key without id", "federation_key_id", func() error {
			_, err := ua.CreateFederationKey(ctx, &accordv1.CreateFederationKeyRequest{RequestId: "r"})
			return err
		}},
		{"key with a bad id", "federation_key_id", func() error {
			_, err := ua.CreateFederationKey(ctx, &accordv1.CreateFederationKeyRequest{FederationKeyId: "Bad Key", RequestId: "r"})
			return err
		}},
		{"negative page size", "page_size", func() error {
			_, err := ua.ListMembers(ctx, &accordv1.ListMembersRequest{PageSize: -1})
			return err
		}},
		{"forged page token", "page_token", func() error {
			_, err := ua.ListMembers(ctx, &accordv1.ListMembersRequest{PageToken: "AAAA"})
			return err
		}},
		{"list nodes of a bad parent", "parent", func() error {
			_, err := ua.ListNodes(ctx, &accordv1.ListNodesRequest{Parent: "UA"})
			return err
		}},
	} {
		wantCode(t, c.name, c.call(), codes.InvalidArgument, c.field)
	}
	// Only the CA check is the registry's: every other refusal is the
	// service's, before the registry.
	if got := l.fsm.AppliedIndex(); got != before+1 {
		t.Errorf("applied index %d -> %d: more than the CA check reached the registry", before, got)
	}
	var n int
	l.fsm.Read(func(v registry.View) { n = len(v.ListMembers()) })
	if n != 2 {
		t.Fatalf("%d members after refused calls", n)
	}

	// Acting for another member: PermissionDenied naming the field.
	_, err := ua.CreateNode(ctx, &accordv1.CreateNodeRequest{Parent: "members/PL", NodeId: "pl-2", Node: &accordv1.Node{FederationAddress: "h:1"}, RequestId: "r"})
	wantCode(t, "UA registers PL's node", err, codes.PermissionDenied, "parent")
	_, err = ua.DeleteNode(ctx, &accordv1.DeleteNodeRequest{Name: "members/PL/nodes/pl-1", RequestId: "r"})
	wantCode(t, "UA removes PL's node", err, codes.PermissionDenied, "name")

	// Not found.
	_, err = ua.GetMember(ctx, &accordv1.GetMemberRequest{Name: "members/ZZ"})
	wantCode(t, "get a member that does not exist", err, codes.NotFound, "ZZ")
	_, err = ua.VoteMember(ctx, &accordv1.VoteMemberRequest{Name: "members/ZZ", Decision: accordv1.VoteDecision_VOTE_DECISION_REJECT, RequestId: "v"})
	wantCode(t, "vote on a member that does not exist", err, codes.NotFound, "ZZ")
	_, err = ua.ListNodes(ctx, &accordv1.ListNodesRequest{Parent: "members/ZZ"})
	wantCode(t, "nodes of a member that does not exist", err, codes.NotFound, "ZZ")
	_, err = ua.GetFederationKey(ctx, &accordv1.GetFederationKeyRequest{Name: "federationKeys/nope"})
	wantCode(t, "a key that does not exist", err, codes.NotFound, "nope")
}

// TestMembershipPaging lists members, nodes and keys a page at a time;
// tokens are bound to the caller and the filter.
func TestMembershipPaging(t *testing.T) {
	_, nodes := newFSMLog(t, "UA", "PL", "DE", "LT", "NL")
	ua := membership(nodes["UA"])
	ctx := as("UA", "admin")
	var seen []string
	token := ""
	for pages := 0; ; pages++ {
		resp, err := ua.ListMembers(ctx, &accordv1.ListMembersRequest{PageSize: 2, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.GetMembers()) > 2 {
			t.Fatalf("page of %d", len(resp.GetMembers()))
		}
		for _, m := range resp.GetMembers() {
			seen = append(seen, m.GetCode())
		}
		if token = resp.GetNextPageToken(); token == "" {
			if pages != 2 {
				t.Errorf("%d pages, want 3", pages+1)
			}
			break
		}
		// Another caller, or another filter, cannot use the token.
		_, err = ua.ListMembers(as("UA", "analyst"), &accordv1.ListMembersRequest{PageSize: 2, PageToken: token})
		wantCode(t, "another caller's token", err, codes.InvalidArgument, "page_token")
		_, err = ua.ListMembers(ctx, &accordv1.ListMembersRequest{PageSize: 2, PageToken: token, Status: accordv1.MemberStatus_MEMBER_STATUS_PROPOSED})
		wantCode(t, "a token of another filter", err, codes.InvalidArgument, "page_token")
		_, err = ua.ListNodes(ctx, &accordv1.ListNodesRequest{Parent: "members/-", PageToken: token})
		wantCode(t, "a token of another method", err, codes.InvalidArgument, "page_token")
	}
	if strings.Join(seen, ",") != "DE,LT,NL,PL,UA" {
		t.Fatalf("members over pages: %v", seen)
	}
	none, err := ua.ListMembers(ctx, &accordv1.ListMembersRequest{Status: accordv1.MemberStatus_MEMBER_STATUS_PROPOSED})
	if err != nil || len(none.GetMembers()) != 0 || none.GetNextPageToken() != "" {
		t.Fatalf("proposed members: %v %v", none, err)
	}

	var names []string
	token = ""
	for {
		resp, err := ua.ListNodes(ctx, &accordv1.ListNodesRequest{Parent: "members/-", PageSize: 3, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range resp.GetNodes() {
			names = append(names, n.GetName())
		}
		if token = resp.GetNextPageToken(); token == "" {
			break
		}
	}
	if len(names) != 5 || names[0] != "members/DE/nodes/de-1" || names[4] != "members/UA/nodes/ua-1" {
		t.Fatalf("nodes over pages: %v", names)
	}

	for _, k := range []string{"k-a", "k-b", "k-c"} {
		if _, err := ua.CreateFederationKey(ctx, &accordv1.CreateFederationKeyRequest{FederationKeyId: k, RequestId: "create-" + k}); err != nil {
			t.Fatal(err)
		}
	}
	first, err := ua.ListFederationKeys(ctx, &accordv1.ListFederationKeysRequest{PageSize: 2})
	if err != nil || len(first.GetFederationKeys()) != 2 || first.GetNextPageToken() == "" {
		t.Fatalf("first page of keys: %v %v", first, err)
	}
	second, err := ua.ListFederationKeys(ctx, &accordv1.ListFederationKeysRequest{PageSize: 2, PageToken: first.GetNextPageToken()})
	if err != nil || len(second.GetFederationKeys()) != 1 || second.GetFederationKeys()[0].GetName() != "federationKeys/k-c" || second.GetNextPageToken() != "" {
		t.Fatalf("second page of keys: %v %v", second, err)
	}
}

// TestFederationKeysWithoutMaterial creates, rotates and destroys a key:
// the material is made on the node, kept in the registry, and never in an
// answer.
func TestFederationKeysWithoutMaterial(t *testing.T) {
	l, nodes := newFSMLog(t, "UA", "PL")
	ua, pl := membership(nodes["UA"]), membership(nodes["PL"])
	ctx := as("UA", "admin")
	material := func() []byte {
		var m []byte
		l.fsm.Read(func(v registry.View) {
			k, err := v.FederationKey("evidence-pseudonyms", "UA")
			if err == nil {
				m = k.Current().Material
			}
		})
		return m
	}
	var answers []string
	c, err := ua.CreateFederationKey(ctx, &accordv1.CreateFederationKeyRequest{FederationKeyId: "evidence-pseudonyms", RequestId: "k1",
		FederationKey: &accordv1.FederationKey{Purpose: "pseudonyms of evidence hashes"}})
	if err != nil {
		t.Fatal(err)
	}
	k := c.GetFederationKey()
	if k.GetName() != "federationKeys/evidence-pseudonyms" || k.GetOwner() != "UA" || k.GetPurpose() != "pseudonyms of evidence hashes" ||
		len(k.GetVersions()) != 1 || k.GetVersions()[0].GetState() != accordv1.FederationKeyState_FEDERATION_KEY_STATE_CURRENT {
		t.Fatalf("created: %v", k)
	}
	first := material()
	if len(first) != 32 {
		t.Fatalf("material in the registry: %d bytes", len(first))
	}
	answers = append(answers, protojson.Format(c))
	r, err := ua.RotateFederationKey(ctx, &accordv1.RotateFederationKeyRequest{Name: "federationKeys/evidence-pseudonyms", RequestId: "k2"})
	if err != nil {
		t.Fatal(err)
	}
	if vs := r.GetFederationKey().GetVersions(); len(vs) != 2 || vs[0].GetState() != accordv1.FederationKeyState_FEDERATION_KEY_STATE_PREVIOUS {
		t.Fatalf("rotated: %v", r.GetFederationKey())
	}
	second := material()
	if len(second) != 32 || string(second) == string(first) {
		t.Fatal("rotation made no new material")
	}
	answers = append(answers, protojson.Format(r))
	// Only the owner rotates.
	_, err = pl.RotateFederationKey(as("PL", "admin"), &accordv1.RotateFederationKeyRequest{Name: "federationKeys/evidence-pseudonyms", RequestId: "k3"})
	wantCode(t, "PL rotates UA's key", err, codes.PermissionDenied, "UA")
	g, err := pl.GetFederationKey(as("PL", "analyst"), &accordv1.GetFederationKeyRequest{Name: "federationKeys/evidence-pseudonyms"})
	if err != nil {
		t.Fatal(err)
	}
	answers = append(answers, protojson.Format(g))
	lst, err := pl.ListFederationKeys(as("PL", "analyst"), &accordv1.ListFederationKeysRequest{})
	if err != nil {
		t.Fatal(err)
	}
	answers = append(answers, protojson.Format(lst))
	d, err := ua.DestroyFederationKey(ctx, &accordv1.DestroyFederationKeyRequest{Name: "federationKeys/evidence-pseudonyms", RequestId: "k4"})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range d.GetFederationKey().GetVersions() {
		if v.GetState() != accordv1.FederationKeyState_FEDERATION_KEY_STATE_RETIRED {
			t.Fatalf("destroyed: %v", d.GetFederationKey())
		}
	}
	if material() != nil {
		t.Fatal("material left after destroy")
	}
	for _, a := range answers {
		for _, m := range [][]byte{first, second} {
			if strings.Contains(a, fmt.Sprintf("%x", m)) || strings.Contains(a, base64.StdEncoding.EncodeToString(m)) {
				t.Fatalf("an answer carries key material: %s", a)
			}
		}
		if strings.Contains(a, "material") {
			t.Fatalf("an answer names material: %s", a)
		}
	}
}
