// Package pgstore is Kizuna's PostgreSQL storage backend (store.Backend)
// for cluster mode: several instances of one node share the live picture,
// history and uid ownership in one database through pgx.
//
// Like the embedded SQLite store it is write-behind: Put and Delete only
// queue the change in memory, and the flusher started by Run writes the
// pending set every FlushInterval in one transaction (upserts coalesced by
// uid, history rows by COPY). Claim is the exception: it is one atomic
// INSERT … ON CONFLICT DO NOTHING round trip, so that two instances can
// never both own a uid. When the server is unreachable, flushes fail and
// their rows are queued again (history bounded by MaxPending, dropped rows
// counted); Ping reports store.ErrUnavailable so that the node can refuse
// new work. The schema is versioned and migrated at Open (schema.go).
package pgstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"kizuna/internal/label"
	"kizuna/internal/store"
)

// Config configures a Store.
type Config struct {
	// URL is the PostgreSQL connection string (postgres://user@host/db?…);
	// a search_path parameter selects the schema.
	URL string
	// FlushInterval, HistoryRetention and MaxPending mean what they mean
	// for the SQLite store; zero takes its defaults.
	FlushInterval    time.Duration
	HistoryRetention time.Duration
	MaxPending       int
	// MaxConns bounds the connection pool (default 16: uid claims run
	// concurrently with flushes).
	MaxConns int32
	Log      *slog.Logger
}

type op struct {
	obj   store.Object
	del   bool
	owner string
}

// Store is the PostgreSQL backend. Its methods are safe for concurrent use.
type Store struct {
	cfg  Config
	log  *slog.Logger
	pool *pgxpool.Pool

	mu      sync.Mutex
	ops     map[string]op
	hist    []store.Object
	closed  bool
	dropped uint64

	flushMu sync.Mutex

	counters store.FlushCounters

	loop *store.FlushLoop

	closeOnce sync.Once
	closeErr  error
}

var _ store.Backend = (*Store)(nil)

// Open connects, migrates the schema and returns the store.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.URL == "" {
		return nil, fmt.Errorf("opening postgres store: %w: no URL", store.ErrConfig)
	}
	if cfg.FlushInterval == 0 {
		cfg.FlushInterval = store.DefaultFlushInterval
	}
	if cfg.FlushInterval < 0 || cfg.FlushInterval > store.MaxFlushInterval {
		return nil, fmt.Errorf("opening postgres store: %w: flush interval %v outside (0, %v]", store.ErrConfig, cfg.FlushInterval, store.MaxFlushInterval)
	}
	if cfg.HistoryRetention < 0 {
		return nil, fmt.Errorf("opening postgres store: %w: negative history retention", store.ErrConfig)
	}
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = store.DefaultMaxPending
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = 16
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	pc, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("opening postgres store: %w: %w", store.ErrConfig, err)
	}
	pc.MaxConns = cfg.MaxConns
	pc.ConnConfig.ConnectTimeout = 5 * time.Second
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("opening postgres store: %w", err)
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("opening postgres store: %w: %w", store.ErrUnavailable, err)
	}
	err = migrate(ctx, conn.Conn())
	conn.Release()
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("opening postgres store: %w", err)
	}
	s := &Store{
		cfg: cfg, log: log.With("component", "pgstore"), pool: pool,
		ops: make(map[string]op),
	}
	s.loop = &store.FlushLoop{
		Interval: cfg.FlushInterval, Retention: cfg.HistoryRetention,
		Flush: s.Flush, Final: s.finalFlush, Failures: s.counters.Failures, Log: s.log,
		Prune: func(ctx context.Context, now time.Time) (bool, error) { return false, s.prune(ctx, now) },
	}
	return s, nil
}

