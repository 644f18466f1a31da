package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/raft"
)

// randomLog builds a log of n commands of every type from a fixed seed,
// many of them refused, some of them retries, as encoded log data.
func randomLog(t testing.TB, n int, seed uint64) [][]byte {
	t.Helper()
	members := []string{"UA", "PL", "LT", "DE"}
	gen := bootstrapped(t, Policy{}, members...) // only for its clock, request ids and bootstrap command
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	specs := make([]FounderSpec, len(members))
	for i, m := range members {
		specs[i] = founder(t, m)
	}
	var log [][]byte
	var sent []*Command
	add := func(c *Command) {
		if c.Signature == nil {
			if err := c.Sign(nodeCert(t, c.Actor.Node), uint64(len(log)), c.Time); err != nil {
				t.Fatal(err)
			}
		}
		data, err := c.Encode()
		if err != nil {
			t.Fatal(err)
		}
		log = append(log, data)
		sent = append(sent, c)
		gen.now = gen.now.Add(1e9)
	}
	add(gen.command("UA", Bootstrap{Federation: testFed, Founders: specs}))
	pick := func(xs []string) string { return xs[rng.IntN(len(xs))] }
	jit := func() string { return fmt.Sprintf("jit-%06d", 1+rng.IntN(8)) }
	entry := func() string { return fmt.Sprintf("entry-%06d", 1+rng.IntN(40)) }
	caseOf := func(m string) CaseRef { return cref(m, fmt.Sprint(rng.IntN(6))) }
	for len(log) < n {
		m := pick(members)
		var p Payload
		switch rng.IntN(18) {
		case 0:
			p = CreateJIT{Name: "team", LegalBasis: "Art. 13", Invite: []string{pick(members)}}
		case 1:
			p = InviteToJIT{JIT: jit(), Member: pick(members)}
		case 2:
			p = RespondToJIT{JIT: jit(), Accept: rng.IntN(4) > 0}
		case 3:
			p = LinkCase{JIT: jit(), Case: caseOf(m)}
		case 4:
			p = SetJITLead{JIT: jit(), Lead: pick(members)}
		case 5:
			p = LeaveJIT{JIT: jit()}
		case 6, 7:
			scope := ""
			if rng.IntN(2) == 0 {
				scope = jit()
			}
			p = CreateEntry{Kind: KindTheme, Title: fmt.Sprintf("theme %d", rng.IntN(1000)), JIT: scope}
		case 8:
			p = UpdateEntry{Entry: entry(), Kind: KindPriority, Title: fmt.Sprintf("priority %d", rng.IntN(1000))}
		case 9:
			p = DeleteEntry{Entry: entry(), Reason: "done"}
		case 10:
			p = ProposeMatch{Cases: []CaseRef{caseOf(m), caseOf(pick(members))}, Score: float64(rng.IntN(100)) / 100}
		case 11:
			p = DecideMatch{Match: fmt.Sprintf("match-%06d", 1+rng.IntN(10)), Confirm: rng.IntN(3) > 0}
		case 12:
			p = ProposeLead{Cases: []CaseRef{caseOf(m), caseOf(pick(members))}, Lead: m}
		case 13:
			p = ConsentLead{Assignment: fmt.Sprintf("lead-%06d", 1+rng.IntN(10)), Consent: rng.IntN(3) > 0}
		case 14:
			p = CreateKey{Name: fmt.Sprintf("key-%d", rng.IntN(3)), Material: bytes.Repeat([]byte{byte(rng.IntN(256))}, 16)}
		case 15:
			p = RotateKey{Name: fmt.Sprintf("key-%d", rng.IntN(3)), Material: bytes.Repeat([]byte{byte(rng.IntN(256))}, 16)}
		case 17:
			p = ConsentJIT{Proposal: fmt.Sprintf("%s/%d", jit(), 1+rng.IntN(4)), Consent: rng.IntN(4) > 0}
		case 16:
			// A retry of an earlier command.
			c := *sent[rng.IntN(len(sent))]
			c.Time = gen.now
			add(&c)
			continue
		}
		add(gen.command(m, p))
	}
	return log
}

// applyLog applies log entries from index first on.
func applyLog(t testing.TB, f *FSM, log [][]byte, first uint64) {
	t.Helper()
	for i, data := range log {
		if _, ok := f.Apply(&raft.Log{Index: first + uint64(i), Term: 1, Type: raft.LogCommand, Data: data}).(Result); !ok {
			t.Fatal("Apply did not return a Result")
		}
	}
}

