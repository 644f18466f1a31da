package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// ==== lead ====

func newLeadCmd(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "lead",
		Short: "Lead jurisdiction: propose which office leads a group of matched cases, consent, refuse",
		Long: `lead works with lead-jurisdiction proposals: that one member office leads the
prosecution of a group of cases of several offices (named with --cases, or
the cases of a confirmed match with --match). A proposal is agreed once every
involved office consents, and refused once one refuses.

A proposal is named by its id (lead-000001) or its resource name
(leadProposals/lead-000001). Every write takes --request-id: the registry
applies a request id at most once, so a write that timed out can be retried
with the id printed.`,
		Example: `  accordctl --config ua.yaml lead propose --cases UA/UA-2022-000001,PL/PL-2023-17 --lead UA
  accordctl --config pl.yaml lead consent PROPOSAL-ID
  accordctl --config pl.yaml lead list --awaiting`,
	}
	addRegistryFlags(cmd)
	cmd.AddCommand(newLeadProposeCmd(g), newLeadAnswerCmd(g, true), newLeadAnswerCmd(g, false), newLeadListCmd(g), newLeadShowCmd(g))
	return cmd
}

func leadArg(s string) string { return resourceName("leadProposals", s) }

func newLeadProposeCmd(g *globalOptions) *cobra.Command {
	var (
		wf                writeFlags
		cases             []string
		match, lead, note string
	)
	cmd := &cobra.Command{
		Use:   "propose (--cases MEMBER/CASE_ID,... | --match MATCH) --lead MEMBER [--note TEXT]",
		Short: "Propose which office leads a group of cases",
		Long: `propose proposes that --lead leads the prosecution of a group of cases: two or
more cases of two or more offices given with --cases (MEMBER/CASE_ID, comma-
separated or repeated), or the cases of a confirmed match decision (--match).
This office and the lead must hold cases of the group. Prints the
proposal's id; every involved office then consents or refuses.`,
		Example: `  accordctl --config ua.yaml lead propose --cases UA/UA-2022-000001,PL/PL-2023-17 --lead UA --note "most evidence held in Kharkiv"
  accordctl --config ua.yaml lead propose --match MATCH-ID --lead PL`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := regMemberArg("--lead", lead); err != nil {
				return err
			}
			p := &accordv1.LeadProposal{Lead: lead, Note: note}
			for _, s := range cases {
				r, err := regCaseRef("--cases", s)
				if err != nil {
					return err
				}
				p.Cases = append(p.Cases, r)
			}
			if match != "" {
				p.Match = matchArg(match)
			}
			return apiWrite(cmd, g, &wf, "lead propose", func(ctx context.Context, c *coordClient, rid string) (*accordv1.LeadProposal, error) {
				r, err := c.coord.CreateLeadProposal(ctx, &accordv1.CreateLeadProposalRequest{LeadProposal: p, RequestId: rid})
				return r.GetLeadProposal(), err
			}, func(_ *coordClient, r *accordv1.LeadProposal) string {
				return fmt.Sprintf("proposed %s as lead: proposal %s (%s)", lead, shortID(r.GetName()), word(r.GetState(), "LEAD_PROPOSAL_STATE_"))
			})
		},
	}
	cmd.Flags().StringSliceVar(&cases, "cases", nil, "the cases, MEMBER/CASE_ID, comma-separated")
	cmd.Flags().StringVar(&match, "match", "", "a confirmed match decision whose cases form the group")
	cmd.Flags().StringVar(&lead, "lead", "", "the member office proposed to lead (required)")
	cmd.Flags().StringVar(&note, "note", "", "why (recorded with the proposal)")
	cmd.MarkFlagsOneRequired("cases", "match")
	cmd.MarkFlagsMutuallyExclusive("cases", "match")
	_ = cmd.MarkFlagRequired("lead")
	wf.add(cmd)
	return cmd
}

func newLeadAnswerCmd(g *globalOptions, consent bool) *cobra.Command {
	var wf writeFlags
	verb, done, short := "refuse", "refused", "Refuse a lead proposal this office is involved in"
	if consent {
		verb, done, short = "consent", "consented to", "Consent to a lead proposal this office is involved in"
	}
	cmd := &cobra.Command{
		Use:     verb + " PROPOSAL",
		Short:   short,
		Example: "  accordctl --config pl.yaml lead " + verb + " PROPOSAL-ID",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return apiWrite(cmd, g, &wf, "lead "+verb+" "+args[0], func(ctx context.Context, c *coordClient, rid string) (*accordv1.LeadProposal, error) {
				r, err := c.coord.ConsentLeadProposal(ctx, &accordv1.ConsentLeadProposalRequest{Name: leadArg(args[0]), Answer: answerOf(consent), RequestId: rid})
				return r.GetLeadProposal(), err
			}, func(_ *coordClient, r *accordv1.LeadProposal) string {
				return fmt.Sprintf("%s %s (proposal now %s)", done, args[0], word(r.GetState(), "LEAD_PROPOSAL_STATE_"))
			})
		},
	}
	wf.add(cmd)
	return cmd
}

