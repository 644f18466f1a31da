package main

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/accordfed/accord/federation/identity"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// nodeStatus is what `accordctl status` shows, also as JSON.
type nodeStatus struct {
	Node           string                             `json:"node"`
	Member         string                             `json:"member"`
	LocalAPI       string                             `json:"local_api"`
	CertNotAfter   time.Time                          `json:"cert_not_after"`
	CertExpiresIn  string                             `json:"cert_expires_in"`
	Registry       *accordv1.RegistryStatusResponse   `json:"-"`
	RegistryJSON   any                                `json:"registry,omitempty"`
	RegistryError  string                             `json:"registry_error,omitempty"`
	Federation     *accordv1.FederationStatusResponse `json:"-"`
	FederationJSON any                                `json:"federation,omitempty"`
	FederationErr  string                             `json:"federation_error,omitempty"`
	// Waiting counts what waits for this office's answer in the registry
	// (nil when it could not be read: WaitingError says why).
	Waiting      *waitingCounts `json:"waiting,omitempty"`
	WaitingError string         `json:"waiting_error,omitempty"`
}

// waitingCounts are the registry records waiting for this office's
// answer, counted by the node (ListMatchDecisions and the others with
// awaiting_answer and total_size): a count, not every id.
type waitingCounts struct {
	// Matches are match decisions this office has not confirmed or
	// rejected yet.
	Matches int32 `json:"matches"`
	// LeadProposals are lead proposals this office has not answered yet.
	LeadProposals int32 `json:"lead_proposals"`
	// JitInvitations are teams this office is invited to and has not
	// answered.
	JitInvitations int32 `json:"jit_invitations"`
}

