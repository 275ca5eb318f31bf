package modes

import (
	"math"
	"testing"
)

// nlTransitions are the latitudes where NL drops from 59 - i to 58 - i,
// from the precomputed table of 1090-WP-9-14 as printed in dump1090's
// cpr.c (8 decimals).
var nlTransitions = []float64{
	10.47047130, 14.82817437, 18.18626357, 21.02939493, 23.54504487, 25.82924707,
	27.93898710, 29.91135686, 31.77209708, 33.53993436, 35.22899598, 36.85025108,
	38.41241892, 39.92256684, 41.38651832, 42.80914012, 44.19454951, 45.54626723,
	46.86733252, 48.16039128, 49.42776439, 50.67150166, 51.89342469, 53.09516153,
	54.27817472, 55.44378444, 56.59318756, 57.72747354, 58.84763776, 59.95459277,
	61.04917774, 62.13216659, 63.20427479, 64.26616523, 65.31845310, 66.36171008,
	67.39646774, 68.42322022, 69.44242631, 70.45451075, 71.45986473, 72.45884545,
	73.45177442, 74.43893416, 75.42056257, 76.39684391, 77.36789461, 78.33374083,
	79.29428225, 80.24923213, 81.19801349, 82.13956981, 83.07199445, 83.99173563,
	84.89166191, 85.75541621, 86.53536998, 87.00000000,
}

func TestNLZoneBoundaries(t *testing.T) {
	if len(nlTransitions) != 58 {
		t.Fatalf("%d transitions", len(nlTransitions))
	}
	const eps = 1e-7 // below the table's 8-decimal rounding would be too tight
	for i, lat := range nlTransitions[:57] {
		below, above := 59-i, 58-i
		for _, sign := range []float64{1, -1} {
			if got := NL(sign * (lat - eps)); got != below {
				t.Errorf("NL(%.9f) = %d, want %d", sign*(lat-eps), got, below)
			}
			if got := NL(sign * (lat + eps)); got != above {
				t.Errorf("NL(%.9f) = %d, want %d", sign*(lat+eps), got, above)
			}
		}
	}
}

// The exact transition latitudes follow from inverting the closed form:
// NL drops below n where cos²(lat) = (1 - cos(π/2NZ)) / (1 - cos(2π/n)).
// They must agree with the published 8-decimal table, and NL must step
// there to within 1e-9°.
func TestNLExactTransitions(t *testing.T) {
	a := 1 - math.Cos(math.Pi/(2*nz))
	for i, table := range nlTransitions[:57] {
		n := float64(59 - i)
		lat := math.Acos(math.Sqrt(a/(1-math.Cos(2*math.Pi/n)))) * 180 / math.Pi
		if math.Abs(lat-table) > 5e-9 {
			t.Errorf("NL %v→%v at %.10f, table says %.8f", n, n-1, lat, table)
		}
		if got := NL(lat - 1e-9); got != int(n) {
			t.Errorf("NL(%.10f) = %d, want %v", lat-1e-9, got, n)
		}
		if got := NL(lat + 1e-9); got != int(n)-1 {
			t.Errorf("NL(%.10f) = %d, want %v", lat+1e-9, got, n-1)
		}
	}
}

func TestNLSpecialValues(t *testing.T) {
	// pyModeS tests/test_cpr.py TestCprNL
	for lat, want := range map[float64]int{
		0: 59, 0.1: 59, -0.1: 59, 45: 42, 80: 10, 87: 2, -87: 2, 87.5: 1, -87.5: 1, 86.9: 2, 90: 1,
	} {
		if got := NL(lat); got != want {
			t.Errorf("NL(%v) = %d, want %d", lat, got, want)
		}
	}
	prev := NL(0)
	for lat := 1; lat <= 90; lat++ {
		nl := NL(float64(lat))
		if nl > prev {
			t.Fatalf("NL not monotone at %d: %d after %d", lat, nl, prev)
		}
		prev = nl
	}
}

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestGlobalAirborne(t *testing.T) {
	tests := []struct {
		name                             string
		evenLat, evenLon, oddLat, oddLon uint32
		oddNewer                         bool
		lat, lon, tol                    float64
	}{
		// dump1090 cprtests.c cprGlobalAirborneTests (tolerance 1e-6 there).
		{"dump1090 0 even", 80536, 9432, 61720, 9192, false, 51.686646, 0.700156, 1e-6},
		{"dump1090 0 odd", 80536, 9432, 61720, 9192, true, 51.686763, 0.701294, 1e-6},
		{"dump1090 1 even", 80534, 9413, 61714, 9144, false, 51.686554, 0.698745, 1e-6},
		{"dump1090 1 odd", 80534, 9413, 61714, 9144, true, 51.686484, 0.697632, 1e-6},
		// "The 1090MHz Riddle": 8D40621D58C382D690C8AC2863A7 (even, newer) and
		// 8D40621D58C386435CC412692AD6 → 52.2572021484375, 3.91937255859375.
		{"1090 riddle even newer", 93000, 51372, 74158, 50194, false, 52.2572021484375, 3.91937255859375, 1e-12},
		// The same pair with the odd message newer: 52.2658, 3.9389.
		{"1090 riddle odd newer", 93000, 51372, 74158, 50194, true, 52.2658, 3.9389, 5e-5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lat, lon, ok := GlobalAirborne(tc.evenLat, tc.evenLon, tc.oddLat, tc.oddLon, tc.oddNewer)
			if !ok || !near(lat, tc.lat, tc.tol) || !near(lon, tc.lon, tc.tol) {
				t.Fatalf("got %.9f %.9f %v, want %.9f %.9f", lat, lon, ok, tc.lat, tc.lon)
			}
		})
	}
}

