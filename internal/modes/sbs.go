package modes

import (
	"fmt"
	"strconv"
	"strings"
)

// SBSMessage is one SBS-1 "BaseStation" MSG line. Empty fields leave their
// Has* flag false.
type SBSMessage struct {
	Type    int    // transmission type 1..8
	ICAO    uint32 // hex ident
	NonICAO bool   // the hex ident was prefixed with '~' (not an ICAO address)

	Callsign string // trailing spaces removed; empty when absent

	HasAltitude bool
	Altitude    int // feet

	HasGroundSpeed bool
	GroundSpeed    float64 // knots
	HasTrack       bool
	Track          float64 // degrees

	HasPosition bool
	Lat, Lon    float64

	HasVerticalRate bool
	VerticalRate    int // feet per minute

	HasSquawk bool
	Squawk    int // four octal digits read as decimal, as in Message

	HasOnGround bool
	OnGround    bool
	Emergency   bool
	Alert       bool
	SPI         bool
}

// SBS field positions (0-based) in a MSG line, per dump1090 net_io.c.
const (
	sbsType      = 1
	sbsHex       = 4
	sbsCallsign  = 10
	sbsAltitude  = 11
	sbsSpeed     = 12
	sbsTrack     = 13
	sbsLat       = 14
	sbsLon       = 15
	sbsVRate     = 16
	sbsSquawk    = 17
	sbsAlert     = 18
	sbsEmergency = 19
	sbsSPI       = 20
	sbsGround    = 21
	sbsFields    = 22
	sbsMinFields = 11 // through the callsign
	maxSBSLine   = 512
)

