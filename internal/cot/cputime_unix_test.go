//go:build unix

package cot

import "syscall"

// cpuSeconds is the CPU time this process has used, user and system. On a
// shared machine it measures a benchmark's cost better than wall time.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
