package cli

import (
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"
)

// Run runs the app on args (os.Args). Unlike urfave/cli's own parsing,
// flags may come after positional arguments, as researchers type them:
// `vbg run experiments/demo.yaml --set train.epochs=2`.
// Errors are printed as one "vbg: ..." line on the app's ErrWriter.
func Run(app *cli.App, args []string) error {
	err := app.Run(Intersperse(app, args))
	if err != nil {
		w := app.ErrWriter
		if w == nil {
			w = os.Stderr
		}
		fmt.Fprintln(w, "vbg:", err)
	}
	return err
}

// Intersperse moves a command's flags in front of its positional arguments
// so that urfave/cli, which stops at the first positional argument, sees
// them. Everything after "--" is left alone.
func Intersperse(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	out := []string{args[0]}
	cmds := app.Commands
	var cmd *cli.Command
	i := 1
	// Walk down the command path (global flags before it are kept as is).
	for ; i < len(args); i++ {
		a := args[i]
		if strings.HasPrefix(a, "-") {
			if cmd != nil {
				break // the command's own flags start here
			}
			out = append(out, a) // a global flag (they take no value)
			continue
		}
		var next *cli.Command
		for _, c := range cmds {
			if c.HasName(a) {
				next = c
			}
		}
		if next == nil {
			break
		}
		out = append(out, a)
		cmd, cmds = next, next.Subcommands
	}
	if cmd == nil {
		return args
	}
	takesValue := map[string]bool{}
	for _, f := range cmd.Flags {
		_, isBool := f.(*cli.BoolFlag)
		for _, n := range f.Names() {
			takesValue[n] = !isBool
		}
	}
	var flags, pos []string
	for ; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			pos = append(pos, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		if takesValue[name] && i+1 < len(args) {
			i++
			flags = append(flags, args[i])
		}
	}
	return append(append(out, flags...), pos...)
}