// Pool returns the connection pool, for other cluster components that
// keep their state in the same database.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Put implements store.Backend.
func (s *Store) Put(o store.Object) {
	if o.UID == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		s.dropped++
		return
	}
	owner := o.Owner
	if prev, ok := s.ops[o.UID]; ok && prev.owner != "" {
		owner = prev.owner
	}
	s.ops[o.UID] = op{obj: o, owner: owner}
	if !o.NoHistory {
		if len(s.hist) >= s.cfg.MaxPending {
			s.hist = s.hist[1:]
			s.dropped++
		}
		s.hist = append(s.hist, o)
	}
}

// Delete implements store.Backend.
func (s *Store) Delete(uid string) {
	if uid == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.ops[uid] = op{obj: store.Object{UID: uid}, del: true, owner: s.ops[uid].owner}
	}
}

// Claim implements store.Backend: one statement, atomic under concurrent
// claims from any number of instances (the primary key decides).
func (s *Store) Claim(ctx context.Context, uid, owner string) (string, error) {
	if uid == "" || owner == "" {
		return "", fmt.Errorf("claiming %q: %w: empty uid or owner", uid, store.ErrConfig)
	}
	var got string
	err := s.pool.QueryRow(ctx, `WITH ins AS (
			INSERT INTO owners (uid, owner, first_seen) VALUES ($1, $2, $3)
			ON CONFLICT (uid) DO NOTHING RETURNING owner)
		SELECT owner FROM ins UNION ALL SELECT owner FROM owners WHERE uid = $1 LIMIT 1`,
		uid, owner, time.Now().UnixNano()).Scan(&got)
	if errors.Is(err, pgx.ErrNoRows) {
		// The conflicting row was inserted by a transaction that committed
		// after this statement's snapshot: read it now.
		err = s.pool.QueryRow(ctx, `SELECT owner FROM owners WHERE uid = $1`, uid).Scan(&got)
	}
	if err != nil {
		return "", fmt.Errorf("claiming %q: %w", uid, unavailable(err))
	}
	return got, nil
}

// unavailable marks connection failures with store.ErrUnavailable.
func unavailable(err error) error {
	if err == nil || errors.Is(err, context.Canceled) {
		return err
	}
	var pgErr interface{ SQLState() string }
	if errors.As(err, &pgErr) {
		return err // the server answered
	}
	return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
}

// Ping implements store.Backend.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	return nil
}

// Stats implements store.Backend.
func (s *Store) Stats() store.Stats {
	s.mu.Lock()
	st := store.Stats{PendingObjects: len(s.ops), PendingHistory: len(s.hist), DroppedHistory: s.dropped}
	s.mu.Unlock()
	s.counters.Fill(&st)
	return st
}

// Run implements store.Backend.
func (s *Store) Run(ctx context.Context) error { return s.loop.Run(ctx) }

func (s *Store) finalFlush() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Flush(ctx); err != nil {
		return fmt.Errorf("final flush: %w", err)
	}
	return nil
}

// Flush implements store.Backend.
func (s *Store) Flush(ctx context.Context) error {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	s.mu.Lock()
	if len(s.ops) == 0 && len(s.hist) == 0 {
		s.mu.Unlock()
		return nil
	}
	ops, hist := s.ops, s.hist
	s.ops, s.hist = make(map[string]op, len(ops)), nil
	s.mu.Unlock()

	rows := len(ops) + len(hist)
	s.counters.Begin(rows)
	start := time.Now()
	err := s.write(ctx, ops, hist, start)
	if err != nil {
		s.counters.Failed()
		s.requeue(ops, hist)
		return fmt.Errorf("flushing %d objects and %d history rows: %w", len(ops), len(hist), unavailable(err))
	}
	s.counters.Done(len(ops), len(hist), time.Since(start))
	return nil
}

func (s *Store) requeue(ops map[string]op, hist []store.Object) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for uid, o := range ops {
		if newer, ok := s.ops[uid]; ok {
			if o.owner != "" {
				newer.owner = o.owner
				s.ops[uid] = newer
			}
			continue
		}
		s.ops[uid] = o
	}
	all := append(hist, s.hist...)
	if over := len(all) - s.cfg.MaxPending; over > 0 {
		all = all[over:]
		s.dropped += uint64(over)
	}
	s.hist = all
}

