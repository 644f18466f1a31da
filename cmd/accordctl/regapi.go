package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"github.com/accordfed/accord/federation/identity"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// The registry commands' use of CoordinationService's typed methods:
// writes with a request id, reads, names and the API's types in words.

// apiWrite runs one typed registry write: the request id (given with
// --request-id or fresh), the call, and what it did (-o json: the response
// message).
func apiWrite[R proto.Message](cmd *cobra.Command, g *globalOptions, wf *writeFlags, what string,
	call func(ctx context.Context, c *coordClient, requestID string) (R, error), describe func(c *coordClient, r R) string) error {
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
	resp, err := call(ctx, c, rid)
	if err != nil {
		return c.coordError(what, rid, err)
	}
	out := cmd.OutOrStdout()
	if g.JSON() {
		return printProto(out, resp)
	}
	fmt.Fprintln(out, describe(c, resp))
	fmt.Fprintf(out, "request id: %s\n", rid)
	return nil
}

// apiRead runs one typed registry read and prints its answer with show
// (-o json: the response message).
func apiRead[R proto.Message](cmd *cobra.Command, g *globalOptions, what string,
	call func(ctx context.Context, c *coordClient) (R, error), show func(w io.Writer, c *coordClient, r R)) error {
	c, err := openCoord(g, cmd)
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := c.ctx(cmd)
	defer cancel()
	resp, err := call(ctx, c)
	if err != nil {
		return c.coordError(what, "", err)
	}
	if g.JSON() {
		return printProto(cmd.OutOrStdout(), resp)
	}
	show(cmd.OutOrStdout(), c, resp)
	return nil
}

// listPages calls a List method page after page until the last one (or
// until limit records, when limit > 0) and returns every record; each
// call gets the previous page's token.
func listPages[T any](limit int, page func(token string) ([]T, string, error)) ([]T, error) {
	var all []T
	token := ""
	for {
		items, next, err := page(token)
		if err != nil {
			return nil, err
		}
		all = append(all, items...)
		if next == "" || (limit > 0 && len(all) >= limit) {
			if limit > 0 && len(all) > limit {
				all = all[:limit]
			}
			return all, nil
		}
		token = next
	}
}

// resourceName returns arg as a resource name of collection: an id
// (jit-000001) gets the collection's prefix, a full name (jits/jit-000001)
// stays.
func resourceName(collection, arg string) string {
	if strings.HasPrefix(arg, collection+"/") {
		return arg
	}
	return collection + "/" + arg
}

// shortID is the last part of a resource name, for tables.
func shortID(name string) string {
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		return name[i+1:]
	}
	return name
}

// word is an API enum value in words: JIT_STATE_ACTIVE is "active".
func word(v fmt.Stringer, prefix string) string {
	s := strings.TrimPrefix(v.String(), prefix)
	if s == "UNSPECIFIED" {
		return "-"
	}
	return strings.ToLower(s)
}

// apiChange says when and by whom a change was made: the user, and the
// node it acted through.
func apiChange(c *accordv1.RegistryChange) string {
	if c == nil || (c.GetIndex() == 0 && c.GetTime() == nil) {
		return "-"
	}
	s := "-"
	if c.GetTime() != nil {
		s = regTime(c.GetTime().AsTime())
	}
	switch {
	case c.GetUser() != "" && c.GetNode() != "":
		s += " by " + regWho(c.GetUser()) + " via " + regWho(c.GetNode())
	case c.GetUser() != "":
		s += " by " + regWho(c.GetUser())
	case c.GetNode() != "":
		s += " by " + regWho(c.GetNode())
	}
	return s
}

// apiCase is a case reference as MEMBER/CASE_ID.
func apiCase(c *accordv1.RegistryCaseRef) string { return c.GetMember() + "/" + c.GetCaseId() }

func apiCases(cs []*accordv1.RegistryCaseRef) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = apiCase(c)
	}
	return out
}

// apiAnswers lists answers as "PL yes, UA pending".
func apiAnswers(as []*accordv1.MemberAnswer) string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.GetMember() + " " + word(a.GetAnswer(), "ANSWER_")
	}
	return strings.Join(out, ", ")
}

// printAnswers writes each member's answer and when it gave it.
func printAnswers(w io.Writer, as []*accordv1.MemberAnswer) {
	fmt.Fprintf(w, "answers (%d):\n", len(as))
	for _, a := range as {
		when := "-"
		if a.GetChange() != nil {
			when = apiChange(a.GetChange())
		}
		fmt.Fprintf(w, "  %s  %s  %s\n", a.GetMember(), word(a.GetAnswer(), "ANSWER_"), when)
	}
}

// regCaseRef reads MEMBER/CASE_ID, or a bare case id whose member is its
// prefix before the first dash (UA-2022-000001 is UA's).
func regCaseRef(flag, s string) (*accordv1.RegistryCaseRef, error) {
	s = strings.TrimSpace(s)
	ref := &accordv1.RegistryCaseRef{}
	if m, id, ok := strings.Cut(s, "/"); ok && identity.ValidateMember(m) == nil {
		ref.Member, ref.CaseId = m, id
	} else if m, _, ok := strings.Cut(s, "-"); ok && identity.ValidateMember(m) == nil {
		ref.Member, ref.CaseId = m, s
	}
	if ref.GetMember() == "" || ref.GetCaseId() == "" {
		return nil, fmt.Errorf("%s %q: must be MEMBER/CASE_ID (e.g. UA/UA-2022-000001)", flag, s)
	}
	return ref, nil
}

// answerOf is yes or no as an API answer.
func answerOf(yes bool) accordv1.Answer {
	if yes {
		return accordv1.Answer_ANSWER_YES
	}
	return accordv1.Answer_ANSWER_NO
}
