package cli

import (
	"log/slog"
	"os"
	"runtime"
)

// setProcs sets the Go processors of a node process (node.Config.Procs):
// n, or when n is 0 twice the CPUs the process may use, unless the
// GOMAXPROCS environment variable is set. More processors than cores
// means an idle processor is usually at hand to poll the network, so a
// connection that becomes readable while every core is busy is served
// within microseconds; the kernel time-slices the extra threads.
func setProcs(n int, log *slog.Logger) {
	if n == 0 {
		if os.Getenv("GOMAXPROCS") != "" {
			return
		}
		n = 2 * runtime.GOMAXPROCS(0)
	}
	prev := runtime.GOMAXPROCS(n)
	log.Debug("Go processors set", "procs", n, "was", prev)
}
