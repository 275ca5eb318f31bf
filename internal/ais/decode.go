package ais

import (
	"fmt"
	"time"
)

// Raw "not available" values of the position fields.
const (
	lonNA       = 181 * 600000 // 1/10000 minute
	latNA       = 91 * 600000
	lonNALong   = 181 * 600 // type 27: 1/10 minute
	latNALong   = 91 * 600
	sogNA       = 1023
	cogNA       = 3600
	headingNA   = 511
	secondNA    = 60
	minBitsType = 38 // type, repeat and MMSI
)

// DecodePayload decodes one complete armoured AIS payload (all fragments
// concatenated) with the fill-bit count of its last sentence.
func DecodePayload(payload []byte, fill int) (*Message, error) {
	var p bitbuf
	if err := p.load(payload, fill); err != nil {
		return nil, err
	}
	m := &Message{}
	if err := decodeBits(&p, m); err != nil {
		return nil, err
	}
	return m, nil
}

// Long on purpose: one case per AIS message type, each reading its bit fields
// in the order of ITU-R M.1371.
func decodeBits(p *bitbuf, m *Message) error {
	m.Type = int(p.u(0, 6))
	m.NavStatus = NavStatusUnknown
	m.Second = secondNA
	if p.n < minBitsType {
		return fmt.Errorf("type %d: %d bits: %w", m.Type, p.n, ErrFormat)
	}
	m.Repeat = int(p.u(6, 2))
	m.MMSI = uint32(p.u(8, 30))
	var need int
	switch m.Type {
	case 1, 2, 3, 4, 18:
		need = 168
	case 5:
		need = 420 // 424 by the standard; 420 and 422 are common in the wild
	case 19:
		need = 312
	case 21:
		need = 272
	case 24:
		need = 160
	case 27:
		need = 96
	default:
		return fmt.Errorf("type %d: %w", m.Type, ErrUnsupported)
	}
	if p.n < need {
		return fmt.Errorf("decoding AIS type %d: %d bits, want %d: %w", m.Type, p.n, need, ErrFormat)
	}
	switch m.Type {
	case 1, 2, 3:
		m.NavStatus = int(p.u(38, 4))
		setSOG(m, p.u(50, 10))
		m.Accuracy = p.flag(60)
		setPos(m, p.i(61, 28), p.i(89, 27))
		setCOG(m, p.u(116, 12))
		setHeading(m, p.u(128, 9))
		m.Second = int(p.u(137, 6))
	case 4:
		decodeType4(p, m)
	case 5:
		m.IMO = uint32(p.u(40, 30))
		m.Callsign = p.text(70, 7)
		m.Name = p.text(112, 20)
		m.ShipType = int(p.u(232, 8))
		setDims(m, p, 240)
		m.ETA = ETA{
			Month:  int(p.u(274, 4)),
			Day:    int(p.u(278, 5)),
			Hour:   int(p.u(283, 5)),
			Minute: int(p.u(288, 6)),
		}
		m.Draught = float64(p.u(294, 8)) / 10
		m.Destination = p.text(302, 20)
	case 18, 19:
		setSOG(m, p.u(46, 10))
		m.Accuracy = p.flag(56)
		setPos(m, p.i(57, 28), p.i(85, 27))
		setCOG(m, p.u(112, 12))
		setHeading(m, p.u(124, 9))
		m.Second = int(p.u(133, 6))
		if m.Type == 19 {
			m.Name = p.text(143, 20)
			m.ShipType = int(p.u(263, 8))
			setDims(m, p, 271)
		}
	case 21:
		m.AidType = int(p.u(38, 5))
		m.Name = p.text(43, 20)
		m.Accuracy = p.flag(163)
		setPos(m, p.i(164, 28), p.i(192, 27))
		setDims(m, p, 219)
		m.Second = int(p.u(253, 6))
		if p.n > 272 {
			// Name extension: up to 14 more characters.
			if ext := p.text(272, (p.n-272)/6); ext != "" {
				m.Name = p.text(43, 20) + ext
			}
		}
	case 24:
		m.PartNumber = int(p.u(38, 2))
		switch m.PartNumber {
		case 0:
			m.Name = p.text(40, 20)
		case 1:
			if p.n < 168 {
				return fmt.Errorf("decoding AIS type 24B: %d bits: %w", p.n, ErrFormat)
			}
			m.ShipType = int(p.u(40, 8))
			m.VendorID = p.text(48, 3)
			m.Callsign = p.text(90, 7)
			if m.MMSI/10000000 == 98 {
				// Auxiliary craft: the dimension bits carry the
				// mothership's MMSI instead.
				m.MothershipMMSI = uint32(p.u(132, 30))
			} else {
				setDims(m, p, 132)
			}
		default:
			return fmt.Errorf("decoding AIS type 24: part %d: %w", m.PartNumber, ErrFormat)
		}
	case 27:
		m.Accuracy = p.flag(38)
		m.NavStatus = int(p.u(40, 4))
		lon, lat := p.i(44, 18), p.i(62, 17)
		if lon != lonNALong && lat != latNALong {
			setLatLon(m, float64(lat)/600, float64(lon)/600)
		}
		if sog := p.u(79, 6); sog != 63 {
			m.HasSOG, m.SOG = true, float64(sog)
		}
		if cog := p.u(85, 9); cog < 360 {
			m.HasCOG, m.COG = true, float64(cog)
		}
	}
	return nil
}

func decodeType4(p *bitbuf, m *Message) {
	year := int(p.u(38, 14))
	month := int(p.u(52, 4))
	day := int(p.u(56, 5))
	hour := int(p.u(61, 5))
	minute := int(p.u(66, 6))
	second := int(p.u(72, 6))
	if year >= 1 && month >= 1 && month <= 12 && day >= 1 && day <= 31 &&
		hour <= 23 && minute <= 59 && second <= 59 {
		m.Timestamp = time.Date(year, time.Month(month), day, hour, minute, second, 0, time.UTC)
	}
	if second <= 59 {
		m.Second = second
	}
	m.Accuracy = p.flag(78)
	setPos(m, p.i(79, 28), p.i(107, 27))
}

// setPos sets the position from raw 1/10000-minute values, leaving it unset
// for the "not available" values and anything out of range.
func setPos(m *Message, lon, lat int64) {
	if lon == lonNA || lat == latNA {
		return
	}
	setLatLon(m, float64(lat)/600000, float64(lon)/600000)
}

func setLatLon(m *Message, lat, lon float64) {
	if lat < -90 || lat > 90 || lon < -180 || lon > 180 {
		return
	}
	m.HasPosition, m.Lat, m.Lon = true, lat, lon
}

func setSOG(m *Message, v uint64) {
	if v != sogNA {
		m.HasSOG, m.SOG = true, float64(v)/10
	}
}

func setCOG(m *Message, v uint64) {
	if v < cogNA {
		m.HasCOG, m.COG = true, float64(v)/10
	}
}

func setHeading(m *Message, v uint64) {
	if v < 360 {
		m.HasHeading, m.Heading = true, int(v)
	}
}

// setDims reads the 30-bit dimension block (bow 9, stern 9, port 6,
// starboard 6) at start.
func setDims(m *Message, p *bitbuf, start int) {
	m.ToBow = int(p.u(start, 9))
	m.ToStern = int(p.u(start+9, 9))
	m.ToPort = int(p.u(start+18, 6))
	m.ToStarboard = int(p.u(start+24, 6))
}
