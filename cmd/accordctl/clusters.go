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

// newClustersCmd is `accordctl clusters`: the office's incident clusters.
func newClustersCmd(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "clusters",
		Short: "Incident clusters: the cases of several members that match decisions link; list, show, confirm, split, merge",
		Long: `clusters works with this office's incident clusters: the cases that the match
decisions this office is involved in (proposed or confirmed) link together.
One incident investigated by four members is one cluster instead of six pair
decisions; an analyst answers it at once ("these are my cases of this
incident"). Each act is answers on the cluster's decisions in the registry,
recorded with who and why.

A cluster is named after its lowest decision (cluster-000123 for
match-000123), and gets a new name when that decision no longer links it. The
chaining guard compares every pair of a cluster's cases with the node's
matching model: a cluster whose cases are linked only through others
(A ~ B, B ~ C, but A and C not alike) is FLAGGED, with its weak pairs and the
decision where it would split. A flagged cluster is confirmed only with
--force.

A cluster is this office's view: another member sees only the decisions it is
involved in, and may cut the same incident differently.`,
		Example: `  accordctl --config ua.yaml clusters list --awaiting
  accordctl --config ua.yaml clusters show cluster-000123
  accordctl --config ua.yaml clusters show --case PL/PL-2022-000017
  accordctl --config ua.yaml clusters confirm cluster-000123 --reason "same shelling, same hospital"
  accordctl --config ua.yaml clusters split cluster-000123 --at match-000456 --reason "different day"
  accordctl --config ua.yaml clusters merge cluster-000123 cluster-000789 --reason "one convoy"`,
	}
	addRegistryFlags(cmd)
	cmd.AddCommand(newClustersListCmd(g), newClustersShowCmd(g), newClustersConfirmCmd(g), newClustersSplitCmd(g), newClustersMergeCmd(g))
	return cmd
}

func clusterArg(s string) string { return resourceName("clusters", s) }

func newClustersListCmd(g *globalOptions) *cobra.Command {
	var (
		member                string
		awaiting, flagged     bool
		minCases, limit, page int
	)
	cmd := &cobra.Command{
		Use:   "list [--awaiting] [--flagged] [--member M] [--min-cases N] [--limit N]",
		Short: "List this office's incident clusters",
		Example: `  accordctl --config ua.yaml clusters list --awaiting
  accordctl --config ua.yaml clusters list --flagged
  accordctl --config ua.yaml clusters list --member PL --min-cases 3`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if member != "" {
				if err := regMemberArg("--member", member); err != nil {
					return err
				}
			}
			if minCases < 0 {
				return fmt.Errorf("--min-cases %d: must not be negative", minCases)
			}
			if limit < 0 {
				return fmt.Errorf("--limit %d: must not be negative", limit)
			}
			if page < 0 || page > 1000 {
				return fmt.Errorf("--page-size %d: must be 1 to 1000 (0: the node's default)", page)
			}
			req := &accordv1.ListClustersRequest{AwaitingAnswer: awaiting, Flagged: flagged, Member: member, MinCases: int32(minCases), PageSize: int32(page)}
			return apiRead(cmd, g, "clusters list", func(ctx context.Context, c *coordClient) (*accordv1.ListClustersResponse, error) {
				all, err := listPages(limit, func(token string) ([]*accordv1.Cluster, string, error) {
					req.PageToken = token
					r, err := c.clusters.ListClusters(ctx, req)
					return r.GetClusters(), r.GetNextPageToken(), err
				})
				return &accordv1.ListClustersResponse{Clusters: all}, err
			}, func(w io.Writer, _ *coordClient, r *accordv1.ListClustersResponse) {
				tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "CLUSTER\tCASES\tMEMBERS\tDECISIONS\tAWAITING\tSCORES\tGUARD")
				if len(r.GetClusters()) == 0 {
					fmt.Fprintln(tw, "(no clusters)\t\t\t\t\t\t")
				}
				for _, k := range r.GetClusters() {
					fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%d\t%s\t%s\n", shortID(k.GetName()), len(k.GetCases()), strings.Join(k.GetMembers(), ","),
						len(k.GetLinks()), k.GetAwaitingAnswer(), scoreRange(k), guardWord(k.GetGuard()))
				}
				_ = tw.Flush()
			})
		},
	}
	cmd.Flags().BoolVar(&awaiting, "awaiting", false, "only clusters with a decision waiting for this office's answer")
	cmd.Flags().BoolVar(&flagged, "flagged", false, "only clusters the chaining guard flags")
	cmd.Flags().StringVar(&member, "member", "", "only clusters holding a case of this member office")
	cmd.Flags().IntVar(&minCases, "min-cases", 0, "only clusters of at least this many cases")
	cmd.Flags().IntVar(&limit, "limit", 0, "list at most this many (0: all)")
	cmd.Flags().IntVar(&page, "page-size", 0, "clusters per call to the node (0: the node's default, 100)")
	return cmd
}

