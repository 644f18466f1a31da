package main

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// memberClient is a local API connection with the MembershipService.
type memberClient struct {
	*coordClient
	api accordv1.MembershipServiceClient
}

func openMembership(g *globalOptions, cmd *cobra.Command) (*memberClient, error) {
	c, err := openCoord(g, cmd)
	if err != nil {
		return nil, err
	}
	return &memberClient{coordClient: c, api: accordv1.NewMembershipServiceClient(c.conn)}, nil
}

// memberWrite runs one membership write: call sends it with the request
// id; its answer is printed as the API's JSON (-o json) or by text.
func memberWrite(cmd *cobra.Command, g *globalOptions, wf *writeFlags, what string, call func(c *memberClient, rid string) (proto.Message, error), text func(w io.Writer, resp proto.Message)) error {
	rid, err := wf.id()
	if err != nil {
		return err
	}
	c, err := openMembership(g, cmd)
	if err != nil {
		return err
	}
	defer c.Close()
	resp, err := call(c, rid)
	if err != nil {
		return c.coordError(what, rid, err)
	}
	out := cmd.OutOrStdout()
	if g.JSON() {
		return printProto(out, resp)
	}
	text(out, resp)
	fmt.Fprintf(out, "request id: %s\n", rid)
	return nil
}

// memberCodeArg returns the resource name of a member code argument.
func memberCodeArg(code string) (string, error) {
	if err := regMemberArg("member", code); err != nil {
		return "", err
	}
	return "members/" + code, nil
}

// ==== member ====

func newMemberCmd(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "member",
		Short: "Member offices: propose a new member, vote, suspend, show, list",
		Long: `member works with the federation's member offices in the shared registry,
through this office's node (which must be a registry server). Reading (show,
list) is open to every user of the office; propose, vote and suspend need the
admin role (the user's account listed in local_api.admins of the node's
configuration), and act for this office only: its vote, its proposal.

Adding a member (docs/operations.md, "Adding a member"):

  1. the new office makes its CA and its node's certificate
     (accordctl certs ca create, certs issue) and hands its CA certificate
     (ca.crt, public) to an admin of an existing member;
  2. that admin proposes it:        accordctl member propose --code FR ...
  3. the new office tells each voting admin its CA fingerprint over a
     second channel (phone, letter), as accordctl certs ca create printed
     it; each admin compares it with accordctl member show FR and votes:
       accordctl member vote FR --approve --ca-fingerprint HEX
     (admitted once more than the admission threshold, 50% by default, of
     the admitted members approve);
  4. the new office starts its node with registry.servers naming existing
     registry servers; it joins the registry and registers itself, and the
     other nodes trust its CA and dial it within seconds.`,
		Example: `  accordctl --config ua-admin.yaml member propose --code FR --name "Parquet national antiterroriste" --ca-cert fr-ca.crt
  accordctl --config pl-admin.yaml member vote FR --approve --ca-fingerprint HEX
  accordctl --config ua.yaml member list --status proposed
  accordctl --config ua.yaml member show FR -o json`,
	}
	addRegistryFlags(cmd)
	cmd.AddCommand(newMemberProposeCmd(g), newMemberVoteCmd(g), newMemberSuspendCmd(g), newMemberShowCmd(g, "show"), newMemberListCmd(g, "list"))
	return cmd
}

// readCACerts reads the PEM certificates of --ca-cert: files, or CA folders
// made by accordctl certs ca create (their ca.crt). Each must be a CA
// certificate.
func readCACerts(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			p = filepath.Join(p, "ca.crt")
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("--ca-cert: %w", err)
		}
		n := 0
		for rest := data; ; {
			var b *pem.Block
			b, rest = pem.Decode(rest)
			if b == nil {
				break
			}
			if b.Type != "CERTIFICATE" {
				continue
			}
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("--ca-cert %s: not an X.509 certificate: %w", p, err)
			}
			if !c.IsCA {
				return nil, fmt.Errorf("--ca-cert %s: %s is not a CA certificate (give the member's CA certificate, ca.crt of accordctl certs ca create, not a node's)", p, c.Subject)
			}
			out = append(out, string(pem.EncodeToMemory(b)))
			n++
		}
		if n == 0 {
			return nil, fmt.Errorf("--ca-cert %s: no PEM CERTIFICATE block in it", p)
		}
	}
	return out, nil
}

