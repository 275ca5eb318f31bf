package asterix

import "math"

const (
	metresPerNM = 1852.0
	metresPerFt = 0.3048

	wgs84A = 6378137.0             // semi-major axis, metres
	wgs84F = 1 / 298.257223563     // flattening
	wgs84B = wgs84A * (1 - wgs84F) // semi-minor axis, metres
)

// Site is a radar's position: WGS-84 latitude and longitude in degrees and
// the antenna's height above the ellipsoid in metres.
type Site struct {
	Lat, Lon float64
	Height   float64
}

// Locate converts a CAT048 measured position (slant range rho in NM,
// azimuth theta in degrees from true north) into WGS-84 latitude and
// longitude, given the target's height above the ellipsoid in metres (use
// FlightLevelHeight for a Mode C flight level, or s.Height when the height
// is unknown).
//
// The method has two steps:
//
//  1. Slant range to ground range: the radar, the target and the earth's
//     centre form a triangle on a sphere of the local Gaussian radius of
//     curvature; the law of cosines gives the angle at the centre, hence the
//     great-circle distance at sea level. The ray is assumed straight
//     (atmospheric refraction lengthens the measured range by a few metres
//     at most). Against exact Earth-centred geometry, the slant range of the
//     located target differs from rho by under 1 m up to 250 NM at the
//     latitudes tested, 1°S to 70°N. An error of Δh in the target height moves
//     the result by about Δh·h/ground-range (for example 35 m for 1000 ft
//     of error at FL350 and 50 NM), which dominates in practice.
//  2. Ground range and azimuth to latitude and longitude: the direct
//     geodesic problem on the WGS-84 ellipsoid, solved with Vincenty's
//     series, accurate to better than a millimetre at these ranges.
//
// A flat-earth approximation (range scaled to degrees with the radar's
// radii of curvature) would instead err by kilometres at 250 NM, 32.6 km
// at 60°N on a bearing of 045° (see the tests), from the earth's curvature
// and the convergence of meridians; that is why it is not used.
//
// A slant range shorter than the height difference (a target almost above
// the radar) yields the radar's own position.
func (s Site) Locate(rhoNM, thetaDeg, targetHeight float64) (lat, lon float64) {
	slant := rhoNM * metresPerNM
	phi := s.Lat * math.Pi / 180
	r := gaussianRadius(phi)
	rr := r + s.Height
	rt := r + targetHeight
	c := (rr*rr + rt*rt - slant*slant) / (2 * rr * rt)
	c = math.Max(-1, math.Min(1, c))
	ground := r * math.Acos(c)
	return Direct(s.Lat, s.Lon, thetaDeg, ground)
}

// FlightLevelHeight approximates the height above the ellipsoid of a
// flight level (hundreds of feet of pressure altitude) as the same number
// of feet. In a non-standard atmosphere the true height differs by a few
// percent; Locate's result moves by that difference times h/range.
func FlightLevelHeight(fl float64) float64 { return fl * 100 * metresPerFt }

// gaussianRadius is the Gaussian mean radius of curvature of the WGS-84
// ellipsoid at geodetic latitude phi (radians): sqrt(M·N).
func gaussianRadius(phi float64) float64 {
	e2 := wgs84F * (2 - wgs84F)
	s := math.Sin(phi)
	w := 1 - e2*s*s
	return wgs84A * math.Sqrt(1-e2) / w
}

// Direct solves the direct geodesic problem on the WGS-84 ellipsoid: from
// (lat, lon) in degrees, travel dist metres along the geodesic that starts
// at azimuth az (degrees clockwise from true north). It uses Vincenty's
// iterative series (1975), which converges for every non-antipodal case.
func Direct(lat, lon, az, dist float64) (lat2, lon2 float64) {
	const rad = math.Pi / 180
	if dist == 0 || math.IsNaN(dist) {
		return lat, lon
	}
	phi1 := lat * rad
	alpha1 := az * rad
	sinA1, cosA1 := math.Sincos(alpha1)

	u1 := math.Atan2((1-wgs84F)*math.Sin(phi1), math.Cos(phi1))
	sinU1, cosU1 := math.Sincos(u1)
	sigma1 := math.Atan2(math.Tan(u1), cosA1)
	if cosU1 < 1e-12 { // at a pole tan(U1) is unbounded
		sigma1 = math.Atan2(sinU1, cosU1*cosA1)
	}
	sinAlpha := cosU1 * sinA1
	cos2Alpha := 1 - sinAlpha*sinAlpha
	uSq := cos2Alpha * (wgs84A*wgs84A - wgs84B*wgs84B) / (wgs84B * wgs84B)
	a := 1 + uSq/16384*(4096+uSq*(-768+uSq*(320-175*uSq)))
	b := uSq / 1024 * (256 + uSq*(-128+uSq*(74-47*uSq)))

	sigma := dist / (wgs84B * a)
	var sinSigma, cosSigma, cos2SigmaM float64
	for i := 0; i < 100; i++ {
		cos2SigmaM = math.Cos(2*sigma1 + sigma)
		sinSigma, cosSigma = math.Sincos(sigma)
		deltaSigma := b * sinSigma * (cos2SigmaM + b/4*(cosSigma*(-1+2*cos2SigmaM*cos2SigmaM)-
			b/6*cos2SigmaM*(-3+4*sinSigma*sinSigma)*(-3+4*cos2SigmaM*cos2SigmaM)))
		next := dist/(wgs84B*a) + deltaSigma
		if math.Abs(next-sigma) < 1e-12 {
			sigma = next
			break
		}
		sigma = next
	}
	cos2SigmaM = math.Cos(2*sigma1 + sigma)
	sinSigma, cosSigma = math.Sincos(sigma)

	tmp := sinU1*sinSigma - cosU1*cosSigma*cosA1
	phi2 := math.Atan2(sinU1*cosSigma+cosU1*sinSigma*cosA1, (1-wgs84F)*math.Sqrt(sinAlpha*sinAlpha+tmp*tmp))
	lambda := math.Atan2(sinSigma*sinA1, cosU1*cosSigma-sinU1*sinSigma*cosA1)
	c := wgs84F / 16 * cos2Alpha * (4 + wgs84F*(4-3*cos2Alpha))
	l := lambda - (1-c)*wgs84F*sinAlpha*(sigma+c*sinSigma*(cos2SigmaM+c*cosSigma*(-1+2*cos2SigmaM*cos2SigmaM)))

	lon2 = math.Mod(lon+l/rad+540, 360) - 180
	return phi2 / rad, lon2
}
