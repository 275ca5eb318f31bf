package cli

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"time"

	"kizuna/internal/demo"
)

func init() {
	register(command{name: "demo", usage: "allied exercise on loopback: three nations, simulated units, orders and sensors", run: runDemo})
}

func runDemo(ctx context.Context, args []string, env Env) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	var o demo.Options
	fs.StringVar(&o.DataDir, "data", "", "data `dir`ectory (default: a fresh temporary directory, removed on exit)")
	fs.StringVar(&o.Host, "host", "127.0.0.1", "address every listener binds")
	fs.BoolVar(&o.InsecurePlaintext, "insecure-plaintext", false, "allow plain TCP and HTTP on a non-loopback --host (exercise only)")
	fs.DurationVar(&o.Period, "period", 2*time.Second, "how often simulated units report")
	fs.DurationVar(&o.OrderEvery, "order-every", 15*time.Second, "pause between demonstration orders")
	fs.DurationVar(&o.WarningEvery, "warning-every", 2*time.Minute, "pause between simulated missile launches")
	level := fs.String("log-level", "warn", "log level: debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		return err
	}
	o.Out = env.Stdout
	o.Log = slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: lvl}))
	return demo.Run(ctx, o)
}
