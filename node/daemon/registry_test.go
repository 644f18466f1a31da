package daemon_test

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/accordfed/accord/federation/mtls"
	"github.com/accordfed/accord/federation/pki/pkitest"
	"github.com/accordfed/accord/federation/raftnet/raftnettest"
	"github.com/accordfed/accord/federation/registry"
	"github.com/accordfed/accord/federation/trust"
	"github.com/accordfed/accord/node/config"
	"github.com/accordfed/accord/node/daemon"
	"github.com/accordfed/accord/node/daemon/daemontest"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// regNode is one member's node of a registry test federation.
type regNode struct {
	member string
	cfg    config.Config
	d      *daemon.Daemon
	user   accordv1.CoordinationServiceClient
	admin  accordv1.CoordinationServiceClient
}

// registryConfig configures a registry server of member (node <m>-1) with
// servers as the founding servers (bootstrap) or the servers to join.
func registryConfig(t *testing.T, fed *pkitest.Federation, member string, servers []config.RegistryServerConfig, bootstrap bool) config.Config {
	t.Helper()
	return daemontest.Config(t, fed, member, servers, bootstrap)
}

func coordClient(t *testing.T, d *daemon.Daemon, user mtls.Config, member string) accordv1.CoordinationServiceClient {
	t.Helper()
	return daemontest.Coordination(t, d, user, member)
}

// startFederation starts one registry server per founder and waits until
// the registry is founded.
func startFederation(t *testing.T, fed *pkitest.Federation, founders ...string) ([]*regNode, []config.RegistryServerConfig) {
	t.Helper()
	return startFederationLogged(t, fed, nil, founders...)
}

// startFederationLogged is startFederation with each node's log written to
// logs[member] (when logs is not nil).
func startFederationLogged(t *testing.T, fed *pkitest.Federation, logs map[string]io.Writer, founders ...string) ([]*regNode, []config.RegistryServerConfig) {
	t.Helper()
	started, servers := daemontest.StartFederation(t, fed, logs, founders...)
	var nodes []*regNode
	for _, n := range started {
		nodes = append(nodes, &regNode{member: n.Member, cfg: n.Cfg, d: n.D,
			user:  coordClient(t, n.D, fed.User(n.Member, "analyst"), n.Member),
			admin: coordClient(t, n.D, fed.User(n.Member, "admin"), n.Member)})
	}
	return nodes, servers
}

func waitFounded(t *testing.T, n *regNode) {
	t.Helper()
	daemontest.WaitFounded(t, n.user, n.member)
}

func execute(t *testing.T, c accordv1.CoordinationServiceClient, rid string, p registry.Payload) (*accordv1.ExecuteResponse, error) {
	t.Helper()
	payload, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return c.Execute(ctx, &accordv1.ExecuteRequest{Type: string(p.CommandType()), Payload: payload, RequestId: rid})
}

func mustExecute(t *testing.T, c accordv1.CoordinationServiceClient, rid string, p registry.Payload) *accordv1.ExecuteResponse {
	t.Helper()
	resp, err := execute(t, c, rid, p)
	if err != nil {
		t.Fatalf("%s %s: %v", p.CommandType(), rid, err)
	}
	return resp
}

