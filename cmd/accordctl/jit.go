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

A team is named by its id (jit-000001) or its resource name (jits/jit-000001).
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

func jitArg(s string) string { return resourceName("jits", s) }

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
			return apiWrite(cmd, g, &wf, "jit create", func(ctx context.Context, c *coordClient, rid string) (*accordv1.CreateJitResponse, error) {
				return c.coord.CreateJit(ctx, &accordv1.CreateJitRequest{
					Jit:           &accordv1.Jit{DisplayName: name, LegalBasis: basis, AgreementRef: agreement},
					InviteMembers: invite, RequestId: rid,
				})
			}, func(_ *coordClient, r *accordv1.CreateJitResponse) string {
				s := fmt.Sprintf("created joint investigation team %s (%s)", shortID(r.GetJit().GetName()), word(r.GetJit().GetState(), "JIT_STATE_"))
				if len(invite) > 0 {
					s += "; invited " + strings.Join(invite, ", ")
				}
				return s
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

// describeProposal says what a team proposal's outcome means: the change
// made (done) when it was agreed at once, else what was proposed and what
// the other members are to do.
func describeProposal(p *accordv1.JitProposal, done, proposed string) string {
	id := strings.TrimPrefix(strings.Replace(p.GetName(), "/proposals/", "/", 1), "jits/")
	switch p.GetState() {
	case accordv1.JitProposalState_JIT_PROPOSAL_STATE_AGREED:
		return fmt.Sprintf("%s (proposal %s, agreed)", done, id)
	case accordv1.JitProposalState_JIT_PROPOSAL_STATE_OPEN:
		return fmt.Sprintf("proposed %s as %s; every other accepted member must consent (accordctl jit consent %s)", proposed, id, id)
	}
	return fmt.Sprintf("proposal %s of %s is %s", id, proposed, word(p.GetState(), "JIT_PROPOSAL_STATE_"))
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
			return apiWrite(cmd, g, &wf, "jit invite "+args[1]+" to "+args[0], func(ctx context.Context, c *coordClient, rid string) (*accordv1.InviteToJitResponse, error) {
				return c.coord.InviteToJit(ctx, &accordv1.InviteToJitRequest{Jit: jitArg(args[0]), Member: args[1], RequestId: rid})
			}, func(_ *coordClient, r *accordv1.InviteToJitResponse) string {
				return describeProposal(r.GetProposal(), fmt.Sprintf("invited %s to %s", args[1], args[0]), fmt.Sprintf("inviting %s to %s", args[1], args[0]))
			})
		},
	}
	wf.add(cmd)
	return cmd
}

