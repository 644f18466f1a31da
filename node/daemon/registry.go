package daemon

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"time"

	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/credentials"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/raftnet"
	"github.com/accordfed/accord/federation/registry"
	"github.com/accordfed/accord/federation/registryraft"
	"github.com/accordfed/accord/federation/trust"
	"github.com/accordfed/accord/node/config"
	"github.com/accordfed/accord/node/grpcserver"
)

// bootstrapRequestID is the request id of the registry's founding command:
// every founder sends it, the first one applied founds the registry and the
// others are refused (already bootstrapped).
const bootstrapRequestID = "federation.bootstrap"

// registryServer is the node's part in the registry's Raft group.
type registryServer struct {
	fsm    *registry.FSM
	node   *registryraft.Node
	layer  *raftnet.StreamLayer
	raftLn net.Listener
	// sources are the hosts of the known registry servers, whose Raft
	// connections keep handshake slots of their own.
	sources *raftnet.Sources
}

// newRegistry builds the registry server of a node whose configuration
// makes it one: the Raft listener and transport, the Raft node, and the
// RegistryService on the federation server. Raft starts in Serve.
func (d *Daemon) newRegistry(policy *grpcserver.Policy) error {
	rc := d.cfg.Registry
	self := d.src.Identity()
	var (
		seeds      []identity.Identity
		static     = map[raft.ServerID]string{}
		configured = map[raft.ServerID]raft.ServerAddress{}
	)
	for _, s := range rc.Servers {
		seeds = append(seeds, s.ID())
		static[raftnet.ServerID(s.ID())] = s.Address
		configured[raftnet.ServerID(s.ID())] = raft.ServerAddress(s.RaftAddress)
	}
	ln, err := net.Listen("tcp", rc.RaftListen)
	if err != nil {
		return fmt.Errorf("%w: registry.raft_listen: %w", ErrStart, err)
	}
	advertise := rc.RaftAdvertise
	if _, port, _ := net.SplitHostPort(advertise); advertise == "" || port == "0" {
		// A test's ephemeral port: advertise what was bound.
		advertise = ln.Addr().String()
	}
	fsm := registry.NewFSM()
	addrs := registryraft.FederationAddresses(fsm, static)
	book := raftnet.NewAddressBook()
	refused := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "accord_raft_peer_refused_total", Help: "Raft connections refused during the handshake, by side and reason.",
	}, []string{"side", "reason"})
	dropped := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "accord_raft_handshakes_dropped_total",
		Help: "Inbound Raft connections closed before their handshake finished, by reason: source_limit, busy (no free slot) or timeout.",
	}, []string{"reason"})
	d.reg.MustRegister(refused, dropped)
	logger := d.logger.With("component", "registry")
	sources := raftnet.NewSources()
	r := &registryServer{fsm: fsm, raftLn: ln, sources: sources}
	r.updateSources(rc.Servers, logger)
	layer, err := raftnet.New(raftnet.Config{
		Listener: ln, Source: d.src, Allow: registryraft.ServerPolicy(fsm, seeds), Expect: book.Expect,
		Advertise: advertise, Logger: logger,
		HandshakeTimeout:       rc.RaftHandshakeTimeout,
		MaxPendingHandshakes:   rc.RaftMaxHandshakes,
		MaxHandshakesPerSource: rc.RaftMaxHandshakesPerSource,
		Reserved:               sources.Contains,
		Refused:                func(side, _ string, err error) { refused.WithLabelValues(side, raftnet.Reason(err)).Inc() },
		Dropped:                func(reason, _ string) { dropped.WithLabelValues(reason).Inc() },
	})
	if err != nil {
		ln.Close()
		return fmt.Errorf("%w: registry: %w", ErrStart, err)
	}
	// Raft dials a server where the registry and registry.servers say it is,
	// not only where raft's stored configuration last saw it: servers that
	// all moved while stopped could otherwise never reach each other.
	trans := raftnet.NewTransport(layer, raftnet.TransportOptions{
		Logger:                logger,
		ServerAddressProvider: registryraft.NewRaftAddresses(fsm, configured, book, layer.Connected),
	})
	src := d.src
	node, err := registryraft.New(registryraft.Config{
		DataDir:          filepath.Join(d.cfg.DataDir, "registry"),
		HeartbeatTimeout: rc.HeartbeatTimeout, ElectionTimeout: rc.ElectionTimeout,
		LeaderLeaseTimeout: rc.LeaderLeaseTimeout, CommitTimeout: rc.CommitTimeout,
		SnapshotThreshold: rc.SnapshotThreshold, TrailingLogs: rc.TrailingLogs, SnapshotInterval: rc.SnapshotInterval,
		MaxVoters: rc.MaxVoters, DeadServerTimeout: rc.DeadServerTimeout,
		DivergenceCheckInterval: rc.DivergenceCheckInterval,
		ManageMembership:        true,
		GRPCAddress:             addrs.Lookup,
		GRPCAddressFailed:       addrs.Failed,
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
	}, trans, fsm, self, logger)
	if err != nil {
		_ = trans.Close()
		return fmt.Errorf("%w: registry: %w", ErrStart, err)
	}
	policy.Allow(registryraft.ServiceMethods, grpcserver.AnyNode)
	r.node, r.layer = node, layer
	d.registry = r
	d.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "accord_registry_applied_index", Help: "The Raft index the node's registry state reflects."},
			func() float64 { return float64(fsm.AppliedIndex()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "accord_registry_diverged_servers",
			Help: "Registry servers whose log chain differed from this node's at the last divergence check."},
			func() float64 { n, _ := node.Diverged(); return float64(n) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "accord_registry_diverged_from_majority",
			Help: "1 while this node's registry log chain differs from most servers' (its state is not the federation's)."},
			func() float64 {
				if _, m := node.Diverged(); m {
					return 1
				}
				return 0
			}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "accord_registry_leader", Help: "1 while this node is the registry's leader."},
			func() float64 {
				if r := node.Raft(); r != nil && r.State() == raft.Leader {
					return 1
				}
				return 0
			}),
	)
	return nil
}

