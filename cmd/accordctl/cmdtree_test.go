package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestMistypedSubcommandFails: a mistyped subcommand at any level is an
// error naming the command, with cobra's suggestion; a bare group prints
// its help and succeeds.
func TestMistypedSubcommandFails(t *testing.T) {
	for _, c := range []struct {
		args          []string
		want, suggest string
	}{
		{[]string{"bogus"}, `unknown command "bogus" for "accordctl"`, ""},
		{[]string{"csaes", "list"}, `unknown command "csaes" for "accordctl"`, "cases"},
		{[]string{"cases", "lst"}, `unknown command "lst" for "accordctl cases"`, "list"},
		{[]string{"evidence", "regster"}, `unknown command "regster" for "accordctl evidence"`, ""},
		{[]string{"custody", "bogus"}, `unknown command "bogus" for "accordctl custody"`, ""},
		{[]string{"jit", "bogus"}, `unknown command "bogus" for "accordctl jit"`, ""},
		{[]string{"certs", "isue"}, `unknown command "isue" for "accordctl certs"`, ""},
		{[]string{"completion", "bsh"}, `unknown command "bsh" for "accordctl completion"`, "bash"},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			_, err := certsRun(t, c.args...)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
			if c.suggest != "" && (!strings.Contains(err.Error(), "Did you mean this?") || !strings.Contains(err.Error(), "\n\t"+c.suggest+"\n")) {
				t.Errorf("err = %v, want the suggestion %q", err, c.suggest)
			}
		})
	}
	out, err := certsRun(t, "cases")
	if err != nil || !strings.Contains(out, "Available Commands:") {
		t.Errorf("bare group: err = %v, output:\n%s", err, out)
	}
}

// TestEveryGroupRefusesUnknownWords walks the whole tree: no group command
// prints help and succeeds on a word it does not know.
func TestEveryGroupRefusesUnknownWords(t *testing.T) {
	var groups [][]string
	var walk func(c *cobra.Command, path []string)
	walk = func(c *cobra.Command, path []string) {
		if c.HasSubCommands() {
			groups = append(groups, path)
		}
		for _, sub := range c.Commands() {
			walk(sub, append(append([]string(nil), path...), sub.Name()))
		}
	}
	walk(newRootCmd(), nil)
	if len(groups) < 5 {
		t.Fatalf("only %d groups found", len(groups))
	}
	for _, path := range groups {
		root := newRootCmd()
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetErr(&out)
		root.SetArgs(append(append([]string(nil), path...), "zzqx"))
		err := root.Execute()
		if err == nil || !strings.Contains(err.Error(), `unknown command "zzqx"`) {
			t.Errorf("accordctl %s zzqx: err = %v", strings.Join(path, " "), err)
		}
	}
}
