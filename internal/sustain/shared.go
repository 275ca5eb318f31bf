package sustain

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"kizuna/internal/follow"
	"kizuna/internal/sqlbind"
	"slices"
	"time"
)

// Sustainment in cluster mode.
//
// With Config.Shared set, the ledger, its checkpoint and every document
// live in the cluster's PostgreSQL (tables sustain_movements, sustain_docs,
// sustain_checkpoint and sustain_meta, created by package pgstore's
// migrations) and every instance of the node keeps the whole derived
// state in memory, as a single process does.
//
// Writes are serialised across instances by one row lock: every write
// transaction starts by incrementing sustain_meta's "version" (an upsert
// that locks the row until commit). Holding it, the instance reads what
// other instances committed since the version it last saw (the documents
// stamped with a later version, the movements after its last sequence
// number) and applies it, then checks the request against that state,
// numbers its movements after the last stored one and commits. Two
// instances appending at once therefore take turns: the ledger stays one
// dense sequence, never forked, and a sequence number or idempotency key
// is never used twice (the primary key and the unique key would refuse it
// anyway). A transfer action is decided on the state the last commit
// left, whichever instance made it, so a receipt is recorded once.
//
// Reads follow: every instance polls the version (followEvery) and, on
// a GET of the REST API, checks it before answering, so a client sees what
// any instance committed before its request. A catch-up without the lock
// reads in one REPEATABLE READ snapshot, where documents and movements
// agree. Checkpoints are shared: an instance writes one only past the
// stored one's sequence number, and its derived state at that number is
// the replay of the same prefix of the ledger.

// followEvery is how often an instance looks for other instances' commits.
const followEvery = 250 * time.Millisecond

// querier is a *sql.DB or a *sql.Tx.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// q rewrites a query's ? placeholders for PostgreSQL.
func (s *Service) q(query string) string {
	if !s.pg {
		return query
	}
	return sqlbind.Dollar(query)
}

// reader is where reads go: the write transaction when one is open
// (s.mu held), else the database.
func (s *Service) reader() querier {
	if s.wtx != nil {
		return s.wtx
	}
	return s.db
}

// beginLocked opens, in cluster mode, the write transaction of one
// request (s.mu held): it takes the shared lock, bumps the version and
// applies what other instances committed. The request's s.tx commits it;
// endLocked rolls it back if the request ended without writing. Outside
// cluster mode it does nothing.
func (s *Service) beginLocked(ctx context.Context) error {
	if !s.pg {
		return nil
	}
	if s.wtx != nil {
		return errors.New("sustain: write transaction already open")
	}
	// The transaction outlives a cancelled request: what it decided is
	// committed or rolled back as a whole, within the timeout.
	tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	tx, err := s.db.BeginTx(tctx, nil)
	if err != nil {
		cancel()
		return fmt.Errorf("sustain: begin: %w", err)
	}
	var v int64
	err = tx.QueryRowContext(tctx, `INSERT INTO sustain_meta (key, value) VALUES ('version', 1)
		ON CONFLICT (key) DO UPDATE SET value = sustain_meta.value + 1 RETURNING value`).Scan(&v)
	if err == nil && v-1 != s.version {
		err = s.catchUpLocked(tctx, tx, v-1)
	}
	if err != nil {
		tx.Rollback()
		cancel()
		return fmt.Errorf("sustain: taking the ledger lock: %w", err)
	}
	s.wtx, s.wver, s.wcancel = tx, v, cancel
	return nil
}

// endLocked rolls back a write transaction the request did not commit.
func (s *Service) endLocked() {
	if s.wtx == nil {
		return
	}
	s.wtx.Rollback()
	s.wcancel()
	s.wtx, s.wcancel = nil, nil
}

// commitShared runs f in the open write transaction and commits it.
func (s *Service) commitShared(f func(*sql.Tx) error) error {
	tx, cancel := s.wtx, s.wcancel
	s.wtx, s.wcancel = nil, nil
	defer cancel()
	if err := f(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sustain: commit: %w", err)
	}
	s.version = s.wver
	return nil
}