const objectCols = `uid, type, owner, classification, releasable_to, caveat, originator, time, stale, lat, lon, hae, callsign, xml`

var histColumns = []string{"uid", "type", "owner", "classification", "releasable_to", "caveat", "originator", "time", "stale", "lat", "lon", "hae", "callsign", "xml", "recorded"}

func blob(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

func (s *Store) write(ctx context.Context, ops map[string]op, hist []store.Object, now time.Time) error {
	stamp := now.UnixNano()
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("beginning transaction: %w", err)
	}
	defer tx.Rollback(ctx)
	b := &pgx.Batch{}
	for uid, o := range ops {
		if o.owner != "" {
			b.Queue(`INSERT INTO owners (uid, owner, first_seen) VALUES ($1, $2, $3) ON CONFLICT (uid) DO NOTHING`, uid, o.owner, stamp)
		}
		if o.del {
			b.Queue(`DELETE FROM objects WHERE uid = $1`, uid)
			continue
		}
		x := &o.obj
		b.Queue(`INSERT INTO objects (`+objectCols+`, updated)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
			ON CONFLICT (uid) DO UPDATE SET
				type = excluded.type, owner = excluded.owner,
				classification = excluded.classification, releasable_to = excluded.releasable_to,
				caveat = excluded.caveat, originator = excluded.originator,
				time = excluded.time, stale = excluded.stale,
				lat = excluded.lat, lon = excluded.lon, hae = excluded.hae,
				callsign = excluded.callsign, xml = excluded.xml, updated = excluded.updated`,
			uid, x.Type, x.Owner, store.ClassLevel(x.Label.Classification), x.Label.ReleasableString(),
			x.Label.Caveat, x.Label.Originator, store.UnixNano(x.Time), store.UnixNano(x.Stale),
			x.Lat, x.Lon, x.HAE, x.Callsign, blob(x.XML), stamp)
	}
	if b.Len() > 0 {
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return fmt.Errorf("writing objects: %w", err)
		}
	}
	if len(hist) > 0 {
		i := 0
		src := pgx.CopyFromFunc(func() ([]any, error) {
			if i == len(hist) {
				return nil, nil
			}
			x := &hist[i]
			i++
			return []any{x.UID, x.Type, x.Owner, store.ClassLevel(x.Label.Classification), x.Label.ReleasableString(),
				x.Label.Caveat, x.Label.Originator, store.UnixNano(x.Time), store.UnixNano(x.Stale),
				x.Lat, x.Lon, x.HAE, x.Callsign, blob(x.XML), stamp}, nil
		})
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"history"}, histColumns, src); err != nil {
			return fmt.Errorf("writing history: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("committing: %w", err)
	}
	return nil
}

func (s *Store) prune(ctx context.Context, now time.Time) error {
	cutoff := now.Add(-s.cfg.HistoryRetention).UnixNano()
	tag, err := s.pool.Exec(ctx, `DELETE FROM history WHERE id IN (SELECT id FROM history WHERE recorded < $1 ORDER BY recorded LIMIT 5000)`, cutoff)
	if err != nil {
		return fmt.Errorf("pruning history: %w", err)
	}
	s.counters.Pruned(uint64(tag.RowsAffected()))
	tag, err = s.pool.Exec(ctx, `DELETE FROM objects WHERE stale <> 0 AND stale < $1`, cutoff)
	if err != nil {
		return fmt.Errorf("pruning stale objects: %w", err)
	}
	s.counters.Pruned(uint64(tag.RowsAffected()))
	return nil
}

// Close implements store.Backend.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.loop.Stop()
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		s.closeErr = s.finalFlush()
		s.pool.Close()
	})
	return s.closeErr
}

