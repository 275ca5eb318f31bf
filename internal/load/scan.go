package load

import (
	"bytes"
	"encoding/binary"
	"math"
)

// endTag closes a CoT event.
var endTag = []byte("</event>")

// frameMagic starts every TAK protocol streaming frame.
const frameMagic = 0xbf

// maxFrame is the largest frame or event the reader buffers; larger frames
// are skipped (they are not ours).
const maxFrame = 1 << 20

// tally is one reader's view of what it received. It scans received bytes
// without parsing XML or protobuf: it looks for this run's marker
// (<__load r="RUN" ts="…" c="…" s="…"/>), parses the send timestamp, the
// sender's index and sequence number by hand and records the latency of
// each event it sees for the first time. A tally belongs to a single
// goroutine; nothing in it is shared.
type tally struct {
	prefix []byte // `__load r="RUN" ts="`
	self   int64  // this client's index; its own events are echoes
	now    int64  // receive time of the current read, unix nanoseconds

	received   uint64      // distinct events of this run sent by another client
	duplicates uint64      // events of another client seen before (or too late to tell)
	echoes     uint64      // events of this run sent by this client
	malformed  uint64      // marker found but not parseable
	seen       []seqWindow // per sender
	skip       uint64      // bytes of an oversized frame still to skip
	hist       histogram

	onHit func(ts, client int64) // test hook, nil in production
}

func newTally(prefix []byte, self int64, clients int) *tally {
	return &tally{prefix: prefix, self: self, seen: make([]seqWindow, clients)}
}

// seqWindow remembers which of one sender's recent sequence numbers a
// reader has seen: the highest plus a bitmap of the 64 before it.
type seqWindow struct {
	next   uint64 // highest sequence number seen + 1
	window uint64 // bit i: sequence number next-1-i was seen
}

// add records seq and reports whether it is new. A sequence number more
// than 64 behind the highest is reported as not new: too late to tell.
func (w *seqWindow) add(seq uint64) bool {
	if seq >= w.next {
		if shift := seq + 1 - w.next; shift >= 64 {
			w.window = 0
		} else {
			w.window <<= shift
		}
		w.window |= 1
		w.next = seq + 1
		return true
	}
	back := w.next - 1 - seq
	if back >= 64 || w.window&(1<<back) != 0 {
		return false
	}
	w.window |= 1 << back
	return true
}

// markerPrefix returns the bytes that start the marker of run id, after its
// '<': the search skips from one '_' to the next, which is much rarer in CoT
// than '<'.
func markerPrefix(run string) []byte {
	return []byte(`__load r="` + run + `" ts="`)
}

// scanXML scans a CoT XML stream. It records every complete event holding
// the marker and returns how many leading bytes of buf are done with; the
// caller keeps the rest and presents it again, followed by newly read bytes.
func (t *tally) scanXML(buf []byte) int {
	pos := 0
	for {
		i := bytes.Index(buf[pos:], t.prefix)
		if i < 0 {
			// Keep what could be the start of a marker cut by the read.
			if keep := len(t.prefix) - 1; len(buf)-pos > keep {
				return len(buf) - keep
			}
			return pos
		}
		body := pos + i + len(t.prefix)
		e := bytes.Index(buf[body:], endTag)
		if e < 0 {
			return pos + i // the event is not complete yet
		}
		t.hit(buf[body : body+e])
		pos = body + e + len(endTag)
	}
}

// scanFrames scans a TAK protocol streaming stream (0xbf, varint length,
// TakMessage). It records every frame whose payload holds the marker and
// returns how many leading bytes of buf are done with. Bytes between frames
// (goatak writes a stray 0x00 after each) are skipped by resyncing on 0xbf.
func (t *tally) scanFrames(buf []byte) int {
	pos := 0
	for pos < len(buf) {
		if t.skip > 0 {
			k := min(t.skip, uint64(len(buf)-pos))
			pos += int(k)
			t.skip -= k
			continue
		}
		if buf[pos] != frameMagic {
			i := bytes.IndexByte(buf[pos:], frameMagic)
			if i < 0 {
				return len(buf)
			}
			pos += i
		}
		n, w := binary.Uvarint(buf[pos+1:])
		if w == 0 {
			return pos // length not complete yet
		}
		if w < 0 {
			pos++ // not a frame start after all: resync
			continue
		}
		start := pos + 1 + w
		if n > maxFrame {
			t.skip = n
			pos = start
			continue
		}
		end := start + int(n)
		if end > len(buf) {
			return pos // frame not complete yet
		}
		if i := bytes.Index(buf[start:end], t.prefix); i >= 0 {
			t.hit(buf[start+i+len(t.prefix) : end])
		}
		pos = end
	}
	return pos
}

// hit parses what follows the marker prefix: `DIGITS" c="DIGITS" s="DIGITS"`.
func (t *tally) hit(b []byte) {
	const sepC, sepS = `" c="`, `" s="`
	ts, i, ok := parseUint(b, 0)
	if !ok || len(b)-i < len(sepC) || string(b[i:i+len(sepC)]) != sepC {
		t.malformed++
		return
	}
	c, i, ok := parseUint(b, i+len(sepC))
	if !ok || len(b)-i < len(sepS) || string(b[i:i+len(sepS)]) != sepS {
		t.malformed++
		return
	}
	seq, i, ok := parseUint(b, i+len(sepS))
	if !ok || i >= len(b) || b[i] != '"' || c >= int64(len(t.seen)) {
		t.malformed++
		return
	}
	if c == t.self {
		t.echoes++
		return
	}
	if !t.seen[c].add(uint64(seq)) {
		t.duplicates++
		return
	}
	t.received++
	lat := t.now - ts
	if lat < 0 {
		lat = 0
	}
	t.hist.record(uint64(lat) / 1000)
	if t.onHit != nil {
		t.onHit(ts, c)
	}
}

// parseUint parses the decimal digits of b starting at i. It returns the
// value and the index after the last digit; ok is false when there is no
// digit or the value does not fit in an int64.
func parseUint(b []byte, i int) (v int64, next int, ok bool) {
	start := i
	var u uint64
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		if i-start >= 19 {
			return 0, i, false
		}
		u = u*10 + uint64(b[i]-'0')
		i++
	}
	if i == start || u > math.MaxInt64 {
		return 0, i, false
	}
	return int64(u), i, true
}
