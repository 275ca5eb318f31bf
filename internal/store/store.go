// Package store owns Kizuna's durable state in SQLite: the live objects of
// the common operational picture, per-uid history, and uid ownership.
//
// The store is write-behind so that it never throttles fan-out. Put and
// Delete only record the change in memory under a short mutex: the latest
// object per uid (coalesced) and one history row per Put. The background
// flusher started by Run swaps that pending set out every FlushInterval and
// writes it to Dir/kizuna.db in one transaction. Everything Put more than
// FlushInterval plus one write before a SIGKILL is therefore on disk; with
// the default 200 ms interval that keeps the promise that events received
// more than one second before a kill survive it.
//
// Pending objects are coalesced by uid and cannot overflow. Pending history
// rows are bounded by MaxPending; beyond it the oldest are dropped and
// counted in Stats. History older than HistoryRetention is deleted in small
// batches between flushes.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"kizuna/internal/label"
)

// FileName is the database file inside Config.Dir.
const FileName = "kizuna.db"

// Defaults and limits of Config.
const (
	DefaultFlushInterval    = 200 * time.Millisecond
	MaxFlushInterval        = 500 * time.Millisecond
	DefaultHistoryRetention = 24 * time.Hour
	DefaultMaxPending       = 100_000
)

// Sentinel errors.
var (
	ErrClosed  = errors.New("store closed")
	ErrRunning = errors.New("store already running")
	ErrConfig  = errors.New("invalid store configuration")
)

// Config configures a Store.
type Config struct {
	// Dir is the data directory; the database file is Dir/kizuna.db. It is
	// created (mode 0700) if missing.
	Dir string
	// FlushInterval is how often pending changes are written; 0 means
	// DefaultFlushInterval. It may not exceed MaxFlushInterval, which
	// leaves half of the one-second durability budget for the write.
	FlushInterval time.Duration
	// HistoryRetention is how long history rows are kept, counted from
	// when they were written. 0 keeps history forever; the serve flag
	// should default to DefaultHistoryRetention. Objects whose stale time
	// is older than the retention are pruned too.
	HistoryRetention time.Duration
	// MaxPending bounds the history rows queued for the next flush; 0
	// means DefaultMaxPending. Beyond it the oldest queued rows are
	// dropped and counted. Objects are coalesced by uid and never dropped.
	MaxPending int
	// Log receives flush and retention errors; nil discards them.
	Log *slog.Logger
}

// Object is one COP object as stored: the live row of its uid, or one row of
// its history.
type Object struct {
	UID      string
	Type     string
	Owner    string // nation that owns the uid
	Label    label.Label
	Time     time.Time
	Stale    time.Time
	Lat      float64
	Lon      float64
	HAE      float64
	Callsign string
	// XML is the event as stored: canonical CoT XML with label and
	// __origin.
	XML []byte
	// NoHistory updates the live object without adding a history row
	// (the caller thins the history of frequent position reports).
	NoHistory bool
}

// Stats are the store's counters, for /metrics.
type Stats struct {
	PendingObjects  int           // uids with a queued put or delete
	PendingHistory  int           // history rows queued for the next flush
	InFlight        int           // rows in the transaction being written now
	Flushes         uint64        // committed flush transactions
	FlushErrors     uint64        // failed flushes (their rows are queued again)
	FlushedObjects  uint64        // object upserts and deletes committed
	FlushedHistory  uint64        // history rows committed
	DroppedHistory  uint64        // history rows dropped because MaxPending was reached
	RetentionPruned uint64        // history rows and stale objects deleted by retention
	FlushTime       time.Duration // total time spent in committed flushes
	LastFlush       time.Duration // duration of the last committed flush
	LastFlushRows   int           // rows written by the last committed flush
}

// op is the pending change of one uid.
type op struct {
	obj   Object
	del   bool
	owner string // first owner seen for the uid in this batch; written to owners
}

// batch is one pending set.
type batch struct {
	ops  map[string]op
	hist ring
}

func (b *batch) empty() bool { return len(b.ops) == 0 && b.hist.n == 0 }

// Store is the embedded SQLite store. Its methods are safe for concurrent
// use.
type Store struct {
	cfg  Config
	log  *slog.Logger
	path string

	wdb *sql.DB // one connection: the flusher, retention, migrations
	rdb *sql.DB // readers
	ins struct {
		upsert, del, owner, hist *sql.Stmt
	}

	mu      sync.Mutex // guards cur, spare, closed and dropped; held only briefly
	cur     batch
	spare   batch
	closed  bool
	dropped uint64

	flushMu sync.Mutex // serialises writes: flushes and retention
	// owned caches uids whose owner row is known to be committed, so that
	// a flush skips their owner insert. Guarded by flushMu.
	owned map[string]struct{}
	// pruneRows is how many rows one retention statement deletes.
	pruneRows int

	counters FlushCounters

	loop *FlushLoop

	closeOnce sync.Once
	closeErr  error
}

