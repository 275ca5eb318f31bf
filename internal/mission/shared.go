package mission

import (
	"context"
	"database/sql"
	"fmt"
	"kizuna/internal/follow"
	"kizuna/internal/sqlbind"
	"slices"
	"strings"
	"sync"
)

// Missions in cluster mode. The missions, their change logs and the log
// entries live in the cluster's PostgreSQL (tables missions,
// mission_changes, mission_logs and mission_meta, created by package
// pgstore's migrations) instead of a SQLite file, and every instance
// keeps the whole state in memory as a single node does. Every write
// moves mission_meta's "version" on by one in its own transaction.
//
// Coherence: an instance reads the version every Config.Poll and, when
// another instance moved it, reloads the state in one snapshot; a write
// first takes the cluster's write lock (a transaction-scoped advisory
// lock held until the service's mutex is released) and, if the version
// moved, reloads under it, so it always changes the latest state and no
// write is lost. The version check in the writing transaction is kept as
// a guard: a write that did not hold the lock and finds the version moved
// writes nothing and fails with ErrConflict.
//
// Notices: the instance that makes a change notifies its own clients at
// once (Config.Notify delivers to them only); every other instance
// notifies its own clients of the changes a reload brought (the changes,
// log entries, deletions and invitations it did not hold), so a
// subscriber hears of a change wherever it is connected, once. Only the
// instance that made a change federates it; a reload never does.

// The table names of each dialect; queries name them {missions},
// {changes} and {logs}.
var (
	sqliteTables = strings.NewReplacer("{missions}", "missions", "{changes}", "changes", "{logs}", "logs")
	pgTables     = strings.NewReplacer("{missions}", "missions", "{changes}", "mission_changes", "{logs}", "mission_logs")
)

// writeLock is the key of the PostgreSQL advisory lock that serialises
// the instances' mission writes ("kizuna-m").
const writeLock = 0x6b697a756e612d6d

// q names the dialect's tables in query and, for PostgreSQL, numbers its
// ? placeholders.
func (s *Service) q(query string) string {
	query = s.tbl.Replace(query)
	if !s.pg {
		return query
	}
	return sqlbind.Dollar(query)
}

// wmutex is the service's mutex. In cluster mode the writer that holds it
// also holds the cluster's write lock (held, a transaction), released by
// Unlock; after are the notices of a reload made under it, sent once it
// is unlocked.
type wmutex struct {
	sync.RWMutex
	held  *sql.Tx
	after []func()
}

// Unlock releases the cluster's write lock if held, then the mutex, and
// sends the notices a reload under it brought.
func (m *wmutex) Unlock() {
	tx, after := m.held, m.after
	m.held, m.after = nil, nil
	if tx != nil {
		tx.Rollback() // ends the transaction and its advisory lock
	}
	m.RWMutex.Unlock()
	for _, f := range after {
		f()
	}
}

// lockW locks s for a write. In cluster mode it also takes the cluster's
// write lock and, when another instance has written since the state was
// loaded, reloads it: the writer then changes the latest state. On error
// nothing is held.
func (s *Service) lockW(ctx context.Context) error {
	s.mu.Lock()
	if !s.pg || s.db == nil {
		return nil
	}
	err := s.takeWriteLock(ctx)
	if err != nil {
		s.mu.Unlock()
		return fmt.Errorf("missions: cluster write lock: %w", err)
	}
	return nil
}

func (s *Service) takeWriteLock(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	s.mu.held = tx
	if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", int64(writeLock)); err != nil {
		return err
	}
	v, err := version(ctx, tx)
	if err != nil || v == s.seen {
		return err
	}
	// Nobody writes while the lock is held: the state read in this
	// transaction is the one at version v.
	st, _, err := s.readState(ctx, tx)
	if err != nil {
		return err
	}
	st.version = v
	s.install(st)
	return nil
}

// rowQuerier is a database or a transaction.
type rowQuerier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// version reads the shared version.
func version(ctx context.Context, q rowQuerier) (int64, error) {
	var v int64
	if err := q.QueryRowContext(ctx, "SELECT value FROM mission_meta WHERE key = 'version'").Scan(&v); err != nil {
		return 0, fmt.Errorf("reading the missions' shared version: %w", err)
	}
	return v, nil
}

