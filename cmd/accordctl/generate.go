package main

import (
	"bufio"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/accordfed/accord/node/casegen"
)

// newCasesGenerateCmd writes synthetic cases with the project's generator.
func newCasesGenerateCmd() *cobra.Command {
	var (
		opts casegen.Options
		out  string
	)
	cmd := &cobra.Command{
		Use:   "generate --member CODE --cases N [--seed S] [--out FILE]",
		Short: "Write synthetic cases in the interchange format (for tests, benchmarks and demos)",
		Long: `generate writes N realistic but invented cases of one member in the case
interchange format, with the project's seeded generator (node/casegen): the same
member, count and seed always give the same file. Names, places and hashes are
made up; use it to try a node, to benchmark, or for a demo, never as data.`,
		Example: `  accordctl cases generate --member UA --cases 5000 --out ua.jsonl
  accordctl cases generate --member PL --cases 1000000 --seed 7 > pl.jsonl`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := opts.Validate(); err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			var f *os.File
			if out != "" {
				var err error
				if f, err = os.Create(out); err != nil {
					return fmt.Errorf("--out: %w", err)
				}
				w = f
			}
			bw := bufio.NewWriterSize(w, 1<<20)
			if err := casegen.WriteJSONL(bw, opts); err != nil {
				if f != nil {
					f.Close()
				}
				return err
			}
			if err := bw.Flush(); err != nil {
				return err
			}
			if f != nil {
				if err := f.Close(); err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "wrote %d cases of %s to %s\n", opts.Cases, opts.Member, out)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&opts.Member, "member", "", "member code of the office the cases belong to (required)")
	cmd.Flags().IntVar(&opts.Cases, "cases", 1000, "how many cases")
	cmd.Flags().Uint64Var(&opts.Seed, "seed", 1, "generator seed")
	cmd.Flags().IntVar(&opts.StartYear, "start-year", 2022, "first year of the incidents")
	cmd.Flags().StringVar(&out, "out", "", "file to write (default standard output)")
	addFederationFlags(cmd, &opts, &out) // --federation; --member is required without it
	return cmd
}