// Open opens or creates the store in cfg.Dir and migrates its schema.
func Open(cfg Config) (*Store, error) {
	if cfg.Dir == "" {
		return nil, fmt.Errorf("opening store: %w: no data directory", ErrConfig)
	}
	if cfg.FlushInterval == 0 {
		cfg.FlushInterval = DefaultFlushInterval
	}
	if cfg.FlushInterval < 0 || cfg.FlushInterval > MaxFlushInterval {
		return nil, fmt.Errorf("opening store: %w: flush interval %v outside (0, %v]", ErrConfig, cfg.FlushInterval, MaxFlushInterval)
	}
	if cfg.HistoryRetention < 0 {
		return nil, fmt.Errorf("opening store: %w: negative history retention %v", ErrConfig, cfg.HistoryRetention)
	}
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = DefaultMaxPending
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("opening store: %w", err)
	}
	path := filepath.Join(cfg.Dir, FileName)
	s := &Store{
		cfg:   cfg,
		log:   log.With("component", "store"),
		path:  path,
		cur:   newBatch(),
		spare: newBatch(),
		owned: make(map[string]struct{}),

		pruneRows: retentionBatch,
	}
	s.loop = &FlushLoop{
		Interval: cfg.FlushInterval, Retention: cfg.HistoryRetention,
		Flush: s.Flush, Final: s.finalFlush, Failures: s.counters.Failures, Log: s.log,
		Prune: func(ctx context.Context, now time.Time) (bool, error) {
			return s.prune(ctx, now, cfg.FlushInterval/2)
		},
	}
	var err error
	if s.wdb, err = openSQLite(path, SyncNormal, writerCache); err != nil {
		return nil, fmt.Errorf("opening store: %w", err)
	}
	s.wdb.SetMaxOpenConns(1)
	s.wdb.SetMaxIdleConns(1)
	s.wdb.SetConnMaxIdleTime(0)
	s.wdb.SetConnMaxLifetime(0)
	ctx, cancel := context.WithTimeout(context.Background(), 2*BusyTimeout)
	defer cancel()
	if err := migrate(ctx, s.wdb); err != nil {
		s.wdb.Close()
		return nil, fmt.Errorf("opening store %s: %w", path, err)
	}
	if err := s.prepare(ctx); err != nil {
		s.closeDBs()
		return nil, fmt.Errorf("opening store %s: %w", path, err)
	}
	if s.rdb, err = OpenSQLiteSync(path, SyncNormal); err != nil {
		s.closeDBs()
		return nil, fmt.Errorf("opening store: %w", err)
	}
	s.rdb.SetMaxOpenConns(4)
	return s, nil
}

func newBatch() batch { return batch{ops: make(map[string]op)} }

const objectCols = `uid, type, owner, classification, releasable_to, caveat, originator, time, stale, lat, lon, hae, callsign, xml`

