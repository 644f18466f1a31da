package daemon

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/accordfed/accord/federation/exchange"
	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/persons"
	"github.com/accordfed/accord/federation/persontoken"
	"github.com/accordfed/accord/federation/records"
	"github.com/accordfed/accord/federation/registry"
	"github.com/accordfed/accord/node/audit"
	"github.com/accordfed/accord/node/grpcserver"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// personParts are the node's side of person matching between members
// (federation/persons): its own person-token keys, the service other
// members' nodes evaluate through, the asker for the matcher and the
// register lookup, and the index of the tokens other members share.
type personParts struct {
	ring    *persons.KeyRing
	index   *persons.Index
	asker   *persons.Asker
	service *persons.Service
	lookup  *persons.Lookup
	peers   *peerKeys
}

// newPersons builds the node's person-token parts and allows the service
// to other members' nodes on the federation listener.
func (d *Daemon) newPersons(policy *grpcserver.Policy, dir *directory, dialer *exchangeDialer) error {
	self := d.src.Identity()
	ring, err := persons.OpenKeyRing(d.cfg.DataDir)
	if err != nil {
		return fmt.Errorf("%w: person-token key: %w", ErrStart, err)
	}
	logger := d.logger.With("component", "persons")
	p := &personParts{ring: ring, index: persons.NewIndex(), peers: &peerKeys{dir: dir}}
	aud := personsAuditor{log: d.audit, logger: logger}
	dial := func(node identity.Identity) (accordv1.PersonTokenServiceClient, error) {
		addr := dir.nodeAddress(node)
		if addr == "" {
			return nil, fmt.Errorf("node %s has no federation address in the registry", node)
		}
		cc, err := dialer.conn(exchange.Peer{Member: node.Member, Node: node, Address: addr})
		if err != nil {
			return nil, err
		}
		return accordv1.NewPersonTokenServiceClient(cc), nil
	}
	cfg := d.cfg.Persons
	budgets := persons.Budgets{
		Window: cfg.BudgetWindow, MatchingFloor: cfg.MatchingFloor, MatchingPerPerson: cfg.MatchingPerPerson,
		LookupPerMember: cfg.LookupPerMember, LookupPerUser: cfg.LookupPerUser,
	}
	limits := persons.LookupLimits{Window: cfg.LookupWindow, PerUser: cfg.LookupsPerUser, PerNode: cfg.LookupsPerNode, Timeout: persons.DefaultLookupLimits().Timeout}
	if err := errors.Join(budgets.Validate(), limits.Validate()); err != nil {
		return fmt.Errorf("%w: persons: %w", ErrStart, err)
	}
	keyName := self.Member + "/" + self.Name
	p.asker = persons.NewAsker(p.peers, func() (string, *persontoken.Key) {
		v, k := ring.Current()
		return persontoken.KeyID(keyName, v), k
	}, dial, logger)
	p.service = persons.NewService(self, ring, personsDirectory{dir: dir, index: p.index}, aud, budgets, nil, logger)
	p.lookup = persons.NewLookup(self, p.asker, p.peers, p.index, aud, limits, nil, logger)
	policy.Allow("/"+accordv1.PersonTokenService_ServiceDesc.ServiceName+"/", grpcserver.AnyNode)
	d.persons = p
	return nil
}

// allowLookup adds the register lookup to the local API's policy: users of
// the node's own member only.
func (p *personParts) allowLookup(localPolicy *grpcserver.Policy, member string) {
	localPolicy.Allow("/"+accordv1.PersonLookupService_ServiceDesc.ServiceName+"/", func(id identity.Identity) error {
		if id.Kind != identity.KindUser || id.Member != member {
			return fmt.Errorf("%w: the local API serves users of member %s only, not %s", grpcserver.ErrPermissionDenied, member, id)
		}
		return nil
	})
}

// shared feeds the token index from the federation index (the matcher
// calls it for every shared case it reads; nil: withdrawn).
func (p *personParts) shared(origin, caseID string, sc *accordv1.SharedCase) {
	if sc == nil {
		p.index.Remove(caseID)
		return
	}
	p.index.Put(origin, sc)
}

// personsDirectory answers the service's questions.
type personsDirectory struct {
	dir   *directory
	index *persons.Index
}

