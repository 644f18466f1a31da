package daemon

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/mtls"
	"github.com/accordfed/accord/federation/peering"
	"github.com/accordfed/accord/federation/registryraft"
	"github.com/accordfed/accord/federation/trust"
	"github.com/accordfed/accord/node/audit"
	"github.com/accordfed/accord/node/auditapi"
	"github.com/accordfed/accord/node/config"
	"github.com/accordfed/accord/node/coordination"
	"github.com/accordfed/accord/node/custody"
	"github.com/accordfed/accord/node/gateway"
	"github.com/accordfed/accord/node/grpcserver"
	"github.com/accordfed/accord/node/httpsfront"
	"github.com/accordfed/accord/node/jitcontent"
	"github.com/accordfed/accord/node/localapi"
	"github.com/accordfed/accord/node/matcher"
	"github.com/accordfed/accord/node/matchmodel"
	"github.com/accordfed/accord/node/store"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// ErrStart is wrapped by every error that stops a daemon from starting.
var ErrStart = errors.New("node cannot start")

// Daemon is one running node.
type Daemon struct {
	cfg     config.Config
	version string
	logger  *slog.Logger

	src   *mtls.Source
	reg   *prometheus.Registry
	srv   *grpcserver.Server // federation API
	local *grpcserver.Server // the office's local API
	// gateway serves the local API as JSON over HTTPS; nil unless
	// local_api.gateway_listen.
	gateway *gateway.Gateway
	// front carries the gateway's and the console's HTTPS clients into the
	// local API server; nil unless one of them is served.
	front *httpsfront.Front
	// console serves the office's web console; nil unless console.listen.
	console *officeConsole
	store   *store.Store
	// registry is the node's registry server, nil unless registry.server.
	registry *registryServer
	// coord is the coordination service (its WatchMatches streams end
	// on Close, before the servers stop gracefully).
	coord *coordination.Service
	// jitKeys seals and opens the content of encrypted JITs (registry
	// servers only).
	jitKeys *jitcontent.Keyring
	// exchange shares case metadata with the other members; nil without a
	// registry.
	exchange *exchangeParts
	persons  *personParts
	// keysChanged wakes the registration of the node's keys (a
	// person-token key rotated or retired).
	keysChanged chan struct{}
	audit       *audit.Log
	grpcLn      net.Listener
	localLn     net.Listener
	gatewayLn   net.Listener
	consoleLn   net.Listener
	httpLn      net.Listener
	httpSrv     *http.Server

	sealerMu   sync.Mutex
	sealerCert *tls.Certificate
	sealer     *custody.Sealer

	cancel   context.CancelFunc
	wg       sync.WaitGroup // servers
	bg       sync.WaitGroup // TLS reload and store trim loops
	serveErr chan error
	closeMu  sync.Mutex
	closed   bool
}

