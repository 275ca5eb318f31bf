package scenario

import (
	"fmt"
	"math"
	"strings"
	"time"

	"kizuna/internal/modes"
)

// bitWriter packs big-endian bit fields.
type bitWriter struct {
	b []byte
	n int // bits written
}

func (w *bitWriter) put(v uint64, bits int) {
	for i := bits - 1; i >= 0; i-- {
		if w.n%8 == 0 {
			w.b = append(w.b, 0)
		}
		if v>>uint(i)&1 == 1 {
			w.b[w.n/8] |= 0x80 >> uint(w.n%8)
		}
		w.n++
	}
}

func (w *bitWriter) bit(i int) uint8 { return w.b[i/8] >> (7 - uint(i%8)) & 1 }

// --- AIS (ITU-R M.1371, NMEA 0183 AIVDM) ---

// aisText packs s as AIS six-bit text of n characters, padded with '@'.
func aisText(w *bitWriter, s string, n int) {
	s = strings.ToUpper(s)
	for i := range n {
		c := byte('@')
		if i < len(s) {
			c = s[i]
		}
		var v uint64
		switch {
		case c >= 64 && c < 96:
			v = uint64(c - 64)
		case c >= 32 && c < 64:
			v = uint64(c)
		}
		w.put(v, 6)
	}
}

// armour turns the payload bits into NMEA six-bit characters and the fill
// bit count.
func armour(w *bitWriter) (string, int) {
	nch := (w.n + 5) / 6
	fill := nch*6 - w.n
	var sb strings.Builder
	for c := range nch {
		var v byte
		for k := range 6 {
			i := c*6 + k
			v <<= 1
			if i < w.n {
				v |= w.bit(i)
			}
		}
		if v < 40 {
			sb.WriteByte(v + 48)
		} else {
			sb.WriteByte(v + 56)
		}
	}
	return sb.String(), fill
}

func nmeaChecksum(body string) byte {
	var x byte
	for i := 0; i < len(body); i++ {
		x ^= body[i]
	}
	return x
}

// aivdm wraps an armoured payload into sentences of at most 60 payload
// characters each.
func aivdm(payload string, fill int, seq int, channel byte) []string {
	const per = 60
	n := (len(payload) + per - 1) / per
	var out []string
	for i := range n {
		part := payload[i*per : min(len(payload), (i+1)*per)]
		f := 0
		if i == n-1 {
			f = fill
		}
		seqs := ""
		if n > 1 {
			seqs = fmt.Sprint(seq % 10)
		}
		body := fmt.Sprintf("AIVDM,%d,%d,%s,%c,%s,%d", n, i+1, seqs, channel, part, f)
		out = append(out, fmt.Sprintf("!%s*%02X\r\n", body, nmeaChecksum(body)))
	}
	return out
}

func signed(v int64, bits int) uint64 { return uint64(v) & (1<<uint(bits) - 1) }

// EncodeAISPosition encodes an AIS type 1 position report (class A) as
// NMEA sentences. Speed in knots, course and heading in degrees; a
// negative speed or course is "not available".
func EncodeAISPosition(mmsi uint32, lat, lon, sogKt, cogDeg float64, heading int, at time.Time, channel byte) []string {
	var w bitWriter
	w.put(1, 6)
	w.put(0, 2)
	w.put(uint64(mmsi), 30)
	w.put(0, 4)    // under way using engine
	w.put(0x80, 8) // rate of turn not available
	sog := uint64(1023)
	if sogKt >= 0 {
		sog = uint64(math.Min(1022, math.Round(sogKt*10)))
	}
	w.put(sog, 10)
	w.put(1, 1) // accuracy high
	w.put(signed(int64(math.Round(lon*600000)), 28), 28)
	w.put(signed(int64(math.Round(lat*600000)), 27), 27)
	cog := uint64(3600)
	if cogDeg >= 0 {
		cog = uint64(math.Round(math.Mod(cogDeg, 360)*10)) % 3600
	}
	w.put(cog, 12)
	if heading < 0 || heading > 359 {
		heading = 511
	}
	w.put(uint64(heading), 9)
	w.put(uint64(at.UTC().Second()), 6)
	w.put(0, 2)
	w.put(0, 3)
	w.put(0, 1)
	w.put(0, 19)
	p, fill := armour(&w)
	return aivdm(p, fill, 0, channel)
}

// EncodeAISStatic encodes an AIS type 5 static and voyage report (two
// sentences).
func EncodeAISStatic(mmsi uint32, imo uint32, callsign, name string, shipType int, dest string, seq int, channel byte) []string {
	var w bitWriter
	w.put(5, 6)
	w.put(0, 2)
	w.put(uint64(mmsi), 30)
	w.put(0, 2)
	w.put(uint64(imo), 30)
	aisText(&w, callsign, 7)
	aisText(&w, name, 20)
	w.put(uint64(shipType), 8)
	w.put(100, 9)
	w.put(20, 9)
	w.put(10, 6)
	w.put(10, 6)
	w.put(1, 4) // GPS
	w.put(0, 4)
	w.put(0, 5)
	w.put(24, 5)
	w.put(60, 6)
	w.put(80, 8) // 8.0 m
	aisText(&w, dest, 20)
	w.put(0, 1)
	w.put(0, 1)
	p, fill := armour(&w)
	return aivdm(p, fill, seq, channel)
}

// --- Mode S / ADS-B (DO-260B) ---

