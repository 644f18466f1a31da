package registryraft_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/mtls"
	"github.com/accordfed/accord/federation/pki/pkitest"
	"github.com/accordfed/accord/federation/raftnet"
	"github.com/accordfed/accord/federation/raftnet/raftnettest"
	"github.com/accordfed/accord/federation/registry"
	"github.com/accordfed/accord/federation/registryraft"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// The benchmarks of issue 4: registry writes (through a follower, which
// forwards over mutual-TLS gRPC; through the leader's gRPC service; through
// the leader's Go API) side by side with raw hashicorp/raft Apply on an
// identical three-node group (same raftnet mutual-TLS transport, same
// raft-boltdb store, same Raft configuration, a trivial state machine,
// entries of the same size), and linearizable reads. Every sub-benchmark
// builds its own group before the timed loop and tears it down after.
//
//	go test -run XXX -bench . -benchtime 3s -count 1 ./federation/registryraft/
//
// Throughput is reported as writes/s or reads/s: completed operations
// divided by the wall time from the first dispatch until the last
// operation in flight has finished.

var (
	benchMembers = []string{"UA", "PL", "DE"}
	benchClients = []int{1, 16, 64}
)

// benchOpTimeout bounds one operation; a benchmark operation that takes
// this long is a failure, not a slow result.
const benchOpTimeout = 30 * time.Second

// benchNode is one server of a benchmark group: its identity, its Raft
// listener and data directory, and either a registry node (with its gRPC
// server) or a raw Raft instance.
type benchNode struct {
	name   string
	member string
	id     identity.Identity
	src    *mtls.Source
	raftLn net.Listener
	dir    string
	book   *raftnet.AddressBook
	raft   *raft.Raft
}

// benchGroup is three servers, one per member, that trust each other
// exactly as the registry's servers do.
type benchGroup struct {
	b       *testing.B
	fed     *pkitest.Federation
	logger  *slog.Logger
	log     *gatedLog
	nodes   []*benchNode
	servers []raft.Server
}

func newBenchGroup(b *testing.B) *benchGroup {
	b.Helper()
	g := &benchGroup{
		b:   b,
		log: &gatedLog{b: b},
		fed: pkitest.NewFederation(b, testFed, benchMembers...),
	}
	g.logger = slog.New(slog.NewTextHandler(g.log, &slog.HandlerOptions{Level: slog.LevelWarn}))
	for _, m := range benchMembers {
		name := strings.ToLower(m) + "-1"
		src, err := mtls.NewSource(g.fed.Node(m, name), mtls.Hooks{}, g.logger, nil)
		if err != nil {
			b.Fatal(err)
		}
		bn := &benchNode{name: name, member: m, id: src.Identity(), src: src, raftLn: listen(b), dir: b.TempDir(), book: raftnet.NewAddressBook()}
		g.nodes = append(g.nodes, bn)
		g.servers = append(g.servers, raft.Server{ID: raftnet.ServerID(bn.id), Address: raft.ServerAddress(bn.raftLn.Addr().String()), Suffrage: raft.Voter})
	}
	return g
}

// gatedLog writes to the benchmark's log only while the timed loop runs:
// warnings then (an election, a refused call) bear on the numbers, while
// those of starting and tearing down a group (the first election, closed
// connections) do not. A benchmark's log is always printed.
type gatedLog struct {
	mu sync.Mutex
	b  *testing.B
	on bool
}

