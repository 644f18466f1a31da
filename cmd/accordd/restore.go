package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/accordfed/accord/federation/mtls"
	"github.com/accordfed/accord/node/backup"
	"github.com/accordfed/accord/node/store"
)

func newRestoreCmd(configPath *string) *cobra.Command {
	var from string
	var force bool
	cmd := &cobra.Command{
		Use:   "restore --config FILE --from BACKUP.tar",
		Short: "Restore a stopped node's data from a backup (made with accordctl backup)",
		Long: `restore checks a backup archive against its manifest (every file's size and
SHA-256, the member) and writes the store, the audit log and the record-signing
key into the node's data_dir. The node must be stopped. An existing store is
replaced only with --force; the files replaced are kept beside, with the suffix
.replaced. The registry's Raft state is not restored: when the node starts it
catches up from the other registry servers; the backup's registry snapshot is
kept in <data_dir>/restored/ for the record.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from == "" {
				return errors.New("--from: required (the backup archive)")
			}
			cfg, err := loadConfig(*configPath, nil)
			if err != nil {
				return err
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
			m, err := backup.Restore(f, cfg.DataDir, member, force)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "restored the backup of %s made %s into %s:\n", m.Node, m.Time.Format(time.RFC3339), cfg.DataDir)
			for _, name := range []string{backup.StoreFile, backup.AuditFile, backup.KeyFile, backup.RegistryFile} {
				if fi, ok := m.Files[name]; ok {
					fmt.Fprintf(out, "  %-22s %12d bytes  sha256 %s\n", name, fi.Size, fi.SHA256)
				}
			}
			fmt.Fprintln(out, "start the node; its registry state comes back from the other registry servers")
			return nil
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "the backup archive")
	cmd.Flags().BoolVar(&force, "force", false, "replace an existing store (kept beside as .replaced)")
	return cmd
}
