package daemon_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/accordfed/accord/federation/mtls"
	"github.com/accordfed/accord/federation/pki/pkitest"
	"github.com/accordfed/accord/federation/raftnet/raftnettest"
	"github.com/accordfed/accord/node/audit"
	"github.com/accordfed/accord/node/backup"
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

// TestBackupAndRestore: an admin backs a running registry server up; the
// node is lost; its data restored into an empty folder brings back the
// cases, the audit chain and the signing key, and the restarted node
// catches up with the registry and serves its feed again.
func TestBackupAndRestore(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA", "PL")
	nodes, _ := startFederation(t, fed, "UA", "PL")
	ua, pl := nodes[0], nodes[1]
	actor := sealerFor(t, "UA")
	for i := range 20 {
		c := exCase(fmt.Sprintf("UA-2022-%06d", i+1), accordv1.Sensitivity_SENSITIVITY_FEDERATION, "Olena Kovalenko")
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

	// Analysts may not; admins may.
	if _, err := fetchBackup(adminClient(t, ua.d.LocalAddr(), fed.User("UA", "analyst"), "UA")); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("an analyst's backup: %v", err)
	}
	archive, err := fetchBackup(adminClient(t, ua.d.LocalAddr(), fed.User("UA", "admin"), "UA"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := os.ReadFile(filepath.Join(ua.cfg.DataDir, "signing.key"))
	if err != nil {
		t.Fatal(err)
	}

	// The node is lost. A damaged archive is refused; the good one restores.
	if err := ua.d.Close(); err != nil {
		t.Fatal(err)
	}
	cfg := ua.cfg
	cfg.DataDir = t.TempDir()
	damaged := bytes.Clone(archive)
	damaged[2048] ^= 0xff
	if _, err := backup.Restore(bytes.NewReader(damaged), cfg.DataDir, "UA", false); !errors.Is(err, backup.ErrInvalid) {
		t.Fatalf("damaged archive: %v", err)
	}
	if _, err := backup.Restore(bytes.NewReader(archive), cfg.DataDir, "PL", false); !errors.Is(err, backup.ErrInvalid) {
		t.Fatalf("another member's node: %v", err)
	}
	cfg.DataDir = t.TempDir()
	m, err := backup.Restore(bytes.NewReader(archive), cfg.DataDir, "UA", false)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m.Files[backup.RegistryFile]; !ok {
		t.Error("the backup has no registry snapshot")
	}
	if _, err := backup.Restore(bytes.NewReader(archive), cfg.DataDir, "UA", false); !errors.Is(err, backup.ErrInvalid) {
		t.Fatalf("restoring over a store without --force: %v", err)
	}
	restoredKey, _ := os.ReadFile(filepath.Join(cfg.DataDir, "signing.key"))
	if !bytes.Equal(restoredKey, key) {
		t.Error("the signing key differs")
	}
	if _, err := audit.Verify(filepath.Join(cfg.DataDir, audit.FileName)); err != nil {
		t.Errorf("restored audit log: %v", err)
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
	if c, err := restored.d.Store().GetCase("UA-2022-000007"); err != nil || c.GetPersons()[0].GetName() != "Olena Kovalenko" {
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
