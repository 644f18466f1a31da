package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// ==== strategy ====

func newStrategyCmd(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "strategy",
		Short: "Prosecution-strategy entries: priorities, targets and themes",
		Long: `strategy works with the registry's strategy entries: priorities, targets and
themes that member offices share federation-wide or within a joint
investigation team (--jit). An entry is owned by the office that added it;
only the owner updates or deletes it, and every version is kept (history).

A target names a unit by its public designation (--target "unit:64th Separate
Motor Rifle Brigade") or a person by a keyed encoding only, never a name
(--target person:HEX@KEY[:VERSION], VERSION defaulting to the federation
key's current version).

An entry is named by its id (entry-000001) or its resource name
(strategyEntries/entry-000001). Every write takes --request-id: the registry
applies a request id at most once, so a write that timed out can be retried
with the id printed.`,
		Example: `  accordctl --config ua.yaml strategy add --kind priority --title "Attacks on energy infrastructure"
  accordctl --config ua.yaml strategy update ENTRY-ID --title "Attacks on energy infrastructure, winter 2022"
  accordctl --config ua.yaml strategy history ENTRY-ID
  accordctl --config pl.yaml strategy list --owner UA --kind target`,
	}
	addRegistryFlags(cmd)
	cmd.AddCommand(newStrategyAddCmd(g), newStrategyUpdateCmd(g), newStrategyDeleteCmd(g),
		newStrategyListCmd(g), newStrategyShowCmd(g), newStrategyHistoryCmd(g))
	return cmd
}

func entryArg(s string) string { return resourceName("strategyEntries", s) }

var regKinds = []string{"priority", "target", "theme"}

func regKind(flag, s string) (accordv1.StrategyEntryKind, error) {
	k, ok := accordv1.StrategyEntryKind_value["STRATEGY_ENTRY_KIND_"+strings.ToUpper(s)]
	if !ok || indexOf(regKinds, strings.ToLower(s)) < 0 {
		return 0, fmt.Errorf("--%s %q: must be priority, target or theme", flag, s)
	}
	return accordv1.StrategyEntryKind(k), nil
}

func addKindCompletion(cmd *cobra.Command) {
	_ = cmd.RegisterFlagCompletionFunc("kind", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return regKinds, cobra.ShellCompDirectiveNoFileComp
	})
}

// regTargets reads --target values: unit:DESIGNATION or
// person:HEX@KEY[:VERSION]. A person's key version left out is 0, which the
// node fills in with the key's current version.
func regTargets(values []string) ([]*accordv1.StrategyTarget, error) {
	var out []*accordv1.StrategyTarget
	for _, v := range values {
		typ, ref, ok := strings.Cut(v, ":")
		bad := func(why string) error {
			return fmt.Errorf("--target %q: %s (unit:DESIGNATION, or person:HEX@KEY[:VERSION] for a keyed person encoding)", v, why)
		}
		if !ok || ref == "" {
			return nil, bad("must be TYPE:REF")
		}
		switch strings.ToLower(typ) {
		case "unit":
			out = append(out, &accordv1.StrategyTarget{Type: accordv1.StrategyTargetType_STRATEGY_TARGET_TYPE_UNIT, Ref: ref})
		case "person":
			enc, key, ok := strings.Cut(ref, "@")
			if !ok || enc == "" || key == "" {
				return nil, bad("a person is named by a keyed encoding and the federation key it was made with, never a name")
			}
			t := &accordv1.StrategyTarget{Type: accordv1.StrategyTargetType_STRATEGY_TARGET_TYPE_PERSON, Ref: enc, Key: key}
			if name, ver, ok := strings.Cut(key, ":"); ok {
				n, err := strconv.Atoi(ver)
				if err != nil || n < 1 {
					return nil, bad("the key version must be a number from 1")
				}
				t.Key, t.KeyVersion = name, int32(n)
			}
			out = append(out, t)
		default:
			return nil, bad("type must be unit or person")
		}
	}
	return out, nil
}

