package modes

import (
	"fmt"
	"math"
	"strings"
)

// CPR is one Compact Position Reporting sample: the raw 17-bit encoded
// latitude and longitude of an even or odd position message.
type CPR struct {
	Odd     bool
	Lat     uint32 // 17 bits
	Lon     uint32 // 17 bits
	Surface bool   // surface position (TC 5-8): 90° zones instead of 360°
}

// Message is one decoded Mode S frame. Has* flags say which fields the
// frame carried.
type Message struct {
	DF   int    // downlink format
	ICAO uint32 // 24-bit aircraft address
	// AddressFromParity is set for DF0/4/5/16/20/21, whose address is
	// recovered from the parity field and cannot be verified on its own:
	// use such a frame only for an aircraft already known.
	AddressFromParity bool
	NonICAO           bool // DF18 with a non-ICAO (anonymous or TIS-B) address

	TypeCode int // DF17/18 ME type code, 0 otherwise

	Callsign string // TC 1-4, trailing spaces removed
	Category int    // TC 1-4 emitter category (3 bits; with the TC it names the class)

	HasAltitude  bool
	Altitude     int  // feet
	AltitudeGNSS bool // GNSS height (TC 20-22) rather than barometric

	HasCPR bool
	CPR    CPR

	HasGroundSpeed  bool
	GroundSpeed     float64 // knots
	HasTrack        bool
	Track           float64 // degrees true
	HasAirspeed     bool
	Airspeed        float64 // knots
	AirspeedTrue    bool    // TAS rather than IAS
	HasHeading      bool
	Heading         float64 // degrees (magnetic or true per the aircraft)
	VelocitySubtype int

	HasVerticalRate  bool
	VerticalRate     int  // feet per minute, positive up
	VerticalRateGNSS bool // source: GNSS (true) or barometric (false)
	HasGeoMinusBaro  bool
	GeoMinusBaro     int // GNSS minus barometric altitude, feet

	HasSquawk bool
	Squawk    int // the four octal digits read as a decimal number: 7700 is "7700"
	// Emergency is the emergency state of a TC 28 aircraft status message
	// (0 none, 1 general, 2 medical, 3 minimum fuel, 4 no communications,
	// 5 unlawful interference, 6 downed aircraft).
	Emergency int

	HasOnGround bool
	OnGround    bool
}

// SquawkString formats Squawk as its four digits.
func (m *Message) SquawkString() string { return fmt.Sprintf("%04d", m.Squawk) }

// Decode decodes one Mode S frame of 7 or 14 bytes. DF11/17/18 frames must
// pass the CRC check (ErrCRC otherwise). DF17/18 extended squitters are
// decoded fully; DF0/4/16/20 give altitude and DF5/21 the squawk, with the
// address taken from the parity field.
func Decode(frame []byte) (*Message, error) {
	m := &Message{}
	if err := decodeInto(frame, m); err != nil {
		return nil, err
	}
	return m, nil
}

func decodeInto(frame []byte, m *Message) error {
	if len(frame) != 7 && len(frame) != 14 {
		return fmt.Errorf("frame of %d bytes: %w", len(frame), ErrFormat)
	}
	df := int(frame[0] >> 3)
	if df >= 24 {
		df = 24 // DF24 uses only the first two bits
	}
	m.DF = df
	long := len(frame) == 14
	wantLong := df >= 16
	if long != wantLong {
		return fmt.Errorf("DF%d in a %d-byte frame: %w", df, len(frame), ErrFormat)
	}
	switch df {
	case 17, 18:
		if s := Syndrome(frame); s != 0 {
			return fmt.Errorf("DF%d syndrome %06X: %w", df, s, ErrCRC)
		}
		m.ICAO = uint32(frame[1])<<16 | uint32(frame[2])<<8 | uint32(frame[3])
		cf := int(frame[0] & 7)
		if df == 17 {
			setCapability(m, cf)
		} else {
			// CF 0: ADS-B, ICAO address; 1: ADS-B, other address;
			// 2: fine TIS-B; 5: fine TIS-B, other address; 6: ADS-R.
			// 3 (coarse TIS-B) and 4 (management) use other layouts.
			switch cf {
			case 0, 2, 6:
			case 1, 5:
				m.NonICAO = true
			default:
				return fmt.Errorf("DF18 control field %d: %w", cf, ErrUnsupported)
			}
		}
		var me uint64
		for _, b := range frame[4:11] {
			me = me<<8 | uint64(b)
		}
		decodeME(me, m)
	case 11:
		if s := Syndrome(frame); s&0xFFFF80 != 0 {
			return fmt.Errorf("DF11 syndrome %06X: %w", s, ErrCRC)
		}
		m.ICAO = uint32(frame[1])<<16 | uint32(frame[2])<<8 | uint32(frame[3])
		setCapability(m, int(frame[0]&7))
	case 0, 4, 16, 20:
		m.ICAO = Syndrome(frame)
		m.AddressFromParity = true
		if df == 4 || df == 20 {
			setFlightStatus(m, int(frame[0]&7))
		} else if frame[0]&0x04 != 0 { // DF0/16 VS bit: on ground
			m.HasOnGround, m.OnGround = true, true
		}
		ac := int(frame[2]&0x1F)<<8 | int(frame[3])
		if alt, ok := altitudeAC13(ac); ok {
			m.HasAltitude, m.Altitude = true, alt
		}
	case 5, 21:
		m.ICAO = Syndrome(frame)
		m.AddressFromParity = true
		setFlightStatus(m, int(frame[0]&7))
		id := int(frame[2]&0x1F)<<8 | int(frame[3])
		m.HasSquawk, m.Squawk = true, squawk(id)
	default:
		return fmt.Errorf("DF%d: %w", df, ErrUnsupported)
	}
	return nil
}

