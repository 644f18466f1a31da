package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

func newCustodyCmd(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "custody",
		Short: "Show, extend and verify evidence items' chains of custody",
		Long: `custody works with the chains of custody the node keeps for the office's
evidence items: one event per thing that happened to an item (registered,
transferred, accessed, analysed, sealed, released), each hash-chained to the
one before and covered by a seal the node signs with its key. verify checks the
hashes, the links and the seals' signatures, and names the first broken link of
each broken chain.`,
		Example: `  accordctl --config ua.yaml custody show UA-2022-004211-E001
  accordctl --config ua.yaml custody add UA-2022-004211-E001 --action transferred --details "to the forensic lab, Kyiv"
  accordctl --config ua.yaml custody verify`,
	}
	addLocalFlags(cmd)
	cmd.AddCommand(newCustodyShowCmd(g), newCustodyAddCmd(g), newCustodyVerifyCmd(g))
	return cmd
}

// custodyActions are the actions a user may append (registered is made by
// evidence add).
var custodyActions = []string{"transferred", "accessed", "analysed", "sealed", "released"}

func parseCustodyAction(s string) (accordv1.CustodyAction, error) {
	for _, a := range custodyActions {
		if strings.EqualFold(s, a) {
			return accordv1.CustodyAction(accordv1.CustodyAction_value["CUSTODY_ACTION_"+strings.ToUpper(a)]), nil
		}
	}
	return 0, fmt.Errorf("--action %q: must be one of %s", s, strings.Join(custodyActions, ", "))
}

func actionName(a accordv1.CustodyAction) string { return enumName(a.String(), "CUSTODY_ACTION_") }

// hashPrefix shows the start of a hash, enough to tell events apart.
func hashPrefix(b []byte) string {
	if len(b) == 0 {
		return "-"
	}
	s := hex.EncodeToString(b)
	return s[:min(len(s), 16)]
}

// keyFingerprint is the SHA-256 of a DER public key, as hex, cut to 32
// digits.
func keyFingerprint(der []byte) string {
	if len(der) == 0 {
		return "-"
	}
	sum := sha256.Sum256(der)
	return "sha256:" + hex.EncodeToString(sum[:16])
}

// ---- show ----

func newCustodyShowCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "show EVIDENCE_ID",
		Short: "Show an item's chain of custody, its seals, and whether it verifies",
		Long: `show prints an item's chain of custody, oldest first, one event per line
(sequence number, time in UTC, action, who, details, the start of the event's
hash, and the seal that signs it), then the seals (id, signing node, number of
events sealed, fingerprint of the signing key), then the node's verification of
the chain. The exit status is 2 when the chain is broken.`,
		Example: `  accordctl --config ua.yaml custody show UA-2022-004211-E001
  accordctl --config ua.yaml custody show UA-2022-004211-E001 -o json`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeEvidenceIDs(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			lc, err := openLocal(g, cmd)
			if err != nil {
				return err
			}
			defer lc.Close()
			id := args[0]
			chain, err := lc.evidence.GetCustodyChain(cmd.Context(), &accordv1.GetCustodyChainRequest{EvidenceId: id})
			if err != nil {
				return lc.rpcError("custody chain of "+id, err)
			}
			ver, err := lc.evidence.VerifyCustody(cmd.Context(), &accordv1.VerifyCustodyRequest{EvidenceId: id})
			if err != nil {
				return lc.rpcError("verify custody of "+id, err)
			}
			out := cmd.OutOrStdout()
			if g.JSON() {
				if err := printJSON(out, struct {
					Events []jsonProto `json:"events"`
					Seals  []jsonProto `json:"seals"`
					Verify jsonProto   `json:"verify"`
				}{protoList(chain.GetEvents()), protoList(chain.GetSeals()), jsonProto{ver}}); err != nil {
					return err
				}
			} else {
				printChain(out, id, chain)
				printVerify(out, ver)
			}
			return custodyOutcome(ver)
		},
	}
}

func printChain(w io.Writer, id string, chain *accordv1.GetCustodyChainResponse) {
	fmt.Fprintf(w, "custody chain of %s (%d events)\n", id, len(chain.GetEvents()))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTIME (UTC)\tACTION\tACTOR\tDETAILS\tHASH\tSEAL")
	for _, e := range chain.GetEvents() {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%d\n", e.GetSeq(), formatTime(e.GetTime()), actionName(e.GetAction()), e.GetActor(),
			orDash(oneLine(e.GetDetails())), hashPrefix(e.GetHash()), e.GetSealId())
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "seals (%d):\n", len(chain.GetSeals()))
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SEAL\tSIGNER\tEVENTS\tTIME (UTC)\tKEY")
	for _, s := range chain.GetSeals() {
		fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%s\n", s.GetId(), s.GetSigner(), len(s.GetEventHashes()), formatTime(s.GetTime()), keyFingerprint(s.GetSignerPublicKey()))
	}
	_ = tw.Flush()
}

