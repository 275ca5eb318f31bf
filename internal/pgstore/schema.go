package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// ErrSchemaTooNew reports a database migrated by a newer Kizuna.
var ErrSchemaTooNew = errors.New("database schema is newer than this binary")

// migrations[i] brings the schema from version i to i+1. Append only;
// never edit a step that has shipped. Instances of one cluster may start
// together: migrate serialises them with an advisory lock.
var migrations = []string{
	// 1: the live picture, history and uid ownership (the same columns as
	// the SQLite store; see package store's schema for their meaning).
	`CREATE TABLE objects (
		uid            text PRIMARY KEY,
		type           text NOT NULL,
		owner          text NOT NULL,
		classification smallint NOT NULL CHECK (classification BETWEEN 0 AND 4),
		releasable_to  text NOT NULL,
		caveat         text NOT NULL,
		originator     text NOT NULL,
		time           bigint NOT NULL,
		stale          bigint NOT NULL,
		lat            double precision NOT NULL,
		lon            double precision NOT NULL,
		hae            double precision NOT NULL,
		callsign       text NOT NULL,
		xml            bytea NOT NULL,
		updated        bigint NOT NULL
	);
	CREATE TABLE history (
		id             bigserial PRIMARY KEY,
		uid            text NOT NULL,
		type           text NOT NULL,
		owner          text NOT NULL,
		classification smallint NOT NULL CHECK (classification BETWEEN 0 AND 4),
		releasable_to  text NOT NULL,
		caveat         text NOT NULL,
		originator     text NOT NULL,
		time           bigint NOT NULL,
		stale          bigint NOT NULL,
		lat            double precision NOT NULL,
		lon            double precision NOT NULL,
		hae            double precision NOT NULL,
		callsign       text NOT NULL,
		xml            bytea NOT NULL,
		recorded       bigint NOT NULL
	);
	CREATE INDEX history_uid_time ON history (uid, time);
	CREATE INDEX history_recorded ON history (recorded);
	CREATE TABLE owners (
		uid        text PRIMARY KEY,
		owner      text NOT NULL,
		first_seen bigint NOT NULL
	)`,
	// 2: cluster membership and audit checkpoints: each instance's audit
	// chain head, recorded periodically so that a verifier can check every
	// chain against what the cluster saw.
	`CREATE TABLE instances (
		id        text PRIMARY KEY,
		started   bigint NOT NULL,
		last_seen bigint NOT NULL
	);
	CREATE TABLE audit_checkpoints (
		instance text NOT NULL,
		seq      bigint NOT NULL,
		hash     text NOT NULL,
		recorded bigint NOT NULL,
		PRIMARY KEY (instance, seq)
	)`,
	// 3: federation in cluster mode (package federation, cluster.go): the
	// same tables as a single node's federation database, shared by the
	// instance that holds the federation lease and the ones after it.
	`CREATE TABLE fed_meta (key text PRIMARY KEY, value bigint NOT NULL);
	CREATE TABLE fed_peers (
		name   text PRIMARY KEY,
		nation text NOT NULL DEFAULT '',
		recv0  bigint NOT NULL DEFAULT 0,
		recv1  bigint NOT NULL DEFAULT 0
	);
	CREATE TABLE fed_outq (
		peer    text NOT NULL,
		lane    smallint NOT NULL,
		seq     bigint NOT NULL,
		uid     text NOT NULL,
		compact boolean NOT NULL,
		at      bigint NOT NULL,
		body    bytea NOT NULL,
		PRIMARY KEY (peer, lane, seq)
	);
	CREATE INDEX fed_outq_uid ON fed_outq (peer, uid) WHERE compact;
	CREATE TABLE fed_certs (fp bytea PRIMARY KEY, der bytea NOT NULL);
	CREATE TABLE fed_seen (
		origin text NOT NULL,
		seq    bigint NOT NULL,
		PRIMARY KEY (origin, seq)
	)`,
	// 4: the chain of command in cluster mode (package command, shared.go):
	// units, grants, orders and settings as JSON documents, as in its
	// SQLite file.
	`CREATE TABLE command_units (id text PRIMARY KEY, doc bytea NOT NULL);
	CREATE TABLE command_grants (id text PRIMARY KEY, seq bigint NOT NULL, doc bytea NOT NULL);
	CREATE TABLE command_orders (id text PRIMARY KEY, created bigint NOT NULL, doc bytea NOT NULL);
	CREATE TABLE command_meta (key text PRIMARY KEY, value text NOT NULL)`,
	// 5: TAK missions in cluster mode (package mission, shared.go): the
	// missions, their change logs and log entries as JSON documents, as in
	// its SQLite file, and the shared version every write moves on.
	`CREATE TABLE missions (key text PRIMARY KEY, doc text NOT NULL);
	CREATE TABLE mission_changes (id bigserial PRIMARY KEY, mission text NOT NULL, doc text NOT NULL);
	CREATE INDEX mission_changes_mission ON mission_changes (mission, id);
	CREATE TABLE mission_logs (id text PRIMARY KEY, doc text NOT NULL);
	CREATE TABLE mission_meta (key text PRIMARY KEY, value bigint NOT NULL);
	INSERT INTO mission_meta (key, value) VALUES ('version', 0)`,
	// 6: the TAXII store in cluster mode (package taxii, shared.go): the
	// same tables as its SQLite file, plus taxii_clock, whose one row every
	// TAXII write locks (serialising them across instances) and which
	// carries the last date_added given and a count of deletions.
	`CREATE TABLE taxii_objects (
		seq        bigserial PRIMARY KEY,
		coll       text NOT NULL,
		id         text NOT NULL,
		type       text NOT NULL,
		spec       text NOT NULL,
		version    text NOT NULL,
		nver       text NOT NULL,
		added      bigint NOT NULL,
		cls        integer NOT NULL,
		orig       text NOT NULL,
		rel        text NOT NULL,
		caveat     text NOT NULL,
		body       bytea NOT NULL,
		superseded integer NOT NULL DEFAULT 0,
		UNIQUE (coll, orig, cls, id, nver)
	);
	CREATE UNIQUE INDEX taxii_objects_added_all ON taxii_objects (added);
	CREATE INDEX taxii_objects_added ON taxii_objects (coll, added);
	CREATE INDEX taxii_objects_id ON taxii_objects (coll, id, nver);
	CREATE TABLE taxii_vis (
		nation text NOT NULL,
		coll   text NOT NULL,
		added  bigint NOT NULL,
		cls    integer NOT NULL,
		seq    bigint NOT NULL,
		PRIMARY KEY (nation, coll, added)
	);
	CREATE TABLE taxii_status (
		id      text PRIMARY KEY,
		owner   text NOT NULL,
		created bigint NOT NULL,
		body    bytea NOT NULL
	);
	CREATE TABLE taxii_markings (
		id     text PRIMARY KEY,
		cls    integer NOT NULL,
		rel    text NOT NULL,
		orig   text NOT NULL,
		caveat text NOT NULL
	);
	CREATE TABLE taxii_clock (
		id        integer PRIMARY KEY CHECK (id = 1),
		added     bigint NOT NULL,
		deletions bigint NOT NULL
	);
	INSERT INTO taxii_clock (id, added, deletions) VALUES (1, 0, 0)`,
	// 7: sustainment in cluster mode (package sustain, shared.go): the
	// movement ledger, its checkpoint and the documents as in its SQLite
	// file; each document carries the shared version that wrote it, and
	// sustain_meta's "version" row is the lock every write takes.
	`CREATE TABLE sustain_movements (
		seq  bigint PRIMARY KEY,
		idem text UNIQUE,
		doc  bytea NOT NULL
	);
	CREATE TABLE sustain_docs (
		kind text NOT NULL,
		id   text NOT NULL,
		doc  bytea NOT NULL,
		ver  bigint NOT NULL,
		PRIMARY KEY (kind, id)
	);
	CREATE INDEX sustain_docs_ver ON sustain_docs (ver);
	CREATE TABLE sustain_checkpoint (
		id  integer PRIMARY KEY CHECK (id = 1),
		seq bigint NOT NULL,
		sum bytea NOT NULL,
		doc bytea NOT NULL
	);
	CREATE TABLE sustain_meta (key text PRIMARY KEY, value bigint NOT NULL)`,
}