func scoreRange(k *accordv1.Cluster) string {
	if k.GetMinScore() == k.GetMaxScore() {
		return fmt.Sprintf("%.2f", k.GetMaxScore())
	}
	return fmt.Sprintf("%.2f-%.2f", k.GetMinScore(), k.GetMaxScore())
}

func guardWord(gd *accordv1.ClusterGuard) string {
	if gd.GetFlagged() {
		return "FLAGGED"
	}
	return "ok"
}

func newClustersShowCmd(g *globalOptions) *cobra.Command {
	var caseArg string
	cmd := &cobra.Command{
		Use:   "show CLUSTER | --case MEMBER/CASE_ID",
		Short: "Show a cluster: its cases, decisions, the chaining guard, teams and lead proposals",
		Example: `  accordctl --config ua.yaml clusters show cluster-000123
  accordctl --config ua.yaml clusters show --case UA/UA-2022-000008`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := &accordv1.GetClusterRequest{}
			switch {
			case len(args) == 1 && caseArg != "":
				return fmt.Errorf("give either CLUSTER or --case, not both")
			case len(args) == 1:
				req.Name = clusterArg(args[0])
			case caseArg != "":
				ref, err := regCaseRef("--case", caseArg)
				if err != nil {
					return err
				}
				req.CaseRef = ref
			default:
				return fmt.Errorf("give CLUSTER (e.g. cluster-000123) or --case MEMBER/CASE_ID")
			}
			return apiRead(cmd, g, "clusters show", func(ctx context.Context, c *coordClient) (*accordv1.Cluster, error) {
				r, err := c.clusters.GetCluster(ctx, req)
				return r.GetCluster(), err
			}, func(w io.Writer, _ *coordClient, k *accordv1.Cluster) { printCluster(w, k) })
		},
	}
	cmd.Flags().StringVar(&caseArg, "case", "", "the cluster that holds this case, MEMBER/CASE_ID")
	return cmd
}