func newStrategyAddCmd(g *globalOptions) *cobra.Command {
	var (
		wf                     writeFlags
		kind, title, text, jit string
		targets                []string
	)
	cmd := &cobra.Command{
		Use:   "add --kind priority|target|theme --title TITLE [--text TEXT] [--jit JIT] [--target TYPE:REF ...]",
		Short: "Add a strategy entry owned by this office",
		Long: `add creates a strategy entry owned by this office: federation-wide, or with
--jit scoped to a team this office has accepted (only its members see it).
--target may be given several times. Prints the entry's id and version.`,
		Example: `  accordctl --config ua.yaml strategy add --kind target --title "Units at Kharkiv, March 2022" --target "unit:64th Separate Motor Rifle Brigade"
  accordctl --config ua.yaml strategy add --kind theme --title "Filtration camps" --jit JIT-ID`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			k, err := regKind("kind", kind)
			if err != nil {
				return err
			}
			ts, err := regTargets(targets)
			if err != nil {
				return err
			}
			e := &accordv1.StrategyEntry{Kind: k, Title: title, Text: text, Targets: ts}
			if jit != "" {
				e.Jit = jitArg(jit)
			}
			return apiWrite(cmd, g, &wf, "strategy add", func(ctx context.Context, c *coordClient, rid string) (*accordv1.StrategyEntry, error) {
				r, err := c.coord.CreateStrategyEntry(ctx, &accordv1.CreateStrategyEntryRequest{StrategyEntry: e, RequestId: rid})
				return r.GetStrategyEntry(), err
			}, func(_ *coordClient, r *accordv1.StrategyEntry) string {
				scope := "federation-wide"
				if jit != "" {
					scope = "in " + jit
				}
				return fmt.Sprintf("added %s entry %s (version %d), %s", word(r.GetKind(), "STRATEGY_ENTRY_KIND_"), shortID(r.GetName()), r.GetVersion(), scope)
			})
		},
	}
	cmd.Flags().StringVar(&kind, "kind", "", "priority, target or theme (required)")
	cmd.Flags().StringVar(&title, "title", "", "the entry's title (required)")
	cmd.Flags().StringVar(&text, "text", "", "the entry's text")
	cmd.Flags().StringVar(&jit, "jit", "", "scope the entry to this team (default: federation-wide)")
	cmd.Flags().StringArrayVar(&targets, "target", nil, "a target, unit:DESIGNATION or person:HEX@KEY[:VERSION] (repeatable)")
	_ = cmd.MarkFlagRequired("kind")
	_ = cmd.MarkFlagRequired("title")
	addKindCompletion(cmd)
	wf.add(cmd)
	return cmd
}