// startRegistry starts Raft once the federation server serves (followers
// forward to the leader's gRPC service), and then founds or joins the group
// in the background if this node has no registry state yet.
func (d *Daemon) startRegistry(ctx context.Context) error {
	r := d.registry
	if err := r.node.Start(); err != nil {
		return fmt.Errorf("%w: registry: %w", ErrStart, err)
	}
	d.bg.Add(1)
	go func() {
		defer d.bg.Done()
		d.recheckRaftPeers(ctx)
	}()
	d.bg.Add(1)
	go func() {
		defer d.bg.Done()
		d.trackRaftSources(ctx)
	}()
	d.bg.Add(1)
	go func() {
		defer d.bg.Done()
		d.trustAdmittedMembers(ctx)
	}()
	rc := d.cfg.Registry
	self := d.src.Identity()
	if rc.Bootstrap {
		var servers []raft.Server
		founder := false
		for _, s := range rc.Servers {
			founder = founder || s.ID() == self
			servers = append(servers, raft.Server{ID: raftnet.ServerID(s.ID()), Address: raft.ServerAddress(s.RaftAddress), Suffrage: raft.Voter})
		}
		if !founder {
			return fmt.Errorf("%w: registry.servers: bootstrap is set but this node (%s) is not one of the servers", ErrStart, self)
		}
		switch err := r.node.Bootstrap(servers); {
		case errors.Is(err, registryraft.ErrExistingState):
		case err != nil:
			return fmt.Errorf("%w: registry: %w", ErrStart, err)
		default:
			d.logger.Info("registry group bootstrapped", "servers", len(servers))
		}
		d.bg.Add(1)
		go func() {
			defer d.bg.Done()
			d.foundRegistry(ctx)
			d.registerOwnAddresses(ctx)
		}()
		return nil
	}
	has, err := r.node.HasState()
	if err != nil {
		return fmt.Errorf("%w: registry: %w", ErrStart, err)
	}
	d.bg.Add(1)
	go func() {
		defer d.bg.Done()
		if !has {
			d.joinRegistry(ctx)
			return
		}
		d.registerOwnAddresses(ctx)
	}()
	return nil
}

