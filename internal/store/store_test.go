package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"kizuna/internal/label"
)

// openStore opens a store in a fresh directory (or cfg.Dir) and closes it at
// the end of the test.
func openStore(t testing.TB, cfg Config) *Store {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	s, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// t0 is the test objects' base time: now, so that staleness and
// retention behave the same whenever the tests run.
var t0 = time.Now().UTC().Truncate(time.Second).Add(123456789)

// obj builds an object of uid owned by nation, at t0+sec.
func obj(uid, nation string, sec int) Object {
	tm := t0.Add(time.Duration(sec) * time.Second)
	return Object{
		UID:   uid,
		Type:  "a-f-G-U-C",
		Owner: nation,
		Label: label.Label{Classification: label.Secret, ReleasableTo: []string{"JPN", "KOR"}, Caveat: "FOUO", Originator: nation},
		Time:  tm, Stale: tm.Add(5 * time.Minute),
		Lat: 35.6 + float64(sec)/1000, Lon: 139.7, HAE: 12.5,
		Callsign: uid + "-cs",
		XML:      []byte(fmt.Sprintf(`<event version="2.0" uid=%q type="a-f-G-U-C" access="SECRET" releasableTo="JPN KOR"/>`, uid)),
	}
}

var cmpObjects = cmpopts.EquateEmpty()

func mustFlush(t testing.TB, s *Store) {
	t.Helper()
	if err := s.Flush(context.Background()); err != nil {
		t.Fatalf("Flush: %v", err)
	}
}

func mustObjects(t testing.TB, s *Store) []Object {
	t.Helper()
	got, err := s.Objects(context.Background())
	if err != nil {
		t.Fatalf("Objects: %v", err)
	}
	return got
}

func mustOwners(t testing.TB, s *Store) map[string]string {
	t.Helper()
	got, err := s.Owners(context.Background())
	if err != nil {
		t.Fatalf("Owners: %v", err)
	}
	return got
}

func mustHistory(t testing.TB, s *Store, uid string, since time.Time, limit int) []Object {
	t.Helper()
	got, err := s.History(context.Background(), uid, since, limit)
	if err != nil {
		t.Fatalf("History: %v", err)
	}
	return got
}

func TestPutDeleteReopen(t *testing.T) {
	type step struct {
		put   *Object
		del   string
		flush bool
	}
	put := func(o Object) step { return step{put: &o} }
	del := func(uid string) step { return step{del: uid} }
	flush := step{flush: true}

	a1, a2, a3 := obj("a", "USA", 1), obj("a", "USA", 2), obj("a", "USA", 3)
	b1 := obj("b", "JPN", 1)
	aJPN := obj("a", "JPN", 4)  // another nation writes the same uid: the first owner stays
	bare := Object{UID: "bare"} // no label, no XML, zero times

	tests := []struct {
		name        string
		steps       []step
		wantObjects []Object
		wantOwners  map[string]string
		wantHist    map[string][]Object
	}{
		{
			name:        "latest object per uid wins, every put is history",
			steps:       []step{put(a1), put(b1), put(a2), put(a3)},
			wantObjects: []Object{a3, b1},
			wantOwners:  map[string]string{"a": "USA", "b": "JPN"},
			wantHist:    map[string][]Object{"a": {a1, a2, a3}, "b": {b1}},
		},
		{
			name:        "same across flushes",
			steps:       []step{put(a1), flush, put(b1), put(a2), flush, put(a3)},
			wantObjects: []Object{a3, b1},
			wantOwners:  map[string]string{"a": "USA", "b": "JPN"},
			wantHist:    map[string][]Object{"a": {a1, a2, a3}, "b": {b1}},
		},
		{
			name:        "delete in the same batch keeps owner and history",
			steps:       []step{put(a1), put(b1), del("a")},
			wantObjects: []Object{b1},
			wantOwners:  map[string]string{"a": "USA", "b": "JPN"},
			wantHist:    map[string][]Object{"a": {a1}, "b": {b1}},
		},
		{
			name:        "delete in a later batch",
			steps:       []step{put(a1), put(b1), flush, del("a"), del("nope")},
			wantObjects: []Object{b1},
			wantOwners:  map[string]string{"a": "USA", "b": "JPN"},
			wantHist:    map[string][]Object{"a": {a1}},
		},
		{
			name:        "put after delete brings the object back",
			steps:       []step{put(a1), del("a"), put(a2), flush, del("a"), flush, put(a3)},
			wantObjects: []Object{a3},
			wantOwners:  map[string]string{"a": "USA"},
			wantHist:    map[string][]Object{"a": {a1, a2, a3}},
		},
		{
			name:        "first owner stays, in one batch",
			steps:       []step{put(a1), put(aJPN)},
			wantObjects: []Object{aJPN},
			wantOwners:  map[string]string{"a": "USA"},
		},
		{
			name:        "first owner stays, across batches and deletion",
			steps:       []step{put(a1), flush, del("a"), flush, put(aJPN)},
			wantObjects: []Object{aJPN},
			wantOwners:  map[string]string{"a": "USA"},
		},
		{
			name:        "object without uid is ignored; bare object round-trips",
			steps:       []step{put(Object{Type: "x"}), put(bare)},
			wantObjects: []Object{bare},
			wantOwners:  map[string]string{},
			wantHist:    map[string][]Object{"bare": {bare}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := Open(Config{Dir: dir})
			if err != nil {
				t.Fatal(err)
			}
			for _, st := range tc.steps {
				switch {
				case st.put != nil:
					s.Put(*st.put)
				case st.del != "":
					s.Delete(st.del)
				case st.flush:
					mustFlush(t, s)
				}
			}
			check := func(s *Store, when string) {
				t.Helper()
				if diff := cmp.Diff(tc.wantObjects, mustObjects(t, s), cmpObjects); diff != "" {
					t.Errorf("%s: Objects (-want +got):\n%s", when, diff)
				}
				if diff := cmp.Diff(tc.wantOwners, mustOwners(t, s), cmpObjects); diff != "" {
					t.Errorf("%s: Owners (-want +got):\n%s", when, diff)
				}
				for uid, want := range tc.wantHist {
					if diff := cmp.Diff(want, mustHistory(t, s, uid, time.Time{}, 0), cmpObjects); diff != "" {
						t.Errorf("%s: History(%s) (-want +got):\n%s", when, uid, diff)
					}
				}
			}
			mustFlush(t, s)
			check(s, "after flush")
			// Close flushes nothing new; reopening brings everything back.
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			s2 := openStore(t, Config{Dir: dir})
			check(s2, "after reopen")
		})
	}
}

func TestCloseFlushesPending(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	a := obj("a", "USA", 1)
	s.Put(a)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	s.Put(obj("late", "USA", 2)) // after Close: dropped, not a panic
	if got := s.Stats().DroppedHistory; got != 1 {
		t.Errorf("DroppedHistory after a Put on a closed store = %d, want 1", got)
	}
	s2 := openStore(t, Config{Dir: dir})
	if diff := cmp.Diff([]Object{a}, mustObjects(t, s2), cmpObjects); diff != "" {
		t.Errorf("Objects after Close and reopen (-want +got):\n%s", diff)
	}
}

func TestHistorySinceLimit(t *testing.T) {
	s := openStore(t, Config{})
	var all []Object
	for i := range 10 {
		o := obj("trk", "KOR", i)
		all = append(all, o)
		s.Put(o)
		s.Put(obj("other", "KOR", i))
	}
	mustFlush(t, s)
	tests := []struct {
		name  string
		since time.Time
		limit int
		want  []Object
	}{
		{"all", time.Time{}, 0, all},
		{"negative limit is no limit", time.Time{}, -1, all},
		{"limit keeps the oldest", time.Time{}, 3, all[:3]},
		{"since is inclusive", all[4].Time, 0, all[4:]},
		{"since and limit", all[4].Time, 2, all[4:6]},
		{"since after the last", all[9].Time.Add(time.Nanosecond), 0, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, mustHistory(t, s, "trk", tc.since, tc.limit), cmpObjects); diff != "" {
				t.Errorf("History (-want +got):\n%s", diff)
			}
		})
	}
	if got := mustHistory(t, s, "missing", time.Time{}, 0); len(got) != 0 {
		t.Errorf("History of an unknown uid = %d rows, want 0", len(got))
	}
}

