package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// globalOptions are the flags every accordctl command shares.
type globalOptions struct {
	configPath string
	output     string
}

func (g *globalOptions) addFlags(root *cobra.Command) {
	root.PersistentFlags().StringVar(&g.configPath, "config", "", "node configuration file (as for accordd); gives this CLI its certificate, key and trust bundle")
	root.PersistentFlags().StringVarP(&g.output, "output", "o", "text", "output format for data: text or json")
	_ = root.RegisterFlagCompletionFunc("output", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return []string{"text", "json"}, cobra.ShellCompDirectiveNoFileComp
	})
}

func (g *globalOptions) validate() error {
	if g.output != "text" && g.output != "json" {
		return fmt.Errorf("--output %q: must be text or json", g.output)
	}
	return nil
}

// JSON reports whether data should be printed as JSON.
func (g *globalOptions) JSON() bool { return g.output == "json" }

// printJSON writes v as indented JSON.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
