package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/accordfed/accord/node/backup"
)

// TestBackupKeygen: keygen writes an age identity file, mode 0600, that
// opens what is encrypted to the recipient it prints, and refuses to
// overwrite a file.
func TestBackupKeygen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "key.txt")
	out, err := certsRun(t, "backup", "keygen", "--out", path)
	if err != nil {
		t.Fatal(err)
	}
	rcpt, err := age.ParseX25519Recipient(strings.TrimSpace(out))
	if err != nil {
		t.Fatalf("printed %q: %v", out, err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("identity file: %v %v", st, err)
	}
	ids, err := backup.ReadIdentities(path)
	if err != nil || len(ids) != 1 || ids[0].(*age.X25519Identity).Recipient().String() != rcpt.String() {
		t.Fatalf("identity file does not match the recipient printed: %v", err)
	}
	before, _ := os.ReadFile(path)
	if _, err := certsRun(t, "backup", "keygen", "--out", path); err == nil || !strings.Contains(err.Error(), "--out") {
		t.Errorf("keygen over an existing file: %v", err)
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Error("keygen overwrote the identity file")
	}
	if _, err := certsRun(t, "backup", "keygen"); err == nil || !strings.Contains(err.Error(), "--out") {
		t.Errorf("keygen without --out: %v", err)
	}
}
