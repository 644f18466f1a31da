package main

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// newPersonsCmd returns `accordctl persons`: the register of interviewed
// persons, through the node's local API.
func newPersonsCmd(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "persons",
		Short: "Ask whether other members' cases hold a person (the register of interviewed persons)",
		Long: `persons talks to the node's local API with a user certificate of the office.

lookup asks whether other members' shared cases hold a person as victim or
witness, so that nobody is interviewed twice. The name never leaves the node:
the node obtains the person's tokens from each member's node by a blinded
evaluation (the member learns neither the name nor the answer) and compares them
with the tokens that member shared. Each member asked learns that one of this
office's users looked someone up, never whom nor whether its cases answered.
Every lookup is in the audit logs of both ends,
with the user; lookups are limited per user and per node, and each member
limits what it evaluates.

The node's address is local_api.listen of --config; --server overrides it.`,
		Example: `  accordctl --config pl.yaml persons lookup --birth-year 1978     (the name is read from standard input)
  echo "Олена Коваленко" | accordctl --config pl.yaml persons lookup --birth-year 1978 --member UA -o json`,
	}
	addRegistryFlags(cmd)
	cmd.AddCommand(newPersonsLookupCmd(g))
	return cmd
}

func newPersonsLookupCmd(g *globalOptions) *cobra.Command {
	var (
		req   accordv1.LookupPersonRequest
		name  string
		roles []string
	)
	cmd := &cobra.Command{
		Use:   "lookup [--birth-year YYYY] [--member M]... [--role victim|witness|suspect]...",
		Short: "Look up a person in the other members' shared cases",
		Long: `lookup reads the name, as the office writes it (any script), from the first
line of standard input, so that it stays out of shell history and of the
process list; --name passes it on the command line instead (it then stays in
your shell history).

The answer lists, per member and case, the role and how the person agrees:
name-and-year (the folded name and the birth year), name (the birth year
unknown on one side or one year apart), similar (the name's consonant
skeleton: vowels or a patronymic differ). Never a name. Then each member
asked, and how its part went (answered, no_key, unreachable, refused: e.g. its
budget for this office or this user is spent).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if name == "" {
				line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
				if err != nil && err != io.EOF {
					return fmt.Errorf("reading the name from standard input: %w", err)
				}
				name = strings.TrimSpace(line)
			}
			if name == "" {
				return fmt.Errorf("no name: write it on standard input (or pass --name)")
			}
			req.Name = name
			for _, m := range req.Members {
				if err := regMemberArg("--member", m); err != nil {
					return err
				}
			}
			for _, r := range roles {
				v, ok := accordv1.PersonRole_value["PERSON_ROLE_"+strings.ToUpper(r)]
				if !ok || v == 0 {
					return fmt.Errorf("--role %q: must be victim, witness or suspect", r)
				}
				req.Roles = append(req.Roles, accordv1.PersonRole(v))
			}
			c, err := openCoord(g, cmd)
			if err != nil {
				return err
			}
			defer c.Close()
			ctx, cancel := c.ctx(cmd)
			defer cancel()
			resp, err := accordv1.NewPersonLookupServiceClient(c.conn).LookupPerson(ctx, &req)
			if err != nil {
				return c.rpcError("persons lookup", err)
			}
			out := cmd.OutOrStdout()
			if g.JSON() {
				return printJSON(out, protoValue(resp, false))
			}
			printLookup(out, resp)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "the name (instead of standard input; it then stays in your shell history)")
	f.Int32Var(&req.BirthYear, "birth-year", 0, "the birth year, when known")
	f.StringSliceVar(&req.Members, "member", nil, "ask only this member (repeatable; default every member)")
	f.StringSliceVar(&roles, "role", nil, "look for persons in this role (repeatable; default victim and witness)")
	return cmd
}

func printLookup(w io.Writer, resp *accordv1.LookupPersonResponse) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if len(resp.GetHits()) == 0 {
		fmt.Fprintln(w, "no other member's shared case holds this person")
	} else {
		fmt.Fprintln(tw, "MEMBER\tCASE\tROLE\tAGREES BY")
		for _, h := range resp.GetHits() {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", h.GetMember(), h.GetCaseId(), lower(h.GetRole().String(), "PERSON_ROLE_"),
				strings.ReplaceAll(lower(h.GetSimilarity().String(), "PERSON_SIMILARITY_"), "_", "-"))
		}
		_ = tw.Flush()
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MEMBER\tSTATUS\tCASES COMPARED\tDETAIL")
	for _, m := range resp.GetMembers() {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", m.GetMember(), m.GetStatus(), m.GetCasesCompared(), m.GetDetail())
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "lookup %s (in this node's audit log and in those of the members asked)\n", resp.GetLookupId())
}

func lower(s, prefix string) string { return strings.ToLower(strings.TrimPrefix(s, prefix)) }
