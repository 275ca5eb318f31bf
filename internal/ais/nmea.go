package ais

import (
	"bytes"
	"fmt"
)

// sentence is one parsed !xxVDM/!xxVDO sentence. payload aliases the input
// line.
type sentence struct {
	talker  [2]byte
	own     bool // VDO
	count   int
	num     int
	seq     int // -1 when the sequential message id is empty
	channel byte
	payload []byte
	fill    int
}

// maxLine bounds the length of one sentence we look at. NMEA limits a
// sentence to 82 characters but many receivers emit longer ones; 1 KiB is
// far above anything legitimate.
const maxLine = 1024

// parseSentence parses and checksums one AIVDM/AIVDO sentence. Leading
// garbage and an IEC 61162-450 tag block ("\...\") before the '!' are
// skipped, as is anything after the two checksum digits.
//
// Long on purpose: the NMEA 0183 sentence read left to right (tag block,
// fields, checksum), each step a short check.
func parseSentence(line []byte) (sentence, error) {
	var s sentence
	if len(line) > maxLine {
		return s, fmt.Errorf("sentence of %d bytes: %w", len(line), ErrFormat)
	}
	start := bytes.IndexByte(line, '!')
	if start < 0 {
		if bytes.IndexByte(line, '$') >= 0 {
			return s, fmt.Errorf("not an encapsulation sentence: %w", ErrUnsupported)
		}
		return s, fmt.Errorf("no sentence start: %w", ErrFormat)
	}
	line = line[start+1:]
	star := bytes.IndexByte(line, '*')
	if star < 0 {
		return s, fmt.Errorf("missing checksum: %w", ErrFormat)
	}
	if star+3 > len(line) {
		return s, fmt.Errorf("truncated checksum: %w", ErrFormat)
	}
	want, ok := hexByte(line[star+1], line[star+2])
	if !ok {
		return s, fmt.Errorf("checksum %q not hex: %w", line[star+1:star+3], ErrFormat)
	}
	body := line[:star]
	var sum byte
	for _, c := range body {
		sum ^= c
	}
	if sum != want {
		return s, fmt.Errorf("checksum %02X, computed %02X: %w", want, sum, ErrChecksum)
	}

	var f [7][]byte
	n := 0
	for n < 7 {
		i := bytes.IndexByte(body, ',')
		if i < 0 {
			f[n] = body
			n++
			body = nil
			break
		}
		f[n] = body[:i]
		body = body[i+1:]
		n++
	}
	if n != 7 || body != nil {
		return s, fmt.Errorf("want 7 fields: %w", ErrFormat)
	}

	addr := f[0]
	if len(addr) != 5 || addr[2] != 'V' || addr[3] != 'D' || (addr[4] != 'M' && addr[4] != 'O') {
		return s, fmt.Errorf("sentence %q is not VDM/VDO: %w", addr, ErrUnsupported)
	}
	s.talker = [2]byte{addr[0], addr[1]}
	s.own = addr[4] == 'O'

	var err error
	if s.count, err = smallInt(f[1], 1, 9); err != nil {
		return s, fmt.Errorf("fragment count: %w", err)
	}
	if s.num, err = smallInt(f[2], 1, s.count); err != nil {
		return s, fmt.Errorf("fragment number: %w", err)
	}
	s.seq = -1
	if len(f[3]) > 0 {
		if s.seq, err = smallInt(f[3], 0, 99); err != nil {
			return s, fmt.Errorf("sequential message id: %w", err)
		}
	}
	switch len(f[4]) {
	case 0:
	case 1:
		s.channel = f[4][0]
	default:
		return s, fmt.Errorf("channel %q: %w", f[4], ErrFormat)
	}
	s.payload = f[5]
	if len(f[6]) > 0 {
		if s.fill, err = smallInt(f[6], 0, 5); err != nil {
			return s, fmt.Errorf("fill bits: %w", err)
		}
	}
	return s, nil
}

func smallInt(b []byte, lo, hi int) (int, error) {
	if len(b) == 0 || len(b) > 2 {
		return 0, fmt.Errorf("number %q: %w", b, ErrFormat)
	}
	v := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("number %q: %w", b, ErrFormat)
		}
		v = v*10 + int(c-'0')
	}
	if v < lo || v > hi {
		return 0, fmt.Errorf("number %d outside %d..%d: %w", v, lo, hi, ErrFormat)
	}
	return v, nil
}

func hexByte(a, b byte) (byte, bool) {
	x, ok1 := hexNibble(a)
	y, ok2 := hexNibble(b)
	return x<<4 | y, ok1 && ok2
}

func hexNibble(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}
