package daemon

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/accordfed/accord/federation/exchange"
	"github.com/accordfed/accord/federation/feed"
	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/matching"
	"github.com/accordfed/accord/federation/pki"
	"github.com/accordfed/accord/federation/records"
	"github.com/accordfed/accord/federation/redact"
	"github.com/accordfed/accord/federation/registry"
	"github.com/accordfed/accord/federation/registryraft"
	"github.com/accordfed/accord/node/audit"
	"github.com/accordfed/accord/node/clusters"
	"github.com/accordfed/accord/node/config"
	"github.com/accordfed/accord/node/grpcserver"
	"github.com/accordfed/accord/node/matcher"
	"github.com/accordfed/accord/node/matchwatch"
	"github.com/accordfed/accord/node/store"
	"github.com/accordfed/accord/node/webhook"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// exchangeStore adapts the store to the exchange.
type exchangeStore struct{ *store.Store }

// ForEachCase implements matcher.Store.
func (s exchangeStore) ForEachCase(fn func(*accordv1.Case) error) error {
	return s.ExportCases(store.Filter{}, fn)
}

// FindCase implements exchange.Store.
func (s exchangeStore) FindCase(id string) (*accordv1.Case, error) {
	c, err := s.GetCase(id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	return c, err
}

// loadSigningKey reads the node's record-signing key, making one on first
// start (<data_dir>/signing.key, mode 0600).
func loadSigningKey(dataDir string) (ed25519.PrivateKey, error) {
	path := filepath.Join(dataDir, "signing.key")
	k, err := pki.LoadOrCreateKey(path, func() (crypto.PrivateKey, error) {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		return priv, err
	})
	if err != nil {
		return nil, err
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s: a %T key; record signing keys are Ed25519", path, k)
	}
	return priv, nil
}

// directory answers the exchange's questions from the local registry
// state (stale reads: the registry's own replication bounds how stale).
type directory struct {
	fsm  *registry.FSM
	self identity.Identity
	// overrides are the configured peers: the federation address to dial
	// a member's node at instead of the one it registered (a private
	// link, a NAT). Addresses are otherwise the registry's.
	overrides map[string]string

	mu   sync.Mutex
	keys map[string]ed25519.PublicKey // member/key id -> key
	// changed is closed, and replaced, when the registry applies an entry
	// (watch).
	changed chan struct{}
	// jit caches, per registry index, which members may see each of this
	// member's jit-linked cases.
	jitIndex uint64
	jit      map[string][]string
}

func newDirectory(fsm *registry.FSM, self identity.Identity, peers []config.Peer) *directory {
	overrides := map[string]string{}
	for _, p := range peers {
		overrides[p.Member] = p.Address
	}
	return &directory{fsm: fsm, self: self, overrides: overrides, keys: map[string]ed25519.PublicKey{}, changed: make(chan struct{})}
}

// watch closes the channel Changed returned each time the registry applies
// an entry, until ctx ends: the exchange's open streams and the watch on
// jit audiences react to a suspension, a node removed or a JIT left at
// once.
func (d *directory) watch(ctx context.Context) {
	for {
		idx := d.fsm.AppliedIndex()
		if err := d.fsm.WaitApplied(ctx, idx+1); err != nil {
			return
		}
		d.mu.Lock()
		close(d.changed)
		d.changed = make(chan struct{})
		d.mu.Unlock()
	}
}

// Changed implements exchange.Directory.
func (d *directory) Changed() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.changed
}

// NodeAdmitted implements exchange.Directory: the node is registered for
// its member, and the member is admitted.
func (d *directory) NodeAdmitted(node identity.Identity) bool {
	ok := false
	d.fsm.Read(func(v registry.View) {
		_, st, err := v.GetNode(node.String())
		ok = err == nil && st == registry.MemberAdmitted
	})
	return ok
}

func (d *directory) Admitted(member string) bool {
	ok := false
	d.fsm.Read(func(v registry.View) {
		m, err := v.GetMember(member)
		ok = err == nil && m.Status == registry.MemberAdmitted
	})
	return ok
}

