package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// queueOrders maps `matches queue --order` to ListMatchDecisions' order_by.
var queueOrders = map[string]string{
	"score":  "score desc",
	"age":    "create_time",
	"newest": "create_time desc",
	"id":     "name",
}

// newMatchesQueueCmd is `accordctl matches queue`: the review queue, a
// page at a time.
func newMatchesQueueCmd(g *globalOptions) *cobra.Command {
	var (
		rf                 readFlags
		req                accordv1.ListMatchDecisionsRequest
		state, caseArg     string
		order              string
		waiting, all       bool
		minScore, maxScore float64
	)
	cmd := &cobra.Command{
		Use:   "queue [--member M] [--case MEMBER/CASE_ID] [--state S] [--min-score X] [--max-score Y] [--order score|age|newest|id] [--page-size N] [--page-token T] [--all]",
		Short: "The review queue: match decisions waiting for this office's answer, best first, a page at a time",
		Long: `queue lists the match decisions waiting for this office's answer (--waiting,
on by default; --waiting=false, or --state confirmed|rejected, lists the
others too), ordered by --order: score (the default, highest first), age
(oldest first), newest, or id. Filters: --member (decisions that involve
this member office as well), --case MEMBER/CASE_ID, --state
proposed|confirmed|rejected, --min-score and --max-score (0 to 1,
inclusive).

The table shows each decision's id, score, age, the other office and its
case, the state and this office's answer. The node returns a page at a time
(--page-size, default 100, at most 1000); the token for the next page is
printed after the table, to pass to --page-token with the same filters and
order. --all fetches every page. Answer with matches confirm|reject, or
read both cases side by side first.`,
		Example: `  accordctl --config ua.yaml matches queue
  accordctl --config ua.yaml matches queue --member PL --min-score 0.9
  accordctl --config ua.yaml matches queue --order age --page-size 50
  accordctl --config ua.yaml matches queue --waiting=false --state rejected --order newest
  accordctl --config ua.yaml matches queue --case UA/UA-2022-000123 -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if state != "" {
				st, ok := matchStates[state]
				if !ok {
					return fmt.Errorf("--state %q: must be proposed, confirmed or rejected", state)
				}
				req.State = st
				if st != accordv1.MatchDecisionState_MATCH_DECISION_STATE_PROPOSED && !cmd.Flags().Changed("waiting") {
					waiting = false // a confirmed or rejected decision waits for nobody
				}
			}
			req.AwaitingAnswer = waiting
			if err := matchFilterFlags(&req, caseArg); err != nil {
				return err
			}
			if err := scoreRangeFlags(cmd, minScore, maxScore); err != nil {
				return err
			}
			req.MinScore, req.MaxScore = minScore, maxScore
			var ok bool
			if req.OrderBy, ok = queueOrders[order]; !ok {
				return fmt.Errorf("--order %q: must be score, age, newest or id", order)
			}
			if req.PageSize < 0 || req.PageSize > 1000 {
				return fmt.Errorf("--page-size %d: must be 1 to 1000", req.PageSize)
			}
			if all && req.PageSize == 0 {
				req.PageSize = 1000 // the node's largest page: fewer round trips
			}
			req.Stale = rf.stale
			return apiRead(cmd, g, "matches queue", func(ctx context.Context, c *coordClient) (*accordv1.ListMatchDecisionsResponse, error) {
				var out accordv1.ListMatchDecisionsResponse
				for {
					r, err := c.coord.ListMatchDecisions(ctx, &req)
					if err != nil {
						return nil, err
					}
					out.MatchDecisions = append(out.MatchDecisions, r.GetMatchDecisions()...)
					out.TotalSize, out.NextPageToken = r.GetTotalSize(), r.GetNextPageToken()
					req.PageToken = r.GetNextPageToken()
					if !all || req.PageToken == "" {
						return &out, nil
					}
				}
			}, func(w io.Writer, c *coordClient, r *accordv1.ListMatchDecisionsResponse) {
				printQueue(w, c.id.Member, time.Now(), r)
			})
		},
	}
	f := cmd.Flags()
	f.BoolVar(&waiting, "waiting", true, "only decisions waiting for this office's answer (--waiting=false: any)")
	f.StringVar(&req.Member, "member", "", "only decisions that also involve this member office")
	f.StringVar(&caseArg, "case", "", "only decisions that group this case, MEMBER/CASE_ID")
	f.StringVar(&state, "state", "", "only decisions in this state: proposed, confirmed or rejected")
	f.Float64Var(&minScore, "min-score", 0, "only decisions scoring at least this (0 to 1)")
	f.Float64Var(&maxScore, "max-score", 0, "only decisions scoring at most this (0 to 1; 0: no bound)")
	f.StringVar(&order, "order", "score", "score (highest first), age (oldest first), newest or id")
	f.Int32Var(&req.PageSize, "page-size", 0, "decisions per page (default 100, at most 1000)")
	f.StringVar(&req.PageToken, "page-token", "", "the token printed after the previous page")
	f.BoolVar(&all, "all", false, "fetch every page")
	rf.add(cmd)
	return cmd
}

// matchFilterFlags checks --member (already in req) and sets req's case
// from --case, for matches list and matches queue.
func matchFilterFlags(req *accordv1.ListMatchDecisionsRequest, caseArg string) error {
	if req.Member != "" {
		if err := regMemberArg("--member", req.Member); err != nil {
			return err
		}
	}
	if caseArg != "" {
		ref, err := regCaseRef("--case", caseArg)
		if err != nil {
			return err
		}
		req.CaseRef = ref
	}
	return nil
}

// scoreRangeFlags checks --min-score and --max-score, for matches queue
// and matches answer-rule.
func scoreRangeFlags(cmd *cobra.Command, minScore, maxScore float64) error {
	switch {
	case minScore < 0 || minScore > 1:
		return fmt.Errorf("--min-score %v: must be 0 to 1", minScore)
	case maxScore < 0 || maxScore > 1:
		return fmt.Errorf("--max-score %v: must be 0 to 1", maxScore)
	case cmd.Flags().Changed("max-score") && minScore > maxScore:
		return fmt.Errorf("--min-score %v: must not exceed --max-score %v", minScore, maxScore)
	}
	return nil
}

// otherCases are the cases of a decision that are not member's, as
// MEMBER/CASE_ID.
func otherCases(cases []*accordv1.RegistryCaseRef, member string) []string {
	var out []string
	for _, c := range cases {
		if c.GetMember() != member {
			out = append(out, apiCase(c))
		}
	}
	return out
}

// printQueue prints a page of the review queue as seen by member.
func printQueue(w io.Writer, member string, now time.Time, r *accordv1.ListMatchDecisionsResponse) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MATCH\tSCORE\tAGE\tOTHER CASES\tSTATE\tMY ANSWER")
	if len(r.GetMatchDecisions()) == 0 {
		fmt.Fprintln(tw, "(no match decisions)\t\t\t\t\t")
	}
	for _, m := range r.GetMatchDecisions() {
		others := otherCases(m.GetCases(), member)
		mine := "-"
		for _, a := range m.GetAnswers() {
			if a.GetMember() == member {
				mine = word(a.GetAnswer(), "ANSWER_")
			}
		}
		age := "-"
		if t := m.GetCreate().GetTime(); t != nil {
			age = queueAge(now.Sub(t.AsTime()))
		}
		fmt.Fprintf(tw, "%s\t%.3f\t%s\t%s\t%s\t%s\n", shortID(m.GetName()), m.GetScore(), age,
			strings.Join(others, ", "), word(m.GetState(), "MATCH_DECISION_STATE_"), mine)
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "(%s shown of %s)\n", formatCount(int64(len(r.GetMatchDecisions()))), formatCount(int64(r.GetTotalSize())))
	if r.GetNextPageToken() != "" {
		fmt.Fprintf(w, "next page: --page-token %s\n", r.GetNextPageToken())
	}
}

// queueAge says how long ago, in the largest whole unit.
func queueAge(d time.Duration) string {
	switch {
	case d < time.Minute:
		return "now"
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d/time.Hour))
	}
	return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
}
