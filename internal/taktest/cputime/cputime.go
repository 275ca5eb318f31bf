// Package cputime measures the CPU time of the test process, for
// benchmarks on shared machines: there the wall-clock rate understates
// what one core does, so benchmarks also report work per CPU-second. It
// imports nothing of Kizuna, so every package's tests may use it.
package cputime

import (
	"testing"
	"time"
)

// Report reports n units of work done since the CPU time start (a value
// of Process) as unit/s over the benchmark's wall clock and unit/cpu-s.
func Report(b *testing.B, n int, start time.Duration, unit string) {
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), unit+"/s")
	if cpu := Process() - start; cpu > 0 {
		b.ReportMetric(float64(n)/cpu.Seconds(), unit+"/cpu-s")
	}
}

// Rate is Report for a whole benchmark loop: call it before the loop and
// call the function it returns after, to report b.N units as unit/s and
// unit/cpu-s (CPU time of the whole process, garbage collection included).
func Rate(b *testing.B, unit string) func() {
	start := Process()
	return func() { Report(b, b.N, start, unit) }
}
