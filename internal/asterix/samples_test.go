package asterix

import (
	"encoding/hex"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// Test vectors transcribed from the sample captures of the CroatiaControlLtd
// "asterix" decoder project (install/sample_data/cat_034_048.pcap and
// cat_062_065.pcap) and that project's decoded output for them
// (install/sample_output/cat_034_048.txt and cat_062_065_json.txt). The
// expected values below are the ones printed there. That project prints
// I062/136 and I062/135 in feet (25 ft per LSB); we keep flight levels
// (1/4 FL per LSB), so 39000 ft appears here as FL 390.

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatalf("bad hex in test table: %v", err)
	}
	return b
}

// block wraps record octets in a data block header.
func block(cat byte, records ...[]byte) []byte {
	n := 3
	for _, r := range records {
		n += len(r)
	}
	b := []byte{cat, byte(n >> 8), byte(n)}
	for _, r := range records {
		b = append(b, r...)
	}
	return b
}

func tod(seconds float64) time.Duration { return time.Duration(seconds * float64(time.Second)) }

const (
	f48 = FieldSource | FieldTimeOfDay | FieldTargetReport | FieldPolar | FieldMode3A | FieldFlightLevel |
		FieldAircraftAddress | FieldCallsign | FieldTrackNumber | FieldPolarVelocity | FieldTrackStatus
)

var samples048 = []struct {
	name string
	hex  string
	want Record
}{
	{
		name: "Mode S roll-call with BDS data (I048/250)",
		hex:  "FDF70219C9356D4DA0C5AFF1E0020005283C660C10C236D4182001C0780031BC0000400DEB07B9582E410020F5",
		want: Record{
			Category: 48, Present: f48, SAC: 25, SIC: 201, TimeOfDay: tod(27354.6015625),
			TargetReport: TargetReport{Type: 5},
			Rho:          197.68359375, Theta: 61920 * 360.0 / 65536,
			Mode3A: Mode3A{Code: 0o1000}, FlightLevel: 330,
			AircraftAddress: 0x3C660C, Callsign: "DLH65A", TrackNumber: 3563,
			GroundSpeed: 1977 * 3600.0 / 16384, Heading: 22574 * 360.0 / 65536,
			TrackStatus: TrackStatus{Radar: 2},
		},
	},
	{
		name: "plot characteristics (compound I048/130) and Cartesian position (I048/042)",
		hex:  "FFFF02190D356DEEA0C2D35B9004C305A0E0560BB84BAACD50867951882001C65632B0A800004001E24BF6C304081EBB734020F5",
		want: Record{
			Category: 48, Present: f48, SAC: 25, SIC: 13, TimeOfDay: tod(27355.859375),
			TargetReport: TargetReport{Type: 5},
			Rho:          49875.0 / 256, Theta: 23440 * 360.0 / 65536,
			Mode3A: Mode3A{Code: 0o2303}, FlightLevel: 360,
			AircraftAddress: 0x4BAACD, Callsign: "THY9TX", TrackNumber: 482,
			GroundSpeed: 2078 * 3600.0 / 16384, Heading: 47987 * 360.0 / 65536,
			TrackStatus: TrackStatus{Radar: 2},
		},
	},
	{
		name: "track end without detection",
		hex:  "E19302190D3564210044D07402DA418020F5",
		want: Record{
			Category: 48, Present: FieldSource | FieldTimeOfDay | FieldTargetReport | FieldAircraftAddress | FieldTrackNumber | FieldTrackStatus,
			SAC: 25, SIC: 13, TimeOfDay: tod(27336.2578125),
			AircraftAddress: 0x44D074, TrackNumber: 730,
			TrackStatus: TrackStatus{Radar: 2, Ended: true},
		},
	},
	{
		name: "PSR + roll-call with 3D height (I048/110)",
		hex:  "FDF70A19C9356D56E0EF0FF3C8048206404007FA0815F1DB282002E6B9FF34BFFC0060CE200000000000400C7B085DCD830100064020F5",
		want: Record{
			Category: 48, Present: f48, SAC: 25, SIC: 201, TimeOfDay: tod(27354.671875),
			TargetReport: TargetReport{Type: 7},
			Rho:          61199.0 / 256, Theta: 62408 * 360.0 / 65536,
			Mode3A: Mode3A{Code: 0o2202}, FlightLevel: 400,
			AircraftAddress: 0x4007FA, Callsign: "BAW162", TrackNumber: 3195,
			GroundSpeed: 2141 * 3600.0 / 16384, Heading: 52611 * 360.0 / 65536,
			TrackStatus: TrackStatus{Radar: 0},
		},
	},
	{
		name: "plot characteristics without BDS data",
		hex:  "FFDF02190C356DF3A8270FDE5F0C2803D8E0560CCA3C5EEB1D7277098820062DF1A50D3D079DE7824220F5",
		want: Record{
			Category: 48, Present: f48, SAC: 25, SIC: 12, TimeOfDay: tod(27355.8984375),
			TargetReport: TargetReport{Type: 5, RDP2: true},
			Rho:          9999.0 / 256, Theta: 56927 * 360.0 / 65536,
			Mode3A: Mode3A{Code: 0o6050}, FlightLevel: 246,
			AircraftAddress: 0x3C5EEB, Callsign: "GWI7BX", TrackNumber: 1581,
			GroundSpeed: 1949 * 3600.0 / 16384, Heading: 59266 * 360.0 / 65536,
			TrackStatus: TrackStatus{Radar: 2},
		},
	},
	{
		name: "PSR + SSR plot without Mode S",
		hex:  "FD170819CC356D7F603AC39AE808B102C00BAA098D24FA010002C0",
		want: Record{
			Category: 48, Present: f48 &^ (FieldAircraftAddress | FieldCallsign),
			SAC: 25, SIC: 204, TimeOfDay: tod(27354.9921875),
			TargetReport: TargetReport{Type: 3},
			Rho:          15043.0 / 256, Theta: 39656 * 360.0 / 65536,
			Mode3A: Mode3A{Code: 0o4261}, FlightLevel: 176,
			TrackNumber: 2986,
			GroundSpeed: 2445 * 3600.0 / 16384, Heading: 9466 * 360.0 / 65536,
			TrackStatus: TrackStatus{Radar: 0},
		},
	},
}

