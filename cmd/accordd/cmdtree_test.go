package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestMistypedSubcommandFails(t *testing.T) {
	for _, c := range []struct {
		args          []string
		want, suggest string
	}{
		{[]string{"bogus"}, `unknown command "bogus" for "accordd"`, ""},
		{[]string{"vrsion"}, `unknown command "vrsion" for "accordd"`, "version"},
		{[]string{"completion", "zhs"}, `unknown command "zhs" for "accordd completion"`, "zsh"},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			root := newRootCmd()
			var out bytes.Buffer
			root.SetOut(&out)
			root.SetErr(&out)
			root.SetArgs(c.args)
			err := root.Execute()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
			if c.suggest != "" && (!strings.Contains(err.Error(), "Did you mean this?") || !strings.Contains(err.Error(), "\n\t"+c.suggest+"\n")) {
				t.Errorf("err = %v, want the suggestion %q", err, c.suggest)
			}
		})
	}
}
