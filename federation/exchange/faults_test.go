package exchange_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/accordfed/accord/federation/exchange"
	"github.com/accordfed/accord/federation/feed"
	"github.com/accordfed/accord/federation/raftnet/raftnettest"
	"github.com/accordfed/accord/federation/records"
	"github.com/accordfed/accord/node/backup"
	"github.com/accordfed/accord/node/grpcserver"
	"github.com/accordfed/accord/node/store"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// The exchange's fault scenarios. Three members each change their own
// cases all the time (creates, updates, deletions, sensitivity changes
// both ways, jit cases whose team changes) while a fault hits: a
// partition, a member killed while a Sync stream delivers, a member
// resuming from an old cursor, a member restored from an older backup, the
// feed compacted under an open stream. After each round the changes stop,
// the fault heals, and every member's federation index must converge to
// exactly what each origin shares with it: no record lost, none extra (a
// withdrawal missed), none stale; and no record in an index ever went back
// to an older version than one it had received.
//
// A CI run does one round of each; with ACCORD_SOAK set to a duration
// (ACCORD_SOAK=10m) each scenario loops its fault for that long, and
// TestExchangeFaultsSoak loops random faults.

// soakOr returns how long a fault scenario runs: short in CI, or the
// duration in ACCORD_SOAK.
func soakOr(t testing.TB, short time.Duration) time.Duration {
	t.Helper()
	v := os.Getenv("ACCORD_SOAK")
	if v == "" {
		return short
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		t.Fatalf("ACCORD_SOAK=%q: %v", v, err)
	}
	return d
}

// errKilled is what a killed node's store answers.
var errKilled = errors.New("the node was killed")

// mark is the newest record of a case that a node's index received.
type mark struct {
	seq  uint64
	tomb bool
}

// watch follows one node's federation index across its restarts: the
// newest record received of each case, and the records received again
// (skipped as stale).
type watch struct {
	mu      sync.Mutex
	high    map[string]mark // origin \x00 case id
	applies int
	stale   int
	dead    atomic.Bool
	// onApply, when set, is called after each write of records of an
	// origin (outside the lock).
	onApply atomic.Pointer[func(origin string, n int)]
}

func newWatch() *watch { return &watch{high: map[string]mark{}} }

// forget drops what the watch knows of origin ("" for every origin): the
// index legitimately went back (a resync, a restored store).
func (w *watch) forget(origin string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for k := range w.high {
		if origin == "" || strings.HasPrefix(k, origin+"\x00") {
			delete(w.high, k)
		}
	}
}

// watchedStore is the store as a node's puller sees it, watched.
type watchedStore struct {
	exStore
	w *watch
}

func (s watchedStore) FedApply(origin, cursor string, recs []feed.Record) (int, int, error) {
	if s.w.dead.Load() {
		return 0, 0, errKilled
	}
	s.w.mu.Lock()
	applied, stale, err := s.exStore.FedApply(origin, cursor, recs)
	if err == nil {
		s.w.applies++
		s.w.stale += stale
		for _, r := range recs {
			k := origin + "\x00" + r.CaseID
			if m := s.w.high[k]; r.Seq > m.seq {
				s.w.high[k] = mark{seq: r.Seq, tomb: r.Flags&feed.Tombstone != 0}
			}
		}
	}
	s.w.mu.Unlock()
	if fn := s.w.onApply.Load(); err == nil && fn != nil && len(recs) > 0 {
		(*fn)(origin, len(recs))
	}
	return applied, stale, err
}

func (s watchedStore) FedReset(origin string) (int, error) {
	if s.w.dead.Load() {
		return 0, errKilled
	}
	n, err := s.exStore.FedReset(origin)
	if err == nil {
		s.w.forget(origin)
	}
	return n, err
}

// hookedStore is the store as a node's service sees it: beforeRead, when
// set, runs before each read of the feed.
type hookedStore struct {
	exStore
	beforeRead *atomic.Pointer[func(after uint64)]
}

func (s hookedStore) ReadFeed(after uint64, limit int, fn func(feed.Entry) error) error {
	if h := s.beforeRead.Load(); h != nil {
		(*h)(after)
	}
	return s.exStore.ReadFeed(after, limit, fn)
}

