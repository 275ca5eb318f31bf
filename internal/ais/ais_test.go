package ais

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var t0 = time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)

// decodeLines feeds lines to a fresh decoder and returns the one message
// they complete. Every line but the last must be an incomplete fragment.
func decodeLines(t *testing.T, lines ...string) *Message {
	t.Helper()
	d := NewDecoder(Config{})
	for i, l := range lines {
		m, err := d.Line([]byte(l), t0)
		if err != nil {
			t.Fatalf("line %d %q: %v", i, l, err)
		}
		if i < len(lines)-1 && m != nil {
			t.Fatalf("line %d: message before the last fragment", i)
		}
		if i == len(lines)-1 {
			if m == nil {
				t.Fatalf("no message after the last fragment")
			}
			return m
		}
	}
	return nil
}

// Each vector comes from a public test suite; the expected values are the
// ones published there. Fields the source does not publish are listed in
// ignore. tol is half a unit of the precision the source publishes
// coordinates with.
func TestDecodeVectors(t *testing.T) {
	tests := []struct {
		name   string
		lines  []string
		want   Message
		tol    float64
		ignore []string
	}{
		{
			// pyais tests/test_decode.py test_msg_type_1_a
			name:  "type 1 pyais a",
			lines: []string{"!AIVDM,1,1,,B,15M67FC000G?ufbE`FepT@3n00Sa,0*5C"},
			want: Message{Type: 1, MMSI: 366053209, Channel: 'B', NavStatus: NavRestrictedManoeuvr,
				HasSOG: true, SOG: 0, HasPosition: true, Lon: -122.341618, Lat: 37.802118,
				HasCOG: true, COG: 219.3, HasHeading: true, Heading: 1, Second: 59},
			tol: 5e-7,
		},
		{
			// pyais test_msg_type_1_b: course 360 and heading 511 mean "not available".
			name:  "type 1 pyais b",
			lines: []string{"!AIVDM,1,1,,A,15NPOOPP00o?b=bE`UNv4?w428D;,0*24"},
			want: Message{Type: 1, MMSI: 367533950, Channel: 'A', NavStatus: NavUnderWayEngine,
				HasSOG: true, SOG: 0, Accuracy: true, HasPosition: true, Lat: 37.8084, Lon: -122.4082,
				Second: 34},
			tol: 5e-5,
		},
		{
			// pyais test_msg_type_1_c
			name:   "type 1 pyais c",
			lines:  []string{"!AIVDM,1,1,,B,181:Kjh01ewHFRPDK1s3IRcn06sd,0*08"},
			want:   Message{Type: 1, MMSI: 538090443, Channel: 'B', HasCOG: true, COG: 87, HasSOG: true, SOG: 10.9},
			ignore: []string{"HasPosition", "Lat", "Lon", "Accuracy", "HasHeading", "Heading", "NavStatus", "Second"},
		},
		{
			// gpsd test/sample.aivdm, first type 1, expected values from sample.aivdm.chk
			name:  "type 1 gpsd",
			lines: []string{"!AIVDM,1,1,,A,15RTgt0PAso;90TKcjM8h6g208CQ,0*4A"},
			want: Message{Type: 1, MMSI: 371798000, Channel: 'A', NavStatus: 0, HasSOG: true, SOG: 12.3,
				Accuracy: true, HasPosition: true, Lon: -74037230.0 / 600000, Lat: 29028980.0 / 600000,
				HasCOG: true, COG: 224, HasHeading: true, Heading: 215, Second: 33},
			tol: 1e-9,
		},
		{
			// gpsd sample.aivdm type 2 / .chk
			name:  "type 2 gpsd",
			lines: []string{"!AIVDM,1,1,,B,25Cjtd0Oj;Jp7ilG7=UkKBoB0<06,0*60"},
			want: Message{Type: 2, MMSI: 356302000, Channel: 'B', NavStatus: 0, HasSOG: true, SOG: 13.9,
				HasPosition: true, Lon: -42975686.0 / 600000, Lat: 24235415.0 / 600000,
				HasCOG: true, COG: 87.7, HasHeading: true, Heading: 91, Second: 41},
			tol: 1e-9,
		},
		{
			// gpsd sample.aivdm type 3 / .chk
			name:  "type 3 gpsd",
			lines: []string{"!AIVDM,1,1,,A,38Id705000rRVJhE7cl9n;160000,0*40"},
			want: Message{Type: 3, MMSI: 563808000, Channel: 'A', NavStatus: NavMoored, HasSOG: true, SOG: 0,
				Accuracy: true, HasPosition: true, Lon: -45796520.0 / 600000, Lat: 22146000.0 / 600000,
				HasCOG: true, COG: 252, HasHeading: true, Heading: 352, Second: 35},
			tol: 1e-9,
		},
		{
			// pyais test_msg_type_3
			name:  "type 3 pyais",
			lines: []string{"!AIVDM,1,1,,A,35NSH95001G?wopE`beasVk@0E5:,0*6F"},
			want: Message{Type: 3, MMSI: 367581220, Channel: 'A', NavStatus: NavMoored, HasSOG: true, SOG: 0.1,
				HasPosition: true, Lat: 37.8107, Lon: -122.3343, HasCOG: true, COG: 254.2,
				HasHeading: true, Heading: 217, Second: 40},
			tol: 5e-5,
		},
		{
			// pyais test_msg_type_4_a; gpsd sample.aivdm.chk gives the MMSI and 2007-05-14T19:57:39Z
			name:  "type 4",
			lines: []string{"!AIVDM,1,1,,A,403OviQuMGCqWrRO9>E6fE700@GO,0*4D"},
			want: Message{Type: 4, MMSI: 3669702, Channel: 'A', NavStatus: NavStatusUnknown, Accuracy: true,
				HasPosition: true, Lon: -76.352362, Lat: 36.883767, Second: 39,
				Timestamp: time.Date(2007, 5, 14, 19, 57, 39, 0, time.UTC)},
			tol: 5e-7,
		},
		{
			// pyais test_msg_type_5 and gpsd sample.aivdm.chk (IMO, ETA 05-15T14:00)
			name: "type 5 two fragments",
			lines: []string{
				"!AIVDM,2,1,1,A,55?MbV02;H;s<HtKR20EHE:0@T4@Dn2222222216L961O5Gf0NSQEp6ClRp8,0*1C",
				"!AIVDM,2,2,1,A,88888888880,2*25",
			},
			want: Message{Type: 5, MMSI: 351759000, Channel: 'A', NavStatus: NavStatusUnknown, Second: 60,
				IMO: 9134270, Callsign: "3FOF8", Name: "EVER DIADEM", ShipType: 70,
				ToBow: 225, ToStern: 70, ToPort: 1, ToStarboard: 31, Draught: 12.2,
				Destination: "NEW YORK", ETA: ETA{Month: 5, Day: 15, Hour: 14, Minute: 0}},
		},
		{
			// gpsd sample.aivdm "channel multiplexing test" (first of the pair) / .chk
			name: "type 5 interleaved channels",
			lines: []string{
				"!AIVDM,2,1,6,B,542M92h00001@<7;?G0PD4i@R0<tqA8tj37>220o0h:2240Ht50000000000,0*3B",
				"!AIVDM,2,1,2,A,542M92h00001@<7;?G0PD4i@R0<tqA8tj37>220o0h:2240Ht500000000000000,0*3C",
				"!AIVDM,2,2,2,A,0000002,2*24",
			},
			want: Message{Type: 5, MMSI: 271010059, Channel: 'A', NavStatus: NavStatusUnknown, Second: 60,
				Callsign: "TCA2350", Name: "HEALTH CONTROL 13", ShipType: 55,
				ToBow: 6, ToStern: 10, ToPort: 2, ToStarboard: 2, Draught: 2.0,
				ETA: ETA{Month: 0, Day: 0, Hour: 24, Minute: 60}},
		},
		{
			// pyais test_msg_type_18
			name:  "type 18",
			lines: []string{"!AIVDM,1,1,,A,B5NJ;PP005l4ot5Isbl03wsUkP06,0*76"},
			want: Message{Type: 18, MMSI: 367430530, Channel: 'A', NavStatus: NavStatusUnknown, HasSOG: true, SOG: 0,
				HasPosition: true, Lat: 37.79, Lon: -122.27, HasCOG: true, COG: 0, Second: 55},
			tol: 5e-3,
		},
		{
			// pyais test_msg_type_18_speed (a VDO sentence)
			name:   "type 18 own ship",
			lines:  []string{"!AIVDO,1,1,,A,B5NJ;PP2aUl4ot5Isbl6GwsUkP06,0*35"},
			want:   Message{Type: 18, MMSI: 367430530, Channel: 'A', Own: true, HasSOG: true, SOG: 67.8, HasCOG: true, COG: 10.1},
			ignore: []string{"HasPosition", "Lat", "Lon", "NavStatus", "Second"},
		},
		{
			// pyais test_empty_channel: lon 181, lat 91, course 360, speed 102.3 and
			// heading 511 are all "not available".
			name:  "type 18 nothing available",
			lines: []string{"!AIVDO,1,1,,,B>qc:003wk?8mP=18D3Q3wgTiT;T,0*13"},
			want:  Message{Type: 18, MMSI: 1000000000, Own: true, NavStatus: NavStatusUnknown, Second: 31},
		},
		{
			// gpsd sample.aivdm type 18 (third) / .chk: SOG 5.1, COG 34.9
			name:  "type 18 gpsd",
			lines: []string{"!AIVDM,1,1,,B,B5O6hr00<veEKmUaMFdEow`UWP06,0*4F"},
			want: Message{Type: 18, MMSI: 368161000, Channel: 'B', NavStatus: NavStatusUnknown, HasSOG: true, SOG: 5.1,
				Accuracy: true, HasPosition: true, Lon: -43340309.0 / 600000, Lat: 23688555.0 / 600000,
				HasCOG: true, COG: 34.9, Second: 17},
			tol: 1e-9,
		},
		{
			// pyais test_msg_type_19 and gpsd sample.aivdm.chk
			name:  "type 19",
			lines: []string{"!AIVDM,1,1,,B,C5N3SRgPEnJGEBT>NhWAwwo862PaLELTBJ:V00000000S0D:R220,0*0B"},
			want: Message{Type: 19, MMSI: 367059850, Channel: 'B', NavStatus: NavStatusUnknown, HasSOG: true, SOG: 8.7,
				HasPosition: true, Lat: 29.543695, Lon: -53286235.0 / 600000, HasCOG: true, COG: 335.9, Second: 46,
				Name: "CAPT.J.RIMES", ShipType: 70, ToBow: 5, ToStern: 21, ToPort: 4, ToStarboard: 4},
			tol: 1e-9,
		},
		{
			// pyais test_msg_type_21
			name: "type 21",
			lines: []string{
				"!AIVDM,2,1,7,B,E4eHJhPR37q0000000000000000KUOSc=rq4h00000a,0*4A",
				"!AIVDM,2,2,7,B,@20,4*54",
			},
			want: Message{Type: 21, MMSI: 316021442, Channel: 'B', NavStatus: NavStatusUnknown, AidType: 1, Name: "DFO2",
				Accuracy: true, HasPosition: true, Lat: 48.65457, Lon: -123.429155},
			tol:    5e-7,
			ignore: []string{"Second"},
		},
		{
			// gpsd sample.aivdm type 21 with a name extension / .chk
			name: "type 21 name extension",
			lines: []string{
				"!AIVDM,2,1,5,B,E1mg=5J1T4W0h97aRh6ba84<h2d;W:Te=eLvH50```q,0*46",
				"!AIVDM,2,2,5,B,:D44QDlp0C1DU00,2*36",
			},
			want: Message{Type: 21, MMSI: 123456789, Channel: 'B', NavStatus: NavStatusUnknown, AidType: 20,
				Name: "CHINA ROSE MURPHY EXPRESS ALERT", HasPosition: true,
				Lon: -73619155.0 / 600000, Lat: 28752371.0 / 600000,
				ToBow: 5, ToStern: 5, ToPort: 5, ToStarboard: 5, Second: 50},
			tol: 1e-9,
		},
		{
			// gpsd sample.aivdm type 24 part A / .chk
			name:  "type 24 part A",
			lines: []string{"!AIVDM,1,1,,A,H42O55i18tMET00000000000000,2*6D"},
			want:  Message{Type: 24, MMSI: 271041815, Channel: 'A', NavStatus: NavStatusUnknown, Second: 60, Name: "PROGUY"},
		},
		{
			// gpsd sample.aivdm type 24 part B / .chk (gpsd prints the older
			// 42-bit vendor id, so VendorID is not compared)
			name:  "type 24 part B gpsd",
			lines: []string{"!AIVDM,1,1,,A,H42O55lti4hhhilD3nink000?050,0*40"},
			want: Message{Type: 24, MMSI: 271041815, Channel: 'A', NavStatus: NavStatusUnknown, Second: 60, PartNumber: 1,
				ShipType: 60, Callsign: "TC6163", ToBow: 0, ToStern: 15, ToPort: 0, ToStarboard: 5},
			ignore: []string{"VendorID"},
		},
		{
			// pyais test_msg_type_24
			name:  "type 24 part B pyais",
			lines: []string{"!AIVDM,1,1,,A,H52KMeDU653hhhi0000000000000,0*1A"},
			want: Message{Type: 24, MMSI: 338091445, Channel: 'A', NavStatus: NavStatusUnknown, Second: 60, PartNumber: 1,
				ShipType: 37, VendorID: "FEC"},
		},
		{
			// pyais test_msg_type_24_b_aux_craft
			name:  "type 24 part B auxiliary craft",
			lines: []string{"!AIVDO,1,1,,A,H>W@vFTe6??406t2??21J0Wg8Jb0,0*6F"},
			want: Message{Type: 24, MMSI: 980696666, Channel: 'A', Own: true, NavStatus: NavStatusUnknown, Second: 60,
				PartNumber: 1, ShipType: 45, VendorID: "FOO", Callsign: "BOOBAZ", MothershipMMSI: 666666666},
		},
		{
			// pyais test_msg_type_24_b_regular
			name:   "type 24 part B dimensions",
			lines:  []string{"!AIVDO,1,1,,A,H8=;nnT000000000000000Wg8Jb0,0*26"},
			want:   Message{Type: 24, MMSI: 550696666, Channel: 'A', Own: true, NavStatus: NavStatusUnknown, Second: 60, PartNumber: 1, ToBow: 317, ToStern: 456, ToPort: 26, ToStarboard: 42},
			ignore: []string{"ShipType", "VendorID", "Callsign"},
		},
		{
			// pyais test_msg_type_27 and gpsd sample.aivdm.chk (repeat 1)
			name:  "type 27",
			lines: []string{"!AIVDM,1,1,,B,KC5E2b@U19PFdLbMuc5=ROv62<7m,0*16"},
			want: Message{Type: 27, Repeat: 1, MMSI: 206914217, Channel: 'B', NavStatus: NavNotUnderCommand,
				HasPosition: true, Lon: 137.023333, Lat: 4.84, HasSOG: true, SOG: 57, HasCOG: true, COG: 167, Second: 60},
			tol: 5e-7,
		},
		{
			// pyais test_msg_type_27_signed
			name:   "type 27 southern and western",
			lines:  []string{"!AIVDO,1,1,,A,K01;FQh?PbtE3P00,0*75"},
			want:   Message{Type: 27, MMSI: 1234567, Channel: 'A', Own: true, HasPosition: true, Lon: -13.368333, Lat: -50.121667, Second: 60},
			tol:    5e-7,
			ignore: []string{"NavStatus", "HasSOG", "SOG", "HasCOG", "COG"},
		},
		{
			// gpsd sample.aivdm, the 96-bit type 27 / .chk
			name:  "type 27 gpsd",
			lines: []string{"!AIVDM,1,1,,A,KCQ9r=hrFUnH7P00,0*41"},
			want: Message{Type: 27, Repeat: 1, MMSI: 236091959, Channel: 'A', NavStatus: NavRestrictedManoeuvr,
				HasPosition: true, Lon: -92521.0 / 600, Lat: 52239.0 / 600, HasSOG: true, SOG: 0, HasCOG: true, COG: 0, Second: 60},
			tol: 1e-9,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := decodeLines(t, tc.lines...)
			opts := cmp.Options{cmpopts.EquateApprox(0, tc.tol+1e-12)}
			if len(tc.ignore) > 0 {
				opts = append(opts, cmpopts.IgnoreFields(Message{}, tc.ignore...))
			}
			if diff := cmp.Diff(tc.want, *got, opts); diff != "" {
				t.Errorf("decode mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// pyais test_msg_with_more_that_82_chars_payload. The sentence's published
// checksum (35) is wrong (pyais does not check it), so the line is an
// ErrChecksum case and the payload is decoded directly.
func TestDecodePayloadLongType5(t *testing.T) {
	const line = "!AIVDM,1,1,,B,53ktrJ82>ia4=50<0020<5=@Dhv0t8T@u<0000001PV854Si0;mR@CPH13p0hDm1C3h0000,2*35"
	if _, err := NewDecoder(Config{}).Line([]byte(line), t0); !errors.Is(err, ErrChecksum) {
		t.Fatalf("Line error = %v, want ErrChecksum", err)
	}
	got, err := DecodePayload([]byte("53ktrJ82>ia4=50<0020<5=@Dhv0t8T@u<0000001PV854Si0;mR@CPH13p0hDm1C3h0000"), 2)
	if err != nil {
		t.Fatal(err)
	}
	want := Message{Type: 5, MMSI: 255801960, NavStatus: NavStatusUnknown, Second: 60, IMO: 9356945,
		Callsign: "CQPC", Name: "CASTELO OBIDOS", ShipType: 0, ToBow: 12, ToStern: 38, ToPort: 8, ToStarboard: 5,
		ETA: ETA{Month: 2, Day: 7, Hour: 17, Minute: 0}, Draught: 4.7, Destination: "VIANA DO CASTELO"}
	if diff := cmp.Diff(want, *got); diff != "" {
		t.Errorf("decode mismatch (-want +got):\n%s", diff)
	}
	if !got.ETA.Valid() {
		t.Error("ETA 02-07 17:00 reported invalid")
	}
}

func TestTalkerVariantsAndFraming(t *testing.T) {
	const payload = "15M67FC000G?ufbE`FepT@3n00Sa"
	tests := []struct {
		name string
		line string
	}{
		{"BSVDM", withChecksum("BSVDM,1,1,,B," + payload + ",0")},
		{"ABVDM", withChecksum("ABVDM,1,1,,B," + payload + ",0")},
		{"CRLF", withChecksum("AIVDM,1,1,,B,"+payload+",0") + "\r\n"},
		{"tag block", `\s:rORBCOMM000,c:1241544035*4A\` + withChecksum("AIVDM,1,1,,B,"+payload+",0")},
		{"trailing receiver fields", withChecksum("AIVDM,1,1,,B,"+payload+",0") + ",1241544035"},
		{"lower-case checksum", "!AIVDM,1,1,,B,181:Kjh01ewHFRPDK1s3IRcn06sd,0*08"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := NewDecoder(Config{}).Line([]byte(tc.line), t0)
			if err != nil {
				t.Fatal(err)
			}
			if m == nil || m.Type != 1 || (m.MMSI != 366053209 && m.MMSI != 538090443) {
				t.Fatalf("got %+v", m)
			}
		})
	}
}

func withChecksum(body string) string {
	var sum byte
	for i := 0; i < len(body); i++ {
		sum ^= body[i]
	}
	return fmt.Sprintf("!%s*%02X", body, sum)
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name string
		line string
		want error
	}{
		{"bad checksum", "!AIVDM,1,1,,B,15M67FC000G?ufbE`FepT@3n00Sa,0*5D", ErrChecksum},
		{"missing checksum", "!AIVDM,1,1,,B,15M67FC000G?ufbE`FepT@3n00Sa,0", ErrFormat},
		{"no sentence", "hello", ErrFormat},
		{"empty", "", ErrFormat},
		{"other sentence", "$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47", ErrUnsupported},
		{"other encapsulated sentence", withChecksum("AIVDX,1,1,,B,15M67FC000G?ufbE`FepT@3n00Sa,0"), ErrUnsupported},
		{"bad armour", withChecksum("AIVDM,1,1,,B,15M67FC000G?ufbE`FepT@3n00S~,0"), ErrFormat},
		{"too few fields", withChecksum("AIVDM,1,1,,B,15M67FC000G?ufbE`FepT@3n00Sa"), ErrFormat},
		{"too many fields", withChecksum("AIVDM,1,1,,B,15M67FC000G?ufbE`FepT@3n00Sa,0,0"), ErrFormat},
		{"fill out of range", withChecksum("AIVDM,1,1,,B,15M67FC000G?ufbE`FepT@3n00Sa,7"), ErrFormat},
		{"fragment number above count", withChecksum("AIVDM,2,3,1,B,15M67FC000G?ufbE`FepT@3n00Sa,0"), ErrFormat},
		{"zero count", withChecksum("AIVDM,0,1,1,B,15M67FC000G?ufbE`FepT@3n00Sa,0"), ErrFormat},
		{"empty payload", withChecksum("AIVDM,1,1,,B,,0"), ErrFormat},
		{"type 1 too short", withChecksum("AIVDM,1,1,,B,15M67FC000G?ufbE`FepT@,0"), ErrFormat},
		{"type 5 too short", withChecksum("AIVDM,1,1,,A,55?MbV02;H;s<HtKR20EHE:0@T4@Dn2222222216L961O5Gf0NSQEp6ClRp8,0"), ErrFormat},
		// pyais test_decode_pos_1_2_3 payload: message type 0 does not exist.
		{"type 0", "!AIVDM,1,1,,B,0S9edj0P03PecbBN`ja@0?w42cFC,0*7C", ErrUnsupported},
		// gpsd sample.aivdm type 6: valid, but not a type this package decodes.
		{"type 6", "!AIVDM,1,1,,B,6B?n;be:cbapalgc;i6?Ow4,2*4A", ErrUnsupported},
		// gpsd sample.aivdm invalid packet test: part 2 without part 1.
		{"orphan fragment", "!AIVDM,2,2,1,B,00000000000,2*26", ErrFragment},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := NewDecoder(Config{}).Line([]byte(tc.line), t0)
			if !errors.Is(err, tc.want) {
				t.Fatalf("error = %v, want %v", err, tc.want)
			}
			if m != nil {
				t.Fatalf("message %+v returned with error", m)
			}
			if Reason(err) == "other" {
				t.Errorf("Reason(%v) = other", err)
			}
		})
	}
}

func TestFragmentSequencing(t *testing.T) {
	p1 := "!AIVDM,2,1,1,A,55?MbV02;H;s<HtKR20EHE:0@T4@Dn2222222216L961O5Gf0NSQEp6ClRp8,0*1C"
	p2 := "!AIVDM,2,2,1,A,88888888880,2*25"

	t.Run("timeout drops the group", func(t *testing.T) {
		d := NewDecoder(Config{FragmentTimeout: 2 * time.Second})
		if m, err := d.Line([]byte(p1), t0); m != nil || err != nil {
			t.Fatalf("first fragment: %v %v", m, err)
		}
		_, err := d.Line([]byte(p2), t0.Add(3*time.Second))
		if !errors.Is(err, ErrFragment) {
			t.Fatalf("late second fragment: error %v, want ErrFragment", err)
		}
		if d.Pending() != 0 || d.Dropped() != 1 {
			t.Fatalf("pending %d dropped %d, want 0 and 1", d.Pending(), d.Dropped())
		}
	})
	t.Run("within timeout completes", func(t *testing.T) {
		d := NewDecoder(Config{FragmentTimeout: 2 * time.Second})
		d.Line([]byte(p1), t0)
		m, err := d.Line([]byte(p2), t0.Add(time.Second))
		if err != nil || m == nil || m.Name != "EVER DIADEM" {
			t.Fatalf("got %+v, %v", m, err)
		}
		if d.Pending() != 0 {
			t.Fatalf("pending %d after completion", d.Pending())
		}
	})
	t.Run("repeated first fragment restarts", func(t *testing.T) {
		d := NewDecoder(Config{})
		d.Line([]byte(p1), t0)
		d.Line([]byte(p1), t0)
		m, err := d.Line([]byte(p2), t0)
		if err != nil || m == nil || m.MMSI != 351759000 {
			t.Fatalf("got %+v, %v", m, err)
		}
		if d.Dropped() != 1 {
			t.Fatalf("dropped %d, want 1", d.Dropped())
		}
	})
	t.Run("duplicate second fragment", func(t *testing.T) {
		d := NewDecoder(Config{})
		d.Line([]byte(p1), t0)
		if m, _ := d.Line([]byte(p2), t0); m == nil {
			t.Fatal("no message")
		}
		if _, err := d.Line([]byte(p2), t0); !errors.Is(err, ErrFragment) {
			t.Fatalf("duplicate: error %v, want ErrFragment", err)
		}
	})
	t.Run("other channel is another group", func(t *testing.T) {
		d := NewDecoder(Config{})
		d.Line([]byte(p1), t0)
		other := withChecksum("AIVDM,2,2,1,B,88888888880,2")
		if _, err := d.Line([]byte(other), t0); !errors.Is(err, ErrFragment) {
			t.Fatalf("channel B part 2: error %v, want ErrFragment", err)
		}
		if m, err := d.Line([]byte(p2), t0); err != nil || m == nil {
			t.Fatalf("channel A part 2: %v %v", m, err)
		}
	})
	t.Run("pending groups are bounded", func(t *testing.T) {
		d := NewDecoder(Config{MaxPending: 8})
		for i := 0; i < 1000; i++ {
			line := withChecksum(fmt.Sprintf("AIVDM,3,1,%d,%c,55?MbV02;H;s<HtKR20EHE:0@T4@Dn2222222216L961O5Gf0NSQEp6ClRp8,0", i%100, "AB12"[i/100%4]))
			if _, err := d.Line([]byte(line), t0); err != nil {
				t.Fatal(err)
			}
			if d.Pending() > 8 {
				t.Fatalf("%d pending groups, limit 8", d.Pending())
			}
		}
		if d.Dropped() != 1000-8 {
			t.Fatalf("dropped %d, want %d", d.Dropped(), 1000-8)
		}
	})
	t.Run("reassembled payload is bounded", func(t *testing.T) {
		d := NewDecoder(Config{})
		long := make([]byte, 100)
		for i := range long {
			long[i] = '0'
		}
		var err error
		for i := 1; i <= 3 && err == nil; i++ {
			_, err = d.Line([]byte(withChecksum(fmt.Sprintf("AIVDM,3,%d,1,A,%s,0", i, long))), t0)
		}
		if !errors.Is(err, ErrFormat) {
			t.Fatalf("error %v, want ErrFormat", err)
		}
		if d.Pending() != 0 {
			t.Fatalf("pending %d", d.Pending())
		}
	})
}

func TestReason(t *testing.T) {
	for err, want := range map[error]string{
		nil:                                 "",
		fmt.Errorf("x: %w", ErrChecksum):    "checksum",
		fmt.Errorf("x: %w", ErrFormat):      "format",
		fmt.Errorf("x: %w", ErrFragment):    "fragment",
		fmt.Errorf("x: %w", ErrUnsupported): "unsupported",
		errors.New("x"):                     "other",
	} {
		if got := Reason(err); got != want {
			t.Errorf("Reason(%v) = %q, want %q", err, got, want)
		}
	}
}