// Refresh applies, in cluster mode, what other instances committed since
// this one last looked; it costs one query when nothing changed.
func (s *Service) Refresh(ctx context.Context) error {
	if !s.pg {
		return nil
	}
	v, err := s.sharedVersion(ctx, s.db)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if v == s.version {
		return nil
	}
	return s.snapshotLocked(ctx, func(tx *sql.Tx) error { return nil })
}

// snapshotLocked catches up in one REPEATABLE READ snapshot and then runs
// f in it (s.mu held).
func (s *Service) snapshotLocked(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return fmt.Errorf("sustain: reading the shared ledger: %w", err)
	}
	defer tx.Rollback()
	v, err := s.sharedVersion(ctx, tx)
	if err != nil {
		return err
	}
	if v != s.version {
		if err := s.catchUpLocked(ctx, tx, v); err != nil {
			return err
		}
	}
	return f(tx)
}

func (s *Service) sharedVersion(ctx context.Context, q querier) (int64, error) {
	var v int64
	err := q.QueryRowContext(ctx, `SELECT value FROM sustain_meta WHERE key = 'version'`).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("sustain: reading the shared version: %w", err)
	}
	return v, nil
}

// catchUpLocked applies the documents stamped after s.version and the
// movements after the ledger's last, as q sees them, and records v as the
// version seen. When the increment does not apply, it reloads everything.
func (s *Service) catchUpLocked(ctx context.Context, q querier, v int64) error {
	if err := s.applyNewLocked(ctx, q); err != nil {
		s.log.Warn("sustain: catching up failed; reloading the shared state", "err", err)
		if err := s.reloadLocked(ctx, q); err != nil {
			return err
		}
	}
	s.version = v
	s.kick()
	return nil
}

func (s *Service) applyNewLocked(ctx context.Context, q querier) error {
	rows, err := q.QueryContext(ctx, `SELECT kind, doc FROM sustain_docs WHERE ver > $1`, s.version)
	if err != nil {
		return fmt.Errorf("sustain: reading documents: %w", err)
	}
	err = s.scanDocs(rows, true)
	if err != nil {
		return err
	}
	return s.replayInto(ctx, q, s.led, s.led.lastSeq)
}

// reloadLocked replaces the whole state with the store's.
func (s *Service) reloadLocked(ctx context.Context, q querier) error {
	s.led = newLedger(s.baseItems)
	s.transfers = map[string]*TransferRecord{}
	s.orders = map[string]*WorkOrder{}
	s.units = map[string]*Unit{}
	s.schedules = map[string]*Scheduled{}
	s.engages = nil
	s.cpSeq = 0
	return s.loadFrom(ctx, q)
}

// putDoc stores a document in the write transaction tx.
func (s *Service) putDoc(tx *sql.Tx, kind, id string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if s.pg {
		_, err = tx.Exec(`INSERT INTO sustain_docs(kind, id, doc, ver) VALUES($1,$2,$3,$4)
			ON CONFLICT(kind, id) DO UPDATE SET doc=excluded.doc, ver=excluded.ver`, kind, id, b, s.wver)
	} else {
		_, err = tx.Exec(`INSERT INTO sustain_docs(kind, id, doc) VALUES(?,?,?) ON CONFLICT(kind, id) DO UPDATE SET doc=excluded.doc`, kind, id, b)
	}
	if err != nil {
		return fmt.Errorf("sustain: storing %s %s: %w", kind, id, err)
	}
	return nil
}

// putEngagement adds or replaces (replace: a catch-up) an engagement.
func (s *Service) putEngagement(e Engagement, replace bool) {
	if replace {
		if i := slices.IndexFunc(s.engages, func(x Engagement) bool { return x.ID == e.ID }); i >= 0 {
			s.engages[i] = e
			return
		}
	}
	s.engages = append(s.engages, e)
}

// followLoop, in cluster mode, applies other instances' commits as they
// come.
func (s *Service) followLoop(ctx context.Context) {
	follow.Run(ctx, s.log, "sustainment", followEvery, s.Refresh)
}