// jitAccess returns, for each of this member's cases linked to a JIT, the
// members (sorted) that accepted such a JIT.
func (d *directory) jitAccess() map[string][]string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if idx := d.fsm.AppliedIndex(); d.jit != nil && idx == d.jitIndex {
		return d.jit
	}
	out := map[string][]string{}
	idx := d.fsm.Read(func(v registry.View) {
		jits, err := v.ListJITs(d.self.Member)
		if err != nil {
			return
		}
		for _, j := range jits {
			if j.Status != registry.JITActive {
				continue
			}
			var accepted []string
			for _, m := range j.Members {
				if m.State == registry.MembershipAccepted {
					accepted = append(accepted, m.Member)
				}
			}
			for _, c := range j.Cases {
				if c.Case.Member == d.self.Member {
					out[c.Case.CaseID] = append(out[c.Case.CaseID], accepted...)
				}
			}
		}
	})
	for k, ms := range out {
		sort.Strings(ms)
		out[k] = slices.Compact(ms)
	}
	d.jit, d.jitIndex = out, idx
	return out
}

func (d *directory) JITVisible(member, caseID string) bool {
	return slices.Contains(d.jitAccess()[caseID], member)
}

func (d *directory) Key(member, keyID string) (ed25519.PublicKey, error) {
	d.mu.Lock()
	k, ok := d.keys[member+"/"+keyID]
	d.mu.Unlock()
	if ok {
		return k, nil
	}
	var pemKey string
	d.fsm.Read(func(v registry.View) {
		m, err := v.GetMember(member)
		if err != nil || m.Status != registry.MemberAdmitted {
			return
		}
		for _, sk := range m.SigningKeys {
			if sk.ID == keyID {
				pemKey = sk.PublicKeyPEM
			}
		}
	})
	if pemKey == "" {
		return nil, fmt.Errorf("member %s has no signing key %q in the registry", member, keyID)
	}
	pub, err := records.ParsePublicKeyPEM(pemKey)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.keys[member+"/"+keyID] = pub
	d.mu.Unlock()
	return pub, nil
}

// Peers implements exchange.Directory: the first registered node of each
// other admitted member that has a federation address (or any registered
// node when the member's address is overridden by the configured peers),
// at that address or the override. A member admitted and its node
// registered is listed as soon as this node applies the entry.
func (d *directory) Peers() []exchange.Peer {
	var out []exchange.Peer
	d.fsm.Read(func(v registry.View) {
		for _, m := range v.ListMembers() {
			if m.Status != registry.MemberAdmitted || m.Code == d.self.Member {
				continue
			}
			override := d.overrides[m.Code]
			for _, n := range m.Nodes {
				id, err := identity.Parse(n.URI)
				if err != nil || (n.FederationAddress == "" && override == "") {
					continue
				}
				addr := n.FederationAddress
				if override != "" {
					addr = override
				}
				out = append(out, exchange.Peer{Member: m.Code, Node: id, Address: addr})
				break
			}
		}
	})
	return out
}

// exchangeDialer dials peers' exchange services over mutual TLS, checking
// that the server is exactly the peer's node; one connection per node.
type exchangeDialer struct {
	d     *Daemon
	mu    sync.Mutex
	conns map[string]*grpc.ClientConn
}

// peerKeepaliveTime and peerKeepaliveTimeout are the pings of the
// connections to peers' nodes: one after this long without traffic, and
// the connection given up when unanswered for the timeout.
const (
	peerKeepaliveTime    = 20 * time.Second
	peerKeepaliveTimeout = 10 * time.Second
)

func (x *exchangeDialer) dial(p exchange.Peer) (accordv1.ExchangeServiceClient, error) {
	cc, err := x.conn(p)
	if err != nil {
		return nil, err
	}
	return accordv1.NewExchangeServiceClient(cc), nil
}