func printCluster(w io.Writer, k *accordv1.Cluster) {
	fmt.Fprintf(w, "%s  %d cases of %s  scores %s  %d waiting for this office  (as of registry index %d)\n",
		shortID(k.GetName()), len(k.GetCases()), strings.Join(k.GetMembers(), ", "), scoreRange(k), k.GetAwaitingAnswer(), k.GetUpdateIndex())
	fmt.Fprintf(w, "cases (%d):\n", len(k.GetCases()))
	for _, c := range k.GetCases() {
		fmt.Fprintf(w, "  %s\n", apiCase(c))
	}
	fmt.Fprintf(w, "decisions (%d):\n", len(k.GetLinks()))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, l := range k.GetLinks() {
		fmt.Fprintf(tw, "  %s\t%s\t%.2f\t%s\t%s\n", shortID(l.GetMatchDecision()), word(l.GetState(), "MATCH_DECISION_STATE_"), l.GetScore(),
			strings.Join(apiCases(l.GetCases()), " ~ "), apiAnswers(l.GetAnswers()))
	}
	_ = tw.Flush()
	gd := k.GetGuard()
	if !gd.GetFlagged() {
		fmt.Fprintf(w, "chaining guard: ok, every pair of cases alike or linked")
		if n := gd.GetUnscoredPairs(); n > 0 {
			fmt.Fprintf(w, " (%d pairs not scored: a case the node's model does not hold)", n)
		}
		fmt.Fprintln(w)
	} else {
		fmt.Fprintf(w, "chaining guard: FLAGGED: %s\n", gd.GetReason())
		for i, p := range gd.GetWeakPairs() {
			if i == 10 {
				fmt.Fprintf(w, "  ... %d more weak pairs\n", len(gd.GetWeakPairs())-10)
				break
			}
			fmt.Fprintf(w, "  weak: %s and %s, score %.3f\n", apiCase(p.GetA()), apiCase(p.GetB()), p.GetScore())
		}
		if sp := gd.GetSplit(); sp != nil {
			fmt.Fprintf(w, "  would split at %s (score %.2f), separating %d weak pairs:\n    %s\n    %s\n", shortID(sp.GetMatchDecision()), sp.GetScore(), sp.GetSeparates(),
				strings.Join(apiCases(sp.GetSideA()), ", "), strings.Join(apiCases(sp.GetSideB()), ", "))
			fmt.Fprintf(w, "  accordctl clusters split %s --at %s --reason \"...\"\n", shortID(k.GetName()), shortID(sp.GetMatchDecision()))
		}
	}
	if len(k.GetJits()) > 0 {
		fmt.Fprintf(w, "joint investigation teams: %s\n", strings.Join(k.GetJits(), ", "))
	}
	if len(k.GetLeadProposals()) > 0 {
		fmt.Fprintf(w, "lead proposals: %s\n", strings.Join(k.GetLeadProposals(), ", "))
	}
}

// actResults describes the answers of a cluster act.
func actResults(verb string, rs []*accordv1.ClusterActResult) string {
	var b strings.Builder
	ok := 0
	for _, r := range rs {
		if r.GetError() == "" {
			ok++
		}
	}
	fmt.Fprintf(&b, "%s %d of %d decisions for this office", verb, ok, len(rs))
	for _, r := range rs {
		if r.GetError() != "" {
			fmt.Fprintf(&b, "\n  %s: not answered: %s", shortID(r.GetMatchDecision()), r.GetError())
		}
	}
	return b.String()
}

func newClustersConfirmCmd(g *globalOptions) *cobra.Command {
	var (
		wf       writeFlags
		reason   string
		expected uint64
		force    bool
	)
	cmd := &cobra.Command{
		Use:   "confirm CLUSTER [--reason TEXT] [--expect-index N] [--force]",
		Short: "Confirm, for this office, every decision of a cluster waiting for its answer",
		Example: `  accordctl --config ua.yaml clusters confirm cluster-000123 --reason "same shelling, same hospital"
  accordctl --config ua.yaml clusters confirm cluster-000123 --expect-index 4711`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return apiWrite(cmd, g, &wf, "clusters confirm "+args[0], func(ctx context.Context, c *coordClient, rid string) (*accordv1.ConfirmClusterResponse, error) {
				return c.clusters.ConfirmCluster(ctx, &accordv1.ConfirmClusterRequest{Name: clusterArg(args[0]), Reason: reason,
					RequestId: rid, ExpectedUpdateIndex: expected, Force: force})
			}, func(_ *coordClient, r *accordv1.ConfirmClusterResponse) string {
				return actResults("confirmed", r.GetResults())
			})
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why these are one incident (recorded with each answer)")
	cmd.Flags().Uint64Var(&expected, "expect-index", 0, "act only if the cluster is still as shown at this registry index (clusters show)")
	cmd.Flags().BoolVar(&force, "force", false, "confirm a cluster the chaining guard flags")
	wf.add(cmd)
	return cmd
}

func newClustersSplitCmd(g *globalOptions) *cobra.Command {
	var (
		wf       writeFlags
		reason   string
		at       string
		part     []string
		expected uint64
	)
	cmd := &cobra.Command{
		Use:   "split CLUSTER (--at MATCH | --part MEMBER/CASE_ID ...) --reason TEXT",
		Short: "Split a cluster: reject, for this office, its decisions that link a part with the rest",
		Example: `  accordctl --config ua.yaml clusters split cluster-000123 --at match-000456 --reason "different day"
  accordctl --config ua.yaml clusters split cluster-000123 --part PL/PL-2022-000017 --part DE/DE-2022-000009 --reason "another village"`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := &accordv1.SplitClusterRequest{Name: clusterArg(args[0]), Reason: reason, ExpectedUpdateIndex: expected}
			if at != "" {
				req.AtMatchDecision = matchArg(at)
			}
			for _, p := range part {
				ref, err := regCaseRef("--part", p)
				if err != nil {
					return err
				}
				req.Part = append(req.Part, ref)
			}
			if (at == "") == (len(part) == 0) {
				return fmt.Errorf("give either --at MATCH or --part MEMBER/CASE_ID (one or more)")
			}
			if strings.TrimSpace(reason) == "" {
				return fmt.Errorf("--reason: required: say why these cases are not one incident")
			}
			return apiWrite(cmd, g, &wf, "clusters split "+args[0], func(ctx context.Context, c *coordClient, rid string) (*accordv1.SplitClusterResponse, error) {
				req.RequestId = rid
				return c.clusters.SplitCluster(ctx, req)
			}, func(_ *coordClient, r *accordv1.SplitClusterResponse) string {
				var names []string
				for _, k := range r.GetClusters() {
					names = append(names, fmt.Sprintf("%s (%d cases)", shortID(k.GetName()), len(k.GetCases())))
				}
				if len(names) == 0 {
					names = []string{"none (no decision links them any more)"}
				}
				return actResults("rejected", r.GetResults()) + "\nclusters now: " + strings.Join(names, ", ")
			})
		},
	}
	cmd.Flags().StringVar(&at, "at", "", "split where rejecting this decision cuts the cluster (the guard's suggestion)")
	cmd.Flags().StringArrayVar(&part, "part", nil, "a case that goes apart from the rest, MEMBER/CASE_ID (repeat)")
	cmd.Flags().StringVar(&reason, "reason", "", "why these cases are not one incident (required; recorded with each rejection)")
	cmd.Flags().Uint64Var(&expected, "expect-index", 0, "act only if the cluster is still as shown at this registry index (clusters show)")
	wf.add(cmd)
	return cmd
}

