package main

import (
	"strings"
	"testing"

	"github.com/anishathalye/porcupine"
)

// version is one version of an entry's history.
func version(n int, rid string) versionRec {
	v := versionRec{Version: n, Title: rid}
	v.Change.RequestID = rid
	return v
}

// TestVerifyHistoryCatchesFaults: the checks of the fault scenarios find
// a lost acknowledged write, a command applied twice, a command nobody
// sent, a write acknowledged at another version, and a stale read; and
// pass a sound history, with a write of unknown outcome that applied and
// one that did not.
func TestVerifyHistoryCatchesFaults(t *testing.T) {
	created := []string{"create-0"}
	sound := func() ([][]versionRec, []*writeRecord, []porcupine.Operation) {
		hists := [][]versionRec{{version(1, "v0"), version(2, "a"), version(3, "b")}}
		hists[0][0].Change.RequestID = "create-0"
		writes := []*writeRecord{
			{rid: "a", call: 0, ret: 10, acked: true, version: 2},
			{rid: "b", call: 20, ret: 0}, // outcome unknown, applied
			{rid: "c", call: 25, ret: 0}, // outcome unknown, never applied
		}
		reads := []porcupine.Operation{
			{Input: regOp{}, Call: 11, Return: 12, Output: "a"},
			{Input: regOp{}, Call: 30, Return: 31, Output: "b"},
		}
		return hists, writes, reads
	}
	hists, writes, reads := sound()
	st, problems := verifyHistory(created, hists, writes, reads)
	if len(problems) != 0 {
		t.Fatalf("a sound history fails: %v", problems)
	}
	if st.acked != 1 || st.unknown != 2 || st.unknownApplied != 1 || st.reads != 2 {
		t.Errorf("figures: %+v", st)
	}

	cases := []struct {
		name  string
		spoil func(h [][]versionRec, w []*writeRecord, r []porcupine.Operation) ([][]versionRec, []*writeRecord, []porcupine.Operation)
		want  string
	}{
		{"acknowledged write lost", func(h [][]versionRec, w []*writeRecord, r []porcupine.Operation) ([][]versionRec, []*writeRecord, []porcupine.Operation) {
			h[0] = []versionRec{h[0][0], version(2, "b")}
			return h, w, r[1:]
		}, "is lost"},
		{"applied twice", func(h [][]versionRec, w []*writeRecord, r []porcupine.Operation) ([][]versionRec, []*writeRecord, []porcupine.Operation) {
			h[0] = append(h[0], version(4, "a"))
			return h, w, r
		}, "applied twice"},
		{"applied a command nobody sent", func(h [][]versionRec, w []*writeRecord, r []porcupine.Operation) ([][]versionRec, []*writeRecord, []porcupine.Operation) {
			h[0] = append(h[0], version(4, "x"))
			return h, w, r
		}, "no client sent"},
		{"acknowledged at another version", func(h [][]versionRec, w []*writeRecord, r []porcupine.Operation) ([][]versionRec, []*writeRecord, []porcupine.Operation) {
			w[0].version = 3
			return h, w, r
		}, "acknowledged as version 3"},
		{"stale read", func(h [][]versionRec, w []*writeRecord, r []porcupine.Operation) ([][]versionRec, []*writeRecord, []porcupine.Operation) {
			r = append(r, porcupine.Operation{Input: regOp{}, Call: 40, Return: 41, Output: "a"})
			return h, w, r
		}, "not linearizable"},
		{"version missing", func(h [][]versionRec, w []*writeRecord, r []porcupine.Operation) ([][]versionRec, []*writeRecord, []porcupine.Operation) {
			h[0][2].Version = 4
			return h, w, r
		}, "version 4 at position 3"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, w, r := c.spoil(sound())
			_, problems := verifyHistory(created, h, w, r)
			if !strings.Contains(strings.Join(problems, "\n"), c.want) {
				t.Errorf("problems %q do not name %q", problems, c.want)
			}
		})
	}
}
