package federation

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"kizuna/internal/store"
)

// DBFile is the name of the federation database in the data directory.
const DBFile = "federation.db"

const schema = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS peers (
	name   TEXT PRIMARY KEY,
	nation TEXT NOT NULL DEFAULT '',
	recv0  INTEGER NOT NULL DEFAULT 0,
	recv1  INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS outq (
	peer    TEXT NOT NULL,
	lane    INTEGER NOT NULL,
	seq     INTEGER NOT NULL,
	uid     TEXT NOT NULL,
	compact INTEGER NOT NULL,
	at      INTEGER NOT NULL,
	body    BLOB NOT NULL,
	PRIMARY KEY (peer, lane, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS outq_uid ON outq (peer, uid) WHERE compact = 1;
CREATE TABLE IF NOT EXISTS certs (
	fp  BLOB PRIMARY KEY,
	der BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS seen (
	origin TEXT NOT NULL,
	seq    INTEGER NOT NULL,
	PRIMARY KEY (origin, seq)
) WITHOUT ROWID;
`

// openDB opens the federation database. Commits are durable against a
// killed process (synchronous NORMAL in WAL mode, as the COP store): an
// event is acknowledged to the peer that sent it only once it is
// committed here, in the outbound queues of the next hops.
func openDB(path string) (*fdb, error) {
	db, err := store.OpenSQLiteSync(path, store.SyncNormal)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(4)
	if _, err := db.Exec(schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("creating federation schema: %w", err)
	}
	return &fdb{DB: db}, nil
}

// SeqBits is how many low bits of a sequence number count events within
// one run of a node; the bits above hold the run's epoch. Every start of a
// node takes a new, higher epoch, so a sequence number handed out (and
// perhaps sent) but never committed before a crash is never reused.
const SeqBits = 40

// epochOf returns the epoch of a sequence number.
func epochOf(seq uint64) uint64 { return seq >> SeqBits }

// epochStart is the first epoch of a fresh database: minutes since 2020,
// so that a node whose database was wiped still numbers above what its
// peers remember of it (unless it restarted more than once a minute on
// average before).
func epochStart() uint64 {
	return uint64(time.Since(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)).Minutes())
}

// nextEpoch takes and persists the epoch of this run, kept under key.
func nextEpoch(ctx context.Context, db *fdb, key string) (uint64, error) {
	var v, node int64
	err := db.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = ?`, key).Scan(&v)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("reading epoch: %w", err)
	}
	if key != "epoch" {
		// A link's first epoch is above the node's, which numbered the
		// link before it had one of its own (cluster.go).
		err := db.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'epoch'`).Scan(&node)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return 0, fmt.Errorf("reading epoch: %w", err)
		}
	}
	e := max(uint64(v)+1, uint64(node)+1, epochStart())
	if e >= 1<<(64-SeqBits) {
		return 0, errors.New("federation epoch exhausted")
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, int64(e)); err != nil {
		return 0, fmt.Errorf("writing epoch: %w", err)
	}
	return e, nil
}

type peerRow struct {
	nation string
	recv   [numLanes]uint64
}

// loadPeer returns a peer's durable state, creating it.
func loadPeer(ctx context.Context, db *fdb, name string) (peerRow, error) {
	var r peerRow
	var r0, r1 int64
	err := db.QueryRowContext(ctx, `SELECT nation, recv0, recv1 FROM peers WHERE name = ?`, name).Scan(&r.nation, &r0, &r1)
	if errors.Is(err, sql.ErrNoRows) {
		_, err = db.ExecContext(ctx, `INSERT INTO peers (name) VALUES (?)`, name)
	}
	if err != nil {
		return r, fmt.Errorf("reading peer %s: %w", name, err)
	}
	r.recv = [numLanes]uint64{uint64(r0), uint64(r1)}
	return r, nil
}

// queueDepth counts a peer's queued events per lane.
func queueDepth(ctx context.Context, db *fdb, peer string) ([numLanes]int64, error) {
	var d [numLanes]int64
	rows, err := db.QueryContext(ctx, `SELECT lane, COUNT(*) FROM outq WHERE peer = ? GROUP BY lane`, peer)
	if err != nil {
		return d, err
	}
	defer rows.Close()
	for rows.Next() {
		var lane int
		var n int64
		if err := rows.Scan(&lane, &n); err != nil {
			return d, err
		}
		if lane >= 0 && lane < numLanes {
			d[lane] = n
		}
	}
	return d, rows.Err()
}

type queued struct {
	seq  uint64
	body []byte
}

// readQueue returns up to limit events of a peer's lane after seq.
func readQueue(ctx context.Context, db *fdb, peer string, lane int, after uint64, limit int) ([]queued, error) {
	rows, err := db.QueryContext(ctx, `SELECT seq, body FROM outq WHERE peer = ? AND lane = ? AND seq > ? ORDER BY seq LIMIT ?`, peer, lane, int64(after), limit)
	if err != nil {
		return nil, fmt.Errorf("reading queue of %s: %w", peer, err)
	}
	defer rows.Close()
	var out []queued
	for rows.Next() {
		var q queued
		var s int64
		if err := rows.Scan(&s, &q.body); err != nil {
			return nil, err
		}
		q.seq = uint64(s)
		out = append(out, q)
	}
	return out, rows.Err()
}

// oldestQueued returns when the oldest event queued for peer was queued.
func oldestQueued(ctx context.Context, db *fdb, peer string) (time.Time, bool) {
	var best int64
	found := false
	for lane := range numLanes {
		var at int64
		err := db.QueryRowContext(ctx, `SELECT at FROM outq WHERE peer = ? AND lane = ? ORDER BY seq LIMIT 1`, peer, lane).Scan(&at)
		if err == nil && (!found || at < best) {
			best, found = at, true
		}
	}
	if !found {
		return time.Time{}, false
	}
	return time.UnixMicro(best), true
}

// writeBatch writes one batch in tx: the queued rows, the compaction of
// superseded position reports, acknowledged and dropped rows, the seen
// window and the received marks. delta collects each link's change of
// queue depth per lane, applied by the caller once the commit succeeds.
func (f *Federation) writeBatch(tx *ftx, b batch, rows []outRow, compactKeys map[compactKey]uint64, now time.Time, delta map[*link]*[numLanes]int64) error {
	if f.cfg.Shared != nil {
		if err := f.fence(tx, b.input); err != nil {
			return err
		}
	}
	d := func(l *link) *[numLanes]int64 {
		if delta[l] == nil {
			delta[l] = new([numLanes]int64)
		}
		return delta[l]
	}
	ins, err := tx.Prepare(`INSERT OR REPLACE INTO outq (peer, lane, seq, uid, compact, at, body) VALUES (?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer ins.Close()
	for _, r := range rows {
		if r.body == nil {
			continue
		}
		if _, err := ins.Exec(r.l.name, r.lane, int64(r.seq), r.uid, r.compact, now.UnixMicro(), r.body); err != nil {
			return fmt.Errorf("queueing for %s: %w", r.l.name, err)
		}
		d(r.l)[r.lane]++
	}
	for k, seq := range compactKeys {
		res, err := tx.Exec(`DELETE FROM outq WHERE peer = ? AND lane = ? AND uid = ? AND compact = 1 AND seq < ?`, k.l.name, LaneRoutine, k.uid, int64(seq))
		if err != nil {
			return fmt.Errorf("compacting queue of %s: %w", k.l.name, err)
		}
		n, _ := res.RowsAffected()
		d(k.l)[LaneRoutine] -= n
		f.stats.compacted.Add(uint64(n))
	}
	for _, a := range b.acks {
		res, err := tx.Exec(`DELETE FROM outq WHERE peer = ? AND lane = ? AND seq <= ?`, a.l.name, a.lane, int64(a.seq))
		if err != nil {
			return fmt.Errorf("acknowledging %s: %w", a.l.name, err)
		}
		n, _ := res.RowsAffected()
		d(a.l)[a.lane] -= n
		a.l.stats.acked.Add(uint64(n))
	}
	for _, a := range b.drops {
		res, err := tx.Exec(`DELETE FROM outq WHERE peer = ? AND lane = ? AND seq = ?`, a.l.name, a.lane, int64(a.seq))
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		d(a.l)[a.lane] -= n
	}
	if err := insertSeen(tx, b); err != nil {
		return err
	}
	for _, l := range f.links {
		if err := f.enforceBound(tx, l, d(l)); err != nil {
			return err
		}
	}
	return f.commitRecv(tx, b)
}

// commitRecv raises each link's stored received sequence numbers to the
// highest the batch received.
func (f *Federation) commitRecv(tx *ftx, b batch) error {
	recv := map[*link][numLanes]uint64{}
	for _, r := range b.recv {
		v := recv[r.l]
		v[r.lane] = max(v[r.lane], r.seq)
		recv[r.l] = v
	}
	for l, v := range recv {
		rv := l.committedRecv()
		for i := range rv {
			rv[i] = max(rv[i], v[i])
		}
		if _, err := tx.Exec(`UPDATE peers SET recv0 = ?, recv1 = ? WHERE name = ?`, int64(rv[0]), int64(rv[1]), l.name); err != nil {
			return err
		}
	}
	return nil
}

// insertSeen records the origin sequence numbers the batch has seen.
func insertSeen(tx *ftx, b batch) error {
	if len(b.seen) == 0 {
		return nil
	}
	st, err := tx.Prepare(`INSERT OR IGNORE INTO seen (origin, seq) VALUES (?, ?)`)
	if err != nil {
		return err
	}
	defer st.Close()
	for _, s := range b.seen {
		if _, err := st.Exec(s.origin, int64(s.seq)); err != nil {
			return err
		}
	}
	return nil
}
