package exchange_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/accordfed/accord/federation/exchange"
	"github.com/accordfed/accord/federation/feed"
	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/mtls"
	"github.com/accordfed/accord/federation/pki/pkitest"
	"github.com/accordfed/accord/federation/raftnet/raftnettest"
	"github.com/accordfed/accord/federation/records"
	"github.com/accordfed/accord/node/casegen"
	"github.com/accordfed/accord/node/grpcserver"
	"github.com/accordfed/accord/node/store"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

const testFed = "accord.test"

// exStore adapts the store as node/daemon does.
type exStore struct{ *store.Store }

func (s exStore) FindCase(id string) (*accordv1.Case, error) {
	c, err := s.GetCase(id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	return c, err
}

// directory is a static registry: admitted members, their keys and nodes,
// and which members may see which jit cases.
type directory struct {
	mu       sync.Mutex
	self     string
	admitted map[string]bool
	keys     map[string]ed25519.PublicKey
	peers    []exchange.Peer
	jit      map[string][]string // case id -> members
}

func (d *directory) Admitted(m string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.admitted[m]
}

func (d *directory) NodeAdmitted(n identity.Identity) bool {
	return n.Kind == identity.KindNode && d.Admitted(n.Member)
}

// Changed is never closed: the static registry does not change.
func (d *directory) Changed() <-chan struct{} { return nil }

func (d *directory) JITVisible(m, caseID string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, x := range d.jit[caseID] {
		if x == m {
			return true
		}
	}
	return false
}

func (d *directory) Key(m, id string) (ed25519.PublicKey, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if k, ok := d.keys[m+"/"+id]; ok {
		return k, nil
	}
	return nil, fmt.Errorf("no key %s of %s", id, m)
}

func (d *directory) Peers() []exchange.Peer {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []exchange.Peer
	for _, p := range d.peers {
		if p.Member != d.self {
			out = append(out, p)
		}
	}
	return out
}

// events records audit events.
type events struct {
	mu  sync.Mutex
	all []exchange.Event
}

func (e *events) Audit(ev exchange.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.all = append(e.all, ev)
}

func (e *events) count(kind exchange.EventKind, peer string) (n int, reasons []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, ev := range e.all {
		if ev.Kind == kind && (peer == "" || ev.Peer == peer) {
			n += max(ev.Records, 1)
			if ev.Err != nil {
				reasons = append(reasons, ev.Err.Error())
			}
		}
	}
	return n, reasons
}

// node is one member's node in a test federation.
type node struct {
	member    string
	id        identity.Identity
	src       *mtls.Source
	st        *store.Store
	dir       *directory
	signer    *records.Signer
	service   *exchange.Service
	puller    *exchange.Puller
	publisher *exchange.Publisher
	audit     *events
	addr      string
	srv       *grpcserver.Server
	cancel    context.CancelFunc
	done      sync.WaitGroup
	changed   func(origin string, ids []string)
	lnStart   net.Listener
}

type federation struct {
	t testing.TB
	// net, when set, carries every connection between nodes (faults).
	net   *raftnettest.Network
	fed   *pkitest.Federation
	nodes map[string]*node
	dirs  []*directory
	keys  map[string]ed25519.PublicKey
	peers []exchange.Peer
	// heartbeat, when set, is the services' heartbeat interval (pullers
	// count a peer silent after twice that); else the defaults.
	heartbeat time.Duration
}

// newFederation makes one node per member: store, signing key, service
// over mutual TLS on loopback, publisher and puller (not started).
func newFederation(t testing.TB, members ...string) *federation {
	t.Helper()
	return newFederationOn(t, nil, members...)
}

// newFederationOn is newFederation with the nodes' connections carried by
// a fault network.
func newFederationOn(t testing.TB, network *raftnettest.Network, members ...string) *federation {
	t.Helper()
	return newFederationBeating(t, network, 0, members...)
}

// newFederationBeating is newFederationOn with the services' heartbeat
// interval (0: the default).
func newFederationBeating(t testing.TB, network *raftnettest.Network, heartbeat time.Duration, members ...string) *federation {
	t.Helper()
	f := &federation{t: t, net: network, heartbeat: heartbeat, fed: pkitest.NewFederation(t, testFed, members...), nodes: map[string]*node{}, keys: map[string]ed25519.PublicKey{}}
	for _, m := range members {
		name := strings.ToLower(m) + "-1"
		src, err := mtls.NewSource(f.fed.Node(m, name), mtls.Hooks{}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		st, err := store.Open(filepath.Join(t.TempDir(), "store.db"), m, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		pub, priv, _ := ed25519.GenerateKey(nil)
		n := &node{member: m, id: src.Identity(), src: src, st: st, audit: &events{},
			signer: records.NewSigner(m, records.KeyID(name, pub), priv)}
		f.keys[m+"/"+n.signer.KeyID()] = pub
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		n.addr = ln.Addr().String()
		if network != nil {
			network.Register(m, n.addr)
		}
		f.peers = append(f.peers, exchange.Peer{Member: m, Node: n.id, Address: n.addr})
		f.nodes[m] = n
		n.lnStart = ln
	}
	admitted := map[string]bool{}
	for _, m := range members {
		admitted[m] = true
	}
	for _, m := range members {
		n := f.nodes[m]
		n.dir = &directory{self: m, admitted: admitted, keys: f.keys, peers: f.peers, jit: map[string][]string{}}
		f.dirs = append(f.dirs, n.dir)
		f.build(n)
	}
	return f
}

// build makes a node's exchange parts and serves its service.
func (f *federation) build(n *node) {
	t := f.t
	st := exStore{n.st}
	dial := f.dialer(n)
	n.puller = exchange.NewPuller(n.id, st, n.dir, dial, n.audit, exchange.PullerOptions{OnChange: func(origin string, ids []string) {
		if n.changed != nil {
			n.changed(origin, ids)
		}
	}, SilentAfter: 2 * f.heartbeat})
	n.service = exchange.NewService(st, n.dir, n.member, n.signer, n.audit, exchange.ServiceOptions{OnNudge: n.puller.Wake, Heartbeat: f.heartbeat})
	n.publisher = exchange.NewPublisher(st, n.member, n.signer, exchange.PublisherOptions{})
	var gcfg grpcserver.Config
	gcfg.Normalize()
	policy := grpcserver.NewPolicy()
	policy.Allow("/"+accordv1.ExchangeService_ServiceDesc.ServiceName+"/", grpcserver.AnyNode)
	n.srv = grpcserver.New(gcfg, n.src.ServerCredentials(), policy, nil, slog.New(slog.DiscardHandler))
	accordv1.RegisterExchangeServiceServer(n.srv.GRPC, n.service)
	ln := n.lnStart
	if ln == nil {
		ln = listenAt(t, n.addr)
	}
	n.lnStart = nil
	go func() { _ = n.srv.GRPC.Serve(ln) }()
	t.Cleanup(n.stop)
}

// listenAt listens again on the address a stopped node used, polling
// until the port is released.
func listenAt(t testing.TB, addr string) net.Listener {
	t.Helper()
	var ln net.Listener
	raftnettest.WaitFor(t, 5*time.Second, func() error {
		var err error
		ln, err = net.Listen("tcp", addr)
		return err
	})
	return ln
}

// dialer dials peers with the node's certificate, checking the server,
// through the federation's fault network when it has one.
func (f *federation) dialer(n *node) exchange.Dialer {
	d := dialer(n)
	if f.net == nil {
		return d
	}
	via := f.net.Dialer(n.member)
	return dialerWith(n, grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
		return via(ctx, "tcp", addr)
	}))
}

// dialer dials peers with the node's certificate, checking the server.
func dialer(n *node, opts ...grpc.DialOption) exchange.Dialer {
	return dialerWith(n, opts...)
}

func dialerWith(n *node, opts ...grpc.DialOption) exchange.Dialer {
	var mu sync.Mutex
	conns := map[string]*grpc.ClientConn{}
	return func(p exchange.Peer) (accordv1.ExchangeServiceClient, error) {
		mu.Lock()
		defer mu.Unlock()
		if cc, ok := conns[p.Address]; ok {
			return accordv1.NewExchangeServiceClient(cc), nil
		}
		want := p.Node
		all := append([]grpc.DialOption{
			grpc.WithTransportCredentials(n.src.ClientCredentials(func(got identity.Identity) error {
				if got != want {
					return fmt.Errorf("server is %s, want %s", got, want)
				}
				return nil
			})),
			grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64 << 20)),
			// Feed batches are large: a wide window keeps the stream from
			// waiting on flow control.
			grpc.WithInitialWindowSize(4 << 20), grpc.WithInitialConnWindowSize(16 << 20),
		}, opts...)
		cc, err := grpc.NewClient(p.Address, all...)
		if err != nil {
			return nil, err
		}
		conns[p.Address] = cc
		return accordv1.NewExchangeServiceClient(cc), nil
	}
}

