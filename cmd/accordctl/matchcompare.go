package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// newMatchesCompareCmd is `accordctl matches compare`: a decision's cases
// side by side.
func newMatchesCompareCmd(g *globalOptions) *cobra.Command {
	var rf readFlags
	cmd := &cobra.Command{
		Use:   "compare MATCH",
		Short: "Show a match decision's cases side by side: incidents, places as written, times, units, crime codes, evidence and persons in common",
		Long: `compare shows the cases of a match decision side by side, as this node holds
them: what each office shares of its case (this office's own as the node
published it). Their incidents are paired, closest first (places as the
offices wrote them, times with their offsets, the distance and time between
them, whether the place names fold to one); then crime codes, units and
victim counts; the evidence items both name (by SHA-256); how many persons
each carries and how many agree by their tokens (names never leave an
office); and the pair's score under the node's current model, comparison by
comparison. A case this node does not hold (not received yet, or withdrawn)
is listed as missing.`,
		Example: `  accordctl --config ua.yaml matches compare MATCH-ID
  accordctl --config ua.yaml matches compare MATCH-ID -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return apiRead(cmd, g, "matches compare "+args[0], func(ctx context.Context, c *coordClient) (*accordv1.CompareMatchDecisionResponse, error) {
				return c.coord.CompareMatchDecision(ctx, &accordv1.CompareMatchDecisionRequest{Name: matchArg(args[0]), Stale: rf.stale})
			}, func(w io.Writer, _ *coordClient, r *accordv1.CompareMatchDecisionResponse) { printComparison(w, r) })
		},
	}
	rf.add(cmd)
	return cmd
}

// printComparison prints a decision's cases side by side, pair by pair.
func printComparison(w io.Writer, r *accordv1.CompareMatchDecisionResponse) {
	m := r.GetMatchDecision()
	fmt.Fprintf(w, "%s  %s  score %.2f (when proposed)\n", shortID(m.GetName()), word(m.GetState(), "MATCH_DECISION_STATE_"), m.GetScore())
	for _, c := range r.GetCases() {
		if !c.GetHeld() {
			fmt.Fprintf(w, "  %s: missing: %s\n", apiCase(c.GetCaseRef()), c.GetMissing())
		}
	}
	for _, p := range r.GetPairs() {
		a, b := r.GetCases()[p.GetFirst()], r.GetCases()[p.GetSecond()]
		printPair(w, a, b, p)
	}
	if len(r.GetPairs()) == 0 {
		fmt.Fprintln(w, "(no pair of the decision's cases is held here to compare)")
	}
}

func printPair(w io.Writer, a, b *accordv1.ComparedCase, p *accordv1.CasePairComparison) {
	sa, sb := a.GetShared(), b.GetShared()
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(label, x, y string) { fmt.Fprintf(tw, "%s\t%s\t%s\n", label, x, y) }
	row("", apiCase(a.GetCaseRef()), apiCase(b.GetCaseRef()))
	row("version", caseVersion(a), caseVersion(b))
	row("title", truncate(sa.GetTitle(), listTitleWidth), truncate(sb.GetTitle(), listTitleWidth))
	row("status", word(sa.GetStatus(), "CASE_STATUS_"), word(sb.GetStatus(), "CASE_STATUS_"))
	row("opened", orDash(sa.GetOpened()), orDash(sb.GetOpened()))
	for k, ip := range p.GetIncidents() {
		label := fmt.Sprintf("incident %d", k+1)
		x, y := incidentAt(sa, ip.GetFirst()), incidentAt(sb, ip.GetSecond())
		row(label+" place", placeText(x), placeText(y))
		row("  time", timeText(x), timeText(y))
		if ip.GetFirst() >= 0 && ip.GetSecond() >= 0 {
			var notes []string
			if ip.GetBest() {
				notes = append(notes, "the pair the score compares")
			}
			if ip.GetSamePlace() {
				notes = append(notes, "place names fold to one")
			}
			if ip.GetHasDistance() {
				notes = append(notes, fmt.Sprintf("%.1f km apart", ip.GetDistanceKm()))
			}
			notes = append(notes, "starts "+signedDuration(ip.GetStartDifferenceSeconds())+" apart", gapText(ip.GetGapSeconds()))
			row("  compared", strings.Join(notes, "; "), "")
		}
	}
	row("crime codes", valuesText(p.GetCrimeCodes().GetCommon(), p.GetCrimeCodes().GetOnlyFirst()), valuesText(p.GetCrimeCodes().GetCommonSecond(), p.GetCrimeCodes().GetOnlySecond()))
	row("units", valuesText(p.GetUnits().GetCommon(), p.GetUnits().GetOnlyFirst()), valuesText(p.GetUnits().GetCommonSecond(), p.GetUnits().GetOnlySecond()))
	row("victims", victimsText(sa), victimsText(sb))
	ev := p.GetEvidence()
	row("evidence", fmt.Sprintf("%d in common, %d only here", len(ev.GetCommonSha256()), ev.GetOnlyFirst()), fmt.Sprintf("%d only here", ev.GetOnlySecond()))
	pa := p.GetPersons()
	agree := "not compared by token"
	if pa.GetMatching() >= 0 {
		agree = fmt.Sprintf("%d agree by token", pa.GetMatching())
		if pa.GetLevel() != "" {
			agree += " (" + pa.GetLevel() + ")"
		}
	}
	row("persons", fmt.Sprintf("%s; %s", personsText(a), agree), personsText(b))
	_ = tw.Flush()
	for _, h := range ev.GetCommonSha256() {
		fmt.Fprintf(w, "  same evidence item: sha256 %s\n", h)
	}
	if !p.GetScored() {
		fmt.Fprintln(w, "score now: not scored (the node's matcher does not index both cases)")
		return
	}
	fmt.Fprintf(w, "score now: %.4f under the node's current model\n", p.GetScore())
	for _, reason := range p.GetReasons() {
		fmt.Fprintf(w, "  %s\n", reason)
	}
	printWaterfall(w, p.GetExplanation())
}

func caseVersion(c *accordv1.ComparedCase) string {
	v := strconv.FormatInt(c.GetShared().GetVersion(), 10)
	if d := c.GetDecidedVersion(); d != 0 && d != c.GetShared().GetVersion() {
		v += fmt.Sprintf(" (changed since the decision, on version %d)", d)
	}
	return v
}

func incidentAt(c *accordv1.SharedCase, i int32) *accordv1.Incident {
	if i < 0 || int(i) >= len(c.GetIncidents()) {
		return nil
	}
	return c.GetIncidents()[i]
}

func placeText(in *accordv1.Incident) string {
	if in == nil {
		return "-"
	}
	s := orDash(in.GetPlace())
	if in.GetRegion() != "" {
		s += ", " + in.GetRegion()
	}
	if in.Lat != nil && in.Lon != nil {
		s += fmt.Sprintf(" (%.4f, %.4f)", in.GetLat(), in.GetLon())
	}
	return s
}

func timeText(in *accordv1.Incident) string {
	if in == nil {
		return "-"
	}
	s := in.GetStart()
	if in.GetEnd() != "" {
		s += " to " + in.GetEnd()
	}
	if p := word(in.GetPrecision(), "TIME_PRECISION_"); p != "-" {
		s += " (" + p + ")"
	}
	return s
}

// signedDuration writes seconds as a rounded duration with its sign.
func signedDuration(sec int64) string {
	d := time.Duration(sec) * time.Second
	sign := "+"
	if d < 0 {
		sign, d = "-", -d
	}
	return sign + d.Round(time.Minute).String()
}

func gapText(sec int64) string {
	if sec == 0 {
		return "windows meet"
	}
	if sec < 0 {
		return "windows overlap " + (time.Duration(-sec) * time.Second).Round(time.Minute).String()
	}
	return "windows " + (time.Duration(sec) * time.Second).Round(time.Minute).String() + " apart"
}

func valuesText(common, only []string) string {
	var parts []string
	if len(common) > 0 {
		parts = append(parts, "= "+strings.Join(common, ", "))
	}
	if len(only) > 0 {
		parts = append(parts, "only: "+strings.Join(only, ", "))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, "; ")
}

func victimsText(c *accordv1.SharedCase) string {
	if c.VictimCount == nil {
		return "-"
	}
	return strconv.FormatInt(c.GetVictimCount(), 10)
}

func personsText(c *accordv1.ComparedCase) string {
	if len(c.GetPersons()) == 0 {
		return "none shared"
	}
	var parts []string
	for _, p := range c.GetPersons() {
		parts = append(parts, fmt.Sprintf("%d %s", p.GetCount(), word(p.GetRole(), "PERSON_ROLE_")))
	}
	return strings.Join(parts, ", ")
}

// newMatchesAnswerRuleCmd is `accordctl matches answer-rule`: answers by a
// rule, a dry run first.
func newMatchesAnswerRuleCmd(g *globalOptions) *cobra.Command {
	var (
		wf                 writeFlags
		rule               accordv1.MatchRule
		caseArg, answer    string
		reason, selection  string
		apply              bool
		maxDecisions       int32
		minScore, maxScore float64
	)
	cmd := &cobra.Command{
		Use:   "answer-rule --answer yes|no [--reason TEXT] [--min-score X] [--max-score Y] [--member M] [--case MEMBER/CASE_ID] [--cluster C] [--shared-evidence N] [--apply --selection TOKEN]",
		Short: "Answer every waiting match decision a rule selects: a dry run first, then --apply with its selection token",
		Long: `answer-rule answers, for this office, every match decision waiting for its
answer that a rule selects: a score range (--min-score, --max-score), the
other member (--member), a case (--case), an incident cluster (--cluster),
and at least N evidence items (by SHA-256) that the cases name in common
(--shared-evidence N).

Without --apply it changes nothing: it lists what the rule selects now,
highest score first, and prints a selection token; the node keeps that
selection for an hour. Run it again with --apply --selection TOKEN to
answer exactly those decisions, each only if it still waits for this
office's answer: a decision that came after the dry run is not answered, and
one a colleague answered meanwhile keeps their answer (it is listed as
failed). A score condition holds on this node's own score of the pair as
well as on the proposer's (LOCAL column). One run answers at most
--max-decisions (default 500, at most 2000); a longer run may need a longer
--timeout, and a run cut short is retried with the same --request-id and
--selection: it answers the rest and nothing twice.

A rejection needs --reason; the reason is copied to every involved member's
registry: never write a person's name in it.`,
		Example: `  accordctl --config ua.yaml matches answer-rule --answer yes --min-score 0.99 --shared-evidence 1
  accordctl --config ua.yaml matches answer-rule --answer yes --min-score 0.99 --shared-evidence 1 --apply --selection sel1.3f9c...
  accordctl --config ua.yaml matches answer-rule --answer no --max-score 0.6 --member PL --reason 'below our review threshold: different incidents'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var confirm bool
			switch answer {
			case "yes":
				confirm = true
			case "no":
				if strings.TrimSpace(reason) == "" {
					return fmt.Errorf("--reason: required with --answer no: say why the cases do not concern the same incident")
				}
			default:
				return fmt.Errorf("--answer %q: must be yes or no", answer)
			}
			if apply && selection == "" {
				return fmt.Errorf("--selection: required with --apply: run without --apply first, check what the rule selects, then pass the token it prints")
			}
			if err := scoreRangeFlags(cmd, minScore, maxScore); err != nil {
				return err
			}
			switch {
			case rule.MinSharedEvidence < 0:
				return fmt.Errorf("--shared-evidence %d: must not be negative", rule.MinSharedEvidence)
			case maxDecisions < 0 || maxDecisions > 2000:
				return fmt.Errorf("--max-decisions %d: must be 1 to 2000", maxDecisions)
			}
			rule.MinScore, rule.MaxScore = minScore, maxScore
			filters := accordv1.ListMatchDecisionsRequest{Member: rule.Member}
			if err := matchFilterFlags(&filters, caseArg); err != nil {
				return err
			}
			rule.CaseRef = filters.CaseRef
			if rule.Cluster != "" {
				rule.Cluster = resourceName("clusters", rule.Cluster)
			}
			req := &accordv1.DecideMatchesRequest{Rule: &rule, Answer: answerOf(confirm), Reason: reason, MaxDecisions: maxDecisions}
			if !apply {
				req.ValidateOnly = true
				return apiRead(cmd, g, "matches answer-rule (dry run)", func(ctx context.Context, c *coordClient) (*accordv1.DecideMatchesResponse, error) {
					return c.coord.DecideMatches(ctx, req)
				}, func(w io.Writer, c *coordClient, r *accordv1.DecideMatchesResponse) {
					printRuleAnswers(w, c.id.Member, r)
					switch {
					case r.GetMore():
						fmt.Fprintf(w, "the rule selects more than %d decisions: narrow it (or raise --max-decisions, at most 2000)\n", len(r.GetAnswers()))
					case len(r.GetAnswers()) == 0:
						fmt.Fprintln(w, "nothing to answer")
					default:
						fmt.Fprintf(w, "dry run: nothing answered. To answer these %d decisions %s, run the same command with:\n  --apply --selection %s\n",
							len(r.GetAnswers()), answer, r.GetSelection())
					}
				})
			}
			req.ExpectedSelection = selection
			return apiWrite(cmd, g, &wf, "matches answer-rule", func(ctx context.Context, c *coordClient, rid string) (*accordv1.DecideMatchesResponse, error) {
				req.RequestId = rid
				return c.coord.DecideMatches(ctx, req)
			}, func(c *coordClient, r *accordv1.DecideMatchesResponse) string {
				var b strings.Builder
				printRuleAnswers(&b, c.id.Member, r)
				fmt.Fprintf(&b, "answered %s: %d; failed: %d", answer, r.GetAnswered(), r.GetFailed())
				if r.GetFailed() > 0 {
					b.WriteString(" (each failure is in the ERROR column; a retry with the same --request-id answers nothing twice)")
				}
				return b.String()
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&answer, "answer", "", "yes (the cases concern the same incident) or no (required)")
	f.StringVar(&reason, "reason", "", "why (required with --answer no; at most 1000 bytes; never a person's name)")
	f.Float64Var(&minScore, "min-score", 0, "only decisions scoring at least this (0 to 1)")
	f.Float64Var(&maxScore, "max-score", 0, "only decisions scoring at most this (0 to 1; 0: no bound)")
	f.StringVar(&rule.Member, "member", "", "only decisions that also involve this member office")
	f.StringVar(&caseArg, "case", "", "only decisions that group this case, MEMBER/CASE_ID")
	f.StringVar(&rule.Cluster, "cluster", "", "only the decisions of this incident cluster")
	f.Int32Var(&rule.MinSharedEvidence, "shared-evidence", 0, "only decisions whose cases name at least this many evidence items in common")
	f.Int32Var(&maxDecisions, "max-decisions", 0, "answer at most this many in one run (default 500, at most 2000)")
	f.BoolVar(&apply, "apply", false, "answer (without it: a dry run that changes nothing)")
	f.StringVar(&selection, "selection", "", "the selection token the dry run printed (required with --apply)")
	wf.add(cmd)
	return cmd
}

// printRuleAnswers prints the decisions a rule selected and, after an
// answering run, what became of each.
func printRuleAnswers(w io.Writer, member string, r *accordv1.DecideMatchesResponse) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	header := "MATCH\tSCORE\tLOCAL\tSHARED EVIDENCE\tOTHER CASES"
	if !r.GetValidateOnly() {
		header += "\tANSWERED\tERROR"
	}
	fmt.Fprintln(tw, header)
	for _, a := range r.GetAnswers() {
		others := otherCases(a.GetCases(), member)
		ev := "-"
		if a.GetSharedEvidence() > 0 {
			ev = strconv.Itoa(int(a.GetSharedEvidence()))
		}
		local := "-"
		if a.GetLocalScore() >= 0 {
			local = fmt.Sprintf("%.3f", a.GetLocalScore())
		}
		line := fmt.Sprintf("%s\t%.3f\t%s\t%s\t%s", shortID(a.GetName()), a.GetScore(), local, ev, strings.Join(others, ", "))
		if !r.GetValidateOnly() {
			line += fmt.Sprintf("\t%t\t%s", a.GetAnswered(), orDash(a.GetError()))
		}
		fmt.Fprintln(tw, line)
	}
	_ = tw.Flush()
}
