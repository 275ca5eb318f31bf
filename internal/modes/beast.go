package modes

// Beast binary frame types. Mode S frames (short and long) go to Decode;
// Mode A/C replies carry no address and are left to the caller.
const (
	BeastModeAC     = '1' // Mode A/C reply, 2 bytes
	BeastModeSShort = '2' // Mode S short frame, 7 bytes
	BeastModeSLong  = '3' // Mode S long frame, 14 bytes
)

const (
	beastStatus = '4' // Radarcape receiver status, 14 bytes (skipped)
	beastEscape = 0x1a
)

// BeastFrame is one record of a Beast binary stream.
type BeastFrame struct {
	Type      byte   // BeastModeAC, BeastModeSShort or BeastModeSLong
	Timestamp uint64 // 48-bit 12 MHz receiver clock
	Signal    byte   // signal level
	Data      []byte // 2, 7 or 14 bytes; valid until the next call to Next or Feed
}

// DefaultBeastBuffer is the default bound on bytes a BeastReader holds.
const DefaultBeastBuffer = 64 << 10

// BeastReader splits a Beast binary byte stream (dump1090 port 30005) into
// frames. Feed it bytes as they arrive and call Next until it reports no
// complete frame. Escaped 0x1a bytes are unescaped; garbage, unknown
// record types and records cut short by a new record start are skipped
// (counted by Skipped) and the reader resynchronises on the next 0x1a.
// It holds at most its buffer limit; when Feed would exceed it the oldest
// unread bytes are discarded. Not safe for concurrent use.
type BeastReader struct {
	buf     []byte
	r       int // read offset into buf
	max     int
	frame   [22]byte
	skipped uint64
}

// NewBeastReader returns a reader holding at most maxBuffer unread bytes
// (DefaultBeastBuffer when ≤ 0).
func NewBeastReader(maxBuffer int) *BeastReader {
	if maxBuffer <= 0 {
		maxBuffer = DefaultBeastBuffer
	}
	if maxBuffer < 64 {
		maxBuffer = 64
	}
	return &BeastReader{max: maxBuffer}
}

// Skipped returns how many input bytes were discarded while resynchronising
// or to respect the buffer limit.
func (r *BeastReader) Skipped() uint64 { return r.skipped }

// Buffered returns the number of unread bytes held.
func (r *BeastReader) Buffered() int { return len(r.buf) - r.r }

// Feed appends stream bytes.
func (r *BeastReader) Feed(p []byte) {
	if len(p) >= r.max {
		// Only the newest max bytes can be kept.
		r.skipped += uint64(len(r.buf)-r.r) + uint64(len(p)-r.max)
		r.buf = append(r.buf[:0], p[len(p)-r.max:]...)
		r.r = 0
		return
	}
	if unread := len(r.buf) - r.r; unread+len(p) > r.max {
		drop := unread + len(p) - r.max
		r.skipped += uint64(drop)
		r.r += drop
	}
	if r.r > 0 {
		n := copy(r.buf, r.buf[r.r:])
		r.buf = r.buf[:n]
		r.r = 0
	}
	r.buf = append(r.buf, p...)
}

// Next returns the next complete frame. ok is false when more input is
// needed.
func (r *BeastReader) Next() (f BeastFrame, ok bool) {
	for {
		b := r.buf[r.r:]
		// Find a record start.
		i := 0
		for i < len(b) && b[i] != beastEscape {
			i++
		}
		if i > 0 {
			r.skipped += uint64(i)
			r.r += i
			b = b[i:]
		}
		if len(b) < 2 {
			return f, false
		}
		typ := b[1]
		var dataLen int
		switch typ {
		case BeastModeAC:
			dataLen = 2
		case BeastModeSShort:
			dataLen = 7
		case BeastModeSLong, beastStatus:
			dataLen = 14
		default:
			// An escaped 0x1a outside a record, or an unknown type:
			// skip the marker and look for the next record.
			r.skipped++
			r.r++
			continue
		}
		n := 6 + 1 + dataLen
		j := 2
		k := 0
		broken := false
		for k < n {
			if j >= len(b) {
				return f, false // incomplete record
			}
			c := b[j]
			if c == beastEscape {
				if j+1 >= len(b) {
					return f, false
				}
				if b[j+1] != beastEscape {
					broken = true // a new record starts inside this one
					break
				}
				j++
			}
			r.frame[k] = c
			k++
			j++
		}
		if broken {
			r.skipped += uint64(j)
			r.r += j
			continue
		}
		r.r += j
		if typ == beastStatus {
			continue
		}
		var ts uint64
		for _, c := range r.frame[:6] {
			ts = ts<<8 | uint64(c)
		}
		return BeastFrame{Type: typ, Timestamp: ts, Signal: r.frame[6], Data: r.frame[7:n]}, true
	}
}
