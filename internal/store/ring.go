package store

// ring is the queue of pending history rows: a circular buffer that grows
// by doubling up to a bound and then overwrites its oldest row, so that
// Put costs the same whether or not the flusher keeps up.
type ring struct {
	buf  []Object
	head int // index of the oldest row
	n    int // rows held
}

// push appends o, dropping the oldest row if the ring holds max rows
// already. It reports whether a row was dropped.
func (r *ring) push(o Object, max int) (dropped bool) {
	if r.n == len(r.buf) {
		if len(r.buf) >= max {
			r.buf[r.head] = o
			r.head++
			if r.head == len(r.buf) {
				r.head = 0
			}
			return true
		}
		r.grow(min(max, 2*len(r.buf)+64))
	}
	i := r.head + r.n
	if i >= len(r.buf) {
		i -= len(r.buf)
	}
	r.buf[i] = o
	r.n++
	return false
}

func (r *ring) grow(size int) {
	buf := make([]Object, size)
	r.copyTo(buf)
	r.buf, r.head = buf, 0
}

// copyTo copies the rows, oldest first, to dst, which must be long enough.
func (r *ring) copyTo(dst []Object) {
	k := copy(dst, r.buf[r.head:min(r.head+r.n, len(r.buf))])
	copy(dst[k:], r.buf[:r.n-k])
}

// at returns the i-th oldest row.
func (r *ring) at(i int) *Object {
	j := r.head + i
	if j >= len(r.buf) {
		j -= len(r.buf)
	}
	return &r.buf[j]
}

// reset empties the ring, releasing the rows' references. A buffer much
// larger than its last use is released too, so that one burst does not pin
// memory for good.
func (r *ring) reset() {
	if len(r.buf) > 4096 && r.n < len(r.buf)/4 {
		*r = ring{}
		return
	}
	clear(r.buf)
	r.head, r.n = 0, 0
}

// prepend puts older rows in front of r, keeping at most max rows (the
// newest), and returns how many were dropped.
func (r *ring) prepend(older *ring, max int) (dropped int) {
	all := make([]Object, older.n+r.n)
	older.copyTo(all)
	r.copyTo(all[older.n:])
	if over := len(all) - max; over > 0 {
		all = all[over:]
		dropped = over
	}
	buf := make([]Object, len(all), max)
	copy(buf, all)
	*r = ring{buf: buf[:len(all)], n: len(all)}
	return dropped
}
