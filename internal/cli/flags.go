package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
)

// subcommand is one verb of a command with sub-commands (pki, users,
// sustainment, taxii, audit).
type subcommand struct {
	name string
	run  func(args []string) error
}

// dispatch runs the sub-command named by args[0]. No argument, or -h,
// prints usage; an unknown name prints usage after saying so.
func dispatch(env Env, command string, args []string, usage func(io.Writer), subs ...subcommand) error {
	if len(args) == 0 {
		usage(env.Stderr)
		return errUsage
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(env.Stderr)
		return flag.ErrHelp
	}
	for _, s := range subs {
		if s.name == args[0] {
			return s.run(args[1:])
		}
	}
	fmt.Fprintf(env.Stderr, "kizuna %s: unknown sub-command %q\n", command, args[0])
	usage(env.Stderr)
	return errUsage
}

// newFlags makes the flag set of "kizuna NAME", reporting to standard error.
func newFlags(env Env, name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	return fs
}

// parseArgs parses flags: -h returns flag.ErrHelp, any other error (which
// the flag set has printed) errUsage.
func parseArgs(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	return nil
}

// parseFlags parses flags, refuses positional arguments and checks that
// the required flags are set.
func parseFlags(fs *flag.FlagSet, args []string, required ...string) error {
	if err := parseArgs(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "kizuna %s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		fs.Usage()
		return errUsage
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for _, r := range required {
		if !set[r] {
			fmt.Fprintf(fs.Output(), "kizuna %s: --%s is required\n", fs.Name(), r)
			fs.Usage()
			return errUsage
		}
	}
	return nil
}