// readSigningKeys reads --signing-key ID=FILE (a PEM PUBLIC KEY).
func readSigningKeys(specs []string) ([]*accordv1.SigningKey, error) {
	var out []*accordv1.SigningKey
	for _, s := range specs {
		id, file, ok := strings.Cut(s, "=")
		if !ok || id == "" || file == "" {
			return nil, fmt.Errorf("--signing-key %q: want ID=FILE, e.g. fr-1=fr-1-signing.pub", s)
		}
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("--signing-key %s: %w", id, err)
		}
		b, _ := pem.Decode(data)
		if b == nil || b.Type != "PUBLIC KEY" {
			return nil, fmt.Errorf("--signing-key %s: %s is not a PEM PUBLIC KEY", id, file)
		}
		out = append(out, &accordv1.SigningKey{Id: id, PublicKeyPem: string(pem.EncodeToMemory(b))})
	}
	return out, nil
}

func newMemberProposeCmd(g *globalOptions) *cobra.Command {
	var (
		wf          writeFlags
		code, name  string
		caCerts     []string
		signingKeys []string
	)
	cmd := &cobra.Command{
		Use:   "propose --code CODE --name NAME --ca-cert FILE [--ca-cert FILE...]",
		Short: "Propose a new member office (admin)",
		Long: `propose proposes a new member office to the federation, on behalf of this
office. Admin only. The proposal is not a vote: this office votes with
accordctl member vote like every other.

What the new office hands over (all public): its member code, its name and
its CA certificate, ca.crt of the folder that accordctl certs ca create made
(--ca-cert takes the file, or the folder). Its nodes make their own signing,
team and person-token keys at their first start and register them once the
member is admitted; --signing-key adds a signing public key now if the new
office already has one (ID=FILE, PEM PUBLIC KEY).`,
		Example: `  accordctl --config ua-admin.yaml member propose --code FR --name "Parquet national antiterroriste" --ca-cert fr/ca.crt
  accordctl --config ua-admin.yaml member propose --code ICC --name "International Criminal Court, OTP" --ca-cert icc-ca/ --request-id propose-icc`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := regMemberArg("--code", code); err != nil {
				return err
			}
			if strings.TrimSpace(name) == "" {
				return errors.New("--name: required (the office's name as the registry will show it)")
			}
			if len(caCerts) == 0 {
				return errors.New("--ca-cert: required (the new member's CA certificate, ca.crt of accordctl certs ca create)")
			}
			pems, err := readCACerts(caCerts)
			if err != nil {
				return err
			}
			keys, err := readSigningKeys(signingKeys)
			if err != nil {
				return err
			}
			return memberWrite(cmd, g, &wf, "member propose "+code, func(c *memberClient, rid string) (proto.Message, error) {
				ctx, cancel := c.ctx(cmd)
				defer cancel()
				return c.api.ProposeMember(ctx, &accordv1.ProposeMemberRequest{RequestId: rid,
					Member: &accordv1.Member{Code: code, DisplayName: name, CaCerts: pems, SigningKeys: keys}})
			}, func(w io.Writer, resp proto.Message) {
				m := resp.(*accordv1.ProposeMemberResponse).GetMember()
				fmt.Fprintf(w, "member %s proposed: waiting for the admitted members' votes (accordctl member vote %s --approve)\n", m.GetCode(), m.GetCode())
			})
		},
	}
	cmd.Flags().StringVar(&code, "code", "", "the new member's code, as in its certificates (e.g. FR)")
	cmd.Flags().StringVar(&name, "name", "", "the new office's name")
	cmd.Flags().StringArrayVar(&caCerts, "ca-cert", nil, "the new member's CA certificate: a PEM file, or a CA folder of accordctl certs ca create (repeatable)")
	cmd.Flags().StringArrayVar(&signingKeys, "signing-key", nil, "a signing public key of the new member, ID=FILE (PEM PUBLIC KEY; optional, repeatable)")
	wf.add(cmd)
	return cmd
}

