package node

import (
	"fmt"
	"testing"
)

func TestUIDOrder(t *testing.T) {
	type step struct {
		uid  string
		seq  uint64
		want bool
	}
	tests := []struct {
		name  string
		max   int
		steps []step
	}{
		{"in order", 4, []step{{"a", 1, true}, {"a", 2, true}, {"a", 5, true}}},
		{"older after newer dropped", 4, []step{{"a", 7, true}, {"a", 3, false}, {"a", 8, true}}},
		{"same position twice dropped", 4, []step{{"a", 7, true}, {"a", 7, false}}},
		{"uids independent", 4, []step{{"a", 7, true}, {"b", 3, true}, {"a", 4, false}}},
		{"unknown position always fresh", 4, []step{{"a", 7, true}, {"a", 0, true}, {"a", 6, false}}},
		{"kept one generation back", 2, []step{{"a", 9, true}, {"b", 10, true}, {"c", 11, true}, {"a", 5, false}}},
		{"forgotten after two generations", 2, []step{{"a", 9, true}, {"b", 10, true}, {"c", 11, true}, {"d", 12, true}, {"e", 13, true}, {"a", 5, true}}},
		{"recreated stream counts as new", 2, []step{{"a", maxReorder + 100, true}, {"a", 1, true}, {"a", 2, true}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := newUIDOrder(tc.max)
			for i, s := range tc.steps {
				if got := o.fresh(s.uid, s.seq); got != s.want {
					t.Fatalf("step %d fresh(%s, %d) = %v, want %v", i, s.uid, s.seq, got, s.want)
				}
			}
		})
	}
}

func TestUIDOrderBounded(t *testing.T) {
	o := newUIDOrder(100)
	for i := range 10_000 {
		o.fresh(fmt.Sprintf("u%d", i), uint64(i+1))
	}
	if n := len(o.cur) + len(o.old); n > 200 {
		t.Fatalf("%d uids remembered, want at most 200", n)
	}
}
