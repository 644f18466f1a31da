package main

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/trust"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// newRegistryCmds returns the top-level commands that work with the
// federation's shared registry through the node's CoordinationService:
// registry (status, members), jit, strategy and lead.
func newRegistryCmds(g *globalOptions) []*cobra.Command {
	return []*cobra.Command{newRegistryCmd(g), newJITCmd(g), newStrategyCmd(g), newLeadCmd(g), newMatchesCmd(g), newClustersCmd(g), newStatusCmd(g)}
}

// regDefaultTimeout bounds one registry call: a write waits for the
// registry's leader, which the node gives up on first when there is none.
const regDefaultTimeout = 30 * time.Second

// addRegistryFlags adds the local API flags and --timeout to a group command.
func addRegistryFlags(cmd *cobra.Command) {
	addLocalFlags(cmd)
	cmd.PersistentFlags().Duration("timeout", regDefaultTimeout, "how long to wait for the node's answer")
}

// coordClient is a local API connection with the CoordinationService.
type coordClient struct {
	*localClient
	coord    accordv1.CoordinationServiceClient
	clusters accordv1.ClusterServiceClient
	timeout  time.Duration
}

// openCoord connects to the node's local API for the registry commands.
func openCoord(g *globalOptions, cmd *cobra.Command) (*coordClient, error) {
	timeout := regDefaultTimeout
	if f := cmd.Flags().Lookup("timeout"); f != nil {
		d, err := time.ParseDuration(f.Value.String())
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("--timeout %q: must be a positive duration (30s, 2m)", f.Value.String())
		}
		timeout = d
	}
	lc, err := openLocal(g, cmd)
	if err != nil {
		return nil, err
	}
	return &coordClient{localClient: lc, coord: accordv1.NewCoordinationServiceClient(lc.conn),
		clusters: accordv1.NewClusterServiceClient(lc.conn), timeout: timeout}, nil
}

func (c *coordClient) ctx(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	return context.WithTimeout(cmd.Context(), c.timeout)
}

// coordError reports a failed CoordinationService call as rpcError does.
// An Unavailable of the registry itself (no leader) is not a connection
// problem and says so. For a write (requestID set) whose outcome is not
// known, it says how to retry safely.
func (c *coordClient) coordError(what, requestID string, err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	var out error
	if ok && st.Code() == codes.Unavailable && !regTransportError(st.Message()) {
		out = exitError{code: 1, err: fmt.Errorf("%s: %s (gRPC %s)\nhint: the registry has no leader just now (a new one is being elected, or too few registry servers are reachable: see accordctl registry status)", what, orDash(st.Message()), st.Code())}
	} else {
		out = c.rpcError(what, err)
	}
	if requestID == "" || !ok {
		return out
	}
	switch st.Code() {
	case codes.InvalidArgument, codes.NotFound, codes.AlreadyExists, codes.PermissionDenied,
		codes.FailedPrecondition, codes.Unauthenticated, codes.Aborted, codes.OutOfRange:
		// Refused: nothing was applied.
		return out
	}
	return exitError{code: 1, err: fmt.Errorf("%s\nthe command may or may not have been applied: retry with --request-id %s (the registry applies a request id at most once)", out.Error(), requestID)}
}

// regTransportError says whether an Unavailable message comes from the
// connection to the node rather than from the registry behind it.
func regTransportError(msg string) bool {
	if handshakeFailed(msg) {
		return true
	}
	for _, w := range []string{"connection error", "dial tcp", "connection refused", "transport", "name resolver"} {
		if strings.Contains(msg, w) {
			return true
		}
	}
	return false
}

// ---- writes ----

// regRequestIDRE is the form of a request id (coordination.proto).
var regRequestIDRE = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// writeFlags are the flags of every registry write.
type writeFlags struct{ requestID string }

func (w *writeFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&w.requestID, "request-id", "", "the request's id, to retry a write safely (default: a fresh random id, printed)")
}

// id returns the request id given, or a fresh one.
func (w *writeFlags) id() (string, error) {
	if w.requestID != "" {
		if !regRequestIDRE.MatchString(w.requestID) {
			return "", fmt.Errorf("--request-id %q: must be 1 to 128 letters, digits, '.', '_', ':' or '-'", w.requestID)
		}
		return w.requestID, nil
	}
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return "ctl-" + hex.EncodeToString(b), nil
}

// ---- reads ----

// readFlags are the flags of the list and show commands.
type readFlags struct{ stale bool }

func (r *readFlags) add(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&r.stale, "stale", false, "read this node's copy without confirming with the registry's leader (faster, works without a leader, may be behind)")
}

// ---- formatting ----

// regWho shortens an identity URI to MEMBER/kind/name.
func regWho(uri string) string {
	if uri == "" {
		return "-"
	}
	id, err := identity.Parse(uri)
	if err != nil {
		return uri
	}
	return id.Member + "/" + string(id.Kind) + "/" + id.Name
}

func regTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

func regRow(w io.Writer, k, v string) { fmt.Fprintf(w, "  %-14s %s\n", k+":", v) }

func regYesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// ---- argument checks ----

func regMemberArg(what, code string) error {
	if err := identity.ValidateMember(code); err != nil {
		return fmt.Errorf("%s %q: not a member code: 2-16 upper-case letters or digits starting with a letter (e.g. UA, ICC)", what, code)
	}
	return nil
}