func (p personsDirectory) NodeAdmitted(id identity.Identity) bool { return p.dir.NodeAdmitted(id) }
func (p personsDirectory) SharedPersons(member string) int        { return p.index.PersonsOf(member) }

// nodeAddress returns a registered node's federation address, or the
// configured override of its member's (peers); "" when unknown.
func (d *directory) nodeAddress(node identity.Identity) string {
	addr := ""
	d.fsm.Read(func(v registry.View) {
		if n, _, err := v.GetNode(node.String()); err == nil {
			addr = n.FederationAddress
			if o := d.overrides[node.Member]; o != "" {
				addr = o
			}
		}
	})
	return addr
}

// peerKeys lists the other admitted members' current person-token keys
// from the registry, recomputed when the registry moves on.
type peerKeys struct {
	dir *directory

	mu    sync.Mutex
	index uint64
	keys  []persons.PeerKey
}

// PeerKeys implements persons.Peers: every listed key version of each node
// of another admitted member with a federation address (during a rotation
// the previous version is listed, and the origin's cases may still carry
// its tokens, until the origin has published everything again).
func (p *peerKeys) PeerKeys() []persons.PeerKey {
	idx := p.dir.fsm.AppliedIndex()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.keys != nil && idx == p.index {
		return p.keys
	}
	self := p.dir.self
	keys := []persons.PeerKey{}
	p.dir.fsm.Read(func(v registry.View) {
		for _, m := range v.ListMembers() {
			if m.Status != registry.MemberAdmitted || m.Code == self.Member {
				continue
			}
			for _, k := range sortedPersonKeys(m.PersonKeys) {
				node := identity.Identity{Federation: self.Federation, Member: m.Code, Kind: identity.KindNode, Name: k.Node}
				n, _, err := v.GetNode(node.String())
				if err != nil || n.FederationAddress == "" {
					continue
				}
				pub, err := base64.StdEncoding.DecodeString(k.PublicKey)
				if err != nil || persontoken.CheckPublicKey(pub) != nil {
					continue
				}
				keys = append(keys, persons.PeerKey{Member: m.Code, Node: node, Version: k.Version, Public: pub})
			}
		}
	})
	p.keys, p.index = keys, idx
	return keys
}

// encoderSource gives the publisher and the matcher the encoder of the
// node's current person-token key.
type encoderSource struct {
	ring    *persons.KeyRing
	keyName string // "<member>/<node name>"
	asker   *persons.Asker
	// ctx ends when the exchange stops (set before the publisher starts);
	// requeue publishes cases again.
	ctx     context.Context
	requeue func(caseIDs []string) error
	logger  *slog.Logger
	// awaiting holds the cases published before the pair tokens of
	// their persons were obtained, while those are being obtained: each
	// with the number of batches that wait for them.
	awaitMu  sync.Mutex
	awaiting map[string]int
}

// await adds (n = 1) or removes (n = -1) the cases ids to or from those
// awaiting pair tokens.
func (e *encoderSource) await(ids []string, n int) {
	e.awaitMu.Lock()
	defer e.awaitMu.Unlock()
	if e.awaiting == nil {
		e.awaiting = map[string]int{}
	}
	for _, id := range ids {
		if e.awaiting[id] += n; e.awaiting[id] <= 0 {
			delete(e.awaiting, id)
		}
	}
}

// awaitingCases is how many cases await pair tokens.
func (e *encoderSource) awaitingCases() int {
	e.awaitMu.Lock()
	defer e.awaitMu.Unlock()
	return len(e.awaiting)
}

// pairTokenWait is how long the publisher waits for the pair tokens of a
// batch's persons before it publishes the batch without those not
// obtained yet (they follow in a second publication of the same cases).
const pairTokenWait = 2 * time.Second

// tokenEncoder makes the tokens of the office's persons under one key
// version, and adds the pair tokens the other members' nodes evaluated for
// them (persontoken.PairKeyID: the tokens those members compare).
type tokenEncoder struct {
	keyName string
	version int
	key     *persontoken.Key
	asker   *persons.Asker
	src     *encoderSource
}