// start runs the node's publisher and puller.
func (n *node) start() {
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	n.done.Add(2)
	go func() { defer n.done.Done(); n.publisher.Run(ctx) }()
	go func() { defer n.done.Done(); n.puller.Run(ctx) }()
}

// halt stops the node's publisher and puller.
func (n *node) halt() {
	if n.cancel != nil {
		n.cancel()
		n.cancel = nil
	}
	n.done.Wait()
}

// stop stops the node's loops and server.
func (n *node) stop() {
	n.halt()
	n.service.Close()
	n.srv.GRPC.Stop()
}

// rebuildPuller gives the node a fresh puller (fresh counters).
func (f *federation) rebuildPuller(n *node) {
	n.puller = exchange.NewPuller(n.id, exStore{n.st}, n.dir, f.dialer(n), n.audit, exchange.PullerOptions{OnChange: func(origin string, ids []string) {
		if n.changed != nil {
			n.changed(origin, ids)
		}
	}})
}

// client returns a raw ExchangeService client of from's node to to's.
func (f *federation) client(from, to string) accordv1.ExchangeServiceClient {
	f.t.Helper()
	n := f.nodes[from]
	for _, p := range f.peers {
		if p.Member == to {
			c, err := dialer(n)(p)
			if err != nil {
				f.t.Fatal(err)
			}
			return c
		}
	}
	f.t.Fatalf("no member %s", to)
	return nil
}

