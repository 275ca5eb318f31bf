package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"kizuna/internal/label"
)

// Objects returns every live object that has been flushed, ordered by uid.
// Stale objects are included until the hub deletes them or retention prunes
// them; callers filter by time and by label.Releasable.
func (s *Store) Objects(ctx context.Context) ([]Object, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+objectCols+` FROM objects ORDER BY uid`)
	if err != nil {
		return nil, fmt.Errorf("listing objects: %w", err)
	}
	out, err := scanObjects(rows)
	if err != nil {
		return nil, fmt.Errorf("listing objects: %w", err)
	}
	return out, nil
}

// Owners returns the owner nation of every uid ever flushed, including uids
// whose object went stale or was deleted.
func (s *Store) Owners(ctx context.Context) (map[string]string, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT uid, owner FROM owners`)
	if err != nil {
		return nil, fmt.Errorf("listing owners: %w", err)
	}
	defer rows.Close()
	out := make(map[string]string)
	for rows.Next() {
		var uid, owner string
		if err := rows.Scan(&uid, &owner); err != nil {
			return nil, fmt.Errorf("listing owners: %w", err)
		}
		out[uid] = owner
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing owners: %w", err)
	}
	return out, nil
}

// History returns the flushed history rows of uid whose event time is at or
// after since, oldest first, at most limit of them (limit <= 0: all). To
// page, call again with since set to the last row's Time and skip rows
// already seen.
func (s *Store) History(ctx context.Context, uid string, since time.Time, limit int) ([]Object, error) {
	if limit <= 0 {
		limit = -1
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+objectCols+` FROM history
		WHERE uid = ? AND time >= ? ORDER BY time, id LIMIT ?`, uid, unixNano(since), limit)
	if err != nil {
		return nil, fmt.Errorf("reading history of %q: %w", uid, err)
	}
	out, err := scanObjects(rows)
	if err != nil {
		return nil, fmt.Errorf("reading history of %q: %w", uid, err)
	}
	return out, nil
}

func scanObjects(rows *sql.Rows) ([]Object, error) {
	defer rows.Close()
	var out []Object
	for rows.Next() {
		o, err := scanObject(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// scanObject reads one row selected with objectCols.
func scanObject(rows *sql.Rows) (Object, error) {
	var (
		o         Object
		class     int64
		rel       string
		tm, stale int64
		xml       []byte
	)
	if err := rows.Scan(&o.UID, &o.Type, &o.Owner, &class, &rel, &o.Label.Caveat, &o.Label.Originator,
		&tm, &stale, &o.Lat, &o.Lon, &o.HAE, &o.Callsign, &xml); err != nil {
		return Object{}, err
	}
	o.Label.Classification = classFromLevel(class)
	if rel != "" {
		o.Label.ReleasableTo = strings.Split(rel, " ")
	}
	o.Time = fromUnixNano(tm)
	o.Stale = fromUnixNano(stale)
	o.XML = xml
	return o, nil
}

// classLevel maps a classification to its stored level. The mapping is part
// of the schema, independent of the Go constants' values.
func classLevel(c label.Classification) int64 { return int64(c.Level()) }

func classFromLevel(l int64) label.Classification {
	switch l {
	case 1:
		return label.Unclassified
	case 2:
		return label.Confidential
	case 3:
		return label.Secret
	case 4:
		return label.TopSecret
	}
	return label.Invalid
}

// unixNano stores the zero time as 0; other times as Unix nanoseconds,
// clamped to what int64 nanoseconds can hold.
func unixNano(t time.Time) int64 {
	switch {
	case t.IsZero():
		return 0
	case t.Before(minTime):
		return minTime.UnixNano()
	case t.After(maxTime):
		return maxTime.UnixNano()
	}
	return t.UnixNano()
}

var (
	minTime = time.Unix(0, -1<<63+1)
	maxTime = time.Unix(0, 1<<63-1)
)

func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// blob keeps a nil XML from becoming SQL NULL in a NOT NULL column.
func blob(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// ExportHistory passes to fn, oldest first, every flushed history row
// stored in [since, until) (by when the row was written; a zero until means
// no upper bound) that principal p may receive. The label columns narrow
// the rows in SQL; label.Releasable, the one policy function, still decides
// each row before fn sees it. An error from fn stops the export and is
// returned.
func (s *Store) ExportHistory(ctx context.Context, p label.Principal, since, until time.Time, fn func(Object) error) error {
	return s.exportHistory(ctx, objectCols, p, since, until, fn)
}

// positionCols are objectCols with an empty XML: what a replay needs.
const positionCols = `uid, type, owner, classification, releasable_to, caveat, originator, time, stale, lat, lon, hae, callsign, X''`

// ExportPositions is ExportHistory without each row's XML (Object.XML is
// empty): the positions, labels and callsigns a replay draws, read at a
// fraction of the cost.
func (s *Store) ExportPositions(ctx context.Context, p label.Principal, since, until time.Time, fn func(Object) error) error {
	return s.exportHistory(ctx, positionCols, p, since, until, fn)
}

func (s *Store) exportHistory(ctx context.Context, cols string, p label.Principal, since, until time.Time, fn func(Object) error) error {
	if !p.Valid() {
		return nil // Releasable would deny every row
	}
	hi := int64(1<<63 - 1)
	if !until.IsZero() {
		hi = unixNano(until)
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+cols+` FROM history
		WHERE recorded >= ? AND recorded < ?
		  AND classification BETWEEN 1 AND ?
		  AND (originator = ? OR instr(' ' || releasable_to || ' ', ' ' || ? || ' ') > 0)
		ORDER BY recorded, id`,
		unixNano(since), hi, classLevel(p.Clearance), p.Nation, p.Nation)
	if err != nil {
		return fmt.Errorf("exporting history for %s: %w", p, err)
	}
	defer rows.Close()
	for rows.Next() {
		o, err := scanObject(rows)
		if err != nil {
			return fmt.Errorf("exporting history for %s: %w", p, err)
		}
		if !label.Releasable(p, o.Label) {
			continue
		}
		if err := fn(o); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("exporting history for %s: %w", p, err)
	}
	return nil
}
