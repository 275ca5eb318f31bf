package asterix

import (
	"fmt"
	"math"
	"testing"
)

func dms(d, m, s float64) float64 {
	if d < 0 {
		return d - m/60 - s/3600
	}
	return d + m/60 + s/3600
}

// TestDirectKnownGeodesic uses the worked example of Vincenty's direct
// formula published by Geoscience Australia: from Flinders Peak
// (37°57'03.72030"S, 144°25'29.52440"E), azimuth 306°52'05.37", 54972.271 m
// lead to Buninyong (37°39'10.15610"S, 143°55'35.38390"E). The example uses
// GRS80, whose flattening differs from WGS-84's by 1e-11 (far below a
// millimetre here).
func TestDirectKnownGeodesic(t *testing.T) {
	lat, lon := Direct(dms(-37, 57, 3.72030), dms(144, 25, 29.52440), dms(306, 52, 5.37), 54972.271)
	wantLat, wantLon := dms(-37, 39, 10.15610), dms(143, 55, 35.38390)
	// 1e-7 degree is about 1 cm; the azimuth is given to 0.005".
	if math.Abs(lat-wantLat) > 1e-7 || math.Abs(lon-wantLon) > 1e-7 {
		t.Errorf("Direct = %.9f, %.9f; want %.9f, %.9f", lat, lon, wantLat, wantLon)
	}
}

func TestDirectEdgeCases(t *testing.T) {
	tests := []struct {
		name               string
		lat, lon, az, dist float64
		wantLat, wantLon   float64
		tolerance          float64
	}{
		{"zero distance", 10, 20, 45, 0, 10, 20, 0},
		// A quarter meridian of the WGS-84 ellipsoid is 10001965.729 m.
		{"equator to pole", 0, 5, 0, 10001965.729, 90, 5, 1e-7},
		{"along the equator crosses the antimeridian", 0, 179.5, 90, 111319.49079, 0, -179.5, 1e-7},
		{"due south from the north pole", 90, 0, 180, 10001965.729, 0, 0, 1e-6},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lat, lon := Direct(tc.lat, tc.lon, tc.az, tc.dist)
			if math.Abs(lat-tc.wantLat) > tc.tolerance || math.Abs(lon-tc.wantLon) > tc.tolerance {
				t.Errorf("Direct = %.9f, %.9f; want %.9f, %.9f", lat, lon, tc.wantLat, tc.wantLon)
			}
		})
	}
}

// ecef converts geodetic coordinates (degrees, metres) to Earth-centred
// Cartesian coordinates on WGS-84.
func ecef(lat, lon, h float64) [3]float64 {
	phi, lam := lat*math.Pi/180, lon*math.Pi/180
	e2 := wgs84F * (2 - wgs84F)
	n := wgs84A / math.Sqrt(1-e2*math.Sin(phi)*math.Sin(phi))
	return [3]float64{
		(n + h) * math.Cos(phi) * math.Cos(lam),
		(n + h) * math.Cos(phi) * math.Sin(lam),
		(n*(1-e2) + h) * math.Sin(phi),
	}
}

func dist3(a, b [3]float64) float64 {
	return math.Sqrt((a[0]-b[0])*(a[0]-b[0]) + (a[1]-b[1])*(a[1]-b[1]) + (a[2]-b[2])*(a[2]-b[2]))
}

// TestLocateSlantRange checks Locate independently of its own geometry: the
// straight-line distance between the antenna and the located target (both
// in exact Earth-centred coordinates) must equal the measured slant range.
// The local sphere approximation costs under a metre at these ranges; the
// test allows 5 m and prints the worst case with -v.
func TestLocateSlantRange(t *testing.T) {
	sites := []Site{
		{Lat: 45.5, Lon: 16.0, Height: 300},  // mid latitude
		{Lat: 69.7, Lon: 18.9, Height: 50},   // high latitude
		{Lat: -1.2, Lon: 36.9, Height: 1700}, // equator, high site
		{Lat: 35.6, Lon: 139.7, Height: 0},
	}
	worst := 0.0
	t.Cleanup(func() { t.Logf("largest slant range error: %.2f m", worst) })
	for _, s := range sites {
		for _, rho := range []float64{5, 50, 150, 250} {
			for _, theta := range []float64{0, 45, 137.5, 270, 359} {
				for _, fl := range []float64{10, 120, 390} {
					h := FlightLevelHeight(fl)
					if rho*metresPerNM < h-s.Height {
						continue
					}
					t.Run(fmt.Sprintf("%v/%vNM/%v°/FL%v", s.Lat, rho, theta, fl), func(t *testing.T) {
						lat, lon := s.Locate(rho, theta, h)
						got := dist3(ecef(s.Lat, s.Lon, s.Height), ecef(lat, lon, h)) / metresPerNM
						err := math.Abs(got - rho)
						worst = math.Max(worst, err*metresPerNM)
						if err*metresPerNM > 5 {
							t.Errorf("slant range of located target %.4f NM, want %.4f NM (error %.1f m)", got, rho, err*metresPerNM)
						}
					})
				}
			}
		}
	}
}

// TestLocateAzimuth checks the direction: a target due north lies on the
// radar's meridian, due east has nearly the radar's latitude (the geodesic
// bends towards the equator by d²·tan(lat)/(2R)).
func TestLocateAzimuth(t *testing.T) {
	s := Site{Lat: 45, Lon: 10, Height: 100}
	lat, lon := s.Locate(100, 0, FlightLevelHeight(300))
	if math.Abs(lon-10) > 1e-9 || lat < 46.5 || lat > 46.7 {
		t.Errorf("due north: %.6f, %.6f", lat, lon)
	}
	lat, lon = s.Locate(100, 90, FlightLevelHeight(300))
	if lon < 12.3 || lon > 12.45 || lat > 45 || lat < 44.95 {
		t.Errorf("due east: %.6f, %.6f", lat, lon)
	}
	// Straight up: the radar's own position.
	lat, lon = s.Locate(0.5, 30, 5000)
	if lat != 45 || lon != 10 {
		t.Errorf("overhead: %.6f, %.6f", lat, lon)
	}
}

// TestFlatEarthErrorIsLarge backs the claim in Locate's documentation that
// a local tangent plane would be far worse at 250 NM than the method used.
func TestFlatEarthErrorIsLarge(t *testing.T) {
	s := Site{Lat: 60, Lon: 10}
	d := 250 * metresPerNM
	theta := 45.0
	lat, lon := Direct(s.Lat, s.Lon, theta, d)
	phi := s.Lat * math.Pi / 180
	e2 := wgs84F * (2 - wgs84F)
	w := math.Sqrt(1 - e2*math.Sin(phi)*math.Sin(phi))
	m := wgs84A * (1 - e2) / (w * w * w) // meridian radius
	n := wgs84A / w                      // prime vertical radius
	fLat := s.Lat + d*math.Cos(theta*math.Pi/180)/m*180/math.Pi
	fLon := s.Lon + d*math.Sin(theta*math.Pi/180)/(n*math.Cos(phi))*180/math.Pi
	errM := dist3(ecef(lat, lon, 0), ecef(fLat, fLon, 0))
	t.Logf("flat-earth error at 250 NM, 60°N, 045°: %.0f m", errM)
	if errM < 1000 {
		t.Errorf("flat-earth error %.0f m; the documentation claims kilometres", errM)
	}
}