// ownMembershipName is this office's membership of a team.
func ownMembershipName(c *coordClient, jit string) string {
	return jitArg(jit) + "/memberships/" + c.id.Member
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
			describe := func(*coordClient, any) string { return fmt.Sprintf("%s the invitation to %s", done, args[0]) }
			if accept {
				return apiWrite(cmd, g, &wf, "jit accept "+args[0], func(ctx context.Context, c *coordClient, rid string) (*accordv1.AcceptJitInvitationResponse, error) {
					return c.coord.AcceptJitInvitation(ctx, &accordv1.AcceptJitInvitationRequest{Name: ownMembershipName(c, args[0]), RequestId: rid})
				}, func(c *coordClient, r *accordv1.AcceptJitInvitationResponse) string { return describe(c, r) })
			}
			return apiWrite(cmd, g, &wf, "jit decline "+args[0], func(ctx context.Context, c *coordClient, rid string) (*accordv1.DeclineJitInvitationResponse, error) {
				return c.coord.DeclineJitInvitation(ctx, &accordv1.DeclineJitInvitationRequest{Name: ownMembershipName(c, args[0]), RequestId: rid})
			}, func(c *coordClient, r *accordv1.DeclineJitInvitationResponse) string { return describe(c, r) })
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
			return apiWrite(cmd, g, &wf, "jit leave "+args[0], func(ctx context.Context, c *coordClient, rid string) (*accordv1.LeaveJitResponse, error) {
				return c.coord.LeaveJit(ctx, &accordv1.LeaveJitRequest{Name: ownMembershipName(c, args[0]), RequestId: rid})
			}, func(_ *coordClient, r *accordv1.LeaveJitResponse) string {
				return fmt.Sprintf("left %s (team %s)", args[0], word(r.GetJitState(), "JIT_STATE_"))
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
			var ref *accordv1.RegistryCaseRef
			return apiWrite(cmd, g, &wf, "jit "+verb+" "+args[1], func(ctx context.Context, c *coordClient, rid string) (*accordv1.Jit, error) {
				ref = &accordv1.RegistryCaseRef{Member: c.id.Member, CaseId: args[1]}
				if link {
					r, err := c.coord.LinkJitCase(ctx, &accordv1.LinkJitCaseRequest{Jit: jitArg(args[0]), CaseRef: ref, RequestId: rid})
					return r.GetJit(), err
				}
				r, err := c.coord.UnlinkJitCase(ctx, &accordv1.UnlinkJitCaseRequest{Jit: jitArg(args[0]), CaseRef: ref, RequestId: rid})
				return r.GetJit(), err
			}, func(*coordClient, *accordv1.Jit) string {
				return fmt.Sprintf(done, apiCase(ref), args[0])
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
			return apiWrite(cmd, g, &wf, "jit lead "+args[0], func(ctx context.Context, c *coordClient, rid string) (*accordv1.SetJitLeadResponse, error) {
				return c.coord.SetJitLead(ctx, &accordv1.SetJitLeadRequest{Jit: jitArg(args[0]), Lead: args[1], RequestId: rid})
			}, func(_ *coordClient, r *accordv1.SetJitLeadResponse) string {
				return describeProposal(r.GetProposal(), fmt.Sprintf("%s now leads %s", args[1], args[0]), fmt.Sprintf("%s as lead of %s", args[1], args[0]))
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
			return apiWrite(cmd, g, &wf, "jit close "+args[0], func(ctx context.Context, c *coordClient, rid string) (*accordv1.CloseJitResponse, error) {
				return c.coord.CloseJit(ctx, &accordv1.CloseJitRequest{Name: jitArg(args[0]), RequestId: rid})
			}, func(_ *coordClient, r *accordv1.CloseJitResponse) string {
				return describeProposal(r.GetProposal(), "closed "+args[0], "closing "+args[0])
			})
		},
	}
	wf.add(cmd)
	return cmd
}

// proposalArg reads JIT-ID/NUMBER (or the resource name) as a proposal's
// resource name.
func proposalArg(s string) string {
	if strings.Contains(s, "/proposals/") {
		return s
	}
	jit, n, ok := strings.Cut(strings.TrimPrefix(s, "jits/"), "/")
	if !ok {
		return s // the node names what is wrong
	}
	return jitArg(jit) + "/proposals/" + n
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
			return apiWrite(cmd, g, &wf, "jit "+verb+" "+args[0], func(ctx context.Context, c *coordClient, rid string) (*accordv1.ConsentJitProposalResponse, error) {
				return c.coord.ConsentJitProposal(ctx, &accordv1.ConsentJitProposalRequest{Name: proposalArg(args[0]), Answer: answerOf(consent), RequestId: rid})
			}, func(_ *coordClient, r *accordv1.ConsentJitProposalResponse) string {
				return fmt.Sprintf("%s %s (proposal now %s)", done, args[0], word(r.GetProposal().GetState(), "JIT_PROPOSAL_STATE_"))
			})
		},
	}
	wf.add(cmd)
	return cmd
}

var jitMembershipStates = map[string]accordv1.JitMembershipState{
	"invited": accordv1.JitMembershipState_JIT_MEMBERSHIP_STATE_INVITED, "accepted": accordv1.JitMembershipState_JIT_MEMBERSHIP_STATE_ACCEPTED,
}

func newJITListCmd(g *globalOptions) *cobra.Command {
	var (
		rf     readFlags
		status string
		mine   string
	)
	cmd := &cobra.Command{
		Use:   "list [--status active|closed] [--mine invited|accepted]",
		Short: "List the teams this office is a member of or invited to",
		Long: `list shows the teams this office has accepted or is invited to: id, status,
lead, this office's own standing, the members with theirs, the number of
linked cases (shown to accepted members only) and the name. --mine invited
lists the invitations waiting for this office's answer.`,
		Example: `  accordctl --config ua.yaml jit list
  accordctl --config pl.yaml jit list --mine invited`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req := &accordv1.ListJitsRequest{Stale: rf.stale, PageSize: 1000}
			switch status {
			case "":
			case "active":
				req.State = accordv1.JitState_JIT_STATE_ACTIVE
			case "closed":
				req.State = accordv1.JitState_JIT_STATE_CLOSED
			default:
				return fmt.Errorf("--status %q: must be active or closed", status)
			}
			if mine != "" {
				st, ok := jitMembershipStates[mine]
				if !ok {
					return fmt.Errorf("--mine %q: must be invited or accepted", mine)
				}
				req.MembershipState = st
			}
			return apiRead(cmd, g, "jit list", func(ctx context.Context, c *coordClient) (*accordv1.ListJitsResponse, error) {
				all, err := listPages(0, func(token string) ([]*accordv1.Jit, string, error) {
					req.PageToken = token
					r, err := c.coord.ListJits(ctx, req)
					return r.GetJits(), r.GetNextPageToken(), err
				})
				return &accordv1.ListJitsResponse{Jits: all, TotalSize: int32(len(all))}, err
			}, func(w io.Writer, c *coordClient, r *accordv1.ListJitsResponse) {
				tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "JIT\tSTATUS\tLEAD\tTHIS OFFICE\tMEMBERS\tCASES\tOPEN PROPOSALS\tNAME")
				if len(r.GetJits()) == 0 {
					fmt.Fprintln(tw, "(no teams)\t\t\t\t\t\t\t")
				}
				for _, j := range r.GetJits() {
					own := "-"
					var ms []string
					for _, m := range j.GetMemberships() {
						st := word(m.GetState(), "JIT_MEMBERSHIP_STATE_")
						ms = append(ms, m.GetMember()+" "+st)
						if m.GetMember() == c.id.Member {
							own = st
						}
					}
					open := 0
					for _, p := range j.GetProposals() {
						if p.GetState() == accordv1.JitProposalState_JIT_PROPOSAL_STATE_OPEN {
							open++
						}
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\n", shortID(j.GetName()), word(j.GetState(), "JIT_STATE_"), orDash(j.GetLead()), own,
						strings.Join(ms, ", "), len(j.GetCases()), open, truncate(j.GetDisplayName(), listTitleWidth))
				}
				_ = tw.Flush()
			})
		},
	}
	cmd.Flags().StringVar(&status, "status", "", "only teams with this status: active or closed")
	cmd.Flags().StringVar(&mine, "mine", "", "only teams where this office is invited or accepted")
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
			return apiRead(cmd, g, "jit show "+args[0], func(ctx context.Context, c *coordClient) (*accordv1.Jit, error) {
				r, err := c.coord.GetJit(ctx, &accordv1.GetJitRequest{Name: jitArg(args[0]), Stale: rf.stale})
				return r.GetJit(), err
			}, func(w io.Writer, c *coordClient, j *accordv1.Jit) { printJIT(w, j, c.id.Member) })
		},
	}
	rf.add(cmd)
	return cmd
}

