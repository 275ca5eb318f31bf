package stream

import (
	"testing"
	"time"
)

// TestCoalesceBudget: the pause between two writes to a busy connection is
// Coalesce until the connections would exceed the write budget at that
// pace, then connections / budget.
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
		{"800 connections", 80_000, 800, 10 * time.Millisecond},
		{"1,600 connections", 80_000, 1600, 20 * time.Millisecond},
		{"default budget, 200 connections", 32_000, 200, 6250 * time.Microsecond},
		{"default budget, 800 connections", 32_000, 800, 25 * time.Millisecond},
		{"default budget, 1,600 connections", 32_000, 1600, 50 * time.Millisecond},
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
