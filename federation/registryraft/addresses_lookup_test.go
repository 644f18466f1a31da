package registryraft_test

import (
	"encoding/pem"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/pki/pkitest"
	"github.com/accordfed/accord/federation/registry"
	"github.com/accordfed/accord/federation/registryraft"
)

// TestAddressLookupFallsBack: a server the registry does not know yet is
// looked up in the configuration; when the registry's and the
// configuration's addresses differ, a failed call moves the lookup to the
// other one, and a failure there back again.
func TestAddressLookupFallsBack(t *testing.T) {
	fsm := registry.NewFSM()
	id := raft.ServerID("spiffe://accord.test/member/UA/node/ua-1")
	a := registryraft.FederationAddresses(fsm, map[raft.ServerID]string{id: "127.0.0.1:7001"})
	if got, ok := a.Lookup(id); !ok || got != "127.0.0.1:7001" {
		t.Fatalf("lookup of a configured server: %q %v", got, ok)
	}
	if _, ok := a.Lookup("spiffe://accord.test/member/PL/node/pl-1"); ok {
		t.Fatal("an unknown server has an address")
	}
	// Only one candidate: a failure changes nothing.
	a.Failed(id, "127.0.0.1:7001")
	if got, _ := a.Lookup(id); got != "127.0.0.1:7001" {
		t.Fatalf("after a failure with one address: %q", got)
	}

	// The registry holds another (older) address: it is tried first, then,
	// after a failure, the configured one, then the registry's again.
	fed := pkitest.NewFederation(t, testFed, "UA")
	ca := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: fed.CAs["UA"].Cert.Raw}))
	boot, err := registry.NewCommand("boot", registry.Bootstrap{Federation: testFed, Founders: []registry.FounderSpec{{
		Code: "UA", Name: "UA office", CACerts: []string{ca},
		Nodes: []registry.NodeSpec{{URI: string(id), RegistryServer: true, Address: "127.0.0.1:6001", FederationAddress: "127.0.0.1:6002"}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	boot.Time = time.Now().UTC()
	signAs(t, fed, identity.Identity{Federation: testFed, Member: "UA", Kind: identity.KindNode, Name: "ua-1"}, boot, 0)
	data, err := boot.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if res := fsm.Apply(&raft.Log{Index: 1, Type: raft.LogCommand, Data: data}).(registry.Result); res.Err != nil {
		t.Fatal(res.Err)
	}
	for i, want := range []string{"127.0.0.1:6002", "127.0.0.1:7001", "127.0.0.1:6002"} {
		got, _ := a.Lookup(id)
		if got != want {
			t.Fatalf("lookup %d: %q, want %q", i, got, want)
		}
		a.Failed(id, got)
	}
}
