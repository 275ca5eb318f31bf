package mission

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/stdlib"

	"kizuna/internal/clustertest"
	"kizuna/internal/label"
	"kizuna/internal/pgstore"
	"kizuna/internal/taktest"
)

// sharedServices starts n services on one fresh PostgreSQL schema, as the
// instances of one node in cluster mode, each with its own notice sink.
func sharedServices(t *testing.T, n int, poll time.Duration) ([]*Service, []*sink) {
	t.Helper()
	url := clustertest.Postgres(t)
	ctx := context.Background()
	pg, err := pgstore.Open(ctx, pgstore.Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Close() })
	var svcs []*Service
	var sinks []*sink
	for i := range n {
		sk := &sink{}
		s, err := New(Config{DBPath: "unused", NodeID: "node-1", Objects: objects(), Poll: poll, Notify: sk, Publisher: sk,
			Shared: func() *sql.DB { return stdlib.OpenDBFromPool(pg.Pool()) }})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Start(ctx); err != nil {
			t.Fatalf("instance %d: %v", i, err)
		}
		t.Cleanup(func() { s.Stop(context.Background()) })
		svcs, sinks = append(svcs, s), append(sinks, sk)
	}
	return svcs, sinks
}

var jpnOp = label.Principal{Nation: "JPN", Clearance: label.Secret, Name: "op"}

// TestSharedConcurrentWrites: two instances subscribe clients and log in
// one mission at the same time; every subscription and entry lands (each
// write changes the latest state under the cluster's write lock), and
// both instances show them all.
func TestSharedConcurrentWrites(t *testing.T) {
	svcs, _ := sharedServices(t, 2, 20*time.Millisecond)
	ctx := context.Background()
	if _, _, err := svcs[0].Create(ctx, jpnOp, CreateRequest{Name: "op-shared", CreatorUID: "jpn-0", Label: &shared}); err != nil {
		t.Fatal(err)
	}
	const n = 20
	var wg sync.WaitGroup
	for i := range n {
		s := svcs[i%2]
		wg.Go(func() {
			if _, err := s.Subscribe(ctx, jpnOp, "op-shared", fmt.Sprintf("jpn-%d", i+1), ""); err != nil {
				t.Errorf("subscribe %d: %v", i, err)
			}
			if _, err := s.AddLog(ctx, jpnOp, LogRequest{Missions: []string{"op-shared"}, Content: fmt.Sprint("entry ", i)}); err != nil {
				t.Errorf("log %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	for i, s := range svcs {
		taktest.WaitUntil(t, fmt.Sprintf("every write at instance %d", i), 10*time.Second, func() bool {
			subs, _, err := s.Subscriptions(jpnOp, "op-shared")
			logs, _ := s.Logs(jpnOp, "op-shared")
			return err == nil && len(subs) == n+1 && len(logs) == n
		})
	}
}

// TestSharedStaleWriteRefused: a write that does not hold the cluster's
// write lock and would overwrite a newer state writes nothing.
func TestSharedStaleWriteRefused(t *testing.T) {
	svcs, _ := sharedServices(t, 2, time.Hour) // no polling: b stays stale
	ctx := context.Background()
	a, b := svcs[0], svcs[1]
	if _, _, err := a.Create(ctx, jpnOp, CreateRequest{Name: "op-a", Label: &shared}); err != nil {
		t.Fatal(err)
	}
	b.mu.Lock()
	err := b.save(ctx, "guid-b", &Mission{Name: "op-b", GUID: "guid-b", Label: shared, Subs: map[string]*Subscription{}})
	b.mu.Unlock()
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("stale write: %v, want ErrConflict", err)
	}
	// Through the API b takes the lock, reloads, and writes.
	if _, _, err := b.Create(ctx, jpnOp, CreateRequest{Name: "op-b", Label: &shared}); err != nil {
		t.Fatal(err)
	}
	if got := len(b.List(jpnOp)); got != 2 {
		t.Fatalf("b lists %d missions, want op-a and op-b", got)
	}
}

// TestSharedNoticesOnce: a content change made on one instance is
// announced by it at once and by the other after its reload, each to its
// own clients, once: the writer's own reload does not announce it again.
func TestSharedNoticesOnce(t *testing.T) {
	svcs, sinks := sharedServices(t, 2, 20*time.Millisecond)
	ctx := context.Background()
	if _, _, err := svcs[0].Create(ctx, jpnOp, CreateRequest{Name: "op-n", CreatorUID: "jpn-0", Label: &shared}); err != nil {
		t.Fatal(err)
	}
	if _, err := svcs[0].AddContents(ctx, jpnOp, "op-n", "jpn-0", []string{"shared-obj"}, nil); err != nil {
		t.Fatal(err)
	}
	var got [2]int
	taktest.WaitUntil(t, "the other instance's notice", 10*time.Second, func() bool {
		got[1] += len(sinks[1].take())
		return got[1] > 0
	})
	got[0] = len(sinks[0].take())
	// Both instances poll several times more: no notice comes again.
	svcs[0].mu.RLock()
	v := svcs[0].seen
	svcs[0].mu.RUnlock()
	if _, err := svcs[1].AddLog(ctx, jpnOp, LogRequest{Missions: []string{"op-n"}, Content: "marker"}); err != nil {
		t.Fatal(err)
	}
	taktest.WaitUntil(t, "instance 0 reloading the marker", 10*time.Second, func() bool {
		svcs[0].mu.RLock()
		defer svcs[0].mu.RUnlock()
		return svcs[0].seen > v
	})
	for i := range got {
		for _, ev := range sinks[i].take() {
			if ev.Type == TypeChange {
				got[i]++
			}
		}
	}
	if got != [2]int{1, 1} {
		t.Fatalf("change notices per instance %v, want one each", got)
	}
}
