package main

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/accordfed/accord/node/backup"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// newBackupCmd is `accordctl backup`: a backup of the node, through its
// local API (admins only), into one archive file.
func newBackupCmd(g *globalOptions) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "backup --out FILE",
		Short: "Back up the node's data (store, audit log, signing key, registry state) into one encrypted archive",
		Long: `backup asks the node for a consistent copy of its data while it keeps serving:
the store, the audit log, the record-signing key and a snapshot of the
registry's state, in a tar archive with a manifest of every file's SHA-256,
encrypted by the node (age) to the office's backup recipients
(backup.recipients in the node's configuration). The node refuses to make a
backup when it has no recipients, unless its configuration says
backup.unencrypted: true; an unencrypted archive is written with a warning.
It needs the admin role. backup prints the archive's SHA-256: note it down,
the restore records it in the audit log. Restore it on a stopped node with
accordd restore --config FILE --from ARCHIVE --identity KEY. Make the office's
key pair with accordctl backup keygen.`,
		Example: `  accordctl --config ua-admin.yaml backup --out /backup/ua-$(date +%F).tar.age`,
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
			digest := sha256.New()
			var head []byte // the first bytes: age's header or not
			for {
				resp, err := stream.Recv()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					tmp.Close()
					return c.rpcError("backup", err)
				}
				if len(head) < 64 {
					head = append(head, resp.GetData()[:min(len(resp.GetData()), 64-len(head))]...)
				}
				digest.Write(resp.GetData())
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
			if backup.IsEncrypted(head) {
				fmt.Fprintf(cmd.OutOrStdout(), "backup written: %s (%s, age-encrypted to the office's backup recipients)\nsha256 %x\n", out, formatBytes(n), digest.Sum(nil))
				return nil
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "WARNING: the backup is NOT encrypted (the node's configuration sets backup.unencrypted): it holds the office's cases and the node's signing key in clear\n")
			fmt.Fprintf(cmd.OutOrStdout(), "backup written: %s (%s, unencrypted)\nsha256 %x\n", out, formatBytes(n), digest.Sum(nil))
			return nil
		},
	}
	addLocalFlags(cmd)
	cmd.Flags().StringVar(&out, "out", "", "the archive to write (mode 0600)")
	cmd.AddCommand(newBackupKeygenCmd())
	return cmd
}

// newBackupKeygenCmd is `accordctl backup keygen`: the office's backup key
// pair.
func newBackupKeygenCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "keygen --out FILE",
		Short: "Make the office's backup key pair: an age identity file (mode 0600) and its recipient",
		Long: `keygen makes an X25519 key pair for the office's backups. It writes the
identity (the private key) to --out, mode 0600, in age-keygen's format (age -d -i
FILE reads it too), refusing a file that exists, and prints the recipient (the
public key, age1...): put it in backup.recipients of the node's configuration.
Keep the identity file off the node and away from the backups (offline, or in
the office's secrets store): whoever holds it can read every backup made to its
recipient. Give several recipients (one per custodian) so that losing one
identity loses no backup.`,
		Example: `  accordctl backup keygen --out /secure/ua-backup-key.txt`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return errors.New("--out: required (the identity file to write)")
			}
			rcpt, err := backup.WriteIdentity(out, time.Now())
			if err != nil {
				return fmt.Errorf("--out: %w", err)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "identity written to %s (mode 0600); the recipient, for backup.recipients:\n", out)
			fmt.Fprintln(cmd.OutOrStdout(), rcpt)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "the identity file to write (mode 0600; must not exist)")
	return cmd
}
