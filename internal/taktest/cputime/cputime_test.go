package cputime

import (
	"runtime"
	"testing"
)

func TestProcessAdvances(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
		t.Skip("no rusage")
	}
	start := Process()
	x := 0
	for i := range 50_000_000 {
		x ^= i
	}
	_ = x
	if Process() <= start {
		t.Fatalf("CPU time did not advance: %v then %v", start, Process())
	}
}
