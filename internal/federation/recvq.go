package federation

import "sync"

// recvQueue holds the routine events read off one connection ahead of
// their handling, bounded in bytes. With it the reader keeps draining the
// socket while the node takes its time over routine events, so that a
// flash event behind them is read, and handled, as soon as it arrives
// instead of after everything the kernel buffered in front of it. Once
// the bound is reached the reader waits: the kernel, then the peer's
// MaxInFlight, hold the rest.
type recvQueue struct {
	mu    sync.Mutex
	items []recvItem
	head  int
	bytes int
	max   int
	ready chan struct{} // an event was pushed
	space chan struct{} // an event was taken
}

type recvItem struct {
	e *Event
	n int // its frame's size
}

func newRecvQueue(max int) *recvQueue {
	return &recvQueue{max: max, ready: make(chan struct{}, 1), space: make(chan struct{}, 1)}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// push queues e (n bytes), waiting while the queue is full; it reports
// false if done closed first. One event larger than the bound is taken
// when the queue is empty.
func (q *recvQueue) push(e *Event, n int, done <-chan struct{}) bool {
	for {
		q.mu.Lock()
		if q.bytes == 0 || q.bytes+n <= q.max {
			q.items = append(q.items, recvItem{e: e, n: n})
			q.bytes += n
			q.mu.Unlock()
			signal(q.ready)
			return true
		}
		q.mu.Unlock()
		select {
		case <-q.space:
		case <-done:
			return false
		}
	}
}

// pop takes the oldest event, waiting for one; it reports false once
// done is closed (what is left was not marked received: the peer sends it
// again).
func (q *recvQueue) pop(done <-chan struct{}) (*Event, bool) {
	for {
		select {
		case <-done:
			return nil, false
		default:
		}
		q.mu.Lock()
		if q.head < len(q.items) {
			it := q.items[q.head]
			q.items[q.head] = recvItem{}
			q.head++
			if q.head == len(q.items) {
				q.items, q.head = q.items[:0], 0
			}
			q.bytes -= it.n
			q.mu.Unlock()
			signal(q.space)
			return it.e, true
		}
		q.mu.Unlock()
		select {
		case <-q.ready:
		case <-done:
			return nil, false
		}
	}
}