func newStrategyUpdateCmd(g *globalOptions) *cobra.Command {
	var (
		wf                writeFlags
		kind, title, text string
		targets           []string
		clearTargets      bool
		expected          int
	)
	cmd := &cobra.Command{
		Use:   "update ENTRY [--kind K] [--title T] [--text X] [--target TYPE:REF ... | --clear-targets] [--expected-version N]",
		Short: "Write a new version of an entry this office owns",
		Long: `update writes a new version of a strategy entry owned by this office. Only
what the flags give changes (the update's field mask): the node keeps the
rest as the current version has it (--target replaces all targets;
--clear-targets removes them; --text "" clears the text). With
--expected-version N the update applies only if the entry is still at version
N, so that nobody's change is overwritten unseen (Aborted otherwise: read the
entry again); without it, it applies to the current version.`,
		Example: `  accordctl --config ua.yaml strategy update ENTRY-ID --title "Attacks on energy infrastructure, winter 2022"
  accordctl --config ua.yaml strategy update ENTRY-ID --text "Focus on Kharkiv Oblast" --expected-version 2`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			changed := func(name string) bool { return cmd.Flags().Changed(name) }
			if changed("target") && clearTargets {
				return errors.New("--target and --clear-targets exclude each other")
			}
			if expected < 0 {
				return errors.New("--expected-version: must not be negative")
			}
			e := &accordv1.StrategyEntry{Name: entryArg(args[0])}
			var mask []string
			if changed("kind") {
				k, err := regKind("kind", kind)
				if err != nil {
					return err
				}
				e.Kind, mask = k, append(mask, "kind")
			}
			if changed("title") {
				e.Title, mask = title, append(mask, "title")
			}
			if changed("text") {
				e.Text, mask = text, append(mask, "text")
			}
			if changed("target") || clearTargets {
				ts, err := regTargets(targets)
				if err != nil {
					return err
				}
				e.Targets, mask = ts, append(mask, "targets")
			}
			if len(mask) == 0 {
				return errors.New("strategy update: nothing to change: give --kind, --title, --text, --target or --clear-targets")
			}
			if expected > 0 {
				e.Etag = strconv.Quote(strconv.Itoa(expected))
			}
			return apiWrite(cmd, g, &wf, "strategy update "+args[0], func(ctx context.Context, c *coordClient, rid string) (*accordv1.StrategyEntry, error) {
				r, err := c.coord.UpdateStrategyEntry(ctx, &accordv1.UpdateStrategyEntryRequest{
					StrategyEntry: e, UpdateMask: &fieldmaskpb.FieldMask{Paths: mask}, RequestId: rid})
				return r.GetStrategyEntry(), err
			}, func(_ *coordClient, r *accordv1.StrategyEntry) string {
				return fmt.Sprintf("updated %s to version %d", shortID(r.GetName()), r.GetVersion())
			})
		},
	}
	cmd.Flags().StringVar(&kind, "kind", "", "new kind: priority, target or theme")
	cmd.Flags().StringVar(&title, "title", "", "new title")
	cmd.Flags().StringVar(&text, "text", "", "new text")
	cmd.Flags().StringArrayVar(&targets, "target", nil, "new targets, replacing all: unit:DESIGNATION or person:HEX@KEY[:VERSION] (repeatable)")
	cmd.Flags().BoolVar(&clearTargets, "clear-targets", false, "remove every target")
	cmd.Flags().IntVar(&expected, "expected-version", 0, "refuse the update unless the entry is at this version (its etag)")
	addKindCompletion(cmd)
	wf.add(cmd)
	return cmd
}