// ==== registry ====

func newRegistryCmd(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "registry",
		Short: "The federation's shared registry: its Raft group and its members",
		Long: `registry shows the state of the federation's shared registry as the office's
node sees it: the Raft group (status) and the member offices (members,
member). The node must be a registry server; accordctl talks to its local API
with a user certificate of the office (client.cert_file of --config).

The registry's records are worked with through jit (joint investigation
teams), strategy (strategy entries) and lead (lead jurisdiction).`,
		Example: `  accordctl --config ua.yaml registry status
  accordctl --config ua.yaml registry members
  accordctl --config ua.yaml registry member PL -o json`,
	}
	addRegistryFlags(cmd)
	cmd.AddCommand(newRegistryStatusCmd(g), newRegistryMembersCmd(g), newRegistryMemberCmd(g))
	return cmd
}

func newRegistryStatusCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show the registry's Raft group: leader, indexes and every server",
		Long: `status shows the registry's Raft group as this node sees it: whether the
registry is founded, the leader, this node's state, term and indexes, and a
table of every server of the latest configuration (voters first) with its
suffrage, whether it answered just now, its state, applied index, how far it
lags behind, and why it could not be reached. The leader is marked with *.`,
		Example: `  accordctl --config ua.yaml registry status
  accordctl --config ua.yaml registry status -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := openCoord(g, cmd)
			if err != nil {
				return err
			}
			defer c.Close()
			ctx, cancel := c.ctx(cmd)
			defer cancel()
			st, err := c.coord.RegistryStatus(ctx, &accordv1.RegistryStatusRequest{})
			if err != nil {
				return c.coordError("registry status", "", err)
			}
			if g.JSON() {
				return printJSON(cmd.OutOrStdout(), protoValue(st, true))
			}
			printRegistryStatus(cmd.OutOrStdout(), st)
			return nil
		},
	}
}

func printRegistryStatus(w io.Writer, st *accordv1.RegistryStatusResponse) {
	founded := "founded"
	if !st.GetBootstrapped() {
		founded = "not founded yet"
	}
	fmt.Fprintf(w, "federation:  %s (%s)\n", orDash(st.GetFederation()), founded)
	if st.GetLeaderId() != "" {
		fmt.Fprintf(w, "leader:      %s at %s\n", st.GetLeaderId(), orDash(st.GetLeaderAddress()))
	} else {
		fmt.Fprintln(w, "leader:      none known")
	}
	fmt.Fprintf(w, "this node:   %s at %s: %s, term %d\n", st.GetId(), orDash(st.GetAddress()), orDash(st.GetState()), st.GetTerm())
	fmt.Fprintf(w, "indexes:     applied %d, commit %d, last %d\n", st.GetAppliedIndex(), st.GetCommitIndex(), st.GetLastIndex())
	if st.GetDivergedFromMajority() {
		fmt.Fprintln(w, "DIVERGED:    this node's registry applied other log entries than most servers (a rogue leader's, or a damaged log);")
		fmt.Fprintln(w, "             stop the node, move its registry folder aside and start it again to rejoin by snapshot (docs/registry.md, Divergence)")
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVER\tRAFT ADDRESS\tSUFFRAGE\tLEADER\tREACHABLE\tSTATE\tAPPLIED\tLAG\tERROR")
	if len(st.GetServers()) == 0 {
		fmt.Fprintln(tw, "(no servers)\t\t\t\t\t\t\t\t")
	}
	for _, s := range st.GetServers() {
		lead := ""
		if s.GetLeader() {
			lead = "*"
		}
		applied, lag := "-", "-"
		if s.GetReachable() {
			applied, lag = strconv.FormatUint(s.GetAppliedIndex(), 10), strconv.FormatUint(s.GetLag(), 10)
		}
		if s.GetDiverged() {
			applied += fmt.Sprintf(" DIVERGED at %d", s.GetDivergedAt())
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.GetId(), s.GetAddress(), s.GetSuffrage(), lead,
			regYesNo(s.GetReachable()), orDash(s.GetState()), applied, lag, truncate(oneLine(s.GetError()), 80))
	}
	_ = tw.Flush()
}

// newRegistryMembersCmd is registry members, the older name of member list.
func newRegistryMembersCmd(g *globalOptions) *cobra.Command {
	cmd := newMemberListCmd(g, "members")
	cmd.Short = "List the federation's member offices (the same as accordctl member list)"
	return cmd
}

// newRegistryMemberCmd is registry member, the older name of member show.
func newRegistryMemberCmd(g *globalOptions) *cobra.Command {
	cmd := newMemberShowCmd(g, "member")
	cmd.Short = "Show one member office (the same as accordctl member show)"
	return cmd
}

// regCertLine describes a PEM certificate by subject, expiry and SHA-256
// fingerprint.
func regCertLine(p string) string {
	b, _ := pem.Decode([]byte(p))
	if b == nil {
		return "(not a PEM certificate)"
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return "(unreadable certificate: " + err.Error() + ")"
	}
	return fmt.Sprintf("%s, valid until %s, SHA-256 %s", c.Subject.String(), c.NotAfter.UTC().Format(time.DateOnly), trust.Fingerprint(c))
}
