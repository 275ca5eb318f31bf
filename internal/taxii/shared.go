package taxii

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"

	"kizuna/internal/label"
	"kizuna/internal/stix"
)

// The TAXII store in cluster mode. The instances of one node share the
// cluster's PostgreSQL (tables taxii_*, created by package pgstore's
// migrations) instead of each keeping a SQLite file, so that an object
// posted through one instance is listed by every other, under the same
// label filter.
//
// What two instances could race on is decided by the database:
//   - every write transaction (a group commit, a deletion) first locks the
//     one row of taxii_clock, so writes are serialised across the cluster
//     as SQLite serialises them in one file: the versions a poster's
//     namespace holds, the superseded flags and date_added are read and
//     written by one transaction at a time;
//   - date_added continues from the clock row (the largest given by any
//     instance), so it stays unique (a unique index) and grows in commit
//     order: a client paging with added_after on any instance neither
//     skips nor repeats an object;
//   - the same version posted on two instances at once is stored once
//     (the unique key (coll, orig, cls, id, nver)); the second poster,
//     which waited for the lock, finds it stored and is told "already
//     present";
//   - versions are inserted in multi-row statements when each job of a
//     group commit ends (flush), not one round trip per row;
//   - a deletion reports only the rows its own DELETE removed, and counts
//     itself in the clock row (deletions), so that other instances learn
//     that their in-memory views must be rebuilt.

