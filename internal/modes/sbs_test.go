package modes

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The lines below follow the field layout dump1090 writes in net_io.c
// (modesSendSBSOutput): MSG, transmission type, session, aircraft, hex
// ident, flight, two date/time pairs, callsign, altitude, ground speed,
// track, lat, lon, vertical rate, squawk, alert, emergency, SPI, on ground;
// flags are -1 for true and 0 for false, lines end in CR LF.
func TestParseSBS(t *testing.T) {
	const stamp = "2026/11/27,08:00:00.000,2026/11/27,08:00:00.123"
	tests := []struct {
		name string
		line string
		want SBSMessage
	}{
		{
			name: "identification",
			line: "MSG,1,1,1,406B90,1," + stamp + ",EZY85MH ,,,,,,,,,,,\r\n",
			want: SBSMessage{Type: 1, ICAO: 0x406B90, Callsign: "EZY85MH"},
		},
		{
			name: "airborne position",
			line: "MSG,3,1,1,40621D,1," + stamp + ",,38000,,,52.25720,3.91937,,,0,0,0,0\r\n",
			want: SBSMessage{Type: 3, ICAO: 0x40621D, HasAltitude: true, Altitude: 38000,
				HasPosition: true, Lat: 52.2572, Lon: 3.91937, HasOnGround: true},
		},
		{
			// The BaseStation socket data write-up's MSG,3 example line.
			name: "BaseStation example",
			line: "MSG,3,496,211,4CA2D6,10057,2008/11/28,14:53:50.594,2008/11/28,14:58:51.153,,37000,,,51.45735,-1.02826,,,0,0,0,0",
			want: SBSMessage{Type: 3, ICAO: 0x4CA2D6, HasAltitude: true, Altitude: 37000,
				HasPosition: true, Lat: 51.45735, Lon: -1.02826, HasOnGround: true},
		},
		{
			name: "airborne velocity",
			line: "MSG,4,1,1,485020,1," + stamp + ",,,159,183,,,-832,,,,,0\r\n",
			want: SBSMessage{Type: 4, ICAO: 0x485020, HasGroundSpeed: true, GroundSpeed: 159,
				HasTrack: true, Track: 183, HasVerticalRate: true, VerticalRate: -832, HasOnGround: true},
		},
		{
			name: "GNSS vertical rate suffix",
			line: "MSG,4,1,1,485020,1," + stamp + ",,,159,183,,,-832H,,,,,\r\n",
			want: SBSMessage{Type: 4, ICAO: 0x485020, HasGroundSpeed: true, GroundSpeed: 159,
				HasTrack: true, Track: 183, HasVerticalRate: true, VerticalRate: -832},
		},
		{
			name: "surveillance id with emergency squawk",
			line: "MSG,6,1,1,3C6586,1," + stamp + ",,,,,,,,7700,0,-1,0,0\r\n",
			want: SBSMessage{Type: 6, ICAO: 0x3C6586, HasSquawk: true, Squawk: 7700, Emergency: true, HasOnGround: true},
		},
		{
			name: "surface position on ground",
			line: "MSG,2,1,1,3A23FF,1," + stamp + ",,0,14,101,43.62646,1.37476,,,,,,-1\r\n",
			want: SBSMessage{Type: 2, ICAO: 0x3A23FF, HasAltitude: true, GroundSpeed: 14, HasGroundSpeed: true,
				HasTrack: true, Track: 101, HasPosition: true, Lat: 43.62646, Lon: 1.37476, HasOnGround: true, OnGround: true},
		},
		{
			name: "non-ICAO address",
			line: "MSG,3,1,1,~1A2B3C,1," + stamp + ",,1000,,,10.0,20.0,,,,,,",
			want: SBSMessage{Type: 3, ICAO: 0x1A2B3C, NonICAO: true, HasAltitude: true, Altitude: 1000,
				HasPosition: true, Lat: 10, Lon: 20},
		},
		{
			name: "short line through the callsign",
			line: "MSG,8,1,1,406B90,1," + stamp + ",",
			want: SBSMessage{Type: 8, ICAO: 0x406B90},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseSBS([]byte(tc.line))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseSBSErrors(t *testing.T) {
	const stamp = "2026/11/27,08:00:00.000,2026/11/27,08:00:00.123"
	tests := []struct {
		name string
		line string
		want error
	}{
		{"empty", "", ErrFormat},
		{"heartbeat", "\r\n", ErrFormat},
		{"garbage", "hello world", ErrFormat},
		{"too short", "MSG,3,1,1,4CA2D6", ErrFormat},
		{"air line", "AIR,,1,1,4CA2D6,1," + stamp + ",,,,,,,,,,,,", ErrUnsupported},
		{"sel line", "SEL,,1,1,4CA2D6,1," + stamp + ",RYR1", ErrUnsupported},
		{"bad type", "MSG,9,1,1,4CA2D6,1," + stamp + ",,,,,,,,,,,,", ErrFormat},
		{"no hex", "MSG,3,1,1,,1," + stamp + ",,37000,,,,,,,,,,", ErrFormat},
		{"bad hex", "MSG,3,1,1,4CA2DZ,1," + stamp + ",,37000,,,,,,,,,,", ErrFormat},
		{"long hex", "MSG,3,1,1,4CA2D6A,1," + stamp + ",,37000,,,,,,,,,,", ErrFormat},
		{"bad altitude", "MSG,3,1,1,4CA2D6,1," + stamp + ",,high,,,,,,,,,,", ErrFormat},
		{"latitude out of range", "MSG,3,1,1,4CA2D6,1," + stamp + ",,37000,,,91.0,1.0,,,,,,", ErrFormat},
		{"longitude out of range", "MSG,3,1,1,4CA2D6,1," + stamp + ",,37000,,,51.0,181.0,,,,,,", ErrFormat},
		{"lat without lon", "MSG,3,1,1,4CA2D6,1," + stamp + ",,37000,,,51.0,,,,,,,", ErrFormat},
		{"NaN latitude", "MSG,3,1,1,4CA2D6,1," + stamp + ",,37000,,,NaN,1.0,,,,,,", ErrFormat},
		{"bad squawk", "MSG,6,1,1,4CA2D6,1," + stamp + ",,,,,,,,7800,,,,", ErrFormat},
		{"bad flag", "MSG,6,1,1,4CA2D6,1," + stamp + ",,,,,,,,7700,,yes,,", ErrFormat},
		{"too many fields", "MSG,3,1,1,4CA2D6,1," + stamp + ",,37000,,,,,,,,,,,1,2", ErrFormat},
		{"control character in callsign", "MSG,1,1,1,4CA2D6,1," + stamp + ",AB\x01,,,,,,,,,,,", ErrFormat},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseSBS([]byte(tc.line)); !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
		})
	}
}
