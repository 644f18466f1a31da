package main

// The workload of the process-level fault scenarios and its checks.
//
// Every member owns a few strategy entries; each entry is a register whose
// value is its current title. Writers update their member's entries
// through their member's node (a follower forwards to the leader), each
// update with its own request id and a title equal to that id; a write
// whose call fails is retried with the same request id until it is
// acknowledged or gives up (its outcome is then unknown). Readers on every
// node read any entry linearizably. At the end:
//
//   - every node's registry state is the same, byte for byte (the registry
//     snapshot in each node's backup, which holds the exactly-once table
//     too);
//   - every entry's history has versions 1..n, each applied by a request id
//     that a client sent, none twice, and every acknowledged write at the
//     version its acknowledgement named;
//   - the history of calls is linearizable (porcupine). A write whose
//     outcome is unknown and that the final history shows applied is
//     modelled as taking effect at any time after its call; one the final
//     history does not hold never took effect and is left out.

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/anishathalye/porcupine"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/accordfed/accord/federation/registry"
	"github.com/accordfed/accord/node/backup"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// writeGiveUp is how long a client retries one write before it records
// the write's outcome as unknown.
const writeGiveUp = 30 * time.Second

// regOp is the input of one operation on a register (an entry).
type regOp struct {
	entry int
	write bool
	value string
}

// registerModel is a set of registers, one per entry, checked entry by
// entry; every register starts at "v0".
var registerModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byEntry := map[int][]porcupine.Operation{}
		for _, op := range history {
			e := op.Input.(regOp).entry
			byEntry[e] = append(byEntry[e], op)
		}
		out := make([][]porcupine.Operation, 0, len(byEntry))
		for _, ops := range byEntry {
			out = append(out, ops)
		}
		return out
	},
	Init: func() any { return "v0" },
	Step: func(state, input, output any) (bool, any) {
		in := input.(regOp)
		if in.write {
			return true, in.value
		}
		return output.(string) == state.(string), state
	},
	Equal: func(a, b any) bool { return a.(string) == b.(string) },
	DescribeOperation: func(input, output any) string {
		in := input.(regOp)
		if in.write {
			return fmt.Sprintf("write(%d, %s)", in.entry, in.value)
		}
		return fmt.Sprintf("read(%d) -> %v", in.entry, output)
	},
}

// regEntry is a register: a strategy entry and the member that owns it.
type regEntry struct {
	id, created string // entry id, request id of its creation
	owner       *procNode
}

// writeRecord is one client write.
type writeRecord struct {
	client    int
	rid       string
	entry     int
	call, ret int64
	acked     bool
	version   int    // acknowledged version
	refused   string // a refusal (the command changed nothing)
	failed    string // an error the API does not give for a valid command (outcome unknown)
}

// workloadStats are the figures of a run.
type workloadStats struct {
	writes, acked, unknown, unknownApplied, refused, lost int
	reads, readErrors                                     int
}

// workload drives clients against a cluster and records their history.
type workload struct {
	t       *testing.T
	c       *procCluster
	start   time.Time
	text    string
	entries []regEntry

	mu     sync.Mutex
	writes []*writeRecord
	reads  []porcupine.Operation

	acked     atomic.Int64
	readErrs  atomic.Int64
	errCodes  sync.Map // codes.Code -> *atomic.Int64, of failed write attempts
	stop      chan struct{}
	wg        sync.WaitGroup
	clients   int
	stopOnce  sync.Once
	startOnce sync.Once
}

// newWorkload creates perMember entries of every member through its node.
// Every update carries textSize bytes of text, so that snapshots grow.
func newWorkload(t *testing.T, c *procCluster, perMember, textSize int) *workload {
	t.Helper()
	w := &workload{t: t, c: c, stop: make(chan struct{}), start: time.Now()}
	w.text = strings.Repeat("Shelling of a residential district; witnesses heard; ", textSize/53+1)[:textSize]
	for _, n := range c.nodes {
		for i := range perMember {
			rid := fmt.Sprintf("create-%s-%d", n.member, i)
			payload, err := json.Marshal(registry.CreateEntry{Kind: registry.KindTheme, Title: "v0", Text: w.text})
			if err != nil {
				t.Fatal(err)
			}
			var id string
			eventually(t, 30*time.Second, func() error {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				resp, err := n.coord.Execute(ctx, &accordv1.ExecuteRequest{Type: string(registry.CmdCreateEntry), Payload: payload, RequestId: rid})
				if err != nil {
					return err
				}
				id = resp.GetId()
				return nil
			})
			w.entries = append(w.entries, regEntry{id: id, created: rid, owner: n})
		}
	}
	return w
}

