package node

import "sync"

// uidOrder keeps, per uid, the stream position of the last event of that
// uid this instance delivered from the stream, so that an older event is
// never delivered after a newer one. NATS 2.9 gives one filter per
// consumer, so an instance reads the stream through several consumers
// (one per level, one per served nation's release token); each is in
// stream order, but two of them are not ordered with each other: when a
// uid's label moves it from one filter to another, its next event can
// arrive through the other consumer before the previous one. The memory
// is bounded: two generations of at most max uids each; a uid forgotten
// (more than max others changed since its last event) is accepted as if
// new, and a position more than maxReorder below the last one (a stream
// recreated, numbering from 1 again) is taken as new too.
type uidOrder struct {
	mu       sync.Mutex
	max      int
	cur, old map[string]uint64
	dropped  uint64
}

// maxReorder is the largest distance, in stream positions, at which an
// event counts as older than the last one delivered: consumers lag each
// other by far less.
const maxReorder = 1 << 24

func newUIDOrder(max int) *uidOrder {
	return &uidOrder{max: max, cur: make(map[string]uint64, max)}
}

// fresh records seq for uid and reports whether it is newer than every
// position delivered for uid before (0: unknown position, always fresh).
func (o *uidOrder) fresh(uid string, seq uint64) bool {
	if seq == 0 {
		return true
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	last, ok := o.cur[uid]
	if !ok {
		last, ok = o.old[uid]
	}
	if ok && seq <= last && last-seq < maxReorder {
		o.dropped++
		return false
	}
	if len(o.cur) >= o.max {
		if _, in := o.cur[uid]; !in {
			o.old, o.cur = o.cur, make(map[string]uint64, o.max)
		}
	}
	o.cur[uid] = seq
	return true
}

// Dropped counts the events refused as older than one delivered.
func (o *uidOrder) Dropped() uint64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.dropped
}
