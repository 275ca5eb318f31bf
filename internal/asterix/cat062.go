package asterix

// CAT062: SDPS system tracks.

func interpret062(r *Record, frn int, b []byte) {
	switch frn {
	case frn062Source:
		r.SAC, r.SIC = b[0], b[1]
		r.Present |= FieldSource
	case frn062Service:
		r.ServiceID = b[0]
		r.Present |= FieldServiceID
	case frn062TimeOfDay:
		r.TimeOfDay = timeOfDay(b)
		r.Present |= FieldTimeOfDay
	case frn062WGS84:
		r.Lat = float64(s32(b)) * latLonLSB
		r.Lon = float64(s32(b[4:])) * latLonLSB
		r.Present |= FieldWGS84
	case frn062Cartesian:
		r.X = float64(s24(b)) * xyLSB
		r.Y = float64(s24(b[3:])) * xyLSB
		r.Present |= FieldCartesian
	case frn062Velocity:
		r.VX = float64(s16(b)) * vxyLSB
		r.VY = float64(s16(b[2:])) * vxyLSB
		r.Present |= FieldCartesianVelocity
	case frn062Mode3A:
		r.Mode3A = decodeMode3A(b)
		r.Present |= FieldMode3A
	case frn062Aircraft:
		// The length was checked by the caller's walk; this walk cannot fail.
		_, _ = walkCompound(uap062[frn062Aircraft-1].rule.subs, b, func(idx int, sub []byte) {
			switch idx {
			case sub380Address:
				r.AircraftAddress = u24(sub)
				r.Present |= FieldAircraftAddress
			case sub380Callsign:
				r.Callsign = decodeCallsign(sub)
				r.Present |= FieldCallsign
			}
		})
	case frn062TrackNumber:
		r.TrackNumber = u16(b)
		r.Present |= FieldTrackNumber
	case frn062TrackStatus:
		s := TrackStatus{
			Mono:      b[0]&0x80 != 0,
			SPI:       b[0]&0x40 != 0,
			Source:    b[0] >> 2 & 7,
			Tentative: b[0]&0x02 != 0,
		}
		if len(b) > 1 {
			s.Simulated = b[1]&0x80 != 0
			s.Ended = b[1]&0x40 != 0
		}
		if len(b) > 3 {
			s.Coasted = b[3]&0x80 != 0
		}
		r.TrackStatus = s
		r.Present |= FieldTrackStatus
	case frn062FlightLevel:
		r.FlightLevel = float64(s16(b)) * flLSB
		r.Present |= FieldFlightLevel
	case frn062GeoAltitude:
		r.GeoAltitude = float64(s16(b)) * ftLSB
		r.Present |= FieldGeoAltitude
	case frn062BaroAltitude:
		r.BaroQNH = b[0]&0x80 != 0
		r.BaroAltitude = float64(signExtend(uint32(u16(b)), 15)) * flLSB
		r.Present |= FieldBaroAltitude
	case frn062ClimbRate:
		r.ClimbRate = float64(s16(b)) * ftLSB
		r.Present |= FieldClimbRate
	}
}

// Encode062 encodes records as CAT062 data blocks, in one byte slice ready
// to send as a datagram (several blocks when the records exceed the 65535
// octets of one block). Each record's Category is ignored.
//
// I062/010 is mandatory and always encoded; every other item is encoded
// when its Field flag is present: I062/015, 070, 105, 100, 185, 060, 380
// (subfields ADR and ID), 040, 080, 136, 130, 135 and 220. Values outside
// an item's range saturate (NaN encodes as zero; latitude stays within ±90°, longitude
// within [-180°, 180°)); callsign characters
// outside the ICAO set become spaces. Encode062 returns nil for no records.
func Encode062(records []Record) []byte {
	return appendBlocks(nil, 62, records, appendRecord062)
}

// Append062 is Encode062 appending to dst.
func Append062(dst []byte, records []Record) []byte {
	return appendBlocks(dst, 62, records, appendRecord062)
}

