package modes

import "math"

// nz is the number of latitude zones between the equator and a pole.
const nz = 15

// cprScale is 2^17, the resolution of an airborne or surface CPR field.
const cprScale = 131072.0

// nlA is the constant 1 - cos(π / (2·NZ)) of the NL closed form.
var nlA = 1 - math.Cos(math.Pi/(2*nz))

// NL returns the number of longitude zones at latitude lat (degrees), from
// the closed form NL = ⌊2π / acos(1 - (1 - cos(π/2NZ)) / cos²(π·|lat|/180))⌋
// with the defined values NL(0) = 59, NL(±87) = 2 and NL = 1 poleward of
// ±87°.
func NL(lat float64) int {
	lat = math.Abs(lat)
	switch {
	case lat == 0:
		return 59
	case lat == 87:
		return 2
	case lat > 87:
		return 1
	}
	c := math.Cos(math.Pi / 180 * lat)
	return int(math.Floor(2 * math.Pi / math.Acos(1-nlA/(c*c))))
}

// mod is the always non-negative modulo of CPR decoding.
func mod(a, b float64) float64 {
	r := math.Mod(a, b)
	if r < 0 {
		r += b
	}
	return r
}

// GlobalAirborne decodes an even/odd pair of airborne CPR fields (each
// 17 bits) into a position. oddNewer says which of the two was received
// last; its zone is used. ok is false when the two fields straddle a
// latitude zone boundary or decode outside ±90°.
func GlobalAirborne(evenLat, evenLon, oddLat, oddLon uint32, oddNewer bool) (lat, lon float64, ok bool) {
	return globalDecode(evenLat, evenLon, oddLat, oddLon, oddNewer, false, 0, 0)
}

// GlobalSurface decodes an even/odd pair of surface CPR fields. Surface
// encoding covers only a quarter of the globe, so the solution closest to
// the reference position (refLat, refLon), usually the receiver's, is
// returned.
func GlobalSurface(refLat, refLon float64, evenLat, evenLon, oddLat, oddLon uint32, oddNewer bool) (lat, lon float64, ok bool) {
	return globalDecode(evenLat, evenLon, oddLat, oddLon, oddNewer, true, refLat, refLon)
}

func globalDecode(evenLat, evenLon, oddLat, oddLon uint32, oddNewer, surface bool, refLat, refLon float64) (float64, float64, bool) {
	span := 360.0
	if surface {
		span = 90
	}
	dLat0, dLat1 := span/60, span/59
	y0, y1 := float64(evenLat)/cprScale, float64(oddLat)/cprScale
	x0, x1 := float64(evenLon)/cprScale, float64(oddLon)/cprScale

	j := math.Floor(59*y0 - 60*y1 + 0.5)
	lat0 := dLat0 * (mod(j, 60) + y0)
	lat1 := dLat1 * (mod(j, 59) + y1)
	if surface {
		lat0, lat1 = surfaceLat(lat0, refLat), surfaceLat(lat1, refLat)
	} else {
		if lat0 >= 270 {
			lat0 -= 360
		}
		if lat1 >= 270 {
			lat1 -= 360
		}
	}
	if lat0 < -90 || lat0 > 90 || lat1 < -90 || lat1 > 90 {
		return 0, 0, false
	}
	if NL(lat0) != NL(lat1) {
		return 0, 0, false
	}
	lat, x, nl := lat0, x0, NL(lat0)
	ni := max(nl, 1)
	if oddNewer {
		lat, x = lat1, x1
		ni = max(nl-1, 1)
	}
	m := math.Floor(x0*float64(nl-1) - x1*float64(nl) + 0.5)
	lon := span / float64(ni) * (mod(m, float64(ni)) + x)
	if surface {
		// Pick the 90° quadrant closest to the reference longitude.
		lon += math.Floor((refLon-lon+45)/90) * 90
	}
	lon -= math.Floor((lon+180)/360) * 360 // normalise to [-180, 180)
	return lat, lon, true
}

// surfaceLat picks, of the northern solution lat and its southern twin
// lat - 90, the one closer to the reference latitude. 0 encodes -90, 0
// and +90 alike.
func surfaceLat(lat, refLat float64) float64 {
	if lat == 0 {
		switch {
		case refLat < -45:
			return -90
		case refLat > 45:
			return 90
		}
		return 0
	}
	if lat-refLat > 45 {
		return lat - 90
	}
	return lat
}

// Local decodes one CPR sample relative to a reference position known to
// be within half a zone of the target (about 180 NM airborne, 45 NM on
// the surface), such as the aircraft's last position or the receiver's.
// ok is false when the result is not within half a zone of the reference.
func Local(c CPR, refLat, refLon float64) (lat, lon float64, ok bool) {
	span := 360.0
	if c.Surface {
		span = 90
	}
	odd := 0
	zones := 60.0
	if c.Odd {
		odd, zones = 1, 59
	}
	dLat := span / zones
	y := float64(c.Lat) / cprScale
	x := float64(c.Lon) / cprScale
	// j = ⌊ref/dLat⌋ + ⌊½ + mod(ref, dLat)/dLat - y⌋, written so that the
	// quotient and the remainder cannot disagree by rounding.
	j := math.Floor(refLat/dLat - y + 0.5)
	lat = dLat * (j + y)
	if lat < -90 || lat > 90 || math.Abs(lat-refLat) > dLat/2 {
		return 0, 0, false
	}
	ni := max(NL(lat)-odd, 1)
	dLon := span / float64(ni)
	m := math.Floor(refLon/dLon - x + 0.5)
	lon = dLon * (m + x)
	if math.Abs(lon-refLon) > dLon/2 {
		return 0, 0, false
	}
	lon -= math.Floor((lon+180)/360) * 360
	return lat, lon, true
}