// newStatusCmd is `accordctl status`: an operator's one screen.
func newStatusCmd(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "status",
		Short: "This node at a glance: identity and certificate, registry, peers, store, matches waiting",
		Long: `status shows an operator, on one screen, the node of --config: its identity,
when its certificate expires, its role in the registry and the leader, each
other member's node (ANSWERING: it sent records or a heartbeat within twice
exchange.heartbeat_interval; LAST HEARD; SYNC: up to date, behind N for how
long, or unknown while it does not answer; LAST CHANGE: when it last sent
records, long ago on an idle feed; last error), the size of
its store, its trust material (the CRLs it applies, each CRL file it cannot
apply and why, failed reloads), and how many match decisions, lead
proposals and team invitations wait for this office's answer, with the
command that lists them. Each
part that cannot be read says why; the others are still shown.`,
		Example: `  accordctl --config demo/UA.yaml status
  accordctl --config demo/UA.yaml status -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := openCoord(g, cmd)
			if err != nil {
				return err
			}
			defer c.Close()
			st, err := collectStatus(cmd, c)
			if err != nil {
				return err
			}
			if g.JSON() {
				if st.Registry != nil {
					st.RegistryJSON = protoValue(st.Registry, true)
				}
				if st.Federation != nil {
					st.FederationJSON = protoValue(st.Federation, true)
				}
				return printJSON(cmd.OutOrStdout(), st)
			}
			printStatus(cmd.OutOrStdout(), st)
			return nil
		},
	}
	addRegistryFlags(cmd)
	return cmd
}

func collectStatus(cmd *cobra.Command, c *coordClient) (*nodeStatus, error) {
	ctx, cancel := c.ctx(cmd)
	defer cancel()
	st := &nodeStatus{LocalAPI: c.addr}
	// The node's own certificate, as it presented it on this connection.
	var p peer.Peer
	fed := accordv1.NewFederationIndexServiceClient(c.conn)
	fs, err := fed.FederationStatus(ctx, &accordv1.FederationStatusRequest{}, grpc.Peer(&p))
	if err != nil {
		if regTransportError(err.Error()) {
			return nil, c.rpcError("status", err)
		}
		st.FederationErr = err.Error()
	} else {
		st.Federation = fs
	}
	if leaf := peerLeaf(&p); leaf != nil {
		if id, err := identity.FromCertificate(leaf); err == nil {
			st.Node, st.Member = id.String(), id.Member
		}
		st.CertNotAfter = leaf.NotAfter.UTC()
		st.CertExpiresIn = humanDuration(time.Until(leaf.NotAfter))
	}
	if rs, err := c.coord.RegistryStatus(ctx, &accordv1.RegistryStatusRequest{}); err != nil {
		st.RegistryError = err.Error()
	} else {
		st.Registry = rs
	}
	st.Waiting, err = countWaiting(ctx, c)
	if err != nil {
		st.WaitingError = err.Error()
		st.Waiting = nil
	}
	return st, nil
}

// countWaiting asks the node how many registry records wait for this
// office's answer (stale reads: a count for a status screen).
func countWaiting(ctx context.Context, c *coordClient) (*waitingCounts, error) {
	w := &waitingCounts{}
	m, err := c.coord.ListMatchDecisions(ctx, &accordv1.ListMatchDecisionsRequest{AwaitingAnswer: true, PageSize: 1, Stale: true})
	if err != nil {
		return nil, err
	}
	l, err := c.coord.ListLeadProposals(ctx, &accordv1.ListLeadProposalsRequest{AwaitingAnswer: true, PageSize: 1, Stale: true})
	if err != nil {
		return nil, err
	}
	j, err := c.coord.ListJits(ctx, &accordv1.ListJitsRequest{
		MembershipState: accordv1.JitMembershipState_JIT_MEMBERSHIP_STATE_INVITED, State: accordv1.JitState_JIT_STATE_ACTIVE, PageSize: 1, Stale: true})
	if err != nil {
		return nil, err
	}
	w.Matches, w.LeadProposals, w.JitInvitations = m.GetTotalSize(), l.GetTotalSize(), j.GetTotalSize()
	return w, nil
}

// peerLeaf is the server's certificate of a call.
func peerLeaf(p *peer.Peer) *x509.Certificate {
	if p == nil || p.AuthInfo == nil {
		return nil
	}
	if ti, ok := p.AuthInfo.(credentials.TLSInfo); ok && len(ti.State.PeerCertificates) > 0 {
		return ti.State.PeerCertificates[0]
	}
	return nil
}

func printStatus(w io.Writer, st *nodeStatus) {
	fmt.Fprintf(w, "node:         %s (member %s), local API %s\n", orDash(st.Node), orDash(st.Member), st.LocalAPI)
	if !st.CertNotAfter.IsZero() {
		warn := ""
		if time.Until(st.CertNotAfter) < 30*24*time.Hour {
			warn = "  RENEW SOON"
		}
		fmt.Fprintf(w, "certificate:  expires %s (in %s)%s\n", st.CertNotAfter.Format("2006-01-02 15:04Z"), st.CertExpiresIn, warn)
	}
	switch r := st.Registry; {
	case r != nil:
		voters, nonvoters, behind := 0, 0, []string{}
		for _, s := range r.GetServers() {
			if s.GetSuffrage() == "Voter" {
				voters++
			} else {
				nonvoters++
			}
			if !s.GetReachable() || s.GetLag() > 0 {
				behind = append(behind, fmt.Sprintf("%s %s", regWho(s.GetId()), map[bool]string{true: fmt.Sprintf("lag %d", s.GetLag()), false: "unreachable"}[s.GetReachable()]))
			}
		}
		leader := "none known"
		if r.GetLeaderId() != "" {
			leader = regWho(r.GetLeaderId())
		}
		fmt.Fprintf(w, "registry:     %s, leader %s, %d voters, %d non-voters, applied index %d\n", r.GetState(), leader, voters, nonvoters, r.GetAppliedIndex())
		if len(behind) > 0 {
			fmt.Fprintf(w, "              behind: %s\n", strings.Join(behind, "; "))
		}
	default:
		fmt.Fprintf(w, "registry:     unavailable: %s\n", st.RegistryError)
	}
	if f := st.Federation; f != nil {
		fmt.Fprintf(w, "store:        %s; own feed head %d, %s waiting to be published\n", formatBytes(int64(f.GetStoreBytes())), f.GetFeedHead(), plural(int64(f.GetFeedPending()), "change"))
		fmt.Fprintln(w, "peers:")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  MEMBER\tANSWERING\tLAST HEARD\tSYNC\tLAST CHANGE\tHELD\tREFUSED\tLAST ERROR")
		if len(f.GetPeers()) == 0 {
			fmt.Fprintln(tw, "  (none)\t\t\t\t\t\t\t")
		}
		now := time.Now()
		for _, p := range f.GetPeers() {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\n", p.GetMember(), answering(p), sinceStamp(now, p.GetLastHeard()),
				syncState(p, now), sinceStamp(now, p.GetLastSync()), p.GetRecordsHeld(), p.GetRefused(), orDash(oneLine(p.GetLastError())))
		}
		_ = tw.Flush()
		printTrustStatus(w, f.GetTrust())
	} else {
		fmt.Fprintf(w, "federation:   unavailable: %s\n", st.FederationErr)
	}
	printWaiting(w, st)
}

// printWaiting says how many registry records wait for this office's
// answer, and the command that lists them.
func printWaiting(w io.Writer, st *nodeStatus) {
	if st.Waiting == nil {
		fmt.Fprintf(w, "waiting:      unavailable: %s\n", oneLine(st.WaitingError))
		return
	}
	for _, x := range []struct {
		label string
		n     int32
		list  string
	}{
		{"matches waiting for this office", st.Waiting.Matches, "accordctl matches list --awaiting"},
		{"lead proposals waiting for this office", st.Waiting.LeadProposals, "accordctl lead list --awaiting"},
		{"team invitations waiting for this office", st.Waiting.JitInvitations, "accordctl jit list --mine invited"},
	} {
		if x.n == 0 {
			fmt.Fprintf(w, "%s: none\n", x.label)
			continue
		}
		fmt.Fprintf(w, "%s: %s (%s)\n", x.label, formatCount(int64(x.n)), x.list)
	}
}

// answering says whether a member's node answers: it sent records or a
// heartbeat lately.
func answering(p *accordv1.PeerSyncStatus) string {
	switch {
	case p.GetNode() == "":
		return "not pulled"
	case p.GetAnswering():
		return "yes"
	}
	return "NO"
}

// syncState says how this node stands with a member's feed: up to date,
// behind by so many entries (for so long), or unknown while the member
// does not answer (with how long this node has not known itself up to
// date).
func syncState(p *accordv1.PeerSyncStatus, now time.Time) string {
	behind := time.Duration(p.GetLagSeconds() * float64(time.Second))
	switch {
	case p.GetNode() == "":
		return "-"
	case !p.GetAnswering() && p.GetCaughtUp() == nil:
		return "unknown"
	case !p.GetAnswering():
		return "unknown, up to date " + ago(now.Sub(p.GetCaughtUp().AsTime()))
	case p.GetLagRecords() == 0:
		return "up to date"
	}
	return fmt.Sprintf("behind %d for %s", p.GetLagRecords(), humanDuration(behind))
}

// sinceStamp is how long ago t was, or "-" when never.
func sinceStamp(now time.Time, t *timestamppb.Timestamp) string {
	if t == nil {
		return "-"
	}
	return ago(now.Sub(t.AsTime()))
}

// printTrustStatus shows how the node keeps its trust material current: the
// CRLs it applies, the CRL files it cannot apply and why, and failed
// reloads.
func printTrustStatus(w io.Writer, t *accordv1.TrustStatus) {
	if t == nil {
		return
	}
	line := plural(int64(t.GetCrlsApplied()), "CRL") + " applied"
	if n := len(t.GetUnusableCrls()); n > 0 {
		line += fmt.Sprintf(", %s UNUSABLE", plural(int64(n), "CRL file"))
	}
	if t.GetReloadFailures() > 0 {
		line += fmt.Sprintf("; %s since the node started", plural(int64(t.GetReloadFailures()), "failed reload"))
	}
	if e := t.GetLastReloadError(); e != "" {
		line += "; LAST RELOAD FAILED, the material read before stays in force: " + oneLine(e)
	} else if t.GetLastReload() != nil {
		line += "; last reload " + ago(time.Since(t.GetLastReload().AsTime())) + ", OK"
	}
	fmt.Fprintf(w, "trust:        %s\n", line)
	for _, u := range t.GetUnusableCrls() {
		kept := "nothing of it is applied"
		if u.GetKeptLastGood() {
			kept = "its last good version is still applied"
		}
		fmt.Fprintf(w, "              CRL file %q unusable (%s), %s: %s\n", u.GetFile(), u.GetReason(), kept, oneLine(u.GetError()))
	}
}
