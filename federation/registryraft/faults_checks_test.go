package registryraft_test

import (
	"encoding/pem"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/pki/pkitest"
	"github.com/accordfed/accord/federation/registry"
)

// TestWorkloadChecksCatchLossAndDuplicates: the end-of-run checks of the
// fault scenarios find a lost acknowledged write, a duplicated one, an
// entry no client wrote, and a register update lost or applied twice; and
// pass a state that matches the clients' outcomes.
func TestWorkloadChecksCatchLossAndDuplicates(t *testing.T) {
	exp := expected{
		acked:      map[string]bool{"k0": true, "k1": true},
		unknown:    map[string]bool{"k2": true},
		regs:       []*register{{key: registerKeyBase, id: "se-1", owner: "UA"}},
		regAcked:   map[string]int{"se-1": 3},
		regUnknown: map[string]int{"se-1": 1},
	}
	state := func(titles map[string]int, version int) entries {
		return entries{
			titles: titles,
			byID:   map[string]registry.StrategyEntry{"se-1": {ID: "se-1", Current: registry.StrategyVersion{Version: version, Title: "c0-9"}}},
		}
	}
	for _, tc := range []struct {
		name      string
		got       entries
		lost, dup int
		problems  int
	}{
		{"matching, unknown write absent", state(map[string]int{"k0": 1, "k1": 1}, 4), 0, 0, 0},
		{"matching, unknown write and update applied", state(map[string]int{"k0": 1, "k1": 1, "k2": 1}, 5), 0, 0, 0},
		{"acknowledged write lost", state(map[string]int{"k0": 1}, 4), 1, 0, 1},
		{"acknowledged write applied twice", state(map[string]int{"k0": 2, "k1": 1}, 4), 0, 1, 1},
		{"unknown write applied twice", state(map[string]int{"k0": 1, "k1": 1, "k2": 2}, 4), 0, 1, 1},
		{"entry nobody wrote", state(map[string]int{"k0": 1, "k1": 1, "k7": 1}, 4), 0, 0, 1},
		{"register update lost", state(map[string]int{"k0": 1, "k1": 1}, 3), 1, 0, 1},
		{"register update applied twice", state(map[string]int{"k0": 1, "k1": 1}, 6), 0, 1, 1},
		{"register missing", entries{titles: map[string]int{"k0": 1, "k1": 1}}, 1, 0, 1},
	} {
		lost, dup, problems := exp.check(tc.got)
		if lost != tc.lost || dup != tc.dup || len(problems) != tc.problems {
			t.Errorf("%s: lost %d, duplicated %d, problems %q; want %d, %d and %d problems", tc.name, lost, dup, problems, tc.lost, tc.dup, tc.problems)
		}
	}
}

// TestFSMDigestTellsStatesApart: two state machines that applied the same
// commands have the same digest; one more command changes it.
func TestFSMDigestTellsStatesApart(t *testing.T) {
	apply := func(f *registry.FSM, index uint64, cmd *registry.Command) {
		t.Helper()
		data, err := cmd.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if res, ok := f.Apply(&raft.Log{Index: index, Type: raft.LogCommand, Data: data}).(registry.Result); !ok || res.Err != nil {
			t.Fatalf("apply %d: %+v", index, res)
		}
	}
	fed := pkitest.NewFederation(t, testFed, "UA")
	ca := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: fed.CAs["UA"].Cert.Raw}))
	boot, err := registry.NewCommand("boot", registry.Bootstrap{Federation: testFed, Founders: []registry.FounderSpec{{Code: "UA", Name: "UA office", CACerts: []string{ca}}}})
	if err != nil {
		t.Fatal(err)
	}
	boot.Time = time.Now().UTC()
	signAs(t, fed, identity.Identity{Federation: testFed, Member: "UA", Kind: identity.KindNode, Name: "ua-1"}, boot, 0)
	a, b := registry.NewFSM(), registry.NewFSM()
	for _, f := range []*registry.FSM{a, b} {
		apply(f, 1, boot)
	}
	da, ia, err := fsmDigest(a)
	if err != nil {
		t.Fatal(err)
	}
	db, ib, err := fsmDigest(b)
	if err != nil {
		t.Fatal(err)
	}
	if da != db || ia != ib || ia != 1 {
		t.Fatalf("same commands: digests %.12s@%d and %.12s@%d", da, ia, db, ib)
	}
	e := entry(t, "k0")
	e.Time = boot.Time
	signAs(t, fed, identity.Identity{Federation: testFed, Member: "UA", Kind: identity.KindNode, Name: "ua-1"}, e, 1)
	apply(b, 2, e)
	if dc, _, err := fsmDigest(b); err != nil || dc == da {
		t.Fatalf("one more entry: digest %.12s (err %v), before %.12s", dc, err, da)
	}
}
