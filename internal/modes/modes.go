// Package modes owns Mode S and ADS-B decoding: SBS-1 "BaseStation" text
// lines (dump1090 port 30003), the Beast binary stream framing (port 30005),
// Mode S frames with their CRC-24 parity, DF17/18 extended squitter
// messages (identification, airborne and surface position, velocity),
// Compact Position Reporting (global and local decoding), and a bounded
// per-aircraft Tracker that combines messages into aircraft states.
//
// The layouts follow ICAO Annex 10 Vol. IV and DO-260B as explained in
// "The 1090 Megahertz Riddle" (Junzi Sun); the SBS-1 field layout follows
// dump1090's net_io.c.
package modes

import "errors"

// Sentinel errors. Every error returned by the package wraps one of them;
// Reason maps them to a short metric label.
var (
	// ErrCRC: a DF11/17/18 frame whose parity does not check.
	ErrCRC = errors.New("mode s crc mismatch")
	// ErrFormat: a malformed frame, SBS line or Beast record.
	ErrFormat = errors.New("malformed mode s input")
	// ErrUnsupported: well formed, but not something this package decodes
	// (a downlink format or an SBS message kind we do not use).
	ErrUnsupported = errors.New("unsupported mode s message")
)

// Reason returns a short, stable label for an error from this package:
// "crc", "format", "unsupported" or "other".
func Reason(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrCRC):
		return "crc"
	case errors.Is(err, ErrFormat):
		return "format"
	case errors.Is(err, ErrUnsupported):
		return "unsupported"
	}
	return "other"
}

// crcTable is the byte-wise table for the Mode S parity polynomial
// x^24 + … (generator 0x1FFF409, written 0xFFF409 without the top bit).
var crcTable = func() (t [256]uint32) {
	const poly = 0xFFF409
	for i := range t {
		c := uint32(i) << 16
		for range 8 {
			if c&0x800000 != 0 {
				c = c<<1 ^ poly
			} else {
				c <<= 1
			}
		}
		t[i] = c & 0xFFFFFF
	}
	return t
}()

// crc24 returns the Mode S CRC of data.
func crc24(data []byte) uint32 {
	var crc uint32
	for _, b := range data {
		crc = (crc<<8 ^ crcTable[byte(crc>>16)^b]) & 0xFFFFFF
	}
	return crc
}

// Syndrome returns the CRC of a whole frame (56 or 112 bits) XOR-ed with
// its 24-bit parity field: zero for a correct DF11/17/18 frame, the
// aircraft address for DF0/4/5/16/20/21 replies.
func Syndrome(frame []byte) uint32 {
	n := len(frame)
	if n < 4 {
		return 0xFFFFFFFF
	}
	parity := uint32(frame[n-3])<<16 | uint32(frame[n-2])<<8 | uint32(frame[n-1])
	return crc24(frame[:n-3]) ^ parity
}