// conn returns the connection to a peer's node, made on first use.
func (x *exchangeDialer) conn(p exchange.Peer) (*grpc.ClientConn, error) {
	key := p.Node.String() + "@" + p.Address
	x.mu.Lock()
	defer x.mu.Unlock()
	if cc, ok := x.conns[key]; ok {
		return cc, nil
	}
	want := p.Node
	cc, err := grpc.NewClient(p.Address, grpc.WithTransportCredentials(x.d.src.ClientCredentials(func(got identity.Identity) error {
		if got != want {
			return fmt.Errorf("server is %s, want %s", got, want)
		}
		return nil
	})), grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20)),
		// Feed batches are large: a wide window keeps the stream from
		// waiting on flow control.
		grpc.WithInitialWindowSize(4<<20), grpc.WithInitialConnWindowSize(16<<20),
		// Pings find a connection that a partition killed silently (a
		// Sync stream waiting for a nudge sends nothing, and TCP alone
		// notices only after many minutes); the servers allow a ping
		// every grpc.keepalive_min_time (10 s by default).
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: peerKeepaliveTime, Timeout: peerKeepaliveTimeout, PermitWithoutStream: true}))
	if err != nil {
		return nil, err
	}
	x.conns[key] = cc
	return cc, nil
}

func (x *exchangeDialer) close() {
	x.mu.Lock()
	defer x.mu.Unlock()
	for k, cc := range x.conns {
		_ = cc.Close()
		delete(x.conns, k)
	}
}