func (w *gatedLog) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.on {
		w.b.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (w *gatedLog) set(on bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.on = on
}

func (g *benchGroup) allow(id identity.Identity) error {
	for _, bn := range g.nodes {
		if bn.id == id {
			return nil
		}
	}
	return errors.New("not a registry server")
}

// transport is the raftnet mutual-TLS transport of bn, as the registry's
// servers use it.
func (g *benchGroup) transport(bn *benchNode, logger *slog.Logger) raft.Transport {
	g.b.Helper()
	layer, err := raftnet.New(raftnet.Config{Listener: bn.raftLn, Source: bn.src, Allow: g.allow, Expect: bn.book.Expect, Logger: logger})
	if err != nil {
		g.b.Fatal(err)
	}
	return raftnet.NewTransport(layer, raftnet.TransportOptions{Logger: logger, Timeout: 2 * time.Second})
}

// config is the registry's default configuration (the timeouts for
// servers on one network), which the raw group copies; the registry group
// (startCluster with zero options) gets the same defaults.
func (g *benchGroup) config(bn *benchNode) registryraft.Config {
	src := bn.src
	cfg := registryraft.Config{
		DataDir:     bn.dir,
		GRPCAddress: func(raft.ServerID) (string, bool) { return "", false },
		ClientCredentials: func(want identity.Identity) credentials.TransportCredentials {
			return src.ClientCredentials(exactly(want))
		},
		AddressBook: bn.book,
		Certificate: src.Certificate,
	}
	if err := cfg.Validate(); err != nil {
		g.b.Fatal(err)
	}
	return cfg
}

func exactly(want identity.Identity) func(identity.Identity) error {
	return func(got identity.Identity) error {
		if got != want {
			return fmt.Errorf("server is %s, want %s", got, want)
		}
		return nil
	}
}

// startRegistry starts a registry group with the tests' cluster (the
// registry's default timeouts; logs only while the timed loop runs) and
// returns it with its leader and followers.
func startRegistry(b *testing.B) (c *cluster, log *gatedLog, leader *testNode, followers []*testNode) {
	b.Helper()
	log = &gatedLog{b: b}
	logger := slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelWarn}))
	c = startCluster(b, benchMembers, clusterOptions{logger: logger})
	leader = c.waitLeader(15 * time.Second)
	for _, tn := range c.nodes {
		if tn != leader {
			followers = append(followers, tn)
		}
	}
	// The steady state: every node writes the current command version
	// and signs forwarded writes in batches once it has heard that every
	// server can check them (within about a second of starting).
	for _, tn := range c.nodes {
		raftnettest.WaitFor(b, 15*time.Second, func() error {
			if v := tn.node.WriteVersion(); v != registry.CommandVersion {
				return fmt.Errorf("%s writes command version %d", tn.node.ID(), v)
			}
			if !tn.node.SignsBatches() {
				return fmt.Errorf("%s does not sign in batches yet", tn.node.ID())
			}
			return nil
		})
	}
	return c, log, leader, followers
}

// benchFSM is the raw group's state machine: it counts entries.
type benchFSM struct{ applied atomic.Uint64 }

func (f *benchFSM) Apply(*raft.Log) any { f.applied.Add(1); return nil }

func (f *benchFSM) Snapshot() (raft.FSMSnapshot, error) {
	return benchSnapshot(f.applied.Load()), nil
}

func (f *benchFSM) Restore(rc io.ReadCloser) error {
	defer func() { _ = rc.Close() }()
	var buf [8]byte
	if _, err := io.ReadFull(rc, buf[:]); err != nil {
		return err
	}
	f.applied.Store(binary.BigEndian.Uint64(buf[:]))
	return nil
}

type benchSnapshot uint64

func (s benchSnapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := sink.Write(binary.BigEndian.AppendUint64(nil, uint64(s))); err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

func (benchSnapshot) Release() {}

// startRaw starts plain hashicorp/raft on every server with the registry's
// Raft configuration, log store and snapshot store, bootstraps it and waits
// for a leader that every node follows.
func (g *benchGroup) startRaw() (leader *benchNode) {
	b := g.b
	b.Helper()
	for _, bn := range g.nodes {
		logger := g.logger.With("node", bn.name)
		cfg := g.config(bn)
		// What registryraft.Config.raftConfig makes of cfg.
		rc := raft.DefaultConfig()
		rc.LocalID = raftnet.ServerID(bn.id)
		rc.HeartbeatTimeout = cfg.HeartbeatTimeout
		rc.ElectionTimeout = cfg.ElectionTimeout
		rc.LeaderLeaseTimeout = cfg.LeaderLeaseTimeout
		rc.CommitTimeout = cfg.CommitTimeout
		rc.SnapshotThreshold = cfg.SnapshotThreshold
		rc.SnapshotInterval = cfg.SnapshotInterval
		rc.TrailingLogs = cfg.TrailingLogs
		rc.Logger = raftnet.NewHCLogger(logger, "raft")

		store, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(cfg.DataDir, "raft.db")})
		if err != nil {
			b.Fatal(err)
		}
		snaps, err := raft.NewFileSnapshotStoreWithLogger(cfg.DataDir, cfg.RetainSnapshots, raftnet.NewHCLogger(logger, "raft-snapshots"))
		if err != nil {
			b.Fatal(err)
		}
		// The same log cache a registry node has (registryraft.LogCacheSize).
		logs, err := raft.NewLogCache(registryraft.LogCacheSize, store)
		if err != nil {
			b.Fatal(err)
		}
		r, err := raft.NewRaft(rc, &benchFSM{}, logs, store, snaps, g.transport(bn, logger))
		if err != nil {
			b.Fatal(err)
		}
		bn.raft = r
		b.Cleanup(func() {
			_ = r.Shutdown().Error()
			_ = store.Close()
		})
	}
	cfg := raft.Configuration{Servers: g.servers}
	for _, bn := range g.nodes {
		if err := bn.book.SetConfiguration(cfg); err != nil {
			b.Fatal(err)
		}
		if err := bn.raft.BootstrapCluster(cfg).Error(); err != nil {
			b.Fatalf("bootstrap %s: %v", bn.name, err)
		}
	}
	return g.waitLeader()
}

