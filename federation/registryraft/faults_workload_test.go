package registryraft_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/accordfed/accord/federation/raftnet/raftnettest"
	"github.com/accordfed/accord/federation/registry"
)

// The fault scenarios (faults_*_test.go) run a checked workload against a
// registry group while they inject faults, then check what the clients
// saw and what the servers hold:
//
//   - the history of every client operation is linearizable (porcupine;
//     a write whose call failed has an unknown outcome and may take effect
//     at any time after its call; a failed read observed nothing);
//   - every acknowledged write is present on every server, exactly once;
//     a write of unknown outcome at most once;
//   - no command is applied twice: an entry's title is never present
//     twice, and a register's version count lies between its acknowledged
//     updates and those plus the unknown ones;
//   - every state machine is identical at the end (same applied index,
//     same snapshot bytes, exactly-once table included).
//
// Every scenario has a short CI run; with ACCORD_SOAK set to a Go duration
// (ACCORD_SOAK=10m) it injects faults for that long instead.

// soakEnv names the environment variable of the soak mode.
const soakEnv = "ACCORD_SOAK"

// soak returns how long a scenario injects faults: short, or the duration
// in ACCORD_SOAK when it is set.
func soak(t testing.TB, short time.Duration) time.Duration {
	t.Helper()
	v := os.Getenv(soakEnv)
	if v == "" {
		return short
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		t.Fatalf("%s=%q: want a positive Go duration such as 10m", soakEnv, v)
	}
	return d
}

// faultMembers returns the members of a group of n registry servers.
func faultMembers(n int) []string {
	return []string{"UA", "PL", "DE", "LT", "NL", "FR", "ES"}[:n]
}

// forSizes runs a scenario with three and with five registry servers, the
// two side by side (go test runs at most -parallel, by default GOMAXPROCS,
// parallel subtests at once): a scenario's time goes mostly to waiting for
// timeouts and fault schedules.
func forSizes(t *testing.T, f func(t *testing.T, n int)) {
	for _, n := range []int{3, 5} {
		t.Run(fmt.Sprintf("%d-nodes", n), func(t *testing.T) {
			t.Parallel()
			f(t, n)
		})
	}
}

// faultCluster starts a group of n servers whose Raft and forwarded gRPC
// traffic both cross a fault-injecting network.
func faultCluster(t *testing.T, n int, o clusterOptions) (*cluster, *raftnettest.Network) {
	t.Helper()
	network := newNetwork(t)
	o.network, o.grpcThroughNetwork = network, true
	c := startCluster(t, faultMembers(n), o)
	return c, network
}

// readWindow is how many of the newest created entries each read checks.
const readWindow = 64

// registerKeyBase keys the registers apart from the created entries in the
// history.
const registerKeyBase = 1 << 30

type workloadOptions struct {
	// writers and readers are the concurrent clients (default two writers
	// per node and two readers). Writer i sends its writes through the
	// i-th node of the pool (modulo its size), as an office's clients use
	// their own office's node: while that node is cut off, its writers
	// wait and the others go on. Readers pick a node at random each time.
	writers, readers int
	// opTimeout bounds one operation (default 30s): long enough that a
	// write held through an election or an outage completes.
	opTimeout time.Duration
	// strict: every write must be acknowledged; one that fails fails the
	// test (zero failed writes).
	strict bool
}

// pickFor returns the pool's node for client i: the i-th, modulo the size
// of the pool.
func (p *nodePool) pickFor(i int) *testNode {
	p.mu.Lock()
	defer p.mu.Unlock()
	tn := p.nodes[i%len(p.nodes)]
	p.busy[tn]++
	return tn
}

// register is a strategy entry that clients overwrite; its title is the
// register's value. Only its owner's nodes may write it.
type register struct {
	key   int
	id    string
	owner string
}

// opRecord says through which node an operation went and when.
type opRecord struct {
	node      string
	write, ok bool
	call, ret int64
}