// ParseSBS parses one SBS-1 line (with or without its CR LF). Lines other
// than MSG (SEL, ID, AIR, STA, CLK) return ErrUnsupported; a malformed MSG
// line returns ErrFormat.
//
// Long on purpose: the SBS-1 fields parsed in their column order, one short
// block per field, so that the code reads against the format.
func ParseSBS(line []byte) (SBSMessage, error) {
	var m SBSMessage
	if len(line) > maxSBSLine {
		return m, fmt.Errorf("SBS line of %d bytes: %w", len(line), ErrFormat)
	}
	s := strings.TrimRight(string(line), "\r\n")
	var f [sbsFields]string
	n := 0
	for n < sbsFields {
		i := strings.IndexByte(s, ',')
		if i < 0 {
			f[n] = s
			n++
			s = ""
			break
		}
		f[n] = s[:i]
		s = s[i+1:]
		n++
	}
	if s != "" || n == 0 {
		return m, fmt.Errorf("SBS line with more than %d fields: %w", sbsFields, ErrFormat)
	}
	if f[0] != "MSG" {
		switch f[0] {
		case "SEL", "ID", "AIR", "STA", "CLK":
			return m, fmt.Errorf("SBS %s line: %w", f[0], ErrUnsupported)
		}
		return m, fmt.Errorf("SBS line kind %.8q: %w", f[0], ErrFormat)
	}
	if n < sbsMinFields {
		return m, fmt.Errorf("SBS MSG line with %d fields: %w", n, ErrFormat)
	}
	t, err := strconv.Atoi(f[sbsType])
	if err != nil || t < 1 || t > 8 {
		return m, fmt.Errorf("SBS transmission type %.8q: %w", f[sbsType], ErrFormat)
	}
	m.Type = t
	hex := f[sbsHex]
	if strings.HasPrefix(hex, "~") {
		m.NonICAO, hex = true, hex[1:]
	}
	if len(hex) == 0 || len(hex) > 6 {
		return m, fmt.Errorf("SBS hex ident %.8q: %w", f[sbsHex], ErrFormat)
	}
	icao, err := strconv.ParseUint(hex, 16, 32)
	if err != nil {
		return m, fmt.Errorf("SBS hex ident %.8q: %w", f[sbsHex], ErrFormat)
	}
	m.ICAO = uint32(icao)

	m.Callsign = strings.TrimSpace(f[sbsCallsign])
	if len(m.Callsign) > 8 {
		return m, fmt.Errorf("SBS callsign %.12q: %w", m.Callsign, ErrFormat)
	}
	for i := 0; i < len(m.Callsign); i++ {
		if c := m.Callsign[i]; c < ' ' || c > '~' {
			return m, fmt.Errorf("SBS callsign %q: %w", m.Callsign, ErrFormat)
		}
	}
	if v := f[sbsAltitude]; v != "" {
		a, err := strconv.Atoi(v)
		if err != nil || a < -2000 || a > 200000 {
			return m, fmt.Errorf("SBS altitude %.12q: %w", v, ErrFormat)
		}
		m.HasAltitude, m.Altitude = true, a
	}
	if v := f[sbsSpeed]; v != "" {
		gs, err := strconv.ParseFloat(v, 64)
		if err != nil || !(gs >= 0 && gs < 10000) {
			return m, fmt.Errorf("SBS ground speed %.12q: %w", v, ErrFormat)
		}
		m.HasGroundSpeed, m.GroundSpeed = true, gs
	}
	if v := f[sbsTrack]; v != "" {
		trk, err := strconv.ParseFloat(v, 64)
		if err != nil || !(trk >= -360 && trk <= 360) {
			return m, fmt.Errorf("SBS track %.12q: %w", v, ErrFormat)
		}
		if trk < 0 {
			trk += 360
		}
		if trk >= 360 {
			trk -= 360
		}
		m.HasTrack, m.Track = true, trk
	}
	if f[sbsLat] != "" || f[sbsLon] != "" {
		lat, err1 := strconv.ParseFloat(f[sbsLat], 64)
		lon, err2 := strconv.ParseFloat(f[sbsLon], 64)
		if err1 != nil || err2 != nil || !(lat >= -90 && lat <= 90) || !(lon >= -180 && lon <= 180) {
			return m, fmt.Errorf("SBS position %.16q,%.16q: %w", f[sbsLat], f[sbsLon], ErrFormat)
		}
		m.HasPosition, m.Lat, m.Lon = true, lat, lon
	}
	if v := strings.TrimSuffix(f[sbsVRate], "H"); v != "" {
		vr, err := strconv.Atoi(v)
		if err != nil || vr < -100000 || vr > 100000 {
			return m, fmt.Errorf("SBS vertical rate %.12q: %w", v, ErrFormat)
		}
		m.HasVerticalRate, m.VerticalRate = true, vr
	}
	if v := f[sbsSquawk]; v != "" {
		if len(v) != 4 || strings.Trim(v, "01234567") != "" {
			return m, fmt.Errorf("SBS squawk %.8q: %w", v, ErrFormat)
		}
		sq, _ := strconv.Atoi(v)
		m.HasSquawk, m.Squawk = true, sq
	}
	var ok bool
	if m.Alert, _, ok = sbsFlag(f[sbsAlert]); !ok {
		return m, fmt.Errorf("SBS alert flag %.8q: %w", f[sbsAlert], ErrFormat)
	}
	if m.Emergency, _, ok = sbsFlag(f[sbsEmergency]); !ok {
		return m, fmt.Errorf("SBS emergency flag %.8q: %w", f[sbsEmergency], ErrFormat)
	}
	if m.SPI, _, ok = sbsFlag(f[sbsSPI]); !ok {
		return m, fmt.Errorf("SBS SPI flag %.8q: %w", f[sbsSPI], ErrFormat)
	}
	if m.OnGround, m.HasOnGround, ok = sbsFlag(f[sbsGround]); !ok {
		return m, fmt.Errorf("SBS on-ground flag %.8q: %w", f[sbsGround], ErrFormat)
	}
	return m, nil
}

// sbsFlag parses a BaseStation boolean: "-1" (dump1090) or "1" is true,
// "0" false, empty absent.
func sbsFlag(v string) (val, present, ok bool) {
	switch v {
	case "":
		return false, false, true
	case "-1", "1":
		return true, true, true
	case "0":
		return false, true, true
	}
	return false, false, false
}
