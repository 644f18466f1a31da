package main

import (
	"context"
	"strings"
	"time"

	"github.com/spf13/cobra"

	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// Shell completion of ids from the node (accordctl completion bash|zsh|fish
// prints the script). A completion asks the node's local API with the
// identity of --config, as the command itself would; when the node cannot
// be reached or refuses within completionTimeout, it completes nothing and
// prints nothing, so that a TAB never hangs the shell or fills it with
// errors.

// completionTimeout bounds one completion: connecting, and every page.
const completionTimeout = 2 * time.Second

// maxCompletions bounds the ids offered at once (a shell shows no more
// usefully), and maxCompletionScan the ids looked at to find them.
const (
	maxCompletions    = 200
	maxCompletionScan = 20000
)

// idLister lists the ids of one kind that start with prefix, each with a
// short description (a case's title), from the node's typed List RPC of the
// kind's resource, until ctx ends or it has limit. What it found before ctx
// ended is returned with ctx's error.
type idLister func(ctx context.Context, lc *localClient, prefix string, limit int) ([]string, error)

// idListers are the kinds of id that completeFromNode knows. A kind is
// added with a lister over its resource's List RPC (the JIT, match and
// member ids of the registry commands: the RegistryService's ListJits,
// ListMatches and ListMembers).
var idListers = map[string]idLister{
	"case":     listCaseIDs,
	"evidence": listEvidenceIDs,
	"jit":      listJITIDs,
	"match":    listMatchIDs,
	"member":   listMemberCodes,
}

// placeholderKinds are the argument placeholders of commands' Use lines
// whose ids complete from the node: a command whose first argument is one
// of them completes it (wireIDCompletion).
var placeholderKinds = map[string]string{
	"JIT":     "jit",
	"MATCH":   "match",
	"CODE":    "member",
	"CASE_ID": "case",
}

// wireIDCompletion gives every command of the tree whose first argument is
// a known placeholder (jit show JIT, matches accept MATCH, member vote
// CODE) the completion of its ids from the node, unless it has its own.
func wireIDCompletion(root *cobra.Command, g *globalOptions) {
	for _, c := range root.Commands() {
		wireIDCompletion(c, g)
	}
	if root.ValidArgsFunction != nil {
		return
	}
	f := strings.Fields(root.Use)
	if len(f) < 2 {
		return
	}
	if kind, ok := placeholderKinds[f[1]]; ok {
		root.ValidArgsFunction = completeFromNode(g, kind, true)
	}
}

// completeFromNode returns a completion function (for ValidArgsFunction or
// RegisterFlagCompletionFunc) that completes ids of kind from the node. It
// completes the first positional argument only when used as
// ValidArgsFunction of a command that takes one; flags complete always.
func completeFromNode(g *globalOptions, kind string, positional bool) cobra.CompletionFunc {
	list := idListers[kind]
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if list == nil || (positional && len(args) > 0) {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		ctx, cancel := context.WithTimeout(context.Background(), completionTimeout)
		defer cancel()
		lc, err := openLocal(g, cmd)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		defer lc.Close()
		// What was found before the deadline is still offered.
		ids, _ := list(ctx, lc, toComplete, maxCompletions)
		return ids, cobra.ShellCompDirectiveNoFileComp
	}
}

// completeCaseIDs completes the case id argument of a command from the
// node.
func completeCaseIDs(g *globalOptions) cobra.CompletionFunc {
	return completeFromNode(g, "case", true)
}

// completeEvidenceIDs completes the evidence id argument of a command from
// the node.
func completeEvidenceIDs(g *globalOptions) cobra.CompletionFunc {
	return completeFromNode(g, "evidence", true)
}

// eachCase calls fn with the office's cases in case-id order, a page at a
// time, until fn returns false, ctx ends or maxCompletionScan cases were
// seen.
func eachCase(ctx context.Context, lc *localClient, fn func(*accordv1.Case) bool) error {
	stop := false
	return eachPage(func(token string) (int, string, error) {
		resp, err := lc.cases.ListCases(ctx, &accordv1.ListCasesRequest{PageSize: 1000, PageToken: token})
		for _, c := range resp.GetCases() {
			if !fn(c) {
				stop = true
				break
			}
		}
		if stop {
			return 0, "", err
		}
		return len(resp.GetCases()), resp.GetNextPageToken(), err
	})
}

// listCaseIDs lists the case ids that start with prefix, each with its
// title.
func listCaseIDs(ctx context.Context, lc *localClient, prefix string, limit int) ([]string, error) {
	var out []string
	err := eachCase(ctx, lc, func(c *accordv1.Case) bool {
		id := c.GetCaseId()
		if strings.HasPrefix(id, prefix) {
			out = append(out, id+"\t"+completionText(c.GetTitle()))
			return len(out) < limit
		}
		// Ids are listed in order: past the prefix, none follows.
		return id < prefix
	})
	return out, err
}

// listEvidenceIDs lists the evidence ids that start with prefix, each with
// its case, from the cases' evidence references.
func listEvidenceIDs(ctx context.Context, lc *localClient, prefix string, limit int) ([]string, error) {
	var out []string
	err := eachCase(ctx, lc, func(c *accordv1.Case) bool {
		for _, e := range c.GetEvidence() {
			if strings.HasPrefix(e.GetId(), prefix) {
				out = append(out, e.GetId()+"\t"+completionText("case "+c.GetCaseId()+" "+e.GetMediaType()))
			}
		}
		return len(out) < limit
	})
	return out, err
}

// eachPage calls list with successive page tokens until it returns no
// next token, ctx ends or maxCompletionScan items were seen; list returns
// how many it saw and the next token.
func eachPage(list func(token string) (int, string, error)) error {
	token := ""
	for seen := 0; seen < maxCompletionScan; {
		n, next, err := list(token)
		if err != nil {
			return err
		}
		seen += n
		if token = next; token == "" {
			return nil
		}
	}
	return nil
}

// listJITIDs lists the ids of the teams this office may see that start with
// prefix, each with its name.
func listJITIDs(ctx context.Context, lc *localClient, prefix string, limit int) ([]string, error) {
	cl := accordv1.NewCoordinationServiceClient(lc.conn)
	var out []string
	err := eachPage(func(token string) (int, string, error) {
		resp, err := cl.ListJits(ctx, &accordv1.ListJitsRequest{PageSize: 1000, PageToken: token, Stale: true})
		for _, j := range resp.GetJits() {
			if id := strings.TrimPrefix(j.GetName(), "jits/"); strings.HasPrefix(id, prefix) && len(out) < limit {
				out = append(out, id+"\t"+completionText(j.GetDisplayName()))
			}
		}
		return len(resp.GetJits()), resp.GetNextPageToken(), err
	})
	return out, err
}

// listMatchIDs lists the ids of the match decisions this office may see
// that start with prefix, each with its state.
func listMatchIDs(ctx context.Context, lc *localClient, prefix string, limit int) ([]string, error) {
	cl := accordv1.NewCoordinationServiceClient(lc.conn)
	var out []string
	err := eachPage(func(token string) (int, string, error) {
		resp, err := cl.ListMatchDecisions(ctx, &accordv1.ListMatchDecisionsRequest{PageSize: 1000, PageToken: token, Stale: true})
		for _, m := range resp.GetMatchDecisions() {
			if id := strings.TrimPrefix(m.GetName(), "matchDecisions/"); strings.HasPrefix(id, prefix) && len(out) < limit {
				out = append(out, id+"\t"+completionText(strings.ToLower(strings.TrimPrefix(m.GetState().String(), "MATCH_DECISION_STATE_"))))
			}
		}
		return len(resp.GetMatchDecisions()), resp.GetNextPageToken(), err
	})
	return out, err
}

// listMemberCodes lists the federation's member codes that start with
// prefix, each with the member's name.
func listMemberCodes(ctx context.Context, lc *localClient, prefix string, limit int) ([]string, error) {
	cl := accordv1.NewMembershipServiceClient(lc.conn)
	var out []string
	err := eachPage(func(token string) (int, string, error) {
		resp, err := cl.ListMembers(ctx, &accordv1.ListMembersRequest{PageSize: 1000, PageToken: token, Stale: true})
		for _, m := range resp.GetMembers() {
			if strings.HasPrefix(m.GetCode(), strings.ToUpper(prefix)) && len(out) < limit {
				out = append(out, m.GetCode()+"\t"+completionText(m.GetDisplayName()))
			}
		}
		return len(resp.GetMembers()), resp.GetNextPageToken(), err
	})
	return out, err
}

// completionText makes a description fit for a completion: one line,
// without tabs or control characters, at most 60 characters.
func completionText(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return ' '
		}
		return r
	}, strings.TrimSpace(s))
	if r := []rune(s); len(r) > 60 {
		s = string(r[:59]) + "…"
	}
	return s
}