// faultRun is a federation under faults and the tally of a scenario.
type faultRun struct {
	t       *testing.T
	f       *federation
	net     *raftnettest.Network
	members []string
	rng     *rand.Rand
	watches map[string]*watch
	// hooks are the nodes' beforeRead hooks.
	hooks map[string]*atomic.Pointer[func(after uint64)]
	// locks: a churner changes its member's store under the read lock; a
	// crash takes the write lock until the node is back.
	locks map[string]*sync.RWMutex
	// churners' state, by member: the case ids they made and may change.
	churners map[string]*churner

	stop chan struct{}
	wg   sync.WaitGroup

	rounds, faults int
	ops            atomic.Int64
	lost, extra    int
	stale, broken  int
	redelivered    int
}

// newFaultRun starts a federation of members over a fault network, every
// node's puller and service watched.
func newFaultRun(t *testing.T, seed uint64, members ...string) *faultRun {
	t.Helper()
	network := raftnettest.NewNetwork()
	t.Cleanup(network.Close)
	r := &faultRun{
		t: t, f: newFederationOn(t, network, members...), net: network, members: members,
		rng:     rand.New(rand.NewPCG(seed, 0x5eed)),
		watches: map[string]*watch{}, hooks: map[string]*atomic.Pointer[func(uint64)]{},
		locks: map[string]*sync.RWMutex{}, churners: map[string]*churner{},
	}
	t.Logf("seed %d", seed)
	for i, m := range members {
		r.watches[m] = newWatch()
		r.hooks[m] = &atomic.Pointer[func(uint64)]{}
		r.locks[m] = &sync.RWMutex{}
		r.churners[m] = &churner{r: r, member: m, rng: rand.New(rand.NewPCG(seed, uint64(i+1)))}
	}
	// Rebuild every node with the watched and hooked stores, once the
	// harness's server serves (a sync answers), so that stopping it stops
	// its Serve too.
	for _, m := range members {
		if _, _, err := syncOnce(t, r.f.client(r.other(m), m), ""); err != nil {
			t.Fatal(err)
		}
		n := r.f.nodes[m]
		n.stop()
		r.build(n)
		n.start()
	}
	return r
}

// build makes a node's exchange parts as the harness does, with the
// watched and hooked stores, and serves its service on its address.
func (r *faultRun) build(n *node) {
	st := exStore{n.st}
	n.puller = exchange.NewPuller(n.id, watchedStore{st, r.watches[n.member]}, n.dir, r.f.dialer(n), n.audit, exchange.PullerOptions{})
	n.service = exchange.NewService(hookedStore{st, r.hooks[n.member]}, n.dir, n.member, n.signer, n.audit, exchange.ServiceOptions{OnNudge: n.puller.Wake})
	n.publisher = exchange.NewPublisher(st, n.member, n.signer, exchange.PublisherOptions{})
	var gcfg grpcserver.Config
	gcfg.Normalize()
	policy := grpcserver.NewPolicy()
	policy.Allow("/"+accordv1.ExchangeService_ServiceDesc.ServiceName+"/", grpcserver.AnyNode)
	n.srv = grpcserver.New(gcfg, n.src.ServerCredentials(), policy, nil, slog.New(slog.DiscardHandler))
	accordv1.RegisterExchangeServiceServer(n.srv.GRPC, n.service)
	ln := listenAt(r.t, n.addr)
	go func() { _ = n.srv.GRPC.Serve(ln) }()
	r.t.Cleanup(n.stop)
}

// crash stops a node at once, as a kill would: its server drops every
// connection (a Sync stream it delivers included), its store takes no
// more writes, its loops stop and its store file is closed. Its churner
// waits until revive.
func (r *faultRun) crash(n *node) {
	r.locks[n.member].Lock()
	r.watches[n.member].dead.Store(true)
	n.srv.GRPC.Stop()
	n.service.Close()
	n.halt()
	if err := n.st.Close(); err != nil {
		r.t.Fatal(err)
	}
}

// revive starts a crashed node again on its store file.
func (r *faultRun) revive(n *node) {
	st, err := store.Open(n.st.Path(), n.member, store.Options{})
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { st.Close() })
	n.st = st
	r.watches[n.member].dead.Store(false)
	r.build(n)
	n.start()
	r.locks[n.member].Unlock()
}

// churner changes one member's cases.
type churner struct {
	mu     sync.Mutex // the churner's state, shared with bulk
	r      *faultRun
	member string
	rng    *rand.Rand
	next   int
	ids    []string
	rev    int
}

func churnActor(member string) store.Actor {
	return store.Actor{ID: "spiffe://accord.test/member/" + member + "/user/analyst"}
}

