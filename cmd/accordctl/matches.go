package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// newMatchesCmd is `accordctl matches`: the registry's match decisions this
// office is involved in, and its answers to them.
func newMatchesCmd(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "matches",
		Short: "Cases of several members found to concern the same incident: queue, list, show, compare, confirm, reject, answer-rule, watch",
		Long: `matches works with the registry's match decisions this office is involved in:
groups of cases of several members that the matching engine found to concern
the same incident, with a score and the reasons in words. Each involved
office confirms or rejects for itself; a group is confirmed when every
involved office confirms it, rejected as soon as one rejects. A confirmed
group can get a lead-jurisdiction proposal (accordctl lead propose --match)
and feed a joint investigation team.

A decision is named by its id (match-000001) or its resource name
(matchDecisions/match-000001).`,
		Example: `  accordctl --config ua.yaml matches list --awaiting
  accordctl --config ua.yaml matches show MATCH-ID
  accordctl --config ua.yaml matches compare MATCH-ID
  accordctl --config ua.yaml matches confirm MATCH-ID
  accordctl --config ua.yaml matches reject MATCH-ID --reason 'another village'
  accordctl --config ua.yaml matches answer-rule --answer yes --min-score 0.99 --shared-evidence 1
  accordctl --config ua.yaml matches watch --awaiting
  accordctl --config ua.yaml matches model
  accordctl --config ua.yaml lead propose --match MATCH-ID --lead UA`,
	}
	addRegistryFlags(cmd)
	cmd.AddCommand(newMatchesListCmd(g), newMatchesShowCmd(g), newMatchesDecideCmd(g, true), newMatchesDecideCmd(g, false), newMatchesQueueCmd(g), newMatchesWatchCmd(g), newMatchesModelCmd(g),
		newMatchesCompareCmd(g), newMatchesAnswerRuleCmd(g))
	return cmd
}

func matchArg(s string) string { return resourceName("matchDecisions", s) }

var matchStates = map[string]accordv1.MatchDecisionState{
	"proposed":  accordv1.MatchDecisionState_MATCH_DECISION_STATE_PROPOSED,
	"confirmed": accordv1.MatchDecisionState_MATCH_DECISION_STATE_CONFIRMED,
	"rejected":  accordv1.MatchDecisionState_MATCH_DECISION_STATE_REJECTED,
}

func newMatchesListCmd(g *globalOptions) *cobra.Command {
	var (
		rf              readFlags
		status, caseArg string
		member          string
		awaiting        bool
		limit           int
	)
	cmd := &cobra.Command{
		Use:   "list [--status proposed|confirmed|rejected] [--awaiting] [--case MEMBER/CASE_ID] [--member M] [--limit N]",
		Short: "List the match decisions this office is involved in",
		Example: `  accordctl --config pl.yaml matches list --awaiting
  accordctl --config pl.yaml matches list --status confirmed --member UA
  accordctl --config pl.yaml matches list --case PL/PL-2023-17`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req := &accordv1.ListMatchDecisionsRequest{AwaitingAnswer: awaiting, Member: member, Stale: rf.stale, PageSize: 1000}
			if status != "" {
				st, ok := matchStates[status]
				if !ok {
					return fmt.Errorf("--status %q: must be proposed, confirmed or rejected", status)
				}
				req.State = st
			}
			if err := matchFilterFlags(req, caseArg); err != nil {
				return err
			}
			if limit < 0 {
				return fmt.Errorf("--limit %d: must not be negative", limit)
			}
			return apiRead(cmd, g, "matches list", func(ctx context.Context, c *coordClient) (*accordv1.ListMatchDecisionsResponse, error) {
				total := int32(0)
				all, err := listPages(limit, func(token string) ([]*accordv1.MatchDecision, string, error) {
					req.PageToken = token
					r, err := c.coord.ListMatchDecisions(ctx, req)
					total = r.GetTotalSize()
					return r.GetMatchDecisions(), r.GetNextPageToken(), err
				})
				return &accordv1.ListMatchDecisionsResponse{MatchDecisions: all, TotalSize: total}, err
			}, func(w io.Writer, _ *coordClient, r *accordv1.ListMatchDecisionsResponse) {
				tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "MATCH\tSTATUS\tSCORE\tCASES\tANSWERS\tREASONS")
				if len(r.GetMatchDecisions()) == 0 {
					fmt.Fprintln(tw, "(no match decisions)\t\t\t\t\t")
				}
				for _, m := range r.GetMatchDecisions() {
					fmt.Fprintf(tw, "%s\t%s\t%.2f\t%s\t%s\t%s\n", shortID(m.GetName()), word(m.GetState(), "MATCH_DECISION_STATE_"), m.GetScore(),
						strings.Join(apiCases(m.GetCases()), ", "), apiAnswers(m.GetAnswers()), truncate(strings.Join(m.GetReasons(), "; "), listTitleWidth))
				}
				_ = tw.Flush()
				if n := int(r.GetTotalSize()); n > len(r.GetMatchDecisions()) {
					fmt.Fprintf(w, "(%s of %s shown; --limit 0 lists all)\n", formatCount(int64(len(r.GetMatchDecisions()))), formatCount(int64(n)))
				}
			})
		},
	}
	cmd.Flags().StringVar(&status, "status", "", "only decisions with this status: proposed, confirmed or rejected")
	cmd.Flags().BoolVar(&awaiting, "awaiting", false, "only decisions waiting for this office's answer")
	cmd.Flags().StringVar(&caseArg, "case", "", "only decisions that group this case, MEMBER/CASE_ID")
	cmd.Flags().StringVar(&member, "member", "", "only decisions that also involve this member office")
	cmd.Flags().IntVar(&limit, "limit", 0, "list at most this many (0: all)")
	rf.add(cmd)
	return cmd
}