// The one datagram of cat_062_065.pcap: a CAT062 block of two records and
// a CAT065 block.
const datagram062065 = "3E00A1" +
	"BFDFFD021964015981B3007518FC002CAED9FF196BF086600393FF43000002BDC1204CA7A84994B1DF40E020F612691903010870170D0D00900D0D061816CD06180000DC190C93BA88E8061802BDA0" +
	"BFDFFD021964015981B30075CEE5003726BD08813BF18A9FFCBDFFF10009087DC1204CAC7F2534F2C30DE020F61AAF11030108702010104090101005F01A7505F00000DC190CB98E5EB505F0087DA0" +
	"41000CF8196402015981B301"

const f62 = FieldSource | FieldServiceID | FieldTimeOfDay | FieldWGS84 | FieldCartesian | FieldCartesianVelocity |
	FieldMode3A | FieldAircraftAddress | FieldCallsign | FieldTrackNumber | FieldTrackStatus | FieldFlightLevel |
	FieldGeoAltitude | FieldBaroAltitude | FieldClimbRate

var samples062 = []Record{
	{
		Category: 62, Present: f62, SAC: 25, SIC: 100, ServiceID: 1, TimeOfDay: tod(45827.3984375),
		Lat: 41.1671233, Lon: 15.7088667, X: -29514.5, Y: -507088, VX: 228.75, VY: -47.25,
		Mode3A: Mode3A{Code: 0o1275}, AircraftAddress: 0x4CA7A8, Callsign: "RYR174C", TrackNumber: 4713,
		TrackStatus: TrackStatus{Source: 6}, FlightLevel: 390, GeoAltitude: 36481.25, BaroAltitude: 390,
	},
	{
		Category: 62, Present: f62, SAC: 25, SIC: 100, ServiceID: 1, TimeOfDay: tod(45827.3984375),
		Lat: 41.4169389, Lon: 19.3891364, X: 278685.5, Y: -473776.5, VX: -208.75, VY: -3.75,
		Mode3A: Mode3A{Code: 0o4175}, AircraftAddress: 0x4CAC7F, Callsign: "ISS2007", TrackNumber: 6831,
		TrackStatus: TrackStatus{Source: 4}, FlightLevel: 380, GeoAltitude: 42331.25, BaroAltitude: 380,
	},
}

// latLonClose compares WGS-84 coordinates to the seven decimals the
// reference output prints.
var latLonClose = cmp.FilterPath(func(p cmp.Path) bool {
	n := p.Last().String()
	return n == ".Lat" || n == ".Lon"
}, cmpopts.EquateApprox(0, 5e-8))