// rebind rewrites the ? placeholders of a query for PostgreSQL. The
// queries of this package hold no ? inside literals.
func (d *db) rebind(q string) string {
	if !d.pg {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// pendingRow is a version a PostgreSQL writer inserts when its job ends.
type pendingRow struct {
	r         *record
	sup       int
	supersede bool // mark the earlier versions superseded once inserted
}

// maxParams stays under PostgreSQL's 65,535 parameters per statement.
const maxParams = 60000

// flush (PostgreSQL) inserts the pending versions in multi-row
// statements (a few round trips per thousand objects rather than three
// per object), then their visibility rows, then marks what they
// supersede. It runs under the clock lock, after the job read the
// versions already stored, so the unique key (coll, orig, cls, id, nver)
// is never hit but by a bug; it would fail the job, not store twice.
func (w *writer) flush(ctx context.Context) error {
	rows := w.pending
	w.pending = nil
	if len(rows) == 0 {
		return nil
	}
	const cols = 13
	seqOf := make(map[int64]int64, len(rows)) // date_added (unique) → seq
	for start := 0; start < len(rows); start += maxParams / cols {
		part := rows[start:min(start+maxParams/cols, len(rows))]
		var sb strings.Builder
		args := make([]any, 0, len(part)*cols)
		sb.WriteString(`INSERT INTO taxii_objects (coll, id, type, spec, version, nver, added, cls, orig, rel, caveat, body, superseded) VALUES `)
		for i, p := range part {
			if i > 0 {
				sb.WriteByte(',')
			}
			sb.WriteString("(?,?,?,?,?,?,?,?,?,?,?,?,?)")
			r := p.r
			args = append(args, r.coll, r.id, r.typ, r.spec, r.version, r.nver, r.added, int(r.lbl.Classification), r.lbl.Originator, relColumn(r.lbl.ReleasableTo), r.lbl.Caveat, r.body, p.sup)
		}
		sb.WriteString(` RETURNING seq, added`)
		res, err := w.tx.QueryContext(ctx, w.d.rebind(sb.String()), args...)
		if err != nil {
			return fmt.Errorf("taxii: storing %d objects: %w", len(part), err)
		}
		for res.Next() {
			var seq, added int64
			if err := res.Scan(&seq, &added); err != nil {
				res.Close()
				return fmt.Errorf("taxii: storing objects: %w", err)
			}
			seqOf[added] = seq
		}
		res.Close()
		if err := res.Err(); err != nil {
			return fmt.Errorf("taxii: storing objects: %w", err)
		}
	}
	if err := w.flushVis(ctx, rows, seqOf); err != nil {
		return err
	}
	for _, p := range rows {
		if !p.supersede {
			continue
		}
		r := p.r
		if _, err := w.super.ExecContext(ctx, r.coll, r.lbl.Originator, int(r.lbl.Classification), r.id, r.nver); err != nil {
			return fmt.Errorf("taxii: storing %s: %w", r.id, err)
		}
	}
	return nil
}

// flushVis inserts the visibility rows of the versions just inserted.
func (w *writer) flushVis(ctx context.Context, rows []pendingRow, seqOf map[int64]int64) error {
	var sb strings.Builder
	var args []any
	exec := func() error {
		if len(args) == 0 {
			return nil
		}
		_, err := w.tx.ExecContext(ctx, w.d.rebind(sb.String()), args...)
		sb.Reset()
		args = args[:0]
		if err != nil {
			return fmt.Errorf("taxii: storing visibility: %w", err)
		}
		return nil
	}
	for _, p := range rows {
		r := p.r
		seq, ok := seqOf[r.added]
		if !ok {
			return fmt.Errorf("taxii: storing %s: no row returned", r.id)
		}
		for _, nat := range visNations(r.lbl.Originator, r.lbl.ReleasableTo) {
			if len(args)+5 > maxParams {
				if err := exec(); err != nil {
					return err
				}
			}
			if len(args) == 0 {
				sb.WriteString(`INSERT INTO taxii_vis (nation, coll, added, cls, seq) VALUES (?,?,?,?,?)`)
			} else {
				sb.WriteString(",(?,?,?,?,?)")
			}
			args = append(args, nat, r.coll, r.added, int(r.lbl.Classification), seq)
		}
	}
	return exec()
}

// openShared takes the cluster's PostgreSQL, migrated by package pgstore.
func openShared(s *sql.DB) (*db, error) {
	d := &db{sql: s, pg: true}
	if err := s.QueryRow(`SELECT added FROM taxii_clock WHERE id = 1`).Scan(&d.lastAdded); err != nil {
		return nil, fmt.Errorf("taxii: reading the shared store: %w", err)
	}
	return d, nil
}

// lockClock (PostgreSQL) locks the clock row for the rest of tx, which
// serialises the cluster's TAXII writes, and moves this instance's
// date_added past every one given so far.
func (d *db) lockClock(ctx context.Context, tx *sql.Tx) error {
	if !d.pg {
		return nil
	}
	var added int64
	if err := tx.QueryRowContext(ctx, `SELECT added FROM taxii_clock WHERE id = 1 FOR UPDATE`).Scan(&added); err != nil {
		return fmt.Errorf("taxii: locking the shared store: %w", err)
	}
	d.mu.Lock()
	d.lastAdded = max(d.lastAdded, added)
	d.mu.Unlock()
	return nil
}

// saveClock (PostgreSQL) records the last date_added given, in tx.
func (d *db) saveClock(ctx context.Context, tx *sql.Tx) error {
	if !d.pg {
		return nil
	}
	d.mu.Lock()
	last := d.lastAdded
	d.mu.Unlock()
	if _, err := tx.ExecContext(ctx, `UPDATE taxii_clock SET added = $1 WHERE id = 1 AND added < $1`, last); err != nil {
		return fmt.Errorf("taxii: advancing the shared clock: %w", err)
	}
	return nil
}

// countDeletion (PostgreSQL) counts a deletion of n versions in the clock
// row, for other instances' in-memory views.
func (d *db) countDeletion(ctx context.Context, tx *sql.Tx, n int) error {
	if !d.pg || n == 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE taxii_clock SET deletions = deletions + 1 WHERE id = 1`); err != nil {
		return fmt.Errorf("taxii: counting a deletion: %w", err)
	}
	return nil
}

// Clock is where the shared store stands: the last date_added given
// (Unix microseconds) and how many deletions were committed. Both only
// grow. An instance that saw a Clock has seen every version added up to
// Added once it has replayed them (ReplayAfter).
type Clock struct {
	Added     int64
	Deletions int64
}

// Shared reports whether the store is the cluster's shared PostgreSQL.
func (s *Server) Shared() bool {
	d, err := s.store()
	return err == nil && d.pg
}

// Clock reads the shared store's clock (the zero Clock for a SQLite
// store, which only this process writes).
func (s *Server) Clock(ctx context.Context) (Clock, error) {
	d, err := s.store()
	if err != nil || !d.pg {
		return Clock{}, err
	}
	var c Clock
	if err := d.sql.QueryRowContext(ctx, `SELECT added, deletions FROM taxii_clock WHERE id = 1`).Scan(&c.Added, &c.Deletions); err != nil {
		return Clock{}, fmt.Errorf("taxii: reading the shared clock: %w", err)
	}
	return c, nil
}

// ReplayAfter is Replay for the versions added after after (a
// Clock.Added), oldest first: what other instances stored since.
func (s *Server) ReplayAfter(ctx context.Context, types []string, after int64, f func(coll string, o *stix.Object, l label.Label)) error {
	d, err := s.store()
	if err != nil {
		return err
	}
	return d.each(ctx, types, after, func(coll string, r record) {
		if o, err := stix.Validate(r.body); err == nil {
			f(coll, o, r.lbl)
		}
	})
}