func TestDeterminism(t *testing.T) {
	log := randomLog(t, 3000, 7)
	a, b := NewFSM(), NewFSM()
	applyLog(t, a, log, 1)
	applyLog(t, b, log, 1)
	sa, sb := snapshotBytes(t, a), snapshotBytes(t, b)
	if !bytes.Equal(sa, sb) {
		t.Fatalf("two replicas differ:\n%s", firstDiff(string(sa), string(sb)))
	}
	// The workload exercised the registry: records of every kind, refusals.
	for _, kind := range []string{`{"member":`, `{"jit":`, `{"lead":`, `{"entry":`, `{"match":`, `{"key":`, `{"dedupe":`, `"code":"permission_denied"`, `"code":"not_found"`,
		`"status":"agreed"`, `"status":"refused"`, `"kind":"invite"`, `"proposals":[`} {
		if !bytes.Contains(sa, []byte(kind)) {
			t.Errorf("the workload made no %s", kind)
		}
	}
	t.Logf("snapshot of %d bytes, %d lines", len(sa), bytes.Count(sa, []byte("\n")))

	// A third replica restores from a snapshot taken half way and applies the
	// rest: it ends in the same state.
	half := uint64(len(log) / 2)
	c := NewFSM()
	applyLog(t, c, log[:half], 1)
	d := NewFSM()
	if err := d.Restore(io.NopCloser(bytes.NewReader(snapshotBytes(t, c)))); err != nil {
		t.Fatal(err)
	}
	applyLog(t, d, log[half:], half+1)
	if sd := snapshotBytes(t, d); !bytes.Equal(sa, sd) {
		t.Fatalf("restored replica differs:\n%s", firstDiff(string(sa), string(sd)))
	}
}

// pipeSink streams a snapshot into an io.Pipe.
type pipeSink struct{ w *io.PipeWriter }

func (s pipeSink) Write(p []byte) (int, error) { return s.w.Write(p) }
func (s pipeSink) Close() error                { return s.w.Close() }
func (s pipeSink) ID() string                  { return "pipe" }
func (s pipeSink) Cancel() error               { return s.w.CloseWithError(errors.New("cancelled")) }

// maxWriteSink records the largest single write and the total.
type maxWriteSink struct {
	memSink
	maxWrite, total int
}

func (s *maxWriteSink) Write(p []byte) (int, error) {
	s.maxWrite = max(s.maxWrite, len(p))
	s.total += len(p)
	return len(p), nil // discard
}

func largeRegistry(t testing.TB, entries int) *harness {
	t.Helper()
	h := bootstrapped(t, Policy{}, "UA", "PL", "LT")
	jit := h.teamOf("UA", "PL")
	h.ok("UA", CreateKey{Name: "person-encoding", Material: bytes.Repeat([]byte{1}, 32)})
	for i := 0; i < entries; i++ {
		owner := []string{"UA", "PL"}[i%2]
		p := CreateEntry{Kind: KindTarget, Title: fmt.Sprintf("target %d", i), Text: strings.Repeat("context ", 20),
			Targets: []TargetRef{{Type: TargetUnit, Ref: fmt.Sprintf("unit %d", i)},
				{Type: TargetPerson, Ref: personRef(i), Key: "person-encoding", KeyVersion: 1}}}
		if i%3 == 0 {
			p.JIT = jit
		}
		id := h.ok(owner, p).ID
		if i%10 == 0 {
			h.ok(owner, UpdateEntry{Entry: id, Kind: KindPriority, Title: fmt.Sprintf("priority %d", i)})
		}
	}
	return h
}

