package modes

import (
	"syscall"
	"testing"
	"time"
)

// cpuTime returns the CPU time (user + system) this process has used. On a
// shared machine the wall-clock rate understates what one core does, so
// the benchmarks also report messages per CPU-second.
func cpuTime(tb testing.TB) time.Duration {
	tb.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportRates reports msgs/s (wall clock) and msgs/cpu-s for n messages
// decoded since the CPU time start.
func reportRates(b *testing.B, n int, start time.Duration) {
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "msgs/s")
	if cpu := cpuTime(b) - start; cpu > 0 {
		b.ReportMetric(float64(n)/cpu.Seconds(), "msgs/cpu-s")
	}
}
