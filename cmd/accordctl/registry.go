package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
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
	"github.com/accordfed/accord/federation/registry"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// newRegistryCmds returns the top-level commands that work with the
// federation's shared registry through the node's CoordinationService:
// registry (status, members), jit, strategy and lead.
func newRegistryCmds(g *globalOptions) []*cobra.Command {
	return []*cobra.Command{newRegistryCmd(g), newJITCmd(g), newStrategyCmd(g), newLeadCmd(g), newMatchesCmd(g), newStatusCmd(g)}
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
	coord   accordv1.CoordinationServiceClient
	timeout time.Duration
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
	return &coordClient{localClient: lc, coord: accordv1.NewCoordinationServiceClient(lc.conn), timeout: timeout}, nil
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

// regWriteResult is what a write prints with --output json.
type regWriteResult struct {
	RequestID string `json:"request_id"`
	Type      string `json:"type"`
	ID        string `json:"id,omitempty"`
	Version   int32  `json:"version,omitempty"`
	Status    string `json:"status,omitempty"`
	Index     uint64 `json:"index"`
}

// regWrite is one registry write: what it is called in messages, the
// payload (built once connected, as some need the caller's identity or a
// read) and the sentence to print on success.
type regWrite struct {
	what     string
	build    func(ctx context.Context, c *coordClient) (registry.Payload, error)
	describe func(resp *accordv1.ExecuteResponse) string
}

func runWrite(cmd *cobra.Command, g *globalOptions, wf *writeFlags, w regWrite) error {
	rid, err := wf.id()
	if err != nil {
		return err
	}
	c, err := openCoord(g, cmd)
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := c.ctx(cmd)
	defer cancel()
	p, err := w.build(ctx, c)
	if err != nil {
		return err
	}
	payload, err := json.Marshal(p)
	if err != nil {
		return err
	}
	resp, err := c.coord.Execute(ctx, &accordv1.ExecuteRequest{Type: string(p.CommandType()), Payload: payload, RequestId: rid})
	if err != nil {
		return c.coordError(w.what, rid, err)
	}
	out := cmd.OutOrStdout()
	if g.JSON() {
		return printJSON(out, regWriteResult{
			RequestID: rid, Type: string(p.CommandType()),
			ID: resp.GetId(), Version: resp.GetVersion(), Status: resp.GetStatus(), Index: resp.GetIndex(),
		})
	}
	fmt.Fprintln(out, w.describe(resp))
	fmt.Fprintf(out, "request id: %s (registry index %d)\n", rid, resp.GetIndex())
	return nil
}

// ---- reads ----

// readFlags are the flags of the list and show commands.
type readFlags struct{ stale bool }

func (r *readFlags) add(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&r.stale, "stale", false, "read this node's copy without confirming with the registry's leader (faster, works without a leader, may be behind)")
}

// runQuery reads the registry and decodes the result into out; with
// --output json it prints the result as the node returned it and leaves out
// untouched (printed reports whether it did).
func runQuery(cmd *cobra.Command, g *globalOptions, rf readFlags, what, kind, id string, filter []byte, out any) (printed bool, err error) {
	c, err := openCoord(g, cmd)
	if err != nil {
		return false, err
	}
	defer c.Close()
	return c.query(cmd, g, rf, what, kind, id, filter, out)
}