func TestDecodeSamples048(t *testing.T) {
	for _, tc := range samples048 {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decode(block(48, unhex(t, tc.hex)))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if diff := cmp.Diff([]Record{tc.want}, got); diff != "" {
				t.Errorf("Decode mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDecodeSamplesOneBlock puts every CAT048 sample record into a single
// data block: any item walked with a wrong length would desynchronise the
// records after it.
func TestDecodeSamplesOneBlock(t *testing.T) {
	var recs [][]byte
	var want []Record
	for _, tc := range samples048 {
		recs = append(recs, unhex(t, tc.hex))
		want = append(want, tc.want)
	}
	// Two blocks in one datagram, the second with the records reversed.
	var rev [][]byte
	for i := len(recs) - 1; i >= 0; i-- {
		rev = append(rev, recs[i])
		want = append(want, samples048[i].want)
	}
	dg := append(block(48, recs...), block(48, rev...)...)
	got, err := Decode(dg)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Decode mismatch (-want +got):\n%s", diff)
	}
}

func TestDecodeSample062(t *testing.T) {
	got, err := Decode(unhex(t, datagram062065))
	if !errors.Is(err, ErrUnknownCategory) {
		t.Errorf("Decode error = %v, want one wrapping ErrUnknownCategory for the CAT065 block", err)
	}
	if err != nil && !strings.Contains(err.Error(), "CAT065") {
		t.Errorf("error %q does not name the category", err)
	}
	if diff := cmp.Diff(samples062, got, latLonClose); diff != "" {
		t.Errorf("Decode mismatch (-want +got):\n%s", diff)
	}
	if len(got) == 2 {
		if code := got[0].Mode3A.Code; code != 0o1275 {
			t.Errorf("Mode 3/A = %04o, want 1275", code)
		}
		kt, trk, ok := got[0].Velocity()
		// Vx 228.75 m/s, Vy -47.25 m/s: 233.58 m/s east-south-east.
		if !ok || math.Abs(kt-454.04) > 0.01 || math.Abs(trk-101.67) > 0.01 {
			t.Errorf("Velocity() = %.2f kt, %.2f°, %v; want 454.04 kt, 101.67°", kt, trk, ok)
		}
	}
}

// The CAT062 sample file cat062cat065.raw of the same project: a CAT062
// block whose two records carry many items this package only walks
// (I062/290, 295, 340, 390 compounds, I062/210, 245...), and a CAT065
// block. Decoding must consume both records exactly.
const datagram062Raw = "3E00B7" +
	"BFCFFD021964043C5FD5007F3E9B0025188DF8B42AFCC2FCFF3302A8000008BE137411030118701D00FF2890000002741B100274FFB9DC190DBAB0B880027408BE40" +
	"BFDFFF021964043C5FEA008123DC002B0BA6FDC917FEE5EB0236FD550000055DC1203C0A554D8134DF2CE020F61F290D13010870040000009000000578161205780000FFE10019645358443437323341BE122D44423733384D4544444C48454C582000200578DC190D5D32C10B0578055DA0" +
	"41000CF8196402043C608718"

func TestDecodeWalksUninterpretedItems062(t *testing.T) {
	got, err := Decode(unhex(t, datagram062Raw))
	if !errors.Is(err, ErrUnknownCategory) || errors.Is(err, ErrTruncated) || errors.Is(err, ErrUnknownItem) {
		t.Fatalf("Decode error = %v, want only ErrUnknownCategory", err)
	}
	if len(got) != 2 {
		t.Fatalf("decoded %d records, want 2", len(got))
	}
	for i, r := range got {
		if r.SAC != 25 || r.SIC != 100 || !r.Has(FieldWGS84|FieldTrackNumber) {
			t.Errorf("record %d: SAC/SIC %d/%d, fields %b", i, r.SAC, r.SIC, r.Present)
		}
		// Both tracks lie over the Adriatic region the other samples cover.
		if r.Lat < 35 || r.Lat > 50 || r.Lon < 5 || r.Lon > 25 {
			t.Errorf("record %d: position %.5f, %.5f is implausible", i, r.Lat, r.Lon)
		}
	}
	// The second record's I062/380 ADR and ID agree with the callsign its
	// flight plan item I062/390 carries in ASCII ("SXD4723A" in the hex).
	if r := got[1]; r.AircraftAddress != 0x3C0A55 || r.Callsign != "SXD4723" || r.TrackNumber != 7977 {
		t.Errorf("record 2: address %06X, callsign %q, track %d; want 3C0A55, SXD4723, 7977", r.AircraftAddress, r.Callsign, r.TrackNumber)
	}
}
