package cli

import (
	"log/slog"
	"runtime"
	"testing"
)

func TestSetProcs(t *testing.T) {
	base := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(base) })
	for _, tc := range []struct {
		name string
		n    int
		want int
	}{
		{"0 leaves Go's choice", 0, base},
		{"an explicit count", 2*base + 1, 2*base + 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runtime.GOMAXPROCS(base)
			setProcs(tc.n, slog.New(slog.DiscardHandler))
			if got := runtime.GOMAXPROCS(0); got != tc.want {
				t.Errorf("GOMAXPROCS = %d, want %d", got, tc.want)
			}
		})
	}
}
