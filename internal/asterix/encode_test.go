package asterix

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestEncode048WireFormat re-encodes a sample record and compares octets:
// the expected octets are the sample's own, minus item I048/110 (which the
// encoder does not produce) and with I048/170 shortened to its first octet
// (its extension was all zero).
func TestEncode048WireFormat(t *testing.T) {
	recs, err := Decode(block(48, unhex(t, samples048[5].hex)))
	if err != nil {
		t.Fatal(err)
	}
	got := Encode048(recs)
	want := block(48, unhex(t, "FD16 19CC 356D7F 60 3AC39AE8 08B1 02C0 0BAA 098D24FA 00"))
	if !bytes.Equal(got, want) {
		t.Errorf("Encode048 =\n%X\nwant\n%X", got, want)
	}
}

// TestEncode062WireFormat builds a record by hand and checks every octet
// against the layouts of the CAT062 specification.
func TestEncode062WireFormat(t *testing.T) {
	r := Record{
		SAC: 25, SIC: 100, ServiceID: 1, TimeOfDay: 45827*time.Second + 398437500*time.Nanosecond,
		Lat: 0x007518FC * latLonLSB, Lon: 0x002CAED9 * latLonLSB, X: -29514.5, Y: -507088, VX: 228.75, VY: -47.25,
		Mode3A: Mode3A{Code: 0o1275}, AircraftAddress: 0x4CA7A8, Callsign: "RYR174C", TrackNumber: 4713,
		TrackStatus: TrackStatus{Source: 6, Coasted: true}, FlightLevel: 390, GeoAltitude: 36481.25,
		BaroAltitude: -2.5, BaroQNH: true, ClimbRate: -1000,
	}
	r.Present = f62
	got := Encode062([]Record{r})
	want := block(62, unhex(t, ""+
		"BF 5D 3C"+ // FSPEC: 010 015 070 105 100 185 | 060 380 040 080 | 136 130 135 220
		"1964 01 5981B3"+ // SAC SIC, service, time (1/128 s)
		"007518FC 002CAED9"+ // latitude, longitude (180/2^25 degrees)
		"FF196B F08660"+ // X, Y (0.5 m)
		"0393 FF43"+ // VX, VY (0.25 m/s)
		"02BD"+ // Mode 3/A 1275
		"C0 4CA7A8 4994B1DF40E0"+ // I062/380: ADR and ID present
		"1269"+ // track number 4713
		"19 01 01 80"+ // I062/080: SRC 6, three extensions, CST
		"0618"+ // measured FL 390 (1/4 FL)
		"16CD"+ // geometric altitude 36481.25 ft (6.25 ft)
		"FFF6"+ // QNH, barometric altitude FL -2.5
		"FF60")) // rate of climb -1000 ft/min (6.25 ft/min)
	if !bytes.Equal(got, want) {
		t.Errorf("Encode062 =\n%X\nwant\n%X", got, want)
	}
}

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		enc  func([]Record) []byte
		in   Record
	}{
		{"048 full", Encode048, Record{
			Category: 48, Present: f48, SAC: 1, SIC: 2, TimeOfDay: 23*time.Hour + 59*time.Minute + 59*time.Second + 7*tick,
			TargetReport: TargetReport{Type: 6, Simulated: true, RDP2: true, SPI: true, FieldMonitor: true, Test: true, MilEmergency: true, MilIdent: true, FoeFri: 2},
			Rho:          255.5, Theta: 359.9945068359375, Mode3A: Mode3A{Code: 0o7777, NotValidated: true, Garbled: true, Smoothed: true},
			FlightLevel: -12.25, FlightLevelSuspect: true, AircraftAddress: 0xFFFFFF, Callsign: "AB 12  Z", TrackNumber: 4095,
			GroundSpeed: 2731 * speed48LSB, Heading: 90, TrackStatus: TrackStatus{Tentative: true, Radar: 3, Ended: true, Ghost: true},
		}},
		{"048 minimal", Encode048, Record{Category: 48, Present: FieldSource, SAC: 255, SIC: 0}},
		{"048 empty callsign", Encode048, Record{Category: 48, Present: FieldSource | FieldCallsign}},
		{"062 full", Encode062, Record{
			Category: 62, Present: f62, SAC: 9, SIC: 8, ServiceID: 200, TimeOfDay: 5 * tick,
			Lat: -90, Lon: -180, X: -4194304, Y: 4194303.5, VX: -8192, VY: 8191.75,
			Mode3A: Mode3A{Code: 0o7700, Smoothed: true}, AircraftAddress: 1, Callsign: "SXD4723",
			TrackNumber: 65535, TrackStatus: TrackStatus{Tentative: true, Ended: true, Mono: true, SPI: true, Source: 7, Simulated: true, Coasted: true},
			FlightLevel: -8192, GeoAltitude: -204800, BaroAltitude: 4095.75, BaroQNH: true, ClimbRate: 204793.75,
		}},
		{"062 address only", Encode062, Record{Category: 62, Present: FieldSource | FieldAircraftAddress, AircraftAddress: 0xABCDEF}},
		{"062 callsign only", Encode062, Record{Category: 62, Present: FieldSource | FieldCallsign, Callsign: "X"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decode(tc.enc([]Record{tc.in}))
			if err != nil {
				t.Fatalf("Decode(Encode): %v", err)
			}
			if diff := cmp.Diff([]Record{tc.in}, got); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
		})
	}
}

