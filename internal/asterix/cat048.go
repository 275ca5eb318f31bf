package asterix

// CAT048: monoradar target reports.

const (
	rhoLSB     = 1.0 / 256         // NM, I048/040
	angleLSB   = 360.0 / 65536     // degrees, I048/040 THETA, I048/200 heading
	speed48LSB = 3600.0 / 16384    // knots: 2^-14 NM/s, I048/200
	flLSB      = 0.25              // flight level, I048/090, I062/136, I062/135
	latLonLSB  = 180.0 / (1 << 25) // degrees, I062/105
	xyLSB      = 0.5               // metres, I062/100
	vxyLSB     = 0.25              // metres per second, I062/185
	ftLSB      = 6.25              // feet, I062/130; feet per minute, I062/220
)

func interpret048(r *Record, frn int, b []byte) {
	switch frn {
	case frn048Source:
		r.SAC, r.SIC = b[0], b[1]
		r.Present |= FieldSource
	case frn048TimeOfDay:
		r.TimeOfDay = timeOfDay(b)
		r.Present |= FieldTimeOfDay
	case frn048Descriptor:
		d := TargetReport{
			Type:         b[0] >> 5,
			Simulated:    b[0]&0x10 != 0,
			RDP2:         b[0]&0x08 != 0,
			SPI:          b[0]&0x04 != 0,
			FieldMonitor: b[0]&0x02 != 0,
		}
		if len(b) > 1 {
			d.Test = b[1]&0x80 != 0
			d.MilEmergency = b[1]&0x10 != 0
			d.MilIdent = b[1]&0x08 != 0
			d.FoeFri = b[1] >> 1 & 3
		}
		r.TargetReport = d
		r.Present |= FieldTargetReport
	case frn048Polar:
		r.Rho = float64(u16(b)) * rhoLSB
		r.Theta = float64(u16(b[2:])) * angleLSB
		r.Present |= FieldPolar
	case frn048Mode3A:
		r.Mode3A = decodeMode3A(b)
		r.Present |= FieldMode3A
	case frn048FlightLevel:
		r.FlightLevel = float64(signExtend(uint32(u16(b)), 14)) * flLSB
		r.FlightLevelSuspect = b[0]&0xc0 != 0
		r.Present |= FieldFlightLevel
	case frn048Address:
		r.AircraftAddress = u24(b)
		r.Present |= FieldAircraftAddress
	case frn048Callsign:
		r.Callsign = decodeCallsign(b)
		r.Present |= FieldCallsign
	case frn048TrackNumber:
		r.TrackNumber = u16(b) & 0x0fff
		r.Present |= FieldTrackNumber
	case frn048Velocity:
		r.GroundSpeed = float64(u16(b)) * speed48LSB
		r.Heading = float64(u16(b[2:])) * angleLSB
		r.Present |= FieldPolarVelocity
	case frn048TrackStatus:
		s := TrackStatus{
			Tentative: b[0]&0x80 != 0,
			Radar:     b[0] >> 5 & 3,
		}
		if len(b) > 1 {
			s.Ended = b[1]&0x80 != 0
			s.Ghost = b[1]&0x40 != 0
		}
		r.TrackStatus = s
		r.Present |= FieldTrackStatus
	}
}

// decodeMode3A decodes the two octets of I048/070 or I062/060.
func decodeMode3A(b []byte) Mode3A {
	return Mode3A{
		Code:         u16(b) & 0x0fff,
		NotValidated: b[0]&0x80 != 0,
		Garbled:      b[0]&0x40 != 0,
		Smoothed:     b[0]&0x20 != 0,
	}
}

func appendMode3A(dst []byte, m Mode3A) []byte {
	hi := byte(m.Code>>8) & 0x0f
	if m.NotValidated {
		hi |= 0x80
	}
	if m.Garbled {
		hi |= 0x40
	}
	if m.Smoothed {
		hi |= 0x20
	}
	return append(dst, hi, byte(m.Code))
}