// printJIT writes a team as viewer sees it.
func printJIT(w io.Writer, j *accordv1.Jit, viewer string) {
	fmt.Fprintf(w, "%s  %s\n", shortID(j.GetName()), j.GetDisplayName())
	regRow(w, "status", word(j.GetState(), "JIT_STATE_"))
	regRow(w, "lead", orDash(j.GetLead()))
	regRow(w, "legal basis", orDash(j.GetLegalBasis()))
	regRow(w, "agreement", orDash(j.GetAgreementRef()))
	regRow(w, "policy", word(j.GetPolicy(), "JIT_POLICY_")+" (invitations, lead changes and closing need every accepted member's consent)")
	regRow(w, "created", apiChange(j.GetCreate()))
	regRow(w, "updated", apiChange(j.GetUpdate()))
	fmt.Fprintf(w, "members (%d):\n", len(j.GetMemberships()))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  MEMBER\tSTATE\tLEAD\tINVITED BY\tSINCE")
	for _, m := range j.GetMemberships() {
		lead := ""
		if m.GetMember() == j.GetLead() {
			lead = "*"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", m.GetMember(), word(m.GetState(), "JIT_MEMBERSHIP_STATE_"), lead, orDash(m.GetInvitedBy()), apiChange(m.GetSince()))
	}
	_ = tw.Flush()
	for _, m := range j.GetMemberships() {
		if m.GetMember() == viewer && m.GetState() != accordv1.JitMembershipState_JIT_MEMBERSHIP_STATE_ACCEPTED {
			fmt.Fprintf(w, "linked cases: shown to accepted members only (%s is %s)\n", viewer, word(m.GetState(), "JIT_MEMBERSHIP_STATE_"))
			return
		}
	}
	fmt.Fprintf(w, "linked cases (%d):\n", len(j.GetCases()))
	if len(j.GetCases()) > 0 {
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  CASE\tLINKED")
		for _, c := range j.GetCases() {
			fmt.Fprintf(tw, "  %s\t%s\n", apiCase(c.GetCaseRef()), apiChange(c.GetLinked()))
		}
		_ = tw.Flush()
	}
	fmt.Fprintf(w, "proposals (%d):\n", len(j.GetProposals()))
	if len(j.GetProposals()) > 0 {
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  PROPOSAL\tCHANGE\tSTATUS\tANSWERS\tPROPOSED")
		for _, p := range j.GetProposals() {
			change := word(p.GetKind(), "JIT_PROPOSAL_KIND_")
			if p.GetMember() != "" {
				change += " " + p.GetMember()
			}
			id := strings.TrimPrefix(strings.Replace(p.GetName(), "/proposals/", "/", 1), "jits/")
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", id, change, word(p.GetState(), "JIT_PROPOSAL_STATE_"), orDash(apiAnswers(p.GetConsents())), apiChange(p.GetCreate()))
		}
		_ = tw.Flush()
	}
}