func (c *coordClient) query(cmd *cobra.Command, g *globalOptions, rf readFlags, what, kind, id string, filter []byte, out any) (bool, error) {
	ctx, cancel := c.ctx(cmd)
	defer cancel()
	resp, err := c.coord.Query(ctx, &accordv1.QueryRequest{Kind: kind, Id: id, Filter: filter, Stale: rf.stale})
	if err != nil {
		return false, c.coordError(what, "", err)
	}
	result := resp.GetResult()
	if g.JSON() {
		if id == "" && bytes.Equal(bytes.TrimSpace(result), []byte("null")) {
			result = []byte("[]") // an empty list
		}
		var b bytes.Buffer
		if err := json.Indent(&b, result, "", "  "); err != nil {
			return false, fmt.Errorf("%s: the node's answer is not JSON: %w", what, err)
		}
		b.WriteByte('\n')
		_, err := cmd.OutOrStdout().Write(b.Bytes())
		return true, err
	}
	if err := json.Unmarshal(result, out); err != nil {
		return false, fmt.Errorf("%s: cannot read the node's answer: %w", what, err)
	}
	return false, nil
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

// regChange says when and by whom a change was made: the user, and the node
// it acted through.
func regChange(c registry.Change) string {
	if c.Index == 0 && c.Time.IsZero() {
		return "-"
	}
	s := regTime(c.Time)
	if c.User != "" {
		s += " by " + regWho(c.User) + " via " + regWho(c.Node)
	} else {
		s += " by " + regWho(c.Node)
	}
	return s
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

var regKinds = []string{string(registry.KindPriority), string(registry.KindTarget), string(registry.KindTheme)}

func regKind(flag, s string) (registry.EntryKind, error) {
	if indexOf(regKinds, strings.ToLower(s)) < 0 {
		return "", fmt.Errorf("--%s %q: must be priority, target or theme", flag, s)
	}
	return registry.EntryKind(strings.ToLower(s)), nil
}

// regCaseRef reads MEMBER/CASE_ID, or a bare case id whose member is its
// prefix before the first dash (UA-2022-000001 is UA's).
func regCaseRef(flag, s string) (registry.CaseRef, error) {
	s = strings.TrimSpace(s)
	var ref registry.CaseRef
	if m, id, ok := strings.Cut(s, "/"); ok && identity.ValidateMember(m) == nil {
		ref = registry.CaseRef{Member: m, CaseID: id}
	} else if m, _, ok := strings.Cut(s, "-"); ok && identity.ValidateMember(m) == nil {
		ref = registry.CaseRef{Member: m, CaseID: s}
	}
	if ref.Member == "" || ref.CaseID == "" {
		return ref, fmt.Errorf("%s %q: must be MEMBER/CASE_ID (e.g. UA/UA-2022-000001)", flag, s)
	}
	return ref, nil
}

// regTargets reads --target values: unit:DESIGNATION or
// person:HEX@KEY[:VERSION]. A person's key version defaults to the key's
// current version, looked up in the registry.
func regTargets(ctx context.Context, c *coordClient, values []string) ([]registry.TargetRef, error) {
	var out []registry.TargetRef
	for _, v := range values {
		typ, ref, ok := strings.Cut(v, ":")
		bad := func(why string) error {
			return fmt.Errorf("--target %q: %s (unit:DESIGNATION, or person:HEX@KEY[:VERSION] for a keyed person encoding)", v, why)
		}
		if !ok || ref == "" {
			return nil, bad("must be TYPE:REF")
		}
		switch registry.TargetType(strings.ToLower(typ)) {
		case registry.TargetUnit:
			out = append(out, registry.TargetRef{Type: registry.TargetUnit, Ref: ref})
		case registry.TargetPerson:
			enc, key, ok := strings.Cut(ref, "@")
			if !ok || enc == "" || key == "" {
				return nil, bad("a person is named by a keyed encoding and the federation key it was made with, never a name")
			}
			t := registry.TargetRef{Type: registry.TargetPerson, Ref: enc, Key: key}
			if name, ver, ok := strings.Cut(key, ":"); ok {
				n, err := strconv.Atoi(ver)
				if err != nil || n < 1 {
					return nil, bad("the key version must be a number from 1")
				}
				t.Key, t.KeyVersion = name, n
			} else {
				k, err := regCurrentKeyVersion(ctx, c, key)
				if err != nil {
					return nil, err
				}
				t.KeyVersion = k
			}
			out = append(out, t)
		default:
			return nil, bad("type must be unit or person")
		}
	}
	return out, nil
}

func regCurrentKeyVersion(ctx context.Context, c *coordClient, name string) (int, error) {
	resp, err := c.coord.Query(ctx, &accordv1.QueryRequest{Kind: "key", Id: name})
	if err != nil {
		return 0, c.coordError("--target: federation key "+name, "", err)
	}
	var k registry.FederationKey
	if err := json.Unmarshal(resp.GetResult(), &k); err != nil || len(k.Versions) == 0 {
		return 0, fmt.Errorf("--target: federation key %s: no versions", name)
	}
	return k.Current().Version, nil
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

// regCertLine describes a PEM certificate by subject and expiry.
func regCertLine(p string) string {
	b, _ := pem.Decode([]byte(p))
	if b == nil {
		return "(not a PEM certificate)"
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return "(unreadable certificate: " + err.Error() + ")"
	}
	return fmt.Sprintf("%s, valid until %s", c.Subject.String(), c.NotAfter.UTC().Format(time.DateOnly))
}

// ==== jit ====

func newJITCmd(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "jit",
		Short: "Joint investigation teams: create, invite, answer, link cases, lead, close, consent",
		Long: `jit works with the federation's joint investigation teams (JITs) in the shared
registry, for the office of the user certificate in --config. The member that
creates a team is its first member and its lead; invited members accept or
decline; accepted members link their own cases.

Changes to the team as a whole follow the team's agreement rule (its policy,
"unanimous"): an accepted member proposes inviting another office (invite),
a new lead (lead) or closing the team (close), and the change is made only
once every accepted member has consented (consent PROPOSAL; refuse PROPOSAL
refuses it). Until then an office proposed for invitation is not invited and
sees nothing of the team. jit show lists the team's proposals and answers.
Leaving is an office's own act and needs no consent.

Every write takes --request-id: the registry applies a request id at most
once, so a write that timed out can be retried with the id printed.`,
		Example: `  accordctl --config ua.yaml jit create --name "Kharkiv shelling 2022" --legal-basis "EU JIT model agreement" --invite PL
  accordctl --config pl.yaml jit accept JIT-ID
  accordctl --config ua.yaml jit link JIT-ID UA-2022-000001
  accordctl --config pl.yaml jit invite JIT-ID DE
  accordctl --config ua.yaml jit consent JIT-ID/1
  accordctl --config pl.yaml jit show JIT-ID`,
	}
	addRegistryFlags(cmd)
	cmd.AddCommand(newJITCreateCmd(g), newJITInviteCmd(g), newJITRespondCmd(g, true), newJITRespondCmd(g, false),
		newJITLeaveCmd(g), newJITLinkCmd(g, true), newJITLinkCmd(g, false), newJITLeadCmd(g), newJITCloseCmd(g),
		newJITConsentCmd(g, true), newJITConsentCmd(g, false), newJITListCmd(g), newJITShowCmd(g))
	return cmd
}

func newJITCreateCmd(g *globalOptions) *cobra.Command {
	var (
		wf                     writeFlags
		name, basis, agreement string
		invite                 []string
	)
	cmd := &cobra.Command{
		Use:   "create --name NAME --legal-basis BASIS [--agreement-ref REF] [--invite PL,DE]",
		Short: "Create a joint investigation team, this office leading it",
		Long: `create creates a joint investigation team. This office is its first accepted
member and its lead; --invite invites other member offices at once (they
accept or decline with jit accept / jit decline). Prints the team's id.`,
		Example: `  accordctl --config ua.yaml jit create --name "Kharkiv shelling 2022" --legal-basis "Art. 13 EU MLA Convention 2000" --agreement-ref JIT-2024-07 --invite PL,DE`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, m := range invite {
				if err := regMemberArg("--invite", m); err != nil {
					return err
				}
			}
			return runWrite(cmd, g, &wf, regWrite{
				what: "jit create",
				build: func(context.Context, *coordClient) (registry.Payload, error) {
					return registry.CreateJIT{Name: name, LegalBasis: basis, AgreementRef: agreement, Invite: invite}, nil
				},
				describe: func(r *accordv1.ExecuteResponse) string {
					s := fmt.Sprintf("created joint investigation team %s (%s)", r.GetId(), orDash(r.GetStatus()))
					if len(invite) > 0 {
						s += "; invited " + strings.Join(invite, ", ")
					}
					return s
				},
			})
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "the team's name (required)")
	cmd.Flags().StringVar(&basis, "legal-basis", "", "the legal instrument the team rests on (required)")
	cmd.Flags().StringVar(&agreement, "agreement-ref", "", "the reference of the signed JIT agreement")
	cmd.Flags().StringSliceVar(&invite, "invite", nil, "member offices to invite at once, comma-separated (PL,DE)")
	_ = cmd.MarkFlagRequired("name")
	_ = cmd.MarkFlagRequired("legal-basis")
	wf.add(cmd)
	return cmd
}

func newJITInviteCmd(g *globalOptions) *cobra.Command {
	var wf writeFlags
	cmd := &cobra.Command{
		Use:     "invite JIT MEMBER",
		Short:   "Propose inviting a member office to a team (invited once every member consents)",
		Example: `  accordctl --config ua.yaml jit invite JIT-ID DE`,
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := regMemberArg("MEMBER", args[1]); err != nil {
				return err
			}
			return runWrite(cmd, g, &wf, regWrite{
				what: "jit invite " + args[1] + " to " + args[0],
				build: func(context.Context, *coordClient) (registry.Payload, error) {
					return registry.InviteToJIT{JIT: args[0], Member: args[1]}, nil
				},
				describe: func(r *accordv1.ExecuteResponse) string {
					return describeProposal(r, fmt.Sprintf("invited %s to %s", args[1], args[0]), fmt.Sprintf("inviting %s to %s", args[1], args[0]))
				},
			})
		},
	}
	wf.add(cmd)
	return cmd
}

func newJITRespondCmd(g *globalOptions, accept bool) *cobra.Command {
	var wf writeFlags
	verb, done := "decline", "declined"
	short := "Decline this office's invitation to a team"
	if accept {
		verb, done = "accept", "accepted"
		short = "Accept this office's invitation to a team"
	}
	cmd := &cobra.Command{
		Use:     verb + " JIT",
		Short:   short,
		Example: "  accordctl --config pl.yaml jit " + verb + " JIT-ID",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runWrite(cmd, g, &wf, regWrite{
				what: "jit " + verb + " " + args[0],
				build: func(context.Context, *coordClient) (registry.Payload, error) {
					return registry.RespondToJIT{JIT: args[0], Accept: accept}, nil
				},
				describe: func(*accordv1.ExecuteResponse) string {
					return fmt.Sprintf("%s the invitation to %s", done, args[0])
				},
			})
		},
	}
	wf.add(cmd)
	return cmd
}

