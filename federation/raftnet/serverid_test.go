package raftnet_test

import (
	"errors"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/raftnet"
)

func TestServerIDRoundTrip(t *testing.T) {
	id := identity.Identity{Federation: "accord.test", Member: "UA", Kind: identity.KindNode, Name: "ua-1"}
	sid := raftnet.ServerID(id)
	if sid != "spiffe://accord.test/member/UA/node/ua-1" {
		t.Fatalf("ServerID = %q", sid)
	}
	got, err := raftnet.ParseServerID(sid)
	if err != nil || got != id {
		t.Fatalf("ParseServerID = %v, %v; want %v", got, err, id)
	}
	for _, bad := range []raft.ServerID{"", "ua-1", "spiffe://accord.test/member/UA/user/alice", "spiffe://accord.test/member/UA"} {
		if _, err := raftnet.ParseServerID(bad); !errors.Is(err, raftnet.ErrBadServerID) {
			t.Errorf("ParseServerID(%q) = %v, want ErrBadServerID", bad, err)
		}
	}
}

func TestAddressBook(t *testing.T) {
	ua := identity.Identity{Federation: "accord.test", Member: "UA", Kind: identity.KindNode, Name: "ua-1"}
	pl := identity.Identity{Federation: "accord.test", Member: "PL", Kind: identity.KindNode, Name: "pl-1"}
	b := raftnet.NewAddressBook()
	if _, err := b.Expect("a:1"); !errors.Is(err, raftnet.ErrUnknownAddress) {
		t.Fatalf("empty book: %v", err)
	}
	b.Set("a:1", ua)
	if got, err := b.Expect("a:1"); err != nil || got != ua {
		t.Fatalf("Expect = %v, %v", got, err)
	}
	b.Remove("a:1")
	if _, err := b.Expect("a:1"); !errors.Is(err, raftnet.ErrUnknownAddress) {
		t.Fatalf("after Remove: %v", err)
	}

	b.Set("old:1", ua)
	cfg := raft.Configuration{Servers: []raft.Server{
		{ID: raftnet.ServerID(ua), Address: "a:1"},
		{ID: raftnet.ServerID(pl), Address: "b:1", Suffrage: raft.Nonvoter},
	}}
	if err := b.SetConfiguration(cfg); err != nil {
		t.Fatal(err)
	}
	if got, _ := b.Expect("b:1"); got != pl {
		t.Errorf("b:1 = %v, want %v", got, pl)
	}
	if _, err := b.Expect("old:1"); err == nil {
		t.Error("SetConfiguration kept an entry that is not in the configuration")
	}

	// A bad configuration changes nothing.
	for _, bad := range []raft.Configuration{
		{Servers: []raft.Server{{ID: "node-1", Address: "c:1"}}},
		{Servers: []raft.Server{{ID: raftnet.ServerID(ua), Address: "c:1"}, {ID: raftnet.ServerID(pl), Address: "c:1"}}},
	} {
		if err := b.SetConfiguration(bad); err == nil {
			t.Errorf("SetConfiguration(%v) succeeded", bad)
		}
		if got, _ := b.Expect("a:1"); got != ua {
			t.Errorf("after a refused configuration a:1 = %v, want %v", got, ua)
		}
	}
}