func newMemberVoteCmd(g *globalOptions) *cobra.Command {
	var (
		wf              writeFlags
		approve, reject bool
		caFingerprint   string
	)
	cmd := &cobra.Command{
		Use:   "vote CODE (--approve --ca-fingerprint HEX | --reject)",
		Short: "Vote on admitting a proposed member (admin)",
		Long: `vote records this office's vote on admitting a proposed member. Admin only.
A later vote replaces the earlier one. The member is admitted as soon as the
approvals of admitted members are more than the federation's admission
threshold (50% by default): the answer then says "admitted".

To approve, give --ca-fingerprint: the fingerprint of the candidate's CA
certificates as the candidate office itself gave it to you over a second
channel (a phone call to a number you already know, a letter), never as the
proposer or the registry shows it. accordctl certs ca create prints it for
the candidate ("CA fingerprint"), and accordctl member show CODE for the CAs
the proposer registered. The registry refuses an approval whose fingerprint
is not that of the CAs registered: if they differ, the proposer registered
another CA in the candidate's name; vote --reject and tell the other members.`,
		Example: `  accordctl --config pl-admin.yaml member vote FR --approve --ca-fingerprint 3f1c…(64 hex digits)
  accordctl --config de-admin.yaml member vote FR --reject`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, err := memberCodeArg(args[0])
			if err != nil {
				return err
			}
			if approve == reject {
				return errors.New("give exactly one of --approve or --reject")
			}
			fp := strings.ToLower(strings.NewReplacer(":", "", " ", "").Replace(strings.TrimSpace(caFingerprint)))
			if approve && fp == "" {
				return fmt.Errorf("--approve needs --ca-fingerprint: the fingerprint of %s's CA certificates, as the candidate office gave it to you over a second channel (phone, letter); compare it with accordctl member show %s", args[0], args[0])
			}
			if fp != "" && !isHex64(fp) {
				return fmt.Errorf("--ca-fingerprint %q: must be 64 hex digits (a SHA-256 fingerprint; colons allowed)", caFingerprint)
			}
			decision := accordv1.VoteDecision_VOTE_DECISION_REJECT
			if approve {
				decision = accordv1.VoteDecision_VOTE_DECISION_APPROVE
			}
			return memberWrite(cmd, g, &wf, "member vote "+args[0], func(c *memberClient, rid string) (proto.Message, error) {
				ctx, cancel := c.ctx(cmd)
				defer cancel()
				return c.api.VoteMember(ctx, &accordv1.VoteMemberRequest{Name: name, Decision: decision, RequestId: rid, CaFingerprint: fp})
			}, func(w io.Writer, resp proto.Message) {
				m := resp.(*accordv1.VoteMemberResponse).GetMember()
				fmt.Fprintf(w, "vote recorded; member %s is %s (%s)\n", m.GetCode(), memberStatusWord(m.GetStatus()), voteCount(m.GetAdmissionVotes()))
			})
		},
	}
	cmd.Flags().BoolVar(&approve, "approve", false, "vote to admit the member")
	cmd.Flags().BoolVar(&reject, "reject", false, "vote not to admit the member")
	cmd.Flags().StringVar(&caFingerprint, "ca-fingerprint", "", "with --approve, required: the fingerprint of the candidate's CA certificates (64 hex digits) as the candidate gave it to you over a second channel")
	wf.add(cmd)
	return cmd
}