func query[T any](t *testing.T, c accordv1.CoordinationServiceClient, kind, id string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := c.Query(ctx, &accordv1.QueryRequest{Kind: kind, Id: id})
	if err != nil {
		t.Fatalf("query %s %s: %v", kind, id, err)
	}
	var out T
	if err := json.Unmarshal(resp.GetResult(), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRegistryAcrossDaemons founds a registry of three member nodes from
// their configuration files' settings, runs a joint investigation team
// through the users' local APIs, and checks who may do what.
func TestRegistryAcrossDaemons(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA", "PL", "DE")
	nodes, _ := startFederation(t, fed, "UA", "PL", "DE")
	ua, pl, de := nodes[0], nodes[1], nodes[2]

	// Three founders, all voters, all members admitted.
	ctx := context.Background()
	st, err := pl.user.RegistryStatus(ctx, &accordv1.RegistryStatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.GetServers()) != 3 || st.GetFederation() != "accord.test" {
		t.Fatalf("status: %v", st)
	}
	for _, s := range st.GetServers() {
		if s.GetSuffrage() != "Voter" || !s.GetReachable() {
			t.Errorf("server %s: %s reachable=%v err=%s", s.GetId(), s.GetSuffrage(), s.GetReachable(), s.GetError())
		}
	}
	members := query[[]registry.Member](t, de.user, "members", "")
	if len(members) != 3 || members[0].Status != registry.MemberAdmitted || len(members[0].CACerts) == 0 || members[0].Nodes[0].FederationAddress == "" {
		t.Fatalf("members: %+v", members)
	}

	// UA's analyst creates a team and invites PL; PL accepts; UA links a case.
	jit := mustExecute(t, ua.user, "jit-1", registry.CreateJIT{Name: "Kharkiv shelling 2022", LegalBasis: "EU JIT model agreement", Invite: []string{"PL"}})
	if _, err := execute(t, de.user, "peek", registry.LinkCase{JIT: jit.GetId(), Case: registry.CaseRef{Member: "DE", CaseID: "DE-1"}}); status.Code(err) != codes.NotFound {
		t.Fatalf("DE links into a team it may not see: %v", err)
	}
	mustExecute(t, pl.user, "accept-1", registry.RespondToJIT{JIT: jit.GetId(), Accept: true})
	// A member cannot answer for another.
	if _, err := execute(t, pl.user, "accept-2", registry.RespondToJIT{JIT: jit.GetId(), Member: "UA", Accept: true}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("PL answers for UA: %v", err)
	}
	mustExecute(t, ua.user, "link-1", registry.LinkCase{JIT: jit.GetId(), Case: registry.CaseRef{Member: "UA", CaseID: "UA-2022-0001"}})
	// A retry with the same request id is applied once.
	again := mustExecute(t, ua.user, "link-1", registry.LinkCase{JIT: jit.GetId(), Case: registry.CaseRef{Member: "UA", CaseID: "UA-2022-0001"}})
	if again.GetId() != jit.GetId() {
		t.Errorf("retry answered %v", again)
	}
	got := query[registry.JIT](t, pl.user, "jit", jit.GetId())
	if len(got.Cases) != 1 || len(got.Members) != 2 || got.Lead != "UA" {
		t.Fatalf("team as PL sees it: %+v", got)
	}
	if got.Created.User == "" || !strings.Contains(got.Created.User, "/member/UA/user/analyst") || !strings.Contains(got.Created.Node, "/member/UA/node/ua-1") {
		t.Errorf("team's creation does not record the user and node: %+v", got.Created)
	}
	// DE does not see the team.
	ctx2, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := de.user.Query(ctx2, &accordv1.QueryRequest{Kind: "jit", Id: jit.GetId()}); status.Code(err) != codes.NotFound {
		t.Fatalf("DE reads the team: %v", err)
	}

	// Bad input: named field, right code, nothing stored.
	if _, err := execute(t, ua.user, "bad-1", registry.CreateJIT{Name: "", LegalBasis: "x"}); status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "name") {
		t.Fatalf("empty name: %v", err)
	}
	if _, err := ua.user.Execute(ctx2, &accordv1.ExecuteRequest{Type: "federation.bootstrap", Payload: []byte(`{}`), RequestId: "x"}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("bootstrap through the user API: %v", err)
	}
	if _, err := execute(t, ua.user, "key-1", registry.CreateKey{Name: "person-encoding"}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("an analyst creates a federation key: %v", err)
	}
	if _, err := ua.user.Execute(ctx2, &accordv1.ExecuteRequest{Type: "jit.create", Payload: []byte(`{"name":"x","legal_basis":"y","colour":"red"}`), RequestId: "bad-2"}); status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "colour") {
		t.Fatalf("unknown field: %v", err)
	}
	if n := len(query[[]registry.JIT](t, ua.user, "jits", "")); n != 1 {
		t.Fatalf("%d teams after refused commands", n)
	}

	// An admin's key: made on the node, listed without material.
	mustExecute(t, ua.admin, "key-1", registry.CreateKey{Name: "evidence-pseudonyms", Purpose: "test"})
	keys := query[[]registry.FederationKey](t, pl.user, "keys", "")
	found := false
	for _, k := range keys {
		found = found || k.Name == "evidence-pseudonyms"
		for _, v := range k.Versions {
			if v.Material != nil {
				t.Fatalf("key %s listed with its material", k.Name)
			}
		}
	}
	if !found {
		t.Fatalf("keys: %+v", keys)
	}
	var material []byte
	if _, err := pl.d.Registry().Read(ctx, true, func(v registry.View) {
		k, err := v.FederationKey("evidence-pseudonyms", "PL")
		if err == nil {
			material = k.Current().Material
		}
	}); err != nil {
		t.Fatal(err)
	}
	if len(material) != 32 {
		t.Fatalf("key material on PL's registry server: %d bytes", len(material))
	}
}

