// Command accordctl is the operator's and analyst's command line for an
// Accord node: certificates, peer checks, and (as they land) cases, evidence,
// the registry and matches. It parses flags and configuration and calls the
// packages; the work is done there.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/accordfed/accord/cmd/internal/cmdtree"
)

func main() {
	root := newRootCmd()
	if err := root.Execute(); err != nil {
		fmt.Fprintln(printTo(os.Stderr), "accordctl:", err)
		var ee exitError
		if errors.As(err, &ee) {
			os.Exit(ee.code)
		}
		os.Exit(1)
	}
}

// exitError carries a specific exit status out of a command.
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string { return e.err.Error() }
func (e exitError) Unwrap() error { return e.err }

func newRootCmd() *cobra.Command {
	g := &globalOptions{}
	root := &cobra.Command{
		Use:           "accordctl",
		Short:         "Operate an Accord node and work with the federation",
		Long:          "accordctl is the command line for an Accord node's operator and analysts: certificates (certs), peer checks (peers), and more as the node grows.",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			// Everything a command prints goes through one printer
			// that escapes what a terminal would act on.
			cmd.SetOut(printTo(cmd.OutOrStdout()))
			return g.validate()
		},
	}
	g.addFlags(root)
	root.AddCommand(newCertsCmd(g), newPeersCmd(g), newVersionCmd(g), newCasesCmd(g), newEvidenceCmd(g), newCustodyCmd(g))
	root.AddCommand(newRegistryCmds(g)...)
	root.AddCommand(newMemberCmd(g), newNodeCmd(g))
	root.AddCommand(newBackupCmd(g), newConsoleCmd(g))
	root.AddCommand(newFederationCmds(g)...)
	root.AddCommand(newPersonsCmd(g))
	root.AddCommand(newMatchCmd())
	wireIDCompletion(root, g)
	cmdtree.RejectUnknownSubcommands(root)
	return root
}