func TestRetention(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, Config{HistoryRetention: time.Hour})

	old := obj("old", "USA", 0)
	old.Stale = time.Now().Add(-2 * time.Hour) // stale for longer than the retention
	s.Put(old)
	s.Put(obj("a", "USA", 1))
	mustFlush(t, s)
	mid := time.Now()
	for mid.Equal(time.Now()) {
	}
	fresh := obj("a", "USA", 2)
	s.Put(fresh)
	mustFlush(t, s)

	// An hour after mid, only the rows written before mid are older than the retention.
	more, err := s.prune(ctx, mid.Add(time.Hour), time.Second)
	if err != nil || more {
		t.Fatalf("prune = %v, %v; want false, nil", more, err)
	}
	if diff := cmp.Diff([]Object{fresh}, mustHistory(t, s, "a", time.Time{}, 0), cmpObjects); diff != "" {
		t.Errorf("History after retention (-want +got):\n%s", diff)
	}
	if got := mustHistory(t, s, "old", time.Time{}, 0); len(got) != 0 {
		t.Errorf("History(old) after retention = %d rows, want 0", len(got))
	}
	if diff := cmp.Diff([]Object{fresh}, mustObjects(t, s), cmpObjects); diff != "" {
		t.Errorf("Objects after retention: long-stale object should be pruned (-want +got):\n%s", diff)
	}
	// A claim lasts while its uid has an object and one retention after
	// it was first written: the owner of the pruned object goes too.
	if diff := cmp.Diff(map[string]string{"a": "USA"}, mustOwners(t, s)); diff != "" {
		t.Errorf("Owners after retention: the live uid's ownership must survive, the pruned one's must go (-want +got):\n%s", diff)
	}
	if got, want := s.Stats().RetentionPruned, uint64(3); got != want {
		t.Errorf("RetentionPruned = %d, want %d (two history rows, one object)", got, want)
	}
}

