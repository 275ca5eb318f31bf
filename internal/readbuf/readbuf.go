// Package readbuf owns the read buffer that the stream splitters of cot
// (XML documents) and takproto (streaming frames) share: bytes are read
// straight into its free tail, the splitter consumes them from the front,
// and consumed bytes are dropped lazily, just before the next read, so
// slices already handed out stay valid until then.
package readbuf

import "bytes"

// Buffer holds stream bytes; Bytes()[:Done] are consumed.
type Buffer struct {
	b    []byte
	done int
}

// Bytes returns the held bytes, consumed ones included (they are the
// first Done).
func (r *Buffer) Bytes() []byte { return r.b }

// Done returns how many held bytes are consumed.
func (r *Buffer) Done() int { return r.done }

// SetDone marks the first n held bytes as consumed.
func (r *Buffer) SetDone(n int) { r.done = n }

// Consume marks n more bytes as consumed.
func (r *Buffer) Consume(n int) { r.done += n }

// Compact drops the consumed bytes and returns how many it dropped, so
// that the caller can shift offsets it keeps into the buffer. Slices of
// the buffer handed out before are invalid afterwards.
func (r *Buffer) Compact() int {
	d := r.done
	if d == 0 {
		return 0
	}
	n := copy(r.b, r.b[d:])
	r.b = r.b[:n]
	r.done = 0
	return d
}

// Append adds p after the held bytes; call Compact first.
func (r *Buffer) Append(p []byte) { r.b = append(r.b, p...) }

// Tail returns a free tail of at least n bytes to read into directly;
// call Commit with the count read. Call Compact first.
func (r *Buffer) Tail(n int) []byte {
	if cap(r.b)-len(r.b) < n {
		nb := make([]byte, len(r.b), 2*cap(r.b)+n)
		copy(nb, r.b)
		r.b = nb
	}
	return r.b[len(r.b):cap(r.b)]
}

// Commit extends the held bytes by n bytes written into the slice from
// Tail.
func (r *Buffer) Commit(n int) { r.b = r.b[:len(r.b)+n] }

// Buffered reports how many held bytes are not consumed.
func (r *Buffer) Buffered() int { return len(r.b) - r.done }

// Take removes and returns a copy of the bytes not consumed, and empties
// the buffer.
func (r *Buffer) Take() []byte {
	out := bytes.Clone(r.b[r.done:])
	r.b, r.done = r.b[:0], 0
	return out
}
