package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// ErrSchemaTooNew reports a database written by a newer Kizuna than this one.
var ErrSchemaTooNew = errors.New("database schema is newer than this binary")

// migrations[i] brings the schema from version i to version i+1. The
// version lives in PRAGMA user_version. Append only; never edit a step
// that has shipped.
var migrations = []func(ctx context.Context, tx *sql.Tx) error{
	migrateV1,
}

// SchemaVersion is the schema version this binary writes; it equals
// len(migrations).
const SchemaVersion = 1

// The label columns are shared by objects and history:
//
//	classification INTEGER  0 invalid, 1 UNCLASSIFIED, 2 CONFIDENTIAL, 3 SECRET, 4 TOP SECRET
//	releasable_to  TEXT     nation codes separated by single spaces, as in CoT ("JPN KOR")
//	caveat         TEXT     "" when none
//	originator     TEXT     nation code
//
// so SQL can pre-filter, e.g. for principal (N, K):
//
//	classification <= K AND (originator = N OR instr(' '||releasable_to||' ', ' '||N||' ') > 0)
//
// Callers still apply label.Releasable to every row before it leaves the node.
// Times are Unix nanoseconds (0 for the zero time).
func migrateV1(ctx context.Context, tx *sql.Tx) error {
	stmts := []string{
		`CREATE TABLE objects (
			uid            TEXT PRIMARY KEY NOT NULL,
			type           TEXT NOT NULL,
			owner          TEXT NOT NULL,
			classification INTEGER NOT NULL CHECK (classification BETWEEN 0 AND 4),
			releasable_to  TEXT NOT NULL,
			caveat         TEXT NOT NULL,
			originator     TEXT NOT NULL,
			time           INTEGER NOT NULL,
			stale          INTEGER NOT NULL,
			lat            REAL NOT NULL,
			lon            REAL NOT NULL,
			hae            REAL NOT NULL,
			callsign       TEXT NOT NULL,
			xml            BLOB NOT NULL,
			updated        INTEGER NOT NULL
		)`,
		`CREATE TABLE history (
			id             INTEGER PRIMARY KEY,
			uid            TEXT NOT NULL,
			type           TEXT NOT NULL,
			owner          TEXT NOT NULL,
			classification INTEGER NOT NULL CHECK (classification BETWEEN 0 AND 4),
			releasable_to  TEXT NOT NULL,
			caveat         TEXT NOT NULL,
			originator     TEXT NOT NULL,
			time           INTEGER NOT NULL,
			stale          INTEGER NOT NULL,
			lat            REAL NOT NULL,
			lon            REAL NOT NULL,
			hae            REAL NOT NULL,
			callsign       TEXT NOT NULL,
			xml            BLOB NOT NULL,
			recorded       INTEGER NOT NULL
		)`,
		`CREATE INDEX history_uid_time ON history (uid, time)`,
		`CREATE INDEX history_recorded ON history (recorded)`,
		`CREATE TABLE owners (
			uid        TEXT PRIMARY KEY NOT NULL,
			owner      TEXT NOT NULL,
			first_seen INTEGER NOT NULL
		)`,
	}
	for _, s := range stmts {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

// migrate brings the database up to SchemaVersion, one step per
// transaction, and refuses a database from a newer binary.
func migrate(ctx context.Context, db *sql.DB) error {
	for {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("migrating schema: %w", err)
		}
		var v int
		if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
			tx.Rollback()
			return fmt.Errorf("reading schema version: %w", err)
		}
		if v == len(migrations) {
			return tx.Rollback()
		}
		if v > len(migrations) || v < 0 {
			tx.Rollback()
			return fmt.Errorf("%w: version %d, this binary knows %d", ErrSchemaTooNew, v, len(migrations))
		}
		if err := migrations[v](ctx, tx); err != nil {
			tx.Rollback()
			return fmt.Errorf("migrating schema to version %d: %w", v+1, err)
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v+1)); err != nil {
			tx.Rollback()
			return fmt.Errorf("setting schema version %d: %w", v+1, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("committing schema version %d: %w", v+1, err)
		}
	}
}