func setCapability(m *Message, ca int) {
	switch ca {
	case 4:
		m.HasOnGround, m.OnGround = true, true
	case 5:
		m.HasOnGround, m.OnGround = true, false
	}
}

func setFlightStatus(m *Message, fs int) {
	switch fs {
	case 0, 2:
		m.HasOnGround, m.OnGround = true, false
	case 1, 3:
		m.HasOnGround, m.OnGround = true, true
	}
}

// meBits extracts n bits starting at bit start (0 = first ME bit).
func meBits(me uint64, start, n int) uint64 {
	return me >> uint(56-start-n) & (1<<uint(n) - 1)
}

// callsignChars is the 6-bit ADS-B identification character set; '#'
// marks codes that are not valid characters.
const callsignChars = "#ABCDEFGHIJKLMNOPQRSTUVWXYZ##### ###############0123456789######"

// decodeME decodes the 56-bit ME field of a DF17/18 message.
func decodeME(me uint64, m *Message) {
	tc := int(meBits(me, 0, 5))
	m.TypeCode = tc
	switch {
	case tc >= 1 && tc <= 4:
		m.Category = int(meBits(me, 5, 3))
		var cs [8]byte
		for i := range cs {
			cs[i] = callsignChars[meBits(me, 8+6*i, 6)]
		}
		m.Callsign = strings.TrimRight(string(cs[:]), " ")
	case tc >= 5 && tc <= 8:
		m.HasOnGround, m.OnGround = true, true
		if gs, ok := surfaceSpeed(int(meBits(me, 5, 7))); ok {
			m.HasGroundSpeed, m.GroundSpeed = true, gs
		}
		if meBits(me, 12, 1) == 1 {
			m.HasTrack, m.Track = true, float64(meBits(me, 13, 7))*360/128
		}
		setCPR(me, m, true)
	case tc >= 9 && tc <= 18:
		if alt, ok := altitudeAC12(int(meBits(me, 8, 12))); ok {
			m.HasAltitude, m.Altitude = true, alt
		}
		setCPR(me, m, false)
	case tc >= 20 && tc <= 22:
		if h := meBits(me, 8, 12); h != 0 {
			m.HasAltitude, m.AltitudeGNSS = true, true
			m.Altitude = int(math.Round(float64(h) * 3.28084)) // metres to feet
		}
		setCPR(me, m, false)
	case tc == 19:
		decodeVelocity(me, m)
	case tc == 28:
		if meBits(me, 5, 3) == 1 { // emergency/priority status
			m.Emergency = int(meBits(me, 8, 3))
			m.HasSquawk, m.Squawk = true, squawk(int(meBits(me, 11, 13)))
		}
	}
}

func setCPR(me uint64, m *Message, surface bool) {
	m.HasCPR = true
	m.CPR = CPR{
		Odd:     meBits(me, 21, 1) == 1,
		Lat:     uint32(meBits(me, 22, 17)),
		Lon:     uint32(meBits(me, 39, 17)),
		Surface: surface,
	}
}