// plural writes a count with a noun: "1 chain", "3 chains".
func plural(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return formatCount(n) + " " + noun + "s"
}

// oneLine keeps free text on one line of a table.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func printVerify(w io.Writer, v *accordv1.VerifyCustodyResponse) {
	fmt.Fprintf(w, "verified: %s, %s: ", plural(v.GetChains(), "chain"), plural(v.GetEvents(), "event"))
	if len(v.GetBreaks()) == 0 {
		fmt.Fprintln(w, "OK, no break")
		return
	}
	fmt.Fprintf(w, "%d BROKEN\n", len(v.GetBreaks()))
	for _, b := range v.GetBreaks() {
		fmt.Fprintf(w, "%s: broken at event %d: %s\n", b.GetEvidenceId(), b.GetSeq(), b.GetReason())
	}
}

// custodyOutcome is exit status 2 when a chain is broken.
func custodyOutcome(v *accordv1.VerifyCustodyResponse) error {
	if n := len(v.GetBreaks()); n > 0 {
		return exitError{code: 2, err: fmt.Errorf("%d of %s broken", n, plural(v.GetChains(), "custody chain"))}
	}
	return nil
}

// ---- add ----

func newCustodyAddCmd(g *globalOptions) *cobra.Command {
	var action, details string
	cmd := &cobra.Command{
		Use:   "add EVIDENCE_ID --action transferred|accessed|analysed|sealed|released [--details TEXT]",
		Short: "Record what happened to an evidence item in its chain of custody",
		Long: `add appends an event to an item's chain of custody: what happened (--action),
with details in words (to whom it was transferred, which analysis, which seal
number). The node records the time and who did it (this certificate's
identity), chains the event to the one before and seals it with its key.`,
		Example: `  accordctl --config ua.yaml custody add UA-2022-004211-E001 --action transferred --details "to the forensic lab, Kyiv, by courier 12"
  accordctl --config ua.yaml custody add UA-2022-004211-E001 --action analysed --details "frame-by-frame, report FL-2024-77"`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeEvidenceIDs(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			if action == "" {
				return fmt.Errorf("--action: required: one of %s", strings.Join(custodyActions, ", "))
			}
			a, err := parseCustodyAction(action)
			if err != nil {
				return err
			}
			lc, err := openLocal(g, cmd)
			if err != nil {
				return err
			}
			defer lc.Close()
			resp, err := lc.evidence.AppendCustodyEvent(cmd.Context(), &accordv1.AppendCustodyEventRequest{EvidenceId: args[0], Action: a, Details: details})
			if err != nil {
				return lc.rpcError("custody event for "+args[0], err)
			}
			if g.JSON() {
				return printProto(cmd.OutOrStdout(), resp.GetEvent())
			}
			e := resp.GetEvent()
			fmt.Fprintf(cmd.OutOrStdout(), "event %d (%s) added to the custody chain of %s at %s, seal %d\n",
				e.GetSeq(), actionName(e.GetAction()), e.GetEvidenceId(), formatTime(e.GetTime()), e.GetSealId())
			return nil
		},
	}
	cmd.Flags().StringVar(&action, "action", "", "what happened: "+strings.Join(custodyActions, ", ")+" (required)")
	cmd.Flags().StringVar(&details, "details", "", "what happened, in words")
	_ = cmd.RegisterFlagCompletionFunc("action", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return custodyActions, cobra.ShellCompDirectiveNoFileComp
	})
	return cmd
}

// ---- verify ----

func newCustodyVerifyCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "verify [EVIDENCE_ID]",
		Short: "Verify one chain of custody, or all of them",
		Long: `verify has the node check chains of custody (one item's, or every chain in
its store when no id is given): each event's hash, its link to the event
before, and the signatures of the seals. It prints how many chains and events
were checked and, for each broken chain, the first broken link and why. The
exit status is 2 when a chain is broken.`,
		Example: `  accordctl --config ua.yaml custody verify
  accordctl --config ua.yaml custody verify UA-2022-004211-E001 -o json`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: completeEvidenceIDs(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := ""
			if len(args) == 1 {
				id = args[0]
				if id == "" {
					return errors.New("EVIDENCE_ID: empty")
				}
			}
			lc, err := openLocal(g, cmd)
			if err != nil {
				return err
			}
			defer lc.Close()
			what := "verify custody"
			if id != "" {
				what += " of " + id
			}
			v, err := lc.evidence.VerifyCustody(cmd.Context(), &accordv1.VerifyCustodyRequest{EvidenceId: id})
			if err != nil {
				return lc.rpcError(what, err)
			}
			if g.JSON() {
				if err := printJSON(cmd.OutOrStdout(), protoValue(v, true)); err != nil {
					return err
				}
			} else {
				printVerify(cmd.OutOrStdout(), v)
			}
			return custodyOutcome(v)
		},
	}
}
