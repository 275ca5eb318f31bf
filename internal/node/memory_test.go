package node

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"testing"
	"time"

	"kizuna/internal/cot"
)

// BenchmarkMemoryPerObject measures the heap held per live object: typical
// ATAK position reports (contact, group, takv, track, status) go through
// the full ingest path into the picture and storage queue, and the heap
// grows by bytes/object.
func BenchmarkMemoryPerObject(b *testing.B) {
	const objects = 20000
	cfg := baseConfig([]string{"USA:SECRET"}, nil)
	cfg.DataDir = b.TempDir()
	n, err := New(cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer n.Shutdown(context.Background())
	now := time.Now().UTC()
	doc := func(i int) []byte {
		return fmt.Appendf(nil, `<event version="2.0" uid="ANDROID-%016x" type="a-f-G-U-C" how="h-e" time="%s" start="%s" stale="%s" access="SECRET" releasableTo="JPN KOR"><point lat="35.%d" lon="139.%d" hae="25.1" ce="9.9" le="9999999.0"/><detail><takv os="34" version="5.2.0.4 (abcdef12)[playstore].1712345678-CIV" device="SAMSUNG SM-S918B" platform="ATAK-CIV"/><contact endpoint="*:-1:stcp" callsign="UNIT-%d"/><uid Droid="UNIT-%d"/><precisionlocation altsrc="GPS" geopointsrc="GPS"/><__group role="Team Member" name="Cyan"/><status battery="87"/><track course="123.4" speed="1.2"/></detail></event>`,
			i, now.Format(time.RFC3339), now.Format(time.RFC3339), now.Add(time.Hour).Format(time.RFC3339), i, i, i, i)
	}
	// Flush storage so its pending queue does not count.
	settle := func() uint64 {
		n.store.Flush(context.Background())
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	b.ResetTimer()
	for it := 0; it < b.N; it++ {
		before := settle()
		for i := 0; i < objects; i++ {
			if i%1000 == 999 {
				// As the flusher does every 200 ms, so that the storage
				// queue stays at its working size.
				n.store.Flush(context.Background())
			}
			ev, err := cot.Decode(doc(it*objects + i))
			if err != nil {
				b.Fatal(err)
			}
			ev.Origin = cot.Origin{Nation: "USA", Node: n.cfg.NodeID}
			l, _, _ := ev.ParseLabel()
			ev.SetLabel(l)
			if err := n.accept(ev, l, "USA", 0); err != nil {
				b.Fatal(err)
			}
		}
		after := settle()
		if f := os.Getenv("KIZUNA_HEAPPROFILE"); f != "" {
			out, _ := os.Create(f)
			pprof.WriteHeapProfile(out)
			out.Close()
		}
		b.ReportMetric(float64(after-before)/objects, "bytes/object")
	}
}