// registerNodeKeys makes sure the registry holds the node's record
// signing key, its JIT content key and its person-token public keys among
// its member's keys, retrying until it does, and again each time the
// person-token keys change (wakeKeyRegistration). All go in one update (an
// update replaces the lists), for the version of the record read: an
// update that came between the read and the write (an admin's
// UpdateMember, another node of the member registering its keys) is not
// undone, this one is refused as stale and the loop reads the record again
// at once. The loop also reads the record again after each update.
func (d *Daemon) registerNodeKeys(ctx context.Context, keyID string, pub ed25519.PublicKey, enc registry.EncryptionKey) {
	pemKey, err := records.PublicKeyPEM(pub)
	if err != nil {
		d.logger.Error("cannot encode the signing key", "err", err)
		return
	}
	self := d.src.Identity()
	for ctx.Err() == nil {
		var (
			m     registry.Member
			found bool
		)
		_, err := d.registry.node.Read(ctx, true, func(v registry.View) {
			var gerr error
			m, gerr = v.GetMember(self.Member)
			found = gerr == nil && m.Status == registry.MemberAdmitted
		})
		wait := time.Second
		if err == nil && found {
			hasSig := slices.ContainsFunc(m.SigningKeys, func(k registry.SigningKey) bool { return k.ID == keyID })
			hasEnc := slices.ContainsFunc(m.EncryptionKeys, func(k registry.EncryptionKey) bool { return k.ID == enc.ID })
			personKeys := d.persons.personKeys(self, m.PersonKeys)
			if hasSig && hasEnc && slices.Equal(sortedPersonKeys(personKeys), sortedPersonKeys(m.PersonKeys)) {
				// Registered: wait for the next change of the keys, and
				// look again now and then (another node of the member
				// may have replaced the lists at the same moment).
				select {
				case <-ctx.Done():
					return
				case <-d.keysChanged:
				case <-time.After(time.Minute):
				}
				continue
			}
			keys, encs := slices.Clone(m.SigningKeys), slices.Clone(m.EncryptionKeys)
			if !hasSig {
				keys = append(keys, registry.SigningKey{ID: keyID, PublicKeyPEM: pemKey})
			}
			if !hasEnc {
				encs = append(encs, enc)
			}
			cmd, cerr := registry.NewCommand("node-keys."+randomHex(), registry.UpdateMember{
				Code: m.Code, Name: m.Name, CACerts: m.CACerts, SigningKeys: keys, EncryptionKeys: encs, PersonKeys: personKeys,
				ExpectedVersion: m.Updated.Index,
			})
			if cerr == nil {
				actx, cancel := context.WithTimeout(ctx, 30*time.Second)
				_, err = d.registry.node.Apply(actx, cmd)
				cancel()
				if err == nil {
					d.logger.Info("node keys registered", "key_id", keyID, "encryption_key_id", enc.ID, "person_key_versions", d.persons.ring.Versions())
					continue
				}
				if errors.Is(err, registry.ErrFailedPrecondition) && strings.Contains(err.Error(), "expected_version:") {
					d.logger.Info("member record changed while the node registered its keys; reading it again", "err", err)
					continue
				}
			} else {
				err = cerr
			}
		}
		if errors.Is(err, registryraft.ErrClosed) {
			return
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// wakeKeyRegistration makes registerNodeKeys look at the keys again.
func (d *Daemon) wakeKeyRegistration() {
	select {
	case d.keysChanged <- struct{}{}:
	default:
	}
}

// sortedPersonKeys returns keys sorted by node and version.
func sortedPersonKeys(keys []registry.PersonKey) []registry.PersonKey {
	out := slices.Clone(keys)
	slices.SortFunc(out, func(a, b registry.PersonKey) int {
		if a.Node != b.Node {
			return strings.Compare(a.Node, b.Node)
		}
		return a.Version - b.Version
	})
	return out
}

// randomHex returns 12 random bytes in hex, for request ids of the node's
// own background updates.
func randomHex() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// watchVisibility republishes this member's cases whose audience changed:
// when a JIT links or unlinks a case, or a member accepts or leaves a JIT
// that lists one, or the person-encoding key is rotated (every case). It
// looks each time the registry changes (and again a second after a failed
// attempt), so that a member that left a JIT is sent its tombstones at
// once.
func (d *Daemon) watchVisibility(ctx context.Context, dir *directory, enc *encoderSource) {
	prev := dir.jitAccess()
	prevKey := enc.version()
	for {
		changed := dir.Changed()
		var retry <-chan time.Time
		if err := d.republishChanged(dir, enc, &prev, &prevKey); err != nil {
			d.logger.Warn("republishing cases whose audience changed failed; retrying", "err", err)
			retry = time.After(time.Second)
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-retry:
		}
	}
}

// republishChanged requeues every case after a key rotation, and the cases
// whose JIT audience differs from prev; prev and prevKey advance on success.
func (d *Daemon) republishChanged(dir *directory, enc *encoderSource, prev *map[string][]string, prevKey *int) error {
	if v := enc.version(); v != *prevKey {
		if err := d.store.Requeue(nil, true); err != nil {
			return fmt.Errorf("after a key rotation: %w", err)
		}
		*prevKey = v
	}
	cur := dir.jitAccess()
	var changed []string
	for id, ms := range cur {
		if !slices.Equal(ms, (*prev)[id]) {
			changed = append(changed, id)
		}
	}
	for id := range *prev {
		if _, ok := cur[id]; !ok {
			changed = append(changed, id)
		}
	}
	if len(changed) > 0 {
		sort.Strings(changed)
		if err := d.store.Requeue(changed, false); err != nil {
			return fmt.Errorf("cases whose JIT audience changed: %w", err)
		}
		d.logger.Info("republishing cases whose JIT audience changed", "cases", len(changed), "first", strings.Join(changed[:min(3, len(changed))], ","))
	}
	*prev = cur
	return nil
}

// auditor writes the exchange's events to the node's audit log.
type auditor struct {
	log    *audit.Log
	logger *slog.Logger
}

var auditKinds = map[exchange.EventKind]audit.Kind{
	exchange.Served: audit.KindServed, exchange.Received: audit.KindReceived, exchange.Refused: audit.KindRefused,
	exchange.Resync: audit.KindResync, exchange.Nudged: audit.KindNudged,
}

// reasonCode is the audit log's short code of why something was refused.
func reasonCode(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, records.ErrSignature):
		return "bad_signature"
	case errors.Is(err, records.ErrUnknownKey):
		return "unknown_key"
	case errors.Is(err, records.ErrInvalid):
		return "invalid_record"
	case errors.Is(err, exchange.ErrCursorExpired):
		return "cursor_expired"
	case errors.Is(err, exchange.ErrCursor):
		return "bad_cursor"
	case errors.Is(err, exchange.ErrNotMember):
		return "not_member"
	}
	switch status.Code(err) {
	case codes.OutOfRange:
		return "cursor_expired"
	case codes.InvalidArgument:
		return "bad_cursor"
	}
	return "other"
}

// eventReason is the audit code of an event: why it was refused, or which
// summary of a Sync stream it is (with why the stream was cut, if it was:
// "stream_closed.not_member").
func eventReason(e exchange.Event) string {
	code := reasonCode(e.Err)
	switch {
	case e.Stream == "":
		return code
	case code == "" || code == "other":
		return string(e.Stream)
	}
	return string(e.Stream) + "." + code
}

// withheld audits what a publication blanked in one field: the count and
// the cases, never the words. The entry's peer is this node itself: the
// records are for every member.
func (a auditor) withheld(self identity.Identity, field string, words int, cases []string) {
	_, err := a.log.Append(audit.Entry{
		Kind: audit.KindWithheld, Peer: self.Member, PeerID: self.String(),
		What: audit.What{Records: words, CaseIDs: cases, Reason: field},
	})
	if err != nil {
		a.logger.Error("cannot write the audit log", "err", err)
	}
}

func (a auditor) Audit(e exchange.Event) {
	_, err := a.log.Append(audit.Entry{
		Kind: auditKinds[e.Kind], Peer: e.Peer, PeerID: e.PeerNode,
		What: audit.What{Records: e.Records, FromSeq: e.FromSeq, ToSeq: e.ToSeq, CaseIDs: e.CaseIDs, Reason: eventReason(e)},
	})
	if err != nil {
		a.logger.Error("cannot write the audit log", "err", err)
	}
}

// exchangeParts are the node's side of the case-metadata exchange.
type exchangeParts struct {
	dir       *directory
	enc       *encoderSource
	signer    *records.Signer
	service   *exchange.Service
	puller    *exchange.Puller
	publisher *exchange.Publisher
	names     *redact.Names // every person of the office, for the free-text check
	dialer    *exchangeDialer
	matcher   *matcher.Matcher
	// clusters are the office's incident clusters, from the registry's
	// match decisions, compared with the matcher's model.
	clusters *clusters.Graph
	// waiting counts the decisions waiting per member, from the
	// registry's changes (accord_matches_waiting).
	waiting *matchwatch.Waiting
	// webhook delivers the match events to the office URL; nil unless
	// notifications.webhook.url.
	webhook *webhook.Sender

	nudging sync.Map // member -> struct{}: a nudge in flight
	cancel  context.CancelFunc
}

// matcherScorer scores and compares pairs with the exchange's matcher
// (built after the clusters graph and the coordination service that use
// it).
type matcherScorer struct{ x *exchangeParts }

func (m matcherScorer) ScorePair(a, b string) (float64, bool) { return m.x.matcher.ScorePair(a, b) }

func (m matcherScorer) Compare(a, b string) (matching.Comparison, bool) {
	return m.x.matcher.Compare(a, b)
}

// stop ends pulling, publishing and the follow streams this node serves.
func (x *exchangeParts) stop() {
	if x.cancel != nil {
		x.cancel()
	}
	x.service.Close()
}

// newExchange builds the exchange of a registry server: its signing key,
// the registry-backed directory, the publisher, the service and the
// puller.
func (d *Daemon) newExchange(policy *grpcserver.Policy) error {
	self := d.src.Identity()
	priv, err := loadSigningKey(d.cfg.DataDir)
	if err != nil {
		return fmt.Errorf("%w: signing key: %w", ErrStart, err)
	}
	pub := priv.Public().(ed25519.PublicKey)
	x := &exchangeParts{
		dir:    newDirectory(d.registry.fsm, self, d.cfg.Peers),
		signer: records.NewSigner(self.Member, records.KeyID(self.Name, pub), priv),
		dialer: &exchangeDialer{d: d, conns: map[string]*grpc.ClientConn{}},
	}
	if err := d.newPersons(policy, x.dir, x.dialer); err != nil {
		return err
	}
	x.enc = &encoderSource{ring: d.persons.ring, keyName: self.Member + "/" + self.Name, asker: d.persons.asker,
		requeue: func(ids []string) error { return d.store.Requeue(ids, false) }, logger: d.logger.With("component", "exchange")}
	d.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "accord_publish_awaiting_pair_tokens",
		Help: "This office's cases published before the other members' nodes had evaluated the pair tokens of their persons, while those are being obtained (the cases are then published again with them).",
	}, func() float64 { return float64(x.enc.awaitingCases()) }))
	logger := d.logger.With("component", "exchange")
	aud := auditor{log: d.audit, logger: logger}
	st := exchangeStore{d.store}
	x.names = redact.NewNames()
	x.clusters = clusters.New(self.Member, matcherScorer{x}, clusters.Config{})
	x.waiting = matchwatch.NewWaiting(self.Member)
	if err := d.newWebhook(x); err != nil {
		return err
	}
	x.matcher = matcher.New(self.Member, st, d.registry.node, matcher.Options{
		Encoder: x.enc.get, JITVisible: x.dir.JITVisible, Names: x.names, Logger: d.logger.With("component", "matcher"),
		PeerTokens: d.persons.asker, Shared: d.persons.shared,
		Republish: func(ids []string) error { return d.store.Requeue(ids, ids == nil) },
		Present: func(caseID string, present bool) {
			if present {
				x.clusters.Restore(caseID)
			} else {
				x.clusters.Withdraw(caseID)
			}
		},
	})
	x.puller = exchange.NewPuller(self, st, x.dir, x.dialer.dial, aud, exchange.PullerOptions{
		Logger: logger, OnChange: x.matcher.Federated, SilentAfter: 2 * d.cfg.Exchange.HeartbeatInterval,
	})
	x.service = exchange.NewService(st, x.dir, self.Member, x.signer, aud, exchange.ServiceOptions{
		OnNudge: x.puller.Wake, Logger: logger, Heartbeat: d.cfg.Exchange.HeartbeatInterval,
		MaxStreamsPerPeer: d.cfg.Exchange.MaxStreamsPerPeer, MaxBatchBytes: d.cfg.Exchange.MaxBatchBytes,
	})
	withheld := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "accord_shared_text_withheld_total",
		Help: "Words (names of persons in any form, birth years) blanked in a shared free-text field of this office's cases before publishing, by field.",
	}, []string{"field"})
	d.reg.MustRegister(withheld)
	x.publisher = exchange.NewPublisher(st, self.Member, x.signer, exchange.PublisherOptions{
		Encoder: x.enc.get, Logger: logger, Names: x.names,
		Published: func(head uint64) { d.nudgePeers(head, aud) },
		Withheld: func(w exchange.Withheld) {
			for _, field := range slices.Sorted(maps.Keys(w.Words)) {
				withheld.WithLabelValues(field).Add(float64(w.Words[field]))
				ids := w.Cases[field]
				if field == records.FieldCaseID {
					ids = nil // those ids carry names: counted, not listed
				}
				aud.withheld(self, field, w.Words[field], ids)
			}
		},
	})
	policy.Allow("/"+accordv1.ExchangeService_ServiceDesc.ServiceName+"/", grpcserver.AnyNode)
	d.exchange = x
	d.reg.MustRegister(newExchangeCollector(d))
	return nil
}

