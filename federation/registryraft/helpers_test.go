package registryraft_test

import (
	"context"
	"crypto/tls"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/mtls"
	"github.com/accordfed/accord/federation/pki/pkitest"
	"github.com/accordfed/accord/federation/raftnet"
	"github.com/accordfed/accord/federation/raftnet/raftnettest"
	"github.com/accordfed/accord/federation/registry"
	"github.com/accordfed/accord/federation/registryraft"
	"github.com/accordfed/accord/node/grpcserver"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

const testFed = "accord.test"

// testNode is one registry server: Raft node, gRPC server, state machine.
type testNode struct {
	name    string
	member  string
	id      identity.Identity
	src     *mtls.Source
	fsm     *registry.FSM
	node    *registryraft.Node
	grpc    *grpcserver.Server
	raftLn  net.Listener
	dataDir string
}

// cluster is a test registry group.
type cluster struct {
	t       testing.TB
	fed     *pkitest.Federation
	nodes   []*testNode
	network *raftnettest.Network

	mu   sync.Mutex               // guards grpc, and nodes against allow
	grpc map[raft.ServerID]string // gRPC address of each server
}

type clusterOptions struct {
	heartbeat, election, lease time.Duration
	network                    *raftnettest.Network
	// founders is how many of the nodes bootstrap Raft (default all); the
	// others start without state, to be added.
	founders  int
	maxVoters int
	// grpcThroughNetwork routes forwarded gRPC calls through network too,
	// so that a partition cuts them as well.
	grpcThroughNetwork bool
	// trailingLogs, when set, is how many entries stay after a snapshot.
	trailingLogs uint64
	// commit is the commit timeout; zero means the registry's default.
	commit time.Duration
	// logger, when set, replaces the test log (benchmarks gate theirs).
	logger *slog.Logger
	// manage turns on Config.ManageMembership, with deadServer as its
	// DeadServerTimeout.
	manage     bool
	deadServer time.Duration
	// wrapStore, when set, gives each node's Config.WrapStore (fault
	// injection in the log store), by node name.
	wrapStore func(name string) func(registryraft.Store) registryraft.Store
	// transportTimeout is the Raft transport's I/O and dial timeout
	// (default 2s) and, when set, also the inbound handshake deadline of
	// the Raft layer (default raftnet.DefaultHandshakeTimeout): on a
	// simulated link with a second of one-way delay a TLS handshake takes
	// three seconds before any loss, as it would on such a real link,
	// whose operator sets registry.raft_handshake_timeout to match.
	transportTimeout time.Duration
	// manualVersions stops the background status rounds from learning
	// the servers' command versions (the test asks GroupStatus itself).
	manualVersions bool
	// wrapService, when set, gives the RegistryService each node serves
	// in place of its own (by node name).
	wrapService func(name string, svc *registryraft.Service) accordv1.RegistryServiceServer
}

func fastTimeouts() clusterOptions {
	return clusterOptions{heartbeat: 300 * time.Millisecond, election: 300 * time.Millisecond, lease: 150 * time.Millisecond, commit: 10 * time.Millisecond}
}

func listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// startCluster starts one registry server per member (node <member>-1),
// bootstraps Raft with all of them and founds the registry with a
// registry.Bootstrap command sent through the first node.
func startCluster(t testing.TB, members []string, o clusterOptions) *cluster {
	t.Helper()
	logger := o.logger
	if logger == nil {
		logger = raftnettest.NewLogger(t, slog.LevelWarn)
	}
	c := &cluster{t: t, fed: pkitest.NewFederation(t, testFed, members...), network: o.network, grpc: map[raft.ServerID]string{}}
	var servers []raft.Server
	for _, m := range members {
		name := strings.ToLower(m) + "-1"
		src, err := mtls.NewSource(c.fed.Node(m, name), mtls.Hooks{}, logger, nil)
		if err != nil {
			t.Fatal(err)
		}
		tn := &testNode{name: name, member: m, id: src.Identity(), src: src, raftLn: listen(t), dataDir: t.TempDir()}
		c.nodes = append(c.nodes, tn)
		addr := raft.ServerAddress(tn.raftLn.Addr().String())
		if o.network != nil {
			o.network.Register(name, string(addr))
		}
		servers = append(servers, raft.Server{ID: raftnet.ServerID(tn.id), Address: addr, Suffrage: raft.Voter})
	}
	for _, tn := range c.nodes {
		c.startNode(tn, logger.With("node", tn.name), o)
	}
	if o.founders == 0 {
		o.founders = len(c.nodes)
	}
	for _, tn := range c.nodes[:o.founders] {
		if err := tn.node.Bootstrap(servers[:o.founders]); err != nil {
			t.Fatalf("bootstrap %s: %v", tn.name, err)
		}
	}
	c.waitLeader(30*time.Second, c.nodes[o.founders:]...)
	c.foundRegistry()
	return c
}

// allowServers lets exactly the cluster's nodes take part in Raft.
func (c *cluster) allow(id identity.Identity) error {
	c.mu.Lock() // a test may add nodes (addServer)
	defer c.mu.Unlock()
	for _, tn := range c.nodes {
		if tn.id == id {
			return nil
		}
	}
	return errors.New("not a registry server")
}

func (c *cluster) grpcAddress(id raft.ServerID) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a, ok := c.grpc[id]
	return a, ok
}

