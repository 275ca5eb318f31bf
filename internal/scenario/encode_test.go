package scenario

import (
	"math"
	"strings"
	"testing"
	"time"

	"kizuna/internal/ais"
	"kizuna/internal/asterix"
	"kizuna/internal/modes"
)

func TestAISRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 27, 9, 0, 37, 0, time.UTC)
	d := ais.NewDecoder(ais.Config{})
	lines := EncodeAISPosition(440123456, 34.56789, 129.12345, 12.3, 75.4, 75, at, 'A')
	if len(lines) != 1 {
		t.Fatalf("type 1 in %d sentences", len(lines))
	}
	m, err := d.Line([]byte(strings.TrimSpace(lines[0])), at)
	if err != nil {
		t.Fatalf("decoding %q: %v", lines[0], err)
	}
	if m.Type != 1 || m.MMSI != 440123456 || math.Abs(m.Lat-34.56789) > 1e-5 || math.Abs(m.Lon-129.12345) > 1e-5 ||
		math.Abs(m.SOG-12.3) > 0.05 || math.Abs(m.COG-75.4) > 0.05 || m.Heading != 75 || m.Second != 37 {
		t.Errorf("decoded %+v", m)
	}
	st := EncodeAISStatic(440123456, 9123456, "DS3456", "SHIP ONE", 70, "BUSAN", 3, 'B')
	if len(st) != 2 {
		t.Fatalf("type 5 in %d sentences", len(st))
	}
	if m, err := d.Line([]byte(strings.TrimSpace(st[0])), at); err != nil || m != nil {
		t.Fatalf("first fragment: %v %v", m, err)
	}
	m, err = d.Line([]byte(strings.TrimSpace(st[1])), at)
	if err != nil || m == nil {
		t.Fatalf("second fragment: %v %v", m, err)
	}
	if m.Type != 5 || m.Name != "SHIP ONE" || m.Callsign != "DS3456" || m.ShipType != 70 || m.Destination != "BUSAN" {
		t.Errorf("decoded %+v", m)
	}
}

func TestModeSRoundTrip(t *testing.T) {
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	tr := modes.NewTracker(modes.TrackerConfig{})
	const icao = 0x71C123
	lat, lon := 34.123456, 129.654321
	for i, f := range [][]byte{
		ModeSIdentification(icao, "KAL123"),
		ModeSPosition(icao, lat, lon, 35000, false),
		ModeSPosition(icao, lat, lon, 35000, true),
		ModeSVelocity(icao, 450, 120, -640),
	} {
		m, err := modes.Decode(f)
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if m.ICAO != icao {
			t.Fatalf("frame %d: icao %06X", i, m.ICAO)
		}
		tr.Update(m, now.Add(time.Duration(i)*100*time.Millisecond))
	}
	a, ok := tr.Get(icao)
	if !ok || !a.HasPosition {
		t.Fatalf("no position: %+v", a)
	}
	if math.Abs(a.Lat-lat) > 1e-4 || math.Abs(a.Lon-lon) > 1e-4 || a.Altitude != 35000 || a.Callsign != "KAL123" {
		t.Errorf("aircraft %+v", a)
	}
	if math.Abs(a.GroundSpeed-450) > 1.5 || math.Abs(a.Track-120) > 0.5 || a.VerticalRate != -640 {
		t.Errorf("velocity %+v", a)
	}
	// Beast framing with escapes survives the reader.
	r := modes.NewBeastReader(0)
	frame := ModeSPosition(icao, lat, lon, 35000, false)
	r.Feed(Beast(frame, 0x1a1a1a1a1a1a, 0x1a))
	bf, ok := r.Next()
	if !ok || string(bf.Data) != string(frame) || bf.Timestamp != 0x1a1a1a1a1a1a || bf.Signal != 0x1a {
		t.Errorf("beast frame %+v", bf)
	}
}

func TestSBSLines(t *testing.T) {
	at := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		line  string
		check func(modes.SBSMessage) bool
	}{
		{SBSIdentification(0xABCDEF, "JAL5", at), func(m modes.SBSMessage) bool { return m.Type == 1 && m.Callsign == "JAL5" }},
		{SBSPosition(0xABCDEF, 35.5, 139.25, 33000, at), func(m modes.SBSMessage) bool {
			return m.Type == 3 && m.HasPosition && m.Lat == 35.5 && m.Lon == 139.25 && m.Altitude == 33000
		}},
		{SBSVelocity(0xABCDEF, 451, 270, -512, at), func(m modes.SBSMessage) bool {
			return m.Type == 4 && m.GroundSpeed == 451 && m.Track == 270 && m.VerticalRate == -512
		}},
	} {
		m, err := modes.ParseSBS([]byte(tc.line))
		if err != nil || m.ICAO != 0xABCDEF || !tc.check(m) {
			t.Errorf("%q: %+v %v", tc.line, m, err)
		}
	}
}

func TestPolarInvertsLocate(t *testing.T) {
	site := asterix.Site{Lat: 34.2, Lon: 129.29, Height: 60}
	for _, tc := range []struct{ lat, lon, h float64 }{{34.5, 129.6, 0}, {35.9, 131.0, 10000}, {33.1, 128.0, 3000}} {
		rho, theta := polar(site, tc.lat, tc.lon, tc.h)
		lat, lon := site.Locate(rho/1852, theta, tc.h)
		if d := distance(lat, lon, tc.lat, tc.lon); d > 5 {
			t.Errorf("%+v: located %.1f m away", tc, d)
		}
	}
}
