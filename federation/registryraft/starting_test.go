package registryraft_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/raftnet"
	"github.com/accordfed/accord/federation/registry"
	"github.com/accordfed/accord/federation/registryraft"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// TestServiceUnavailableWhileStarting: a server whose RegistryService
// answers before Raft has loaded its configuration cannot tell a registry
// server from another node, and answers Unavailable (the caller tries
// again), not PermissionDenied (which a forwarding server takes for a final
// refusal of the command). Once the configuration is known, a node outside
// it is refused with PermissionDenied.
func TestServiceUnavailableWhileStarting(t *testing.T) {
	self := identity.Identity{Federation: testFed, Member: "UA", Kind: identity.KindNode, Name: "ua-1"}
	peer := identity.Identity{Federation: testFed, Member: "PL", Kind: identity.KindNode, Name: "pl-1"}
	addr, trans := raft.NewInmemTransport("")
	cfg := validConfig(t.TempDir())
	o := fastTimeouts()
	cfg.HeartbeatTimeout, cfg.ElectionTimeout, cfg.LeaderLeaseTimeout = o.heartbeat, o.election, o.lease
	n, err := registryraft.New(cfg, trans, registry.NewFSM(), self, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Shutdown() })
	svc := registryraft.NewService(n)
	ctx, cancel := context.WithTimeout(identity.NewContext(context.Background(), peer), 30*time.Second)
	defer cancel()
	cmd, err := registry.NewCommand("r-1", registry.CreateEntry{Kind: registry.KindTheme, Title: "x"})
	if err != nil {
		t.Fatal(err)
	}
	data, err := cmd.Encode()
	if err != nil {
		t.Fatal(err)
	}
	calls := map[string]func() error{
		"Submit": func() error {
			_, err := svc.Submit(ctx, &accordv1.SubmitRequest{Command: data})
			return err
		},
		"ReadIndex": func() error {
			_, err := svc.ReadIndex(ctx, &accordv1.ReadIndexRequest{})
			return err
		},
		"ServerStatus": func() error {
			_, err := svc.ServerStatus(ctx, &accordv1.ServerStatusRequest{})
			return err
		},
	}
	for name, call := range calls {
		if got := status.Code(call()); got != codes.Unavailable {
			t.Errorf("%s before Start: code %s, want Unavailable", name, got)
		}
	}

	// Started and leading a group of its own: the peer is not a server.
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	if err := n.Bootstrap([]raft.Server{{ID: raftnet.ServerID(self), Address: addr, Suffrage: raft.Voter}}); err != nil {
		t.Fatal(err)
	}
	if err := poll(20*time.Second, func() error {
		if st := n.Raft().State(); st != raft.Leader {
			return fmt.Errorf("state %s", st)
		}
		return nil
	}); err != nil {
		t.Fatalf("the single server did not lead: %v", err)
	}
	for name, call := range calls {
		if got := status.Code(call()); got != codes.PermissionDenied {
			t.Errorf("%s from a node outside the configuration: code %s, want PermissionDenied", name, got)
		}
	}
}