func decodeVelocity(me uint64, m *Message) {
	st := int(meBits(me, 5, 3))
	m.VelocitySubtype = st
	switch st {
	case 1, 2:
		vew, vns := int(meBits(me, 14, 10)), int(meBits(me, 25, 10))
		if vew != 0 && vns != 0 {
			scale := 1.0
			if st == 2 {
				scale = 4
			}
			vx := float64(vew-1) * scale
			vy := float64(vns-1) * scale
			if meBits(me, 13, 1) == 1 {
				vx = -vx // westbound
			}
			if meBits(me, 24, 1) == 1 {
				vy = -vy // southbound
			}
			m.HasGroundSpeed, m.GroundSpeed = true, math.Hypot(vx, vy)
			trk := math.Atan2(vx, vy) * 180 / math.Pi
			if trk < 0 {
				trk += 360
			}
			m.HasTrack, m.Track = true, trk
		}
	case 3, 4:
		if meBits(me, 13, 1) == 1 {
			m.HasHeading, m.Heading = true, float64(meBits(me, 14, 10))*360/1024
		}
		if as := int(meBits(me, 25, 10)); as != 0 {
			scale := 1.0
			if st == 4 {
				scale = 4
			}
			m.HasAirspeed, m.Airspeed = true, float64(as-1)*scale
			m.AirspeedTrue = meBits(me, 24, 1) == 1
		}
	default:
		return
	}
	if vr := int(meBits(me, 37, 9)); vr != 0 {
		rate := (vr - 1) * 64
		if meBits(me, 36, 1) == 1 {
			rate = -rate
		}
		m.HasVerticalRate, m.VerticalRate = true, rate
		m.VerticalRateGNSS = meBits(me, 35, 1) == 0
	}
	if d := int(meBits(me, 49, 7)); d != 0 {
		diff := (d - 1) * 25
		if meBits(me, 48, 1) == 1 {
			diff = -diff
		}
		m.HasGeoMinusBaro, m.GeoMinusBaro = true, diff
	}
}

// surfaceSpeed decodes the 7-bit surface movement field, in knots.
func surfaceSpeed(mov int) (float64, bool) {
	switch {
	case mov == 0 || mov > 124:
		return 0, false
	case mov == 1:
		return 0, true
	case mov == 124:
		return 175, true
	}
	// Lower bounds of each quantisation band and its step.
	bands := [...]struct {
		mov  int
		kts  float64
		step float64
	}{{2, 0.125, 0.125}, {9, 1, 0.25}, {13, 2, 0.5}, {39, 15, 1}, {94, 70, 2}, {109, 100, 5}}
	for i := len(bands) - 1; i >= 0; i-- {
		if mov >= bands[i].mov {
			return bands[i].kts + float64(mov-bands[i].mov)*bands[i].step, true
		}
	}
	return 0, false
}

// altitudeAC12 decodes the 12-bit altitude of an airborne position
// (C1 A1 C2 A2 C4 A4 B1 Q B2 D2 B4 D4).
func altitudeAC12(ac int) (int, bool) {
	if ac == 0 {
		return 0, false
	}
	if ac&0x10 != 0 { // Q bit: 25 ft steps
		n := (ac&0xFE0)>>1 | ac&0x0F
		return n*25 - 1000, true
	}
	// Insert a zero M bit after A4 to get the 13-bit layout.
	return gillham((ac&0xFC0)<<1 | ac&0x3F)
}

// altitudeAC13 decodes the 13-bit AC field of DF0/4/16/20
// (C1 A1 C2 A2 C4 A4 M B1 Q B2 D2 B4 D4).
func altitudeAC13(ac int) (int, bool) {
	if ac == 0 {
		return 0, false
	}
	if ac&0x40 != 0 { // M bit: metric altitude, not used by civil aircraft
		return 0, false
	}
	if ac&0x10 != 0 {
		n := (ac&0x1F80)>>2 | (ac&0x20)>>1 | ac&0x0F
		return n*25 - 1000, true
	}
	return gillham(ac)
}

// gillham decodes a 13-bit Gillham (Gray code, 100 ft) altitude field.
func gillham(ac int) (int, bool) {
	bit := func(pos int) int { return ac >> uint(12-pos) & 1 } // pos 0 = C1
	c1, a1, c2, a2, c4, a4 := bit(0), bit(1), bit(2), bit(3), bit(4), bit(5)
	b1, b2, d2, b4, d4 := bit(7), bit(9), bit(10), bit(11), bit(12)
	g500 := d2<<7 | d4<<6 | a1<<5 | a2<<4 | a4<<3 | b1<<2 | b2<<1 | b4
	g100 := c1<<2 | c2<<1 | c4
	n500, n100 := grayToBinary(g500), grayToBinary(g100)
	switch n100 {
	case 0, 5, 6:
		return 0, false
	case 7:
		n100 = 5
	}
	if n500%2 == 1 {
		n100 = 6 - n100
	}
	return n500*500 + n100*100 - 1300, true
}

func grayToBinary(g int) int {
	for s := g >> 1; s != 0; s >>= 1 {
		g ^= s
	}
	return g
}

// squawk decodes a 13-bit identity field (C1 A1 C2 A2 C4 A4 X B1 D1 B2 D2
// B4 D4) into its four octal digits read as decimal.
func squawk(id int) int {
	bit := func(pos int) int { return id >> uint(12-pos) & 1 }
	a := bit(5)<<2 | bit(3)<<1 | bit(1)
	b := bit(11)<<2 | bit(9)<<1 | bit(7)
	c := bit(4)<<2 | bit(2)<<1 | bit(0)
	d := bit(12)<<2 | bit(10)<<1 | bit(8)
	return a*1000 + b*100 + c*10 + d
}
