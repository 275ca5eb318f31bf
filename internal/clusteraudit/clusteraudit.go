// Package clusteraudit makes the audit logs of a cluster's instances
// verifiable as a whole.
//
// Choice: one hash chain per instance (each instance keeps its own
// tamper-evident log in its data directory, exactly as a single node does)
// plus cluster checkpoints: every instance records its chain head
// (sequence, hash) in the shared PostgreSQL database every few seconds and
// at shutdown. One chain sequenced through JetStream would put a network
// round trip, and the cluster's availability, in front of every audit
// append (connection refusals, rejections), and a single writer would
// become the bottleneck of all instances; per-instance chains keep appends
// local and group-committed, and the checkpoints bind them together: an
// instance's log cannot be rewritten or truncated behind a checkpoint
// without Verify noticing, even by someone holding that machine's disk,
// unless they also rewrite the shared database.
package clusteraudit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"kizuna/internal/audit"
)

// ErrMismatch reports an instance log that disagrees with a cluster
// checkpoint: rewritten, truncated or replaced.
var ErrMismatch = errors.New("audit log disagrees with cluster checkpoint")

// Checkpoint records instance's chain head. Recording the same head twice
// is harmless.
func Checkpoint(ctx context.Context, pool *pgxpool.Pool, instance string, seq uint64, hash string) error {
	_, err := pool.Exec(ctx, `INSERT INTO audit_checkpoints (instance, seq, hash, recorded)
		VALUES ($1, $2, $3, $4) ON CONFLICT (instance, seq) DO NOTHING`, instance, int64(seq), hash, time.Now().UnixNano())
	if err != nil {
		return fmt.Errorf("recording audit checkpoint: %w", err)
	}
	return nil
}

// Instances lists the instances that recorded checkpoints.
func Instances(ctx context.Context, pool *pgxpool.Pool) ([]string, error) {
	rows, err := pool.Query(ctx, `SELECT DISTINCT instance FROM audit_checkpoints ORDER BY instance`)
	if err != nil {
		return nil, fmt.Errorf("listing audit checkpoints: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// Result is what Verify found for one instance.
type Result struct {
	Instance    string
	Report      audit.Report
	Checkpoints int // cluster checkpoints matched
}

// Verify checks the audit log in dir (the instance's data directory): its
// own chain and checkpoints (audit.Verify), then every cluster checkpoint
// recorded for instance: the record at that sequence must exist and carry
// that hash.
func Verify(ctx context.Context, pool *pgxpool.Pool, instance, dir string) (Result, error) {
	res := Result{Instance: instance}
	rep, err := audit.Verify(dir)
	res.Report = rep
	if err != nil {
		return res, err
	}
	rows, err := pool.Query(ctx, `SELECT seq, hash FROM audit_checkpoints WHERE instance = $1 ORDER BY seq`, instance)
	if err != nil {
		return res, fmt.Errorf("reading cluster checkpoints: %w", err)
	}
	want := map[uint64]string{}
	var maxSeq uint64
	for rows.Next() {
		var seq int64
		var h string
		if err := rows.Scan(&seq, &h); err != nil {
			rows.Close()
			return res, err
		}
		want[uint64(seq)] = h
		maxSeq = max(maxSeq, uint64(seq))
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return res, err
	}
	if len(want) == 0 {
		return res, fmt.Errorf("%w: no cluster checkpoint recorded for instance %q", ErrMismatch, instance)
	}
	if rep.HeadSeq < maxSeq {
		return res, fmt.Errorf("%w: instance %s log ends at record %d, but the cluster checkpointed record %d (truncated)", ErrMismatch, instance, rep.HeadSeq, maxSeq)
	}
	err = audit.Read(dir, func(r audit.Record) error {
		h, ok := want[r.Seq]
		if !ok {
			return nil
		}
		if h != r.Hash {
			return fmt.Errorf("%w: instance %s record %d has hash %.16s…, the cluster checkpointed %.16s…", ErrMismatch, instance, r.Seq, r.Hash, h)
		}
		res.Checkpoints++
		if r.Seq >= maxSeq {
			return audit.ErrStop
		}
		return nil
	})
	if err != nil {
		return res, err
	}
	if res.Checkpoints != len(want) {
		return res, fmt.Errorf("%w: instance %s: %d of %d checkpointed records found", ErrMismatch, instance, res.Checkpoints, len(want))
	}
	return res, nil
}
