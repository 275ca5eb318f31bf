package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"

	"kizuna/internal/load"
)

func init() {
	register(command{name: "load", usage: load.Usage, run: runLoad})
}

// runLoad runs `kizuna load`: progress goes to stderr, the one summary line
// to stdout.
func runLoad(ctx context.Context, args []string, env Env) error {
	cfg, err := load.ParseArgs(args, env.Stderr)
	if err != nil {
		if errors.Is(err, load.ErrConfig) {
			fmt.Fprintf(env.Stderr, "kizuna load: %v\n", err)
			return errUsage
		}
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage // the flag package has printed the problem
	}
	cfg.Logger = slog.New(slog.NewTextHandler(env.Stderr, nil))
	res, err := load.Run(ctx, cfg)
	if res.Connected >= 2 {
		fmt.Fprintln(env.Stdout, res)
	}
	return err
}