// startExchange starts registering the signing key, publishing, pulling
// and watching the audience of jit cases.
func (d *Daemon) startExchange(ctx context.Context) {
	x := d.exchange
	ctx, x.cancel = context.WithCancel(ctx)
	x.enc.ctx = ctx
	pub := x.signer.Public()
	for _, run := range []func(){
		func() { d.registerNodeKeys(ctx, x.signer.KeyID(), pub, d.jitKeys.EncryptionKey()) },
		func() { d.jitKeys.Maintain(ctx, d.registry.node, 500*time.Millisecond) },
		func() {
			// The office's names first: every free-text field is
			// checked against all of them before anything is
			// published.
			if err := d.store.ExportCases(store.Filter{}, func(c *accordv1.Case) error {
				records.AddPersons(x.names, c)
				return nil
			}); err != nil {
				d.logger.Error("reading the office's persons for the free-text check failed; publishing nothing", "err", err)
				return
			}
			x.publisher.Run(ctx)
		},
		func() { x.puller.Run(ctx) },
		func() { x.dir.watch(ctx) },
		func() { d.watchVisibility(ctx, x.dir, x.enc) },
		func() { x.matcher.Run(ctx) },
		func() {
			d.keepRunning(ctx, "following the match decisions for the incident clusters", func() error {
				return x.clusters.Follow(ctx, d.registry.node)
			})
		},
		func() {
			// Follow ends only with an error: ctx's end, or the registry's.
			if err := matchwatch.Follow(ctx, d.registry.node, d.src.Identity().Member, 0, x.waiting.Apply); ctx.Err() == nil {
				d.logger.Error("following the match decisions for accord_matches_waiting stopped", "err", err)
			}
		},
		func() {
			if x.webhook == nil {
				return
			}
			// It resumes from the position it keeps in the store.
			d.keepRunning(ctx, "delivering the match events to the office webhook", func() error {
				return x.webhook.Run(ctx, d.registry.node, d.src.Identity().Member)
			})
		},
		func() { d.rotatePersonKeys(ctx, x.dir) },
		func() { d.destroyFirstReleaseKey(ctx, x.dir) },
		func() { d.purgeTombstones(ctx) },
	} {
		d.bg.Add(1)
		go func() {
			defer d.bg.Done()
			run()
		}()
	}
}

