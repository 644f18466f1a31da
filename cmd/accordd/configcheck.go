package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/accordfed/accord/node/config"
)

func newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Work with configuration files (check)",
	}
	cmd.AddCommand(newConfigCheckCmd())
	return cmd
}

func newConfigCheckCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "check FILE",
		Short: "Check a configuration file without starting the node",
		Long: `check reads a configuration file as accordd would before it starts, without
starting the node: unknown fields (with the closest known one), values of the
wrong type, every field's rules, and the files and folders it names
(certificate, key, trust bundle, CRL folder, user certificate and key, backup
recipients) that must exist. ACCORD_* environment variables are applied, as
when the node starts; flags are not.

It prints "FILE: OK" and exits 0, or prints every problem, one a line, as
FILE:LINE: field: reason, and exits 1.`,
		Example: "  accordd config check /etc/accord/node.yaml",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := args[0]
			probs := config.Check(path, os.Environ())
			if len(probs) == 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "%s: OK\n", path)
				return nil
			}
			for _, p := range probs {
				fmt.Fprintln(cmd.OutOrStdout(), p.Where())
			}
			return errors.New(plural(len(probs), "problem") + " in " + path)
		},
	}
}

// plural writes "1 problem" or "3 problems".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