func newJITLeaveCmd(g *globalOptions) *cobra.Command {
	var wf writeFlags
	cmd := &cobra.Command{
		Use:   "leave JIT",
		Short: "Leave a team (this office's linked cases leave with it)",
		Long: `leave takes this office out of a team; it needs no one's consent. Its linked
cases are unlinked and its consent is no longer asked; a lead that leaves
leaves the team without a lead until the others agree on one (jit lead); the
team closes when its last member leaves.`,
		Example: `  accordctl --config pl.yaml jit leave JIT-ID`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runWrite(cmd, g, &wf, regWrite{
				what: "jit leave " + args[0],
				build: func(context.Context, *coordClient) (registry.Payload, error) {
					return registry.LeaveJIT{JIT: args[0]}, nil
				},
				describe: func(r *accordv1.ExecuteResponse) string {
					return fmt.Sprintf("left %s (team %s)", args[0], orDash(r.GetStatus()))
				},
			})
		},
	}
	wf.add(cmd)
	return cmd
}

func newJITLinkCmd(g *globalOptions, link bool) *cobra.Command {
	var wf writeFlags
	verb, done, short := "unlink", "unlinked %s from %s", "Unlink one of this office's cases from a team"
	if link {
		verb, done, short = "link", "linked %s to %s", "Link one of this office's cases to a team"
	}
	cmd := &cobra.Command{
		Use:   verb + " JIT CASE_ID",
		Short: short,
		Long: verb + ` names a case of this office (the member of the user certificate in --config)
by its case id. Only accepted team members link and unlink, and only their own
cases.`,
		Example: "  accordctl --config ua.yaml jit " + verb + " JIT-ID UA-2022-000001",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var ref registry.CaseRef
			return runWrite(cmd, g, &wf, regWrite{
				what: "jit " + verb + " " + args[1],
				build: func(_ context.Context, c *coordClient) (registry.Payload, error) {
					ref = registry.CaseRef{Member: c.id.Member, CaseID: args[1]}
					if link {
						return registry.LinkCase{JIT: args[0], Case: ref}, nil
					}
					return registry.UnlinkCase{JIT: args[0], Case: ref}, nil
				},
				describe: func(*accordv1.ExecuteResponse) string {
					return fmt.Sprintf(done, ref, args[0])
				},
			})
		},
	}
	wf.add(cmd)
	return cmd
}