// Encode048 encodes records as CAT048 data blocks, in one byte slice ready
// to send as a datagram (several blocks when the records exceed the 65535
// octets of one block). Each record's Category is ignored.
//
// I048/010 is mandatory and always encoded; every other item is encoded
// when its Field flag is present: I048/140, 020, 040, 070, 090, 220, 240,
// 161, 200 and 170. Values outside an item's range saturate (NaN encodes as
// zero; angles wrap modulo 360°); callsign characters outside the ICAO set
// become spaces. Encode048 returns nil for no records.
func Encode048(records []Record) []byte {
	return appendBlocks(nil, 48, records, appendRecord048)
}

// Append048 is Encode048 appending to dst.
func Append048(dst []byte, records []Record) []byte {
	return appendBlocks(dst, 48, records, appendRecord048)
}

func appendRecord048(dst []byte, r *Record) []byte {
	var fs fspec
	fs.set(frn048Source)
	has := func(f Field, frn int) {
		if r.Present&f != 0 {
			fs.set(frn)
		}
	}
	has(FieldTimeOfDay, frn048TimeOfDay)
	has(FieldTargetReport, frn048Descriptor)
	has(FieldPolar, frn048Polar)
	has(FieldMode3A, frn048Mode3A)
	has(FieldFlightLevel, frn048FlightLevel)
	has(FieldAircraftAddress, frn048Address)
	has(FieldCallsign, frn048Callsign)
	has(FieldTrackNumber, frn048TrackNumber)
	has(FieldPolarVelocity, frn048Velocity)
	has(FieldTrackStatus, frn048TrackStatus)
	dst = fs.appendTo(dst)

	dst = append(dst, r.SAC, r.SIC)
	if fs.has(frn048TimeOfDay) {
		dst = appendTimeOfDay(dst, r.TimeOfDay)
	}
	if fs.has(frn048Descriptor) {
		d := &r.TargetReport
		o1 := d.Type&7<<5 | bit(d.Simulated, 0x10) | bit(d.RDP2, 0x08) | bit(d.SPI, 0x04) | bit(d.FieldMonitor, 0x02)
		o2 := bit(d.Test, 0x80) | bit(d.MilEmergency, 0x10) | bit(d.MilIdent, 0x08) | d.FoeFri&3<<1
		if o2 != 0 {
			dst = append(dst, o1|1, o2)
		} else {
			dst = append(dst, o1)
		}
	}
	if fs.has(frn048Polar) {
		dst = appendU16(dst, uint16(quantize(r.Rho, rhoLSB, 0, 0xffff)))
		dst = appendU16(dst, angle16(r.Theta))
	}
	if fs.has(frn048Mode3A) {
		dst = appendMode3A(dst, r.Mode3A)
	}
	if fs.has(frn048FlightLevel) {
		v := uint16(quantize(r.FlightLevel, flLSB, -1<<13, 1<<13-1)) & 0x3fff
		if r.FlightLevelSuspect {
			v |= 0x8000 // V: not validated
		}
		dst = appendU16(dst, v)
	}
	if fs.has(frn048Address) {
		dst = appendU24(dst, r.AircraftAddress)
	}
	if fs.has(frn048Callsign) {
		dst = appendCallsign(dst, r.Callsign)
	}
	if fs.has(frn048TrackNumber) {
		dst = appendU16(dst, r.TrackNumber&0x0fff)
	}
	if fs.has(frn048Velocity) {
		dst = appendU16(dst, uint16(quantize(r.GroundSpeed, speed48LSB, 0, 0xffff)))
		dst = appendU16(dst, angle16(r.Heading))
	}
	if fs.has(frn048TrackStatus) {
		s := &r.TrackStatus
		o1 := bit(s.Tentative, 0x80) | s.Radar&3<<5
		o2 := bit(s.Ended, 0x80) | bit(s.Ghost, 0x40)
		if o2 != 0 {
			dst = append(dst, o1|1, o2)
		} else {
			dst = append(dst, o1)
		}
	}
	return dst
}
