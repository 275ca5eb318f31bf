package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"kizuna/internal/audit"
	"kizuna/internal/clusteraudit"
)

// verifyClusterAudit checks an instance's audit log against the cluster
// checkpoints in the shared store (after the log's own chain verified).
func verifyClusterAudit(ctx context.Context, url, instance, dir string, env Env) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return fmt.Errorf("connecting to the cluster store: %w", err)
	}
	defer pool.Close()
	if instance == "" {
		ids, err := clusteraudit.Instances(ctx, pool)
		if err != nil {
			return err
		}
		return fmt.Errorf("--instance is required with --store; instances with checkpoints: %v", ids)
	}
	res, err := clusteraudit.Verify(ctx, pool, instance, dir)
	if errors.Is(err, clusteraudit.ErrMismatch) || errors.Is(err, audit.ErrTampered) || errors.Is(err, audit.ErrTorn) {
		fmt.Fprintf(env.Stdout, "FAIL: instance %s: %v\n", instance, err)
		return exitCode{code: 3, err: err}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "OK: instance %s matches %d cluster checkpoints\n", instance, res.Checkpoints)
	return nil
}