// workload is the checked workload: writers create entries (through any
// node) and overwrite their member's register (through a node of that
// member); readers read everything linearizably through any node.
type workload struct {
	t    *testing.T
	name string
	c    *cluster
	pool *nodePool
	o    workloadOptions
	h    *history

	regMu sync.Mutex
	regs  map[string]*register // by owner member

	next     atomic.Int64 // created entries allocated: entry k is titled k<k>
	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup

	mu         sync.Mutex
	acked      map[string]bool // titles of acknowledged creates
	unknown    map[string]bool // titles of creates of unknown outcome
	regAcked   map[string]int  // acknowledged updates, by register id
	regUnknown map[string]int  // updates of unknown outcome, by register id
	records    []opRecord
	failures   int

	writes, acks, unknowns, reads, failedReads atomic.Int64
	// faults counts the faults the scenario injected.
	faults atomic.Int64
}

// startWorkload creates a register for each node of via and starts the
// clients, which send their operations through the nodes of via (and of
// nodes added later).
func startWorkload(t *testing.T, name string, c *cluster, via []*testNode, o workloadOptions) *workload {
	t.Helper()
	if o.writers == 0 {
		o.writers = 2 * len(via)
	}
	if o.readers == 0 {
		o.readers = 2
	}
	if o.opTimeout == 0 {
		o.opTimeout = 30 * time.Second
	}
	w := &workload{
		t: t, name: name, c: c, pool: newNodePool(), o: o, h: &history{start: time.Now()},
		regs: map[string]*register{}, stop: make(chan struct{}),
		acked: map[string]bool{}, unknown: map[string]bool{},
		regAcked: map[string]int{}, regUnknown: map[string]int{},
	}
	for _, tn := range via {
		w.addNode(tn)
	}
	t.Cleanup(w.halt) // before the cluster's cleanups: no client outlives the test
	for i := range o.writers {
		w.wg.Add(1)
		go w.writer(i)
	}
	for i := range o.readers {
		w.wg.Add(1)
		go w.reader(o.writers + i)
	}
	return w
}

// addNode makes tn's member a register (through tn) if it has none, and
// lets the clients use tn.
func (w *workload) addNode(tn *testNode) {
	w.t.Helper()
	w.regMu.Lock()
	_, ok := w.regs[tn.member]
	w.regMu.Unlock()
	if !ok {
		ctx, cancel := context.WithTimeout(context.Background(), w.o.opTimeout)
		defer cancel()
		cmd, err := registry.NewCommand("reg-"+tn.member, registry.CreateEntry{Kind: registry.KindTheme, Title: "v0"})
		if err != nil {
			w.t.Fatal(err)
		}
		out, err := tn.node.Apply(ctx, cmd)
		if err != nil {
			w.t.Fatalf("create the register of %s through %s: %v", tn.member, tn.name, err)
		}
		w.regMu.Lock()
		w.regs[tn.member] = &register{key: registerKeyBase + len(w.regs), id: out.ID, owner: tn.member}
		w.regMu.Unlock()
	}
	w.pool.add(tn)
}

func (w *workload) register(member string) *register {
	w.regMu.Lock()
	defer w.regMu.Unlock()
	return w.regs[member]
}

func (w *workload) registers() []*register {
	w.regMu.Lock()
	defer w.regMu.Unlock()
	out := make([]*register, 0, len(w.regs))
	for _, r := range w.regs {
		out = append(out, r)
	}
	return out
}

func (w *workload) stopped() bool {
	select {
	case <-w.stop:
		return true
	default:
		return false
	}
}

// halt stops the clients and waits for them.
func (w *workload) halt() {
	w.stopOnce.Do(func() { close(w.stop) })
	w.wg.Wait()
}

func (w *workload) record(r opRecord) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.records = append(w.records, r)
}