func churnCase(member, id string, sens accordv1.Sensitivity, rev int) *accordv1.Case {
	victims := int64(rev % 50)
	return &accordv1.Case{
		CaseId: id, Country: member, Title: fmt.Sprintf("Shelling of a residential block, revision %d", rev), Sensitivity: sens,
		VictimCount: &victims,
		Incidents:   []*accordv1.Incident{{Start: "2022-04-01T00:00:00Z", Place: "Kharkiv"}},
		Persons:     []*accordv1.Person{{Role: accordv1.PersonRole_PERSON_ROLE_VICTIM, Name: "Olena Kovalenko"}},
	}
}

// team gives a jit case of the churner's member a random team.
func (c *churner) team(id string) {
	var members []string
	for _, m := range c.r.members {
		if m == c.member || c.rng.IntN(2) == 0 {
			members = append(members, m)
		}
	}
	d := c.r.f.nodes[c.member].dir
	d.mu.Lock()
	d.jit[id] = members
	d.mu.Unlock()
}

// step makes one random change.
func (c *churner) step() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.r.f.nodes[c.member]
	st, actor := n.st, churnActor(c.member)
	c.rev++
	pick := func() string { return c.ids[c.rng.IntN(len(c.ids))] }
	drop := func(id string) { c.ids = slices.DeleteFunc(c.ids, func(x string) bool { return x == id }) }
	sens := func() accordv1.Sensitivity {
		switch p := c.rng.IntN(10); {
		case p < 7:
			return accordv1.Sensitivity_SENSITIVITY_FEDERATION
		case p < 9:
			return accordv1.Sensitivity_SENSITIVITY_JIT
		}
		return accordv1.Sensitivity_SENSITIVITY_NATIONAL
	}
	p := c.rng.IntN(100)
	if len(c.ids) < 20 {
		p = 0
	}
	switch {
	case p < 30: // create
		c.next++
		id := fmt.Sprintf("%s-2024-%06d", c.member, c.next)
		s := sens()
		if s == accordv1.Sensitivity_SENSITIVITY_JIT {
			c.team(id)
		}
		if _, err := st.CreateCase(churnCase(c.member, id, s, c.rev), actor); err != nil {
			return err
		}
		c.ids = append(c.ids, id)
	case p < 55, p >= 90 && p < 95: // update, or change sensitivity (down-grades included)
		id := pick()
		old, err := st.GetCase(id)
		if errors.Is(err, store.ErrNotFound) {
			drop(id) // gone with a restored store
			return nil
		}
		if err != nil {
			return err
		}
		s := old.GetSensitivity()
		if p >= 90 {
			s = sens()
			if s == accordv1.Sensitivity_SENSITIVITY_JIT {
				c.team(id)
			}
		}
		if _, err := st.UpdateCase(churnCase(c.member, id, s, c.rev), 0, actor); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	case p < 65: // delete
		id := pick()
		drop(id)
		if _, err := st.DeleteCase(id, "opened in error", actor); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	case p < 90: // a jit case's team changes: the case is published again
		id := pick()
		c.team(id)
		if err := st.Requeue([]string{id}, false); err != nil {
			return err
		}
	default: // a burst, in one import batch
		var batch []*accordv1.Case
		for range 20 {
			c.next++
			id := fmt.Sprintf("%s-2024-%06d", c.member, c.next)
			batch = append(batch, churnCase(c.member, id, accordv1.Sensitivity_SENSITIVITY_FEDERATION, c.rev))
			c.ids = append(c.ids, id)
		}
		if _, err := st.ImportBatch(batch, actor); err != nil {
			return err
		}
	}
	c.r.ops.Add(1)
	return nil
}

// startChurn makes every member change its cases until settle.
func (r *faultRun) startChurn() {
	r.stop = make(chan struct{})
	for _, m := range r.members {
		c := r.churners[m]
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			tick := time.NewTicker(3 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-r.stop:
					return
				case <-tick.C:
				}
				r.locks[m].RLock()
				err := c.step()
				r.locks[m].RUnlock()
				if err != nil {
					r.t.Errorf("%s: change: %v", m, err)
					return
				}
			}
		}()
	}
}

// during keeps the changes going for d (the fault holds meanwhile).
func (r *faultRun) during(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	<-t.C
}