// New validates the configuration and loads the node's TLS material; it
// refuses a node whose own certificate its own trust bundle does not accept
// (expired, revoked, signed by a CA that may not vouch for its member).
// Nothing listens until Start.
func New(cfg config.Config, version string, logger *slog.Logger, opts ...Option) (*Daemon, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStart, err)
	}
	d := &Daemon{cfg: cfg, version: version, logger: logger, reg: prometheus.NewRegistry(), serveErr: make(chan error, 3),
		keysChanged: make(chan struct{}, 1)}
	refused := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "accord_tls_peer_refused_total", Help: "Peer certificates refused during TLS handshakes, by side (server: a client was refused; client: a server was refused) and reason.",
	}, []string{"side", "reason"})
	expiry := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "accord_tls_certificate_expiry_timestamp_seconds", Help: "When the node's own certificate expires (Unix time).",
	})
	reloads := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "accord_tls_reloads_total", Help: "Reloads of TLS material that changed it.",
	})
	reloadFailures := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "accord_tls_reload_failures_total", Help: "Reloads of TLS material that failed (the material before stays in force), by the file at fault: cert_file, key_file, key_pair, bundle_file, crl_dir.",
	}, []string{"reason"})
	for _, r := range reloadFailureReasons {
		reloadFailures.WithLabelValues(r)
	}
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "accord_build_info", Help: "Build information; always 1."}, []string{"version"})
	build.WithLabelValues(version).Set(1)
	d.reg.MustRegister(refused, expiry, reloads, reloadFailures, build, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	src, err := mtls.NewSource(cfg.TLS, mtls.Hooks{
		Refused: func(side string, err error) { refused.WithLabelValues(side, trust.Reason(err)).Inc() },
		Reloaded: func(leaf *x509.Certificate) {
			reloads.Inc()
			expiry.Set(float64(leaf.NotAfter.Unix()))
		},
		ReloadFailed: func(reason string, _ error) { reloadFailures.WithLabelValues(reason).Inc() },
	}, logger.With("component", "tls"), nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStart, err)
	}
	if err := src.SelfCheck(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStart, err)
	}
	if src.Identity().Kind != identity.KindNode {
		return nil, fmt.Errorf("%w: tls.cert_file: %s is a user certificate; a node needs a node certificate", ErrStart, src.Identity())
	}
	expiry.Set(float64(src.Certificate().Leaf.NotAfter.Unix()))
	d.src = src
	d.reg.MustRegister(newUnusableCRLCollector(src))

	st, err := store.Open(filepath.Join(cfg.DataDir, "store.db"), src.Identity().Member, store.Options{Logger: logger.With("component", "store")})
	if err != nil {
		return nil, fmt.Errorf("%w: data_dir: %w", ErrStart, err)
	}
	d.store = st
	spool := filepath.Join(cfg.DataDir, "tmp")
	if err := os.MkdirAll(spool, 0o700); err != nil {
		st.Close()
		return nil, fmt.Errorf("%w: data_dir: %w", ErrStart, err)
	}
	d.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "accord_store_size_bytes", Help: "Size of the node's store file.",
	}, func() float64 {
		if fi, err := os.Stat(st.Path()); err == nil {
			return float64(fi.Size())
		}
		return 0
	}))

	metrics := grpcserver.NewMetrics(d.reg)
	policy := grpcserver.NewPolicy()
	// WhoAmI (peer checks), health and the service listing: member nodes
	// and this office's own users; other members' users are refused
	// before any handler (they have no business on this listener).
	nodesAndOwn := grpcserver.NodeOrUserOf(src.Identity().Member)
	policy.Allow("/"+accordv1.FederationService_ServiceDesc.ServiceName+"/", nodesAndOwn)
	policy.AllowIntrospection(nodesAndOwn)
	var reg coordination.Registry
	if cfg.Registry.Server {
		if err := d.newRegistry(policy); err != nil {
			d.closeEarly()
			return nil, err
		}
		reg = d.registry.node
		priv, err := jitcontent.LoadKey(cfg.DataDir)
		if err != nil {
			d.closeEarly()
			return nil, fmt.Errorf("%w: JIT content key: %w", ErrStart, err)
		}
		d.jitKeys = jitcontent.New(src.Identity().Member, src.Identity().Name, priv, logger.With("component", "jitcontent"))
	}
	al, err := audit.Open(cfg.DataDir, logger.With("component", "audit"))
	if err != nil {
		d.closeEarly()
		return nil, fmt.Errorf("%w: data_dir: %w", ErrStart, err)
	}
	d.audit = al
	if d.registry != nil {
		if err := d.newExchange(policy); err != nil {
			d.closeEarly()
			return nil, err
		}
	}
	d.srv = grpcserver.New(cfg.GRPC, src.ServerCredentials(), policy, metrics, logger.With("component", "grpc"))
	accordv1.RegisterFederationServiceServer(d.srv.GRPC, peering.NewService(src.Certificate, version))
	if d.registry != nil {
		accordv1.RegisterRegistryServiceServer(d.srv.GRPC, registryraft.NewService(d.registry.node))
		accordv1.RegisterExchangeServiceServer(d.srv.GRPC, d.exchange.service)
	}

	local := localapi.New(st, cfg.LocalAPI.Admins, d.currentSealer, spool, localapi.ImportLimits{
		MaxConcurrent: cfg.LocalAPI.MaxConcurrentImports, MaxBufferedBytes: cfg.LocalAPI.ImportBufferBytes,
	}, logger.With("component", "local_api"))
	d.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "accord_import_running", Help: "ImportCases streams running (at most local_api.max_concurrent_imports).",
		}, func() float64 { return float64(local.ImportStats().Running) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "accord_import_buffered_bytes", Help: "Bytes of input lines the running imports hold in memory.",
		}, func() float64 { return float64(local.ImportStats().BufferedBytes) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "accord_import_buffered_bytes_max", Help: "The most bytes of input lines the imports held in memory at once since the node started.",
		}, func() float64 { return float64(local.ImportStats().PeakBufferedBytes) }),
	)
	localPolicy := local.Policy()
	isAdmin := func(id identity.Identity) bool { return local.RoleOf(id) == localapi.RoleAdmin }
	coord := coordination.New(reg, src.Identity().Member, isAdmin, logger.With("component", "coordination"))
	coord.WithPageTokenKey(st.PageTokenKey())
	if d.jitKeys != nil {
		coord.WithContent(d.jitKeys)
	}
	coord.Allow(localPolicy)
	coord.WithWatchLimits(cfg.Notifications.Watch.Heartbeat, cfg.Notifications.Watch.Buffer)
	d.coord = coord
	membership := coordination.NewMembership(coord)
	membership.Allow(localPolicy)
	var clusterAPI *coordination.ClusterAPI
	if d.exchange != nil {
		clusterAPI = coordination.NewClusters(coord, d.exchange.clusters, matcherScorer{d.exchange})
		coord.WithClusters(d.exchange.clusters)
		clusterAPI.Allow(localPolicy)
	}
	fedIdx := d.newFedIndex(localPolicy)
	auditAPI := auditapi.New(al.Path(), src.Identity().Member)
	auditAPI.Allow(localPolicy)
	if d.exchange != nil {
		coord.WithCompare(fedIdx, matcherScorer{d.exchange})
	}
	model := matchmodel.New(src.Identity().Member, func() (matcher.Fit, bool) {
		if d.exchange == nil || d.exchange.matcher == nil {
			return matcher.Fit{}, false
		}
		return d.exchange.matcher.Fit(), true
	})
	model.Allow(localPolicy)
	if err := d.newSearch(local, fedIdx); err != nil {
		d.closeEarly()
		return nil, err
	}
	backups := d.newBackup(localPolicy, isAdmin)
	if d.persons != nil {
		d.persons.allowLookup(localPolicy, src.Identity().Member)
	}
	localCreds := src.ServerCredentials()
	if cfg.LocalAPI.GatewayListen != "" || cfg.Console.Listen != "" {
		// The gateway's and the console's HTTPS connections call the
		// local API's gRPC server in-process, as their certificates.
		d.front = httpsfront.New(src, cfg.GRPC)
		localCreds = d.front.Credentials(localCreds)
	}
	if cfg.LocalAPI.GatewayListen != "" {
		d.gateway, err = gateway.New(gateway.Options{
			Front: d.front, Policy: localPolicy, GRPC: cfg.GRPC, Version: version, Logger: logger.With("component", "gateway"),
		})
		if err != nil {
			d.closeEarly()
			return nil, fmt.Errorf("%w: %w", ErrStart, err)
		}
	}
	if cfg.Console.Listen != "" {
		if d.console, err = d.newConsole(o.console, d.front); err != nil {
			d.closeEarly()
			return nil, fmt.Errorf("%w: %w", ErrStart, err)
		}
	}
	d.local = grpcserver.New(cfg.GRPC, localCreds, localPolicy, metrics, logger.With("component", "local_api"))
	local.Register(d.local.GRPC)
	accordv1.RegisterCoordinationServiceServer(d.local.GRPC, coord)
	accordv1.RegisterMembershipServiceServer(d.local.GRPC, membership)
	accordv1.RegisterFederationIndexServiceServer(d.local.GRPC, fedIdx)
	accordv1.RegisterAuditServiceServer(d.local.GRPC, auditAPI)
	accordv1.RegisterMatchingServiceServer(d.local.GRPC, model)
	if clusterAPI != nil {
		accordv1.RegisterClusterServiceServer(d.local.GRPC, clusterAPI)
	}
	if d.persons != nil {
		accordv1.RegisterPersonLookupServiceServer(d.local.GRPC, d.persons.lookup)
		accordv1.RegisterPersonTokenServiceServer(d.srv.GRPC, d.persons.service)
	}
	accordv1.RegisterNodeAdminServiceServer(d.local.GRPC, backups)
	if d.gateway != nil {
		if err := d.gateway.Register(d.local.GRPC.GetServiceInfo()); err != nil {
			d.closeEarly()
			return nil, fmt.Errorf("%w: %w", ErrStart, err)
		}
	}
	return d, nil
}

