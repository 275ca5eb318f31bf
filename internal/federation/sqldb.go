package federation

import (
	"context"
	"database/sql"
	"kizuna/internal/sqlbind"
	"regexp"
	"strings"
	"sync"
)

// fdb is the federation database: the SQLite file of a single node, or
// the PostgreSQL database shared by the instances of a cluster (tables
// fed_meta, fed_peers, fed_outq, fed_certs, fed_seen, created by
// package pgstore's migrations). The queries are written once in SQLite's
// dialect; for PostgreSQL they are rewritten once each (placeholders,
// upserts, table names) and the rewrite is kept.
type fdb struct {
	*sql.DB
	pg bool
}

// ftx is a transaction on an fdb.
type ftx struct {
	*sql.Tx
	pg bool
}

var pgQueries sync.Map // SQLite text -> PostgreSQL text

// pgTable finds the federation tables in a query, renamed with a fed_
// prefix in the shared database, where other components have tables of
// their own.
var pgTable = regexp.MustCompile(`\b(FROM|INTO|UPDATE) (meta|peers|outq|certs|seen)\b`)

// rebind rewrites a query for the database at hand.
func rebind(pg bool, q string) string {
	if !pg {
		return q
	}
	if v, ok := pgQueries.Load(q); ok {
		return v.(string)
	}
	s := q
	suffix := ""
	switch {
	case strings.HasPrefix(s, "INSERT OR REPLACE INTO outq"):
		s = strings.Replace(s, "INSERT OR REPLACE INTO", "INSERT INTO", 1)
		suffix = " ON CONFLICT (peer, lane, seq) DO UPDATE SET uid = excluded.uid, compact = excluded.compact, at = excluded.at, body = excluded.body"
	case strings.HasPrefix(s, "INSERT OR IGNORE INTO"):
		s = strings.Replace(s, "INSERT OR IGNORE INTO", "INSERT INTO", 1)
		suffix = " ON CONFLICT DO NOTHING"
	}
	s = pgTable.ReplaceAllString(s, "$1 fed_$2")
	s = strings.ReplaceAll(s, "compact = 1", "compact")
	out := sqlbind.Dollar(s) + suffix
	pgQueries.Store(q, out)
	return out
}

func (d *fdb) Exec(q string, args ...any) (sql.Result, error) {
	return d.DB.Exec(rebind(d.pg, q), args...)
}

func (d *fdb) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return d.DB.ExecContext(ctx, rebind(d.pg, q), args...)
}

func (d *fdb) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return d.DB.QueryContext(ctx, rebind(d.pg, q), args...)
}

func (d *fdb) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return d.DB.QueryRowContext(ctx, rebind(d.pg, q), args...)
}

func (d *fdb) Begin() (*ftx, error) {
	tx, err := d.DB.Begin()
	if err != nil {
		return nil, err
	}
	return &ftx{Tx: tx, pg: d.pg}, nil
}

func (t *ftx) Exec(q string, args ...any) (sql.Result, error) {
	return t.Tx.Exec(rebind(t.pg, q), args...)
}

func (t *ftx) QueryRow(q string, args ...any) *sql.Row {
	return t.Tx.QueryRow(rebind(t.pg, q), args...)
}

func (t *ftx) Prepare(q string) (*sql.Stmt, error) {
	return t.Tx.Prepare(rebind(t.pg, q))
}
