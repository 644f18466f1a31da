package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/spf13/cobra"

	"github.com/accordfed/accord/federation/mtls"
	"github.com/accordfed/accord/node/audit"
	"github.com/accordfed/accord/node/backup"
	"github.com/accordfed/accord/node/store"
)

func newRestoreCmd(configPath *string) *cobra.Command {
	var from string
	var identities []string
	var force bool
	cmd := &cobra.Command{
		Use:   "restore --config FILE --from BACKUP.tar.age --identity KEY.txt",
		Short: "Restore a stopped node's data from a backup (made with accordctl backup)",
		Long: `restore decrypts a backup archive with the office's backup identity
(--identity, an age identity file: accordctl backup keygen or age-keygen), checks
it against its manifest (every file's size and SHA-256, the member) and only then
writes the store and the record-signing key into the node's data_dir. A wrong
key, a file that is not an age file, a damaged or cut archive are refused with
the reason, and nothing is changed. The node must be stopped. An existing store
is replaced only with --force; the files replaced are kept beside, with the
suffix .replaced.

The audit log is never cut or rewritten: the node's own log, which is newer
than the backup's and holds it, stays the live log; the backup's is put back
only when the node's is missing or damaged (disaster recovery on a new machine),
and then the history after the backup is recorded as missing. Either way the
live log gets an entry of kind "restored" with the node, the backup's SHA-256
and where the backup stands in the chain.

The registry's Raft state is not restored: when the node starts it catches up
from the other registry servers; the backup's registry snapshot is kept in
<data_dir>/restored/ for the record.`,
		Example: `  accordd restore --config /etc/accord/node.yaml --from /backup/ua-2026-11-27.tar.age --identity /secure/ua-backup-key.txt`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from == "" {
				return errors.New("--from: required (the backup archive)")
			}
			cfg, err := loadConfig(*configPath, nil)
			if err != nil {
				return err
			}
			var ids []age.Identity
			for _, path := range identities {
				got, err := backup.ReadIdentities(path)
				if err != nil {
					return fmt.Errorf("--identity: %w", err)
				}
				ids = append(ids, got...)
			}
			src, err := mtls.NewSource(cfg.TLS, mtls.Hooks{}, nil, nil)
			if err != nil {
				return err
			}
			member := src.Identity().Member
			storePath := filepath.Join(cfg.DataDir, backup.StoreFile)
			if _, err := os.Stat(storePath); err == nil {
				// A running node holds the store's lock.
				st, err := store.Open(storePath, member, store.Options{OpenTimeout: 300 * time.Millisecond})
				if err != nil {
					if strings.Contains(err.Error(), "locked") {
						return fmt.Errorf("%s is in use: stop the node first", storePath)
					}
				} else {
					st.Close()
				}
			}
			f, err := os.Open(from)
			if err != nil {
				return err
			}
			defer f.Close()
			if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
				return err
			}
			m, err := backup.Restore(f, cfg.DataDir, backup.RestoreOptions{
				Member: member, Node: src.Identity().String(), Force: force, Identities: ids,
				Logger: newLogger(cfg.Log, cmd.ErrOrStderr()),
			})
			switch {
			case errors.Is(err, backup.ErrIdentityRequired):
				return fmt.Errorf("--identity: %w", err)
			case errors.Is(err, backup.ErrWrongKey):
				return fmt.Errorf("--identity: %w; nothing was changed", err)
			case errors.Is(err, backup.ErrInvalid):
				return fmt.Errorf("--from %s: %w; nothing was changed", from, err)
			case err != nil:
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "restored the backup of %s made %s into %s:\n", m.Node, m.Time.Format(time.RFC3339), cfg.DataDir)
			enc := "age-encrypted"
			if !m.Encrypted {
				enc = "NOT encrypted"
			}
			fmt.Fprintf(out, "  archive sha256 %s (%s)\n", m.Digest, enc)
			for _, name := range []string{backup.StoreFile, backup.AuditFile, backup.KeyFile, backup.PersonKeysFile, backup.RegistryFile} {
				if fi, ok := m.Files[name]; ok {
					fmt.Fprintf(out, "  %-22s %12d bytes  sha256 %s\n", name, fi.Size, fi.SHA256)
				}
			}
			switch m.Audit.What.Reason {
			case audit.RestoreHistoryComplete:
				fmt.Fprintf(out, "audit log: complete; the restore is entry %d (the backup's log ends at entry %d)\n", m.Audit.Seq, m.Audit.What.ToSeq)
			case audit.RestoreHistoryMissing:
				fmt.Fprintf(out, "audit log: the node's own log was missing or damaged (kept beside as audit.log.replaced if there was one): the backup's was put back, and entries written after its entry %d are MISSING; the restore is entry %d\n", m.Audit.What.ToSeq, m.Audit.Seq)
			case audit.RestoreHistoryDiverged:
				fmt.Fprintf(out, "audit log: the node's own log and the backup's are of different histories: the node's stays live (the restore is entry %d), the backup's is kept in %s\n", m.Audit.Seq, filepath.Join(cfg.DataDir, "restored", backup.AuditFile))
			}
			fmt.Fprintln(out, "start the node; its registry state comes back from the other registry servers")
			return nil
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "the backup archive")
	cmd.Flags().StringArrayVar(&identities, "identity", nil, "an age identity file that decrypts the backup (repeatable; accordctl backup keygen makes one)")
	cmd.Flags().BoolVar(&force, "force", false, "replace an existing store (kept beside as .replaced)")
	return cmd
}