func newMatchesShowCmd(g *globalOptions) *cobra.Command {
	var rf readFlags
	cmd := &cobra.Command{
		Use:     "show MATCH",
		Short:   "Show a match decision: cases, score, reasons, and each office's answer",
		Example: `  accordctl --config pl.yaml matches show MATCH-ID`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return apiRead(cmd, g, "matches show "+args[0], func(ctx context.Context, c *coordClient) (*accordv1.MatchDecision, error) {
				r, err := c.coord.GetMatchDecision(ctx, &accordv1.GetMatchDecisionRequest{Name: matchArg(args[0]), Stale: rf.stale})
				return r.GetMatchDecision(), err
			}, func(w io.Writer, _ *coordClient, m *accordv1.MatchDecision) { printMatch(w, m) })
		},
	}
	rf.add(cmd)
	return cmd
}

func printMatch(w io.Writer, m *accordv1.MatchDecision) {
	fmt.Fprintf(w, "%s  %s  score %.2f\n", shortID(m.GetName()), word(m.GetState(), "MATCH_DECISION_STATE_"), m.GetScore())
	regRow(w, "proposed", apiChange(m.GetCreate()))
	regRow(w, "updated", apiChange(m.GetUpdate()))
	fmt.Fprintf(w, "cases (%d):\n", len(m.GetCases()))
	for _, c := range m.GetCases() {
		v := ""
		if n, ok := m.GetCaseVersions()[apiCase(c)]; ok {
			v = fmt.Sprintf("  (version %d)", n)
		}
		fmt.Fprintf(w, "  %s%s\n", apiCase(c), v)
	}
	fmt.Fprintf(w, "reasons (%d):\n", len(m.GetReasons()))
	for _, r := range m.GetReasons() {
		fmt.Fprintf(w, "  %s\n", r)
	}
	printAnswers(w, m.GetAnswers())
	printAnswerHistory(w, m.GetHistory())
	printWaterfall(w, m.GetExplanation())
}

// printAnswerHistory prints every answer given, oldest first, with its
// reason: what `matches show` adds to the current answers.
func printAnswerHistory(w io.Writer, hist []*accordv1.MemberAnswer) {
	if len(hist) == 0 {
		return
	}
	fmt.Fprintf(w, "history (%d):\n", len(hist))
	for _, a := range hist {
		fmt.Fprintf(w, "  %s  %s  %s\n", a.GetMember(), word(a.GetAnswer(), "ANSWER_"), apiChange(a.GetChange()))
		if r := a.GetReason(); r != "" {
			fmt.Fprintf(w, "      reason: %s\n", r)
		}
	}
}

// printWaterfall prints how the score came about: the prior's weight,
// then each comparison's level and match weight (log2 Bayes factor) with
// the running total, then the final probability.
func printWaterfall(w io.Writer, e *accordv1.MatchExplanation) {
	if e == nil {
		fmt.Fprintln(w, "score explanation: none (proposed by an earlier build, or by hand)")
		return
	}
	fmt.Fprintln(w, "how the score came about (match weights, log2 of Bayes factors):")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  COMPARISON\tLEVEL\tWEIGHT\tTOTAL\t")
	total := e.GetPriorWeight()
	fmt.Fprintf(tw, "  prior\t%.4f of candidate pairs match\t%+.2f\t%+.2f\t%s\n", e.GetPrior(), e.GetPriorWeight(), total, bar(e.GetPriorWeight()))
	for _, c := range e.GetComparisons() {
		if !c.GetObserved() {
			fmt.Fprintf(tw, "  %s\t(not observed)\t%+.2f\t%+.2f\t\n", c.GetName(), 0.0, total)
			continue
		}
		total += c.GetWeight()
		fmt.Fprintf(tw, "  %s\t%s\t%+.2f\t%+.2f\t%s\n", c.GetName(), c.GetLabel(), c.GetWeight(), total, bar(c.GetWeight()))
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "  total weight %+.2f -> probability 1/(1+2^-%.2f) = %.4f\n", e.GetWeight(), e.GetWeight(), e.GetProbability())
}

// bar draws a weight as a bar of + or - (one per unit, at most 20).
func bar(weight float64) string {
	n := min(int(math.Abs(weight)+0.5), 20)
	if weight < 0 {
		return strings.Repeat("-", n)
	}
	return strings.Repeat("+", n)
}