func (s *Store) prepare(ctx context.Context) error {
	var err error
	prep := func(q string) *sql.Stmt {
		if err != nil {
			return nil
		}
		var st *sql.Stmt
		st, err = s.wdb.PrepareContext(ctx, q)
		return st
	}
	s.ins.upsert = prep(`INSERT INTO objects (` + objectCols + `, updated)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (uid) DO UPDATE SET
			type = excluded.type, owner = excluded.owner,
			classification = excluded.classification, releasable_to = excluded.releasable_to,
			caveat = excluded.caveat, originator = excluded.originator,
			time = excluded.time, stale = excluded.stale,
			lat = excluded.lat, lon = excluded.lon, hae = excluded.hae,
			callsign = excluded.callsign, xml = excluded.xml, updated = excluded.updated`)
	s.ins.del = prep(`DELETE FROM objects WHERE uid = ?`)
	s.ins.owner = prep(`INSERT INTO owners (uid, owner, first_seen) VALUES (?, ?, ?) ON CONFLICT (uid) DO NOTHING`)
	s.ins.hist = prep(`INSERT INTO history (` + objectCols + `, recorded)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("preparing statements: %w", err)
	}
	return nil
}

// Put records o as the live object of its uid and appends it to the uid's
// history. It never blocks on disk: the change is written by the next
// flush. The first owner recorded for a uid stays its owner. Put keeps
// o.XML and o.Label.ReleasableTo; the caller must not modify them
// afterwards. An object without a uid is ignored.
func (s *Store) Put(o Object) {
	if o.UID == "" {
		return
	}
	s.mu.Lock()
	if s.closed {
		s.dropped++
		s.mu.Unlock()
		return
	}
	prev, seen := s.cur.ops[o.UID]
	owner := o.Owner
	if seen && prev.owner != "" {
		owner = prev.owner
	}
	s.cur.ops[o.UID] = op{obj: o, owner: owner}
	if !o.NoHistory && s.cur.hist.push(o, s.cfg.MaxPending) {
		s.dropped++
	}
	s.mu.Unlock()
}

// Delete removes the live object of uid at the next flush. Its history and
// its owner stay. It never blocks on disk.
func (s *Store) Delete(uid string) {
	if uid == "" {
		return
	}
	s.mu.Lock()
	if !s.closed {
		prev := s.cur.ops[uid]
		s.cur.ops[uid] = op{obj: Object{UID: uid}, del: true, owner: prev.owner}
	}
	s.mu.Unlock()
}

// Stats returns the current counters.
func (s *Store) Stats() Stats {
	s.mu.Lock()
	st := Stats{
		PendingObjects: len(s.cur.ops),
		PendingHistory: s.cur.hist.n,
		DroppedHistory: s.dropped,
	}
	s.mu.Unlock()
	s.counters.Fill(&st)
	return st
}

// Run flushes pending changes every FlushInterval and applies history
// retention between flushes, until ctx is done or Close is called; then it
// makes a final flush and returns its error. Run may be called once.
func (s *Store) Run(ctx context.Context) error { return s.loop.Run(ctx) }

func (s *Store) finalFlush() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*BusyTimeout)
	defer cancel()
	if err := s.Flush(ctx); err != nil {
		return fmt.Errorf("final flush: %w", err)
	}
	return nil
}

// Flush writes every pending change now, in one transaction. On failure the
// changes are queued again for the next flush.
func (s *Store) Flush(ctx context.Context) error {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()

	s.mu.Lock()
	if s.cur.empty() {
		s.mu.Unlock()
		return nil
	}
	b := s.cur
	s.cur, s.spare = s.spare, batch{}
	if s.cur.ops == nil {
		s.cur = newBatch()
	}
	s.mu.Unlock()

	rows := len(b.ops) + b.hist.n
	s.counters.Begin(rows)
	start := time.Now()
	err := s.write(ctx, &b, start)
	if err != nil {
		s.counters.Failed()
		s.requeue(b)
		return fmt.Errorf("flushing %d objects and %d history rows: %w", len(b.ops), b.hist.n, err)
	}
	s.counters.Done(len(b.ops), b.hist.n, time.Since(start))

	if len(s.owned)+len(b.ops) > maxOwnedCache {
		clear(s.owned) // a cache only: the database has the truth
	}
	for uid, o := range b.ops {
		if o.owner != "" {
			s.owned[uid] = struct{}{}
		}
	}
	clear(b.ops)
	b.hist.reset()
	s.mu.Lock()
	if s.spare.ops == nil {
		s.spare = b
	}
	s.mu.Unlock()
	return nil
}

// requeue puts a batch whose write failed back in front of the pending set.
func (s *Store) requeue(b batch) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for uid, o := range b.ops {
		if newer, ok := s.cur.ops[uid]; ok {
			// The newer change wins, but the failed batch saw the uid first.
			if o.owner != "" {
				newer.owner = o.owner
				s.cur.ops[uid] = newer
			}
			continue
		}
		s.cur.ops[uid] = o
	}
	if b.hist.n > 0 {
		s.dropped += uint64(s.cur.hist.prepend(&b.hist, s.cfg.MaxPending))
	}
}

// write commits one batch. now stamps the rows for retention.
func (s *Store) write(ctx context.Context, b *batch, now time.Time) (err error) {
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("beginning transaction: %w", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	upsert := tx.StmtContext(ctx, s.ins.upsert)
	del := tx.StmtContext(ctx, s.ins.del)
	owner := tx.StmtContext(ctx, s.ins.owner)
	hist := tx.StmtContext(ctx, s.ins.hist)
	stamp := now.UnixNano()
	for uid, o := range b.ops {
		if _, known := s.owned[uid]; !known && o.owner != "" {
			if _, err := owner.ExecContext(ctx, uid, o.owner, stamp); err != nil {
				return fmt.Errorf("recording owner of %q: %w", uid, err)
			}
		}
		if o.del {
			if _, err := del.ExecContext(ctx, uid); err != nil {
				return fmt.Errorf("deleting %q: %w", uid, err)
			}
			continue
		}
		x := &o.obj
		if _, err := upsert.ExecContext(ctx, uid, x.Type, x.Owner,
			classLevel(x.Label.Classification), x.Label.ReleasableString(), x.Label.Caveat, x.Label.Originator,
			unixNano(x.Time), unixNano(x.Stale), x.Lat, x.Lon, x.HAE, x.Callsign, blob(x.XML), stamp); err != nil {
			return fmt.Errorf("writing object %q: %w", uid, err)
		}
	}
	for i := range b.hist.n {
		x := b.hist.at(i)
		if _, err := hist.ExecContext(ctx, x.UID, x.Type, x.Owner,
			classLevel(x.Label.Classification), x.Label.ReleasableString(), x.Label.Caveat, x.Label.Originator,
			unixNano(x.Time), unixNano(x.Stale), x.Lat, x.Lon, x.HAE, x.Callsign, blob(x.XML), stamp); err != nil {
			return fmt.Errorf("writing history of %q: %w", x.UID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("committing: %w", err)
	}
	return nil
}

// writerCache is the page cache of the flusher's connection: the indexes
// it updates stay in memory. Negative sizes are in KiB.
const writerCache = "cache_size(-32768)"

// maxOwnedCache bounds the cache of uids with a committed owner.
const maxOwnedCache = 200_000

// retentionBatch is how many rows one retention statement deletes, so that
// no single write holds the lock for long.
const retentionBatch = 2000

// prune deletes history rows recorded before now-HistoryRetention,
// objects stale since before then and the owner rows of uids without an
// object first written before then, in batches, for at most budget. It
// reports whether old rows remain.
func (s *Store) prune(ctx context.Context, now time.Time, budget time.Duration) (more bool, err error) {
	if s.cfg.HistoryRetention <= 0 {
		return false, nil
	}
	cutoff := now.Add(-s.cfg.HistoryRetention).UnixNano()
	start := time.Now()
	for {
		n, err := s.pruneBatch(ctx, cutoff)
		if err != nil {
			return true, err
		}
		if n < int64(s.pruneRows) {
			break
		}
		if time.Since(start) >= budget {
			return true, nil
		}
	}
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	res, err := s.wdb.ExecContext(ctx, `DELETE FROM objects WHERE stale <> 0 AND stale < ?`, cutoff)
	if err != nil {
		return true, fmt.Errorf("pruning stale objects: %w", err)
	}
	n, _ := res.RowsAffected()
	s.counters.Pruned(uint64(n))
	// An owner row lasts as long as the claim it restores: while its uid
	// has an object, and one retention after it was first written.
	res, err = s.wdb.ExecContext(ctx, `DELETE FROM owners WHERE first_seen < ? AND uid NOT IN (SELECT uid FROM objects)`, cutoff)
	if err != nil {
		return true, fmt.Errorf("pruning owners: %w", err)
	}
	if n, _ := res.RowsAffected(); n > 0 {
		clear(s.owned) // a cache only: the next flush writes the row again
	}
	return false, nil
}

func (s *Store) pruneBatch(ctx context.Context, cutoff int64) (int64, error) {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	res, err := s.wdb.ExecContext(ctx, `DELETE FROM history WHERE id IN
		(SELECT id FROM history WHERE recorded < ? ORDER BY recorded LIMIT ?)`, cutoff, s.pruneRows)
	if err != nil {
		return 0, fmt.Errorf("pruning history: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("pruning history: %w", err)
	}
	s.counters.Pruned(uint64(n))
	return n, nil
}

// Close stops Run (waiting for it), flushes what is pending and closes the
// database. Puts after Close are dropped and counted. It is safe to call
// more than once and after Run has returned.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.loop.Stop()
		var errs []error
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		if err := s.finalFlush(); err != nil {
			errs = append(errs, err)
		}
		if err := s.closeDBs(); err != nil {
			errs = append(errs, err)
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

func (s *Store) closeDBs() error {
	var errs []error
	for _, st := range []*sql.Stmt{s.ins.upsert, s.ins.del, s.ins.owner, s.ins.hist} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	if s.rdb != nil {
		errs = append(errs, s.rdb.Close())
	}
	if s.wdb != nil {
		errs = append(errs, s.wdb.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("closing store %s: %w", s.path, err)
	}
	return nil
}
