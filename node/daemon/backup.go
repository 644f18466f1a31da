package daemon

import (
	"io"
	"os"
	"path/filepath"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/node/audit"
	"github.com/accordfed/accord/node/backup"
	"github.com/accordfed/accord/node/grpcserver"
)

// snapshotSink adapts a writer to raft.SnapshotSink, so that the
// registry's state machine streams its snapshot into a backup.
type snapshotSink struct{ io.Writer }

func (snapshotSink) ID() string    { return "backup" }
func (snapshotSink) Cancel() error { return nil }
func (snapshotSink) Close() error  { return nil }

// copyFile writes a file's current content to w.
func copyFile(path string) func(io.Writer) error {
	return func(w io.Writer) error {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(w, f)
		return err
	}
}

// newBackup makes the local API's NodeAdminService (backups, for admins).
func (d *Daemon) newBackup(localPolicy *grpcserver.Policy, isAdmin func(identity.Identity) bool) *backup.Service {
	self := d.src.Identity()
	source := func() backup.Source {
		s := backup.Source{
			Member: self.Member, Node: self.String(),
			Store: d.store.Backup,
			Audit: copyFile(filepath.Join(d.cfg.DataDir, audit.FileName)),
		}
		if key := filepath.Join(d.cfg.DataDir, "signing.key"); fileExists(key) {
			s.Key = copyFile(key)
		}
		if d.persons != nil {
			s.PersonKeys = d.persons.ring.Export
		}
		if d.registry != nil {
			fsm := d.registry.fsm
			s.Registry = func(w io.Writer) error {
				snap, err := fsm.Snapshot()
				if err != nil {
					return err
				}
				defer snap.Release()
				return snap.Persist(snapshotSink{w})
			}
		}
		return s
	}
	bc := d.cfg.Backup
	enc := backup.Encryption{Recipients: bc.ParseRecipients, Unencrypted: bc.Unencrypted}
	if len(bc.Recipients) == 0 && bc.RecipientsFile == "" && !bc.Unencrypted {
		d.logger.Info("backups are refused until backup.recipients (or backup.recipients_file) names the office's age recipients", "component", "backup")
	}
	svc := backup.NewService(source, filepath.Join(d.cfg.DataDir, "tmp"), self.Member, isAdmin, enc, d.logger.With("component", "backup"))
	svc.Allow(localPolicy)
	return svc
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
