package daemon_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/accordfed/accord/federation/mtls"
	"github.com/accordfed/accord/federation/persons"
	"github.com/accordfed/accord/federation/pki/pkitest"
	"github.com/accordfed/accord/federation/raftnet/raftnettest"
	"github.com/accordfed/accord/node/audit"
	"github.com/accordfed/accord/node/backup"
	"github.com/accordfed/accord/node/config"
	"github.com/accordfed/accord/node/daemon/daemontest"
	"github.com/accordfed/accord/node/store"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

func adminClient(t *testing.T, addr string, user mtls.Config, member string) accordv1.NodeAdminServiceClient {
	t.Helper()
	src, err := mtls.NewSource(user, mtls.Hooks{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(src.ClientCredentials(mtls.ExpectMember(member))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return accordv1.NewNodeAdminServiceClient(cc)
}

func fetchBackup(c accordv1.NodeAdminServiceClient) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := c.Backup(ctx, &accordv1.BackupRequest{})
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	for {
		r, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return buf.Bytes(), nil
		}
		if err != nil {
			return nil, err
		}
		buf.Write(r.GetData())
	}
}

// dirState is every file under dir with its mode and SHA-256, to show that
// a refused restore changed nothing.
func dirState(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	if err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		v := info.Mode().String()
		if !e.IsDir() {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			v += fmt.Sprintf(" %x", sha256.Sum256(b))
		}
		out[path] = v
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// auditEntries reads a whole audit log, checking its chain end to end.
func auditEntries(t *testing.T, path string) []audit.Entry {
	t.Helper()
	if _, err := audit.Verify(path); err != nil {
		t.Fatalf("audit log %s: %v", path, err)
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

// TestBackupAndRestore: an admin backs a running registry server up,
// encrypted to the office's recipient; the archive holds nothing in clear.
// The node goes on serving (audited), stops, and is restored over its own
// data: a wrong key, a missing one, a tampered archive and another member's
// backup are refused and change nothing; the restore keeps every audit
// entry written before and after the backup, the chain intact, and records
// itself. Then the node is lost: restored into an empty folder, the
// backup's audit log comes back with the missing history recorded, and the
// restarted node brings back the cases and the signing key, catches up
// with the registry and serves its feed again.
func TestBackupAndRestore(t *testing.T) {
	keyDir := t.TempDir()
	keyFile, otherKey := filepath.Join(keyDir, "office.txt"), filepath.Join(keyDir, "other.txt")
	rcpt, err := backup.WriteIdentity(keyFile, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(keyFile); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("identity file: %v %v", st, err)
	}
	if _, err := backup.WriteIdentity(otherKey, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := backup.WriteIdentity(keyFile, time.Now()); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("keygen over an existing identity file: %v", err)
	}
	ids, err := backup.ReadIdentities(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	wrongIDs, err := backup.ReadIdentities(otherKey)
	if err != nil {
		t.Fatal(err)
	}

	fed := pkitest.NewFederation(t, "accord.test", "UA", "PL")
	started, _ := daemontest.StartFederationConfigured(t, fed, nil, func(member string, cfg *config.Config) {
		switch member {
		case "UA":
			cfg.Backup = config.BackupConfig{Recipients: []string{rcpt}}
		case "PL":
			cfg.Backup = config.BackupConfig{} // no recipients, plain archives not allowed
		}
	}, "UA", "PL")
	ua := &regNode{member: "UA", cfg: started[0].Cfg, d: started[0].D}
	pl := &regNode{member: "PL", cfg: started[1].Cfg, d: started[1].D}
	actor := sealerFor(t, "UA")
	const marker = "Kovalenko-Marker"
	for i := range 20 {
		c := exCase(fmt.Sprintf("UA-2022-%06d", i+1), accordv1.Sensitivity_SENSITIVITY_FEDERATION, "Olena "+marker)
		if _, err := ua.d.Store().CreateCase(c, actor); err != nil {
			t.Fatal(err)
		}
	}
	waitIndex(t, pl.d.Store(), "UA", func(m map[string]*accordv1.FeedRecord) error {
		if len(m) != 20 {
			return fmt.Errorf("%d", len(m))
		}
		return nil
	})

	// Analysts may not; admins may. PL's node has no recipients and does
	// not allow plain backups: it makes none.
	if _, err := fetchBackup(adminClient(t, pl.d.LocalAddr(), fed.User("PL", "admin"), "PL")); status.Code(err) != codes.FailedPrecondition ||
		!strings.Contains(status.Convert(err).Message(), "backup.recipients") {
		t.Fatalf("a backup of a node without recipients: %v", err)
	}
	if _, err := fetchBackup(adminClient(t, ua.d.LocalAddr(), fed.User("UA", "analyst"), "UA")); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("an analyst's backup: %v", err)
	}
	archive, err := fetchBackup(adminClient(t, ua.d.LocalAddr(), fed.User("UA", "admin"), "UA"))
	if err != nil {
		t.Fatal(err)
	}
	if !backup.IsEncrypted(archive) {
		t.Errorf("the backup is not age-encrypted: it starts %q", archive[:min(len(archive), 32)])
	}
	for _, clear := range []string{marker, "UA-2022-000007", "MANIFEST.json", "spiffe://"} {
		if bytes.Contains(archive, []byte(clear)) {
			t.Errorf("the encrypted archive holds %q in clear", clear)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	digest := fmt.Sprintf("sha256:%x", sha256.Sum256(archive))
	key, err := os.ReadFile(filepath.Join(ua.cfg.DataDir, "signing.key"))
	if err != nil {
		t.Fatal(err)
	}
	personKey, err := os.ReadFile(filepath.Join(ua.cfg.DataDir, persons.KeyDir, "v1.key"))
	if err != nil {
		t.Fatal(err)
	}

	// More audited activity after the backup: PL pulls ten more cases.
	for i := 20; i < 30; i++ {
		c := exCase(fmt.Sprintf("UA-2022-%06d", i+1), accordv1.Sensitivity_SENSITIVITY_FEDERATION, "Olena "+marker)
		if _, err := ua.d.Store().CreateCase(c, actor); err != nil {
			t.Fatal(err)
		}
	}
	waitIndex(t, pl.d.Store(), "UA", has("UA-2022-000030"))
	if err := ua.d.Close(); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(ua.cfg.DataDir, audit.FileName)
	before := auditEntries(t, logPath)

	// Refused, and nothing changed: no identity, a wrong one, a tampered
	// archive, another member's node.
	dir := ua.cfg.DataDir
	state := dirState(t, dir)
	tampered := bytes.Clone(archive)
	tampered[len(tampered)/2] ^= 0x01
	for _, c := range []struct {
		name    string
		archive []byte
		opts    backup.RestoreOptions
		want    error
	}{
		{"no identity", archive, backup.RestoreOptions{Member: "UA", Force: true}, backup.ErrIdentityRequired},
		{"wrong identity", archive, backup.RestoreOptions{Member: "UA", Force: true, Identities: wrongIDs}, backup.ErrWrongKey},
		{"tampered", tampered, backup.RestoreOptions{Member: "UA", Force: true, Identities: ids}, backup.ErrInvalid},
		{"cut", archive[:len(archive)-100], backup.RestoreOptions{Member: "UA", Force: true, Identities: ids}, backup.ErrInvalid},
		{"not an age file", []byte(strings.Repeat("not a backup ", 100)), backup.RestoreOptions{Member: "UA", Force: true, Identities: ids}, backup.ErrInvalid},
		{"another member's node", archive, backup.RestoreOptions{Member: "PL", Force: true, Identities: ids}, backup.ErrInvalid},
		{"a store without --force", archive, backup.RestoreOptions{Member: "UA", Identities: ids}, backup.ErrInvalid},
	} {
		_, err := backup.Restore(bytes.NewReader(c.archive), dir, c.opts)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
		if got := dirState(t, dir); !maps.Equal(got, state) {
			t.Errorf("%s: the refused restore changed the data folder:\nbefore %v\nafter  %v", c.name, state, got)
		}
	}

	// Restored over its own data: the node's audit log, newer than the
	// backup's, stays live, whole, and records the restore.
	m, err := backup.Restore(bytes.NewReader(archive), dir, backup.RestoreOptions{Member: "UA", Node: fed.NodeURI("UA", "ua-1").String(), Force: true, Identities: ids})
	if err != nil {
		t.Fatal(err)
	}
	if !m.Encrypted || "sha256:"+m.Digest != digest {
		t.Errorf("restore of %s: encrypted %v, digest %s", digest, m.Encrypted, m.Digest)
	}
	after := auditEntries(t, logPath)
	if len(after) <= len(before) {
		t.Fatalf("the audit log after the restore has %d entries, before it %d", len(after), len(before))
	}
	for i, e := range before {
		if after[i].Hash != e.Hash {
			t.Fatalf("audit entry %d changed by the restore: %s, was %s", e.Seq, after[i].Hash, e.Hash)
		}
	}
	backupHead := m.Audit.What.ToSeq
	if backupHead == 0 || backupHead >= uint64(len(before)) {
		t.Fatalf("the backup's audit log ends at entry %d, the node's at %d: no audited activity after the backup", backupHead, len(before))
	}
	rec := after[len(before)]
	if rec.Kind != audit.KindRestored || rec.What.Reason != audit.RestoreHistoryComplete || rec.What.Cursor != digest ||
		rec.Peer != "UA" || rec.PeerID != fed.NodeURI("UA", "ua-1").String() || rec.What.ToSeq != backupHead || rec.Seq != m.Audit.Seq {
		t.Errorf("the restore's audit entry: %+v", rec)
	}
	if _, err := os.Stat(logPath + ".replaced"); err == nil {
		t.Error("the node's audit log was replaced")
	}
	if got := storeCaseCount(t, filepath.Join(dir, backup.StoreFile)); got != 20 {
		t.Errorf("the restored store holds %d cases, want the backup's 20", got)
	}

	// The node is lost: restored into an empty folder, the backup's audit
	// log comes back, and the restore says the history after it is missing.
	cfg := ua.cfg
	cfg.DataDir = t.TempDir()
	m, err = backup.Restore(bytes.NewReader(archive), cfg.DataDir, backup.RestoreOptions{Member: "UA", Identities: ids})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m.Files[backup.RegistryFile]; !ok {
		t.Error("the backup has no registry snapshot")
	}
	lost := auditEntries(t, filepath.Join(cfg.DataDir, audit.FileName))
	if uint64(len(lost)) != backupHead+1 {
		t.Fatalf("the restored audit log has %d entries, want the backup's %d and the restore's", len(lost), backupHead)
	}
	for i, e := range lost[:backupHead] {
		if e.Hash != before[i].Hash {
			t.Fatalf("restored audit entry %d differs from the node's", e.Seq)
		}
	}
	if last := lost[backupHead]; last.Kind != audit.KindRestored || last.What.Reason != audit.RestoreHistoryMissing || last.What.Cursor != digest || last.PeerID != m.Node {
		t.Errorf("the restore's audit entry in a new folder: %+v", last)
	}
	restoredKey, _ := os.ReadFile(filepath.Join(cfg.DataDir, "signing.key"))
	if !bytes.Equal(restoredKey, key) {
		t.Error("the signing key differs")
	}

	// The restored node starts on its old addresses, catches up with the
	// registry, and PL still pulls from it (the restored feed has a new
	// epoch: PL resyncs from it in full).
	var restored *regNode
	raftnettest.WaitFor(t, 10*time.Second, func() error {
		d, err := tryStart(cfg, nil)
		if err != nil {
			return err
		}
		restored = &regNode{member: "UA", cfg: cfg, d: d}
		return nil
	})
	t.Cleanup(func() { _ = restored.d.Close() })
	restored.user = coordClient(t, restored.d, fed.User("UA", "analyst"), "UA")
	// The person-token key came back with the backup: the tokens UA
	// published before stay UA's, and other members' cached evaluations
	// still hold.
	if got, err := os.ReadFile(filepath.Join(cfg.DataDir, persons.KeyDir, "v1.key")); err != nil || !bytes.Equal(got, personKey) {
		t.Errorf("the restored node's person-token key differs from the backed-up one (%v)", err)
	}
	if _, err := os.Stat(filepath.Join(cfg.DataDir, persons.ImportFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the imported key file is still there: %v", err)
	}
	if c, err := restored.d.Store().GetCase("UA-2022-000007"); err != nil || c.GetPersons()[0].GetName() != "Olena "+marker {
		t.Fatalf("restored case: %v %v", c, err)
	}
	waitFounded(t, restored)
	raftnettest.WaitFor(t, 20*time.Second, func() error {
		if a, b := restored.d.Registry().Raft().AppliedIndex(), pl.d.Registry().Raft().AppliedIndex(); a < b {
			return fmt.Errorf("restored node applied %d, PL %d", a, b)
		}
		return nil
	})
	c := exCase("UA-2022-000099", accordv1.Sensitivity_SENSITIVITY_FEDERATION, "Taras Shevchenko")
	if _, err := restored.d.Store().CreateCase(c, actor); err != nil {
		t.Fatal(err)
	}
	waitIndex(t, pl.d.Store(), "UA", has("UA-2022-000099"))
}

// storeCaseCount opens a store file and counts its cases.
func storeCaseCount(t *testing.T, path string) int {
	t.Helper()
	st, err := store.Open(path, "UA", store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	n, after := 0, ""
	for {
		cs, next, err := st.ListCases(store.Filter{}, 500, after)
		if err != nil {
			t.Fatal(err)
		}
		n += len(cs)
		if next == "" {
			return n
		}
		after = next
	}
}
