// Package daemontest starts small federations of real accordd nodes
// in-process for tests: certificates from pki/pkitest, every node a
// founding registry server on loopback, with fast Raft timeouts.
package daemontest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/accordfed/accord/federation/mtls"
	"github.com/accordfed/accord/federation/pki/pkitest"
	"github.com/accordfed/accord/federation/raftnet/raftnettest"
	"github.com/accordfed/accord/node/config"
	"github.com/accordfed/accord/node/daemon"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// Node is one member's running node.
type Node struct {
	Member string
	Cfg    config.Config
	D      *daemon.Daemon
}

// NodeName is the name of a member's node in a test federation: ua-1.
func NodeName(member string) string { return strings.ToLower(member) + "-1" }

// FreeAddrs returns n distinct loopback addresses whose ports were free a
// moment ago. All n ports are held open together while they are chosen, so
// the kernel cannot hand the same port out twice.
func FreeAddrs(t testing.TB, n int) []string {
	t.Helper()
	addrs := make([]string, 0, n)
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		addrs = append(addrs, ln.Addr().String())
	}
	return addrs
}

// Config is the configuration of member's node as a registry server of a
// federation founded by servers (bootstrap) or joining them; a node not
// among servers listens on ephemeral ports and advertises what it binds.
// User "admin" has the admin role. Backups are unencrypted (backup.unencrypted).
func Config(t testing.TB, fed *pkitest.Federation, member string, servers []config.RegistryServerConfig, bootstrap bool) config.Config {
	t.Helper()
	cfg, err := config.Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.TLS = fed.Node(member, NodeName(member))
	cfg.Listen, cfg.Registry.RaftListen = "127.0.0.1:0", "127.0.0.1:0"
	uri := fed.NodeURI(member, NodeName(member)).String()
	for _, s := range servers {
		if s.Node == uri {
			cfg.Listen, cfg.Registry.RaftListen = s.Address, s.RaftAddress
		}
	}
	cfg.MetricsListen = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.LocalAPI.Listen = "127.0.0.1:0"
	cfg.LocalAPI.Admins = []string{"admin"}
	// Test nodes make plain backups (tests read them); a test of the
	// encryption sets backup.recipients instead.
	cfg.Backup.Unencrypted = true
	cfg.ShutdownTimeout = 5 * time.Second
	cfg.Log.Level = "warn"
	cfg.Registry.Server = true
	cfg.Registry.Bootstrap = bootstrap
	cfg.Registry.Servers = servers
	cfg.Registry.HeartbeatTimeout = 300 * time.Millisecond
	cfg.Registry.ElectionTimeout = 300 * time.Millisecond
	cfg.Registry.LeaderLeaseTimeout = 150 * time.Millisecond
	cfg.Registry.DeadServerTimeout = 3 * time.Second
	return cfg
}

// Start starts a daemon, returning the error instead of failing.
func Start(cfg config.Config, logger *slog.Logger, opts ...daemon.Option) (*daemon.Daemon, error) {
	d, err := daemon.New(cfg, "test", logger, opts...)
	if err != nil {
		return nil, err
	}
	if err := d.Start(); err != nil {
		_ = d.Close()
		return nil, err
	}
	return d, nil
}

// StartFederation starts one founding registry server per founder (node
// <member>-1), each logging to logs[member] when given, and waits until
// every node sees the registry founded with a leader. Founders must know
// each other's addresses before they listen; a port found free may be
// taken by another test before the node binds it, so a federation whose
// ports clash starts again on others.
func StartFederation(t testing.TB, fed *pkitest.Federation, logs map[string]io.Writer, founders ...string) ([]*Node, []config.RegistryServerConfig) {
	t.Helper()
	return StartFederationConfigured(t, fed, logs, nil, founders...)
}

// StartFederationConfigured is StartFederation with each founder's
// configuration passed through configure (when not nil) before it starts.
func StartFederationConfigured(t testing.TB, fed *pkitest.Federation, logs map[string]io.Writer, configure func(member string, cfg *config.Config), founders ...string) ([]*Node, []config.RegistryServerConfig) {
	t.Helper()
	return StartFederationWith(t, fed, logs, configure, nil, founders...)
}

