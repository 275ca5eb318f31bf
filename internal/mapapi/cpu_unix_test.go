//go:build unix

package mapapi

import (
	"syscall"
	"time"
)

// processCPU returns the user plus system CPU time the process has used, so
// that benchmarks can report cost independent of how busy the machine is.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