func newMatchesDecideCmd(g *globalOptions, confirm bool) *cobra.Command {
	var (
		wf     writeFlags
		reason string
	)
	verb, done := "reject", "rejected"
	short := "Reject a match for this office (--reason required): the cases are not the same incident"
	use := "reject MATCH --reason TEXT"
	if confirm {
		verb, done = "confirm", "confirmed"
		short = "Confirm a match for this office: the cases concern the same incident"
		use = "confirm MATCH [--reason TEXT]"
	}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Long: short + `.

An office that answered already may answer again, to change its answer
(confirm after reject, or reject after confirm) or to give a new reason:
the new answer is the office's current one, and the decision keeps every
answer in its history (matches show). The decision is rejected while one
office's current answer is no, confirmed when all are yes. The reason is
copied to every member's registry: never write a person's name in it.`,
		Example: "  accordctl --config pl.yaml matches " + verb + " MATCH-ID --reason 'different night: our case is 14 March'",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !confirm && strings.TrimSpace(reason) == "" {
				return fmt.Errorf("--reason: required with reject: say why the cases do not concern the same incident")
			}
			return apiWrite(cmd, g, &wf, "matches "+verb+" "+args[0], func(ctx context.Context, c *coordClient, rid string) (*accordv1.MatchDecision, error) {
				r, err := c.coord.DecideMatch(ctx, &accordv1.DecideMatchRequest{Name: matchArg(args[0]), Answer: answerOf(confirm), Reason: reason, RequestId: rid})
				return r.GetMatchDecision(), err
			}, func(_ *coordClient, r *accordv1.MatchDecision) string {
				msg := fmt.Sprintf("%s %s for this office; the decision is now %s", done, args[0], word(r.GetState(), "MATCH_DECISION_STATE_"))
				if reason != "" && !slices.ContainsFunc(r.GetAnswers(), func(a *accordv1.MemberAnswer) bool { return a.GetReason() == reason }) {
					msg += " (the reason was not recorded: a registry server still runs an earlier build)"
				}
				return msg
			})
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why (required with reject; at most 1000 bytes; never a person's name)")
	wf.add(cmd)
	return cmd
}

func newMatchesModelCmd(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "model",
		Short: "Show the matching model this node scores with: the prior, and m, u and weight of every level",
		Long: `model prints the Fellegi-Sunter model the node's matcher scores with: the
prior (the share of matches among candidate pairs), and for every comparison
each level's m (its probability among pairs of one incident), u (among other
pairs) and match weight log2(m/u); when it was fitted and on how many pairs,
and whether the EM guard kept u fixed or the priors' m. A match's score is
the prior's weight plus its levels' weights (matches show draws it).`,
		Example: "  accordctl --config ua.yaml matches model\n  accordctl --config ua.yaml matches model -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return apiRead(cmd, g, "matches model", func(ctx context.Context, c *coordClient) (*accordv1.MatchingModel, error) {
				r, err := accordv1.NewMatchingServiceClient(c.conn).GetMatchingModel(ctx, &accordv1.GetMatchingModelRequest{})
				return r.GetModel(), err
			}, func(w io.Writer, _ *coordClient, m *accordv1.MatchingModel) { printModel(w, m) })
		},
	}
	addRegistryFlags(cmd)
	return cmd
}

func printModel(w io.Writer, m *accordv1.MatchingModel) {
	switch {
	case m.GetFittedAt() == nil:
		fmt.Fprintln(w, "model: the default model (not fitted yet: the node has not loaded its index)")
	case m.GetDefaultModel():
		fmt.Fprintf(w, "model: the default model (fitted %s on %s candidate pairs: too few)\n",
			m.GetFittedAt().AsTime().UTC().Format(time.RFC3339), formatCount(m.GetCandidatePairs()))
	default:
		fmt.Fprintf(w, "model: fitted %s on %s cases: %s candidate pairs, EM on %s pairs, u from %s non-match pairs\n",
			m.GetFittedAt().AsTime().UTC().Format(time.RFC3339), formatCount(m.GetRecords()), formatCount(m.GetCandidatePairs()),
			formatCount(m.GetFittedPairs()), formatCount(m.GetNonMatchPairs()))
	}
	if m.GetGuard() != "" {
		fmt.Fprintf(w, "EM guard: %s\n", m.GetGuard())
	}
	fmt.Fprintf(w, "prior: %.4f of candidate pairs match (weight %+.2f)\n", m.GetPrior(), m.GetPriorWeight())
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "COMPARISON\tLEVEL\tM\tU\tWEIGHT")
	for _, c := range m.GetComparisons() {
		for i, l := range c.GetLevels() {
			name := ""
			if i == 0 {
				name = c.GetName()
			}
			fmt.Fprintf(tw, "%s\t%s\t%.4f\t%.4f\t%+.2f\n", name, l.GetLabel(), l.GetM(), l.GetU(), l.GetWeight())
		}
	}
	_ = tw.Flush()
}
