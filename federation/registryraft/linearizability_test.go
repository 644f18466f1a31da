package registryraft_test

import (
	"context"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/accordfed/accord/federation/registry"
)

// regInput is one client operation on a register: a strategy entry whose
// current title is the register's value.
type regInput struct {
	key   int
	write bool
	value string
}

// registerModel is a set of registers, one per key, checked key by key.
var registerModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[int][]porcupine.Operation{}
		for _, op := range history {
			k := op.Input.(regInput).key
			byKey[k] = append(byKey[k], op)
		}
		var out [][]porcupine.Operation
		for _, ops := range byKey {
			out = append(out, ops)
		}
		return out
	},
	Init: func() any { return "v0" },
	Step: func(state, input, output any) (bool, any) {
		in := input.(regInput)
		if in.write {
			return true, in.value
		}
		return output.(string) == state.(string), state
	},
	DescribeOperation: func(input, output any) string {
		in := input.(regInput)
		if in.write {
			return fmt.Sprintf("write(%d, %s)", in.key, in.value)
		}
		return fmt.Sprintf("read(%d) -> %v", in.key, output)
	},
}

// history records client operations with monotonic timestamps.
type history struct {
	start time.Time
	mu    sync.Mutex
	ops   []porcupine.Operation
}

func (h *history) now() int64 { return int64(time.Since(h.start)) }

func (h *history) add(op porcupine.Operation) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ops = append(h.ops, op)
}

// TestLinearizableHistory: clients on every node write registers (strategy
// entries, each written by its owner's node: followers forward) and read
// them linearizably on every node while the leader is killed; the
// recorded history is checked for linearizability. A write whose outcome
// is unknown (its call failed) is modelled as possibly taking effect at any
// time after its call; a failed read is left out (it observed nothing).
func TestLinearizableHistory(t *testing.T) {
	c := startCluster(t, []string{"UA", "PL", "DE"}, fastTimeouts())
	leader := c.waitLeader(10 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// One register per node, owned by the node's member.
	ids := make([]string, len(c.nodes))
	for k, tn := range c.nodes {
		out, err := tn.node.Apply(ctx, entry(t, "v0"))
		if err != nil {
			t.Fatal(err)
		}
		ids[k] = out.ID
	}

	h := &history{start: time.Now()}
	const opsPerClient = 60
	var wg sync.WaitGroup
	var killOnce sync.Once
	killed := make(chan struct{})
	client := 0
	for k, tn := range c.nodes {
		// Two writers of the node's own register, one reader of all.
		for role := range 3 {
			id := client
			client++
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range opsPerClient {
					if id == 0 && i == opsPerClient/3 {
						killOnce.Do(func() {
							close(killed) // the leader's clients stop after their current call
							c.kill(leader)
						})
					}
					select {
					case <-killed:
						if tn == leader {
							return
						}
					default:
					}
					opCtx, opCancel := context.WithTimeout(ctx, 10*time.Second)
					if role < 2 {
						value := fmt.Sprintf("c%d-%d", id, i)
						in := regInput{key: k, write: true, value: value}
						cmd, err := registry.NewCommand(fmt.Sprintf("lin-%d-%d", id, i), registry.UpdateEntry{Entry: ids[k], Kind: registry.KindTheme, Title: value})
						if err != nil {
							t.Error(err)
						}
						call := h.now()
						_, err = tn.node.Apply(opCtx, cmd)
						ret := h.now()
						if err != nil {
							ret = math.MaxInt64 // outcome unknown
						}
						h.add(porcupine.Operation{ClientId: id, Input: in, Call: call, Output: "", Return: ret})
					} else {
						key := i % len(c.nodes)
						var value string
						call := h.now()
						_, err := tn.node.Read(opCtx, true, func(v registry.View) {
							e, err := v.GetEntry(ids[key], tn.member)
							if err == nil {
								value = e.Current.Title
							}
						})
						ret := h.now()
						if err == nil {
							h.add(porcupine.Operation{ClientId: id, Input: regInput{key: key}, Call: call, Output: value, Return: ret})
						}
					}
					opCancel()
				}
			}()
		}
	}
	wg.Wait()
	c.waitLeader(3*time.Second, leader)

	unknown := 0
	for _, op := range h.ops {
		if op.Return == math.MaxInt64 {
			unknown++
		}
	}
	t.Logf("%d operations recorded, %d with unknown outcome", len(h.ops), unknown)
	res, info := porcupine.CheckOperationsVerbose(registerModel, h.ops, 30*time.Second)
	switch res {
	case porcupine.Ok:
	case porcupine.Unknown:
		t.Fatal("linearizability check timed out")
	default:
		for _, part := range info.PartialLinearizationsOperations() {
			t.Logf("partial linearization: %d parts", len(part))
		}
		t.Fatal("history is not linearizable")
	}
}

// TestRegisterModelRejectsStaleRead: the checker catches a read that
// returns an older value after a newer write completed.
func TestRegisterModelRejectsStaleRead(t *testing.T) {
	ops := []porcupine.Operation{
		{ClientId: 0, Input: regInput{key: 0, write: true, value: "a"}, Call: 0, Output: "", Return: 10},
		{ClientId: 1, Input: regInput{key: 0}, Call: 20, Output: "v0", Return: 30},
	}
	if porcupine.CheckOperations(registerModel, ops) {
		t.Fatal("a stale read passed the linearizability check")
	}
	ops[1].Output = "a"
	if !porcupine.CheckOperations(registerModel, ops) {
		t.Fatal("a fresh read failed the linearizability check")
	}
}