// divergence is how every member's federation index differs from what the
// origins share with it.
type divergence struct {
	// lost: shared by the origin, not held; extra: held, but the origin
	// withdrew it or does not share it with this member; stale: held in an
	// older version; broken: held under the wrong key, or not the newest
	// record received (a stale record replaced a newer one, or a withdrawn
	// case came back).
	lost, extra, stale, broken int
	records                    int
	examples                   []string
}

func (d *divergence) note(format string, args ...any) {
	if len(d.examples) < 8 {
		d.examples = append(d.examples, fmt.Sprintf(format, args...))
	}
}

func (d divergence) none() bool { return d.lost+d.extra+d.stale+d.broken == 0 }

func (d divergence) String() string {
	return fmt.Sprintf("%d records; lost %d, extra %d, stale %d, broken %d: %s", d.records, d.lost, d.extra, d.stale, d.broken, strings.Join(d.examples, "; "))
}

// digest is a federation index's content, or what an origin shares with
// one member, as one hash.
func digest(m map[string]*accordv1.SharedCase) string {
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	h := sha256.New()
	for _, id := range ids {
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m[id])
		if err != nil {
			panic(err)
		}
		fmt.Fprintf(h, "%s\x00%d\x00", id, len(b))
		h.Write(b)
	}
	return fmt.Sprintf("%x", h.Sum(nil)[:8])
}

// diverged compares, for every origin and every other member, the digest
// of the member's index of the origin with the digest of what the origin
// shares with it (its cases now, projected, per the jit teams now), and
// says how they differ.
func (r *faultRun) diverged() divergence {
	var d divergence
	for _, o := range r.members {
		on := r.f.nodes[o]
		want := map[string]map[string]*accordv1.SharedCase{}
		for _, m := range r.members {
			want[m] = map[string]*accordv1.SharedCase{}
		}
		err := on.st.ExportCases(store.Filter{}, func(c *accordv1.Case) error {
			if !records.Shareable(c) {
				return nil
			}
			sc, _, err := records.Project(c, nil, nil)
			if err != nil {
				return err
			}
			for _, m := range r.members {
				if m != o && (c.GetSensitivity() != accordv1.Sensitivity_SENSITIVITY_JIT || on.dir.JITVisible(m, c.GetCaseId())) {
					want[m][c.GetCaseId()] = sc
				}
			}
			return nil
		})
		if err != nil {
			r.t.Fatal(err)
		}
		for _, m := range r.members {
			if m == o {
				continue
			}
			held := r.index(m, o, &d)
			counts, err := r.f.nodes[m].st.FedCounts()
			if err != nil {
				r.t.Fatal(err)
			}
			if counts[o] != len(held) {
				d.broken++
				d.note("%s counts %d records of %s, but holds %d", m, counts[o], o, len(held))
			}
			if digest(held) == digest(want[m]) {
				continue
			}
			for id, sc := range want[m] {
				h, ok := held[id]
				switch {
				case !ok:
					d.lost++
					d.note("%s lacks %s", m, id)
				case !proto.Equal(h, sc):
					d.stale++
					d.note("%s holds %s at version %d (%q), the origin shares version %d (%q)", m, id, h.GetVersion(), h.GetTitle(), sc.GetVersion(), sc.GetTitle())
				}
			}
			for id := range held {
				if _, ok := want[m][id]; !ok {
					d.extra++
					d.note("%s holds %s, which %s does not share with it", m, id, o)
				}
			}
		}
	}
	return d
}

// index returns member's federation index of origin, checking each entry
// against its key and against the newest record the member received.
func (r *faultRun) index(member, origin string, d *divergence) map[string]*accordv1.SharedCase {
	held := map[string]*accordv1.SharedCase{}
	w := r.watches[member]
	w.mu.Lock()
	defer w.mu.Unlock()
	err := r.f.nodes[member].st.FedScan(origin, func(_, id string, seq uint64, rec []byte) error {
		d.records++
		var sr accordv1.SignedRecord
		var fr accordv1.FeedRecord
		if err := proto.Unmarshal(rec, &sr); err != nil {
			return err
		}
		if err := proto.Unmarshal(sr.GetRecord(), &fr); err != nil {
			return err
		}
		if fr.GetOrigin() != origin || fr.GetCaseId() != id || fr.GetSeq() != seq || fr.GetTombstone() {
			d.broken++
			d.note("%s holds under %s/%s a record of %s/%s seq %d (entry seq %d)", member, origin, id, fr.GetOrigin(), fr.GetCaseId(), fr.GetSeq(), seq)
		}
		if m, ok := w.high[origin+"\x00"+id]; ok && (m.tomb || m.seq != seq) {
			d.broken++
			d.note("%s holds %s/%s at seq %d, but received seq %d (tombstone %v) of it", member, origin, id, seq, m.seq, m.tomb)
		}
		held[id] = fr.GetCase()
		return nil
	})
	if err != nil {
		r.t.Fatal(err)
	}
	return held
}

