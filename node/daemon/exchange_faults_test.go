package daemon_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/accordfed/accord/federation/pki/pkitest"
	"github.com/accordfed/accord/federation/raftnet/raftnettest"
	"github.com/accordfed/accord/federation/records"
	"github.com/accordfed/accord/federation/redact"
	"github.com/accordfed/accord/federation/registry"
	"github.com/accordfed/accord/node/backup"
	"github.com/accordfed/accord/node/config"
	"github.com/accordfed/accord/node/daemon"
	"github.com/accordfed/accord/node/store"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// The exchange's fault scenarios across real nodes (registry, JITs, person
// encodings, audit, matching and all): every member changes its cases all
// the time and the members' JIT team changes (cases linked and unlinked, a
// member leaving and coming back) while a node is stopped in the middle of
// a Sync stream (the receiver, or the origin) and started again on its
// data folder, or a node is restored from an older backup. After each
// round every node's federation index must hold exactly what each origin
// shares with it. federation/exchange's faults_test.go has the network
// faults and the exact kill points; these are the same faults end to end.
//
// CI runs one round of each; with ACCORD_SOAK set to a duration the
// rounds repeat, at random, for that long.

// exfSoak returns how long a fault scenario runs: short in CI, or the
// duration in ACCORD_SOAK.
func exfSoak(t testing.TB, short time.Duration) time.Duration {
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

// exfNode is one member's node, restartable.
type exfNode struct {
	member string
	cfg    config.Config
	// mu: changes and commands go through the node under the read lock; a
	// restart holds the write lock.
	mu   sync.RWMutex
	d    *daemon.Daemon
	user accordv1.CoordinationServiceClient

	// The churner's state.
	rng  *rand.Rand
	next int
	ids  []string
}

type exfRun struct {
	t       *testing.T
	fed     *pkitest.Federation
	members []string
	nodes   map[string]*exfNode
	rng     *rand.Rand
	jit     string
	rid     atomic.Int64

	stop chan struct{}
	wg   sync.WaitGroup

	ops                        atomic.Int64
	jitChanges                 atomic.Int64
	rounds, faults             int
	lost, extra, stale, broken int
}

// exfPlace gives each member's cases their own place, and each case its
// own day, so that the matcher finds nothing to compare (a place and day
// that thousands of cases share would make it compare every pair).
var exfPlace = map[string]string{"UA": "Kharkiv", "PL": "Lviv", "DE": "Odesa"}

func exfCase(member, id string, sens accordv1.Sensitivity, rev int) *accordv1.Case {
	victims := int64(rev % 40)
	var n int
	if _, err := fmt.Sscanf(id[strings.LastIndexByte(id, '-')+1:], "%d", &n); err != nil {
		panic(err)
	}
	day := time.Date(2000, 1, 1, 10, 0, 0, 0, time.UTC).AddDate(0, 0, 3*n)
	return &accordv1.Case{
		CaseId: id, Country: member, Title: fmt.Sprintf("%s case %s, revision %d", member, id, rev), Sensitivity: sens,
		VictimCount: &victims, CrimeCodes: []string{"RS-8.2.b.i"},
		Incidents: []*accordv1.Incident{{Start: day.Format(time.RFC3339), Place: exfPlace[member]}},
		Persons:   []*accordv1.Person{{Role: accordv1.PersonRole_PERSON_ROLE_WITNESS, Name: "Taras Melnyk"}},
	}
}

func exfActor(member string) store.Actor {
	return store.Actor{ID: "spiffe://accord.test/member/" + member + "/user/analyst"}
}

func newExfRun(t *testing.T, seed uint64) *exfRun {
	t.Helper()
	t.Logf("seed %d", seed)
	fed := pkitest.NewFederation(t, "accord.test", "UA", "PL", "DE")
	started, _ := startFederation(t, fed, "UA", "PL", "DE")
	r := &exfRun{t: t, fed: fed, nodes: map[string]*exfNode{}, rng: rand.New(rand.NewPCG(seed, 0))}
	for i, n := range started {
		r.members = append(r.members, n.member)
		r.nodes[n.member] = &exfNode{member: n.member, cfg: n.cfg, d: n.d, user: n.user, rng: rand.New(rand.NewPCG(seed, uint64(i+1)))}
	}
	// One team: UA leads, PL and DE accept.
	jit := mustExecute(t, r.nodes["UA"].user, "exf-jit", registry.CreateJIT{Name: "Exchange faults", LegalBasis: "EU JIT model agreement", Invite: []string{"PL", "DE"}})
	r.jit = jit.GetId()
	for _, m := range []string{"PL", "DE"} {
		mustExecute(t, r.nodes[m].user, "exf-accept-"+m, registry.RespondToJIT{JIT: r.jit, Accept: true})
	}
	return r
}

// step makes one random change of member's cases.
func (r *exfRun) step(n *exfNode) error {
	st, actor := n.d.Store(), exfActor(n.member)
	rev := int(r.ops.Load())
	pick := func() string { return n.ids[n.rng.IntN(len(n.ids))] }
	drop := func(id string) { n.ids = slices.DeleteFunc(n.ids, func(x string) bool { return x == id }) }
	sens := func() accordv1.Sensitivity {
		switch p := n.rng.IntN(10); {
		case p < 6:
			return accordv1.Sensitivity_SENSITIVITY_FEDERATION
		case p < 9:
			return accordv1.Sensitivity_SENSITIVITY_JIT
		}
		return accordv1.Sensitivity_SENSITIVITY_NATIONAL
	}
	p := n.rng.IntN(100)
	if len(n.ids) < 20 {
		p = 0
	}
	switch {
	case p < 40:
		n.next++
		id := fmt.Sprintf("%s-2024-%06d", n.member, n.next)
		if _, err := st.CreateCase(exfCase(n.member, id, sens(), rev), actor); err != nil {
			return err
		}
		n.ids = append(n.ids, id)
	case p < 85:
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
		if p >= 70 {
			s = sens() // sensitivity up- and down-grades
		}
		if _, err := st.UpdateCase(exfCase(n.member, id, s, rev), 0, actor); err != nil {
			return err
		}
	default:
		id := pick()
		drop(id)
		if _, err := st.DeleteCase(id, "opened in error", actor); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	r.ops.Add(1)
	return nil
}

// teamStep changes the team at random: a member links or unlinks one of
// its jit cases, or DE leaves, or is invited back and accepts. Commands
// the registry refuses (a case already linked, a member not in the team)
// change nothing and are not counted.
func (r *exfRun) teamStep() {
	rid := func() string { return fmt.Sprintf("exf-%d", r.rid.Add(1)) }
	var last *accordv1.ExecuteResponse
	run := func(m string, p registry.Payload) bool {
		n := r.nodes[m]
		n.mu.RLock()
		defer n.mu.RUnlock()
		resp, err := execute(r.t, n.user, rid(), p)
		if err == nil {
			r.jitChanges.Add(1)
			last = resp
		}
		return err == nil
	}
	m := r.members[r.rng.IntN(len(r.members))]
	switch p := r.rng.IntN(10); {
	case p < 7:
		n := r.nodes[m]
		n.mu.RLock()
		var id string
		if len(n.ids) > 0 {
			id = n.ids[n.rng.IntN(len(n.ids))]
		}
		n.mu.RUnlock()
		if id == "" {
			return
		}
		ref := registry.CaseRef{Member: m, CaseID: id}
		if p < 5 {
			run(m, registry.LinkCase{JIT: r.jit, Case: ref})
		} else {
			run(m, registry.UnlinkCase{JIT: r.jit, Case: ref})
		}
	case p < 8:
		run("DE", registry.LeaveJIT{JIT: r.jit})
	default:
		// Inviting takes the consent of every accepted member: UA
		// proposes, PL consents.
		if run("UA", registry.InviteToJIT{JIT: r.jit, Member: "DE"}) &&
			(last.GetStatus() == string(registry.ProposalAgreed) ||
				run("PL", registry.ConsentJIT{Proposal: last.GetId(), Consent: true})) {
			run("DE", registry.RespondToJIT{JIT: r.jit, Accept: true})
		}
	}
}

// startChurn makes every member change its cases, and the team change,
// until settle.
func (r *exfRun) startChurn() {
	r.stop = make(chan struct{})
	every := func(d time.Duration, fn func() error) {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			tick := time.NewTicker(d)
			defer tick.Stop()
			for {
				select {
				case <-r.stop:
					return
				case <-tick.C:
				}
				if err := fn(); err != nil {
					r.t.Error(err)
					return
				}
			}
		}()
	}
	for _, m := range r.members {
		n := r.nodes[m]
		every(10*time.Millisecond, func() error {
			n.mu.Lock() // the churner's state too
			defer n.mu.Unlock()
			if n.d == nil {
				return nil
			}
			if err := r.step(n); err != nil {
				return fmt.Errorf("%s: change: %w", m, err)
			}
			return nil
		})
	}
	every(150*time.Millisecond, func() error { r.teamStep(); return nil })
}

// restart stops a node (what it was doing stops with it) and starts it
// again on its data folder; between runs while it is down.
func (r *exfRun) restart(n *exfNode, between func()) {
	t := r.t
	t.Helper()
	n.mu.Lock()
	defer n.mu.Unlock()
	began := time.Now()
	if err := n.d.Close(); err != nil {
		t.Fatalf("close %s: %v", n.member, err)
	}
	closed := time.Since(began)
	n.d = nil
	r.faults++
	if between != nil {
		between()
	}
	raftnettest.WaitFor(t, 30*time.Second, func() error {
		d, err := tryStart(n.cfg, nil)
		if err != nil {
			return err
		}
		n.d = d
		return nil
	})
	d := n.d
	t.Cleanup(func() { _ = d.Close() })
	n.user = coordClient(t, d, r.fed.User(n.member, "analyst"), n.member)
	t.Logf("%s stopped in %s and started again in %s", n.member, closed.Round(time.Millisecond), (time.Since(began) - closed).Round(time.Millisecond))
}

// fedCount returns how many records of origin member's index holds.
func (r *exfRun) fedCount(member, origin string) int {
	n := r.nodes[member]
	n.mu.RLock()
	defer n.mu.RUnlock()
	if n.d == nil {
		return -1
	}
	counts, err := n.d.Store().FedCounts()
	if err != nil {
		r.t.Fatal(err)
	}
	return counts[origin]
}

// bulk imports count federation cases at member.
func (r *exfRun) bulk(member string, count int) {
	n := r.nodes[member]
	n.mu.Lock()
	defer n.mu.Unlock()
	var batch []*accordv1.Case
	for range count {
		n.next++
		id := fmt.Sprintf("%s-2024-%06d", member, n.next)
		batch = append(batch, exfCase(member, id, accordv1.Sensitivity_SENSITIVITY_FEDERATION, 0))
		n.ids = append(n.ids, id)
	}
	if _, err := n.d.Store().ImportBatch(batch, exfActor(member)); err != nil {
		r.t.Fatal(err)
	}
	r.ops.Add(int64(count))
}

// received returns how many records of origin member's puller stored
// since it started.
func (r *exfRun) received(member, origin string) int {
	n := r.nodes[member]
	n.mu.RLock()
	defer n.mu.RUnlock()
	for _, s := range n.d.Exchange().Status() {
		if s.Member == origin {
			return s.Received
		}
	}
	return 0
}

// killMidSync stops victim while origin's bulk of cases is being
// delivered to member (member holds part of it), and starts it again.
func (r *exfRun) killMidSync(origin, member string, victim *exfNode) {
	t := r.t
	base := r.received(member, origin)
	const bulk = 1500
	r.bulk(origin, bulk)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	deadline := time.Now().Add(60 * time.Second)
	for {
		got := r.received(member, origin) - base
		if got > 0 {
			t.Logf("%s stored %d of %s's records since the bulk of %d: stopping %s", member, got, origin, bulk, victim.member)
			if got >= bulk {
				t.Logf("(the whole bulk arrived before the stop: this round stopped %s after the sync)", victim.member)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s received none of %s's bulk", member, origin)
		}
		<-tick.C
	}
	r.restart(victim, nil)
}

// exfDivergence counts how the indexes differ from what the origins
// share.
type exfDivergence struct {
	lost, extra, stale, broken, records int
	examples                            []string
}

func (d *exfDivergence) note(format string, args ...any) {
	if len(d.examples) < 8 {
		d.examples = append(d.examples, fmt.Sprintf(format, args...))
	}
}

func (d exfDivergence) none() bool { return d.lost+d.extra+d.stale+d.broken == 0 }

// diverged compares each member's index of each origin with what the
// origin shares with it now: its shareable cases, jit ones only with the
// accepted members of an active team that lists them (the origin's
// registry). Person encodings are keyed and randomised, so they are
// compared by count; everything else exactly.
func (r *exfRun) diverged() exfDivergence {
	var d exfDivergence
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, o := range r.members {
		on := r.nodes[o]
		visible := map[string]map[string]bool{}
		_, err := on.d.Registry().Read(ctx, false, func(v registry.View) {
			jits, err := v.ListJITs(o)
			if err != nil {
				return
			}
			for _, j := range jits {
				if j.Status != registry.JITActive {
					continue
				}
				for _, c := range j.Cases {
					if c.Case.Member != o {
						continue
					}
					for _, jm := range j.Members {
						if jm.State == registry.MembershipAccepted {
							if visible[c.Case.CaseID] == nil {
								visible[c.Case.CaseID] = map[string]bool{}
							}
							visible[c.Case.CaseID][jm.Member] = true
						}
					}
				}
			}
		})
		if err != nil {
			r.t.Fatal(err)
		}
		want := map[string]map[string]*accordv1.Case{}
		for _, m := range r.members {
			want[m] = map[string]*accordv1.Case{}
		}
		// The office's names, as the origin's publisher checks free text
		// against them (casegen's free text holds no person's name, so
		// the order in which the publisher learnt them does not matter).
		office := redact.NewNames()
		err = on.d.Store().ExportCases(store.Filter{}, func(c *accordv1.Case) error {
			records.AddPersons(office, c)
			if !records.Shareable(c) {
				return nil
			}
			for _, m := range r.members {
				if m != o && (c.GetSensitivity() != accordv1.Sensitivity_SENSITIVITY_JIT || visible[c.GetCaseId()][m]) {
					want[m][c.GetCaseId()] = c
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
			held := fedIndex(r.t, r.nodes[m].d.Store(), o)
			counts, err := r.nodes[m].d.Store().FedCounts()
			if err != nil {
				r.t.Fatal(err)
			}
			if counts[o] != len(held) {
				d.broken++
				d.note("%s counts %d records of %s but holds %d", m, counts[o], o, len(held))
			}
			d.records += len(held)
			for id, c := range want[m] {
				rec, ok := held[id]
				if !ok {
					d.lost++
					d.note("%s lacks %s", m, id)
					continue
				}
				sc, _, err := records.Project(c, nil, office)
				if err != nil {
					r.t.Fatal(err)
				}
				got := proto.CloneOf(rec.GetCase())
				persons := len(got.GetPersons())
				got.Persons = nil
				if !proto.Equal(got, sc) || persons == 0 {
					d.stale++
					d.note("%s holds %s at version %d (%d person encodings), the origin shares version %d", m, id, got.GetVersion(), persons, c.GetVersion())
				}
			}
			for id, rec := range held {
				if rec.GetOrigin() != o || rec.GetCaseId() != id || rec.GetTombstone() {
					d.broken++
					d.note("%s holds under %s/%s a record of %s/%s", m, o, id, rec.GetOrigin(), rec.GetCaseId())
				}
				if _, ok := want[m][id]; !ok {
					d.extra++
					d.note("%s holds %s, which %s does not share with it", m, id, o)
				}
			}
		}
	}
	return d
}

// quiet reports whether every node published all its changes and pulled
// every other's feed up to its head: the time to compare the indexes.
func (r *exfRun) quiet() bool {
	heads := map[string]uint64{}
	for _, m := range r.members {
		st := r.nodes[m].d.Store()
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
		for _, s := range r.nodes[m].d.Exchange().Status() {
			if s.Seq < heads[s.Member] {
				return false
			}
		}
	}
	return true
}

// settle stops the changes and waits until every index converged.
func (r *exfRun) settle(round string) {
	t := r.t
	t.Helper()
	close(r.stop)
	r.wg.Wait()
	start := time.Now()
	deadline := start.Add(90 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var d exfDivergence
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
		t.Errorf("round %d (%s): not converged after %s: %d records; lost %d, extra %d, stale %d, broken %d: %s",
			r.rounds, round, time.Since(start).Round(time.Millisecond), d.records, d.lost, d.extra, d.stale, d.broken, strings.Join(d.examples, "; "))
		return
	}
	t.Logf("round %d (%s): converged in %s: %d records in the indexes, each as its origin shares it", r.rounds, round, time.Since(start).Round(time.Millisecond), d.records)
}

// TestExchangeFaultsAcrossDaemons: a receiver stopped mid-sync, an origin
// stopped mid-sync, and an origin restored from an older backup, each
// while every member changes its cases and the team changes.
func TestExchangeFaultsAcrossDaemons(t *testing.T) {
	began := time.Now()
	r := newExfRun(t, uint64(time.Now().UnixNano()))
	t.Logf("federation started in %s", time.Since(began).Round(time.Millisecond))
	kinds := []string{"kill-receiver-mid-sync", "kill-origin-mid-sync", "restored-from-older-backup"}
	until := time.Now().Add(exfSoak(t, 0))
	for i := 0; i < len(kinds) || time.Now().Before(until); i++ {
		if t.Failed() {
			break
		}
		kind := kinds[i%len(kinds)]
		if i >= len(kinds) {
			kind = kinds[r.rng.IntN(len(kinds))]
		}
		origin := r.members[r.rng.IntN(len(r.members))]
		member := origin
		for member == origin {
			member = r.members[r.rng.IntN(len(r.members))]
		}
		r.startChurn()
		switch kind {
		case "kill-receiver-mid-sync":
			r.killMidSync(origin, member, r.nodes[member])
		case "kill-origin-mid-sync":
			r.killMidSync(origin, member, r.nodes[origin])
		case "restored-from-older-backup":
			on := r.nodes[origin]
			on.mu.RLock()
			archive, err := fetchBackup(adminClient(t, on.d.LocalAddr(), r.fed.User(origin, "admin"), origin))
			on.mu.RUnlock()
			if err != nil {
				t.Fatal(err)
			}
			r.bulk(origin, 300)
			raftnettest.WaitFor(t, 60*time.Second, func() error {
				if n := r.fedCount(member, origin); n < 300 {
					return fmt.Errorf("%s holds %d records of %s", member, n, origin)
				}
				return nil
			})
			r.restart(on, func() {
				if _, err := backup.Restore(bytes.NewReader(archive), on.cfg.DataDir, backup.RestoreOptions{Member: origin, Force: true}); err != nil {
					t.Fatal(err)
				}
			})
		}
		r.settle(kind + " (" + origin + " to " + member + ")")
	}
	t.Logf("SCENARIO exchange/daemons: rounds %d, case changes %d, team changes %d, faults %d, records lost %d, extra %d, stale %d, broken %d",
		r.rounds, r.ops.Load(), r.jitChanges.Load(), r.faults, r.lost, r.extra, r.stale, r.broken)
}