var leadStates = map[string]accordv1.LeadProposalState{
	"proposed": accordv1.LeadProposalState_LEAD_PROPOSAL_STATE_PROPOSED,
	"agreed":   accordv1.LeadProposalState_LEAD_PROPOSAL_STATE_AGREED,
	"refused":  accordv1.LeadProposalState_LEAD_PROPOSAL_STATE_REFUSED,
}

func newLeadListCmd(g *globalOptions) *cobra.Command {
	var (
		rf       readFlags
		status   string
		awaiting bool
	)
	cmd := &cobra.Command{
		Use:   "list [--status proposed|agreed|refused] [--awaiting]",
		Short: "List the lead proposals this office is involved in",
		Example: `  accordctl --config pl.yaml lead list
  accordctl --config pl.yaml lead list --awaiting`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req := &accordv1.ListLeadProposalsRequest{AwaitingAnswer: awaiting, Stale: rf.stale, PageSize: 1000}
			if status != "" {
				st, ok := leadStates[status]
				if !ok {
					return fmt.Errorf("--status %q: must be proposed, agreed or refused", status)
				}
				req.State = st
			}
			return apiRead(cmd, g, "lead list", func(ctx context.Context, c *coordClient) (*accordv1.ListLeadProposalsResponse, error) {
				all, err := listPages(0, func(token string) ([]*accordv1.LeadProposal, string, error) {
					req.PageToken = token
					r, err := c.coord.ListLeadProposals(ctx, req)
					return r.GetLeadProposals(), r.GetNextPageToken(), err
				})
				return &accordv1.ListLeadProposalsResponse{LeadProposals: all, TotalSize: int32(len(all))}, err
			}, func(w io.Writer, _ *coordClient, r *accordv1.ListLeadProposalsResponse) {
				tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "PROPOSAL\tSTATUS\tLEAD\tCASES\tANSWERS\tPROPOSED")
				if len(r.GetLeadProposals()) == 0 {
					fmt.Fprintln(tw, "(no lead proposals)\t\t\t\t\t")
				}
				for _, a := range r.GetLeadProposals() {
					proposed := "-"
					if t := a.GetCreate().GetTime(); t != nil {
						proposed = regTime(t.AsTime())
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", shortID(a.GetName()), word(a.GetState(), "LEAD_PROPOSAL_STATE_"), a.GetLead(),
						truncate(strings.Join(apiCases(a.GetCases()), ", "), listTitleWidth), apiAnswers(a.GetConsents()), proposed)
				}
				_ = tw.Flush()
			})
		},
	}
	cmd.Flags().StringVar(&status, "status", "", "only proposals with this status: proposed, agreed or refused")
	cmd.Flags().BoolVar(&awaiting, "awaiting", false, "only proposals waiting for this office's answer")
	rf.add(cmd)
	return cmd
}

func newLeadShowCmd(g *globalOptions) *cobra.Command {
	var rf readFlags
	cmd := &cobra.Command{
		Use:     "show PROPOSAL",
		Short:   "Show a lead proposal: cases, lead, and each office's answer",
		Example: `  accordctl --config pl.yaml lead show PROPOSAL-ID`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return apiRead(cmd, g, "lead show "+args[0], func(ctx context.Context, c *coordClient) (*accordv1.LeadProposal, error) {
				r, err := c.coord.GetLeadProposal(ctx, &accordv1.GetLeadProposalRequest{Name: leadArg(args[0]), Stale: rf.stale})
				return r.GetLeadProposal(), err
			}, func(w io.Writer, _ *coordClient, a *accordv1.LeadProposal) { printLead(w, a) })
		},
	}
	rf.add(cmd)
	return cmd
}

func printLead(w io.Writer, a *accordv1.LeadProposal) {
	fmt.Fprintf(w, "%s  lead %s\n", shortID(a.GetName()), a.GetLead())
	regRow(w, "status", word(a.GetState(), "LEAD_PROPOSAL_STATE_"))
	if a.GetMatch() != "" {
		regRow(w, "match", shortID(a.GetMatch()))
	}
	if a.GetNote() != "" {
		regRow(w, "note", oneLine(a.GetNote()))
	}
	regRow(w, "proposed", apiChange(a.GetCreate()))
	regRow(w, "updated", apiChange(a.GetUpdate()))
	fmt.Fprintf(w, "cases (%d):\n", len(a.GetCases()))
	for _, c := range a.GetCases() {
		fmt.Fprintf(w, "  %s\n", apiCase(c))
	}
	printAnswers(w, a.GetConsents())
}