// quiet reports whether every node published all its changes and pulled
// every other's feed up to its head: the time to compare the indexes.
func (r *faultRun) quiet() bool {
	heads := map[string]uint64{}
	for _, m := range r.members {
		st := r.f.nodes[m].st
		fi, err := st.Feed()
		if err != nil {
			r.t.Fatal(err)
		}
		pending, err := st.Changes(fi.PublishedChange, 1)
		if err != nil {
			r.t.Fatal(err)
		}
		if len(pending) > 0 {
			return false
		}
		heads[m] = fi.Head
	}
	for _, m := range r.members {
		for _, s := range r.f.nodes[m].puller.Status() {
			if s.Seq < heads[s.Member] {
				return false
			}
		}
	}
	return true
}

// settle stops the changes, heals the network, and waits until every
// index has converged (or fails the test saying how they differ).
func (r *faultRun) settle(round string) {
	r.t.Helper()
	close(r.stop)
	r.wg.Wait()
	r.net.Heal()
	r.net.SetLatency(0)
	start := time.Now()
	deadline := start.Add(60 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var d divergence
	for {
		if r.quiet() || time.Now().After(deadline) {
			if d = r.diverged(); d.none() || time.Now().After(deadline) {
				break
			}
		}
		<-tick.C
	}
	r.rounds++
	r.lost, r.extra, r.stale, r.broken = r.lost+d.lost, r.extra+d.extra, r.stale+d.stale, r.broken+d.broken
	if !d.none() {
		r.t.Errorf("round %d (%s): not converged after %s: %s", r.rounds, round, time.Since(start).Round(time.Millisecond), d)
		return
	}
	r.t.Logf("round %d (%s): converged in %s: %d records in the indexes, every digest equal to its origin's", r.rounds, round, time.Since(start).Round(time.Millisecond), d.records)
}

// resyncCount returns how many full resyncs member's puller made.
func (r *faultRun) resyncCount(member string) int {
	a := r.f.nodes[member].audit
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, ev := range a.all {
		if ev.Kind == exchange.Resync {
			n++
		}
	}
	return n
}

// report logs the scenario's tally (the figures of docs/RELIABILITY.md).
func (r *faultRun) report(name string) {
	resyncs := 0
	for _, m := range r.members {
		resyncs += r.resyncCount(m)
		w := r.watches[m]
		w.mu.Lock()
		r.redelivered += w.stale
		w.mu.Unlock()
	}
	r.t.Logf("SCENARIO %s: rounds %d, changes %d, faults %d, records lost %d, extra %d, stale %d, broken %d; records delivered again and skipped %d, full resyncs %d",
		name, r.rounds, r.ops.Load(), r.faults, r.lost, r.extra, r.stale, r.broken, r.redelivered, resyncs)
}

// loop runs round until the scenario's time is up, at least minRounds
// times.
func (r *faultRun) loop(short time.Duration, minRounds int, round func(i int)) {
	until := time.Now().Add(soakOr(r.t, short))
	for i := 0; i < minRounds || time.Now().Before(until); i++ {
		if r.t.Failed() {
			return
		}
		round(i)
	}
}

// other returns a member other than m, at random.
func (r *faultRun) other(m string) string {
	for {
		if o := r.members[r.rng.IntN(len(r.members))]; o != m {
			return o
		}
	}
}

// bulk creates count federation cases at member in one batch.
func (r *faultRun) bulk(member string, count int) {
	r.t.Helper()
	c := r.churners[member]
	var batch []*accordv1.Case
	r.locks[member].RLock()
	defer r.locks[member].RUnlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	for range count {
		c.next++
		id := fmt.Sprintf("%s-2024-%06d", member, c.next)
		batch = append(batch, churnCase(member, id, accordv1.Sensitivity_SENSITIVITY_FEDERATION, 0))
		c.ids = append(c.ids, id)
	}
	if _, err := r.f.nodes[member].st.ImportBatch(batch, churnActor(member)); err != nil {
		r.t.Fatal(err)
	}
	r.ops.Add(int64(count))
}

// midSync arms a hook that fires once, when member's puller has stored a
// batch of origin's records: it returns a channel that receives then, and
// a release that lets the puller go on.
func (r *faultRun) midSync(member, origin string) (<-chan struct{}, func()) {
	hit, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	fn := func(o string, n int) {
		if o != origin || n < 500 {
			return
		}
		fired := false
		once.Do(func() { fired = true; close(hit) })
		if fired {
			r.t.Logf("%s stored a batch of %d of %s's records; the kill comes now", member, n, origin)
			<-release
		}
	}
	r.watches[member].onApply.Store(&fn)
	return hit, func() {
		r.watches[member].onApply.Store(nil)
		close(release)
	}
}

func waitChan(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(60 * time.Second):
		t.Fatalf("timed out waiting until %s", what)
	}
}

