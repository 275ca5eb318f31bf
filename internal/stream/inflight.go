package stream

import (
	"net"

	"kizuna/internal/hub"
)

// Bounding the routine bytes in flight on a connection.
//
// A flash message (missile warning, emergency) jumps the subscriber's hub
// queue, but bytes the writer has already handed to the kernel cannot be
// overtaken: a warning waits behind the rest of the current write and
// behind whatever fills the socket's buffers. A write carries at most
// maxWrite bytes of routine traffic. When a batch taken from the queue is larger, the rest waits in
// the connection's outbox; before each further write the writer takes any
// flash traffic queued meanwhile and writes it first. Coalescing is kept:
// an ordinary batch (a few kilobytes every 5 ms at 800 clients) is far
// below the bound and goes out in one write as before.
//
// A smaller kernel send buffer (Config.SendBuffer) is available but off by
// default: with 64 KiB it made both fan-out and flash p99 worse at 800
// clients in two same-run comparisons (BENCHMARKS.md, issue 15). On
// loopback and fast links the routine bytes a slow reader has not read
// sit mostly in that reader's receive buffer, which the sender cannot
// bound, while a small send buffer parks the writer more often.

const (
	// DefaultSendBuffer is the SO_SNDBUF asked for on TCP client
	// connections (the kernel doubles it for its bookkeeping); negative
	// leaves the system default (autotuned).
	DefaultSendBuffer = -1
	// DefaultMaxWrite is the most routine bytes handed to the kernel in
	// one write.
	DefaultMaxWrite = 64 << 10
)

func boundSendBuffer(c *net.TCPConn, size int) {
	if size == 0 {
		size = DefaultSendBuffer
	}
	if size > 0 {
		_ = c.SetWriteBuffer(size) // best effort: the default buffer still works
	}
}

func maxWrite(n int) int {
	switch {
	case n == 0:
		return DefaultMaxWrite
	case n < 0:
		return int(^uint(0) >> 1)
	}
	return n
}

// outbox holds messages taken from the hub queue and not yet written:
// flash messages, always written first, and routine messages in queue
// order. It belongs to the connection's writer goroutine.
type outbox struct {
	max     int
	flash   []*hub.Message
	routine []*hub.Message
	head    int            // routine[:head] are written
	sent    []*hub.Message // the current write, until done
}

func (o *outbox) empty() bool { return len(o.flash) == 0 && o.head == len(o.routine) }

// add copies a batch from Subscriber.Next (valid only until the next call
// to Next). The hub queues flash messages ahead of routine ones, but the
// split does not rely on it.
func (o *outbox) add(batch []*hub.Message) {
	if o.head == len(o.routine) {
		clear(o.routine)
		o.routine = o.routine[:0]
		o.head = 0
	}
	for _, msg := range batch {
		if msg.Flash {
			o.flash = append(o.flash, msg)
		} else {
			o.routine = append(o.routine, msg)
		}
	}
}

// take picks the next write: every flash message, then routine messages
// until size (which encodes one message and returns its length in bytes)
// has reached max. At least one routine message is taken when there is no
// flash traffic, so that a message larger than max still goes out.
func (o *outbox) take(size func(*hub.Message) int) []*hub.Message {
	o.sent = o.sent[:0]
	for _, msg := range o.flash {
		size(msg)
		o.sent = append(o.sent, msg)
	}
	clear(o.flash)
	o.flash = o.flash[:0]
	total := 0
	for o.head < len(o.routine) && (total < o.max || len(o.sent) == 0) {
		msg := o.routine[o.head]
		o.routine[o.head] = nil
		o.head++
		total += size(msg)
		o.sent = append(o.sent, msg)
	}
	return o.sent
}

// done releases the messages of the current write.
func (o *outbox) done() {
	clear(o.sent)
	o.sent = o.sent[:0]
}