// currentSealer returns the custody sealer for the node's current key (the
// key changes when the certificate is rotated).
func (d *Daemon) currentSealer() (*custody.Sealer, error) {
	d.sealerMu.Lock()
	defer d.sealerMu.Unlock()
	cert := d.src.Certificate()
	if d.sealer != nil && d.sealerCert == cert {
		return d.sealer, nil
	}
	key, ok := cert.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("node key of type %T cannot sign custody seals", cert.PrivateKey)
	}
	s, err := custody.NewSealer(key, d.src.Identity().String())
	if err != nil {
		return nil, err
	}
	d.sealer, d.sealerCert = s, cert
	return s, nil
}

// Store returns the node's store.
func (d *Daemon) Store() *store.Store { return d.store }

// Listeners are what a daemon serves on. Local, Gateway, Console and
// Metrics may be nil (not served); Gateway is served only with
// local_api.gateway_listen set, Console only with console.listen.
type Listeners struct {
	GRPC, Local, Gateway, Console, Metrics net.Listener
}

// Start opens the listeners named in the configuration and serves.
func (d *Daemon) Start() error {
	var ls Listeners
	closeAll := func() {
		for _, l := range []net.Listener{ls.GRPC, ls.Local, ls.Gateway, ls.Console, ls.Metrics} {
			if l != nil {
				l.Close()
			}
		}
	}
	for _, l := range []struct {
		field, addr string
		into        *net.Listener
	}{
		{"listen", d.cfg.Listen, &ls.GRPC},
		{"local_api.listen", d.cfg.LocalAPI.Listen, &ls.Local},
		{"local_api.gateway_listen", d.cfg.LocalAPI.GatewayListen, &ls.Gateway},
		{"console.listen", d.cfg.Console.Listen, &ls.Console},
		{"metrics_listen", d.cfg.MetricsListen, &ls.Metrics},
	} {
		if l.addr == "" {
			continue
		}
		ln, err := net.Listen("tcp", l.addr)
		if err != nil {
			closeAll()
			return fmt.Errorf("%w: %s: %w", ErrStart, l.field, err)
		}
		*l.into = ln
	}
	return d.Serve(ls)
}

