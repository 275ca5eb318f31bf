package stream

import (
	"strconv"
	"testing"

	"kizuna/internal/hub"
)

func TestOutboxBoundsRoutineBytesAndPutsFlashFirst(t *testing.T) {
	msg := func(id int, flash bool) *hub.Message {
		return &hub.Message{Kind: hub.KindEvent, Flash: flash, UID: strconv.Itoa(id)}
	}
	size := func(*hub.Message) int { return 1000 }
	ids := func(ms []*hub.Message) []string {
		var out []string
		for _, m := range ms {
			out = append(out, m.UID)
		}
		return out
	}
	tests := []struct {
		name  string
		max   int
		batch []*hub.Message
		later []*hub.Message // queued after the first write
		want  [][]string     // successive writes
	}{
		{"small batch in one write", 10_000, []*hub.Message{msg(1, false), msg(2, false)}, nil,
			[][]string{{"1", "2"}}},
		{"large batch split", 2_000, []*hub.Message{msg(1, false), msg(2, false), msg(3, false), msg(4, false), msg(5, false)}, nil,
			[][]string{{"1", "2"}, {"3", "4"}, {"5"}}},
		{"message larger than the bound still goes", 500, []*hub.Message{msg(1, false), msg(2, false)}, nil,
			[][]string{{"1"}, {"2"}}},
		{"flash queued behind a split batch overtakes it", 2_000,
			[]*hub.Message{msg(1, false), msg(2, false), msg(3, false), msg(4, false), msg(5, false)},
			[]*hub.Message{msg(9, true), msg(6, false)},
			[][]string{{"1", "2"}, {"9", "3", "4"}, {"5", "6"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := outbox{max: tt.max}
			o.add(tt.batch)
			var got [][]string
			for i := 0; !o.empty(); i++ {
				got = append(got, ids(o.take(size)))
				o.done()
				if i == 0 && tt.later != nil {
					o.add(tt.later)
				}
				if i > 100 {
					t.Fatal("outbox never empties")
				}
			}
			if len(got) != len(tt.want) {
				t.Fatalf("writes %v, want %v", got, tt.want)
			}
			for i := range got {
				if len(got[i]) != len(tt.want[i]) {
					t.Fatalf("writes %v, want %v", got, tt.want)
				}
				for j := range got[i] {
					if got[i][j] != tt.want[i][j] {
						t.Fatalf("writes %v, want %v", got, tt.want)
					}
				}
			}
		})
	}
}
