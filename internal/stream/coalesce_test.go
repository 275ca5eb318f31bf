package stream

import (
	"testing"
	"time"
)

// TestCoalesceBudget: the pause between two writes to a busy connection is
// Coalesce until the connections would exceed the write budget at that
// pace, then connections / budget up to the 25 ms knee, then its square
// over the knee.
func TestCoalesceBudget(t *testing.T) {
	tests := []struct {
		name   string
		budget int
		conns  int64
		want   time.Duration
	}{
		{"no budget", 0, 5000, 5 * time.Millisecond},
		{"within budget", 80_000, 200, 5 * time.Millisecond},
		{"at the budget", 80_000, 400, 5 * time.Millisecond},
		{"800 connections, budget 80,000", 80_000, 800, 10 * time.Millisecond},
		{"1,600 connections, budget 80,000", 80_000, 1600, 20 * time.Millisecond},
		{"default budget, 200 connections", 32_000, 200, 6250 * time.Microsecond},
		{"default budget, 400 connections", 32_000, 400, 12500 * time.Microsecond},
		{"default budget, 800 connections: the knee", 32_000, 800, 25 * time.Millisecond},
		{"default budget, 1,200 connections", 32_000, 1200, 56250 * time.Microsecond},
		{"default budget, 1,600 connections", 32_000, 1600, 100 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &Server{cfg: Config{Coalesce: 5 * time.Millisecond, WriteBudget: tc.budget}}
			s.nconns.Store(tc.conns)
			if got := s.coalesce(); got != tc.want {
				t.Errorf("coalesce() = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestAdaptChunk: a write cap grows while full chunks are taken at once,
// never beyond maxChunkGrowth × the configured chunk, and falls back to it
// after a write that waited for the peer.
func TestAdaptChunk(t *testing.T) {
	const base = 64 << 10
	tests := []struct {
		name        string
		chunk, size int
		took        time.Duration
		want        int
	}{
		{"full chunk taken at once doubles", base, base, 100 * time.Microsecond, 2 * base},
		{"keeps growing", 2 * base, 2 * base, 100 * time.Microsecond, 4 * base},
		{"stops at the bound", 4 * base, 4 * base, 100 * time.Microsecond, 4 * base},
		{"a smaller write keeps the cap", 2 * base, 10 << 10, 100 * time.Microsecond, 2 * base},
		{"a write that waited for the peer resets", 4 * base, 4 * base, 20 * time.Millisecond, base},
		{"a small write that waited resets too", 2 * base, 1 << 10, 20 * time.Millisecond, base},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := adaptChunk(tc.chunk, base, tc.size, tc.took); got != tc.want {
				t.Errorf("adaptChunk(%d, %d, %d, %v) = %d, want %d", tc.chunk, base, tc.size, tc.took, got, tc.want)
			}
		})
	}
}
