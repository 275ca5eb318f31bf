package mission

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5/stdlib"

	"kizuna/internal/clustertest"
	"kizuna/internal/label"
	"kizuna/internal/pgstore"
)

// BenchmarkAddContents files one object per operation in a mission with
// 200 subscribers of two nations (a durable SQLite commit, the per-view
// recipient filter and one directed notice each).
func BenchmarkAddContents(b *testing.B) {
	benchAddContents(b, Config{DBPath: filepath.Join(b.TempDir(), "m.db")})
}

// BenchmarkAddContentsShared is BenchmarkAddContents in cluster mode: the
// cluster's write lock, the version check and the commit in PostgreSQL.
func BenchmarkAddContentsShared(b *testing.B) {
	pg, err := pgstore.Open(context.Background(), pgstore.Config{URL: clustertest.Postgres(b)})
	if err != nil {
		b.Fatal(err)
	}
	defer pg.Close()
	benchAddContents(b, Config{DBPath: "unused", Shared: func() *sql.DB { return stdlib.OpenDBFromPool(pg.Pool()) }})
}

func benchAddContents(b *testing.B, cfg Config) {
	objs := fakeObjects{}
	for i := 0; i < b.N; i++ {
		objs[fmt.Sprintf("o-%d", i)] = Object{Type: "a-f-G", Label: shared}
	}
	sk := &sink{}
	cfg.NodeID, cfg.Objects, cfg.Publisher = "n", objs, sk
	svc, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := svc.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer svc.Stop(ctx)
	jp := label.Principal{Nation: "JPN", Clearance: label.Secret, Name: "a"}
	if _, _, err := svc.Create(ctx, jp, CreateRequest{Name: "bench", Label: &label.Label{Classification: label.Secret, ReleasableTo: []string{"KOR"}}}); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < 200; i++ {
		p := label.Principal{Nation: []string{"JPN", "KOR"}[i%2], Clearance: label.Secret, Name: fmt.Sprint(i)}
		if _, err := svc.Subscribe(ctx, p, "bench", fmt.Sprintf("c-%d", i), ""); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := svc.AddContents(ctx, jp, "bench", "", []string{fmt.Sprintf("o-%d", i)}, nil); err != nil {
			b.Fatal(err)
		}
		sk.take()
		sk.takeFed()
	}
}