func TestRetentionBatches(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, Config{HistoryRetention: time.Minute})
	s.pruneRows = 50
	const n = 2*50 + 7
	for i := range n {
		s.Put(obj("trk", "USA", i))
	}
	mustFlush(t, s)
	later := time.Now().Add(time.Hour)

	// A zero budget deletes one batch and reports that more remain.
	more, err := s.prune(ctx, later, 0)
	if err != nil || !more {
		t.Fatalf("prune with zero budget = %v, %v; want true, nil", more, err)
	}
	if got := len(mustHistory(t, s, "trk", time.Time{}, 0)); got != n-50 {
		t.Errorf("after one batch %d rows remain, want %d", got, n-50)
	}
	more, err = s.prune(ctx, later, time.Minute)
	if err != nil || more {
		t.Fatalf("prune = %v, %v; want false, nil", more, err)
	}
	if got := len(mustHistory(t, s, "trk", time.Time{}, 0)); got != 0 {
		t.Errorf("after pruning %d rows remain, want 0", got)
	}
}

func TestRetentionZeroKeepsForever(t *testing.T) {
	s := openStore(t, Config{})
	s.Put(obj("a", "USA", 1))
	mustFlush(t, s)
	if more, err := s.prune(context.Background(), time.Now().Add(100*365*24*time.Hour), time.Second); err != nil || more {
		t.Fatalf("prune = %v, %v", more, err)
	}
	if got := len(mustHistory(t, s, "a", time.Time{}, 0)); got != 1 {
		t.Errorf("history rows = %d, want 1", got)
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestRunFlushesAndPrunes(t *testing.T) {
	s := openStore(t, Config{FlushInterval: 20 * time.Millisecond, HistoryRetention: time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()

	s.Put(obj("a", "USA", 1))
	waitFor(t, "the flusher to write the object", 5*time.Second, func() bool {
		return len(mustObjects(t, s)) == 1
	})
	waitFor(t, "retention to prune the history row", 5*time.Second, func() bool {
		return len(mustHistory(t, s, "a", time.Time{}, 0)) == 0
	})
	if err := s.Run(ctx); !errors.Is(err, ErrRunning) {
		t.Errorf("second Run = %v, want ErrRunning", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
}

func TestRunFinalFlush(t *testing.T) {
	for _, stop := range []string{"cancel", "close"} {
		t.Run(stop, func(t *testing.T) {
			dir := t.TempDir()
			s, err := Open(Config{Dir: dir, FlushInterval: MaxFlushInterval})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- s.Run(ctx) }()
			s.Put(obj("a", "USA", 1))
			waitFor(t, "Run to flush", 5*time.Second, func() bool { return s.Stats().Flushes == 1 })
			// a is written again by the final flush, unless a tick beats it.
			a := obj("a", "USA", 2)
			s.Put(a)
			switch stop {
			case "cancel":
				cancel()
				if err := <-done; err != nil {
					t.Errorf("Run = %v", err)
				}
				if err := s.Close(); err != nil {
					t.Errorf("Close after Run returned: %v", err)
				}
			case "close":
				if err := s.Close(); err != nil {
					t.Errorf("Close while running: %v", err)
				}
				select {
				case err := <-done:
					if err != nil {
						t.Errorf("Run = %v", err)
					}
				default:
					t.Error("Close returned before Run did")
				}
			}
			if err := s.Run(context.Background()); !errors.Is(err, ErrClosed) {
				t.Errorf("Run after Close = %v, want ErrClosed", err)
			}
			s2 := openStore(t, Config{Dir: dir})
			if diff := cmp.Diff([]Object{a}, mustObjects(t, s2), cmpObjects); diff != "" {
				t.Errorf("Objects after reopen (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMaxPendingDropsOldestHistory(t *testing.T) {
	s := openStore(t, Config{MaxPending: 10})
	var all []Object
	for i := range 25 {
		o := obj("trk", "USA", i)
		all = append(all, o)
		s.Put(o)
	}
	st := s.Stats()
	if st.PendingHistory != 10 || st.DroppedHistory != 15 || st.PendingObjects != 1 {
		t.Errorf("Stats = %+v; want 10 pending history rows, 15 dropped, 1 pending object", st)
	}
	mustFlush(t, s)
	if diff := cmp.Diff(all[15:], mustHistory(t, s, "trk", time.Time{}, 0), cmpObjects); diff != "" {
		t.Errorf("History keeps the newest rows (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]Object{all[24]}, mustObjects(t, s), cmpObjects); diff != "" {
		t.Errorf("Objects (-want +got):\n%s", diff)
	}
	st = s.Stats()
	if st.FlushedHistory != 10 || st.FlushedObjects != 1 || st.Flushes != 1 || st.PendingHistory != 0 {
		t.Errorf("Stats after flush = %+v", st)
	}
}

// lockDB takes the database's write lock from another connection until the
// returned function is called.
func lockDB(t *testing.T, dir string) (release func()) {
	t.Helper()
	db, err := OpenSQLite(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	tx, err := db.Begin() // BEGIN IMMEDIATE: holds the write lock
	if err != nil {
		t.Fatal(err)
	}
	released := false
	release = func() {
		if released {
			return
		}
		released = true
		tx.Rollback()
		db.Close()
	}
	t.Cleanup(release)
	return release
}

func TestFlushFailureRequeues(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, Config{Dir: dir, MaxPending: 3})
	a1, a2, b := obj("a", "USA", 1), obj("a", "USA", 2), obj("b", "JPN", 3)
	s.Put(a1)
	s.Put(b)
	release := lockDB(t, dir)

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	err := s.Flush(ctx)
	cancel()
	if err == nil {
		t.Fatal("Flush succeeded while another connection held the write lock")
	}
	// Changes made while the failed batch was out win over it; history is
	// requeued in order within MaxPending.
	s.Put(a2)
	s.Delete("b")
	s.Put(obj("c", "KOR", 4))
	st := s.Stats()
	if st.FlushErrors != 1 || st.PendingHistory != 3 || st.DroppedHistory != 1 {
		t.Errorf("Stats after failed flush = %+v; want 1 error, 3 pending rows, 1 dropped", st)
	}
	release()
	mustFlush(t, s)
	got := mustObjects(t, s)
	if len(got) != 2 || got[0].UID != "a" || !got[0].Time.Equal(a2.Time) || got[1].UID != "c" {
		t.Errorf("Objects after recovery = %+v; want a (newest) and c", got)
	}
	if diff := cmp.Diff(map[string]string{"a": "USA", "b": "JPN", "c": "KOR"}, mustOwners(t, s)); diff != "" {
		t.Errorf("Owners (-want +got):\n%s", diff)
	}
	if h := mustHistory(t, s, "b", time.Time{}, 0); len(h) != 1 {
		t.Errorf("History(b) = %d rows, want 1 (requeued)", len(h))
	}
}

// TestPutNeverBlocks holds the database's write lock so that the flusher
// cannot commit, and checks that Put and Delete still return at memory speed.
func TestPutNeverBlocks(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, Config{Dir: dir, FlushInterval: 10 * time.Millisecond})
	release := lockDB(t, dir)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	s.Put(obj("first", "USA", 0))
	waitFor(t, "the flusher to be stuck on the lock", 5*time.Second, func() bool { return s.Stats().InFlight > 0 })

	const n = 10000
	start := time.Now()
	var slowest time.Duration
	for i := range n {
		t1 := time.Now()
		s.Put(obj(fmt.Sprintf("u%d", i%500), "USA", i))
		if i%100 == 0 {
			s.Delete(fmt.Sprintf("u%d", (i+250)%500))
		}
		slowest = max(slowest, time.Since(t1))
	}
	elapsed := time.Since(start)
	st := s.Stats()
	t.Logf("%d Puts in %v while the flusher was blocked (slowest %v); stats %+v", n, elapsed, slowest, st)
	if st.Flushes != 0 {
		t.Fatalf("a flush committed while the lock was held: %+v", st)
	}
	// The flusher waits up to BusyTimeout for the lock; all Puts finished
	// well inside that, so none of them waited for the disk.
	if elapsed > BusyTimeout/2 {
		t.Errorf("%d Puts took %v with the flusher blocked; Put must not wait for the disk", n, elapsed)
	}
	release()
	waitFor(t, "the backlog to flush once the lock is released", 15*time.Second, func() bool {
		st := s.Stats()
		return st.FlushedHistory == n+1 && st.PendingHistory == 0 && st.InFlight == 0
	})
	if got := len(mustHistory(t, s, "u7", time.Time{}, 0)); got != n/500 {
		t.Errorf("History(u7) = %d rows, want %d", got, n/500)
	}
}

func TestOpenErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no dir", Config{}},
		{"flush interval too long for the durability promise", Config{Dir: t.TempDir(), FlushInterval: 2 * time.Second}},
		{"negative flush interval", Config{Dir: t.TempDir(), FlushInterval: -time.Second}},
		{"negative retention", Config{Dir: t.TempDir(), HistoryRetention: -time.Hour}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(tc.cfg)
			if err == nil {
				s.Close()
			}
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("Open = %v, want ErrConfig", err)
			}
		})
	}
}

func TestSchemaVersion(t *testing.T) {
	if SchemaVersion != len(migrations) {
		t.Fatalf("SchemaVersion = %d but there are %d migrations", SchemaVersion, len(migrations))
	}
	dir := t.TempDir()
	s := openStore(t, Config{Dir: dir})
	var v int
	if err := s.rdb.QueryRow("PRAGMA user_version").Scan(&v); err != nil || v != SchemaVersion {
		t.Fatalf("user_version = %d, %v; want %d", v, err, SchemaVersion)
	}
	s.Close()

	// A database from a newer binary is refused, not clobbered.
	db, err := OpenSQLite(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(fmt.Sprintf("PRAGMA user_version = %d", SchemaVersion+1)); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if s, err := Open(Config{Dir: dir}); !errors.Is(err, ErrSchemaTooNew) {
		if err == nil {
			s.Close()
		}
		t.Fatalf("Open of a newer schema = %v, want ErrSchemaTooNew", err)
	}
}

func TestOpenSQLite(t *testing.T) {
	dir := t.TempDir()
	db, err := OpenSQLite(filepath.Join(dir, "x.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for pragma, want := range map[string]string{
		"journal_mode": "wal",
		"synchronous":  "2", // FULL
		"foreign_keys": "1",
		"busy_timeout": fmt.Sprint(BusyTimeout.Milliseconds()),
	} {
		var got string
		if err := db.QueryRow("PRAGMA " + pragma).Scan(&got); err != nil || got != want {
			t.Errorf("PRAGMA %s = %q, %v; want %q", pragma, got, err, want)
		}
	}
	if _, err := db.Exec("CREATE TABLE t (x)"); err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" {
		for _, f := range []string{"x.db", "x.db-wal", "x.db-shm"} {
			fi, err := os.Stat(filepath.Join(dir, f))
			if err != nil {
				t.Fatal(err)
			}
			if perm := fi.Mode().Perm(); perm&0o077 != 0 {
				t.Errorf("%s has mode %v; the database must be private to its user", f, perm)
			}
		}
	}
	for _, bad := range []string{"", "a?b.db", "file:x.db", ":memory:"} {
		if db, err := OpenSQLite(bad); !errors.Is(err, ErrPath) {
			if err == nil {
				db.Close()
			}
			t.Errorf("OpenSQLite(%q) = %v, want ErrPath", bad, err)
		}
	}
}