// Serve serves on the given listeners. The daemon owns them from now on.
func (d *Daemon) Serve(ls Listeners) error {
	grpcLn, httpLn := ls.GRPC, ls.Metrics
	d.grpcLn, d.localLn, d.httpLn = ls.GRPC, ls.Local, ls.Metrics
	if d.gateway != nil {
		d.gatewayLn = ls.Gateway
	} else if ls.Gateway != nil {
		ls.Gateway.Close()
	}
	if d.console != nil {
		d.consoleLn = ls.Console
	} else if ls.Console != nil {
		ls.Console.Close()
	}
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel

	d.bg.Add(2)
	go func() {
		defer d.bg.Done()
		d.src.Run(ctx)
	}()
	go func() {
		defer d.bg.Done()
		d.trimLoop(ctx)
	}()

	if httpLn != nil {
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(d.reg, promhttp.HandlerOpts{Registry: d.reg}))
		mux.HandleFunc("/livez", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
		d.httpSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			if err := d.httpSrv.Serve(httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				d.serveErr <- fmt.Errorf("metrics listener: %w", err)
			}
		}()
	}

	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		if err := d.srv.GRPC.Serve(grpcLn); err != nil {
			d.serveErr <- fmt.Errorf("gRPC server: %w", err)
		}
	}()
	if d.localLn != nil {
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			if err := d.local.GRPC.Serve(d.localLn); err != nil {
				d.serveErr <- fmt.Errorf("local API server: %w", err)
			}
		}()
	}
	if d.gatewayLn != nil || d.consoleLn != nil {
		// The gRPC server serves the gateway's and the console's
		// in-process connections besides its TCP listener, through the
		// same interceptors.
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			if err := d.local.GRPC.Serve(d.front.Listener()); err != nil {
				d.serveErr <- fmt.Errorf("local API server (HTTPS front): %w", err)
			}
		}()
	}
	if d.consoleLn != nil {
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			if err := d.console.serve(d.consoleLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				d.serveErr <- fmt.Errorf("console: %w", err)
			}
		}()
	}
	if d.gatewayLn != nil {
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			if err := d.gateway.Serve(d.gatewayLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				d.serveErr <- fmt.Errorf("local API gateway: %w", err)
			}
		}()
	}
	if d.localLn != nil || d.gatewayLn != nil || d.consoleLn != nil {
		d.local.Health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	}
	if d.registry != nil {
		if err := d.startRegistry(ctx); err != nil {
			return err
		}
		d.startExchange(ctx)
	}
	d.srv.Health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	d.srv.Health.SetServingStatus(accordv1.FederationService_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	attrs := []any{"identity", d.src.Identity().String(), "listen", grpcLn.Addr().String(), "version", d.version,
		"members_trusted", len(d.src.Verifier().Members()), "cert_not_after", d.src.Certificate().Leaf.NotAfter}
	if httpLn != nil {
		attrs = append(attrs, "metrics", httpLn.Addr().String())
	}
	if d.localLn != nil {
		attrs = append(attrs, "local_api", d.localLn.Addr().String())
	}
	if d.gatewayLn != nil {
		attrs = append(attrs, "local_api_gateway", d.gatewayLn.Addr().String())
	}
	if d.consoleLn != nil {
		attrs = append(attrs, "console", d.consoleLn.Addr().String())
	}
	attrs = append(attrs, "store", d.store.Path())
	if d.registry != nil {
		attrs = append(attrs, "registry_raft", d.registry.node.Address())
	}
	d.logger.Info("node started", attrs...)
	return nil
}