// Objects implements store.Backend.
func (s *Store) Objects(ctx context.Context) ([]store.Object, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+objectCols+` FROM objects ORDER BY uid`)
	if err != nil {
		return nil, fmt.Errorf("listing objects: %w", unavailable(err))
	}
	out, err := scanObjects(rows)
	if err != nil {
		return nil, fmt.Errorf("listing objects: %w", err)
	}
	return out, nil
}

// Owners implements store.Backend.
func (s *Store) Owners(ctx context.Context) (map[string]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT uid, owner FROM owners`)
	if err != nil {
		return nil, fmt.Errorf("listing owners: %w", unavailable(err))
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

// History implements store.Backend.
func (s *Store) History(ctx context.Context, uid string, since time.Time, limit int) ([]store.Object, error) {
	var lim any
	if limit > 0 {
		lim = limit
	}
	rows, err := s.pool.Query(ctx, `SELECT `+objectCols+` FROM history
		WHERE uid = $1 AND time >= $2 ORDER BY time, id LIMIT $3`, uid, store.UnixNano(since), lim)
	if err != nil {
		return nil, fmt.Errorf("reading history of %q: %w", uid, unavailable(err))
	}
	out, err := scanObjects(rows)
	if err != nil {
		return nil, fmt.Errorf("reading history of %q: %w", uid, err)
	}
	return out, nil
}

// ExportHistory implements store.Backend: SQL narrows by the label
// columns, label.Releasable decides every row.
func (s *Store) ExportHistory(ctx context.Context, p label.Principal, since, until time.Time, fn func(store.Object) error) error {
	return s.exportHistory(ctx, objectCols, p, since, until, fn)
}

// positionCols are objectCols with an empty XML: what a replay needs.
const positionCols = `uid, type, owner, classification, releasable_to, caveat, originator, time, stale, lat, lon, hae, callsign, ''::bytea`

// ExportPositions implements store.Backend: ExportHistory without each
// row's XML.
func (s *Store) ExportPositions(ctx context.Context, p label.Principal, since, until time.Time, fn func(store.Object) error) error {
	return s.exportHistory(ctx, positionCols, p, since, until, fn)
}

func (s *Store) exportHistory(ctx context.Context, cols string, p label.Principal, since, until time.Time, fn func(store.Object) error) error {
	if !p.Valid() {
		return nil
	}
	hi := int64(1<<63 - 1)
	if !until.IsZero() {
		hi = store.UnixNano(until)
	}
	rows, err := s.pool.Query(ctx, `SELECT `+cols+` FROM history
		WHERE recorded >= $1 AND recorded < $2
		  AND classification BETWEEN 1 AND $3
		  AND (originator = $4 OR $4 = ANY (string_to_array(releasable_to, ' ')))
		ORDER BY recorded, id`,
		store.UnixNano(since), hi, store.ClassLevel(p.Clearance), p.Nation)
	if err != nil {
		return fmt.Errorf("exporting history for %s: %w", p, unavailable(err))
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
	return rows.Err()
}

func scanObjects(rows pgx.Rows) ([]store.Object, error) {
	defer rows.Close()
	var out []store.Object
	for rows.Next() {
		o, err := scanObject(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

func scanObject(rows pgx.Rows) (store.Object, error) {
	var (
		o         store.Object
		class     int16
		rel       string
		tm, stale int64
	)
	if err := rows.Scan(&o.UID, &o.Type, &o.Owner, &class, &rel, &o.Label.Caveat, &o.Label.Originator,
		&tm, &stale, &o.Lat, &o.Lon, &o.HAE, &o.Callsign, &o.XML); err != nil {
		return store.Object{}, err
	}
	o.Label.Classification = store.ClassFromLevel(int64(class))
	if rel != "" {
		o.Label.ReleasableTo = strings.Split(rel, " ")
	}
	o.Time = store.FromUnixNano(tm)
	o.Stale = store.FromUnixNano(stale)
	return o, nil
}