func faultSeed() uint64 { return uint64(time.Now().UnixNano()) }

// TestExchangeFaults runs each fault scenario of the exchange.
func TestExchangeFaults(t *testing.T) {
	members := []string{"UA", "PL", "DE"}

	// Members partitioned and healed: one member cut off, one against two,
	// every connection reset again and again, slow links; the changes go
	// on meanwhile, and a member behind a partition catches up from its
	// cursor (no resync) once it heals.
	t.Run("partition", func(t *testing.T) {
		r := newFaultRun(t, faultSeed(), members...)
		r.loop(0, 4, func(i int) {
			r.startChurn()
			x := r.members[r.rng.IntN(len(r.members))]
			var what string
			switch i % 4 {
			case 0:
				what = "isolate " + x
				r.net.Isolate(x)
				r.during(1500 * time.Millisecond)
			case 1:
				what = "partition " + x + " from the others"
				var rest []string
				for _, m := range r.members {
					if m != x {
						rest = append(rest, m)
					}
				}
				r.net.Partition([]string{x}, rest)
				r.during(1500 * time.Millisecond)
			case 2:
				what = "connections reset every 100ms"
				for range 15 {
					for _, a := range r.members {
						for _, b := range r.members {
							if a < b {
								r.net.Link(a, b).Reset()
							}
						}
					}
					r.during(100 * time.Millisecond)
				}
			case 3:
				what = "links 150ms each way, then " + x + " isolated"
				r.net.SetLatency(150 * time.Millisecond)
				r.during(700 * time.Millisecond)
				r.net.Isolate(x)
				r.during(700 * time.Millisecond)
			}
			r.faults++
			r.settle(what)
			if i%4 == 0 || i%4 == 1 {
				if n := r.resyncCount(x); n != 0 {
					t.Errorf("%s resynced %d times after a partition instead of resuming", x, n)
				}
			}
		})
		r.report("exchange/partition")
	})

	// A member killed while a Sync stream delivers: the origin (its server
	// drops the stream after the first batch was stored), or the receiver
	// (it dies after storing a batch, with more on the way); it restarts on
	// the same store and everything resumes from the stored cursor.
	t.Run("kill-mid-sync", func(t *testing.T) {
		r := newFaultRun(t, faultSeed(), members...)
		r.loop(0, 2, func(i int) {
			origin := r.members[i%len(r.members)]
			member := r.other(origin)
			before := r.resyncCount(member)
			r.startChurn()
			hit, release := r.midSync(member, origin)
			r.bulk(origin, 1500)
			waitChan(t, hit, member+" stored a batch of "+origin+"'s records")
			victim := r.f.nodes[origin]
			what := "kill origin " + origin + " while it delivers to " + member
			if i%2 == 1 {
				victim = r.f.nodes[member]
				what = "kill receiver " + member + " while " + origin + " delivers"
			}
			if victim.member == member {
				r.watches[member].dead.Store(true) // it stores nothing more
			}
			release()
			r.crash(victim)
			r.faults++
			r.during(500 * time.Millisecond) // the others go on
			r.revive(victim)
			r.settle(what)
			if n := r.resyncCount(member) - before; n != 0 {
				t.Errorf("%s resynced %d times instead of resuming from its cursor", member, n)
			}
		})
		r.report("exchange/kill-mid-sync")
	})

	// A member restarted with an old cursor: its stored cursor of an origin
	// goes back to an earlier copy while its index stays newer. It resumes
	// from there: the records it is sent again are skipped as stale, none
	// replaces a newer one, nothing is resynced.
	t.Run("old-cursor", func(t *testing.T) {
		r := newFaultRun(t, faultSeed(), members...)
		r.loop(0, 1, func(i int) {
			member := r.members[i%len(r.members)]
			origin := r.other(member)
			r.startChurn()
			r.during(300 * time.Millisecond)
			n := r.f.nodes[member]
			var old string
			raftnettest.WaitFor(t, 30*time.Second, func() error {
				var err error
				old, err = n.st.FedCursor(origin)
				if err == nil && old == "" {
					err = fmt.Errorf("%s has no cursor of %s yet", member, origin)
				}
				return err
			})
			r.during(time.Second)
			before := r.resyncCount(member)
			w := r.watches[member]
			w.mu.Lock()
			staleBefore := w.stale
			w.mu.Unlock()
			r.locks[member].Lock()
			n.halt()
			if _, _, err := n.st.FedApply(origin, old, nil); err != nil {
				t.Fatal(err)
			}
			r.faults++
			n.puller = exchange.NewPuller(n.id, watchedStore{exStore{n.st}, w}, n.dir, r.f.dialer(n), n.audit, exchange.PullerOptions{})
			n.start()
			r.locks[member].Unlock()
			r.settle(member + " resumes " + origin + "'s feed from an old cursor")
			if got := r.resyncCount(member) - before; got != 0 {
				t.Errorf("%s resynced %d times from a valid old cursor", member, got)
			}
			w.mu.Lock()
			t.Logf("%s was sent %d records again, skipped as stale", member, w.stale-staleBefore)
			w.mu.Unlock()
		})
		r.report("exchange/old-cursor")
	})

	// A member restored from an older backup: its feed, cursors and index
	// go back in time. Its own feed now reuses seqs that peers hold other
	// records under: the restore gives the feed a new epoch, so that peers
	// drop its records and resync instead of resuming past its head.
	t.Run("restored-from-older-backup", func(t *testing.T) {
		r := newFaultRun(t, faultSeed(), members...)
		r.loop(0, 1, func(i int) {
			origin := r.members[i%len(r.members)]
			n := r.f.nodes[origin]
			r.startChurn()
			r.during(500 * time.Millisecond)
			var archive bytes.Buffer
			r.locks[origin].RLock()
			_, err := backup.Write(&archive, backup.Source{Member: origin, Node: n.id.String(), Store: n.st.Backup}, t.TempDir())
			r.locks[origin].RUnlock()
			if err != nil {
				t.Fatal(err)
			}
			// The origin goes on publishing after the backup, and its peers
			// pull all of it.
			r.bulk(origin, 300)
			r.during(time.Second)
			fi, err := n.st.Feed()
			if err != nil {
				t.Fatal(err)
			}
			raftnettest.WaitFor(t, 30*time.Second, func() error {
				for _, m := range r.members {
					if m == origin {
						continue
					}
					for _, s := range r.f.nodes[m].puller.Status() {
						if s.Member == origin && s.Seq < fi.Head {
							return fmt.Errorf("%s pulled %s's feed up to %d of %d", m, origin, s.Seq, fi.Head)
						}
					}
				}
				return nil
			})
			// The node is lost and restored from the backup, cut off from
			// its peers until its feed is past where they were.
			r.net.Isolate(origin)
			r.crash(n)
			r.faults++
			if _, err := backup.Restore(bytes.NewReader(archive.Bytes()), filepath.Dir(n.st.Path()), backup.RestoreOptions{Member: origin, Force: true}); err != nil {
				t.Fatal(err)
			}
			r.watches[origin].forget("")
			r.revive(n)
			restored, err := n.st.Feed()
			if err != nil {
				t.Fatal(err)
			}
			r.bulk(origin, int(fi.Head-restored.Head)+50)
			raftnettest.WaitFor(t, 30*time.Second, func() error {
				now, err := n.st.Feed()
				if err != nil {
					return err
				}
				if now.Head <= fi.Head {
					return fmt.Errorf("restored feed head %d, not yet past %d", now.Head, fi.Head)
				}
				return nil
			})
			r.settle(origin + " restored from an older backup")
		})
		r.report("exchange/restored-from-older-backup")
	})

	// The feed compacted under an open stream: a peer follows the origin's
	// feed; cases are withdrawn, and their tombstones purged (raising the
	// feed's floor) just before the stream reads past them. The stream must
	// not skip them silently: the peer resyncs.
	t.Run("feed-compacted-under-stream", func(t *testing.T) {
		r := newFaultRun(t, faultSeed(), members...)
		r.loop(0, 1, func(i int) {
			origin := r.members[i%len(r.members)]
			on := r.f.nodes[origin]
			r.bulk(origin, 200)
			r.startChurn()
			r.during(500 * time.Millisecond)
			r.settle("before compaction")
			fi, err := on.st.Feed()
			if err != nil {
				t.Fatal(err)
			}
			var purged atomic.Bool
			hook := func(after uint64) {
				if after > 0 && after <= fi.Head && purged.CompareAndSwap(false, true) {
					head, err := on.st.Feed()
					if err == nil {
						_, err = on.st.PurgeTombstones(head.Head)
					}
					if err != nil {
						t.Error(err)
					}
				}
			}
			before := 0
			for _, m := range r.members {
				before += r.resyncCount(m)
			}
			r.hooks[origin].Store(&hook)
			// Withdrawals and updates after every peer's position.
			r.locks[origin].RLock()
			c := r.churners[origin]
			c.mu.Lock()
			for _, id := range slices.Clone(c.ids[:10]) {
				if _, err := on.st.DeleteCase(id, "opened in error", churnActor(origin)); err != nil {
					t.Fatal(err)
				}
				c.ids = slices.DeleteFunc(c.ids, func(x string) bool { return x == id })
			}
			c.mu.Unlock()
			r.locks[origin].RUnlock()
			r.ops.Add(10)
			r.faults++
			r.startChurn()
			raftnettest.WaitFor(t, 30*time.Second, func() error {
				if !purged.Load() {
					return errors.New("no stream read the feed before the tombstones yet")
				}
				return nil
			})
			r.during(300 * time.Millisecond)
			r.hooks[origin].Store(nil)
			r.settle("tombstones of " + origin + " purged under open streams")
			after := 0
			for _, m := range r.members {
				after += r.resyncCount(m)
			}
			t.Logf("full resyncs after the compaction: %d", after-before)
		})
		r.report("exchange/feed-compacted-under-stream")
	})
}

