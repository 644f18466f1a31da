package registry

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/raft"
)

// readLegacy reads testdata/legacy-v2.
func readLegacy(t testing.TB) (entries []*raft.Log, man fixtureManifest, mid, final []byte) {
	t.Helper()
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(legacyDir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if err := json.Unmarshal(read("manifest.json"), &man); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(read("log.jsonl")))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var e fixtureEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatal(err)
		}
		data, err := base64.StdEncoding.DecodeString(e.Data)
		if err != nil {
			t.Fatal(err)
		}
		l := &raft.Log{Index: e.Index, Term: e.Term, Data: data}
		switch e.Type {
		case raft.LogCommand.String():
			l.Type = raft.LogCommand
		case raft.LogConfiguration.String():
			l.Type = raft.LogConfiguration
		default:
			t.Fatalf("entry %d: type %q", e.Index, e.Type)
		}
		entries = append(entries, l)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(entries) != man.Entries {
		t.Fatalf("%d entries, the manifest says %d", len(entries), man.Entries)
	}
	mid, final = read("snapshot-mid.jsonl"), read("snapshot-final.jsonl")
	sum := sha256.Sum256(final)
	if got := hex.EncodeToString(sum[:]); got != man.FinalSHA256 || !strings.HasPrefix(string(read("snapshot-final.sha256")), got) {
		t.Fatalf("snapshot-final.jsonl has SHA-256 %s, the manifest says %s", got, man.FinalSHA256)
	}
	return entries, man, mid, final
}

// replay hands entries to f as Raft does: commands to Apply,
// configurations to StoreConfiguration.
func replay(t testing.TB, f *FSM, entries []*raft.Log) {
	t.Helper()
	for _, l := range entries {
		if l.Type == raft.LogConfiguration {
			f.StoreConfiguration(l.Index, raft.DecodeConfiguration(l.Data))
			continue
		}
		if _, ok := f.Apply(l).(Result); !ok {
			t.Fatalf("entry %d: Apply did not return a Result", l.Index)
		}
	}
}

func sameSnapshot(t testing.TB, what string, got, want []byte) {
	t.Helper()
	if bytes.Equal(got, want) {
		return
	}
	gs, ws := sha256.Sum256(got), sha256.Sum256(want)
	t.Fatalf("%s: snapshot SHA-256 %x, want %x:\n%s", what, gs, ws, firstDiff(string(want), string(got)))
}

// TestLegacyReplay: the log written by the build of command version 2
// replays into a fresh state machine to the very snapshot bytes that build
// wrote, and so does its mid-way snapshot restored and the rest of the log
// applied.
func TestLegacyReplay(t *testing.T) {
	entries, man, mid, final := readLegacy(t)

	f := NewFSM()
	replay(t, f, entries)
	sameSnapshot(t, "replayed log", snapshotBytes(t, f), final)
	if f.AppliedIndex() != man.FinalIndex {
		t.Fatalf("applied index %d, want %d", f.AppliedIndex(), man.FinalIndex)
	}

	g := NewFSM()
	if err := g.Restore(io.NopCloser(bytes.NewReader(mid))); err != nil {
		t.Fatal(err)
	}
	if g.AppliedIndex() != man.MidIndex {
		t.Fatalf("mid-way snapshot at %d, want %d", g.AppliedIndex(), man.MidIndex)
	}
	var rest []*raft.Log
	for _, l := range entries {
		if l.Index > man.MidIndex {
			rest = append(rest, l)
		}
	}
	replay(t, g, rest)
	sameSnapshot(t, "mid-way snapshot and the rest of the log", snapshotBytes(t, g), final)

	// The final snapshot restores to itself.
	r := NewFSM()
	if err := r.Restore(io.NopCloser(bytes.NewReader(final))); err != nil {
		t.Fatal(err)
	}
	sameSnapshot(t, "final snapshot restored", snapshotBytes(t, r), final)
}
