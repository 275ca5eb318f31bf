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
		env  string
		want int
	}{
		{"default is twice the CPUs", 0, "", 2 * base},
		{"GOMAXPROCS in the environment wins over the default", 0, "3", base},
		{"an explicit count", 3, "", 3},
		{"an explicit count wins over the environment", 5, "3", 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runtime.GOMAXPROCS(base)
			t.Setenv("GOMAXPROCS", tc.env)
			setProcs(tc.n, slog.New(slog.DiscardHandler))
			if got := runtime.GOMAXPROCS(0); got != tc.want {
				t.Errorf("GOMAXPROCS = %d, want %d", got, tc.want)
			}
		})
	}
}