// df17 builds a DF17 extended squitter with the given 56-bit ME field and
// its CRC-24 parity.
func df17(icao uint32, me uint64) []byte {
	f := make([]byte, 14)
	f[0] = 17<<3 | 5
	f[1], f[2], f[3] = byte(icao>>16), byte(icao>>8), byte(icao)
	for i := range 7 {
		f[4+i] = byte(me >> uint(48-8*i))
	}
	crc := modes.Syndrome(f) // parity is zero, so this is the CRC
	f[11], f[12], f[13] = byte(crc>>16), byte(crc>>8), byte(crc)
	return f
}

const icaoChars = "#ABCDEFGHIJKLMNOPQRSTUVWXYZ##### ###############0123456789######"

// ModeSIdentification encodes TC 4 aircraft identification.
func ModeSIdentification(icao uint32, callsign string) []byte {
	me := uint64(4)<<51 | uint64(0)<<48
	cs := strings.ToUpper(callsign)
	for i := range 8 {
		v := uint64(32) // space
		if i < len(cs) {
			if k := strings.IndexByte(icaoChars, cs[i]); k > 0 {
				v = uint64(k)
			}
		}
		me |= v << uint(42-6*i)
	}
	return df17(icao, me)
}

// cprEncode encodes an airborne position (17-bit CPR) for the even (odd =
// false) or odd format.
func cprEncode(lat, lon float64, odd bool) (yz, xz uint32) {
	i := 0.0
	if odd {
		i = 1
	}
	const nb = 1 << 17
	dlat := 360 / (60 - i)
	y := math.Floor(nb*pmod(lat, dlat)/dlat + 0.5)
	rlat := dlat * (y/nb + math.Floor(lat/dlat))
	nl := float64(modes.NL(rlat))
	dlon := 360 / math.Max(nl-i, 1)
	x := math.Floor(nb*pmod(lon, dlon)/dlon + 0.5)
	return uint32(int64(y)) & (nb - 1), uint32(int64(x)) & (nb - 1)
}

func pmod(a, b float64) float64 {
	r := math.Mod(a, b)
	if r < 0 {
		r += b
	}
	return r
}

// ModeSPosition encodes TC 11 airborne position with barometric altitude
// (feet, 25 ft steps).
func ModeSPosition(icao uint32, lat, lon float64, altFt int, odd bool) []byte {
	n := uint64(max(0, min(2047, (altFt+1000+12)/25)))
	alt := (n>>4)<<5 | 1<<4 | n&0xF
	yz, xz := cprEncode(lat, lon, odd)
	f := uint64(0)
	if odd {
		f = 1
	}
	me := uint64(11)<<51 | alt<<36 | f<<34 | uint64(yz)<<17 | uint64(xz)
	return df17(icao, me)
}

// ModeSVelocity encodes TC 19 subtype 1 ground velocity (knots, degrees,
// feet per minute).
func ModeSVelocity(icao uint32, speedKt, trackDeg float64, vrateFpm int) []byte {
	ve, vn := speedKt*math.Sin(trackDeg*math.Pi/180), speedKt*math.Cos(trackDeg*math.Pi/180)
	dew, dns := uint64(0), uint64(0)
	if ve < 0 {
		dew, ve = 1, -ve
	}
	if vn < 0 {
		dns, vn = 1, -vn
	}
	vew := uint64(min(1023, math.Round(ve)+1))
	vns := uint64(min(1023, math.Round(vn)+1))
	svr := uint64(0)
	if vrateFpm < 0 {
		svr, vrateFpm = 1, -vrateFpm
	}
	vr := uint64(min(511, vrateFpm/64+1))
	me := uint64(19)<<51 | uint64(1)<<48 | dew<<42 | vew<<32 | dns<<31 | vns<<21 | 1<<20 | svr<<19 | vr<<10
	return df17(icao, me)
}

// Beast wraps a Mode S frame as a Beast binary record (0x1a, type, 48-bit
// 12 MHz timestamp, signal, frame), doubling every 0x1a after the first.
func Beast(frame []byte, ts uint64, signal byte) []byte {
	typ := byte(modes.BeastModeSLong)
	if len(frame) == 7 {
		typ = modes.BeastModeSShort
	}
	out := []byte{0x1a, typ}
	esc := func(b byte) {
		out = append(out, b)
		if b == 0x1a {
			out = append(out, b)
		}
	}
	for i := 5; i >= 0; i-- {
		esc(byte(ts >> uint(8*i)))
	}
	esc(signal)
	for _, b := range frame {
		esc(b)
	}
	return out
}

// SBS lines (dump1090 port 30003 layout).

func sbsTimes(at time.Time) string {
	t := at.UTC()
	d := t.Format("2006/01/02")
	c := t.Format("15:04:05.000")
	return d + "," + c + "," + d + "," + c
}

// SBSIdentification is a MSG,1 line.
func SBSIdentification(icao uint32, callsign string, at time.Time) string {
	return fmt.Sprintf("MSG,1,1,1,%06X,1,%s,%-8s,,,,,,,,,,,0\r\n", icao, sbsTimes(at), callsign)
}

// SBSPosition is a MSG,3 line.
func SBSPosition(icao uint32, lat, lon float64, altFt int, at time.Time) string {
	return fmt.Sprintf("MSG,3,1,1,%06X,1,%s,,%d,,,%.5f,%.5f,,,0,0,0,0\r\n", icao, sbsTimes(at), altFt, lat, lon)
}

// SBSVelocity is a MSG,4 line.
func SBSVelocity(icao uint32, speedKt, trackDeg float64, vrateFpm int, at time.Time) string {
	return fmt.Sprintf("MSG,4,1,1,%06X,1,%s,,,%.0f,%.0f,,,%d,,0,0,0,0\r\n", icao, sbsTimes(at), speedKt, trackDeg, vrateFpm)
}