func voteCount(vs []*accordv1.MemberVote) string {
	yes := 0
	for _, v := range vs {
		if v.GetApprove() {
			yes++
		}
	}
	return fmt.Sprintf("%d for, %d against", yes, len(vs)-yes)
}

func newMemberSuspendCmd(g *globalOptions) *cobra.Command {
	var (
		wf     writeFlags
		reason string
	)
	cmd := &cobra.Command{
		Use:   "suspend CODE [--reason TEXT]",
		Short: "Suspend this office, or vote to suspend another member (admin)",
		Long: `suspend suspends this office itself at once, or records this office's vote to
suspend another admitted member, which is suspended when the votes reach the
admission threshold of the other admitted members. Admin only. A suspended
member's records stay; it can no longer act or read, and the other nodes stop
exchanging with it.`,
		Example: `  accordctl --config ua-admin.yaml member suspend XX --reason "certificate authority compromised"`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, err := memberCodeArg(args[0])
			if err != nil {
				return err
			}
			return memberWrite(cmd, g, &wf, "member suspend "+args[0], func(c *memberClient, rid string) (proto.Message, error) {
				ctx, cancel := c.ctx(cmd)
				defer cancel()
				return c.api.SuspendMember(ctx, &accordv1.SuspendMemberRequest{Name: name, Reason: reason, RequestId: rid})
			}, func(w io.Writer, resp proto.Message) {
				m := resp.(*accordv1.SuspendMemberResponse).GetMember()
				fmt.Fprintf(w, "member %s is %s (%d suspension votes)\n", m.GetCode(), memberStatusWord(m.GetStatus()), len(m.GetSuspensionVotes()))
			})
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why (recorded on the member)")
	wf.add(cmd)
	return cmd
}

// newMemberShowCmd is member show (and registry member, its older name).
func newMemberShowCmd(g *globalOptions, use string) *cobra.Command {
	var rf readFlags
	cmd := &cobra.Command{
		Use:   use + " CODE",
		Short: "Show one member office: status, CAs, signing keys, nodes and votes",
		Long: `show shows a member office as the registry holds it: its status, its
certificate authorities (subject and expiry), signing keys, nodes (with their
federation and Raft addresses), the admission and suspension votes, and who
proposed, admitted, suspended and last changed it. Any user of the office.`,
		Example: `  accordctl --config ua.yaml member show PL
  accordctl --config ua.yaml member show FR -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, err := memberCodeArg(args[0])
			if err != nil {
				return err
			}
			c, err := openMembership(g, cmd)
			if err != nil {
				return err
			}
			defer c.Close()
			ctx, cancel := c.ctx(cmd)
			defer cancel()
			resp, err := c.api.GetMember(ctx, &accordv1.GetMemberRequest{Name: name, Stale: rf.stale})
			if err != nil {
				return c.coordError("member show "+args[0], "", err)
			}
			if g.JSON() {
				return printProto(cmd.OutOrStdout(), resp.GetMember())
			}
			printMemberRecord(cmd.OutOrStdout(), resp.GetMember())
			return nil
		},
	}
	rf.add(cmd)
	return cmd
}

var memberStatusFlags = map[string]accordv1.MemberStatus{
	"proposed": accordv1.MemberStatus_MEMBER_STATUS_PROPOSED, "admitted": accordv1.MemberStatus_MEMBER_STATUS_ADMITTED,
	"suspended": accordv1.MemberStatus_MEMBER_STATUS_SUSPENDED,
}

func memberStatusWord(s accordv1.MemberStatus) string {
	for w, v := range memberStatusFlags {
		if v == s {
			return w
		}
	}
	return "-"
}

// newMemberListCmd is member list (and registry members, its older name).
func newMemberListCmd(g *globalOptions, use string) *cobra.Command {
	var (
		rf     readFlags
		status string
	)
	cmd := &cobra.Command{
		Use:   use + " [--status proposed|admitted|suspended]",
		Short: "List the federation's member offices",
		Long: `list lists the member offices the registry holds: code, status (proposed,
admitted, suspended), number of nodes and registry servers, when admitted,
and name. Any user of the office.`,
		Example: `  accordctl --config ua.yaml member list
  accordctl --config ua.yaml member list --status proposed -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var want accordv1.MemberStatus
			if status != "" {
				var ok bool
				if want, ok = memberStatusFlags[status]; !ok {
					return fmt.Errorf("--status %q: must be proposed, admitted or suspended", status)
				}
			}
			c, err := openMembership(g, cmd)
			if err != nil {
				return err
			}
			defer c.Close()
			all := &accordv1.ListMembersResponse{}
			for token := ""; ; {
				ctx, cancel := c.ctx(cmd)
				resp, err := c.api.ListMembers(ctx, &accordv1.ListMembersRequest{Status: want, Stale: rf.stale, PageSize: 1000, PageToken: token})
				cancel()
				if err != nil {
					return c.coordError("member list", "", err)
				}
				all.Members = append(all.Members, resp.GetMembers()...)
				if token = resp.GetNextPageToken(); token == "" {
					break
				}
			}
			if g.JSON() {
				return printProto(cmd.OutOrStdout(), all)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "CODE\tSTATUS\tNODES\tSERVERS\tADMITTED\tNAME")
			if len(all.GetMembers()) == 0 {
				fmt.Fprintln(tw, "(no members)\t\t\t\t\t")
			}
			for _, m := range all.GetMembers() {
				servers := 0
				for _, n := range m.GetNodes() {
					if n.GetRegistryServer() {
						servers++
					}
				}
				admitted := "-"
				if m.GetAdmitted() != nil {
					admitted = apiTime(m.GetAdmitted())
				}
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\n", m.GetCode(), memberStatusWord(m.GetStatus()), len(m.GetNodes()), servers, admitted, truncate(m.GetDisplayName(), listTitleWidth))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&status, "status", "", "only members of this status: proposed, admitted or suspended")
	rf.add(cmd)
	return cmd
}

// apiTime is a change's time as the registry commands print times.
func apiTime(c *accordv1.RegistryChange) string {
	if c.GetTime() == nil {
		return "-"
	}
	return regTime(c.GetTime().AsTime())
}

func printMemberRecord(w io.Writer, m *accordv1.Member) {
	fmt.Fprintf(w, "%s  %s\n", m.GetCode(), m.GetDisplayName())
	regRow(w, "status", memberStatusWord(m.GetStatus()))
	if m.GetSuspendReason() != "" {
		regRow(w, "suspended for", m.GetSuspendReason())
	}
	regRow(w, "proposed", apiChange(m.GetProposed()))
	if m.GetAdmitted() != nil {
		regRow(w, "admitted", apiChange(m.GetAdmitted()))
	}
	if m.GetSuspended() != nil {
		regRow(w, "suspended", apiChange(m.GetSuspended()))
	}
	regRow(w, "updated", apiChange(m.GetUpdate()))
	if fp := m.GetCaFingerprint(); fp != "" {
		regRow(w, "CA fingerprint", fp)
	}
	fmt.Fprintf(w, "certificate authorities (%d):\n", len(m.GetCaCerts()))
	for _, p := range m.GetCaCerts() {
		fmt.Fprintf(w, "  %s\n", regCertLine(p))
	}
	if len(m.GetSigningKeys()) > 0 {
		fmt.Fprintf(w, "signing keys (%d):\n", len(m.GetSigningKeys()))
		for _, k := range m.GetSigningKeys() {
			fmt.Fprintf(w, "  %s\n", k.GetId())
		}
	}
	if len(m.GetEncryptionKeys())+len(m.GetPersonKeys()) > 0 {
		fmt.Fprintf(w, "team keys: %d, person-token keys: %d\n", len(m.GetEncryptionKeys()), len(m.GetPersonKeys()))
	}
	fmt.Fprintf(w, "nodes (%d):\n", len(m.GetNodes()))
	if len(m.GetNodes()) > 0 {
		printNodes(w, "  ", m.GetNodes())
	}
	for _, votes := range []struct {
		name string
		vs   []*accordv1.MemberVote
	}{{"admission votes", m.GetAdmissionVotes()}, {"suspension votes", m.GetSuspensionVotes()}} {
		if len(votes.vs) == 0 {
			continue
		}
		fmt.Fprintf(w, "%s (%d):\n", votes.name, len(votes.vs))
		for _, v := range votes.vs {
			verdict := "against"
			if v.GetApprove() {
				verdict = "for"
			}
			fmt.Fprintf(w, "  %s %s, %s\n", v.GetMember(), verdict, apiChange(v.GetChange()))
		}
	}
}

func printNodes(w io.Writer, indent string, nodes []*accordv1.Node) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, indent+"NODE\tREGISTRY SERVER\tRAFT ADDRESS\tFEDERATION ADDRESS\tREGISTERED")
	for _, n := range nodes {
		fmt.Fprintf(tw, "%s%s\t%s\t%s\t%s\t%s\n", indent, n.GetUri(), regYesNo(n.GetRegistryServer()), orDash(n.GetRaftAddress()), orDash(n.GetFederationAddress()), apiTime(n.GetRegistered()))
	}
	_ = tw.Flush()
}

// ==== node ====

func newNodeCmd(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "node",
		Short: "This office's nodes in the registry: register, remove, list",
		Long: `node works with the nodes the registry lists for each member: where the other
members' nodes reach them (federation address) and, for registry servers,
their Raft address. Listing is open to every user of the office; register and
remove need the admin role and act on this office's own nodes only.

A registry server registers itself when it joins (and again when its
addresses change); register is for nodes that are not registry servers, and
to correct an address. Other members' nodes dial a registered node within
seconds.`,
		Example: `  accordctl --config ua-admin.yaml node register ua-2 --federation-address ua-2.prosecutor.example:7400
  accordctl --config ua-admin.yaml node remove ua-2
  accordctl --config ua.yaml node list --member FR`,
	}
	addRegistryFlags(cmd)
	cmd.AddCommand(newNodeRegisterCmd(g), newNodeRemoveCmd(g), newNodeListCmd(g))
	return cmd
}