// StartFederationWith is StartFederationConfigured with the daemons built
// with opts (daemon.WithConsole).
func StartFederationWith(t testing.TB, fed *pkitest.Federation, logs map[string]io.Writer, configure func(member string, cfg *config.Config), opts []daemon.Option, founders ...string) ([]*Node, []config.RegistryServerConfig) {
	t.Helper()
	var (
		servers []config.RegistryServerConfig
		nodes   []*Node
	)
	for attempt := 1; ; attempt++ {
		servers = nil
		addrs := FreeAddrs(t, 2*len(founders))
		for i, m := range founders {
			servers = append(servers, config.RegistryServerConfig{
				Node:        fed.NodeURI(m, NodeName(m)).String(),
				RaftAddress: addrs[2*i], Address: addrs[2*i+1], MemberName: m + " Prosecutor General's Office",
			})
		}
		nodes = nil
		var err error
		for _, m := range founders {
			n := &Node{Member: m, Cfg: Config(t, fed, m, servers, true)}
			if configure != nil {
				configure(m, &n.Cfg)
			}
			var logger *slog.Logger
			if w := logs[m]; w != nil {
				logger = slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
			}
			if n.D, err = Start(n.Cfg, logger, opts...); err != nil {
				break
			}
			nodes = append(nodes, n)
		}
		if err == nil {
			break
		}
		for _, n := range nodes {
			_ = n.D.Close()
		}
		if !strings.Contains(err.Error(), "address already in use") || attempt == 5 {
			t.Fatal(err)
		}
		t.Logf("starting the federation again on other ports: %v", err)
	}
	for _, n := range nodes {
		t.Cleanup(func() {
			if err := n.D.Close(); err != nil {
				t.Errorf("close %s: %v", n.Member, err)
			}
		})
	}
	for _, n := range nodes {
		WaitFounded(t, Coordination(t, n.D, fed.User(n.Member, "analyst"), n.Member), n.Member)
	}
	return nodes, servers
}

// LocalConn returns a connection to d's local API as a user of member,
// closed when the test ends.
func LocalConn(t testing.TB, d *daemon.Daemon, user mtls.Config, member string) *grpc.ClientConn {
	t.Helper()
	src, err := mtls.NewSource(user, mtls.Hooks{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	cc, err := grpc.NewClient(d.LocalAddr(), grpc.WithTransportCredentials(src.ClientCredentials(mtls.ExpectMember(member))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

// Coordination returns a CoordinationService client of d's local API for
// a user.
func Coordination(t testing.TB, d *daemon.Daemon, user mtls.Config, member string) accordv1.CoordinationServiceClient {
	t.Helper()
	return accordv1.NewCoordinationServiceClient(LocalConn(t, d, user, member))
}

// WaitFounded waits until the node behind c sees the registry founded and
// a leader.
func WaitFounded(t testing.TB, c accordv1.CoordinationServiceClient, member string) {
	t.Helper()
	raftnettest.WaitFor(t, 20*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		st, err := c.RegistryStatus(ctx, &accordv1.RegistryStatusRequest{})
		if err != nil {
			return err
		}
		if !st.GetBootstrapped() || st.GetLeaderId() == "" {
			return fmt.Errorf("%s: founded %v, leader %q", member, st.GetBootstrapped(), st.GetLeaderId())
		}
		return nil
	})
}

// PersonLookup returns a PersonLookupService client of d's local API for a
// user.
func PersonLookup(t testing.TB, d *daemon.Daemon, user mtls.Config, member string) accordv1.PersonLookupServiceClient {
	t.Helper()
	src, err := mtls.NewSource(user, mtls.Hooks{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	cc, err := grpc.NewClient(d.LocalAddr(), grpc.WithTransportCredentials(src.ClientCredentials(mtls.ExpectMember(member))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return accordv1.NewPersonLookupServiceClient(cc)
}
