//go:build unix

package hub

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"kizuna/internal/label"
)

// BenchmarkPublish publishes from concurrent senders (one per GOMAXPROCS:
// run with -cpu 1,2) to N subscribers of three nations while one drainer
// takes every subscriber's queue each 5 ms, as write loops pausing to
// coalesce their writes do. ns/delivery is wall time per queued delivery;
// cpu-ns/delivery is the process's CPU time (user and system, the drainer
// included) per delivery, which a loaded machine inflates far less than
// wall time.
func BenchmarkPublish(b *testing.B) {
	for _, n := range []int{200, 800, 1600} {
		b.Run(fmt.Sprintf("subscribers=%d", n), func(b *testing.B) {
			h := New(1 << 16)
			nations := []string{"USA", "JPN", "KOR"}
			subs := make([]*Subscriber, n)
			for i := range subs {
				subs[i] = h.Subscribe(principal(nations[i%3]+":SECRET"), FormatXML, Options{})
			}
			stopDrain := drainEvery(subs, 5*time.Millisecond)
			var sender atomic.Uint64
			cpu0 := cpuTime(b)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				// Each sender is one of the subscribers, as a TAK client is.
				from := subs[int(sender.Add(1)*7919)%n].ID
				m := msg("bench", label.Label{Classification: label.Secret, Originator: "USA", ReleasableTo: []string{"JPN", "KOR"}}, from)
				for pb.Next() {
					h.Publish(m)
				}
			})
			b.StopTimer()
			cpu := cpuTime(b) - cpu0
			stopDrain()
			deliveries := float64(b.N * (n - 1))
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/deliveries, "ns/delivery")
			b.ReportMetric(float64(cpu.Nanoseconds())/deliveries, "cpu-ns/delivery")
		})
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime(tb testing.TB) time.Duration {
	tb.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkPublishFusedTrack publishes fused tracks spread over the load's
// theatre (30–40°N, 125–140°E) to 400 JPN:SECRET subscribers at one place
// (38.5°N, 129.7°E), with every subscriber's queue taken each 5 ms:
// scope=all is every track to every subscriber, scope=area the default
// of a TAK client (100 km around it). cpu-ns/track is the process's CPU
// time per published track, fan-out and queueing included.
func BenchmarkPublishFusedTrack(b *testing.B) {
	for _, scope := range []Scope{ScopeAll, ScopeArea} {
		b.Run("scope="+scope.String(), func(b *testing.B) {
			h := New(1 << 16)
			subs := make([]*Subscriber, 400)
			for i := range subs {
				subs[i] = h.Subscribe(principal("JPN:SECRET"), FormatXML, Options{})
				subs[i].SetScope(scope, 100_000)
				subs[i].SetCentre(38.5, 129.7)
			}
			stopDrain := drainEvery(subs, 5*time.Millisecond)
			l := label.Label{Classification: label.Unclassified, Originator: "JPN", ReleasableTo: []string{"JPN", "USA", "KOR"}}
			tracks := make([]*Message, 4096)
			for i := range tracks {
				tracks[i] = track(fmt.Sprintf("t%d", i), l, 30+10*float64(i%64)/64, 125+15*float64(i/64)/64)
			}
			cpu0 := cpuTime(b)
			enq0 := h.Stats.Enqueued.Load()
			b.ResetTimer()
			for i := range b.N {
				h.Publish(tracks[i%len(tracks)])
			}
			b.StopTimer()
			cpu := cpuTime(b) - cpu0
			stopDrain()
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/track")
			b.ReportMetric(float64(h.Stats.Enqueued.Load()-enq0)/float64(b.N), "deliveries/track")
		})
	}
}

// drainEvery empties every subscriber's queue each period, as write loops
// would, until the returned stop function is called (it waits for the
// drainer to end).
func drainEvery(subs []*Subscriber, period time.Duration) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		taken, cancel := context.WithCancel(context.Background())
		cancel() // Next returns at once on an empty queue
		tick := time.NewTicker(period)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			for _, s := range subs {
				s.Next(taken)
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}
