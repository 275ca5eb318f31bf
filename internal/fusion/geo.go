package fusion

import "math"

// WGS-84 ellipsoid.
const (
	wgsA  = 6378137.0
	wgsF  = 1 / 298.257223563
	wgsE2 = wgsF * (2 - wgsF)
)

// frame is a local east-north-up tangent plane at a WGS-84 point (height 0).
// Every track keeps its state in the plane at its own last position, so
// the plane is always exact where the track is.
type frame struct {
	lat, lon       float64 // degrees
	sinLat, cosLat float64
	sinLon, cosLon float64
	x0, y0, z0     float64 // ECEF of the origin
}

func newFrame(lat, lon float64) frame {
	f := frame{lat: lat, lon: lon}
	f.sinLat, f.cosLat = math.Sincos(lat * math.Pi / 180)
	f.sinLon, f.cosLon = math.Sincos(lon * math.Pi / 180)
	f.x0, f.y0, f.z0 = ecef(f.sinLat, f.cosLat, f.sinLon, f.cosLon, 0)
	return f
}

func ecef(sinLat, cosLat, sinLon, cosLon, h float64) (x, y, z float64) {
	n := wgsA / math.Sqrt(1-wgsE2*sinLat*sinLat)
	x = (n + h) * cosLat * cosLon
	y = (n + h) * cosLat * sinLon
	z = (n*(1-wgsE2) + h) * sinLat
	return
}

// toENU returns the east and north offsets in metres of (lat, lon) at
// height 0, projected on the plane.
func (f *frame) toENU(lat, lon float64) (e, n float64) {
	sLat, cLat := math.Sincos(lat * math.Pi / 180)
	sLon, cLon := math.Sincos(lon * math.Pi / 180)
	x, y, z := ecef(sLat, cLat, sLon, cLon, 0)
	dx, dy, dz := x-f.x0, y-f.y0, z-f.z0
	e = -f.sinLon*dx + f.cosLon*dy
	n = -f.sinLat*f.cosLon*dx - f.sinLat*f.sinLon*dy + f.cosLat*dz
	return
}

// fromENU returns the WGS-84 point under the plane point (e, n): the plane
// point is taken back to ECEF and projected along the ellipsoid normal.
func (f *frame) fromENU(e, n float64) (lat, lon float64) {
	x := f.x0 - f.sinLon*e - f.sinLat*f.cosLon*n
	y := f.y0 + f.cosLon*e - f.sinLat*f.sinLon*n
	z := f.z0 + f.cosLat*n
	return geodetic(x, y, z)
}

// geodetic converts ECEF to latitude and longitude (Bowring's method with
// two refinements; sub-millimetre near the surface).
func geodetic(x, y, z float64) (lat, lon float64) {
	lon = math.Atan2(y, x)
	p := math.Hypot(x, y)
	phi := math.Atan2(z, p*(1-wgsE2))
	for range 3 {
		s := math.Sin(phi)
		nn := wgsA / math.Sqrt(1-wgsE2*s*s)
		h := p/math.Cos(phi) - nn
		phi = math.Atan2(z, p*(1-wgsE2*nn/(nn+h)))
	}
	return phi * 180 / math.Pi, lon * 180 / math.Pi
}

// Distance returns the great-circle distance in metres between two points
// (haversine on the mean earth radius: good to 0.5 %, for metrics and
// gating indices only).
func Distance(lat1, lon1, lat2, lon2 float64) float64 {
	const r = 6371008.8
	p1, p2 := lat1*math.Pi/180, lat2*math.Pi/180
	dp := p2 - p1
	dl := (lon2 - lon1) * math.Pi / 180
	a := math.Sin(dp/2)*math.Sin(dp/2) + math.Cos(p1)*math.Cos(p2)*math.Sin(dl/2)*math.Sin(dl/2)
	return 2 * r * math.Asin(math.Min(1, math.Sqrt(a)))
}

// velocityENU turns a course (degrees true) and speed (m/s) into east and
// north velocity.
func velocityENU(course, speed float64) (ve, vn float64) {
	s, c := math.Sincos(course * math.Pi / 180)
	return speed * s, speed * c
}

// courseSpeed is the inverse of velocityENU.
func courseSpeed(ve, vn float64) (course, speed float64) {
	course = math.Atan2(ve, vn) * 180 / math.Pi
	if course < 0 {
		course += 360
	}
	return course, math.Hypot(ve, vn)
}