// TestEncodeNormalises checks what the encoder does with values an item
// cannot carry: saturation, angle wrapping, callsign normalisation, and
// the mandatory data source identifier.
func TestEncodeNormalises(t *testing.T) {
	tests := []struct {
		name string
		enc  func([]Record) []byte
		in   Record
		want Record
	}{
		{"range saturates below 256 NM", Encode048,
			Record{Present: FieldPolar, Rho: 300, Theta: -90},
			Record{Category: 48, Present: FieldSource | FieldPolar, Rho: 65535.0 / 256, Theta: 270}},
		{"angles wrap and round", Encode048,
			Record{Present: FieldPolar | FieldPolarVelocity, Theta: 720.001, Heading: 359.9999, GroundSpeed: -5},
			Record{Category: 48, Present: FieldSource | FieldPolar | FieldPolarVelocity, Theta: 0, Heading: 0, GroundSpeed: 0}},
		{"NaN encodes as zero", Encode048,
			Record{Present: FieldPolar | FieldFlightLevel, Rho: math.NaN(), Theta: math.NaN(), FlightLevel: math.NaN()},
			Record{Category: 48, Present: FieldSource | FieldPolar | FieldFlightLevel}},
		{"flight level saturates to 14 bits", Encode048,
			Record{Present: FieldFlightLevel, FlightLevel: 5000},
			Record{Category: 48, Present: FieldSource | FieldFlightLevel, FlightLevel: 8191.0 / 4}},
		{"callsign upper-cased, padded, truncated", Encode048,
			Record{Present: FieldCallsign, Callsign: "ja-123abcdef"},
			Record{Category: 48, Present: FieldSource | FieldCallsign, Callsign: "JA 123AB"}},
		{"time of day rounds to 1/128 s and saturates", Encode062,
			Record{Present: FieldTimeOfDay, TimeOfDay: 100*time.Hour + 3*time.Millisecond},
			Record{Category: 62, Present: FieldSource | FieldTimeOfDay, TimeOfDay: (1<<24 - 1) * tick}},
		{"negative time of day saturates at zero", Encode062,
			Record{Present: FieldTimeOfDay, TimeOfDay: -time.Second},
			Record{Category: 62, Present: FieldSource | FieldTimeOfDay}},
		{"CAT048 track number keeps 12 bits", Encode048,
			Record{Present: FieldTrackNumber, TrackNumber: 0x1234},
			Record{Category: 48, Present: FieldSource | FieldTrackNumber, TrackNumber: 0x234}},
		{"latitude saturates", Encode062,
			Record{Present: FieldWGS84 | FieldCartesian, Lat: 1000, Lon: -1000, X: 1e9, Y: -1e9},
			Record{Category: 62, Present: FieldSource | FieldWGS84 | FieldCartesian,
				Lat: 90, Lon: -180, X: (1<<23 - 1) * xyLSB, Y: -(1 << 23) * xyLSB}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decode(tc.enc([]Record{tc.in}))
			if err != nil {
				t.Fatalf("Decode(Encode): %v", err)
			}
			if diff := cmp.Diff([]Record{tc.want}, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestEncodeSplitsBlocks encodes more records than one 65535-octet block
// holds; they must come back whole and in order.
func TestEncodeSplitsBlocks(t *testing.T) {
	const n = 3000 // about 32 octets each: two blocks
	in := make([]Record, n)
	for i := range in {
		in[i] = Record{Category: 48, Present: f48, SAC: 1, SIC: 2, TrackNumber: uint16(i % 4096), Callsign: "KIZ" + string(rune('A'+i%26)),
			Rho: float64(i%65535) / 256, AircraftAddress: uint32(i)}
	}
	dg := Encode048(in)
	blocks := 0
	for off := 0; off < len(dg); {
		l := int(dg[off+1])<<8 | int(dg[off+2])
		if dg[off] != 48 || l > 0xffff || l < 3 {
			t.Fatalf("bad block header at %d", off)
		}
		off += l
		blocks++
	}
	if blocks < 2 {
		t.Errorf("%d octets in %d block(s), want at least 2 blocks", len(dg), blocks)
	}
	got, err := Decode(dg)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(in, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if Encode048(nil) != nil || Encode062(nil) != nil {
		t.Errorf("encoding no records should give nil")
	}
	if _, err := Decode(Append062(Encode048(in[:1]), in[1:2])); err != nil {
		t.Errorf("048 and 062 blocks in one datagram: %v", err)
	}
}

func TestEncodeDatagrams(t *testing.T) {
	in := make([]Record, 500)
	for i := range in {
		in[i] = Record{Present: f62 &^ FieldCallsign, TrackNumber: uint16(i), Lat: 35, Lon: 139}
	}
	for _, tc := range []struct {
		cat  uint8
		size int
	}{{62, 1472}, {48, 1472}, {62, MinDatagram}, {48, 100000}} {
		t.Run(fmt.Sprintf("CAT%03d/%d", tc.cat, tc.size), func(t *testing.T) {
			dgs, err := EncodeDatagrams(tc.cat, in, tc.size)
			if err != nil {
				t.Fatal(err)
			}
			var got []Record
			for i, dg := range dgs {
				if len(dg) > tc.size || len(dg) > 0xffff {
					t.Fatalf("datagram %d has %d octets, limit %d", i, len(dg), tc.size)
				}
				if i < len(dgs)-1 && len(dg) < tc.size-maxRecordLen {
					t.Errorf("datagram %d has only %d octets of %d", i, len(dg), tc.size)
				}
				recs, err := Decode(dg)
				if err != nil {
					t.Fatalf("datagram %d: %v", i, err)
				}
				got = append(got, recs...)
			}
			if len(got) != len(in) {
				t.Fatalf("got %d records back, want %d", len(got), len(in))
			}
			for i := range got {
				if got[i].TrackNumber != in[i].TrackNumber&trackMask(tc.cat) {
					t.Fatalf("record %d has track %d: order lost", i, got[i].TrackNumber)
				}
			}
		})
	}
	if _, err := EncodeDatagrams(21, in, 1472); !errors.Is(err, ErrUnknownCategory) {
		t.Errorf("CAT021: %v, want ErrUnknownCategory", err)
	}
	if _, err := EncodeDatagrams(48, in, 50); !errors.Is(err, ErrBadLength) {
		t.Errorf("size 50: %v, want ErrBadLength", err)
	}
}

func trackMask(cat uint8) uint16 {
	if cat == 48 {
		return 0x0fff
	}
	return 0xffff
}

func TestRecordTime(t *testing.T) {
	ref := time.Date(2026, 11, 27, 0, 0, 2, 0, time.UTC) // just after midnight
	tests := []struct {
		name string
		tod  time.Duration
		ref  time.Time
		want time.Time
	}{
		{"same day", 1 * time.Second, ref, time.Date(2026, 11, 27, 0, 0, 1, 0, time.UTC)},
		{"report from before midnight", 24*time.Hour - 3*time.Second, ref, time.Date(2026, 11, 26, 23, 59, 57, 0, time.UTC)},
		{"report after midnight, clock behind", 2 * time.Second, time.Date(2026, 11, 26, 23, 59, 59, 0, time.UTC), time.Date(2026, 11, 27, 0, 0, 2, 0, time.UTC)},
		{"reference in another zone", 12 * time.Hour, time.Date(2026, 11, 27, 20, 0, 0, 0, time.FixedZone("JST", 9*3600)), time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := Record{Present: FieldTimeOfDay, TimeOfDay: tc.tod}
			got, ok := r.Time(tc.ref)
			if !ok || !got.Equal(tc.want) {
				t.Errorf("Time = %v, %v; want %v", got, ok, tc.want)
			}
		})
	}
	if _, ok := (&Record{}).Time(ref); ok {
		t.Errorf("Time without a time of day reported ok")
	}
}

func TestRecordPosition(t *testing.T) {
	site := &Site{Lat: 45.5, Lon: 16, Height: 300}
	track := Record{Present: FieldWGS84, Lat: 1, Lon: 2}
	if lat, lon, ok := track.Position(nil); !ok || lat != 1 || lon != 2 {
		t.Errorf("system track position = %v, %v, %v", lat, lon, ok)
	}
	plot := Record{Present: FieldPolar | FieldFlightLevel, Rho: 100, Theta: 90, FlightLevel: 350}
	lat, lon, ok := plot.Position(site)
	wantLat, wantLon := site.Locate(100, 90, FlightLevelHeight(350))
	if !ok || lat != wantLat || lon != wantLon {
		t.Errorf("plot position = %v, %v, %v; want %v, %v", lat, lon, ok, wantLat, wantLon)
	}
	// Without a flight level the antenna height is used: a longer ground range.
	plot.Present &^= FieldFlightLevel
	_, lon2, _ := plot.Position(site)
	if lon2 <= lon {
		t.Errorf("without height, longitude %v should lie east of %v", lon2, lon)
	}
	if _, _, ok := plot.Position(nil); ok {
		t.Errorf("polar position without a site reported ok")
	}
}