// Encode implements records.PersonEncoder.
func (e tokenEncoder) Encode(name string, year int32, hasYear bool) ([]records.Encoded, error) {
	p := persontoken.Person{Name: name}
	if hasYear {
		p.BirthYear = int(year)
	}
	in, err := persontoken.Inputs(p)
	if err != nil {
		// A name the tokens cannot take (no letter, too long) is not
		// shared; the error never names the person.
		return nil, nil
	}
	t, err := e.key.Tokens(persontoken.KeyID(e.keyName, e.version), in)
	if err != nil {
		return nil, nil
	}
	out := []records.Encoded{{KeyName: e.keyName, KeyVersion: e.version, Bytes: t.Marshal()}}
	if e.asker != nil {
		for _, p := range e.asker.Published(in) {
			out = append(out, records.Encoded{KeyName: p.Key, KeyVersion: 0, Bytes: p.Marshal()})
		}
	}
	return out, nil
}

// Prepare obtains the pair tokens of the cases' persons from the other
// members' nodes, so that the cases are published with them, but waits at
// most pairTokenWait: tokens that come later (a slow or absent member's
// node, a large import) are published in a second publication of those
// cases; a member whose node never answers is asked again later (the
// matcher's rounds) and the cases published again then.
func (e tokenEncoder) Prepare(cases []*accordv1.Case) {
	if e.asker == nil {
		return
	}
	var (
		inputs []persontoken.Input
		ids    []string
	)
	for _, c := range cases {
		if c == nil {
			continue
		}
		if in := records.PersonInputs(c); len(in) > 0 {
			inputs = append(inputs, in...)
			ids = append(ids, c.GetCaseId())
		}
	}
	if len(inputs) == 0 {
		return
	}
	ctx := e.src.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	// Counted first: a late prefetch may end before PrefetchWithin
	// returns.
	e.src.await(ids, 1)
	if e.asker.PrefetchWithin(ctx, inputs, pairTokenWait, func(obtained bool) {
		defer e.src.await(ids, -1)
		if !obtained {
			return
		}
		if err := e.src.requeue(ids); err != nil {
			e.src.logger.Warn("publishing cases again with their pair tokens failed", "cases", len(ids), "err", err)
			return
		}
		e.src.logger.Debug("cases published again with pair tokens obtained after their publication", "cases", len(ids))
	}) {
		e.src.await(ids, -1)
	}
}

// get returns the encoder of the current key.
func (e *encoderSource) get() records.PersonEncoder {
	v, k := e.ring.Current()
	return tokenEncoder{keyName: e.keyName, version: v, key: k, asker: e.asker, src: e}
}

// version returns the current key version.
func (e *encoderSource) version() int {
	v, _ := e.ring.Current()
	return v
}

// personKeys returns the member's person-key list with this node's entries
// replaced by the versions its ring holds.
func (p *personParts) personKeys(self identity.Identity, cur []registry.PersonKey) []registry.PersonKey {
	var out []registry.PersonKey
	for _, k := range cur {
		if k.Node != self.Name {
			out = append(out, k)
		}
	}
	for _, v := range p.ring.Versions() {
		k, _ := p.ring.Key(v)
		out = append(out, registry.PersonKey{Node: self.Name, Version: v, PublicKey: base64.StdEncoding.EncodeToString(k.Public())})
	}
	return out
}