// TestExchangeFaultsSoak loops random faults for ACCORD_SOAK, checking
// convergence after each round. CI does not run it.
func TestExchangeFaultsSoak(t *testing.T) {
	if os.Getenv("ACCORD_SOAK") == "" {
		t.Skip("a soak test: set ACCORD_SOAK to a duration (ACCORD_SOAK=10m)")
	}
	r := newFaultRun(t, faultSeed(), "UA", "PL", "DE", "LT")
	r.loop(0, 1, func(i int) {
		r.startChurn()
		x := r.members[r.rng.IntN(len(r.members))]
		var what string
		switch r.rng.IntN(6) {
		case 0:
			what = "isolate " + x
			r.net.Isolate(x)
			r.during(time.Duration(500+r.rng.IntN(3000)) * time.Millisecond)
		case 1:
			y := r.other(x)
			what = "partition " + x + "+" + y + " from the others"
			var rest []string
			for _, m := range r.members {
				if m != x && m != y {
					rest = append(rest, m)
				}
			}
			r.net.Partition([]string{x, y}, rest)
			r.during(time.Duration(500+r.rng.IntN(3000)) * time.Millisecond)
		case 2:
			what = "kill and restart " + x
			r.crash(r.f.nodes[x])
			r.during(time.Duration(200+r.rng.IntN(2000)) * time.Millisecond)
			r.revive(r.f.nodes[x])
		case 3:
			what = "reset " + x + "'s connections"
			for range 10 {
				for _, m := range r.members {
					if m != x {
						r.net.Link(x, m).Reset()
					}
				}
				r.during(time.Duration(50+r.rng.IntN(300)) * time.Millisecond)
			}
		case 4:
			what = "purge " + x + "'s tombstones"
			r.during(time.Duration(r.rng.IntN(1000)) * time.Millisecond)
			r.locks[x].RLock()
			fi, err := r.f.nodes[x].st.Feed()
			if err == nil {
				_, err = r.f.nodes[x].st.PurgeTombstones(fi.Head)
			}
			r.locks[x].RUnlock()
			if err != nil {
				t.Fatal(err)
			}
		case 5:
			what = "slow links"
			r.net.SetLatency(time.Duration(20+r.rng.IntN(200)) * time.Millisecond)
			r.during(time.Duration(500+r.rng.IntN(2000)) * time.Millisecond)
		}
		r.faults++
		r.settle(what)
	})
	r.report("exchange/soak")
}
