package node

import (
	"context"
	"database/sql"
	"time"

	"github.com/jackc/pgx/v5/stdlib"

	"kizuna/internal/command"
	"kizuna/internal/follow"
)

// commandShared returns the cluster's PostgreSQL for the chain of command
// in cluster mode, nil otherwise (its SQLite file).
func (n *Node) commandShared() *sql.DB {
	if n.cl == nil || n.cl.pg == nil {
		return nil
	}
	return stdlib.OpenDBFromPool(n.cl.pg.Pool())
}

// watchCommand, in cluster mode, reloads the chain of command whenever
// another instance committed a change (the shared version moved), so an
// order issued on one instance can be acknowledged on any other.
func (n *Node) watchCommand(ctx context.Context, svc *command.Service) {
	if n.cl == nil || n.cl.pg == nil {
		return
	}
	var seen int64
	n.commandLoop.run(ctx, func(ctx context.Context) {
		follow.Run(ctx, n.log, "the chain of command", 250*time.Millisecond, func(ctx context.Context) error {
			v, err := svc.Version(ctx)
			if err != nil || v == seen {
				return err
			}
			if err := svc.Reload(ctx); err != nil {
				return err
			}
			seen = v
			return nil
		})
	})
}