// rotatePersonKeys rotates the node's person-token key when the current one
// is older than persons.key_rotation, and at once when a member left (was
// suspended) at a registry index after the current key was made, also
// while this node was down or from a backup older than the departure:
// what the departed member learned under the old key ends with it.
// Departures are ordered by registry index, not by clocks, so that a
// leader's clock cannot make a node rotate over and over. The previous
// version is kept (and evaluated) until every case has been published
// again under the new one, for an hour at least, then deleted.
func (d *Daemon) rotatePersonKeys(ctx context.Context, dir *directory) {
	p := d.persons
	var retireAfter time.Time
	if len(p.ring.Versions()) > 1 {
		retireAfter = time.Now().Add(time.Hour) // a rotation before a restart
	}
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		v, _ := p.ring.Current()
		made := p.ring.Made(v)
		if made.Index == 0 {
			// A key made before the node's registry had caught up (its
			// first start): departures before now are not its concern.
			if err := p.ring.SetMadeIndex(v, d.registry.fsm.AppliedIndex()); err != nil {
				d.logger.Error("cannot record when the person-token key was made", "err", err)
			}
			made = p.ring.Made(v)
		}
		left := dir.leftAfter(made.Index)
		if left != "" || time.Since(made.Time) >= d.cfg.Persons.KeyRotation {
			nv, err := p.ring.Rotate()
			if err == nil {
				err = p.ring.SetMadeIndex(nv, d.registry.fsm.AppliedIndex())
			}
			if err != nil {
				d.logger.Error("cannot rotate the person-token key", "err", err)
			} else {
				reason := "scheduled"
				if left != "" {
					reason = "member " + left + " left"
				}
				d.logger.Info("person-token key rotated", "version", nv, "reason", reason)
				d.wakeKeyRegistration()
				retireAfter = time.Now().Add(time.Hour)
			}
		} else if !retireAfter.IsZero() && time.Now().After(retireAfter) && d.publishedAll() {
			for _, old := range p.ring.Versions() {
				if old == v {
					continue
				}
				if err := p.ring.Drop(old); err != nil {
					d.logger.Error("cannot delete an old person-token key", "version", old, "err", err)
				} else {
					d.logger.Info("old person-token key deleted", "version", old)
				}
			}
			retireAfter = time.Time{}
			d.wakeKeyRegistration()
		}
		changed := dir.Changed()
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-tick.C:
		}
	}
}

// leftAfter returns a member suspended at a registry index after index
// ("" when none).
func (d *directory) leftAfter(index uint64) string {
	left := ""
	d.fsm.Read(func(v registry.View) {
		for _, m := range v.ListMembers() {
			if m.Status == registry.MemberSuspended && m.Suspended != nil && m.Suspended.Index > index {
				left = m.Code
			}
		}
	})
	return left
}

// publishedAll reports whether the node has published every change of its
// cases (after a key rotation: every case under the new key).
func (d *Daemon) publishedAll() bool {
	info, err := d.store.Feed()
	if err != nil {
		return false
	}
	ch, err := d.store.Changes(info.PublishedChange, 1)
	return err == nil && len(ch) == 0
}

// personsAuditor writes the person-token events to the node's audit log.
type personsAuditor struct {
	log    *audit.Log
	logger *slog.Logger
}

var personKinds = map[persons.EventKind]audit.Kind{
	persons.Evaluated: audit.KindEvaluated, persons.LookedUp: audit.KindLookup,
}

// Audit implements persons.Auditor.
func (a personsAuditor) Audit(e persons.Event) {
	_, err := a.log.Append(audit.Entry{
		Kind: personKinds[e.Kind], Peer: e.Who.Member, PeerID: e.Who.String(),
		What: audit.What{Records: e.Records, Reason: e.Reason, Cursor: e.LookupID, CaseIDs: e.CaseIDs},
	})
	if err != nil {
		a.logger.Error("cannot write the audit log", "err", err)
	}
}

// firstReleaseKey is the federation key with which the first release
// encoded persons; its material is in every member's registry.
const firstReleaseKey = "person-encoding"

// destroyFirstReleaseKey drops the material of the first release's shared
// person-encoding key from the registry when this node's member owns it
// (the founder that created it): nothing uses it any more, and snapshots
// taken after hold no material. It waits until the registry shows the key
// (or shows that there is none to destroy) and retries on failure.
func (d *Daemon) destroyFirstReleaseKey(ctx context.Context, dir *directory) {
	self := d.src.Identity()
	cmd, err := registry.NewCommand("federation.person-key.destroy", registry.DestroyKey{Name: firstReleaseKey})
	if err != nil {
		return
	}
	for {
		pending := false
		d.registry.fsm.Read(func(v registry.View) {
			k, err := v.FederationKey(firstReleaseKey, self.Member)
			if err != nil || k.Owner != self.Member {
				return
			}
			for _, kv := range k.Versions {
				if len(kv.Material) > 0 {
					pending = true
				}
			}
		})
		if pending {
			actx, cancel := context.WithTimeout(ctx, 30*time.Second)
			_, err := d.registry.node.Apply(actx, cmd)
			cancel()
			if err == nil {
				d.logger.Info("the first release's shared person-encoding key was destroyed in the registry")
			} else if ctx.Err() == nil {
				d.logger.Warn("destroying the first release's person-encoding key failed; retrying", "err", err)
			}
		}
		changed := dir.Changed()
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-time.After(time.Minute):
		}
	}
}