// Addr returns the gRPC listener's address.
func (d *Daemon) Addr() string { return d.grpcLn.Addr().String() }

// trimLoop keeps store pages that queries touched from accumulating in the
// node's resident memory (they stay in the page cache).
func (d *Daemon) trimLoop(ctx context.Context) {
	t := time.NewTicker(15 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := d.store.Trim(); err != nil {
				d.logger.Warn("could not trim the store's mapping", "err", err)
			}
		}
	}
}

// LocalAddr returns the local API listener's address, or "" when there is
// none.
func (d *Daemon) LocalAddr() string {
	if d.localLn == nil {
		return ""
	}
	return d.localLn.Addr().String()
}

// GatewayAddr returns the local API gateway's address, or "" when there is
// none.
func (d *Daemon) GatewayAddr() string {
	if d.gatewayLn == nil {
		return ""
	}
	return d.gatewayLn.Addr().String()
}

// ConsoleAddr returns the office console's address, or "" when there is
// none.
func (d *Daemon) ConsoleAddr() string {
	if d.consoleLn == nil {
		return ""
	}
	return d.consoleLn.Addr().String()
}

// MetricsAddr returns the metrics listener's address, or "" when there is
// none.
func (d *Daemon) MetricsAddr() string {
	if d.httpLn == nil {
		return ""
	}
	return d.httpLn.Addr().String()
}

