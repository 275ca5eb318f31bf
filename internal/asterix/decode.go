package asterix

import (
	"errors"
	"fmt"
	"time"
)

// category describes one supported category: its UAP and its interpreter.
type category struct {
	uap       uap
	interpret func(r *Record, frn int, item []byte)
}

func lookup(cat uint8) *category {
	switch cat {
	case 48:
		return &cat048
	case 62:
		return &cat062
	}
	return nil
}

var (
	cat048 = category{uap: uap048, interpret: interpret048}
	cat062 = category{uap: uap062, interpret: interpret062}
)

// Categories lists the categories Decode interprets.
func Categories() []uint8 { return []uint8{48, 62} }

// Decode decodes every data block of one datagram (a UDP payload or one
// frame of a stream). A datagram may hold several data blocks, each of
// several records.
//
// Decode returns every record it could decode together with an error that
// joins one error per faulty data block. A data block whose header is sound
// is skipped as a whole when it is of an unknown category (ErrUnknownCategory)
// and from its first bad record on otherwise; decoding resumes at the next
// block. A bad block header ends the datagram.
//
// The smallest record is two octets, so a maximum-size UDP datagram can
// yield about 32,700 records (6.8 MB of Record values); a caller that keeps
// records must bound what it keeps.
func Decode(datagram []byte) ([]Record, error) {
	return DecodeAppend(nil, datagram)
}

// DecodeAppend is Decode appending to dst, so a caller can reuse a slice.
func DecodeAppend(dst []Record, datagram []byte) ([]Record, error) {
	if len(datagram) == 0 {
		return dst, fmt.Errorf("empty datagram: %w", ErrTruncated)
	}
	var errs []error
	for off, blk := 0, 1; off < len(datagram); blk++ {
		rest := len(datagram) - off
		if rest < 3 {
			errs = append(errs, fmt.Errorf("data block %d at offset %d: header needs 3 octets, %d left: %w", blk, off, rest, ErrTruncated))
			break
		}
		cat := datagram[off]
		n := int(datagram[off+1])<<8 | int(datagram[off+2])
		if n < 3 {
			errs = append(errs, fmt.Errorf("data block %d (CAT%03d) at offset %d: LEN %d: %w", blk, cat, off, n, ErrBadLength))
			break
		}
		if n > rest {
			errs = append(errs, fmt.Errorf("data block %d (CAT%03d) at offset %d: LEN %d, %d octets left: %w", blk, cat, off, n, rest, ErrTruncated))
			break
		}
		var err error
		dst, err = decodeBlock(dst, cat, datagram[off+3:off+n])
		if err != nil {
			errs = append(errs, fmt.Errorf("data block %d (CAT%03d) at offset %d: %w", blk, cat, off, err))
		}
		off += n
	}
	return dst, errors.Join(errs...)
}

// decodeBlock decodes the records of one data block (after its header).
func decodeBlock(dst []Record, cat uint8, body []byte) ([]Record, error) {
	c := lookup(cat)
	if c == nil {
		return dst, ErrUnknownCategory
	}
	for off, i := 0, 1; off < len(body); i++ {
		dst = append(dst, Record{})
		n, err := decodeRecord(c, cat, body[off:], &dst[len(dst)-1])
		if err != nil {
			return dst[:len(dst)-1], fmt.Errorf("record %d at offset %d: %w", i, off, err)
		}
		off += n
	}
	return dst, nil
}

// decodeRecord decodes the record starting at b[0] into r and returns its
// length.
func decodeRecord(c *category, cat uint8, b []byte, r *Record) (int, error) {
	r.Category = cat
	maxFSPEC := (len(c.uap) + 6) / 7
	fl := 0
	for {
		if fl >= len(b) {
			return 0, fmt.Errorf("FSPEC: %w", ErrTruncated)
		}
		fl++
		if b[fl-1]&1 == 0 {
			break
		}
		if fl >= maxFSPEC {
			return 0, fmt.Errorf("FSPEC longer than %d octets: %w", maxFSPEC, ErrMalformed)
		}
	}
	off := fl
	items := 0
	for i := 0; i < fl; i++ {
		octet := b[i]
		for bit := 0; bit < 7; bit++ {
			if octet&(0x80>>bit) == 0 {
				continue
			}
			frn := i*7 + bit + 1
			if frn > len(c.uap) || c.uap[frn-1].rule.kind == ruleSpare {
				return 0, fmt.Errorf("FSPEC selects FRN %d: %w", frn, ErrUnknownItem)
			}
			def := &c.uap[frn-1]
			n, err := itemLen(def.rule, b[off:])
			if err != nil {
				return 0, fmt.Errorf("I%03d/%s (FRN %d) at offset %d: %w", cat, def.id, frn, off, err)
			}
			c.interpret(r, frn, b[off:off+n])
			off += n
			items++
		}
	}
	if items == 0 {
		return 0, fmt.Errorf("FSPEC selects no item: %w", ErrMalformed)
	}
	return off, nil
}

// Scaling helpers. Every resolution used here is a binary fraction (or 6.25
// or 0.25), so decoded values are exact and re-encode to the same octets.

const tick = time.Second / 128 // I048/140, I062/070: 1/128 s, exactly 7.8125 ms

func u16(b []byte) uint16 { return uint16(b[0])<<8 | uint16(b[1]) }
func u24(b []byte) uint32 { return uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2]) }
func s16(b []byte) int64  { return int64(int16(u16(b))) }
func s24(b []byte) int64  { return int64(int32(u24(b)<<8) >> 8) }
func s32(b []byte) int64 {
	return int64(int32(uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])))
}

// signExtend treats the low bits of v as a two's complement number.
func signExtend(v uint32, bits uint) int64 {
	shift := 32 - bits
	return int64(int32(v<<shift) >> shift)
}

func timeOfDay(b []byte) time.Duration { return time.Duration(u24(b)) * tick }
