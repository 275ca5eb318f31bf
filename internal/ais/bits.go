package ais

import (
	"bytes"
	"fmt"
)

// MaxPayloadChars bounds the armoured payload of one message (all fragments
// together). The longest AIS message, five slots, is 1008 bits or 168
// characters; this leaves room for sloppy encoders and nothing more.
const MaxPayloadChars = 256

// bitbuf holds a de-armoured payload, most significant bit first.
type bitbuf struct {
	b [MaxPayloadChars*6/8 + 1]byte
	n int // number of valid bits
}

// load de-armours payload (6 bits per character) and drops the fill bits.
func (p *bitbuf) load(payload []byte, fill int) error {
	if len(payload) == 0 {
		return fmt.Errorf("empty payload: %w", ErrFormat)
	}
	if len(payload) > MaxPayloadChars {
		return fmt.Errorf("payload of %d characters: %w", len(payload), ErrFormat)
	}
	var acc uint32
	nacc := 0
	j := 0
	for _, c := range payload {
		var v byte
		switch {
		case c >= '0' && c <= 'W':
			v = c - '0'
		case c >= '`' && c <= 'w':
			v = c - '`' + 40
		default:
			return fmt.Errorf("payload character %q: %w", c, ErrFormat)
		}
		acc = acc<<6 | uint32(v)
		nacc += 6
		if nacc >= 8 {
			nacc -= 8
			p.b[j] = byte(acc >> uint(nacc))
			j++
		}
	}
	if nacc > 0 {
		p.b[j] = byte(acc << uint(8-nacc))
	}
	p.n = len(payload)*6 - fill
	if p.n < 6 {
		return fmt.Errorf("payload of %d bits: %w", p.n, ErrFormat)
	}
	return nil
}

// u returns n (≤ 64) bits from start as an unsigned number. Bits past the
// end of the payload read as zero.
func (p *bitbuf) u(start, n int) uint64 {
	var v uint64
	end := start + n
	for i := start; i < end; {
		if i >= p.n {
			v <<= uint(end - i)
			break
		}
		off := i & 7
		take := 8 - off
		if take > end-i {
			take = end - i
		}
		if rem := p.n - i; take > rem {
			take = rem
		}
		bits := (p.b[i>>3] >> uint(8-off-take)) & byte(1<<uint(take)-1)
		v = v<<uint(take) | uint64(bits)
		i += take
	}
	return v
}

// i returns n bits from start as a two's complement signed number.
func (p *bitbuf) i(start, n int) int64 {
	v := p.u(start, n)
	if v>>(uint(n)-1)&1 == 1 {
		return int64(v) - int64(1)<<uint(n)
	}
	return int64(v)
}

func (p *bitbuf) flag(start int) bool { return p.u(start, 1) == 1 }

// text decodes nchars 6-bit characters from start. The string ends at the
// first '@' (the padding character) and surrounding spaces are removed.
func (p *bitbuf) text(start, nchars int) string {
	var buf [64]byte
	if nchars > len(buf) {
		nchars = len(buf)
	}
	out := buf[:0]
	for k := 0; k < nchars; k++ {
		pos := start + 6*k
		if pos+6 > p.n {
			break
		}
		v := byte(p.u(pos, 6))
		if v == 0 {
			break // '@'
		}
		if v < 32 {
			v += 64
		}
		out = append(out, v)
	}
	return string(bytes.TrimSpace(out))
}