func newNodeRegisterCmd(g *globalOptions) *cobra.Command {
	var (
		wf                 writeFlags
		fedAddr, raftAddr  string
		registryServerFlag bool
	)
	cmd := &cobra.Command{
		Use:   "register NODE --federation-address HOST:PORT [--registry-server --raft-address HOST:PORT]",
		Short: "Register one of this office's nodes, or replace its addresses (admin)",
		Long: `register registers one of this office's nodes under its name (the node's name
in its certificate, e.g. ua-2), or replaces the addresses of a node registered
already. Admin only. --federation-address is where the other members' nodes
reach it; a registry server also needs --registry-server and --raft-address.`,
		Example: `  accordctl --config ua-admin.yaml node register ua-2 --federation-address ua-2.prosecutor.example:7400
  accordctl --config ua-admin.yaml node register ua-3 --federation-address ua-3.example:7400 --registry-server --raft-address ua-3.example:7501`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if fedAddr == "" {
				return errors.New("--federation-address: required (host:port where the other members' nodes reach this node)")
			}
			if registryServerFlag && raftAddr == "" {
				return errors.New("--raft-address: required with --registry-server")
			}
			return memberWrite(cmd, g, &wf, "node register "+args[0], func(c *memberClient, rid string) (proto.Message, error) {
				ctx, cancel := c.ctx(cmd)
				defer cancel()
				return c.api.CreateNode(ctx, &accordv1.CreateNodeRequest{Parent: "members/" + c.id.Member, NodeId: args[0], RequestId: rid,
					Node: &accordv1.Node{FederationAddress: fedAddr, RaftAddress: raftAddr, RegistryServer: registryServerFlag}})
			}, func(w io.Writer, resp proto.Message) {
				n := resp.(*accordv1.CreateNodeResponse).GetNode()
				fmt.Fprintf(w, "node %s registered at %s\n", n.GetUri(), n.GetFederationAddress())
			})
		},
	}
	cmd.Flags().StringVar(&fedAddr, "federation-address", "", "host:port of the node's federation gRPC listener, as the other members reach it")
	cmd.Flags().StringVar(&raftAddr, "raft-address", "", "host:port of its Raft listener (registry servers)")
	cmd.Flags().BoolVar(&registryServerFlag, "registry-server", false, "the node is a server of the registry's Raft group")
	wf.add(cmd)
	return cmd
}