// registerOwnAddresses brings this server's record in the registry up to
// date when the node came back at other addresses (a new host, another
// port): it registers itself again, signed, with the Raft and federation
// addresses it has now, and the leader then moves it in Raft's
// configuration (Config.ManageMembership). Until then the others reach it
// through the configured registry.servers (FederationAddresses, and Raft's
// own address provider).
func (d *Daemon) registerOwnAddresses(ctx context.Context) {
	r := d.registry
	self := d.src.Identity()
	raftAddr, fedAddr := r.node.Address(), d.advertise()
	for _, s := range d.cfg.Registry.Servers {
		if s.ID() == self {
			// The operator's own statement of where this server is, as the
			// founding command registered it.
			raftAddr, fedAddr = s.RaftAddress, s.Address
		}
	}
	for attempt := 0; ctx.Err() == nil; attempt++ {
		var (
			known, stale bool
		)
		r.fsm.Read(func(v registry.View) {
			if !v.Bootstrapped() {
				return
			}
			if n, _, err := v.GetNode(self.String()); err == nil {
				known = true
				stale = n.Address != raftAddr || n.FederationAddress != fedAddr
			}
		})
		switch {
		case known && !stale:
			return
		case known:
			cmd, err := registry.NewCommand(fmt.Sprintf("node.move.%d.%s", time.Now().UnixNano(), fedAddr), registry.RegisterNode{Node: registry.NodeSpec{
				URI: self.String(), RegistryServer: true, Address: raftAddr, FederationAddress: fedAddr,
			}})
			if err != nil {
				d.logger.Error("cannot register this server's new addresses", "err", err)
				return
			}
			actx, cancel := context.WithTimeout(ctx, 30*time.Second)
			_, err = r.node.Apply(actx, cmd)
			cancel()
			if err == nil {
				d.logger.Info("registered this server's new addresses", "raft_address", raftAddr, "address", fedAddr)
				return
			}
			if errors.Is(err, registry.ErrInvalidArgument) || errors.Is(err, registry.ErrPermissionDenied) {
				d.logger.Error("the registry refused this server's new addresses", "err", err)
				return
			}
			d.logger.Warn("registering this server's new addresses: retrying", "err", err)
		}
		// Not founded or not registered yet (a founder whose founding is
		// still on its way), or the write must be tried again.
		t := time.NewTimer(min(time.Duration(attempt+1)*200*time.Millisecond, 5*time.Second))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// recheckRaftPeers closes Raft connections of peers that are no longer
// accepted: revoked or distrusted by a reload of the TLS material, or no
// longer registry servers (node removed, member suspended).
func (d *Daemon) recheckRaftPeers(ctx context.Context) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			d.registry.layer.Recheck()
		}
	}
}

// trackRaftSources keeps the hosts of the known registry servers (those
// configured in registry.servers, registered in the registry, and in Raft's
// configuration) as the Raft listener's reserved sources.
func (d *Daemon) trackRaftSources(ctx context.Context) {
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	logger := d.logger.With("component", "registry")
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			d.registry.updateSources(d.cfg.Registry.Servers, logger)
		}
	}
}