func TestGlobalAirborneFromMessages(t *testing.T) {
	// pyModeS tests/test_cpr.py TestAirbornePositionPair: the odd message
	// is newer → 49.81755, 6.08442; even newer → 49.82410, 6.06785 (±0.001).
	e, err := Decode(mustHex(t, "8D40058B58C901375147EFD09357"))
	if err != nil {
		t.Fatal(err)
	}
	o, err := Decode(mustHex(t, "8D40058B58C904A87F402D3B8C59"))
	if err != nil {
		t.Fatal(err)
	}
	lat, lon, ok := GlobalAirborne(e.CPR.Lat, e.CPR.Lon, o.CPR.Lat, o.CPR.Lon, true)
	if !ok || !near(lat, 49.81755, 0.001) || !near(lon, 6.08442, 0.001) {
		t.Errorf("odd newer: %v %v %v", lat, lon, ok)
	}
	lat, lon, ok = GlobalAirborne(e.CPR.Lat, e.CPR.Lon, o.CPR.Lat, o.CPR.Lon, false)
	if !ok || !near(lat, 49.82410, 0.001) || !near(lon, 6.06785, 0.001) {
		t.Errorf("even newer: %v %v %v", lat, lon, ok)
	}
}

func TestGlobalAirborneRejects(t *testing.T) {
	// pyModeS tests/test_cpr.py: a pair straddling a zone boundary
	// (66.38° NL 23 vs 66.36° NL 24), and a real OpenSky pair resolving to
	// an impossible latitude.
	if lat, lon, ok := GlobalAirborne(8192, 0, 114688, 0, false); ok {
		t.Errorf("zone mismatch decoded to %v %v", lat, lon)
	}
	if lat, lon, ok := GlobalAirborne(113939, 119217, 72761, 59498, true); ok {
		t.Errorf("impossible latitude decoded to %v %v", lat, lon)
	}
}

func TestGlobalSurface(t *testing.T) {
	// dump1090 cprtests.c cprGlobalSurfaceTests: Cambridge (UK) apron, with
	// the reference moved around to check quadrant selection.
	const (
		eLat, eLon, oLat, oLon = 105730, 9259, 29693, 8997
		evLat, evLon           = 52.209984, 0.176601
		odLat, odLon           = 52.209976, 0.176507
	)
	tests := []struct {
		refLat, refLon         float64
		eLat, eLon, oLat, oLon uint32
		wantELat, wantELon     float64
		wantOLat, wantOLon     float64
	}{
		{52, -180, eLat, eLon, oLat, oLon, evLat, evLon - 180, odLat, odLon - 180},
		{52, -140, eLat, eLon, oLat, oLon, evLat, evLon - 180, odLat, odLon - 180},
		{52, -130, eLat, eLon, oLat, oLon, evLat, evLon - 90, odLat, odLon - 90},
		{52, -50, eLat, eLon, oLat, oLon, evLat, evLon - 90, odLat, odLon - 90},
		{52, -40, eLat, eLon, oLat, oLon, evLat, evLon, odLat, odLon},
		{52, -10, eLat, eLon, oLat, oLon, evLat, evLon, odLat, odLon},
		{52, 0, eLat, eLon, oLat, oLon, evLat, evLon, odLat, odLon},
		{52, 10, eLat, eLon, oLat, oLon, evLat, evLon, odLat, odLon},
		{52, 40, eLat, eLon, oLat, oLon, evLat, evLon, odLat, odLon},
		{52, 50, eLat, eLon, oLat, oLon, evLat, evLon + 90, odLat, odLon + 90},
		{52, 130, eLat, eLon, oLat, oLon, evLat, evLon + 90, odLat, odLon + 90},
		{52, 140, eLat, eLon, oLat, oLon, evLat, evLon - 180, odLat, odLon - 180},
		{52, 180, eLat, eLon, oLat, oLon, evLat, evLon - 180, odLat, odLon - 180},
		{90, 0, eLat, eLon, oLat, oLon, evLat, evLon, odLat, odLon},
		{52, 0, eLat, eLon, oLat, oLon, evLat, evLon, odLat, odLon},
		{8, 0, eLat, eLon, oLat, oLon, evLat, evLon, odLat, odLon},
		{7, 0, eLat, eLon, oLat, oLon, evLat - 90, 0.135269, odLat - 90, 0.134299},
		{-52, 0, eLat, eLon, oLat, oLon, evLat - 90, 0.135269, odLat - 90, 0.134299},
		{-90, 0, eLat, eLon, oLat, oLon, evLat - 90, 0.135269, odLat - 90, 0.134299},
		// Poles and equator.
		{-46, -180, 0, 0, 0, 0, -90, -180, -90, -180},
		{-44, -180, 0, 0, 0, 0, 0, -180, 0, -180},
		{44, -180, 0, 0, 0, 0, 0, -180, 0, -180},
		{46, -180, 0, 0, 0, 0, 90, -180, 90, -180},
	}
	for _, tc := range tests {
		lat, lon, ok := GlobalSurface(tc.refLat, tc.refLon, tc.eLat, tc.eLon, tc.oLat, tc.oLon, false)
		if !ok || !near(lat, tc.wantELat, 1e-6) || !near(lon, tc.wantELon, 1e-6) {
			t.Errorf("ref %v,%v even: got %.6f %.6f %v, want %.6f %.6f", tc.refLat, tc.refLon, lat, lon, ok, tc.wantELat, tc.wantELon)
		}
		lat, lon, ok = GlobalSurface(tc.refLat, tc.refLon, tc.eLat, tc.eLon, tc.oLat, tc.oLon, true)
		if !ok || !near(lat, tc.wantOLat, 1e-6) || !near(lon, tc.wantOLon, 1e-6) {
			t.Errorf("ref %v,%v odd: got %.6f %.6f %v, want %.6f %.6f", tc.refLat, tc.refLon, lat, lon, ok, tc.wantOLat, tc.wantOLon)
		}
	}
}