// SchemaVersion is the schema version this binary writes.
var SchemaVersion = len(migrations)

// migrationLock is the advisory lock key that serialises migrations.
const migrationLock = 0x6b697a756e61 // "kizuna"

// migrate brings the database (the connection's search_path schema) up to
// SchemaVersion, one step per transaction.
func migrate(ctx context.Context, conn *pgx.Conn) error {
	for {
		done, err := migrateStep(ctx, conn)
		if err != nil || done {
			return err
		}
	}
}

func migrateStep(ctx context.Context, conn *pgx.Conn) (done bool, err error) {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("migrating schema: %w", err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrationLock)); err != nil {
		return false, fmt.Errorf("locking schema: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS kizuna_schema (version integer NOT NULL)`); err != nil {
		return false, fmt.Errorf("migrating schema: %w", err)
	}
	var v int
	err = tx.QueryRow(ctx, `SELECT version FROM kizuna_schema`).Scan(&v)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		if _, err := tx.Exec(ctx, `INSERT INTO kizuna_schema (version) VALUES (0)`); err != nil {
			return false, fmt.Errorf("initialising schema version: %w", err)
		}
	case err != nil:
		return false, fmt.Errorf("reading schema version: %w", err)
	}
	if v == len(migrations) {
		return true, nil
	}
	if v > len(migrations) || v < 0 {
		return false, fmt.Errorf("%w: version %d, this binary knows %d", ErrSchemaTooNew, v, len(migrations))
	}
	if _, err := tx.Exec(ctx, migrations[v]); err != nil {
		return false, fmt.Errorf("migrating schema to version %d: %w", v+1, err)
	}
	if _, err := tx.Exec(ctx, `UPDATE kizuna_schema SET version = $1`, v+1); err != nil {
		return false, fmt.Errorf("setting schema version %d: %w", v+1, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return false, fmt.Errorf("committing schema version %d: %w", v+1, err)
	}
	return false, nil
}
