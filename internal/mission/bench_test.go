package mission

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"kizuna/internal/label"
)

// BenchmarkAddContents files one object per operation in a mission with
// 200 subscribers of two nations (a durable SQLite commit, the per-view
// recipient filter and one directed notice each).
func BenchmarkAddContents(b *testing.B) {
	objs := fakeObjects{}
	for i := 0; i < b.N; i++ {
		objs[fmt.Sprintf("o-%d", i)] = Object{Type: "a-f-G", Label: shared}
	}
	sk := &sink{}
	svc, err := New(Config{DBPath: filepath.Join(b.TempDir(), "m.db"), NodeID: "n", Objects: objs, Publisher: sk})
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