// updateSources sets the Raft listener's reserved sources from the
// configured servers, the registry's registry servers and Raft's
// configuration. A host that cannot be resolved is logged and left out.
func (r *registryServer) updateSources(configured []config.RegistryServerConfig, logger *slog.Logger) {
	var addrs []string
	for _, s := range configured {
		addrs = append(addrs, s.RaftAddress)
	}
	r.fsm.Read(func(v registry.View) {
		for _, s := range v.RegistryServers() {
			addrs = append(addrs, s.Address)
		}
	})
	if r.node != nil {
		if st, err := r.node.Status(); err == nil {
			for _, s := range st.Servers {
				addrs = append(addrs, string(s.Address))
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.sources.Update(ctx, nil, addrs); err != nil {
		logger.Warn("some registry servers' hosts could not be resolved; their Raft connections have no reserved handshake slots", "err", err)
	}
}

// foundRegistry sends the registry's founding command until it is applied,
// by this founder or another (the registry is then bootstrapped).
func (d *Daemon) foundRegistry(ctx context.Context) {
	r := d.registry
	for {
		founded := false
		r.fsm.Read(func(v registry.View) { founded = v.Bootstrapped() })
		if founded {
			return
		}
		cmd, err := d.bootstrapCommand()
		if err != nil {
			d.logger.Error("cannot found the registry", "err", err)
			return
		}
		actx, cancel := context.WithTimeout(ctx, 30*time.Second)
		_, err = r.node.Apply(actx, cmd)
		cancel()
		switch {
		case err == nil:
			d.logger.Info("registry founded")
			return
		case errors.Is(err, registry.ErrFailedPrecondition):
			return // another founder was first
		case ctx.Err() != nil, errors.Is(err, registryraft.ErrClosed):
			return
		case errors.Is(err, registry.ErrInvalidArgument), errors.Is(err, registry.ErrPermissionDenied):
			d.logger.Error("the registry refused the founding command; check registry.servers and the trust bundle", "err", err)
			return
		default:
			d.logger.Warn("founding the registry: retrying", "err", err)
		}
	}
}

// bootstrapCommand builds the founding command from registry.servers and
// the founders' CA certificates in the trust bundle.
func (d *Daemon) bootstrapCommand() (*registry.Command, error) {
	rc := d.cfg.Registry
	b, err := trust.LoadBundle(d.cfg.TLS.BundleFile)
	if err != nil {
		return nil, fmt.Errorf("tls.bundle_file: %w", err)
	}
	cas, err := b.Certificates()
	if err != nil {
		return nil, fmt.Errorf("tls.bundle_file: %w", err)
	}
	var founders []registry.FounderSpec
	index := map[string]int{}
	for i, s := range rc.Servers {
		id := s.ID()
		j, ok := index[id.Member]
		if !ok {
			certs := cas[id.Member]
			if len(certs) == 0 {
				return nil, fmt.Errorf("registry.servers[%d]: member %s has no CA in the trust bundle", i, id.Member)
			}
			name := s.MemberName
			if name == "" {
				name = id.Member
			}
			f := registry.FounderSpec{Code: id.Member, Name: name}
			for _, c := range certs {
				f.CACerts = append(f.CACerts, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})))
			}
			j = len(founders)
			index[id.Member] = j
			founders = append(founders, f)
		}
		founders[j].Nodes = append(founders[j].Nodes, registry.NodeSpec{
			URI: s.Node, RegistryServer: true, Address: s.RaftAddress, FederationAddress: s.Address,
		})
	}
	return registry.NewCommand(bootstrapRequestID, registry.Bootstrap{
		Federation: d.src.Identity().Federation,
		Policy:     registry.Policy{AdmissionThresholdPercent: rc.AdmissionThresholdPercent},
		Founders:   founders,
	})
}

// joinRegistry asks the configured servers to add this node, until one
// does; a refusal (the member is not admitted yet) is retried slowly, since
// admission may come later.
func (d *Daemon) joinRegistry(ctx context.Context) {
	rc := d.cfg.Registry
	var seeds []registryraft.Seed
	for _, s := range rc.Servers {
		seeds = append(seeds, registryraft.Seed{ID: s.ID(), GRPCAddress: s.Address})
	}
	raftAddr := d.registry.node.Address()
	for {
		jctx, cancel := context.WithTimeout(ctx, time.Minute)
		voter, err := d.registry.node.Join(jctx, seeds, raftAddr, d.advertise())
		cancel()
		if err == nil {
			d.logger.Info("joined the registry", "voter", voter)
			return
		}
		if ctx.Err() != nil || errors.Is(err, registryraft.ErrClosed) {
			return
		}
		d.logger.Warn("joining the registry failed; retrying", "err", err)
		t := time.NewTimer(5 * time.Second)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// advertise is the federation address other servers reach this node at.
func (d *Daemon) advertise() string {
	a := d.cfg.Registry.Advertise
	if _, port, _ := net.SplitHostPort(a); (a == "" || port == "0") && d.grpcLn != nil {
		return d.grpcLn.Addr().String()
	}
	return a
}

// Registry returns the node's registry server, or nil when it is none.
func (d *Daemon) Registry() *registryraft.Node {
	if d.registry == nil {
		return nil
	}
	return d.registry.node
}
