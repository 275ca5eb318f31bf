package asterix

import (
	"fmt"
	"math"
	"math/bits"
	"time"
)

// maxRecordLen bounds the encoded length of one record of either category
// (the real maximum is below 80 octets), so a block can be closed before a
// record would overflow its 16-bit LEN.
const maxRecordLen = 128

// maxBlockLen is the largest data block LEN.
const maxBlockLen = 0xffff

// appendBlocks appends records as data blocks of category cat.
func appendBlocks(dst []byte, cat uint8, records []Record, enc func([]byte, *Record) []byte) []byte {
	if len(records) == 0 {
		return dst
	}
	start := len(dst)
	dst = append(dst, cat, 0, 0)
	for i := range records {
		if len(dst)-start+maxRecordLen > maxBlockLen {
			putLen(dst[start:], len(dst)-start)
			start = len(dst)
			dst = append(dst, cat, 0, 0)
		}
		dst = enc(dst, &records[i])
	}
	putLen(dst[start:], len(dst)-start)
	return dst
}

func putLen(block []byte, n int) {
	block[1], block[2] = byte(n>>8), byte(n)
}

// fspec builds a field specification: presence bits by FRN.
type fspec struct{ bits uint64 } // bit frn-1

func (f *fspec) set(frn int)      { f.bits |= 1 << (frn - 1) }
func (f *fspec) has(frn int) bool { return f.bits&(1<<(frn-1)) != 0 }

// appendTo appends the FSPEC octets: seven FRNs per octet, most significant
// bit first, FX set on every octet but the last.
func (f *fspec) appendTo(dst []byte) []byte {
	if f.bits == 0 {
		return append(dst, 0)
	}
	n := (bits.Len64(f.bits) + 6) / 7
	for i := 0; i < n; i++ {
		var o byte
		for b := 0; b < 7; b++ {
			if f.bits&(1<<(i*7+b)) != 0 {
				o |= 0x80 >> b
			}
		}
		if i < n-1 {
			o |= 1
		}
		dst = append(dst, o)
	}
	return dst
}

func bit(b bool, mask byte) byte {
	if b {
		return mask
	}
	return 0
}

// quantize returns v in units of lsb, rounded to nearest and saturated to
// [lo, hi]; NaN gives 0 (or lo when 0 is out of range).
func quantize(v, lsb float64, lo, hi int64) int64 {
	if math.IsNaN(v) {
		v = 0
	}
	x := math.Round(v / lsb)
	switch {
	case x <= float64(lo):
		return lo
	case x >= float64(hi):
		return hi
	}
	return int64(x)
}

// angle16 encodes degrees as 360/2^16 units, wrapping modulo 360°.
func angle16(deg float64) uint16 {
	if math.IsNaN(deg) || math.IsInf(deg, 0) {
		return 0
	}
	deg = math.Mod(deg, 360)
	if deg < 0 {
		deg += 360
	}
	return uint16(int64(math.Round(deg/angleLSB)) & 0xffff)
}

func appendU16(dst []byte, v uint16) []byte { return append(dst, byte(v>>8), byte(v)) }
func appendU24(dst []byte, v uint32) []byte { return append(dst, byte(v>>16), byte(v>>8), byte(v)) }
func appendU32(dst []byte, v uint32) []byte {
	return append(dst, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

// appendTimeOfDay encodes a time since midnight in 1/128 s, saturated to
// the 24-bit range (a little over 36 hours).
func appendTimeOfDay(dst []byte, d time.Duration) []byte {
	return appendU24(dst, uint32(quantize(d.Seconds(), 1.0/128, 0, 1<<24-1)))
}

// MinDatagram is the smallest maxSize EncodeDatagrams accepts: a block
// header and the longest record this package encodes.
const MinDatagram = 3 + maxRecordLen

// EncodeDatagrams encodes records of category cat (48 or 62) into
// datagrams of at most maxSize octets each (for example 1472 to avoid IP
// fragmentation on an Ethernet link), each holding one data block with as
// many records as fit. Record order is kept.
func EncodeDatagrams(cat uint8, records []Record, maxSize int) ([][]byte, error) {
	var enc func([]byte, *Record) []byte
	switch cat {
	case 48:
		enc = appendRecord048
	case 62:
		enc = appendRecord062
	default:
		return nil, fmt.Errorf("encoding CAT%03d: %w", cat, ErrUnknownCategory)
	}
	if maxSize < MinDatagram {
		return nil, fmt.Errorf("datagram size %d below %d: %w", maxSize, MinDatagram, ErrBadLength)
	}
	maxSize = min(maxSize, maxBlockLen)
	var out [][]byte
	var cur []byte
	for i := range records {
		if cur == nil {
			cur = append(make([]byte, 0, maxSize), cat, 0, 0)
		}
		mark := len(cur)
		cur = enc(cur, &records[i])
		if len(cur) > maxSize {
			rec := append([]byte(nil), cur[mark:]...)
			cur = cur[:mark]
			putLen(cur, len(cur))
			out = append(out, cur)
			cur = append(append(make([]byte, 0, maxSize), cat, 0, 0), rec...)
		}
	}
	if cur != nil {
		putLen(cur, len(cur))
		out = append(out, cur)
	}
	return out, nil
}