// keepRunning runs a follower of the registry until ctx ends: one that
// stops on an error (of the registry's local state) is logged and started
// again after a pause; it resumes from where it was.
func (d *Daemon) keepRunning(ctx context.Context, what string, run func() error) {
	for ctx.Err() == nil {
		err := run()
		if ctx.Err() != nil {
			return
		}
		d.logger.Error(what+" failed; trying again in 5s", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Second):
		}
	}
}

// nudgePeers tells the members without an open Sync stream that the feed
// moved on, one nudge in flight per member.
func (d *Daemon) nudgePeers(head uint64, aud exchange.Auditor) {
	x := d.exchange
	for _, p := range x.dir.Peers() {
		if x.service.Following(p.Member) {
			continue
		}
		if _, busy := x.nudging.LoadOrStore(p.Member, struct{}{}); busy {
			continue
		}
		go func() {
			defer x.nudging.Delete(p.Member)
			client, err := x.dialer.dial(p)
			if err != nil {
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if _, err := client.Nudge(ctx, &accordv1.NudgeRequest{Head: head}); err == nil {
				aud.Audit(exchange.Event{Kind: exchange.Nudged, Peer: p.Member, PeerNode: p.Node.String(), ToSeq: head})
			}
		}()
	}
}

// closeEarly releases what New opened when New fails half-way.
func (d *Daemon) closeEarly() {
	if d.registry != nil {
		_ = d.registry.node.Close()
	}
	if d.audit != nil {
		_ = d.audit.Close()
	}
	_ = d.store.Close()
}

// Exchange returns the node's puller (federation index status), or nil.
func (d *Daemon) Exchange() *exchange.Puller {
	if d.exchange == nil {
		return nil
	}
	return d.exchange.puller
}

// purgeTombstones drops, every hour, the tombstones published longer ago
// than exchange.tombstone_retention, and raises the feed's floor past
// them: a peer whose cursor is older resyncs from the start.
func (d *Daemon) purgeTombstones(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		upTo, err := d.feedSeqBefore(time.Now().Add(-d.cfg.Exchange.TombstoneRetention))
		if err != nil || upTo == 0 {
			continue
		}
		n, err := d.store.PurgeTombstones(upTo)
		if err != nil {
			d.logger.Warn("purging old tombstones failed", "err", err)
			continue
		}
		if n > 0 {
			d.logger.Info("old tombstones purged", "count", n, "floor", upTo)
		}
	}
}

// feedSeqBefore returns the highest feed seq published before cutoff (0 for
// none): feed entries are published in time order.
func (d *Daemon) feedSeqBefore(cutoff time.Time) (uint64, error) {
	var upTo uint64
	stop := errors.New("stop")
	err := d.store.ReadFeed(0, 1<<62, func(e feed.Entry) error {
		var sr accordv1.SignedRecord
		if err := proto.Unmarshal(e.Record, &sr); err != nil {
			return err
		}
		var r accordv1.FeedRecord
		if err := proto.Unmarshal(sr.GetRecord(), &r); err != nil {
			return err
		}
		if !r.GetPublishTime().AsTime().Before(cutoff) {
			return stop
		}
		upTo = e.Seq
		return nil
	})
	if err != nil && !errors.Is(err, stop) {
		return 0, err
	}
	return upTo, nil
}