func (w *workload) now() int64 { return int64(time.Since(w.start)) }

// run starts writersPerMember writers of every member's entries and
// readersPerNode readers on every node.
func (w *workload) run(writersPerMember, readersPerNode int) {
	w.startOnce.Do(func() { w.start = time.Now() })
	for _, n := range w.c.nodes {
		var own []int
		for i, e := range w.entries {
			if e.owner == n {
				own = append(own, i)
			}
		}
		for range writersPerMember {
			client := w.clients
			w.clients++
			w.wg.Add(1)
			go func() {
				defer w.wg.Done()
				for seq := 0; ; seq++ {
					select {
					case <-w.stop:
						return
					default:
					}
					w.write(client, n, own[rand.IntN(len(own))], fmt.Sprintf("w%d-%d", client, seq))
				}
			}()
		}
		for range readersPerNode {
			client := w.clients
			w.clients++
			w.wg.Add(1)
			go func() {
				defer w.wg.Done()
				// Readers are paced, so that writes get their share of two
				// shared cores.
				tick := time.NewTicker(10 * time.Millisecond)
				defer tick.Stop()
				for {
					select {
					case <-w.stop:
						return
					case <-tick.C:
					}
					w.read(client, n, rand.IntN(len(w.entries)))
				}
			}()
		}
	}
}

// write updates an entry through node n, retrying with the same request id
// until acknowledged, refused, or given up.
func (w *workload) write(client int, n *procNode, e int, rid string) {
	rec := &writeRecord{client: client, rid: rid, entry: e, call: w.now()}
	w.mu.Lock()
	w.writes = append(w.writes, rec)
	w.mu.Unlock()
	payload, err := json.Marshal(registry.UpdateEntry{Entry: w.entries[e].id, Kind: registry.KindTheme, Title: rid, Text: w.text})
	if err != nil {
		rec.refused = err.Error()
		return
	}
	giveUp := time.Now().Add(writeGiveUp)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		resp, err := n.coord.Execute(ctx, &accordv1.ExecuteRequest{Type: string(registry.CmdUpdateEntry), Payload: payload, RequestId: rid})
		cancel()
		if err == nil {
			rec.ret, rec.acked, rec.version = w.now(), true, int(resp.GetVersion())
			w.acked.Add(1)
			return
		}
		code := status.Code(err)
		v, _ := w.errCodes.LoadOrStore(code, new(atomic.Int64))
		v.(*atomic.Int64).Add(1)
		switch code {
		case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled:
			// The outcome is unknown: retry with the same request id, as
			// the API says.
		case codes.InvalidArgument, codes.NotFound, codes.AlreadyExists, codes.PermissionDenied, codes.FailedPrecondition:
			rec.refused = err.Error() // a refusal: nothing changed
			return
		default:
			rec.failed = err.Error() // not an answer the API gives for a valid command
			return
		}
		if time.Now().After(giveUp) {
			return
		}
		<-time.After(50 * time.Millisecond) // the backoff between retries
	}
}

// read reads an entry's current title through node n, linearizably.
func (w *workload) read(client int, n *procNode, e int) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	call := w.now()
	resp, err := n.coord.Query(ctx, &accordv1.QueryRequest{Kind: "entry", Id: w.entries[e].id})
	ret := w.now()
	if err != nil {
		w.readErrs.Add(1) // a failed read observed nothing (its node may be down)
		return
	}
	var got registry.StrategyEntry
	if err := json.Unmarshal(resp.GetResult(), &got); err != nil {
		w.t.Errorf("read of %s: %v", w.entries[e].id, err)
		return
	}
	w.mu.Lock()
	w.reads = append(w.reads, porcupine.Operation{ClientId: client, Input: regOp{entry: e}, Call: call, Output: got.Current.Title, Return: ret})
	w.mu.Unlock()
}

