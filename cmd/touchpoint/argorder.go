package main

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// reorderArgs lets flags follow positional arguments
// (`get offers retain-10 -o json`). urfave/cli/v2 stops parsing flags at
// the first positional, so before it runs we walk the command path and move
// every flag to the level that defines it: a command's own flags right after
// its name, a global flag (--addr, --token) after the program name. What
// follows a literal "--" is left untouched, and positionals are passed after
// a "--" of our own so a positional that starts with "-" stays positional.
func reorderArgs(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	type level struct {
		name  string
		flags []cli.Flag
		out   []string
	}
	levels := []*level{{name: args[0], flags: app.Flags}}
	commands := app.Commands
	var positionals []string
	var rest []string
	leaf := false
	for i := 1; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			rest = args[i+1:]
			break
		}
		if len(a) > 1 && strings.HasPrefix(a, "-") {
			name, hasValue := flagName(a)
			at := len(levels) - 1
			var f cli.Flag
			for j := len(levels) - 1; j >= 0 && name != "help" && name != "h"; j-- {
				// --help stays with the deepest command named: every
				// command has one, and the app's would print the app's.
				if f = findFlag(levels[j].flags, name); f != nil {
					at = j
					break
				}
			}
			levels[at].out = append(levels[at].out, a)
			if f != nil && !hasValue && takesValue(f) && i+1 < len(args) {
				i++
				levels[at].out = append(levels[at].out, args[i])
			}
			continue
		}
		if !leaf {
			if c := findCommand(commands, a); c != nil {
				levels = append(levels, &level{name: a, flags: c.Flags})
				commands = c.Subcommands
				if len(commands) == 0 {
					leaf = true
				}
				continue
			}
			leaf = true
		}
		positionals = append(positionals, a)
	}
	out := []string{}
	for _, l := range levels {
		out = append(out, l.name)
		out = append(out, l.out...)
	}
	if len(positionals) > 0 || rest != nil {
		out = append(out, "--")
		out = append(out, positionals...)
		out = append(out, rest...)
	}
	return out
}

func flagName(a string) (string, bool) {
	a = strings.TrimLeft(a, "-")
	if i := strings.IndexByte(a, '='); i >= 0 {
		return a[:i], true
	}
	return a, false
}

func findFlag(flags []cli.Flag, name string) cli.Flag {
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				return f
			}
		}
	}
	return nil
}

func takesValue(f cli.Flag) bool {
	if _, ok := f.(*cli.BoolFlag); ok {
		return false
	}
	return true
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}
