package federation

import "sync"

// DedupWindow is how many origin sequence numbers below the highest seen
// from an origin are remembered exactly. An event older than the window
// counts as a duplicate. It is far larger than any queue can lag by
// (queues are bounded by MaxQueue per hop).
const DedupWindow = 1 << 20

// window remembers which sequence numbers of one origin were seen: the
// highest, and a bitmap of the DedupWindow below it.
type window struct {
	high uint64
	bits []uint64
}

func newWindow() *window { return &window{bits: make([]uint64, DedupWindow/64)} }

func (w *window) seen(seq uint64) bool {
	if seq > w.high {
		return false
	}
	if w.high-seq >= DedupWindow {
		return true
	}
	i := seq % DedupWindow
	return w.bits[i/64]&(1<<(i%64)) != 0
}

func (w *window) add(seq uint64) {
	if seq > w.high {
		if seq-w.high >= DedupWindow {
			clear(w.bits)
		} else {
			for s := w.high + 1; s < seq; s++ {
				i := s % DedupWindow
				w.bits[i/64] &^= 1 << (i % 64)
			}
		}
		w.high = seq
	} else if w.high-seq >= DedupWindow {
		return
	}
	i := seq % DedupWindow
	w.bits[i/64] |= 1 << (i % 64)
}

// floor is the lowest sequence number still remembered exactly.
func (w *window) floor() uint64 {
	if w.high < DedupWindow {
		return 0
	}
	return w.high - DedupWindow + 1
}

// remove forgets seq (an event that was not taken after all).
func (w *window) remove(seq uint64) {
	if seq > w.high || w.high-seq >= DedupWindow {
		return
	}
	i := seq % DedupWindow
	w.bits[i/64] &^= 1 << (i % 64)
}

// Dedup is the duplicate windows of a node: per origin node and epoch,
// the origin sequence numbers already taken. A federation makes its own
// unless Config.Dedup gives one to share.
type Dedup struct {
	mu      sync.Mutex
	windows map[windowKey]*window
}

// NewDedup returns empty windows.
func NewDedup() *Dedup { return &Dedup{windows: map[windowKey]*window{}} }