// startNode starts the Raft node and gRPC server of tn.
func (c *cluster) startNode(tn *testNode, logger *slog.Logger, o clusterOptions) {
	t := c.t
	t.Helper()
	book := raftnet.NewAddressBook()
	lcfg := raftnet.Config{Listener: tn.raftLn, Source: tn.src, Allow: c.allow, Expect: book.Expect, Logger: logger}
	if o.network != nil {
		lcfg.DialContext = o.network.Dialer(tn.name)
	}
	if o.transportTimeout > 0 {
		lcfg.HandshakeTimeout = o.transportTimeout
	}
	layer, err := raftnet.New(lcfg)
	if err != nil {
		t.Fatal(err)
	}
	timeout := 2 * time.Second
	if o.transportTimeout > 0 {
		timeout = o.transportTimeout
	}
	trans := raftnet.NewTransport(layer, raftnet.TransportOptions{Logger: logger, Timeout: timeout})
	src := tn.src
	cfg := registryraft.Config{
		DataDir:          tn.dataDir,
		MaxVoters:        o.maxVoters,
		TrailingLogs:     o.trailingLogs,
		HeartbeatTimeout: o.heartbeat, ElectionTimeout: o.election, LeaderLeaseTimeout: o.lease,
		CommitTimeout:    o.commit,
		ManageMembership: o.manage, DeadServerTimeout: o.deadServer,
		GRPCAddress: c.grpcAddress,
		ClientCredentials: func(want identity.Identity) credentials.TransportCredentials {
			return src.ClientCredentials(func(got identity.Identity) error {
				if got != want {
					return fmt.Errorf("server is %s, want %s", got, want)
				}
				return nil
			})
		},
		AddressBook: book,
		Certificate: src.Certificate,
	}
	if o.manualVersions {
		cfg.VersionProbeInterval, cfg.DivergenceCheckInterval = time.Hour, time.Hour
	}
	if o.wrapStore != nil {
		cfg.WrapStore = o.wrapStore(tn.name)
	}
	if o.network != nil && o.grpcThroughNetwork {
		dial := o.network.Dialer(tn.name)
		cfg.DialOptions = []grpc.DialOption{grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			return dial(ctx, "tcp", addr)
		})}
	}
	tn.fsm = registry.NewFSM()
	n, err := registryraft.New(cfg, trans, tn.fsm, tn.id, logger)
	if err != nil {
		t.Fatal(err)
	}
	tn.node = n
	t.Cleanup(func() { _ = n.Shutdown() })

	var gcfg grpcserver.Config
	gcfg.Normalize()
	policy := grpcserver.NewPolicy()
	policy.Allow(registryraft.ServiceMethods, grpcserver.AnyNode)
	tn.grpc = grpcserver.New(gcfg, src.ServerCredentials(), policy, nil, logger)
	var svc accordv1.RegistryServiceServer = registryraft.NewService(n)
	if o.wrapService != nil {
		svc = o.wrapService(tn.name, registryraft.NewService(n))
	}
	accordv1.RegisterRegistryServiceServer(tn.grpc.GRPC, svc)
	gln := listen(t)
	c.mu.Lock()
	c.grpc[n.ID()] = gln.Addr().String()
	c.mu.Unlock()
	if o.network != nil {
		o.network.Register(tn.name, gln.Addr().String())
	}
	go func() { _ = tn.grpc.GRPC.Serve(gln) }()
	t.Cleanup(tn.grpc.GRPC.Stop)

	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
}

