package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/accordfed/accord/federation/registry"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// newMatchesCmd is `accordctl matches`: the registry's match decisions this
// office is involved in, and its answers to them.
func newMatchesCmd(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "matches",
		Short: "Cases of several members found to concern the same incident: list, show, confirm, reject",
		Long: `matches works with the registry's match decisions this office is involved in:
groups of cases of several members that the matching engine found to concern
the same incident, with a score and the reasons in words. Each involved
office confirms or rejects for itself; a group is confirmed when every
involved office confirms it, rejected as soon as one rejects. A confirmed
group can get a lead-jurisdiction proposal (accordctl lead propose --match)
and feed a joint investigation team.`,
		Example: `  accordctl --config ua.yaml matches list
  accordctl --config ua.yaml matches show MATCH-ID
  accordctl --config ua.yaml matches confirm MATCH-ID
  accordctl --config ua.yaml lead propose --match MATCH-ID --lead UA`,
	}
	addRegistryFlags(cmd)
	cmd.AddCommand(newMatchesListCmd(g), newMatchesShowCmd(g), newMatchesDecideCmd(g, true), newMatchesDecideCmd(g, false))
	return cmd
}

func newMatchesListCmd(g *globalOptions) *cobra.Command {
	var rf readFlags
	var status string
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List the match decisions this office is involved in",
		Example: `  accordctl --config pl.yaml matches list --status proposed`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch status {
			case "", string(registry.MatchProposed), string(registry.MatchConfirmed), string(registry.MatchRejected):
			default:
				return fmt.Errorf("--status %q: must be proposed, confirmed or rejected", status)
			}
			var ms []registry.MatchDecision
			if printed, err := runQuery(cmd, g, rf, "matches list", "matches", "", nil, &ms); printed || err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "MATCH\tSTATUS\tSCORE\tCASES\tANSWERS\tREASONS")
			shown := 0
			for _, m := range ms {
				if status != "" && string(m.Status) != status {
					continue
				}
				shown++
				var cs, ans []string
				for _, c := range m.Cases {
					cs = append(cs, c.String())
				}
				for _, c := range m.Decisions {
					ans = append(ans, c.Member+" "+string(c.Answer))
				}
				fmt.Fprintf(tw, "%s\t%s\t%.2f\t%s\t%s\t%s\n", m.ID, m.Status, m.Score, strings.Join(cs, ", "),
					strings.Join(ans, ", "), truncate(strings.Join(m.Reasons, "; "), listTitleWidth))
			}
			if shown == 0 {
				fmt.Fprintln(tw, "(no match decisions)\t\t\t\t\t")
			}
			return tw.Flush()
		},
	}
	rf.add(cmd)
	cmd.Flags().StringVar(&status, "status", "", "only decisions with this status: proposed, confirmed or rejected")
	return cmd
}

func newMatchesShowCmd(g *globalOptions) *cobra.Command {
	return newShowCmd(g, "show MATCH", "Show a match decision: cases, score, reasons, and each office's answer",
		`  accordctl --config pl.yaml matches show MATCH-ID`, "matches show", "match", printMatch)
}

func printMatch(w io.Writer, m registry.MatchDecision) {
	fmt.Fprintf(w, "%s  %s  score %.2f\n", m.ID, m.Status, m.Score)
	regRow(w, "proposed", regChange(m.Created))
	regRow(w, "updated", regChange(m.Updated))
	fmt.Fprintf(w, "cases (%d):\n", len(m.Cases))
	for _, c := range m.Cases {
		v := ""
		if n, ok := m.Versions[c.String()]; ok {
			v = fmt.Sprintf("  (version %d)", n)
		}
		fmt.Fprintf(w, "  %s%s\n", c, v)
	}
	fmt.Fprintf(w, "reasons (%d):\n", len(m.Reasons))
	for _, r := range m.Reasons {
		fmt.Fprintf(w, "  %s\n", r)
	}
	fmt.Fprintf(w, "answers (%d):\n", len(m.Decisions))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range m.Decisions {
		when := "-"
		if c.Change != nil {
			when = regChange(*c.Change)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", c.Member, c.Answer, when)
	}
	_ = tw.Flush()
}

func newMatchesDecideCmd(g *globalOptions, confirm bool) *cobra.Command {
	var wf writeFlags
	verb, done := "reject", "rejected"
	short := "Reject a match for this office: the cases are not the same incident"
	if confirm {
		verb, done = "confirm", "confirmed"
		short = "Confirm a match for this office: the cases concern the same incident"
	}
	cmd := &cobra.Command{
		Use:     verb + " MATCH",
		Short:   short,
		Example: "  accordctl --config pl.yaml matches " + verb + " MATCH-ID",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runWrite(cmd, g, &wf, regWrite{
				what: "matches " + verb + " " + args[0],
				build: func(context.Context, *coordClient) (registry.Payload, error) {
					return registry.DecideMatch{Match: args[0], Confirm: confirm}, nil
				},
				describe: func(r *accordv1.ExecuteResponse) string {
					return fmt.Sprintf("%s %s for this office; the decision is now %s", done, args[0], r.GetStatus())
				},
			})
		},
	}
	wf.add(cmd)
	return cmd
}