// waitLeader polls until exactly one raw node leads and every node follows
// it.
func (g *benchGroup) waitLeader() (leader *benchNode) {
	g.b.Helper()
	raftnettest.WaitFor(g.b, 15*time.Second, func() error {
		leader = nil
		for _, bn := range g.nodes {
			if bn.raft.State() == raft.Leader {
				if leader != nil {
					return fmt.Errorf("two leaders: %s and %s", leader.name, bn.name)
				}
				leader = bn
			}
		}
		if leader == nil {
			return errors.New("no leader")
		}
		for _, bn := range g.nodes {
			if _, id := bn.raft.LeaderWithID(); id != raftnet.ServerID(leader.id) {
				return fmt.Errorf("%s follows %q, not %s", bn.name, id, leader.name)
			}
		}
		return nil
	})
	return leader
}

// checkLeader reports a leader change during the timed loop, which would
// make the numbers meaningless.
func checkLeader(b *testing.B, r *raft.Raft, term uint64) {
	b.Helper()
	if r.State() != raft.Leader || r.CurrentTerm() != term {
		b.Errorf("leadership changed during the benchmark (term %d, now %d, state %s)", term, r.CurrentTerm(), r.State())
	}
}

// requestID is the request id (and entry title) of the i-th write of a
// run: fixed width, so every command has the same size.
func requestID(prefix string, i uint64) string {
	return fmt.Sprintf("%s-%012d", prefix, i)
}

// strategyEntry is the command each registry write submits: a new
// federation-wide strategy entry (a valid command after the registry's
// bootstrap, applied by the real state machine, not a no-op).
func strategyEntry(rid string) (*registry.Command, error) {
	return registry.NewCommand(rid, registry.CreateEntry{Kind: registry.KindTheme, Title: rid})
}

// logEntrySize is the size of a registry write's Raft log entry as the
// leader proposes it (member, acting node and time stamped).
func logEntrySize(b *testing.B, actor identity.Identity) int {
	b.Helper()
	cmd, err := strategyEntry(requestID("w", 0))
	if err != nil {
		b.Fatal(err)
	}
	cmd.Member = actor.Member
	cmd.Actor.Node = actor.String()
	cmd.Time = time.Now().UTC()
	data, err := cmd.Encode()
	if err != nil {
		b.Fatal(err)
	}
	return len(data)
}

// drive runs op from clients goroutines, one operation per b.Loop
// iteration (an operation is handed to whichever client is free), and
// reports completed operations per second of wall time, until the last
// operation in flight has finished, as unit.
func drive(b *testing.B, log *gatedLog, clients int, unit string, op func(ctx context.Context, i uint64) error) {
	b.Helper()
	work := make(chan uint64)
	var (
		wg       sync.WaitGroup
		failures atomic.Int64
		first    atomic.Pointer[error]
	)
	for range clients {
		wg.Go(func() {
			for i := range work {
				ctx, cancel := context.WithTimeout(context.Background(), benchOpTimeout)
				err := op(ctx, i)
				cancel()
				if err != nil {
					failures.Add(1)
					first.CompareAndSwap(nil, &err)
				}
			}
		})
	}
	log.set(true)
	defer log.set(false)
	var n uint64
	start := time.Now()
	for b.Loop() {
		work <- n
		n++
	}
	close(work)
	wg.Wait()
	elapsed := time.Since(start)
	if f := failures.Load(); f > 0 {
		b.Fatalf("%d of %d operations failed; first: %v", f, n, *first.Load())
	}
	b.ReportMetric(float64(n)/elapsed.Seconds(), unit)
}

