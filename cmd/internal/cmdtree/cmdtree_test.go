package cmdtree_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/accordfed/accord/cmd/internal/cmdtree"
)

func tree() *cobra.Command {
	root := &cobra.Command{Use: "tool", SilenceErrors: true, SilenceUsage: true}
	cases := &cobra.Command{Use: "cases"}
	cases.AddCommand(&cobra.Command{Use: "list", Run: func(*cobra.Command, []string) {}},
		&cobra.Command{Use: "import FILE", Args: cobra.ExactArgs(1), Run: func(*cobra.Command, []string) {}})
	deep := &cobra.Command{Use: "jit"}
	member := &cobra.Command{Use: "member"}
	member.AddCommand(&cobra.Command{Use: "show", Run: func(*cobra.Command, []string) {}})
	deep.AddCommand(member)
	// A group that runs on its own and takes one argument.
	runs := &cobra.Command{Use: "serve [NAME]", Args: cobra.MaximumNArgs(1), Run: func(*cobra.Command, []string) {}}
	runs.AddCommand(&cobra.Command{Use: "status", Run: func(*cobra.Command, []string) {}})
	root.AddCommand(cases, deep, runs)
	cmdtree.RejectUnknownSubcommands(root)
	return root
}

func TestUnknownSubcommandAtEveryLevel(t *testing.T) {
	for _, c := range []struct {
		args    []string
		wantErr string // "" for success
		suggest string
	}{
		{[]string{"bogus"}, `unknown command "bogus" for "tool"`, ""},
		{[]string{"csaes"}, `unknown command "csaes" for "tool"`, "cases"},
		{[]string{"cases", "lst"}, `unknown command "lst" for "tool cases"`, "list"},
		{[]string{"jit", "membr", "show"}, `unknown command "membr" for "tool jit"`, "member"},
		{[]string{"jit", "member", "shwo"}, `unknown command "shwo" for "tool jit member"`, "show"},
		{[]string{"completion", "bsh"}, `unknown command "bsh" for "tool completion"`, "bash"},
		{[]string{"serve", "a", "b"}, "accepts at most 1 arg(s), received 2", ""},
		{[]string{"serve", "one"}, "", ""},
		{[]string{"serve", "statsu", "x"}, `unknown command "statsu" for "tool serve"`, "status"},
		{[]string{"cases"}, "", ""},
		{[]string{"jit", "member"}, "", ""},
		{[]string{"cases", "list"}, "", ""},
		{[]string{"cases", "import", "f.jsonl"}, "", ""},
		{[]string{"cases", "import"}, "accepts 1 arg(s)", ""},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			root := tree()
			var out bytes.Buffer
			root.SetOut(&out)
			root.SetErr(&out)
			root.SetArgs(c.args)
			err := root.Execute()
			if c.wantErr == "" {
				if err != nil {
					t.Fatalf("err = %v, want none", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("err = %v, want %q", err, c.wantErr)
			}
			if c.suggest != "" && (!strings.Contains(err.Error(), "Did you mean this?") || !strings.Contains(err.Error(), "\n\t"+c.suggest+"\n")) {
				t.Errorf("err = %v, want the suggestion %s", err, c.suggest)
			}
		})
	}
}

func TestBareGroupPrintsHelp(t *testing.T) {
	root := tree()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetArgs([]string{"cases"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "Available Commands:") || !strings.Contains(out.String(), "list") {
		t.Errorf("help not printed:\n%s", out.String())
	}
}
