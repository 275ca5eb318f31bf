package cli

import (
	"log/slog"
	"runtime"
)

// setProcs sets the Go processors of a node process (node.Config.Procs)
// when n is positive; 0 leaves Go's own choice (the CPUs the process may
// use, or the GOMAXPROCS environment variable).
func setProcs(n int, log *slog.Logger) {
	if n <= 0 {
		return
	}
	prev := runtime.GOMAXPROCS(n)
	log.Info("Go processors set", "procs", n, "was", prev)
}