func newJITLeadCmd(g *globalOptions) *cobra.Command {
	var wf writeFlags
	cmd := &cobra.Command{
		Use:     "lead JIT MEMBER",
		Short:   "Propose an accepted member as the team's lead (made lead once every member consents)",
		Example: `  accordctl --config ua.yaml jit lead JIT-ID PL`,
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := regMemberArg("MEMBER", args[1]); err != nil {
				return err
			}
			return runWrite(cmd, g, &wf, regWrite{
				what: "jit lead " + args[0],
				build: func(context.Context, *coordClient) (registry.Payload, error) {
					return registry.SetJITLead{JIT: args[0], Lead: args[1]}, nil
				},
				describe: func(r *accordv1.ExecuteResponse) string {
					return describeProposal(r, fmt.Sprintf("%s now leads %s", args[1], args[0]), fmt.Sprintf("%s as lead of %s", args[1], args[0]))
				},
			})
		},
	}
	wf.add(cmd)
	return cmd
}

func newJITCloseCmd(g *globalOptions) *cobra.Command {
	var wf writeFlags
	cmd := &cobra.Command{
		Use:     "close JIT",
		Short:   "Propose closing a team (closed once every member consents)",
		Example: `  accordctl --config ua.yaml jit close JIT-ID`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runWrite(cmd, g, &wf, regWrite{
				what: "jit close " + args[0],
				build: func(context.Context, *coordClient) (registry.Payload, error) {
					return registry.CloseJIT{JIT: args[0]}, nil
				},
				describe: func(r *accordv1.ExecuteResponse) string {
					return describeProposal(r, "closed "+args[0], "closing "+args[0])
				},
			})
		},
	}
	wf.add(cmd)
	return cmd
}

// describeProposal says what a team proposal's outcome means: the change
// made (done) when it was agreed at once, else what was proposed and what
// the other members are to do.
func describeProposal(r *accordv1.ExecuteResponse, done, proposed string) string {
	switch r.GetStatus() {
	case string(registry.ProposalAgreed):
		return fmt.Sprintf("%s (proposal %s, agreed)", done, r.GetId())
	case string(registry.ProposalOpen):
		return fmt.Sprintf("proposed %s as %s; every other accepted member must consent (accordctl jit consent %s)", proposed, r.GetId(), r.GetId())
	}
	return fmt.Sprintf("proposal %s of %s is %s", r.GetId(), proposed, orDash(r.GetStatus()))
}

