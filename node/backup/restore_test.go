package backup_test

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/accordfed/accord/node/audit"
	"github.com/accordfed/accord/node/backup"
)

const uaNode = "spiffe://accord.test/member/UA/node/ua-1"

// appendLog appends n entries (served to PL, the records counted from
// first) to the audit log in dir, and returns the log's file.
func appendLog(t *testing.T, dir string, n, first int) string {
	t.Helper()
	l, err := audit.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if _, err := l.Append(audit.Entry{Kind: audit.KindServed, Peer: "PL", PeerID: "spiffe://accord.test/member/PL/node/pl-1",
			What: audit.What{Records: first + i}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, audit.FileName)
}

// copyFile copies src to dst.
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// archive is a backup of UA's node holding store and the audit log at
// auditLog ("": a log of three entries).
func archive(t *testing.T, store, auditLog string) []byte {
	t.Helper()
	if auditLog == "" {
		auditLog = appendLog(t, t.TempDir(), 3, 1)
	}
	put := func(s string) func(io.Writer) error {
		return func(w io.Writer) error { _, err := io.WriteString(w, s); return err }
	}
	logBytes, err := os.ReadFile(auditLog)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := backup.Write(&buf, backup.Source{Member: "UA", Node: uaNode,
		Store: put(store), Audit: put(string(logBytes)), Now: func() time.Time { return time.Unix(0, 0) }}, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasPrefix(filepath.Base(path), backup.StoreFile) {
		return storeLabel(t, path) // a store file: its label
	}
	return string(b)
}

// storeBytes is a minimal bbolt store file (a meta bucket, no feed yet:
// restoring it renews nothing) labelled label.
func storeBytes(t *testing.T, label string) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "s.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte("meta"))
		if err != nil {
			return err
		}
		return b.Put([]byte("test_label"), []byte(label))
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	out, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// storeLabel reads the label of a store file made by storeBytes.
func storeLabel(t *testing.T, path string) string {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	defer db.Close()
	var label string
	if err := db.View(func(tx *bolt.Tx) error {
		label = string(tx.Bucket([]byte("meta")).Get([]byte("test_label")))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return label
}

// TestRestoreRunAgainKeepsEveryReplacedFile: a restore that was killed
// after replacing some files, run again, keeps the node's original files
// (a second restore must not overwrite the first one's .replaced copies)
// and leaves no staging folder behind.
func TestRestoreRunAgainKeepsEveryReplacedFile(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string][]byte{backup.StoreFile: storeBytes(t, "original store"), backup.AuditFile: []byte("original audit")} {
		if err := os.WriteFile(filepath.Join(dir, name), body, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// What a restore killed halfway leaves: its staging folder, and the
	// store already replaced (the original kept as .replaced).
	if err := os.MkdirAll(filepath.Join(dir, ".restore-123", "partial"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, backup.StoreFile), filepath.Join(dir, backup.StoreFile+".replaced")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, backup.StoreFile), storeBytes(t, "backup store"), 0o600); err != nil {
		t.Fatal(err)
	}

	if _, err := backup.Restore(bytes.NewReader(archive(t, string(storeBytes(t, "backup store")), "")), dir, backup.RestoreOptions{Member: "UA", Force: true}); err != nil {
		t.Fatal(err)
	}
	if got := read(t, filepath.Join(dir, backup.StoreFile)); got != "backup store" {
		t.Errorf("store after the restore: %q", got)
	}
	if got := read(t, filepath.Join(dir, backup.StoreFile+".replaced")); got != "original store" {
		t.Errorf("the original store is lost: store.db.replaced holds %q", got)
	}
	if got := read(t, filepath.Join(dir, backup.StoreFile+".replaced.1")); got != "backup store" {
		t.Errorf("store.db.replaced.1 holds %q", got)
	}
	if got := read(t, filepath.Join(dir, backup.AuditFile+".replaced")); got != "original audit" {
		t.Errorf("audit.log.replaced holds %q", got)
	}
	if stale, _ := filepath.Glob(filepath.Join(dir, ".restore-*")); len(stale) != 0 {
		t.Errorf("staging folders left: %v", stale)
	}
}
