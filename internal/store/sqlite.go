package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver
)

// BusyTimeout is how long a connection opened by OpenSQLite waits for
// another connection's write lock before it gives up with SQLITE_BUSY.
const BusyTimeout = 5 * time.Second

// ErrPath reports a database path that cannot be passed to SQLite safely.
var ErrPath = errors.New("unusable database path")

// Synchronous is an SQLite "PRAGMA synchronous" level.
type Synchronous string

// The two levels Kizuna uses, both in WAL mode.
const (
	// SyncFull fsyncs the write-ahead log on every commit: a committed
	// transaction survives power loss as well as a killed process. Orders
	// and audit records, which are acknowledged only once committed, need
	// this; OpenSQLite uses it.
	SyncFull Synchronous = "FULL"
	// SyncNormal writes the log on every commit but fsyncs only at
	// checkpoints. A committed transaction survives SIGKILL (the bytes are
	// in the kernel's page cache) but the newest ones may roll back after
	// a power failure. The COP store uses it: its promise is about process
	// kills, and it spares an fsync per flush on the hot path.
	SyncNormal Synchronous = "NORMAL"
)

// OpenSQLite opens (creating if needed, mode 0600) the SQLite database file at path
// with the pragmas Kizuna uses on every connection of the pool:
// journal_mode=WAL (readers never block the writer), synchronous=FULL
// (see SyncFull), busy_timeout=5s, foreign_keys=ON, and BEGIN IMMEDIATE
// for transactions (a write transaction takes the write lock up front, so
// two writers never deadlock upgrading a read lock). The connection is
// checked before returning.
func OpenSQLite(path string) (*sql.DB, error) {
	return OpenSQLiteSync(path, SyncFull)
}

// OpenSQLiteSync is OpenSQLite with a chosen synchronous level.
func OpenSQLiteSync(path string, sync Synchronous) (*sql.DB, error) {
	return openSQLite(path, sync)
}

// openSQLite opens path with Kizuna's pragmas plus extra ones, each in the
// _pragma form "name(value)", applied to every connection.
func openSQLite(path string, sync Synchronous, extra ...string) (*sql.DB, error) {
	if path == "" || strings.ContainsAny(path, "?#") || strings.HasPrefix(path, "file:") || path == ":memory:" {
		return nil, fmt.Errorf("opening sqlite %q: %w", path, ErrPath)
	}
	if sync != SyncFull && sync != SyncNormal {
		return nil, fmt.Errorf("opening sqlite %q: unsupported synchronous level %q", path, sync)
	}
	// SQLite creates the -wal and -shm files with the database file's
	// mode, so creating it 0600 keeps all three private to this user.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening sqlite %s: %w", path, err)
	}
	f.Close()
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", BusyTimeout.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous("+string(sync)+")")
	q.Add("_pragma", "foreign_keys(ON)")
	for _, p := range extra {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("opening sqlite %s: %w", path, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), BusyTimeout+time.Second)
	defer cancel()
	var mode string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		db.Close()
		return nil, fmt.Errorf("opening sqlite %s: %w", path, err)
	}
	if !strings.EqualFold(mode, "wal") {
		db.Close()
		return nil, fmt.Errorf("opening sqlite %s: journal mode is %q, want wal", path, mode)
	}
	return db, nil
}
