package scenario

import (
	"math"

	"kizuna/internal/asterix"
)

const earthR = 6371008.8

func rad(d float64) float64 { return d * math.Pi / 180 }
func deg(r float64) float64 { return r * 180 / math.Pi }

// distance is the great-circle distance in metres.
func distance(lat1, lon1, lat2, lon2 float64) float64 {
	p1, p2 := rad(lat1), rad(lat2)
	dp, dl := p2-p1, rad(lon2-lon1)
	a := math.Sin(dp/2)*math.Sin(dp/2) + math.Cos(p1)*math.Cos(p2)*math.Sin(dl/2)*math.Sin(dl/2)
	return 2 * earthR * math.Asin(math.Min(1, math.Sqrt(a)))
}

// bearing is the initial great-circle bearing in degrees.
func bearing(lat1, lon1, lat2, lon2 float64) float64 {
	p1, p2, dl := rad(lat1), rad(lat2), rad(lon2-lon1)
	y := math.Sin(dl) * math.Cos(p2)
	x := math.Cos(p1)*math.Sin(p2) - math.Sin(p1)*math.Cos(p2)*math.Cos(dl)
	return math.Mod(deg(math.Atan2(y, x))+360, 360)
}

// move travels dist metres on bearing brg along the WGS-84 geodesic.
func move(lat, lon, brg, dist float64) (float64, float64) {
	if dist == 0 {
		return lat, lon
	}
	if dist < 0 {
		dist, brg = -dist, brg+180
	}
	return asterix.Direct(lat, lon, math.Mod(brg, 360), dist)
}

// offset moves a point by east and north metres.
func offset(lat, lon, de, dn float64) (float64, float64) {
	d := math.Hypot(de, dn)
	if d == 0 {
		return lat, lon
	}
	return move(lat, lon, deg(math.Atan2(de, dn)), d)
}

// polar returns the slant range (m) and azimuth (degrees) from a radar
// site to a target at height h (m), in earth-centred coordinates.
func polar(site asterix.Site, lat, lon, h float64) (rho, theta float64) {
	sx, sy, sz := ecef(site.Lat, site.Lon, site.Height)
	tx, ty, tz := ecef(lat, lon, h)
	dx, dy, dz := tx-sx, ty-sy, tz-sz
	sl, cl := math.Sincos(rad(site.Lat))
	so, co := math.Sincos(rad(site.Lon))
	e := -so*dx + co*dy
	n := -sl*co*dx - sl*so*dy + cl*dz
	rho = math.Sqrt(dx*dx + dy*dy + dz*dz)
	theta = math.Mod(deg(math.Atan2(e, n))+360, 360)
	return rho, theta
}

func ecef(lat, lon, h float64) (x, y, z float64) {
	const a, f = 6378137.0, 1 / 298.257223563
	e2 := f * (2 - f)
	sl, cl := math.Sincos(rad(lat))
	so, co := math.Sincos(rad(lon))
	n := a / math.Sqrt(1-e2*sl*sl)
	return (n + h) * cl * co, (n + h) * cl * so, (n*(1-e2) + h) * sl
}
