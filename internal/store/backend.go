package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"kizuna/internal/label"
)

// ErrUnavailable reports that the storage backend cannot be reached (for
// PostgreSQL: the server is down or refusing connections). Callers refuse
// new work while it holds rather than drop it.
var ErrUnavailable = errors.New("store unavailable")

// Backend is the storage interface the node uses. Two implementations
// exist: *Store (embedded SQLite, the default) and the PostgreSQL store in
// package pgstore (cluster mode). Both are write-behind with the same
// durability promise and pass the same test suite (package storetest).
type Backend interface {
	// Put records o as the live object of its uid and appends it to the
	// uid's history; it never blocks on I/O. See (*Store).Put.
	Put(o Object)
	// Delete removes the live object of uid at the next flush.
	Delete(uid string)
	// Claim records owner as the owner of uid unless the uid already has
	// one, atomically and durably before it returns, and returns the
	// uid's owner after the call. Two concurrent claims of a new uid,
	// from this process or another sharing the database, see the same
	// single winner.
	Claim(ctx context.Context, uid, owner string) (string, error)
	// Flush writes every pending change now.
	Flush(ctx context.Context) error
	// Run flushes until ctx is done or Close, then flushes a last time.
	Run(ctx context.Context) error
	// Close stops Run, flushes and releases the backend.
	Close() error
	// Stats returns the write-behind counters.
	Stats() Stats
	// Ping checks that the backend answers now.
	Ping(ctx context.Context) error

	Objects(ctx context.Context) ([]Object, error)
	Owners(ctx context.Context) (map[string]string, error)
	History(ctx context.Context, uid string, since time.Time, limit int) ([]Object, error)
	ExportHistory(ctx context.Context, p label.Principal, since, until time.Time, fn func(Object) error) error
	// ExportPositions is ExportHistory without the rows' XML.
	ExportPositions(ctx context.Context, p label.Principal, since, until time.Time, fn func(Object) error) error
}

var _ Backend = (*Store)(nil)

// Claim implements Backend. It writes the owner row at once (not at the
// next flush) so that the answer is durable when it returns.
func (s *Store) Claim(ctx context.Context, uid, owner string) (string, error) {
	if uid == "" || owner == "" {
		return "", fmt.Errorf("claiming %q: %w: empty uid or owner", uid, ErrConfig)
	}
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	if _, err := s.wdb.ExecContext(ctx, `INSERT INTO owners (uid, owner, first_seen) VALUES (?, ?, ?) ON CONFLICT (uid) DO NOTHING`,
		uid, owner, time.Now().UnixNano()); err != nil {
		return "", fmt.Errorf("claiming %q: %w", uid, err)
	}
	var got string
	if err := s.wdb.QueryRowContext(ctx, `SELECT owner FROM owners WHERE uid = ?`, uid).Scan(&got); err != nil {
		return "", fmt.Errorf("claiming %q: %w", uid, err)
	}
	if len(s.owned) >= maxOwnedCache {
		clear(s.owned)
	}
	s.owned[uid] = struct{}{}
	return got, nil
}

// Ping implements Backend.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.rdb.PingContext(ctx); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return nil
}

// ClassLevel is the stored level of a classification (0 invalid, 1
// UNCLASSIFIED … 4 TOP SECRET), shared by every backend's schema.
func ClassLevel(c label.Classification) int64 { return classLevel(c) }

// ClassFromLevel inverts ClassLevel.
func ClassFromLevel(l int64) label.Classification { return classFromLevel(l) }

// UnixNano is a time as stored: Unix nanoseconds, 0 for the zero time.
func UnixNano(t time.Time) int64 { return unixNano(t) }

// FromUnixNano inverts UnixNano.
func FromUnixNano(n int64) time.Time { return fromUnixNano(n) }