// bumpVersion moves the shared version on from the one the state reflects
// (s.mu held), or fails with ErrConflict when another instance moved it.
func (s *Service) bumpVersion(ctx context.Context, tx *sql.Tx) error {
	res, err := tx.ExecContext(ctx, "UPDATE mission_meta SET value = value + 1 WHERE key = 'version' AND value = $1", s.seen)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return fmt.Errorf("%w (version %d)", ErrConflict, s.seen)
	}
	return nil
}

// refresh reloads the state from the shared store if another instance
// changed it since (cluster mode), and notifies this instance's clients
// of what changed.
func (s *Service) refresh(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback()
	v, err := version(ctx, tx)
	if err != nil {
		return err
	}
	st, _, err := s.readState(ctx, tx)
	if err != nil {
		return err
	}
	st.version = v
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.missions != nil && v <= s.seen {
		return nil // this instance's own writes, or an older snapshot
	}
	s.install(st)
	return nil
}

// watchShared polls the shared version and reloads when it moves. A
// failure is logged when it starts and when it ends, not at every poll.
func (s *Service) watchShared(ctx context.Context) {
	defer s.wg.Done()
	follow.Run(ctx, s.log, "missions", s.cfg.Poll, s.poll)
}

// poll reloads the state if the shared version moved.
func (s *Service) poll(ctx context.Context) error {
	v, err := version(ctx, s.db)
	if err != nil {
		return err
	}
	s.mu.RLock()
	seen := s.seen
	s.mu.RUnlock()
	if v == seen {
		return nil
	}
	return s.refresh(ctx)
}

// install replaces the state with st (s.mu held) and queues the notices
// of what st holds that the state did not, for after Unlock. At the first
// load there is nothing to tell.
func (s *Service) install(st *state) {
	first := s.missions == nil
	old := state{missions: s.missions, changes: s.changes, logs: s.logs}
	s.missions, s.changes, s.logs, s.seen = st.missions, st.changes, st.logs, st.version
	if first || (s.cfg.Notify == nil && s.cfg.Publisher == nil) {
		return
	}
	s.mu.after = append(s.mu.after, s.notices(&old, st)...)
}

// notices are the notices of the changes st brings over old: new content
// changes and log entries to the subscribers of their mission, deleted
// missions to their subscribers, new invitations to the invitee.
func (s *Service) notices(old, st *state) []func() {
	ctx := context.Background()
	var out []func()
	for g, m := range st.missions {
		mc, subs := *m, subscribers(m)
		for _, c := range newChanges(old.changes[g], st.changes[g]) {
			out = append(out, func() { s.notifyChange(ctx, &mc, subs, c) })
		}
		om := old.missions[g]
		for _, inv := range m.Invites {
			if om == nil || !slices.ContainsFunc(om.Invites, func(x Invitation) bool { return x.Invitee == inv.Invitee && x.Created.Equal(inv.Created) }) {
				out = append(out, func() { s.notifyInvite(ctx, &mc, inv.Invitee, inv.Role) })
			}
		}
	}
	for g, m := range old.missions {
		if _, ok := st.missions[g]; !ok {
			subs := subscribers(m)
			out = append(out, func() { s.notifyDelete(ctx, m, subs) })
		}
	}
	for id, e := range st.logs {
		if _, ok := old.logs[id]; ok {
			continue
		}
		for _, g := range e.GUIDs {
			if m, ok := st.missions[g]; ok {
				mc, subs := *m, subscribers(m)
				out = append(out, func() { s.notifyLog(ctx, &mc, subs, e) })
			}
		}
	}
	return out
}

// newChanges are the content changes of cur that prev does not hold (by
// row id, or, for a change log replaced whole, by content).
func newChanges(prev, cur []*Change) []*Change {
	ids := make(map[int64]bool, len(prev))
	for _, c := range prev {
		ids[c.id] = true
	}
	var out []*Change
	for _, c := range cur {
		if c.Item == nil || (c.Type != "ADD_CONTENT" && c.Type != "REMOVE_CONTENT") || ids[c.id] {
			continue
		}
		if slices.ContainsFunc(prev, func(x *Change) bool { return sameChange(x, c) }) {
			continue
		}
		out = append(out, c)
	}
	return out
}
