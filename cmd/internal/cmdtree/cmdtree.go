// Package cmdtree applies the command-line conventions that hold for every
// command of a cobra tree (accordctl, accordd) once the tree is built, so that
// no command has to repeat them. It is not for anything a single command
// decides.
package cmdtree

import (
	"fmt"

	"github.com/spf13/cobra"
)

// RejectUnknownSubcommands makes every command that has subcommands refuse
// an argument that names none of them: "unknown command "lst" for
// "accordctl cases"" with cobra's suggestions ("Did you mean this? list"),
// an error, so that the program exits non-zero. Cobra alone does this for
// the root only; a group command without Run prints its help and succeeds,
// whatever follows it. A group called bare still prints its help.
//
// A group that runs on its own (accordd) keeps its argument check; when that
// check refuses the arguments, the error becomes the unknown-command error
// with suggestions.
//
// Call it on the root after every command was added; it adds cobra's
// default help and completion commands first, so that they are covered too.
func RejectUnknownSubcommands(root *cobra.Command) {
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	walk(root)
}

func walk(cmd *cobra.Command) {
	for _, sub := range cmd.Commands() {
		walk(sub)
	}
	if !cmd.HasSubCommands() {
		return
	}
	if !cmd.Runnable() {
		cmd.Args = noSubcommand
		cmd.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
		return
	}
	check := cmd.Args
	if check == nil {
		// Cobra's default for a group accepts anything below the root.
		check = cobra.NoArgs
	}
	cmd.Args = func(cmd *cobra.Command, args []string) error {
		err := check(cmd, args)
		if err == nil || len(args) == 0 {
			return err
		}
		// The first argument is taken for a mistyped subcommand when it
		// resembles one, or when the command takes no argument at all.
		if len(suggestions(cmd, args[0])) > 0 || (check(cmd, args[:1]) != nil && check(cmd, nil) == nil) {
			return unknown(cmd, args[0])
		}
		return err
	}
}

// noSubcommand refuses any argument of a group command.
func noSubcommand(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return unknown(cmd, args[0])
	}
	return nil
}

// unknown is cobra's own message for an unknown command, with its
// suggestions.
func unknown(cmd *cobra.Command, arg string) error {
	msg := fmt.Sprintf("unknown command %q for %q", arg, cmd.CommandPath())
	if s := suggestions(cmd, arg); len(s) > 0 {
		msg += "\n\nDid you mean this?"
		for _, name := range s {
			msg += "\n\t" + name
		}
	}
	msg += fmt.Sprintf("\n\nRun '%s --help' for the commands.", cmd.CommandPath())
	return fmt.Errorf("%s", msg)
}

// suggestions are the subcommands whose names are close to arg.
func suggestions(cmd *cobra.Command, arg string) []string {
	if cmd.DisableSuggestions {
		return nil
	}
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2
	}
	return cmd.SuggestionsFor(arg)
}
