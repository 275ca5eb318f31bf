package command

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"kizuna/internal/store"
)

// db persists units, grants and orders as JSON documents in SQLite. Every
// write is one transaction, committed (synchronous=FULL) before it returns.
type db struct {
	sql *sql.DB
	// pg: the database is the cluster's PostgreSQL, shared (shared.go).
	pg bool
}

const schema = `
CREATE TABLE IF NOT EXISTS command_units (
	id  TEXT PRIMARY KEY NOT NULL,
	doc BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS command_grants (
	id  TEXT PRIMARY KEY NOT NULL,
	seq INTEGER NOT NULL,
	doc BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS command_orders (
	id      TEXT PRIMARY KEY NOT NULL,
	created INTEGER NOT NULL,
	doc     BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS command_meta (
	key   TEXT PRIMARY KEY NOT NULL,
	value TEXT NOT NULL
);
`

func openDB(path string) (*db, error) {
	s, err := store.OpenSQLite(path)
	if err != nil {
		return nil, err
	}
	if _, err := s.Exec(schema); err != nil {
		s.Close()
		return nil, fmt.Errorf("creating command tables in %s: %w", path, err)
	}
	return &db{sql: s}, nil
}

func (d *db) close() error {
	if d.pg {
		return nil // the node's
	}
	return d.sql.Close()
}

// loaded is what load returns.
type loaded struct {
	units  []*Unit
	grants []*Grant
	orders []*Order
	meta   map[string]string
}

func (d *db) load(ctx context.Context) (*loaded, error) {
	var l loaded
	l.meta = map[string]string{}
	if err := scanDocs(ctx, d, `SELECT doc FROM command_units ORDER BY id`, func(b []byte) error {
		var u Unit
		if err := json.Unmarshal(b, &u); err != nil {
			return err
		}
		l.units = append(l.units, &u)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("loading units: %w", err)
	}
	if err := scanDocs(ctx, d, `SELECT doc FROM command_grants ORDER BY seq`, func(b []byte) error {
		var g Grant
		if err := json.Unmarshal(b, &g); err != nil {
			return err
		}
		l.grants = append(l.grants, &g)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("loading grants: %w", err)
	}
	if err := scanDocs(ctx, d, `SELECT doc FROM command_orders ORDER BY created, id`, func(b []byte) error {
		var o Order
		if err := json.Unmarshal(b, &o); err != nil {
			return err
		}
		o.Rev = max(o.Rev, 1) // stored before orders had revisions
		l.orders = append(l.orders, &o)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("loading orders: %w", err)
	}
	rows, err := d.sql.QueryContext(ctx, `SELECT key, value FROM command_meta`)
	if err != nil {
		return nil, fmt.Errorf("loading meta: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, fmt.Errorf("loading meta: %w", err)
		}
		l.meta[k] = v
	}
	return &l, rows.Err()
}

func scanDocs(ctx context.Context, d *db, query string, f func([]byte) error) error {
	rows, err := d.sql.QueryContext(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return err
		}
		if err := f(b); err != nil {
			return err
		}
	}
	return rows.Err()
}

// write is one transaction of document writes.
type write struct {
	units       []*Unit
	deleteUnits []string
	grants      []*Grant
	orders      []*Order
	meta        map[string]string
}

func (d *db) commit(ctx context.Context, w write, grantSeq func(*Grant) int64) error {
	tx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	err = func() error {
		for _, u := range w.units {
			b, err := json.Marshal(u)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, d.q(`INSERT INTO command_units(id, doc) VALUES(?, ?) ON CONFLICT(id) DO UPDATE SET doc=excluded.doc`), u.ID, b); err != nil {
				return err
			}
		}
		for _, id := range w.deleteUnits {
			if _, err := tx.ExecContext(ctx, d.q(`DELETE FROM command_units WHERE id=?`), id); err != nil {
				return err
			}
		}
		for _, g := range w.grants {
			b, err := json.Marshal(g)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, d.q(`INSERT INTO command_grants(id, seq, doc) VALUES(?, ?, ?) ON CONFLICT(id) DO UPDATE SET doc=excluded.doc`), g.ID, grantSeq(g), b); err != nil {
				return err
			}
		}
		for _, o := range w.orders {
			if d.pg {
				if err := checkRev(ctx, tx, o); err != nil {
					return err
				}
			}
			next := *o
			next.Rev++
			b, err := json.Marshal(&next)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, d.q(`INSERT INTO command_orders(id, created, doc) VALUES(?, ?, ?) ON CONFLICT(id) DO UPDATE SET doc=excluded.doc`), o.ID, o.Created.UnixNano(), b); err != nil {
				return err
			}
		}
		for k, v := range w.meta {
			if _, err := tx.ExecContext(ctx, d.q(`INSERT INTO command_meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value`), k, v); err != nil {
				return err
			}
		}
		return nil
	}()
	if err != nil {
		return errors.Join(fmt.Errorf("writing command state: %w", err), tx.Rollback())
	}
	if d.pg {
		if err := bumpVersion(ctx, tx); err != nil {
			return errors.Join(fmt.Errorf("writing command state: %w", err), tx.Rollback())
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("committing command state: %w", err)
	}
	for _, o := range w.orders {
		o.Rev++
	}
	return nil
}