// Long on purpose: one block per data item, in the order of the category 062
// user application profile.
func appendRecord062(dst []byte, r *Record) []byte {
	var fs fspec
	fs.set(frn062Source)
	has := func(f Field, frn int) {
		if r.Present&f != 0 {
			fs.set(frn)
		}
	}
	has(FieldServiceID, frn062Service)
	has(FieldTimeOfDay, frn062TimeOfDay)
	has(FieldWGS84, frn062WGS84)
	has(FieldCartesian, frn062Cartesian)
	has(FieldCartesianVelocity, frn062Velocity)
	has(FieldMode3A, frn062Mode3A)
	has(FieldAircraftAddress|FieldCallsign, frn062Aircraft)
	has(FieldTrackNumber, frn062TrackNumber)
	has(FieldTrackStatus, frn062TrackStatus)
	has(FieldFlightLevel, frn062FlightLevel)
	has(FieldGeoAltitude, frn062GeoAltitude)
	has(FieldBaroAltitude, frn062BaroAltitude)
	has(FieldClimbRate, frn062ClimbRate)
	dst = fs.appendTo(dst)

	dst = append(dst, r.SAC, r.SIC)
	if fs.has(frn062Service) {
		dst = append(dst, r.ServiceID)
	}
	if fs.has(frn062TimeOfDay) {
		dst = appendTimeOfDay(dst, r.TimeOfDay)
	}
	if fs.has(frn062WGS84) {
		// Latitude within [-90, 90], longitude within [-180, 180).
		dst = appendU32(dst, uint32(quantize(r.Lat, latLonLSB, -1<<24, 1<<24)))
		dst = appendU32(dst, uint32(quantize(r.Lon, latLonLSB, -1<<25, 1<<25-1)))
	}
	if fs.has(frn062Cartesian) {
		dst = appendU24(dst, uint32(quantize(r.X, xyLSB, -1<<23, 1<<23-1))&0xffffff)
		dst = appendU24(dst, uint32(quantize(r.Y, xyLSB, -1<<23, 1<<23-1))&0xffffff)
	}
	if fs.has(frn062Velocity) {
		dst = appendU16(dst, uint16(quantize(r.VX, vxyLSB, -1<<15, 1<<15-1)))
		dst = appendU16(dst, uint16(quantize(r.VY, vxyLSB, -1<<15, 1<<15-1)))
	}
	if fs.has(frn062Mode3A) {
		dst = appendMode3A(dst, r.Mode3A)
	}
	if fs.has(frn062Aircraft) {
		var primary byte
		if r.Present&FieldAircraftAddress != 0 {
			primary |= 0x80
		}
		if r.Present&FieldCallsign != 0 {
			primary |= 0x40
		}
		dst = append(dst, primary)
		if r.Present&FieldAircraftAddress != 0 {
			dst = appendU24(dst, r.AircraftAddress)
		}
		if r.Present&FieldCallsign != 0 {
			dst = appendCallsign(dst, r.Callsign)
		}
	}
	if fs.has(frn062TrackNumber) {
		dst = appendU16(dst, r.TrackNumber)
	}
	if fs.has(frn062TrackStatus) {
		s := &r.TrackStatus
		o := [4]byte{
			bit(s.Mono, 0x80) | bit(s.SPI, 0x40) | s.Source&7<<2 | bit(s.Tentative, 0x02),
			bit(s.Simulated, 0x80) | bit(s.Ended, 0x40),
			0,
			bit(s.Coasted, 0x80),
		}
		n := 4
		for n > 1 && o[n-1] == 0 {
			n--
		}
		for i := 0; i < n-1; i++ {
			o[i] |= 1
		}
		dst = append(dst, o[:n]...)
	}
	if fs.has(frn062FlightLevel) {
		dst = appendU16(dst, uint16(quantize(r.FlightLevel, flLSB, -1<<15, 1<<15-1)))
	}
	if fs.has(frn062GeoAltitude) {
		dst = appendU16(dst, uint16(quantize(r.GeoAltitude, ftLSB, -1<<15, 1<<15-1)))
	}
	if fs.has(frn062BaroAltitude) {
		v := uint16(quantize(r.BaroAltitude, flLSB, -1<<14, 1<<14-1)) & 0x7fff
		if r.BaroQNH {
			v |= 0x8000
		}
		dst = appendU16(dst, v)
	}
	if fs.has(frn062ClimbRate) {
		dst = appendU16(dst, uint16(quantize(r.ClimbRate, ftLSB, -1<<15, 1<<15-1)))
	}
	return dst
}