func (w *workload) writer(id int) {
	defer w.wg.Done()
	rng := rand.New(rand.NewPCG(uint64(id), uint64(time.Now().UnixNano())))
	for i := 0; !w.stopped(); i++ {
		tn := w.pool.pickFor(id)
		reg := w.register(tn.member)
		var (
			in    regInput
			cmd   *registry.Command
			err   error
			title string
		)
		if reg != nil && rng.IntN(2) == 0 {
			value := fmt.Sprintf("c%d-%d", id, i)
			in = regInput{key: reg.key, write: true, value: value}
			cmd, err = registry.NewCommand(fmt.Sprintf("%s-u%d-%d", w.name, id, i), registry.UpdateEntry{Entry: reg.id, Kind: registry.KindTheme, Title: value})
		} else {
			reg = nil
			k := int(w.next.Add(1) - 1)
			title = fmt.Sprintf("k%d", k)
			in = regInput{key: k, write: true, value: "1"}
			cmd, err = registry.NewCommand(w.name+"-"+title, registry.CreateEntry{Kind: registry.KindTheme, Title: title})
		}
		if err != nil {
			w.pool.done(tn)
			w.t.Error(err)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), w.o.opTimeout)
		call := w.h.now()
		_, err = tn.node.Apply(ctx, cmd)
		ret := w.h.now()
		cancel()
		w.pool.done(tn)
		w.writes.Add(1)
		w.record(opRecord{node: tn.name, write: true, ok: err == nil, call: call, ret: ret})
		if err != nil {
			ret = math.MaxInt64 // outcome unknown
		}
		w.h.add(porcupine.Operation{ClientId: id, Input: in, Call: call, Output: "", Return: ret})
		w.mu.Lock()
		switch {
		case err == nil && reg != nil:
			w.regAcked[reg.id]++
		case err == nil:
			w.acked[title] = true
		case reg != nil:
			w.regUnknown[reg.id]++
		default:
			w.unknown[title] = true
		}
		report := err != nil && w.o.strict && w.failures < 10
		if err != nil {
			w.failures++
		}
		w.mu.Unlock()
		if err == nil {
			w.acks.Add(1)
			continue
		}
		w.unknowns.Add(1)
		if report {
			w.t.Errorf("%s: write %s through %s failed: %v", w.name, cmd.RequestID, tn.name, err)
		}
	}
}

func (w *workload) reader(id int) {
	defer w.wg.Done()
	rng := rand.New(rand.NewPCG(uint64(id), uint64(time.Now().UnixNano())))
	for !w.stopped() {
		tn := w.pool.pick(rng)
		regs := w.registers()
		from := max(0, int(w.next.Load())-readWindow)
		call := w.h.now()
		got, err := readEntries(tn, w.o.opTimeout)
		ret := w.h.now()
		to := int(w.next.Load())
		w.pool.done(tn)
		w.record(opRecord{node: tn.name, ok: err == nil, call: call, ret: ret})
		if err != nil {
			w.failedReads.Add(1)
			continue
		}
		w.reads.Add(1)
		for _, r := range regs {
			value := "v0"
			if e, ok := got.byID[r.id]; ok {
				value = e.Current.Title
			}
			w.h.add(porcupine.Operation{ClientId: id, Input: regInput{key: r.key}, Call: call, Output: value, Return: ret})
		}
		for k := from; k < to; k++ {
			value := "v0"
			switch n := got.titles[fmt.Sprintf("k%d", k)]; n {
			case 0:
			case 1:
				value = "1"
			default:
				w.t.Errorf("%s: read through %s: k%d present %d times", w.name, tn.name, k, n)
			}
			w.h.add(porcupine.Operation{ClientId: id, Input: regInput{key: k}, Call: call, Output: value, Return: ret})
		}
	}
}

// entries is one read of every strategy entry.
type entries struct {
	byID   map[string]registry.StrategyEntry
	titles map[string]int
	index  uint64
}

// readEntries reads every strategy entry through tn, linearizably.
func readEntries(tn *testNode, timeout time.Duration) (entries, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out := entries{byID: map[string]registry.StrategyEntry{}, titles: map[string]int{}}
	var rerr error
	index, err := tn.node.Read(ctx, true, func(v registry.View) {
		list, err := v.ListStrategy(tn.member, registry.StrategyFilter{})
		rerr = err
		for _, e := range list {
			out.byID[e.ID] = e
			out.titles[e.Current.Title]++
		}
	})
	if err != nil {
		return entries{}, err
	}
	out.index = index
	return out, rerr
}

