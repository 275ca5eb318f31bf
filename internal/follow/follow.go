// Package follow runs the loop by which an instance of a cluster follows
// what the other instances committed to the shared store: a check on a
// ticker, whose failures (the store unreachable) are logged when they
// start and when they end, not at every tick.
package follow

import (
	"context"
	"log/slog"
	"time"
)

// Run calls check every interval until ctx ends. what names the state
// followed in the log ("missions", "the chain of command", …).
func Run(ctx context.Context, log *slog.Logger, what string, every time.Duration, check func(context.Context) error) {
	t := time.NewTicker(every)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := check(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil && !failing:
			log.Warn("not following the cluster's store", "state", what, "err", err)
		case err == nil && failing:
			log.Info("following the cluster's store again", "state", what)
		}
		failing = err != nil
	}
}
