package backup_test

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/accordfed/accord/node/audit"
	"github.com/accordfed/accord/node/backup"
)

// entries reads a whole audit log, checking its chain end to end.
func entries(t *testing.T, path string) []audit.Entry {
	t.Helper()
	if _, err := audit.Verify(path); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out []audit.Entry
	if err := audit.Scan(path, audit.Filter{}, func(e audit.Entry) error {
		out = append(out, e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRestoreKeepsTheAuditHistory: whatever the node's own audit log is
// (newer than the backup's, older, of another history, damaged, missing),
// the live log after a restore verifies end to end, holds every entry of
// the log it continues (none is cut or rewritten), and ends with the
// restore's entry saying what became of the history; no log is lost.
func TestRestoreKeepsTheAuditHistory(t *testing.T) {
	// The backup's log has 5 entries; the node's own log is one of:
	backupLog := appendLog(t, t.TempDir(), 5, 1)
	cases := []struct {
		name string
		// node makes the node's log in dir (or none), and returns its
		// entries' hashes in order (nil when none, or damaged).
		node func(t *testing.T, dir string) []string
		// reason of the restore entry; liveFrom: whose entries the live
		// log holds before it ("node" or "backup"); keptBeside: where the
		// other log is kept ("" when it is part of the live one).
		reason, liveFrom, keptBeside string
	}{
		{"newer (the backup's and more after it)", func(t *testing.T, dir string) []string {
			copyFile(t, backupLog, filepath.Join(dir, audit.FileName))
			return hashes(entries(t, appendLog(t, dir, 4, 100)))
		}, audit.RestoreHistoryComplete, "node", ""},
		{"older (a part of the backup's)", func(t *testing.T, dir string) []string {
			b, err := os.ReadFile(backupLog)
			if err != nil {
				t.Fatal(err)
			}
			lines := bytes.SplitAfter(b, []byte("\n"))
			path := filepath.Join(dir, audit.FileName)
			if err := os.WriteFile(path, bytes.Join(lines[:3], nil), 0o600); err != nil {
				t.Fatal(err)
			}
			return hashes(entries(t, path))
		}, audit.RestoreHistoryComplete, "backup", audit.FileName + ".replaced"},
		{"of another history", func(t *testing.T, dir string) []string {
			return hashes(entries(t, appendLog(t, dir, 7, 50)))
		}, audit.RestoreHistoryDiverged, "node", filepath.Join("restored", audit.FileName)},
		{"damaged", func(t *testing.T, dir string) []string {
			copyFile(t, backupLog, filepath.Join(dir, audit.FileName))
			path := appendLog(t, dir, 4, 100)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			b = bytes.Replace(b, []byte(`"records":101`), []byte(`"records":909`), 1)
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
			return nil
		}, audit.RestoreHistoryMissing, "backup", audit.FileName + ".replaced"},
		{"missing", func(t *testing.T, dir string) []string { return nil }, audit.RestoreHistoryMissing, "backup", ""},
	}
	backupHashes := hashes(entries(t, backupLog))
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			nodeHashes := c.node(t, dir)
			var nodeBytes []byte
			if c.keptBeside != "" {
				nodeBytes, _ = os.ReadFile(filepath.Join(dir, audit.FileName))
				if c.liveFrom == "node" {
					nodeBytes, _ = os.ReadFile(backupLog)
				}
			}
			a := archive(t, string(storeBytes(t, "backup store")), backupLog)
			res, err := backup.Restore(bytes.NewReader(a), dir, backup.RestoreOptions{Member: "UA", Node: uaNode, Force: true})
			if err != nil {
				t.Fatal(err)
			}
			live := entries(t, filepath.Join(dir, audit.FileName))
			want := backupHashes
			if c.liveFrom == "node" {
				want = nodeHashes
			}
			if len(live) != len(want)+1 {
				t.Fatalf("the live log has %d entries, want the %s's %d and the restore's", len(live), c.liveFrom, len(want))
			}
			for i, h := range want {
				if live[i].Hash != h {
					t.Fatalf("entry %d of the %s's log is not in the live log", i+1, c.liveFrom)
				}
			}
			rec := live[len(live)-1]
			if rec.Kind != audit.KindRestored || rec.What.Reason != c.reason || rec.PeerID != uaNode || rec.Peer != "UA" ||
				rec.What.ToSeq != 5 || rec.What.Cursor != fmt.Sprintf("sha256:%x", sha256.Sum256(a)) || rec.Hash != res.Audit.Hash {
				t.Errorf("the restore's entry: %+v (returned %+v)", rec, res.Audit)
			}
			if c.keptBeside != "" {
				if got, err := os.ReadFile(filepath.Join(dir, c.keptBeside)); err != nil || !bytes.Equal(got, nodeBytes) {
					t.Errorf("the other log is not kept unchanged in %s: %v", c.keptBeside, err)
				}
			}
		})
	}
}

func hashes(es []audit.Entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Hash
	}
	return out
}