func newJITConsentCmd(g *globalOptions, consent bool) *cobra.Command {
	var wf writeFlags
	verb, done, short := "refuse", "refused", "Refuse a proposal of one of this office's teams"
	if consent {
		verb, done, short = "consent", "consented to", "Consent to a proposal of one of this office's teams"
	}
	cmd := &cobra.Command{
		Use:   verb + " PROPOSAL",
		Short: short,
		Long: verb + ` answers, for this office, a proposal to invite a member, change the lead or
close a team it has accepted (PROPOSAL is JIT-ID/NUMBER, as jit show lists
them). The change is made on the last consent; one refusal refuses it.`,
		Example: "  accordctl --config ua.yaml jit " + verb + " JIT-ID/2",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runWrite(cmd, g, &wf, regWrite{
				what: "jit " + verb + " " + args[0],
				build: func(context.Context, *coordClient) (registry.Payload, error) {
					return registry.ConsentJIT{Proposal: args[0], Consent: consent}, nil
				},
				describe: func(r *accordv1.ExecuteResponse) string {
					return fmt.Sprintf("%s %s (proposal now %s)", done, args[0], orDash(r.GetStatus()))
				},
			})
		},
	}
	wf.add(cmd)
	return cmd
}

func newJITListCmd(g *globalOptions) *cobra.Command {
	var rf readFlags
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the teams this office is a member of or invited to",
		Long: `list shows the teams this office has accepted or is invited to: id, status,
lead, this office's own standing, the members with theirs, the number of
linked cases (shown to accepted members only) and the name.`,
		Example: `  accordctl --config ua.yaml jit list`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := openCoord(g, cmd)
			if err != nil {
				return err
			}
			defer c.Close()
			var jits []registry.JIT
			if printed, err := c.query(cmd, g, rf, "jit list", "jits", "", nil, &jits); printed || err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "JIT\tSTATUS\tLEAD\tTHIS OFFICE\tMEMBERS\tCASES\tOPEN PROPOSALS\tNAME")
			if len(jits) == 0 {
				fmt.Fprintln(tw, "(no teams)\t\t\t\t\t\t\t")
			}
			for _, j := range jits {
				mine := "-"
				var ms []string
				for _, m := range j.Members {
					ms = append(ms, m.Member+" "+string(m.State))
					if m.Member == c.id.Member {
						mine = string(m.State)
					}
				}
				open := 0
				for _, p := range j.Proposals {
					if p.Status == registry.ProposalOpen {
						open++
					}
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\n", j.ID, j.Status, orDash(j.Lead), mine, strings.Join(ms, ", "), len(j.Cases), open, truncate(j.Name, listTitleWidth))
			}
			return tw.Flush()
		},
	}
	rf.add(cmd)
	return cmd
}

