// Package cli owns the kizuna command line: it parses sub-commands and their
// flags and hands them to the packages that do the work. Commands with
// sub-commands (pki, users, sustainment, taxii, audit) share one
// dispatcher and one flag parser (flags.go).
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

// Env is what main hands to the command line: output streams and the
// reload signal (SIGHUP). Only main handles signals.
type Env struct {
	Stdout, Stderr io.Writer
	// Reload receives a value when the operator asks for a reload (SIGHUP).
	Reload <-chan os.Signal
}

type command struct {
	name, usage string
	run         func(ctx context.Context, args []string, env Env) error
}

var commands []command

func register(c command) { commands = append(commands, c) }

// errUsage is returned after a usage message was printed.
var errUsage = errors.New("usage")

// Main runs one sub-command and returns the process exit code.
func Main(ctx context.Context, args []string, env Env) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(env.Stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands {
		if c.name == args[0] {
			err := c.run(ctx, args[1:], env)
			switch {
			case err == nil:
				return 0
			case errors.Is(err, flag.ErrHelp):
				return 0
			case errors.Is(err, errUsage):
				return 2
			}
			fmt.Fprintf(env.Stderr, "kizuna %s: %v\n", c.name, err)
			if ec := (exitCode{}); errors.As(err, &ec) {
				return ec.code
			}
			return 1
		}
	}
	fmt.Fprintf(env.Stderr, "kizuna: unknown command %q\n", args[0])
	usage(env.Stderr)
	return 2
}

// exitCode carries a specific exit status with an error.
type exitCode struct {
	code int
	err  error
}

func (e exitCode) Error() string { return e.err.Error() }
func (e exitCode) Unwrap() error { return e.err }

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: kizuna <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.usage)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'kizuna <command> -h' for the flags of one command.")
}