func newNodeRemoveCmd(g *globalOptions) *cobra.Command {
	var wf writeFlags
	cmd := &cobra.Command{
		Use:   "remove NODE",
		Short: "Remove one of this office's nodes from the registry (admin)",
		Long: `remove removes one of this office's nodes (by its name, e.g. ua-2) from the
registry. Admin only. The other members stop dialling it; a registry server
also leaves the Raft group. Stop the node itself first.`,
		Example: `  accordctl --config ua-admin.yaml node remove ua-2`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return memberWrite(cmd, g, &wf, "node remove "+args[0], func(c *memberClient, rid string) (proto.Message, error) {
				ctx, cancel := c.ctx(cmd)
				defer cancel()
				return c.api.DeleteNode(ctx, &accordv1.DeleteNodeRequest{Name: "members/" + c.id.Member + "/nodes/" + args[0], RequestId: rid})
			}, func(w io.Writer, resp proto.Message) {
				m := resp.(*accordv1.DeleteNodeResponse).GetMember()
				fmt.Fprintf(w, "node %s removed; member %s has %d nodes\n", args[0], m.GetCode(), len(m.GetNodes()))
			})
		},
	}
	wf.add(cmd)
	return cmd
}

func newNodeListCmd(g *globalOptions) *cobra.Command {
	var (
		rf     readFlags
		member string
	)
	cmd := &cobra.Command{
		Use:   "list [--member CODE]",
		Short: "List the registered nodes of every member, or of one",
		Long: `list lists the nodes the registry holds, by member: identity, whether it is a
registry server, its Raft and federation addresses, when registered. These
are the addresses the nodes dial each other at. Any user of the office.`,
		Example: `  accordctl --config ua.yaml node list
  accordctl --config ua.yaml node list --member FR -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			parent := "members/-"
			if member != "" {
				var err error
				if parent, err = memberCodeArg(member); err != nil {
					return err
				}
			}
			c, err := openMembership(g, cmd)
			if err != nil {
				return err
			}
			defer c.Close()
			all := &accordv1.ListNodesResponse{}
			for token := ""; ; {
				ctx, cancel := c.ctx(cmd)
				resp, err := c.api.ListNodes(ctx, &accordv1.ListNodesRequest{Parent: parent, Stale: rf.stale, PageSize: 1000, PageToken: token})
				cancel()
				if err != nil {
					return c.coordError("node list", "", err)
				}
				all.Nodes = append(all.Nodes, resp.GetNodes()...)
				if token = resp.GetNextPageToken(); token == "" {
					break
				}
			}
			if g.JSON() {
				return printProto(cmd.OutOrStdout(), all)
			}
			if len(all.GetNodes()) == 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "(no nodes)")
				return nil
			}
			printNodes(cmd.OutOrStdout(), "", all.GetNodes())
			return nil
		},
	}
	cmd.Flags().StringVar(&member, "member", "", "only this member's nodes")
	rf.add(cmd)
	return cmd
}

// isHex64 reports whether s is 64 lower-case hex digits.
func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, r := range s {
		if (r < '0' || r > '9') && (r < 'a' || r > 'f') {
			return false
		}
	}
	return true
}