func newClustersMergeCmd(g *globalOptions) *cobra.Command {
	var (
		wf     writeFlags
		reason string
		pair   []string
	)
	cmd := &cobra.Command{
		Use:   "merge CLUSTER CLUSTER --reason TEXT [--cases MEMBER/CASE_ID,MEMBER/CASE_ID]",
		Short: "Merge two clusters: propose a decision linking them and confirm it for this office",
		Example: `  accordctl --config ua.yaml clusters merge cluster-000123 cluster-000789 --reason "one convoy"
  accordctl --config ua.yaml clusters merge cluster-000123 cluster-000789 --cases UA/UA-2022-000008,PL/PL-2022-000017 --reason "one convoy"`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := &accordv1.MergeClustersRequest{Names: []string{clusterArg(args[0]), clusterArg(args[1])}, Reason: reason}
			if len(pair) != 0 && len(pair) != 2 {
				return fmt.Errorf("--cases: give two cases, one in each cluster (got %d)", len(pair))
			}
			for _, p := range pair {
				ref, err := regCaseRef("--cases", p)
				if err != nil {
					return err
				}
				req.Cases = append(req.Cases, ref)
			}
			if strings.TrimSpace(reason) == "" {
				return fmt.Errorf("--reason: required: say why these clusters are one incident")
			}
			return apiWrite(cmd, g, &wf, "clusters merge", func(ctx context.Context, c *coordClient, rid string) (*accordv1.MergeClustersResponse, error) {
				req.RequestId = rid
				return c.clusters.MergeClusters(ctx, req)
			}, func(_ *coordClient, r *accordv1.MergeClustersResponse) string {
				m := r.GetMatchDecision()
				return fmt.Sprintf("proposed %s (%s) and confirmed it for this office; the other offices answer it as any decision",
					shortID(m.GetName()), strings.Join(apiCases(m.GetCases()), " ~ "))
			})
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why these clusters are one incident (required)")
	cmd.Flags().StringSliceVar(&pair, "cases", nil, "the two cases to link, one in each cluster, one of them this office's (default: the most alike such pair)")
	wf.add(cmd)
	return cmd
}