// progress waits until n more writes than at from have been acknowledged,
// or fails the test after timeout.
func (w *workload) progress(step string, from, n int64, timeout time.Duration) {
	w.t.Helper()
	start := time.Now()
	if err := poll(timeout, func() error {
		if got := w.acks.Load() - from; got < n {
			return fmt.Errorf("%d of %d writes acknowledged", got, n)
		}
		return nil
	}); err != nil {
		w.halt()
		w.t.Fatalf("%s: %s: %v after %s", w.name, step, err, timeout)
	}
	w.t.Logf("%s: %s: %d writes acknowledged in %s", w.name, step, n, time.Since(start).Round(time.Millisecond))
}

// acknowledgedThrough returns the operations through any of names that
// were called after from and acknowledged (ok) before to, both history
// times.
func (w *workload) acknowledgedThrough(names []string, from, to int64) []opRecord {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []opRecord
	for _, r := range w.records {
		if r.ok && r.call > from && r.ret < to && slices.Contains(names, r.node) {
			out = append(out, r)
		}
	}
	return out
}

// describe says what ops are, with their times relative to from.
func describe(ops []opRecord, from int64) string {
	var b strings.Builder
	for i, r := range ops {
		if i > 0 {
			b.WriteString("; ")
		}
		kind := "linearizable read"
		if r.write {
			kind = "write"
		}
		fmt.Fprintf(&b, "%s through %s called %s and answered %s after", kind, r.node,
			time.Duration(r.call-from).Round(time.Microsecond), time.Duration(r.ret-from).Round(time.Microsecond))
	}
	return b.String()
}

// result is what a scenario reports (docs/RELIABILITY.md).
type result struct {
	ops, writes, acked, unknown, reads, failedReads, faults int64
	lost, duplicated                                        int
}

// expected is what the clients' outcomes say a server must hold.
type expected struct {
	acked, unknown       map[string]bool // created entries, by title
	regs                 []*register
	regAcked, regUnknown map[string]int // register updates, by register id
}

// expected returns what the clients' outcomes say; call with w.mu held.
func (w *workload) expected() expected {
	return expected{acked: w.acked, unknown: w.unknown, regs: w.registersLocked(), regAcked: w.regAcked, regUnknown: w.regUnknown}
}

// check compares a server's entries with the clients' outcomes: every
// acknowledged entry present exactly once (lost when absent, duplicated
// when more), one of unknown outcome at most once, none that no client
// wrote, and each register updated at least as often as acknowledged and
// at most as often as tried.
func (e expected) check(got entries) (lost, dup int, problems []string) {
	for title := range e.acked {
		if n := got.titles[title]; n != 1 {
			if n == 0 {
				lost++
			} else {
				dup++
			}
			problems = append(problems, fmt.Sprintf("acknowledged write %s present %d times", title, n))
		}
	}
	for title, n := range got.titles {
		if !strings.HasPrefix(title, "k") {
			continue // a register's value
		}
		if n > 1 && !e.acked[title] {
			dup++
			problems = append(problems, fmt.Sprintf("entry %s present %d times", title, n))
		}
		if !e.acked[title] && !e.unknown[title] {
			problems = append(problems, fmt.Sprintf("entry %s present, but no client wrote it", title))
		}
	}
	for _, r := range e.regs {
		entry, ok := got.byID[r.id]
		if !ok {
			lost++
			problems = append(problems, fmt.Sprintf("register of %s (%s) missing", r.owner, r.id))
			continue
		}
		applied := entry.Current.Version - 1
		lo, hi := e.regAcked[r.id], e.regAcked[r.id]+e.regUnknown[r.id]
		switch {
		case applied < lo:
			lost += lo - applied
		case applied > hi:
			dup += applied - hi
		default:
			continue
		}
		problems = append(problems, fmt.Sprintf("register of %s has %d updates applied; %d acknowledged, %d of unknown outcome", r.owner, applied, lo, hi-lo))
	}
	sort.Strings(problems)
	return lost, dup, problems
}