func newJITShowCmd(g *globalOptions) *cobra.Command {
	var rf readFlags
	cmd := &cobra.Command{
		Use:   "show JIT",
		Short: "Show a team: members and their answers, lead, linked cases, proposals, and who did what",
		Long: `show shows a team: its status, lead, legal basis, agreement and agreement rule
(policy), every member office with its standing (invited, accepted,
declined, left) and the change that put it there, and, to accepted members
only, the linked cases and the team's proposals (invite, lead, close) with
each member's answer, each with when and by whom (user and node) it
happened.`,
		Example: `  accordctl --config pl.yaml jit show JIT-ID
  accordctl --config pl.yaml jit show JIT-ID -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := openCoord(g, cmd)
			if err != nil {
				return err
			}
			defer c.Close()
			var j registry.JIT
			if printed, err := c.query(cmd, g, rf, "jit show "+args[0], "jit", args[0], nil, &j); printed || err != nil {
				return err
			}
			printJIT(cmd.OutOrStdout(), j, c.id.Member)
			return nil
		},
	}
	rf.add(cmd)
	return cmd
}

// printJIT writes a team as viewer sees it.
func printJIT(w io.Writer, j registry.JIT, viewer string) {
	fmt.Fprintf(w, "%s  %s\n", j.ID, j.Name)
	regRow(w, "status", string(j.Status))
	regRow(w, "lead", orDash(j.Lead))
	regRow(w, "legal basis", orDash(j.LegalBasis))
	regRow(w, "agreement", orDash(j.AgreementRef))
	regRow(w, "policy", string(j.Policy)+" (invitations, lead changes and closing need every accepted member's consent)")
	regRow(w, "created", regChange(j.Created))
	regRow(w, "updated", regChange(j.Updated))
	fmt.Fprintf(w, "members (%d):\n", len(j.Members))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  MEMBER\tSTATE\tLEAD\tINVITED BY\tSINCE")
	for _, m := range j.Members {
		lead := ""
		if m.Member == j.Lead {
			lead = "*"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", m.Member, m.State, lead, orDash(m.InvitedBy), regChange(m.Since))
	}
	_ = tw.Flush()
	for _, m := range j.Members {
		if m.Member == viewer && m.State != registry.MembershipAccepted {
			fmt.Fprintf(w, "linked cases: shown to accepted members only (%s is %s)\n", viewer, m.State)
			return
		}
	}
	fmt.Fprintf(w, "linked cases (%d):\n", len(j.Cases))
	if len(j.Cases) > 0 {
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  CASE\tLINKED")
		for _, c := range j.Cases {
			fmt.Fprintf(tw, "  %s\t%s\n", c.Case, regChange(c.Linked))
		}
		_ = tw.Flush()
	}
	fmt.Fprintf(w, "proposals (%d):\n", len(j.Proposals))
	if len(j.Proposals) > 0 {
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  PROPOSAL\tCHANGE\tSTATUS\tANSWERS\tPROPOSED")
		for _, p := range j.Proposals {
			change := string(p.Kind)
			if p.Member != "" {
				change += " " + p.Member
			}
			var ans []string
			for _, c := range p.Consents {
				ans = append(ans, c.Member+" "+string(c.Answer))
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", p.ID, change, p.Status, orDash(strings.Join(ans, ", ")), regChange(p.Created))
		}
		_ = tw.Flush()
	}
}

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

Every write takes --request-id: the registry applies a request id at most
once, so a write that timed out can be retried with the id printed.`,
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

func addKindCompletion(cmd *cobra.Command) {
	_ = cmd.RegisterFlagCompletionFunc("kind", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return regKinds, cobra.ShellCompDirectiveNoFileComp
	})
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
			return runWrite(cmd, g, &wf, regWrite{
				what: "strategy add",
				build: func(ctx context.Context, c *coordClient) (registry.Payload, error) {
					ts, err := regTargets(ctx, c, targets)
					if err != nil {
						return nil, err
					}
					return registry.CreateEntry{Kind: k, Title: title, Text: text, Targets: ts, JIT: jit}, nil
				},
				describe: func(r *accordv1.ExecuteResponse) string {
					scope := "federation-wide"
					if jit != "" {
						scope = "in " + jit
					}
					return fmt.Sprintf("added %s entry %s (version %d), %s", k, r.GetId(), r.GetVersion(), scope)
				},
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
what the flags give changes: the rest is taken from the current version
(--target replaces all targets; --clear-targets removes them; --text "" clears
the text). The update applies only to the version it was based on, the
current one or --expected-version N, so that nobody's change is overwritten
unseen (FailedPrecondition otherwise: read the entry again).`,
		Example: `  accordctl --config ua.yaml strategy update ENTRY-ID --title "Attacks on energy infrastructure, winter 2022"
  accordctl --config ua.yaml strategy update ENTRY-ID --text "Focus on Kharkiv Oblast" --expected-version 2`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			changed := func(name string) bool { return cmd.Flags().Changed(name) }
			if !changed("kind") && !changed("title") && !changed("text") && !changed("target") && !clearTargets {
				return errors.New("strategy update: nothing to change: give --kind, --title, --text, --target or --clear-targets")
			}
			if changed("target") && clearTargets {
				return errors.New("--target and --clear-targets exclude each other")
			}
			if expected < 0 {
				return errors.New("--expected-version: must not be negative")
			}
			var k registry.EntryKind
			if changed("kind") {
				var err error
				if k, err = regKind("kind", kind); err != nil {
					return err
				}
			}
			entry := args[0]
			return runWrite(cmd, g, &wf, regWrite{
				what: "strategy update " + entry,
				build: func(ctx context.Context, c *coordClient) (registry.Payload, error) {
					resp, err := c.coord.Query(ctx, &accordv1.QueryRequest{Kind: "entry", Id: entry})
					if err != nil {
						return nil, c.coordError("strategy update "+entry+": reading the entry", "", err)
					}
					var cur registry.StrategyEntry
					if err := json.Unmarshal(resp.GetResult(), &cur); err != nil {
						return nil, fmt.Errorf("strategy update %s: cannot read the node's answer: %w", entry, err)
					}
					if cur.Current.Deleted {
						return nil, exitError{code: 1, err: fmt.Errorf("strategy update %s: the entry was deleted at version %d", entry, cur.Current.Version)}
					}
					u := registry.UpdateEntry{
						Entry: entry, ExpectedVersion: cur.Current.Version,
						Kind: cur.Current.Kind, Title: cur.Current.Title, Text: cur.Current.Text, Targets: cur.Current.Targets,
					}
					if expected > 0 {
						u.ExpectedVersion = expected
					}
					if changed("kind") {
						u.Kind = k
					}
					if changed("title") {
						u.Title = title
					}
					if changed("text") {
						u.Text = text
					}
					if clearTargets {
						u.Targets = nil
					}
					if changed("target") {
						if u.Targets, err = regTargets(ctx, c, targets); err != nil {
							return nil, err
						}
					}
					return u, nil
				},
				describe: func(r *accordv1.ExecuteResponse) string {
					return fmt.Sprintf("updated %s to version %d", r.GetId(), r.GetVersion())
				},
			})
		},
	}
	cmd.Flags().StringVar(&kind, "kind", "", "new kind: priority, target or theme")
	cmd.Flags().StringVar(&title, "title", "", "new title")
	cmd.Flags().StringVar(&text, "text", "", "new text")
	cmd.Flags().StringArrayVar(&targets, "target", nil, "new targets, replacing all: unit:DESIGNATION or person:HEX@KEY[:VERSION] (repeatable)")
	cmd.Flags().BoolVar(&clearTargets, "clear-targets", false, "remove every target")
	cmd.Flags().IntVar(&expected, "expected-version", 0, "refuse the update unless the entry is at this version (default: the version read just before)")
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
			return runWrite(cmd, g, &wf, regWrite{
				what: "strategy delete " + args[0],
				build: func(context.Context, *coordClient) (registry.Payload, error) {
					return registry.DeleteEntry{Entry: args[0], ExpectedVersion: expected, Reason: reason}, nil
				},
				describe: func(r *accordv1.ExecuteResponse) string {
					return fmt.Sprintf("deleted %s (version %d records the deletion)", args[0], r.GetVersion())
				},
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
			f := map[string]any{}
			if jit != "" {
				f["jit"] = jit
			}
			if fedWide {
				f["federation_wide"] = true
			}
			if kind != "" {
				k, err := regKind("kind", kind)
				if err != nil {
					return err
				}
				f["kind"] = k
			}
			if owner != "" {
				if err := regMemberArg("--owner", owner); err != nil {
					return err
				}
				f["owner"] = owner
			}
			if inclDeleted {
				f["include_deleted"] = true
			}
			var filter []byte
			if len(f) > 0 {
				filter, _ = json.Marshal(f)
			}
			var es []registry.StrategyEntry
			if printed, err := runQuery(cmd, g, rf, "strategy list", "strategy", "", filter, &es); printed || err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ENTRY\tKIND\tOWNER\tSCOPE\tVERSION\tCHANGED\tTITLE")
			if len(es) == 0 {
				fmt.Fprintln(tw, "(no entries)\t\t\t\t\t\t")
			}
			for _, e := range es {
				title := truncate(e.Current.Title, listTitleWidth)
				if e.Current.Deleted {
					title = "(deleted) " + title
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", e.ID, e.Current.Kind, e.Owner, regScope(e.JIT), e.Current.Version, regTime(e.Current.Change.Time), title)
			}
			return tw.Flush()
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
	return "jit " + jit
}

func newStrategyShowCmd(g *globalOptions) *cobra.Command {
	return newShowCmd(g, "show ENTRY", "Show a strategy entry's current version",
		`  accordctl --config pl.yaml strategy show ENTRY-ID`, "strategy show", "entry", printEntry)
}

// newShowCmd returns a command that reads one registry record of a kind
// and prints it with print (or as JSON).
func newShowCmd[T any](g *globalOptions, use, short, example, what, kind string, show func(io.Writer, T)) *cobra.Command {
	var rf readFlags
	cmd := &cobra.Command{
		Use:     use,
		Short:   short,
		Example: example,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var rec T
			if printed, err := runQuery(cmd, g, rf, what+" "+args[0], kind, args[0], nil, &rec); printed || err != nil {
				return err
			}
			show(cmd.OutOrStdout(), rec)
			return nil
		},
	}
	rf.add(cmd)
	return cmd
}

func printEntry(w io.Writer, e registry.StrategyEntry) {
	v := e.Current
	fmt.Fprintf(w, "%s  %s\n", e.ID, v.Title)
	regRow(w, "kind", string(v.Kind))
	regRow(w, "owner", e.Owner)
	regRow(w, "scope", regScope(e.JIT))
	regRow(w, "version", strconv.Itoa(v.Version))
	if v.Deleted {
		regRow(w, "deleted", orDash(v.Reason))
	}
	regRow(w, "created", regChange(e.Created))
	regRow(w, "changed", regChange(v.Change))
	if v.Text != "" {
		fmt.Fprintln(w, "text:")
		for _, l := range strings.Split(v.Text, "\n") {
			fmt.Fprintln(w, "  "+l)
		}
	}
	fmt.Fprintf(w, "targets (%d):\n", len(v.Targets))
	for _, t := range v.Targets {
		fmt.Fprintf(w, "  %s\n", regTarget(t))
	}
}

func regTarget(t registry.TargetRef) string {
	if t.Type == registry.TargetPerson {
		return fmt.Sprintf("person %s (key %s version %d)", t.Ref, t.Key, t.KeyVersion)
	}
	return string(t.Type) + " " + t.Ref
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
			var vs []registry.StrategyVersion
			if printed, err := runQuery(cmd, g, rf, "strategy history "+args[0], "history", args[0], nil, &vs); printed || err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "%s: %s\n", args[0], plural(int64(len(vs)), "version"))
			tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "VERSION\tCHANGED\tKIND\tTARGETS\tTITLE")
			for _, v := range vs {
				title := truncate(v.Title, listTitleWidth)
				if v.Deleted {
					title = "(deleted: " + orDash(v.Reason) + ") " + title
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\n", v.Version, regChange(v.Change), v.Kind, len(v.Targets), title)
			}
			return tw.Flush()
		},
	}
	rf.add(cmd)
	return cmd
}

// ==== lead ====

func newLeadCmd(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "lead",
		Short: "Lead jurisdiction: propose which office leads a group of matched cases, consent, refuse",
		Long: `lead works with lead-jurisdiction assignments: a proposal that one member
office leads the prosecution of a group of cases of several offices (named
with --cases, or the cases of a confirmed match with --match). It is agreed
once every involved office consents, and refused once one refuses.

Every write takes --request-id: the registry applies a request id at most
once, so a write that timed out can be retried with the id printed.`,
		Example: `  accordctl --config ua.yaml lead propose --cases UA/UA-2022-000001,PL/PL-2023-17 --lead UA
  accordctl --config pl.yaml lead consent ASSIGNMENT-ID
  accordctl --config pl.yaml lead list`,
	}
	addRegistryFlags(cmd)
	cmd.AddCommand(newLeadProposeCmd(g), newLeadAnswerCmd(g, true), newLeadAnswerCmd(g, false), newLeadListCmd(g), newLeadShowCmd(g))
	return cmd
}

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
assignment's id; every involved office then consents or refuses.`,
		Example: `  accordctl --config ua.yaml lead propose --cases UA/UA-2022-000001,PL/PL-2023-17 --lead UA --note "most evidence held in Kharkiv"
  accordctl --config ua.yaml lead propose --match MATCH-ID --lead PL`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := regMemberArg("--lead", lead); err != nil {
				return err
			}
			var refs []registry.CaseRef
			for _, s := range cases {
				r, err := regCaseRef("--cases", s)
				if err != nil {
					return err
				}
				refs = append(refs, r)
			}
			return runWrite(cmd, g, &wf, regWrite{
				what: "lead propose",
				build: func(context.Context, *coordClient) (registry.Payload, error) {
					return registry.ProposeLead{Cases: refs, Match: match, Lead: lead, Note: note}, nil
				},
				describe: func(r *accordv1.ExecuteResponse) string {
					return fmt.Sprintf("proposed %s as lead: assignment %s (%s)", lead, r.GetId(), orDash(r.GetStatus()))
				},
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
	verb, done, short := "refuse", "refused", "Refuse a lead assignment this office is involved in"
	if consent {
		verb, done, short = "consent", "consented to", "Consent to a lead assignment this office is involved in"
	}
	cmd := &cobra.Command{
		Use:     verb + " ASSIGNMENT",
		Short:   short,
		Example: "  accordctl --config pl.yaml lead " + verb + " ASSIGNMENT-ID",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runWrite(cmd, g, &wf, regWrite{
				what: "lead " + verb + " " + args[0],
				build: func(context.Context, *coordClient) (registry.Payload, error) {
					return registry.ConsentLead{Assignment: args[0], Consent: consent}, nil
				},
				describe: func(r *accordv1.ExecuteResponse) string {
					return fmt.Sprintf("%s %s (assignment now %s)", done, args[0], orDash(r.GetStatus()))
				},
			})
		},
	}
	wf.add(cmd)
	return cmd
}

func newLeadListCmd(g *globalOptions) *cobra.Command {
	var rf readFlags
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List the lead assignments this office is involved in",
		Example: `  accordctl --config pl.yaml lead list`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var as []registry.LeadAssignment
			if printed, err := runQuery(cmd, g, rf, "lead list", "leads", "", nil, &as); printed || err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ASSIGNMENT\tSTATUS\tLEAD\tCASES\tANSWERS\tPROPOSED")
			if len(as) == 0 {
				fmt.Fprintln(tw, "(no lead assignments)\t\t\t\t\t")
			}
			for _, a := range as {
				var cs, ans []string
				for _, c := range a.Cases {
					cs = append(cs, c.String())
				}
				for _, c := range a.Consents {
					ans = append(ans, c.Member+" "+string(c.Answer))
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", a.ID, a.Status, a.Lead, truncate(strings.Join(cs, ", "), listTitleWidth), strings.Join(ans, ", "), regTime(a.Created.Time))
			}
			return tw.Flush()
		},
	}
	rf.add(cmd)
	return cmd
}

func newLeadShowCmd(g *globalOptions) *cobra.Command {
	return newShowCmd(g, "show ASSIGNMENT", "Show a lead assignment: cases, lead, and each office's answer",
		`  accordctl --config pl.yaml lead show ASSIGNMENT-ID`, "lead show", "lead", printLead)
}

func printLead(w io.Writer, a registry.LeadAssignment) {
	fmt.Fprintf(w, "%s  lead %s\n", a.ID, a.Lead)
	regRow(w, "status", string(a.Status))
	if a.Match != "" {
		regRow(w, "match", a.Match)
	}
	if a.Note != "" {
		regRow(w, "note", oneLine(a.Note))
	}
	regRow(w, "proposed", regChange(a.Created))
	regRow(w, "updated", regChange(a.Updated))
	fmt.Fprintf(w, "cases (%d):\n", len(a.Cases))
	for _, c := range a.Cases {
		fmt.Fprintf(w, "  %s\n", c)
	}
	fmt.Fprintf(w, "answers (%d):\n", len(a.Consents))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range a.Consents {
		when := "-"
		if c.Change != nil {
			when = regChange(*c.Change)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", c.Member, c.Answer, when)
	}
	_ = tw.Flush()
}