func newStrategyDeleteCmd(g *globalOptions) *cobra.Command {
	var (
		wf       writeFlags
		reason   string
		expected int
	)
	cmd := &cobra.Command{
		Use:     "delete ENTRY [--reason TEXT] [--expected-version N]",
		Short:   "Withdraw an entry this office owns (its history stays)",
		Example: `  accordctl --config ua.yaml strategy delete ENTRY-ID --reason "merged into ENTRY-ID2"`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if expected < 0 {
				return errors.New("--expected-version: must not be negative")
			}
			req := &accordv1.DeleteStrategyEntryRequest{Name: entryArg(args[0]), Reason: reason}
			if expected > 0 {
				req.Etag = strconv.Quote(strconv.Itoa(expected))
			}
			return apiWrite(cmd, g, &wf, "strategy delete "+args[0], func(ctx context.Context, c *coordClient, rid string) (*accordv1.StrategyEntry, error) {
				req.RequestId = rid
				r, err := c.coord.DeleteStrategyEntry(ctx, req)
				return r.GetStrategyEntry(), err
			}, func(_ *coordClient, r *accordv1.StrategyEntry) string {
				return fmt.Sprintf("deleted %s (version %d records the deletion)", args[0], r.GetVersion())
			})
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why the entry is withdrawn (recorded)")
	cmd.Flags().IntVar(&expected, "expected-version", 0, "refuse unless the entry is at this version")
	wf.add(cmd)
	return cmd
}

func newStrategyListCmd(g *globalOptions) *cobra.Command {
	var (
		rf                   readFlags
		jit, kind, owner     string
		fedWide, inclDeleted bool
	)
	cmd := &cobra.Command{
		Use:   "list [--jit JIT | --federation-wide] [--kind K] [--owner MEMBER] [--include-deleted]",
		Short: "List the strategy entries this office may see",
		Long: `list shows the strategy entries this office may see (federation-wide ones and
those of the teams it has accepted), by id: id, kind, owner, scope, current
version, when it last changed, and title.`,
		Example: `  accordctl --config pl.yaml strategy list
  accordctl --config pl.yaml strategy list --jit JIT-ID --kind target
  accordctl --config pl.yaml strategy list --owner UA --include-deleted -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req := &accordv1.ListStrategyEntriesRequest{FederationWide: fedWide, Owner: owner, ShowDeleted: inclDeleted, Stale: rf.stale, PageSize: 1000}
			if jit != "" {
				req.Jit = jitArg(jit)
			}
			if kind != "" {
				k, err := regKind("kind", kind)
				if err != nil {
					return err
				}
				req.Kind = k
			}
			if owner != "" {
				if err := regMemberArg("--owner", owner); err != nil {
					return err
				}
			}
			return apiRead(cmd, g, "strategy list", func(ctx context.Context, c *coordClient) (*accordv1.ListStrategyEntriesResponse, error) {
				all, err := listPages(0, func(token string) ([]*accordv1.StrategyEntry, string, error) {
					req.PageToken = token
					r, err := c.coord.ListStrategyEntries(ctx, req)
					return r.GetStrategyEntries(), r.GetNextPageToken(), err
				})
				return &accordv1.ListStrategyEntriesResponse{StrategyEntries: all, TotalSize: int32(len(all))}, err
			}, func(w io.Writer, _ *coordClient, r *accordv1.ListStrategyEntriesResponse) {
				tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "ENTRY\tKIND\tOWNER\tSCOPE\tVERSION\tCHANGED\tTITLE")
				if len(r.GetStrategyEntries()) == 0 {
					fmt.Fprintln(tw, "(no entries)\t\t\t\t\t\t")
				}
				for _, e := range r.GetStrategyEntries() {
					title := truncate(e.GetTitle(), listTitleWidth)
					if e.GetDeleted() {
						title = "(deleted) " + title
					}
					changed := "-"
					if t := e.GetUpdate().GetTime(); t != nil {
						changed = regTime(t.AsTime())
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", shortID(e.GetName()), word(e.GetKind(), "STRATEGY_ENTRY_KIND_"), e.GetOwner(),
						regScope(e.GetJit()), e.GetVersion(), changed, title)
				}
				_ = tw.Flush()
			})
		},
	}
	cmd.Flags().StringVar(&jit, "jit", "", "only entries scoped to this team")
	cmd.Flags().BoolVar(&fedWide, "federation-wide", false, "only federation-wide entries")
	cmd.Flags().StringVar(&kind, "kind", "", "only entries of this kind: priority, target or theme")
	cmd.Flags().StringVar(&owner, "owner", "", "only entries of this member office")
	cmd.Flags().BoolVar(&inclDeleted, "include-deleted", false, "list deleted entries too")
	cmd.MarkFlagsMutuallyExclusive("jit", "federation-wide")
	addKindCompletion(cmd)
	rf.add(cmd)
	return cmd
}

func regScope(jit string) string {
	if jit == "" {
		return "federation"
	}
	return "jit " + shortID(jit)
}

func newStrategyShowCmd(g *globalOptions) *cobra.Command {
	var rf readFlags
	cmd := &cobra.Command{
		Use:     "show ENTRY",
		Short:   "Show a strategy entry's current version",
		Example: `  accordctl --config pl.yaml strategy show ENTRY-ID`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return apiRead(cmd, g, "strategy show "+args[0], func(ctx context.Context, c *coordClient) (*accordv1.StrategyEntry, error) {
				r, err := c.coord.GetStrategyEntry(ctx, &accordv1.GetStrategyEntryRequest{Name: entryArg(args[0]), Stale: rf.stale})
				return r.GetStrategyEntry(), err
			}, func(w io.Writer, _ *coordClient, e *accordv1.StrategyEntry) { printEntry(w, e) })
		},
	}
	rf.add(cmd)
	return cmd
}

func printEntry(w io.Writer, e *accordv1.StrategyEntry) {
	fmt.Fprintf(w, "%s  %s\n", shortID(e.GetName()), e.GetTitle())
	regRow(w, "kind", word(e.GetKind(), "STRATEGY_ENTRY_KIND_"))
	regRow(w, "owner", e.GetOwner())
	regRow(w, "scope", regScope(e.GetJit()))
	regRow(w, "version", strconv.Itoa(int(e.GetVersion())))
	if e.GetDeleted() {
		regRow(w, "deleted", orDash(e.GetDeleteReason()))
	}
	regRow(w, "created", apiChange(e.GetCreate()))
	regRow(w, "changed", apiChange(e.GetUpdate()))
	if e.GetText() != "" {
		fmt.Fprintln(w, "text:")
		for _, l := range strings.Split(e.GetText(), "\n") {
			fmt.Fprintln(w, "  "+l)
		}
	}
	fmt.Fprintf(w, "targets (%d):\n", len(e.GetTargets()))
	for _, t := range e.GetTargets() {
		fmt.Fprintf(w, "  %s\n", regTarget(t))
	}
}

func regTarget(t *accordv1.StrategyTarget) string {
	if t.GetType() == accordv1.StrategyTargetType_STRATEGY_TARGET_TYPE_PERSON {
		return fmt.Sprintf("person %s (key %s version %d)", t.GetRef(), t.GetKey(), t.GetKeyVersion())
	}
	return word(t.GetType(), "STRATEGY_TARGET_TYPE_") + " " + t.GetRef()
}

func newStrategyHistoryCmd(g *globalOptions) *cobra.Command {
	var rf readFlags
	cmd := &cobra.Command{
		Use:   "history ENTRY",
		Short: "Show every version of a strategy entry, oldest first",
		Long: `history shows every version of a strategy entry, oldest first: version, when
and by whom (user and node) it was written, kind, title, number of targets,
and for a deletion its reason.`,
		Example: `  accordctl --config pl.yaml strategy history ENTRY-ID`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return apiRead(cmd, g, "strategy history "+args[0], func(ctx context.Context, c *coordClient) (*accordv1.ListStrategyEntryRevisionsResponse, error) {
				all, err := listPages(0, func(token string) ([]*accordv1.StrategyEntryRevision, string, error) {
					r, err := c.coord.ListStrategyEntryRevisions(ctx, &accordv1.ListStrategyEntryRevisionsRequest{
						Name: entryArg(args[0]), PageSize: 1000, PageToken: token, Stale: rf.stale})
					return r.GetRevisions(), r.GetNextPageToken(), err
				})
				return &accordv1.ListStrategyEntryRevisionsResponse{Revisions: all}, err
			}, func(w io.Writer, _ *coordClient, r *accordv1.ListStrategyEntryRevisionsResponse) {
				fmt.Fprintf(w, "%s: %s\n", args[0], plural(int64(len(r.GetRevisions())), "version"))
				tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "VERSION\tCHANGED\tKIND\tTARGETS\tTITLE")
				for _, v := range r.GetRevisions() {
					title := truncate(v.GetTitle(), listTitleWidth)
					if v.GetDeleted() {
						title = "(deleted: " + orDash(v.GetDeleteReason()) + ") " + title
					}
					fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\n", v.GetVersion(), apiChange(v.GetChange()), word(v.GetKind(), "STRATEGY_ENTRY_KIND_"), len(v.GetTargets()), title)
				}
				_ = tw.Flush()
			})
		},
	}
	rf.add(cmd)
	return cmd
}