// waitAcked waits until n more writes than now are acknowledged.
func (w *workload) waitAcked(n int64, timeout time.Duration) {
	w.t.Helper()
	target := w.acked.Load() + n
	eventually(w.t, timeout, func() error {
		if got := w.acked.Load(); got < target {
			return fmt.Errorf("%d of %d writes acknowledged", got, target)
		}
		return nil
	})
}

// finish stops the clients and waits for them.
func (w *workload) finish() {
	w.stopOnce.Do(func() { close(w.stop) })
	w.wg.Wait()
}

// versionRec is one version of an entry's history as Query returns it.
type versionRec struct {
	Version int    `json:"version"`
	Title   string `json:"title"`
	Change  struct {
		RequestID string `json:"request_id"`
	} `json:"change"`
}

// check stops the workload and runs every check; it returns the run's
// figures.
func (w *workload) check() workloadStats {
	t := w.t
	t.Helper()
	w.finish()
	w.c.waitIdentical()
	hists := make([][]versionRec, len(w.entries))
	created := make([]string, len(w.entries))
	for e, ent := range w.entries {
		created[e] = ent.created
		eventually(t, 30*time.Second, func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			resp, err := ent.owner.coord.Query(ctx, &accordv1.QueryRequest{Kind: "history", Id: ent.id})
			if err != nil {
				return err
			}
			return json.Unmarshal(resp.GetResult(), &hists[e])
		})
	}
	st, problems := verifyHistory(created, hists, w.writes, w.reads)
	for _, p := range problems {
		t.Error(p)
	}
	var codesSeen []string
	w.errCodes.Range(func(k, v any) bool {
		codesSeen = append(codesSeen, fmt.Sprintf("%s=%d", k.(codes.Code), v.(*atomic.Int64).Load()))
		return true
	})
	st.readErrors = int(w.readErrs.Load())
	t.Logf("history: %d writes (%d acknowledged, %d unknown of which %d applied, %d refused), %d linearizable reads (%d failed); failed write attempts by code: %v; %d acknowledged writes lost",
		st.writes, st.acked, st.unknown, st.unknownApplied, st.refused, st.reads, st.readErrors, codesSeen, st.lost)
	return st
}

// verifyHistory checks a run: hists[e] is entry e's history as the
// registry holds it at the end and created[e] the request id that created
// it; writes and reads are what the clients did. It returns the run's
// figures and every problem found.
func verifyHistory(created []string, hists [][]versionRec, writes []*writeRecord, reads []porcupine.Operation) (workloadStats, []string) {
	var (
		st       workloadStats
		problems []string
	)
	fail := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	byRid := map[string]*writeRecord{}
	for _, rec := range writes {
		byRid[rec.rid] = rec
		st.writes++
		switch {
		case rec.acked:
			st.acked++
		case rec.refused != "":
			st.refused++
			fail("write %s was refused: %s", rec.rid, rec.refused)
		case rec.failed != "":
			st.unknown++
			fail("write %s failed with an error the API does not give for a valid command: %s", rec.rid, rec.failed)
		default:
			st.unknown++
		}
	}
	applied := map[string]int{} // request id -> version
	for e, hist := range hists {
		for i, v := range hist {
			rid := v.Change.RequestID
			switch {
			case v.Version != i+1:
				fail("entry %d: version %d at position %d", e, v.Version, i+1)
			case i == 0:
				if rid != created[e] {
					fail("entry %d: version 1 by %q, want its creation %q", e, rid, created[e])
				}
				continue
			}
			rec := byRid[rid]
			switch {
			case rec == nil:
				fail("entry %d version %d: applied request %q, which no client sent", e, v.Version, rid)
			case rec.entry != e:
				fail("request %s: applied to entry %d, sent for %d", rid, e, rec.entry)
			case v.Title != rec.rid:
				fail("request %s: applied with title %q", rid, v.Title)
			}
			if _, dup := applied[rid]; dup {
				fail("request %s applied twice (entry %d version %d)", rid, e, v.Version)
			}
			applied[rid] = v.Version
		}
	}
	ops := append([]porcupine.Operation(nil), reads...)
	for _, rec := range writes {
		v, ok := applied[rec.rid]
		in := regOp{entry: rec.entry, write: true, value: rec.rid}
		switch {
		case rec.acked && !ok:
			st.lost++
			fail("acknowledged write %s (entry %d version %d) is lost", rec.rid, rec.entry, rec.version)
		case rec.acked && v != rec.version:
			fail("write %s acknowledged as version %d is version %d", rec.rid, rec.version, v)
		case rec.refused != "" && ok:
			fail("write %s was refused yet applied", rec.rid)
		}
		switch {
		case rec.acked:
			ops = append(ops, porcupine.Operation{ClientId: rec.client, Input: in, Call: rec.call, Output: "", Return: rec.ret})
		case ok:
			// Outcome unknown to its client, applied: it took effect at
			// some time after its call.
			st.unknownApplied++
			ops = append(ops, porcupine.Operation{ClientId: rec.client, Input: in, Call: rec.call, Output: "", Return: math.MaxInt64})
		}
		// Outcome unknown and not in the final history: it never took
		// effect, and no read can have seen it.
	}
	st.reads = len(reads)
	if st.lost > 0 {
		fail("%d acknowledged writes lost", st.lost)
	}
	switch porcupine.CheckOperationsTimeout(registerModel, ops, 10*time.Minute) {
	case porcupine.Ok:
	case porcupine.Unknown:
		fail("the linearizability check of %d operations timed out", len(ops))
	default:
		fail("the history is not linearizable")
	}
	return st, problems
}

