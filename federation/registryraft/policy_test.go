package registryraft_test

import (
	"encoding/pem"
	"errors"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/pki/pkitest"
	"github.com/accordfed/accord/federation/registry"
	"github.com/accordfed/accord/federation/registryraft"
)

// fsmApplier applies commands straight to a state machine, as Raft would.
type fsmApplier struct {
	t     *testing.T
	fed   *pkitest.Federation
	fsm   *registry.FSM
	index uint64
}

func (a *fsmApplier) apply(actor identity.Identity, rid string, p registry.Payload) {
	a.t.Helper()
	cmd, err := registry.NewCommand(rid, p)
	if err != nil {
		a.t.Fatal(err)
	}
	cmd.Time = time.Now()
	signAs(a.t, a.fed, actor, cmd, a.index)
	data, err := cmd.Encode()
	if err != nil {
		a.t.Fatal(err)
	}
	a.index++
	if res := a.fsm.Apply(&raft.Log{Index: a.index, Type: raft.LogCommand, Data: data}).(registry.Result); res.Err != nil {
		a.t.Fatalf("%s: %v", p.CommandType(), res.Err)
	}
}

func nodeID(member, name string) identity.Identity {
	return identity.Identity{Federation: testFed, Member: member, Kind: identity.KindNode, Name: name}
}

// TestServerPolicy: before the registry is founded only the configured
// servers may connect to Raft; after, exactly the registered registry
// servers of admitted members: not another node of a member, not a user,
// not a removed node, not the node of a suspended member.
func TestServerPolicy(t *testing.T) {
	fed := pkitest.NewFederation(t, testFed, "UA", "PL", "DE")
	ua, pl, de := nodeID("UA", "ua-1"), nodeID("PL", "pl-1"), nodeID("DE", "de-1")
	fsm := registry.NewFSM()
	allow := registryraft.ServerPolicy(fsm, []identity.Identity{ua, pl})

	for _, id := range []identity.Identity{ua, pl} {
		if err := allow(id); err != nil {
			t.Errorf("before founding, seed %s refused: %v", id, err)
		}
	}
	if err := allow(de); !errors.Is(err, registryraft.ErrNotRegistryServer) {
		t.Errorf("before founding, a node that is not a seed: %v", err)
	}

	a := &fsmApplier{t: t, fed: fed, fsm: fsm}
	var founders []registry.FounderSpec
	for _, m := range []string{"UA", "PL", "DE"} {
		n := nodeID(m, map[string]string{"UA": "ua-1", "PL": "pl-1", "DE": "de-1"}[m])
		founders = append(founders, registry.FounderSpec{
			Code: m, Name: m, CACerts: []string{string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: fed.CAs[m].Cert.Raw}))},
			Nodes: []registry.NodeSpec{{URI: n.String(), RegistryServer: true, Address: "127.0.0.1:1"}},
		})
	}
	a.apply(ua, "found", registry.Bootstrap{Federation: testFed, Founders: founders})
	a.apply(ua, "ua-2", registry.RegisterNode{Node: registry.NodeSpec{URI: nodeID("UA", "ua-2").String()}})

	for _, id := range []identity.Identity{ua, pl, de} {
		if err := allow(id); err != nil {
			t.Errorf("registry server %s refused: %v", id, err)
		}
	}
	for _, id := range []identity.Identity{
		nodeID("UA", "ua-2"), // registered, but not a registry server
		nodeID("PL", "pl-9"), // not registered
		{Federation: testFed, Member: "UA", Kind: identity.KindUser, Name: "ua-1"}, // a user
		nodeID("LT", "lt-1"), // not a member
	} {
		if err := allow(id); !errors.Is(err, registryraft.ErrNotRegistryServer) {
			t.Errorf("%s: %v", id, err)
		}
	}

	// PL removes its node; DE is suspended by the others.
	a.apply(pl, "rm", registry.RemoveNode{URI: pl.String()})
	if err := allow(pl); err == nil {
		t.Error("a removed node is still allowed")
	}
	a.apply(ua, "sus", registry.SuspendMember{Code: "DE", Reason: "test"})
	a.apply(pl, "sus", registry.SuspendMember{Code: "DE", Reason: "test"})
	if err := allow(de); err == nil {
		t.Error("the node of a suspended member is still allowed")
	}
}
