package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// newBackupCmd is `accordctl backup`: a backup of the node, through its
// local API (admins only), into one archive file.
func newBackupCmd(g *globalOptions) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "backup --out FILE",
		Short: "Back up the node's data (store, audit log, signing key, registry state) into one archive",
		Long: `backup asks the node for a consistent copy of its data while it keeps serving:
the store, the audit log, the record-signing key and a snapshot of the
registry's state, in a tar archive with a manifest of every file's SHA-256.
It needs the admin role. Restore it on a stopped node with
accordd restore --config FILE --from ARCHIVE. The archive holds the office's
cases with personal data and the node's signing key: keep it as the store
itself is kept.`,
		Example: `  accordctl --config ua-admin.yaml backup --out /backup/ua-$(date +%F).tar`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return errors.New("--out: required (the archive to write)")
			}
			c, err := openLocal(g, cmd)
			if err != nil {
				return err
			}
			defer c.Close()
			tmp, err := os.CreateTemp(filepath.Dir(out), ".backup-*")
			if err != nil {
				return err
			}
			defer os.Remove(tmp.Name())
			stream, err := accordv1.NewNodeAdminServiceClient(c.conn).Backup(cmd.Context(), &accordv1.BackupRequest{})
			if err != nil {
				return c.rpcError("backup", err)
			}
			var n int64
			for {
				resp, err := stream.Recv()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					tmp.Close()
					return c.rpcError("backup", err)
				}
				w, err := tmp.Write(resp.GetData())
				n += int64(w)
				if err != nil {
					tmp.Close()
					return err
				}
			}
			if err := tmp.Chmod(0o600); err != nil {
				tmp.Close()
				return err
			}
			if err := tmp.Sync(); err != nil {
				tmp.Close()
				return err
			}
			if err := tmp.Close(); err != nil {
				return err
			}
			if err := os.Rename(tmp.Name(), out); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "backup written: %s (%s)\n", out, formatBytes(n))
			return nil
		},
	}
	addLocalFlags(cmd)
	cmd.Flags().StringVar(&out, "out", "", "the archive to write (mode 0600)")
	return cmd
}