// registryState returns the node's registry state as its backup holds it
// (the registry snapshot, byte for byte) and the index it reflects.
func (n *procNode) registryState() ([]byte, uint64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := n.admin.Backup(ctx, &accordv1.BackupRequest{})
	if err != nil {
		return nil, 0, err
	}
	var buf bytes.Buffer
	for {
		r, err := s.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, 0, err
		}
		buf.Write(r.GetData())
	}
	// The backup is encrypted to the cluster's backup key.
	ids, err := backup.ReadIdentities(n.c.backupKey)
	if err != nil {
		return nil, 0, err
	}
	plain, err := age.Decrypt(&buf, ids...)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: backup: %w", n.member, err)
	}
	tr := tar.NewReader(plain)
	for {
		hdr, err := tr.Next()
		if err != nil {
			return nil, 0, fmt.Errorf("%s: backup without %s: %w", n.member, backup.RegistryFile, err)
		}
		if hdr.Name != backup.RegistryFile {
			continue
		}
		state, err := io.ReadAll(tr)
		if err != nil {
			return nil, 0, err
		}
		first, _, _ := bufio.NewReader(bytes.NewReader(state)).ReadLine()
		var head struct {
			Header struct {
				AppliedIndex uint64 `json:"applied_index"`
			} `json:"header"`
		}
		if err := json.Unmarshal(first, &head); err != nil {
			return nil, 0, fmt.Errorf("%s: registry state header: %w", n.member, err)
		}
		return state, head.Header.AppliedIndex, nil
	}
}

// waitIdentical waits until every node's registry state reflects the same
// index, and fails the test if two nodes at the same index differ.
func (c *procCluster) waitIdentical() {
	t := c.t
	t.Helper()
	eventually(t, 60*time.Second, func() error {
		var (
			first      []byte
			firstIndex uint64
		)
		for i, n := range c.nodes {
			state, index, err := n.registryState()
			if err != nil {
				return err
			}
			if i == 0 {
				first, firstIndex = state, index
				continue
			}
			if index != firstIndex {
				return fmt.Errorf("%s applied index %d, %s %d", c.nodes[0].member, firstIndex, n.member, index)
			}
			if !bytes.Equal(state, first) {
				t.Fatalf("%s and %s differ at applied index %d: %s", c.nodes[0].member, n.member, index, firstDifference(first, state))
			}
		}
		return nil
	})
}

// firstDifference names the first line where two states differ.
func firstDifference(a, b []byte) string {
	la, lb := bytes.Split(a, []byte("\n")), bytes.Split(b, []byte("\n"))
	for i := range min(len(la), len(lb)) {
		if !bytes.Equal(la[i], lb[i]) {
			return fmt.Sprintf("line %d:\n  %.300s\n  %.300s", i+1, la[i], lb[i])
		}
	}
	return fmt.Sprintf("%d lines and %d lines", len(la), len(lb))
}
