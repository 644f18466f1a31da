package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/accordfed/accord/node/caseformat"
	"github.com/accordfed/accord/node/casegen"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// addFederationFlags gives `cases generate` its federation mode:
// --federation UA,PL,DE --incidents N --out DIR writes the cases of several
// members about common incidents, DIR/cases-XX.jsonl per member, and the
// pairs of cases that concern a common incident, DIR/truth.jsonl. Without
// --federation the command writes one member's cases (and needs --member).
func addFederationFlags(cmd *cobra.Command, single *casegen.Options, out *string) {
	var (
		members string
		opts    casegen.FederationOptions
	)
	cmd.Use = "generate (--member CODE --cases N [--out FILE] | --federation CODE,CODE,... --incidents N --out DIR) [--seed S]"
	cmd.Long += `

With --federation, generate writes the cases of several members about N common
incidents instead: about a third of the incidents are investigated by two or
three members, each writing its cases its own way (title language, spelling of
places and persons, UTC or Kyiv time, precision, coordinates, unit names, crime
codes, some evidence in common). It writes DIR/cases-<MEMBER>.jsonl for each
member and DIR/truth.jsonl, the pairs of cases that concern a common incident
({"a": ..., "b": ...}, a < b), the dataset layout that accordctl match reads.`
	cmd.Example += `
  accordctl cases generate --federation UA,PL,DE,LT,NL --incidents 20000 --out fed/`
	cmd.Flags().StringVar(&members, "federation", "", "comma-separated member codes: generate a federation's cases into the directory --out")
	cmd.Flags().IntVar(&opts.Incidents, "incidents", 1000, "with --federation: how many distinct incidents")
	cmd.Flags().Float64Var(&opts.SharedFraction, "shared-fraction", casegen.DefaultSharedFraction, "with --federation: share of incidents investigated by two or three members")
	runSingle := cmd.RunE
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		fl := cmd.Flags()
		if members == "" {
			for _, name := range []string{"incidents", "shared-fraction"} {
				if fl.Changed(name) {
					return fmt.Errorf("--%s needs --federation", name)
				}
			}
			if single.Member == "" {
				return errors.New(`required flag "member" not set (or use --federation)`)
			}
			return runSingle(cmd, args)
		}
		if fl.Changed("member") || fl.Changed("cases") {
			return errors.New("--federation generates every member's cases: leave out --member and --cases (use --incidents)")
		}
		if *out == "" {
			return errors.New("--federation needs --out DIR")
		}
		for _, m := range strings.Split(members, ",") {
			opts.Members = append(opts.Members, strings.TrimSpace(m))
		}
		opts.Seed, opts.StartYear = single.Seed, single.StartYear
		if opts.SharedFraction == 0 {
			opts.SharedFraction = -1 // asked for none
		}
		if err := opts.Validate(); err != nil {
			return err
		}
		counts, pairs, err := writeFederation(*out, opts)
		if err != nil {
			return err
		}
		var sb strings.Builder
		for _, m := range opts.Members {
			fmt.Fprintf(&sb, " %s %d,", m, counts[m])
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "wrote %d incidents to %s: cases%s %d truth pairs\n",
			opts.Incidents, *out, strings.TrimSuffix(sb.String(), ","), pairs)
		return nil
	}
}

// writeFederation writes the federation's files into dir (created if
// needed) and returns the number of cases of each member and of pairs.
func writeFederation(dir string, opts casegen.FederationOptions) (map[string]int, int, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, 0, fmt.Errorf("--out: %w", err)
	}
	type file struct {
		f *os.File
		w *bufio.Writer
	}
	files := map[string]*file{}
	closeAll := func() {
		for _, f := range files {
			f.f.Close()
		}
	}
	open := func(name string) (*file, error) {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("--out: %w", err)
		}
		return &file{f, bufio.NewWriterSize(f, 256<<10)}, nil
	}
	for _, m := range opts.Members {
		f, err := open("cases-" + m + ".jsonl")
		if err != nil {
			closeAll()
			return nil, 0, err
		}
		files[m] = f
	}
	truth, err := open("truth.jsonl")
	if err != nil {
		closeAll()
		return nil, 0, err
	}
	files[""] = truth // no member code is empty

	counts := map[string]int{}
	pairs := 0
	line := make([]byte, 0, 4096)
	err = casegen.GenerateFederation(opts, func(m string, c *accordv1.Case) error {
		var err error
		if line, err = caseformat.Append(line[:0], c); err != nil {
			return fmt.Errorf("%s: %w", c.CaseId, err)
		}
		counts[m]++
		_, err = files[m].w.Write(append(line, '\n'))
		return err
	}, func(a, b string) error {
		pairs++
		_, err := fmt.Fprintf(truth.w, "{\"a\": %q, \"b\": %q}\n", a, b)
		return err
	})
	if err != nil {
		closeAll()
		return nil, 0, err
	}
	for _, f := range files {
		if err := f.w.Flush(); err != nil {
			closeAll()
			return nil, 0, err
		}
	}
	for k, f := range files {
		delete(files, k)
		if err := f.f.Close(); err != nil {
			closeAll()
			return nil, 0, err
		}
	}
	return counts, pairs, nil
}
