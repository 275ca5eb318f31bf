package node

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"kizuna/internal/cot"
	"kizuna/internal/label"
)

// BenchmarkIngest measures the ingest rules (label, ownership, write-down,
// namespaces) and publication of position reports from a client, with no
// subscribers: 1,000 uids updated in turn, labelled and unlabelled.
func BenchmarkIngest(b *testing.B) {
	cfg := baseConfig(nil, nil)
	cfg.DataDir = b.TempDir()
	nd, err := New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	if err := nd.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		nd.Shutdown(ctx)
	})
	p := label.Principal{Nation: "USA", Clearance: label.Secret}
	const uids = 1000
	tmpl := make([]*cot.Event, uids)
	for i := range tmpl {
		attrs := ""
		if i%2 == 0 {
			attrs = `access="SECRET" releasableTo="USA JPN"`
		}
		tmpl[i] = event(fmt.Sprintf("bench-%d", i), "a-f-G-U-C", attrs)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		e := *tmpl[i%uids]
		if r := nd.ingestFrom(p, &e, 0); r != nil {
			b.Fatal(r)
		}
	}
}