// TestRegistryLeaderStopsAndNewMemberJoins stops the leader's daemon (it
// hands over leadership), checks that writes go on, then admits a new
// member by vote and lets its node join the group.
func TestRegistryLeaderStopsAndNewMemberJoins(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA", "PL", "DE", "LT")
	nodes, servers := startFederation(t, fed, "UA", "PL", "DE")

	// Propose LT and admit it: more than half of the three admitted members.
	ltCA := fed.CAs["LT"].Cert
	caPEM := pemCert(ltCA.Raw)
	mustExecute(t, nodes[0].admin, "propose-lt", registry.ProposeMember{Code: "LT", Name: "Lithuania", CACerts: []string{caPEM}})

	// LT's node starts before its member is admitted: it waits.
	lt := &regNode{member: "LT", cfg: registryConfig(t, fed, "LT", servers, false)}
	lt.d = start(t, lt.cfg)
	lt.user = coordClient(t, lt.d, fed.User("LT", "analyst"), "LT")

	ltFP, err := trust.CASetFingerprint([]string{caPEM})
	if err != nil {
		t.Fatal(err)
	}
	mustExecute(t, nodes[0].admin, "vote-lt", registry.VoteAdmission{Candidate: "LT", Approve: true, CAFingerprint: ltFP})
	mustExecute(t, nodes[1].admin, "vote-lt", registry.VoteAdmission{Candidate: "LT", Approve: true, CAFingerprint: ltFP})
	waitFounded(t, lt)
	raftnettest.WaitFor(t, 20*time.Second, func() error {
		st, err := nodes[0].user.RegistryStatus(context.Background(), &accordv1.RegistryStatusRequest{})
		if err != nil {
			return err
		}
		if len(st.GetServers()) != 4 {
			return fmt.Errorf("%d servers", len(st.GetServers()))
		}
		return nil
	})
	mustExecute(t, lt.user, "entry-lt", registry.CreateEntry{Kind: registry.KindTheme, Title: "Filtration camps"})

	// Stop the leader: another takes over and writes go on.
	var leader *regNode
	for _, n := range nodes {
		if r := n.d.Registry().Raft(); r != nil && r.State().String() == "Leader" {
			leader = n
		}
	}
	if leader == nil {
		t.Fatal("no leader among the founders")
	}
	if err := leader.d.Close(); err != nil {
		t.Fatal(err)
	}
	var other *regNode
	for _, n := range nodes {
		if n != leader {
			other = n
		}
	}
	mustExecute(t, other.user, "after-leader", registry.CreateEntry{Kind: registry.KindPriority, Title: "Command responsibility"})
	entries := query[[]registry.StrategyEntry](t, lt.user, "strategy", "")
	if len(entries) != 2 {
		t.Fatalf("LT sees %d entries", len(entries))
	}
}

func pemCert(der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}