func TestSnapshotRoundTripLarge(t *testing.T) {
	const n = 10000
	h := largeRegistry(t, n)
	want := snapshotBytes(t, h.f)

	// Streamed: Persist writes into a pipe while Restore reads it line by line.
	snap, err := h.f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	persisted := make(chan error, 1)
	go func() { persisted <- snap.Persist(pipeSink{pw}) }()
	g := NewFSM()
	if err := g.Restore(pr); err != nil {
		t.Fatal(err)
	}
	if err := <-persisted; err != nil {
		t.Fatal(err)
	}
	snap.Release()
	if got := snapshotBytes(t, g); !bytes.Equal(got, want) {
		t.Fatalf("round trip differs:\n%s", firstDiff(string(want), string(got)))
	}
	if g.AppliedIndex() != h.f.AppliedIndex() {
		t.Fatalf("applied index %d, want %d", g.AppliedIndex(), h.f.AppliedIndex())
	}
	var count int
	g.Read(func(v View) {
		es, err := v.ListStrategy("UA", StrategyFilter{})
		if err != nil {
			t.Fatal(err)
		}
		count = len(es)
	})
	if count != n {
		t.Fatalf("%d entries after restore, want %d", count, n)
	}

	// Through raft's own snapshot store.
	store := raft.NewInmemSnapshotStore()
	sink, err := store.Create(raft.SnapshotVersionMax, h.f.AppliedIndex(), 1, raft.Configuration{}, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	snap, _ = h.f.Snapshot()
	if err := snap.Persist(sink); err != nil {
		t.Fatal(err)
	}
	metas, err := store.List()
	if err != nil || len(metas) != 1 {
		t.Fatalf("%v %v", metas, err)
	}
	_, rc, err := store.Open(metas[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	k := NewFSM()
	if err := k.Restore(rc); err != nil {
		t.Fatal(err)
	}
	if got := snapshotBytes(t, k); !bytes.Equal(got, want) {
		t.Fatal("round trip through raft's snapshot store differs")
	}

	// Persist hands the sink bounded writes, never the whole encoding.
	var ms maxWriteSink
	snap, _ = h.f.Snapshot()
	if err := snap.Persist(&ms); err != nil {
		t.Fatal(err)
	}
	if ms.total != len(want) || ms.maxWrite > 64<<10 {
		t.Fatalf("wrote %d bytes (want %d), largest write %d", ms.total, len(want), ms.maxWrite)
	}
	t.Logf("%d entries: snapshot %d bytes, largest write %d bytes", n, ms.total, ms.maxWrite)
}

func TestPersistWhileApplying(t *testing.T) {
	h := largeRegistry(t, 500)
	want := snapshotBytes(t, h.f)
	snap, err := h.f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var sink memSink
	var wg sync.WaitGroup
	var perr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		perr = snap.Persist(&sink)
	}()
	// Apply changes every kind of table while Persist streams the old state;
	// readers run at the same time too.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 50; i++ {
			h.f.Read(func(v View) { _, _ = v.ListStrategy("PL", StrategyFilter{}) })
		}
	}()
	for i := 1; i <= 200; i++ {
		owner := []string{"UA", "PL"}[(i-1)%2] // entry-000001 is UA's
		h.ok(owner, UpdateEntry{Entry: fmt.Sprintf("entry-%06d", i), Kind: KindTheme, Title: "changed"})
		h.ok("UA", ProposeMember{Code: fmt.Sprintf("M%d", i), Name: "new", CACerts: []string{validCA(t, fmt.Sprintf("M%d", i))}})
	}
	h.ok("UA", RotateKey{Name: "person-encoding", Material: bytes.Repeat([]byte{2}, 32)})
	h.ok("UA", LinkCase{JIT: "jit-000001", Case: cref("UA", "1")})
	wg.Wait()
	if perr != nil {
		t.Fatal(perr)
	}
	if !bytes.Equal(sink.Bytes(), want) {
		t.Fatalf("the snapshot saw later changes:\n%s", firstDiff(string(want), sink.String()))
	}
	snap.Release()
}

func TestRestoreRejectsBadSnapshots(t *testing.T) {
	h := bootstrapped(t, Policy{}, "UA", "PL")
	h.teamOf("UA", "PL")
	good := string(snapshotBytes(t, h.f))
	lines := strings.SplitAfter(good, "\n")
	lines = lines[:len(lines)-1] // the empty string after the last newline
	join := func(ls ...string) string { return strings.Join(ls, "") }
	last := len(lines) - 1
	for name, data := range map[string]string{
		"empty":                 "",
		"no end line":           join(lines[:last]...),
		"no final newline":      strings.TrimSuffix(good, "\n"),
		"not JSON":              "hello\n",
		"header not first":      join(append(lines[1:2:2], lines...)...),
		"other format":          strings.Replace(good, SnapshotFormat, "other", 1),
		"other version":         strings.Replace(good, `"version":1,`, `"version":2,`, 1),
		"unknown field":         strings.Replace(good, `{"member":{`, `{"member":{"colour":"red",`, 1),
		"record missing":        join(append(append([]string{}, lines[:1]...), lines[2:]...)...),
		"record twice":          join(append(append([]string{}, lines[:2]...), lines[1:last]...)...) + `{"end":{"records":` + fmt.Sprint(last) + "}}\n",
		"data after end":        good + lines[1],
		"two records on a line": strings.Replace(good, `{"member":{`, `{"end":{"records":0},"member":{`, 1),
		"second header":         join(append(append([]string{}, lines[:1]...), lines[:last]...)...) + `{"end":{"records":` + fmt.Sprint(last) + "}}\n",
	} {
		t.Run(name, func(t *testing.T) {
			f := largeRegistry(t, 3).f
			before, index := snapshotBytes(t, f), f.AppliedIndex()
			err := f.Restore(io.NopCloser(strings.NewReader(data)))
			if !errors.Is(err, ErrSnapshot) {
				t.Fatalf("err = %v, want ErrSnapshot", err)
			}
			t.Log(err)
			if after := snapshotBytes(t, f); !bytes.Equal(before, after) || f.AppliedIndex() != index {
				t.Fatal("a failed restore changed the state")
			}
		})
	}
}

