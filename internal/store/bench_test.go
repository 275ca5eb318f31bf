package store

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"kizuna/internal/label"
	"kizuna/internal/taktest/cputime"
)

// benchXML is a typical position report as the hub stores it (~480 bytes).
var benchXML = []byte(`<event version="2.0" uid="ANDROID-0123456789abcdef" type="a-f-G-U-C" how="m-g" time="2026-11-27T09:00:00.000Z" start="2026-11-27T09:00:00.000Z" stale="2026-11-27T09:05:00.000Z" access="SECRET" releasableTo="JPN KOR USA"><point lat="35.6812" lon="139.7671" hae="40.0" ce="9.9" le="9999999.0"/><detail><contact callsign="VIPER-1" endpoint="*:-1:stcp"/><__group name="Cyan" role="Team Member"/><track course="87.5" speed="12.3"/><__origin nation="USA" node="usfj-1"/></detail></event>`)

func benchObjects(n int) []Object {
	out := make([]Object, n)
	now := time.Now().UTC()
	for i := range out {
		out[i] = Object{
			UID:      fmt.Sprintf("ANDROID-%016x", i),
			Type:     "a-f-G-U-C",
			Owner:    "USA",
			Label:    label.Label{Classification: label.Secret, ReleasableTo: []string{"JPN", "KOR", "USA"}, Originator: "USA"},
			Time:     now,
			Stale:    now.Add(5 * time.Minute),
			Lat:      35.6812,
			Lon:      139.7671,
			HAE:      40,
			Callsign: fmt.Sprintf("VIPER-%d", i),
			XML:      benchXML,
		}
	}
	return out
}

// BenchmarkPut measures the hot-path cost of Put: alone, with no flusher,
// so the pending history ring fills and then overwrites its oldest rows
// ("alone"); while the flusher runs ("flushing"); and while another
// connection holds the write lock so that no flush can commit ("stalled").
func BenchmarkPut(b *testing.B) {
	for _, mode := range []string{"alone", "flushing", "stalled"} {
		b.Run(mode, func(b *testing.B) {
			dir := b.TempDir()
			s := openStore(b, Config{Dir: dir})
			if mode != "alone" {
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error, 1)
				go func() { done <- s.Run(ctx) }()
				b.Cleanup(func() { cancel(); <-done })
			}
			if mode == "stalled" {
				db, err := OpenSQLite(filepath.Join(dir, FileName))
				if err != nil {
					b.Fatal(err)
				}
				tx, err := db.Begin()
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { tx.Rollback(); db.Close() }) // runs before Run is stopped
			}
			objs := benchObjects(1000)
			b.ReportAllocs()
			b.ResetTimer()
			c0 := cputime.Process()
			for i := 0; b.Loop(); i++ {
				s.Put(objs[i%len(objs)])
			}
			if mode == "alone" { // nothing else runs: the process's CPU time is Put's
				b.ReportMetric(float64(cputime.Process()-c0)/float64(b.N), "cpu-ns/op")
			}
		})
	}
}

// BenchmarkPutParallel is BenchmarkPut from every core at once.
func BenchmarkPutParallel(b *testing.B) {
	s := openStore(b, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	b.Cleanup(func() { cancel(); <-done })
	objs := benchObjects(1000)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			s.Put(objs[i%len(objs)])
			i++
		}
	})
}

// BenchmarkFlush measures one flush transaction of n objects (each an
// object upsert plus a history row). One op is one flush; n=2000 is a
// 200 ms batch at 10k objects/s.
func BenchmarkFlush(b *testing.B) {
	for _, n := range []int{100, 1000, 2000} {
		b.Run(fmt.Sprintf("objects=%d", n), func(b *testing.B) {
			s := openStore(b, Config{})
			objs := benchObjects(n)
			ctx := context.Background()
			var cpu time.Duration
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				b.StopTimer()
				for i := range objs {
					s.Put(objs[i])
				}
				c0 := cputime.Process()
				b.StartTimer()
				if err := s.Flush(ctx); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				cpu += cputime.Process() - c0
				b.StartTimer()
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/flush")
			b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/flush")
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "objects/s")
		})
	}
}

// BenchmarkSustained10k Puts 10,000 objects per second in real time (100
// every 10 ms, over 5,000 uids) with the flusher running at its default
// interval, and reports the mean flush time per batch and the backlog.
// One op is one second of load.
func BenchmarkSustained10k(b *testing.B) {
	s := openStore(b, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	objs := benchObjects(5000)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	i := 0
	maxPending := 0
	for b.Loop() {
		for range 100 {
			<-tick.C
			for range 100 {
				s.Put(objs[i%len(objs)])
				i++
			}
			maxPending = max(maxPending, s.Stats().PendingHistory)
		}
	}
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	st := s.Stats()
	if st.Flushes > 0 {
		b.ReportMetric(float64(st.FlushTime.Microseconds())/1000/float64(st.Flushes), "ms/flush")
		b.ReportMetric(float64(st.FlushedHistory)/float64(st.Flushes), "rows/flush")
	}
	b.ReportMetric(float64(maxPending), "max-pending")
	b.ReportMetric(float64(st.DroppedHistory), "dropped")
}
