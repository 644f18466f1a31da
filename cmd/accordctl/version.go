package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/accordfed/accord/cmd/internal/buildinfo"
)

func newVersionCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := buildinfo.Version()
			if g.JSON() {
				return printJSON(cmd.OutOrStdout(), map[string]string{"version": v})
			}
			fmt.Fprintln(cmd.OutOrStdout(), "accordctl", v)
			return nil
		},
	}
}