func TestLocal(t *testing.T) {
	// dump1090 cprtests.c cprRelativeTests (tolerance 1e-6).
	type rel struct {
		refLat, refLon float64
		c              CPR
		lat, lon       float64
	}
	var tests []rel
	for _, ref := range [][2]float64{{52, 0}, {48.7, 0}, {54.6, 0}, {52, 5.4}, {52, -4.1}} {
		tests = append(tests,
			rel{ref[0], ref[1], CPR{Lat: 80536, Lon: 9432}, 51.686646, 0.700156},
			rel{ref[0], ref[1], CPR{Odd: true, Lat: 61720, Lon: 9192}, 51.686763, 0.701294},
			rel{ref[0], ref[1], CPR{Lat: 80534, Lon: 9413}, 51.686554, 0.698745},
			rel{ref[0], ref[1], CPR{Odd: true, Lat: 61714, Lon: 9144}, 51.686484, 0.697632},
		)
	}
	for _, ref := range [][2]float64{{52, 0}, {51.46, 0}, {52.95, 0}, {52, 1.4}, {52, -1.05}} {
		tests = append(tests,
			rel{ref[0], ref[1], CPR{Surface: true, Lat: 105730, Lon: 9259}, 52.209984, 0.176601},
			rel{ref[0], ref[1], CPR{Surface: true, Odd: true, Lat: 29693, Lon: 8997}, 52.209976, 0.176507},
		)
	}
	for _, tc := range tests {
		lat, lon, ok := Local(tc.c, tc.refLat, tc.refLon)
		if !ok || !near(lat, tc.lat, 1e-6) || !near(lon, tc.lon, 1e-6) {
			t.Errorf("ref %v,%v %+v: got %.6f %.6f %v, want %.6f %.6f", tc.refLat, tc.refLon, tc.c, lat, lon, ok, tc.lat, tc.lon)
		}
	}
}

func TestLocalFromMessages(t *testing.T) {
	// pyModeS tests/test_cpr.py TestAirbornePositionWithRef and
	// TestSurfacePositionWithRef (±0.001).
	tests := []struct {
		hex            string
		refLat, refLon float64
		lat, lon       float64
	}{
		{"8D40058B58C901375147EFD09357", 49.0, 6.0, 49.82410, 6.06785},
		{"8D40058B58C904A87F402D3B8C59", 49.0, 6.0, 49.81755, 6.08442},
		{"8D06A15358BF17FF7D4A84B47B95", 30.508474576271183, 7.2*5.0 + 3e-15, 30.50540, 33.44787},
		{"903a23ff426a4e65f7487a775d17", 43.63, 1.37, 43.62646, 1.37476},
	}
	for _, tc := range tests {
		m, err := Decode(mustHex(t, tc.hex))
		if err != nil {
			t.Fatalf("%s: %v", tc.hex, err)
		}
		lat, lon, ok := Local(m.CPR, tc.refLat, tc.refLon)
		if !ok || !near(lat, tc.lat, 0.001) || !near(lon, tc.lon, 0.001) {
			t.Errorf("%s: got %v %v %v, want %v %v", tc.hex, lat, lon, ok, tc.lat, tc.lon)
		}
	}
}
