package ais

import (
	"fmt"
	"time"
)

// Config configures a Decoder. Zero values pick the defaults.
type Config struct {
	// MaxPending bounds the multi-sentence groups waiting for more
	// fragments. When full, the oldest group is dropped. Default 64.
	MaxPending int
	// FragmentTimeout drops a group whose next fragment has not arrived in
	// this time. Default 5 s.
	FragmentTimeout time.Duration
}

const (
	defaultMaxPending = 64
	defaultTimeout    = 5 * time.Second
)

type groupKey struct {
	talker  [2]byte
	own     bool
	seq     int
	channel byte
}

type group struct {
	key     groupKey
	count   int
	next    int // fragment number expected next
	started time.Time
	payload []byte
}

// Decoder turns NMEA lines into AIS messages, reassembling multi-sentence
// messages. It keeps at most MaxPending partial groups, each at most
// MaxPayloadChars long, so hostile input cannot grow its memory. A Decoder
// is not safe for concurrent use; use one per feed.
type Decoder struct {
	maxPending int
	timeout    time.Duration
	groups     []*group
	free       []*group
	bits       bitbuf
	dropped    uint64
}

// NewDecoder returns a Decoder for cfg.
func NewDecoder(cfg Config) *Decoder {
	d := &Decoder{maxPending: cfg.MaxPending, timeout: cfg.FragmentTimeout}
	if d.maxPending <= 0 {
		d.maxPending = defaultMaxPending
	}
	if d.timeout <= 0 {
		d.timeout = defaultTimeout
	}
	return d
}

// Pending returns the number of incomplete multi-sentence groups held.
func (d *Decoder) Pending() int { return len(d.groups) }

// Dropped returns how many incomplete groups were dropped so far because
// they timed out, were replaced by a new first fragment, or were evicted to
// respect MaxPending.
func (d *Decoder) Dropped() uint64 { return d.dropped }

// Line decodes one NMEA line received at now. It returns (nil, nil) when the
// line is a fragment of a message that is not complete yet. The returned
// error wraps ErrChecksum, ErrFormat, ErrFragment or ErrUnsupported.
func (d *Decoder) Line(line []byte, now time.Time) (*Message, error) {
	s, err := parseSentence(line)
	if err != nil {
		return nil, err
	}
	if s.count == 1 {
		return d.decode(s.payload, s.fill, s)
	}
	d.expire(now)
	key := groupKey{talker: s.talker, own: s.own, seq: s.seq, channel: s.channel}
	gi := d.find(key)
	if s.num == 1 {
		if gi >= 0 {
			d.drop(gi) // a new message reuses the id: the old one is lost
		}
		if len(s.payload) > MaxPayloadChars {
			return nil, fmt.Errorf("fragment of %d characters: %w", len(s.payload), ErrFormat)
		}
		if len(d.groups) >= d.maxPending {
			d.drop(0) // oldest first
		}
		g := d.newGroup()
		g.key, g.count, g.next, g.started = key, s.count, 2, now
		g.payload = append(g.payload[:0], s.payload...)
		d.groups = append(d.groups, g)
		return nil, nil
	}
	if gi < 0 {
		return nil, fmt.Errorf("fragment %d/%d without its first part: %w", s.num, s.count, ErrFragment)
	}
	g := d.groups[gi]
	if g.count != s.count || g.next != s.num {
		d.drop(gi)
		return nil, fmt.Errorf("fragment %d/%d, expected %d/%d: %w", s.num, s.count, g.next, g.count, ErrFragment)
	}
	if len(g.payload)+len(s.payload) > MaxPayloadChars {
		d.drop(gi)
		return nil, fmt.Errorf("reassembled payload over %d characters: %w", MaxPayloadChars, ErrFormat)
	}
	g.payload = append(g.payload, s.payload...)
	if s.num < s.count {
		g.next++
		return nil, nil
	}
	d.remove(gi)
	m, err := d.decode(g.payload, s.fill, s)
	d.free = append(d.free, g)
	return m, err
}

func (d *Decoder) decode(payload []byte, fill int, s sentence) (*Message, error) {
	if err := d.bits.load(payload, fill); err != nil {
		return nil, err
	}
	m := &Message{Channel: s.channel, Own: s.own}
	if err := decodeBits(&d.bits, m); err != nil {
		return nil, err
	}
	return m, nil
}

func (d *Decoder) find(k groupKey) int {
	for i, g := range d.groups {
		if g.key == k {
			return i
		}
	}
	return -1
}

func (d *Decoder) expire(now time.Time) {
	for i := 0; i < len(d.groups); {
		if now.Sub(d.groups[i].started) > d.timeout || now.Before(d.groups[i].started.Add(-d.timeout)) {
			d.drop(i)
			continue
		}
		i++
	}
}

func (d *Decoder) newGroup() *group {
	if n := len(d.free); n > 0 {
		g := d.free[n-1]
		d.free = d.free[:n-1]
		return g
	}
	return &group{payload: make([]byte, 0, 128)}
}

func (d *Decoder) drop(i int) {
	d.dropped++
	g := d.groups[i]
	d.remove(i)
	d.free = append(d.free, g)
}

func (d *Decoder) remove(i int) {
	copy(d.groups[i:], d.groups[i+1:])
	d.groups[len(d.groups)-1] = nil
	d.groups = d.groups[:len(d.groups)-1]
}