// Identity returns the node's identity.
func (d *Daemon) Identity() identity.Identity { return d.src.Identity() }

// TLS returns the node's TLS material.
func (d *Daemon) TLS() *mtls.Source { return d.src }

// Reload re-reads the TLS material now (accordd calls it on SIGHUP).
func (d *Daemon) Reload() error {
	_, err := d.src.Reload()
	return err
}

// Err delivers an error when a server stops serving on its own.
func (d *Daemon) Err() <-chan error { return d.serveErr }

// Close stops the node. The order matters:
//  1. health turns NOT_SERVING on both servers, so that health checks and
//     peers stop sending new work while RPCs in flight finish; the
//     exchange stops pulling and publishing and ends the Sync streams it
//     serves (peers resume from their cursors later); the WatchMatches
//     streams end (clients resume from the last index they saw); a registry server then
//     hands over its leadership, if it leads, and leaves Raft (writes in
//     flight on it fail as Unavailable and their senders retry with the new
//     leader);
//  2. the federation and local gRPC servers, the local API's gateway and
//     the office's console stop gracefully, and are cut hard after
//     shutdown_timeout, so that a stuck stream (a long import) cannot hold
//     shutdown forever; the gateway's and the console's requests are calls
//     of the local gRPC server, which waits for them;
//  3. the TLS reload and store trim loops stop (no handshake or store
//     access needs them any more);
//  4. the store closes, once no RPC can write to it; an import cut in step
//     2 leaves whole cases only;
//  5. the metrics listener stops last, so that the shutdown itself can be
//     observed.
func (d *Daemon) Close() error {
	d.closeMu.Lock()
	defer d.closeMu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	d.srv.Health.Shutdown()
	d.local.Health.Shutdown()
	if d.exchange != nil {
		d.exchange.stop()
	}
	if d.coord != nil {
		d.coord.Close()
	}
	var regErr error
	if d.registry != nil {
		regErr = d.registry.node.Close()
	}

	gatewayCtx, stopGateway := context.WithCancel(context.Background())
	defer stopGateway()
	done := make(chan struct{})
	go func() {
		var wg sync.WaitGroup
		for _, g := range []*grpcserver.Server{d.srv, d.local} {
			wg.Add(1)
			go func() { defer wg.Done(); g.GRPC.GracefulStop() }()
		}
		if d.gatewayLn != nil {
			wg.Add(1)
			go func() { defer wg.Done(); _ = d.gateway.Shutdown(gatewayCtx) }()
		}
		if d.consoleLn != nil {
			wg.Add(1)
			go func() { defer wg.Done(); _ = d.console.shutdown(gatewayCtx) }()
		}
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(d.cfg.ShutdownTimeout):
		d.logger.Warn("graceful stop timed out; closing open RPCs", "timeout", d.cfg.ShutdownTimeout)
		d.srv.GRPC.Stop()
		d.local.GRPC.Stop()
		stopGateway()
		if d.gatewayLn != nil {
			_ = d.gateway.Close()
		}
		if d.consoleLn != nil {
			_ = d.console.close()
		}
		<-done
	}

	if d.cancel != nil {
		d.cancel()
	}
	d.bg.Wait()
	if d.exchange != nil {
		// The prefetches the publisher (stopped now) left to finish in
		// the background end with the exchange's context; they requeue
		// cases in the store, which closes next.
		d.persons.asker.Wait()
		d.exchange.dialer.close()
	}
	err := errors.Join(d.audit.Close(), d.store.Close())
	if d.httpSrv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if e := d.httpSrv.Shutdown(ctx); e != nil && err == nil {
			err = e
		}
		cancel()
	}
	d.wg.Wait()
	d.logger.Info("node stopped")
	return errors.Join(regErr, err)
}