// kill stops a node without handing over leadership, and its gRPC server.
func (c *cluster) kill(tn *testNode) {
	c.t.Helper()
	tn.grpc.GRPC.Stop()
	if err := tn.node.Shutdown(); err != nil {
		c.t.Errorf("shutdown %s: %v", tn.name, err)
	}
}

// waitLeader waits until exactly one live node leads and every live node
// follows it.
func (c *cluster) waitLeader(timeout time.Duration, dead ...*testNode) *testNode {
	c.t.Helper()
	var leader *testNode
	raftnettest.WaitFor(c.t, timeout, func() error {
		leader = nil
		live := c.live(dead...)
		for _, tn := range live {
			if tn.node.Raft().State() == raft.Leader {
				if leader != nil {
					return fmt.Errorf("two leaders: %s and %s", leader.name, tn.name)
				}
				leader = tn
			}
		}
		if leader == nil {
			return errors.New("no leader")
		}
		for _, tn := range live {
			if _, id := tn.node.Raft().LeaderWithID(); id != leader.node.ID() {
				return fmt.Errorf("%s follows %q, not %s", tn.name, id, leader.name)
			}
		}
		return nil
	})
	return leader
}

func (c *cluster) live(dead ...*testNode) []*testNode {
	var out []*testNode
	for _, tn := range c.nodes {
		isDead := false
		for _, d := range dead {
			isDead = isDead || d == tn
		}
		if !isDead {
			out = append(out, tn)
		}
	}
	return out
}

// foundRegistry sends the registry's Bootstrap command through the first
// node, naming every node as a founder's registry server.
func (c *cluster) foundRegistry() {
	c.t.Helper()
	var founders []registry.FounderSpec
	for _, tn := range c.nodes {
		ca := c.fed.CAs[tn.member].Cert
		founders = append(founders, registry.FounderSpec{
			Code: tn.member, Name: tn.member + " Prosecutor General's Office",
			CACerts: []string{string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw}))},
			Nodes:   []registry.NodeSpec{{URI: tn.id.String(), RegistryServer: true, Address: tn.raftLn.Addr().String()}},
		})
	}
	cmd, err := registry.NewCommand("bootstrap-1", registry.Bootstrap{Federation: testFed, Founders: founders})
	if err != nil {
		c.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.nodes[0].node.Apply(ctx, cmd); err != nil {
		c.t.Fatalf("found the registry: %v", err)
	}
}

// entry returns a command creating a federation-wide strategy entry titled
// requestID.
func entry(t testing.TB, requestID string) *registry.Command {
	t.Helper()
	cmd, err := registry.NewCommand(requestID, registry.CreateEntry{Kind: registry.KindTheme, Title: requestID})
	if err != nil {
		t.Fatal(err)
	}
	return cmd
}

// titles returns how often each title occurs among the entries visible to
// viewer, read from n.
func titles(t testing.TB, n *registryraft.Node, linearizable bool, viewer string) map[string]int {
	t.Helper()
	got, err := readTitles(n, linearizable, viewer)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func readTitles(n *registryraft.Node, linearizable bool, viewer string) (map[string]int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out := map[string]int{}
	var rerr error
	if _, err := n.Read(ctx, linearizable, func(v registry.View) {
		entries, err := v.ListStrategy(viewer, registry.StrategyFilter{})
		rerr = err
		for _, e := range entries {
			out[e.Current.Title]++
		}
	}); err != nil {
		return nil, err
	}
	return out, rerr
}

func newNetwork(t *testing.T) *raftnettest.Network {
	t.Helper()
	n := raftnettest.NewNetwork()
	t.Cleanup(n.Close)
	return n
}

// listenAt listens again on the address a stopped node used, polling
// until the port is free.
func listenAt(t *testing.T, addr string) net.Listener {
	t.Helper()
	var ln net.Listener
	raftnettest.WaitFor(t, 5*time.Second, func() error {
		var err error
		ln, err = net.Listen("tcp", addr)
		return err
	})
	return ln
}

// signAs signs cmd as the node id of fed (a certificate issued for it by
// its member's authority), having seen the registry's index seen.
func signAs(t testing.TB, fed *pkitest.Federation, id identity.Identity, cmd *registry.Command, seen uint64) {
	t.Helper()
	cfg := fed.Node(id.Member, id.Name)
	cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Member, cmd.Actor.Node = id.Member, id.String()
	at := cmd.Time
	if at.IsZero() {
		at = time.Now()
	}
	if err := cmd.Sign(&cert, seen, at); err != nil {
		t.Fatal(err)
	}
}