func TestApplyIndexAndWaitApplied(t *testing.T) {
	h := bootstrapped(t, Policy{}, "UA")
	f := h.f
	start := f.AppliedIndex()
	if start != 1 {
		t.Fatalf("applied index %d after bootstrap", start)
	}

	// Waiting for an index already applied returns at once.
	if err := f.WaitApplied(context.Background(), start); err != nil {
		t.Fatal(err)
	}
	// Waiting for a later index returns once it is applied, through every
	// kind of entry Raft hands the FSM.
	done := make(chan error, 1)
	go func() { done <- f.WaitApplied(context.Background(), start+3) }()
	noop := &Command{Version: CommandVersion, Type: CmdNoop}
	if res := h.applyCommand(noop); res.Err != nil || res.Value != (Outcome{}) {
		t.Fatalf("noop: %+v", res)
	}
	f.StoreConfiguration(start+2, raft.Configuration{})
	h.index++
	if res, _ := f.Apply(&raft.Log{Index: start + 3, Type: raft.LogBarrier}).(Result); res.Err != nil || res.Value != nil {
		t.Fatalf("non-command entry: %+v", res)
	}
	h.index++
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := f.AppliedIndex(); got != start+3 {
		t.Fatalf("applied index %d, want %d", got, start+3)
	}

	// An index at or below the applied one is not applied again.
	before := h.dump(true)
	if res, _ := f.Apply(&raft.Log{Index: start + 1, Type: raft.LogCommand, Data: []byte("{}")}).(Result); !errors.Is(res.Err, ErrFailedPrecondition) {
		t.Fatalf("old index: %+v", res)
	}
	if after := h.dump(true); after != before || f.AppliedIndex() != start+3 {
		t.Fatal("an old index changed the state")
	}

	// The context ends the wait.
	ctx, cancel := context.WithCancel(context.Background())
	go func() { done <- f.WaitApplied(ctx, 1<<40) }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled wait: %v", err)
	}

	// A restore advances the index and wakes waiters.
	g := NewFSM()
	go func() { done <- g.WaitApplied(context.Background(), f.AppliedIndex()) }()
	if err := g.Restore(io.NopCloser(bytes.NewReader(snapshotBytes(t, f)))); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var idx uint64
	if idx = g.Read(func(View) {}); idx != f.AppliedIndex() {
		t.Fatalf("Read at %d, want %d", idx, f.AppliedIndex())
	}
}

func FuzzApply(f *testing.F) {
	h := bootstrapped(f, Policy{}, "UA", "PL")
	boot := snapshotBytes(f, h.f)
	for _, p := range []Payload{
		CreateJIT{Name: "x", LegalBasis: "y", Invite: []string{"PL"}},
		CreateEntry{Kind: KindTheme, Title: "t"},
		ProposeMatch{Cases: []CaseRef{cref("UA", "1"), cref("PL", "1")}, Score: 0.5},
		RotateKey{Name: "k", Material: []byte("0123456789abcdef")},
	} {
		data, err := h.command("UA", p).Encode()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"version":1,"type":"jit.create","payload":[]}`))
	f.Add([]byte(`{"version":1,"type":"noop"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		fsm := NewFSM()
		if err := fsm.Restore(io.NopCloser(bytes.NewReader(boot))); err != nil {
			t.Fatal(err)
		}
		index := fsm.AppliedIndex()
		for i := uint64(1); i <= 2; i++ { // twice: the second may be a retry
			res, ok := fsm.Apply(&raft.Log{Index: index + i, Type: raft.LogCommand, Data: data}).(Result)
			if !ok {
				t.Fatal("not a Result")
			}
			if res.Err != nil && res.Value != nil {
				t.Fatalf("both value and error: %+v", res)
			}
		}
		snap := snapshotBytes(t, fsm)
		g := NewFSM()
		if err := g.Restore(io.NopCloser(bytes.NewReader(snap))); err != nil {
			t.Fatalf("cannot restore own snapshot: %v", err)
		}
		if again := snapshotBytes(t, g); !bytes.Equal(snap, again) {
			t.Fatal("round trip differs")
		}
	})
}
