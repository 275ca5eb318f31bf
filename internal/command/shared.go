package command

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"kizuna/internal/sqlbind"
	"strconv"
)

// The chain of command in cluster mode. Units, grants, orders and the
// nation-pair policies live in the cluster's PostgreSQL (tables of the
// same names, created by package pgstore's migrations) instead of a
// SQLite file, and every instance keeps the whole state in memory as in
// single-process mode. Each commit also increments command_meta's
// "version" in the same transaction; an instance that sees the version
// move (Version, polled by the node) reloads the state (Reload), so that
// an order issued on one instance is acknowledged, reported on or
// cancelled on another, and each instance's order stream shows the
// changes the reload brought (Reload). Two instances changing the same
// order at the same moment: each change is made from the revision the
// instance had (Order.Rev), and its commit checks under the row's lock
// that the stored order is still at that revision; the later one fails
// with ErrConflict (HTTP 409) instead of overwriting the other, and its
// instance reloads.

// openStore opens the SQLite file, or takes the shared PostgreSQL.
func openStore(cfg Config) (*db, error) {
	if cfg.Shared != nil {
		return &db{sql: cfg.Shared, pg: true}, nil
	}
	return openDB(cfg.DBPath)
}

// q rewrites a query's ? placeholders for PostgreSQL.
func (d *db) q(query string) string {
	if !d.pg {
		return query
	}
	return sqlbind.Dollar(query)
}

// checkRev locks an order's row in tx and fails with ErrConflict unless
// the stored order is at the revision o was made from (none for a new
// order).
func checkRev(ctx context.Context, tx *sql.Tx, o *Order) error {
	var doc []byte
	err := tx.QueryRowContext(ctx, `SELECT doc FROM command_orders WHERE id = $1 FOR UPDATE`, o.ID).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		if o.Rev == 0 {
			return nil
		}
		return fmt.Errorf("%w: order %s is no longer stored", ErrConflict, o.ID)
	}
	if err != nil {
		return fmt.Errorf("reading order %s: %w", o.ID, err)
	}
	if o.Rev == 0 {
		return fmt.Errorf("%w: order %s exists already", ErrConflict, o.ID)
	}
	var stored struct {
		Rev int64 `json:"rev"`
	}
	if err := json.Unmarshal(doc, &stored); err != nil {
		return fmt.Errorf("reading order %s: %w", o.ID, err)
	}
	if max(stored.Rev, 1) != o.Rev { // stored before orders had revisions: 1
		return fmt.Errorf("%w: order %s was changed on another instance (revision %d, this change was made from %d); reload it and try again", ErrConflict, o.ID, stored.Rev, o.Rev)
	}
	return nil
}

// bumpVersion increments the shared state's version in tx.
func bumpVersion(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO command_meta (key, value) VALUES ('version', '1')
		ON CONFLICT (key) DO UPDATE SET value = (command_meta.value::bigint + 1)::text`)
	return err
}

// Version returns the shared state's version (0 outside cluster mode).
func (s *Service) Version(ctx context.Context) (int64, error) {
	if !s.db.pg {
		return 0, nil
	}
	var v string
	err := s.db.sql.QueryRowContext(ctx, `SELECT value FROM command_meta WHERE key = 'version'`).Scan(&v)
	if err == sql.ErrNoRows {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("reading command state version: %w", err)
	}
	return strconv.ParseInt(v, 10, 64)
}

// Reload replaces the in-memory state with the shared store's (cluster
// mode: after another instance committed) and tells the order streams of
// every order that is new or changed.
func (s *Service) Reload(ctx context.Context) error {
	// Read under the lock every write commits under: a snapshot read
	// beside this instance's own commit could otherwise replace the newer
	// state in memory with the older one (and its next change would then
	// be refused as made from a stale revision).
	s.mu.Lock()
	defer s.mu.Unlock()
	l, err := s.db.load(ctx)
	if err != nil {
		return fmt.Errorf("reloading command state: %w", err)
	}
	var policies []PairPolicy
	if raw := l.meta["policies"]; raw != "" {
		if err := json.Unmarshal([]byte(raw), &policies); err != nil {
			return fmt.Errorf("reloading nation-pair policies: %w", err)
		}
	}
	s.units = map[string]*Unit{}
	for _, u := range l.units {
		s.units[u.ID] = u
	}
	s.grants, s.grantIdx, s.seq = nil, map[string]*Grant{}, 0
	for _, g := range l.grants {
		s.addGrantLocked(g)
	}
	prev := s.orders
	s.orders, s.order, s.messages = map[string]*Order{}, nil, map[string]string{}
	for _, o := range l.orders {
		s.orders[o.ID] = o
		s.order = append(s.order, o.ID)
		for _, dl := range o.Deliveries {
			s.messages[dl.MessageID] = o.ID
		}
		// The order streams show what another instance changed.
		if p := prev[o.ID]; p == nil || p.Rev != o.Rev || !p.Updated.Equal(o.Updated) {
			s.notifyLocked(o.clone())
		}
	}
	s.nations = nationsOf(s.units)
	s.policies = policies
	return nil
}