// generate writes count generated cases into the member's store.
func (f *federation) generate(member string, count int, seed uint64) []string {
	f.t.Helper()
	return f.generateWith(member, count, seed, nil)
}

// generateWith is generate with each case changed by mutate first.
func (f *federation) generateWith(member string, count int, seed uint64, mutate func(*accordv1.Case)) []string {
	f.t.Helper()
	var ids []string
	var batch []*accordv1.Case
	flush := func() {
		if _, err := f.nodes[member].st.ImportBatch(batch, store.Actor{ID: "spiffe://accord.test/member/" + member + "/user/analyst"}); err != nil {
			f.t.Fatal(err)
		}
		batch = batch[:0]
	}
	err := casegen.Generate(casegen.Options{Member: member, Cases: count, Seed: seed}, func(c *accordv1.Case) error {
		c.Evidence = nil // evidence needs a custody sealer; hashes are not what these tests are about
		if mutate != nil {
			mutate(c)
		}
		ids = append(ids, c.GetCaseId())
		batch = append(batch, c)
		if len(batch) == 5000 {
			flush()
		}
		return nil
	})
	if err != nil {
		f.t.Fatal(err)
	}
	if len(batch) > 0 {
		flush()
	}
	return ids
}

// publishAll publishes every pending change of member.
func (f *federation) publishAll(member string) uint64 {
	f.t.Helper()
	for {
		n, err := f.nodes[member].publisher.PublishPending()
		if err != nil {
			f.t.Fatal(err)
		}
		if n == 0 {
			fi, err := f.nodes[member].st.Feed()
			if err != nil {
				f.t.Fatal(err)
			}
			return fi.Head
		}
	}
}

// held returns the case ids of origin in member's federation index.
func (f *federation) held(member, origin string) map[string]uint64 {
	f.t.Helper()
	out := map[string]uint64{}
	if err := f.nodes[member].st.FedScan(origin, func(_, id string, seq uint64, _ []byte) error {
		out[id] = seq
		return nil
	}); err != nil {
		f.t.Fatal(err)
	}
	return out
}

var _ = feed.Tombstone