// BenchmarkRegistryWrites: registry writes (a new strategy entry each)
// from concurrent clients:
//   - via=follower: Node.Apply on a follower, which forwards every write
//     to the leader's RegistryService.Submit over mutual-TLS gRPC;
//   - via=leader-grpc: RegistryService.Submit called directly on the
//     leader over mutual-TLS gRPC (one client connection, with a
//     follower's node certificate, as forwarding uses);
//   - via=leader: Node.Apply on the leader (no gRPC).
func BenchmarkRegistryWrites(b *testing.B) {
	for _, via := range []string{"follower", "leader-grpc", "leader"} {
		for _, clients := range benchClients {
			b.Run(fmt.Sprintf("via=%s/clients=%d", via, clients), func(b *testing.B) {
				c, log, leader, followers := startRegistry(b)
				follower := followers[0]
				var op func(ctx context.Context, i uint64) error
				switch via {
				case "follower", "leader":
					n := follower.node
					if via == "leader" {
						n = leader.node
					}
					op = func(ctx context.Context, i uint64) error {
						cmd, err := strategyEntry(requestID("w", i))
						if err != nil {
							return err
						}
						_, err = n.Apply(ctx, cmd)
						return err
					}
				case "leader-grpc":
					addr, _ := c.grpcAddress(leader.node.ID())
					cc, err := grpc.NewClient(addr,
						grpc.WithTransportCredentials(follower.src.ClientCredentials(exactly(leader.id))))
					if err != nil {
						b.Fatal(err)
					}
					b.Cleanup(func() { _ = cc.Close() })
					client := accordv1.NewRegistryServiceClient(cc)
					op = func(ctx context.Context, i uint64) error {
						cmd, err := strategyEntry(requestID("w", i))
						if err != nil {
							return err
						}
						data, err := cmd.Encode()
						if err != nil {
							return err
						}
						_, err = client.Submit(ctx, &accordv1.SubmitRequest{Command: data})
						return err
					}
				}
				// Warm up outside the timed loop: dial, TLS handshakes.
				ctx, cancel := context.WithTimeout(context.Background(), benchOpTimeout)
				defer cancel()
				for i := range 3 {
					if err := op(ctx, 999_999_999_000+uint64(i)); err != nil {
						b.Fatalf("warm-up write: %v", err)
					}
				}
				term := leader.node.Raft().CurrentTerm()
				drive(b, log, clients, "writes/s", op)
				checkLeader(b, leader.node.Raft(), term)
			})
		}
	}
}

// BenchmarkRawRaftWrites: raw hashicorp/raft Apply on the leader of an
// identical group, with entries of the registry writes' size.
func BenchmarkRawRaftWrites(b *testing.B) {
	for _, clients := range benchClients {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			g := newBenchGroup(b)
			leader := g.startRaw()
			size := logEntrySize(b, g.nodes[1].id)
			r := leader.raft
			op := func(_ context.Context, _ uint64) error {
				return r.Apply(make([]byte, size), benchOpTimeout).Error()
			}
			ctx, cancel := context.WithTimeout(context.Background(), benchOpTimeout)
			defer cancel()
			for i := range 3 {
				if err := op(ctx, uint64(i)); err != nil {
					b.Fatalf("warm-up write: %v", err)
				}
			}
			term := r.CurrentTerm()
			drive(b, g.log, clients, "writes/s", op)
			checkLeader(b, r, term)
			// After the loop: b.Loop's first call clears reported metrics.
			b.ReportMetric(float64(size), "bytes/entry")
		})
	}
}

// BenchmarkRegistryLinearizableReads: linearizable reads (read index,
// then wait until the local state machine has applied it) on the leader
// and on a follower, which asks the leader for the read index over
// mutual-TLS gRPC.
func BenchmarkRegistryLinearizableReads(b *testing.B) {
	for _, on := range []string{"leader", "follower"} {
		for _, clients := range []int{1, 64} {
			b.Run(fmt.Sprintf("on=%s/clients=%d", on, clients), func(b *testing.B) {
				_, log, leader, followers := startRegistry(b)
				n := leader.node
				if on == "follower" {
					n = followers[0].node
				}
				op := func(ctx context.Context, _ uint64) error {
					var rerr error
					_, err := n.Read(ctx, true, func(v registry.View) {
						_, rerr = v.GetMember("UA")
					})
					return errors.Join(err, rerr)
				}
				ctx, cancel := context.WithTimeout(context.Background(), benchOpTimeout)
				defer cancel()
				for i := range 3 {
					if err := op(ctx, uint64(i)); err != nil {
						b.Fatalf("warm-up read: %v", err)
					}
				}
				term := leader.node.Raft().CurrentTerm()
				drive(b, log, clients, "reads/s", op)
				checkLeader(b, leader.node.Raft(), term)
			})
		}
	}
}
