package modes

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// meOf returns the ME field of a 112-bit frame given in hex, for vectors
// whose published parity is not valid.
func meOf(t testing.TB, s string) uint64 {
	t.Helper()
	var me uint64
	for _, b := range mustHex(t, s)[4:11] {
		me = me<<8 | uint64(b)
	}
	return me
}

func TestDecodeGoldenMessages(t *testing.T) {
	tests := []struct {
		name   string
		hex    string
		want   Message
		ignore []string
	}{
		{
			// pyModeS tests/test_bds08.py and "The 1090MHz Riddle": EZY85MH, category 0.
			name: "identification EZY85MH",
			hex:  "8D406B902015A678D4D220AA4BDA",
			want: Message{DF: 17, ICAO: 0x406B90, TypeCode: 4, Callsign: "EZY85MH", Category: 0},
		},
		{
			// "The 1090MHz Riddle" identification example: KLM1023.
			name: "identification KLM1023",
			hex:  "8D4840D6202CC371C32CE0576098",
			want: Message{DF: 17, ICAO: 0x4840D6, TypeCode: 4, Callsign: "KLM1023"},
		},
		{
			// "The 1090MHz Riddle" airborne position (even), 38000 ft.
			name: "airborne position even",
			hex:  "8D40621D58C382D690C8AC2863A7",
			want: Message{DF: 17, ICAO: 0x40621D, TypeCode: 11, HasAltitude: true, Altitude: 38000,
				HasCPR: true, CPR: CPR{Odd: false, Lat: 93000, Lon: 51372}},
		},
		{
			// "The 1090MHz Riddle" airborne position (odd).
			name: "airborne position odd",
			hex:  "8D40621D58C386435CC412692AD6",
			want: Message{DF: 17, ICAO: 0x40621D, TypeCode: 11, HasAltitude: true, Altitude: 38000,
				HasCPR: true, CPR: CPR{Odd: true, Lat: 74158, Lon: 50194}},
		},
		{
			// pyModeS tests/test_bds05.py: altitude 39000, even, TC 11.
			name:   "airborne position 39000",
			hex:    "8D40058B58C901375147EFD09357",
			want:   Message{DF: 17, ICAO: 0x40058B, TypeCode: 11, HasAltitude: true, Altitude: 39000, HasCPR: true},
			ignore: []string{"CPR"},
		},
		{
			// pyModeS tests/test_bds09.py: GS 159 kt, track 182.88, VR -832 (GNSS),
			// geo minus baro 550 ft.
			name: "velocity ground speed",
			hex:  "8D485020994409940838175B284F",
			want: Message{DF: 17, ICAO: 0x485020, TypeCode: 19, VelocitySubtype: 1,
				HasGroundSpeed: true, GroundSpeed: 159, HasTrack: true, Track: 182.88,
				HasVerticalRate: true, VerticalRate: -832, VerticalRateGNSS: true,
				HasGeoMinusBaro: true, GeoMinusBaro: 550},
		},
		{
			// pyModeS tests/test_bds09.py: TAS 375 kt, heading 243.98, VR -2304.
			name: "velocity airspeed",
			hex:  "8DA05F219B06B6AF189400CBC33F",
			want: Message{DF: 17, ICAO: 0xA05F21, TypeCode: 19, VelocitySubtype: 3,
				HasAirspeed: true, Airspeed: 375, AirspeedTrue: true, HasHeading: true, Heading: 243.98,
				HasVerticalRate: true, VerticalRate: -2304},
			ignore: []string{"HasGeoMinusBaro", "GeoMinusBaro"},
		},
		{
			// pyModeS tests/test_bds61.py: aircraft status, no emergency, squawk 6513.
			name: "aircraft status",
			hex:  "8DA2C1B6E112B600000000760759",
			want: Message{DF: 17, ICAO: 0xA2C1B6, TypeCode: 28, HasSquawk: true, Squawk: 6513, Emergency: 0},
		},
		{
			// pyModeS tests/test_cpr.py: real DF18 surface position at LFBO (odd).
			name: "surface position",
			hex:  "903a23ff426a4e65f7487a775d17",
			want: Message{DF: 18, ICAO: 0x3A23FF, TypeCode: 8, HasOnGround: true, OnGround: true, HasCPR: true,
				CPR: CPR{Odd: true, Surface: true}},
			ignore: []string{"CPR.Lat", "CPR.Lon", "HasGroundSpeed", "GroundSpeed", "HasTrack", "Track"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decode(mustHex(t, tc.hex))
			if err != nil {
				t.Fatal(err)
			}
			// CA 5 (airborne) is carried by every DF17 vector above.
			opts := cmp.Options{
				cmpopts.EquateApprox(0, 0.01),
				cmpopts.IgnoreFields(Message{}, "HasOnGround", "OnGround"),
			}
			if tc.want.DF == 18 || tc.want.TypeCode == 8 {
				opts = cmp.Options{cmpopts.EquateApprox(0, 0.01)}
			}
			for _, f := range tc.ignore {
				if strings.HasPrefix(f, "CPR.") {
					opts = append(opts, cmpopts.IgnoreFields(CPR{}, strings.TrimPrefix(f, "CPR.")))
				} else {
					opts = append(opts, cmpopts.IgnoreFields(Message{}, f))
				}
			}
			w := tc.want
			if w.HasGroundSpeed && w.VelocitySubtype != 0 {
				// pyModeS publishes ground speed rounded to whole knots.
				got.GroundSpeed = math.Round(got.GroundSpeed)
			}
			if diff := cmp.Diff(w, *got, opts); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// pyModeS tests/fixtures/golden_v2.json, its 200 DF17 entries: typecode,
// ICAO, callsign, altitude, CPR format, ground speed, track and vertical
// rate, all exact.
func TestDecodeGoldenV2Corpus(t *testing.T) {
	raw, err := os.ReadFile("testdata/pymodes_golden_v2_df17.json")
	if err != nil {
		t.Fatal(err)
	}
	var corpus map[string]struct {
		Typecode     int      `json:"typecode"`
		ICAO         string   `json:"icao"`
		Callsign     *string  `json:"callsign"`
		Altitude     *int     `json:"altitude"`
		CPRFormat    *int     `json:"cpr_format"`
		Groundspeed  *int     `json:"groundspeed"`
		Track        *float64 `json:"track"`
		VerticalRate *int     `json:"vertical_rate"`
	}
	if err := json.Unmarshal(raw, &corpus); err != nil {
		t.Fatal(err)
	}
	if len(corpus) != 200 {
		t.Fatalf("corpus has %d entries", len(corpus))
	}
	for h, want := range corpus {
		m, err := Decode(mustHex(t, h))
		if err != nil {
			t.Errorf("%s: %v", h, err)
			continue
		}
		icao, _ := strconv.ParseUint(want.ICAO, 16, 32)
		if m.TypeCode != want.Typecode || m.ICAO != uint32(icao) {
			t.Errorf("%s: TC %d ICAO %06X, want %d %s", h, m.TypeCode, m.ICAO, want.Typecode, want.ICAO)
		}
		if want.Callsign != nil && m.Callsign != strings.TrimRight(*want.Callsign, "_") {
			t.Errorf("%s: callsign %q, want %q", h, m.Callsign, *want.Callsign)
		}
		if want.Altitude != nil && (!m.HasAltitude || m.Altitude != *want.Altitude) {
			t.Errorf("%s: altitude %d, want %d", h, m.Altitude, *want.Altitude)
		}
		if want.CPRFormat != nil && m.CPR.Odd != (*want.CPRFormat == 1) {
			t.Errorf("%s: odd %v, want format %d", h, m.CPR.Odd, *want.CPRFormat)
		}
		if want.Groundspeed != nil && (!m.HasGroundSpeed || int(m.GroundSpeed) != *want.Groundspeed) {
			t.Errorf("%s: ground speed %v, want %d", h, m.GroundSpeed, *want.Groundspeed)
		}
		if want.Track != nil && math.Abs(m.Track-*want.Track) > 1e-9 {
			t.Errorf("%s: track %v, want %v", h, m.Track, *want.Track)
		}
		if want.VerticalRate != nil && (!m.HasVerticalRate || m.VerticalRate != *want.VerticalRate) {
			t.Errorf("%s: vertical rate %d, want %d", h, m.VerticalRate, *want.VerticalRate)
		}
	}
}

func TestAltitudes(t *testing.T) {
	// pyModeS tests/test_bds05.py test_altitude_negative_and_boundary
	for h, want := range map[string]int{
		"8d484fde5803b647ecec4fcdd74f": -325,
		"8d4845575803c647bcec2a980abc": -300,
		"8d3424d25803d64c18ee03351f89": -275,
		"8d4401e458058645a8ea90496290": 0,
		"8d346355580596459cea86756acc": 25,
		"8d346355580b064116e70a269f97": 1000,
		"8d343386581f06318ad4fecab734": 5000,
	} {
		m, err := Decode(mustHex(t, h))
		if err != nil {
			t.Fatalf("%s: %v", h, err)
		}
		if !m.HasAltitude || m.Altitude != want {
			t.Errorf("%s: altitude %d (has %v), want %d", h, m.Altitude, m.HasAltitude, want)
		}
	}
	// pyModeS tests/test_altcode_gray.py: 13-bit AC 0x1030 (Q=1) is 25000 ft;
	// the Q=0 Gillham field built there from n500=102 and n100=3 must fall
	// in 45000..60000 ft (the test's bound); by the formula it quotes,
	// 102·500 + 3·100 - 1300, it is exactly 50000 ft (the comment there
	// adds it up to 49000 by mistake). An all-zero field and a field with
	// an invalid 100-ft code are unknown.
	if alt, ok := altitudeAC13(0x1030); !ok || alt != 25000 {
		t.Errorf("AC13 0x1030 = %d %v, want 25000", alt, ok)
	}
	if alt, ok := altitudeAC13(1<<10 | 1<<9 | 1<<5 | 1<<1 | 1); !ok || alt != 50000 {
		t.Errorf("Gillham = %d %v, want 50000", alt, ok)
	}
	if _, ok := altitudeAC13(0); ok {
		t.Error("all-zero AC decoded")
	}
	if _, ok := altitudeAC13(1<<12 | 1<<8); ok {
		t.Error("invalid Gillham 100-ft code decoded")
	}
}

func TestVelocityVectors(t *testing.T) {
	// pyModeS tests/test_bds09.py test_vertical_rates_from_v2_corpus
	for h, want := range map[string]int{
		"8d3461cf9908388930080f948ea1": 64,
		"8d3461cf9908558e100c1071eb67": 128,
		"8d3461cf99085a8f10400f80e6ac": 960,
		"8d394c0f990c4932780838866883": -64,
	} {
		var m Message
		decodeME(meOf(t, h), &m)
		if !m.HasVerticalRate || m.VerticalRate != want {
			t.Errorf("%s: vertical rate %d, want %d", h, m.VerticalRate, want)
		}
	}
	// pyModeS test_subtype3_heading_zero_regression (published with a zero
	// parity field, so only the ME is decoded): IAS 100, heading 0, VR 1024.
	var m Message
	decodeME(meOf(t, "8D4841409B04000CA04400000000"), &m)
	if !m.HasAirspeed || m.Airspeed != 100 || m.AirspeedTrue || !m.HasHeading || m.Heading != 0 || m.VerticalRate != 1024 {
		t.Errorf("subtype 3 heading 0: %+v", m)
	}
}

func TestSurfaceMovement(t *testing.T) {
	// pyModeS tests/test_bds06.py test_movement_ranges_from_v2_corpus
	tests := []struct {
		hex string
		has bool
		kts float64
	}{
		{"8c3944f8400002acb23cda192b95", false, 0},
		{"903a33ff40100858d34ff3cce976", true, 0},
		{"8c394c0f389b1667e947db7bb8bc", true, 1},
		{"8c3461cf398d60597b4ea434c4d7", true, 7.5},
		{"8c3461cf399d6059814ea81483a9", true, 8},
		{"8c3461cf3a7f3059c94e5bf4e169", true, 15},
		{"8c3950cf3dede47bac304d3b5122", true, 70},
		{"8c3933203edde47b9e2ffa5e77b8", true, 100},
		{"8d3933203fcde2a84e39e1c6c5bc", true, 175},
	}
	for _, tc := range tests {
		var m Message
		decodeME(meOf(t, tc.hex), &m)
		if m.HasGroundSpeed != tc.has || math.Abs(m.GroundSpeed-tc.kts) > 0.01 {
			t.Errorf("%s: speed %v (has %v), want %v (has %v)", tc.hex, m.GroundSpeed, m.HasGroundSpeed, tc.kts, tc.has)
		}
		if !m.OnGround || !m.HasCPR || !m.CPR.Surface {
			t.Errorf("%s: not a surface position: %+v", tc.hex, m)
		}
	}
}

func TestShortFrames(t *testing.T) {
	// pyModeS tests/test_surv.py (v2 vectors) and tests/test_allcall.py.
	tests := []struct {
		name string
		hex  string
		want Message
	}{
		{"DF4 altitude 36000", "20001718029FCD",
			Message{DF: 4, AddressFromParity: true, HasAltitude: true, Altitude: 36000, HasOnGround: true}},
		{"DF5 squawk 0356, flight status 2", "2A00516D492B80",
			Message{DF: 5, AddressFromParity: true, HasSquawk: true, Squawk: 356, HasOnGround: true}},
		{"DF11 all-call", "5D484FDEA248F5",
			Message{DF: 11, ICAO: 0x484FDE, HasOnGround: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Decode(mustHex(t, tc.hex))
			if err != nil {
				t.Fatal(err)
			}
			if tc.want.AddressFromParity {
				// The address of a DF4/5 reply is whatever its parity
				// yields; it is not published for these vectors.
				tc.want.ICAO = m.ICAO
			}
			if diff := cmp.Diff(tc.want, *m); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}
	if got := (&Message{Squawk: 356}).SquawkString(); got != "0356" {
		t.Errorf("SquawkString = %q", got)
	}
	// pyModeS test_surv.py: ID field 0x0808 is squawk 1200, 0x0AA2 is 7500.
	if got := squawk(0x0808); got != 1200 {
		t.Errorf("squawk(0x0808) = %d, want 1200", got)
	}
	if got := squawk(0x0AA2); got != 7500 {
		t.Errorf("squawk(0x0AA2) = %d, want 7500", got)
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrFormat},
		{"wrong length", make([]byte, 10), ErrFormat},
		{"DF17 in a short frame", mustHex(t, "8D406B902015A6"), ErrFormat},
		{"DF4 in a long frame", mustHex(t, "20406B902015A678D4D220AA4BDA"), ErrFormat},
		{"bad CRC", mustHex(t, "8D406B902015A678D4D220AA4BDB"), ErrCRC},
		{"flipped data bit", mustHex(t, "8D406B902015A678D4D221AA4BDA"), ErrCRC},
		{"DF24", mustHex(t, "C0406B902015A678D4D220AA4BDA"), ErrUnsupported},
		{"DF18 coarse TIS-B", mustHex(t, "93406B902015A678D4D220AA4BDA"), ErrCRC},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Decode(tc.in)
			if !errors.Is(err, tc.want) || m != nil {
				t.Fatalf("Decode = %v, %v; want %v", m, err, tc.want)
			}
		})
	}
}

func TestSyndrome(t *testing.T) {
	// Every golden DF17 vector has a zero syndrome; a single flipped bit
	// anywhere gives a non-zero one.
	f := mustHex(t, "8D406B902015A678D4D220AA4BDA")
	if s := Syndrome(f); s != 0 {
		t.Fatalf("syndrome %06X", s)
	}
	for bit := 0; bit < 112; bit++ {
		g := append([]byte(nil), f...)
		g[bit/8] ^= 0x80 >> (bit % 8)
		if Syndrome(g) == 0 {
			t.Fatalf("flip of bit %d not detected", bit)
		}
	}
}