// finish stops the clients and checks the history and the state of nodes
// (the servers of the group at the end, all up and connected).
func (w *workload) finish(nodes []*testNode) result {
	t := w.t
	t.Helper()
	w.halt()
	res := result{
		writes: w.writes.Load(), acked: w.acks.Load(), unknown: w.unknowns.Load(),
		reads: w.reads.Load(), failedReads: w.failedReads.Load(), faults: w.faults.Load(),
	}
	res.ops = res.writes + res.reads + res.failedReads
	if res.acked == 0 {
		t.Errorf("%s: no write was acknowledged", w.name)
	}

	// Every acknowledged write present exactly once, on every node; no
	// command applied twice.
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, tn := range nodes {
		var got entries
		raftnettest.WaitFor(t, 60*time.Second, func() error {
			var err error
			got, err = readEntries(tn, 10*time.Second)
			return err
		})
		lost, dup, problems := w.expected().check(got)
		for i, p := range problems {
			if i == 10 {
				t.Errorf("%s: %s: %d more problems", w.name, tn.name, len(problems)-i)
				break
			}
			t.Errorf("%s: %s: %s", w.name, tn.name, p)
		}
		res.lost, res.duplicated = max(res.lost, lost), max(res.duplicated, dup)
	}

	// Every state machine identical.
	var index uint64
	raftnettest.WaitFor(t, 30*time.Second, func() error {
		var first string
		for i, tn := range nodes {
			d, idx, err := fsmDigest(tn.fsm)
			if err != nil {
				return err
			}
			if i == 0 {
				first, index = d, idx
				continue
			}
			if d != first || idx != index {
				return fmt.Errorf("%s: state machine at index %d has digest %.12s; %s at %d has %.12s", tn.name, idx, d, nodes[0].name, index, first)
			}
		}
		return nil
	})

	// The history is linearizable.
	ops := w.historyOps()
	check, info := porcupine.CheckOperationsVerbose(registerModel, ops, 60*time.Second)
	switch check {
	case porcupine.Ok:
	case porcupine.Unknown:
		t.Errorf("%s: linearizability check of %d operations timed out", w.name, len(ops))
	default:
		for _, part := range info.PartialLinearizationsOperations() {
			t.Logf("partial linearization: %d parts", len(part))
		}
		t.Errorf("%s: history of %d operations is not linearizable", w.name, len(ops))
	}
	verdict := "passed"
	if t.Failed() {
		verdict = "failed"
	}
	t.Logf("RESULT scenario=%s nodes=%d result=%s ops=%d writes=%d acked=%d unknown=%d reads=%d failed_reads=%d faults=%d lost=%d duplicated=%d checked_ops=%d applied_index=%d",
		w.name, len(nodes), verdict, res.ops, res.writes, res.acked, res.unknown, res.reads, res.failedReads, res.faults, res.lost, res.duplicated, len(ops), index)
	return res
}

func (w *workload) registersLocked() []*register {
	regs := w.registers()
	sort.Slice(regs, func(i, j int) bool { return regs[i].key < regs[j].key })
	return regs
}

func (w *workload) historyOps() []porcupine.Operation {
	w.h.mu.Lock()
	defer w.h.mu.Unlock()
	return append([]porcupine.Operation(nil), w.h.ops...)
}

// digestSink hashes a snapshot as Persist writes it.
type digestSink struct{ h hash.Hash }

func (s *digestSink) Write(p []byte) (int, error) { return s.h.Write(p) }
func (s *digestSink) Close() error                { return nil }
func (s *digestSink) ID() string                  { return "digest" }
func (s *digestSink) Cancel() error               { return errors.New("snapshot cancelled") }

// fsmDigest returns the SHA-256 of the state machine's snapshot (the same
// state always gives the same bytes) and the applied index it reflects.
func fsmDigest(f *registry.FSM) (string, uint64, error) {
	index := f.AppliedIndex()
	snap, err := f.Snapshot()
	if err != nil {
		return "", 0, err
	}
	defer snap.Release()
	sink := &digestSink{h: sha256.New()}
	if err := snap.Persist(sink); err != nil {
		return "", 0, err
	}
	if f.AppliedIndex() != index {
		return "", 0, fmt.Errorf("state machine applied more while being hashed")
	}
	return hex.EncodeToString(sink.h.Sum(nil)), index, nil
}

// faultTimeouts are the short Raft timeouts of the package's other
// multi-node tests (300 ms heartbeat and election timeouts): faults are
// detected and elections won in well under a second, so a scenario spends
// its time on faults rather than on waiting. Elections that a loaded
// machine causes besides are harmless: the checks hold whatever the
// elections.
func faultTimeouts() clusterOptions {
	return fastTimeouts()
}
