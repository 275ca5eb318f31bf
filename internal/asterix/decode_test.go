package asterix

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestItemLen(t *testing.T) {
	tests := []struct {
		name    string
		rule    rule
		data    []byte
		want    int
		wantErr error
	}{
		{"fixed", fixed(2), []byte{1, 2, 3}, 2, nil},
		{"fixed truncated", fixed(3), []byte{1, 2}, 0, ErrTruncated},
		{"extended one octet", extended(), []byte{0x40, 0xff}, 1, nil},
		{"extended three octets", extended(), []byte{0x41, 0x01, 0x00, 0xff}, 3, nil},
		{"extended truncated", extended(), []byte{0x41, 0x01}, 0, ErrTruncated},
		{"extended endless", extended(), []byte{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0}, 0, ErrMalformed},
		{"repetitive", repetitive(8), append([]byte{2}, make([]byte, 17)...), 17, nil},
		{"repetitive REP 0", repetitive(8), []byte{0, 1, 2}, 0, ErrBadLength},
		{"repetitive truncated", repetitive(8), append([]byte{3}, make([]byte, 20)...), 0, ErrTruncated},
		{"repetitive empty", repetitive(8), nil, 0, ErrTruncated},
		{"FX repetitive", repetitiveFX(1), []byte{0x03, 0x05, 0x0a, 0xff}, 3, nil},
		{"FX repetitive three-octet", repetitiveFX(3), []byte{0, 0, 1, 0, 0, 0, 9}, 6, nil},
		{"FX repetitive truncated", repetitiveFX(3), []byte{0, 0, 1, 0}, 0, ErrTruncated},
		{"explicit", explicit(), []byte{3, 7, 7, 9}, 3, nil},
		{"explicit counts itself", explicit(), []byte{1, 9}, 1, nil},
		{"explicit zero", explicit(), []byte{0, 9}, 0, ErrBadLength},
		{"explicit truncated", explicit(), []byte{5, 1, 2}, 0, ErrTruncated},
		{"compound", compound(fixed(2), repetitive(6)), []byte{0xc0, 1, 2, 1, 1, 2, 3, 4, 5, 6, 0xff}, 10, nil},
		{"compound second subfield only", compound(fixed(2), repetitive(6)), []byte{0x40, 1, 1, 2, 3, 4, 5, 6}, 8, nil},
		{"compound spare subfield", compound(fixed(2), repetitive(6)), []byte{0x20, 1, 2}, 0, ErrUnknownItem},
		{"compound extended primary", compound(fixed(1), fixed(1), fixed(1), fixed(1), fixed(1), fixed(1), fixed(1), fixed(2)), []byte{0x81, 0x80, 9, 8, 8}, 5, nil},
		{"compound truncated subfield", compound(fixed(4)), []byte{0x80, 1, 2}, 0, ErrTruncated},
		{"compound truncated primary", compound(fixed(1)), []byte{0x81}, 0, ErrTruncated},
		{"spare", spare, []byte{1}, 0, ErrUnknownItem},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := itemLen(tc.rule, tc.data)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("itemLen error = %v, want %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("itemLen = %d, want %d", got, tc.want)
			}
		})
	}
}

// fillItem returns a valid item for rule r whose length rules exercise the
// FX and REP paths (two octets for extended, two repetitions, every
// compound subfield present).
func fillItem(r rule) []byte {
	switch r.kind {
	case ruleFixed:
		b := make([]byte, r.n)
		for i := range b {
			b[i] = 0xa5
		}
		return b
	case ruleExtended:
		return []byte{0xff, 0xfe}
	case ruleRepetitive:
		b := []byte{2}
		for i := 0; i < 2*r.n; i++ {
			b = append(b, 0x5a)
		}
		return b
	case ruleRepetitiveFX:
		b := make([]byte, 2*r.n)
		b[r.n-1] = 1
		return b
	case ruleExplicit:
		return []byte{4, 1, 2, 3}
	case ruleCompound:
		var f fspec
		var body []byte
		for i, s := range r.subs {
			if s.kind == ruleSpare {
				continue
			}
			f.set(i + 1)
			body = append(body, fillItem(s)...)
		}
		return append(f.appendTo(nil), body...)
	}
	return nil
}

// TestEveryUAPItemIsWalked builds, for each category, a record holding every
// item of its UAP, followed by a small second record. Both must decode: the
// first record's items, interpreted or not, must be walked by their exact
// lengths.
func TestEveryUAPItemIsWalked(t *testing.T) {
	for _, tc := range []struct {
		cat uint8
		uap uap
	}{{48, uap048}, {62, uap062}} {
		t.Run(string(rune('0'+tc.cat/10))+string(rune('0'+tc.cat%10)), func(t *testing.T) {
			var f fspec
			var body []byte
			for i, def := range tc.uap {
				if def.rule.kind == ruleSpare {
					continue
				}
				f.set(i + 1)
				body = append(body, fillItem(def.rule)...)
			}
			full := append(f.appendTo(nil), body...)
			second := []byte{0x80, 7, 9} // FSPEC: item 010 only
			got, err := Decode(block(tc.cat, full, second))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if len(got) != 2 {
				t.Fatalf("decoded %d records, want 2", len(got))
			}
			want := Record{Category: tc.cat, Present: FieldSource, SAC: 7, SIC: 9}
			if diff := cmp.Diff(want, got[1]); diff != "" {
				t.Errorf("second record (-want +got):\n%s", diff)
			}
			if got[0].SAC != 0xa5 || got[0].SIC != 0xa5 {
				t.Errorf("first record SAC/SIC = %d/%d", got[0].SAC, got[0].SIC)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	good := unhex(t, samples048[0].hex)
	tests := []struct {
		name      string
		datagram  []byte
		wantErr   error
		wantCount int // records still returned
	}{
		{"empty datagram", nil, ErrTruncated, 0},
		{"short header", []byte{48, 0}, ErrTruncated, 0},
		{"LEN below header", []byte{48, 0, 2}, ErrBadLength, 0},
		{"LEN beyond datagram", append([]byte{48, 0, 200}, good...), ErrTruncated, 0},
		{"unknown category", block(1, []byte{0x80, 1, 2}), ErrUnknownCategory, 0},
		{"empty FSPEC", block(48, []byte{0x00}), ErrMalformed, 0},
		{"FSPEC never ends", block(48, []byte{1, 1, 1, 1, 1, 1, 1}), ErrMalformed, 0},
		{"FSPEC truncated", block(48, []byte{0x81}), ErrTruncated, 0},
		{"spare FRN 2 in CAT062", block(62, []byte{0x40, 1}), ErrUnknownItem, 0},
		{"FRN beyond CAT048 UAP", block(48, []byte{0x01, 0x01, 0x01, 0x01, 0x01}), ErrMalformed, 0},
		{"spare FRN 29 in CAT062", block(62, []byte{0x01, 0x01, 0x01, 0x01, 0x40}), ErrUnknownItem, 0},
		{"item truncated", block(48, []byte{0xc0, 1, 2, 3}), ErrTruncated, 0},
		{"record truncated after a good one", block(48, good, good[:20]), ErrTruncated, 1},
		{"explicit SP of length 0", block(48, []byte{0x81, 0x01, 0x01, 0x02, 1, 2, 0}), ErrBadLength, 0},
		{"good block then truncated block", append(block(48, good), 48, 0, 50, 0xfd), ErrTruncated, 1},
		{"good block then header fragment", append(block(48, good), 48), ErrTruncated, 1},
		{"corrupt block then good block", append(block(48, good[:10]), block(48, good)...), ErrTruncated, 1},
		{"unknown category between good blocks", append(append(block(48, good), block(34, []byte{0x80, 1, 2})...), block(48, good)...), ErrUnknownCategory, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decode(tc.datagram)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Decode error = %v, want %v", err, tc.wantErr)
			}
			if len(got) != tc.wantCount {
				t.Fatalf("Decode returned %d records, want %d", len(got), tc.wantCount)
			}
			for _, r := range got {
				if r.TrackNumber != 3563 {
					t.Errorf("partial result holds a wrong record: %+v", r)
				}
			}
		})
	}
}

func TestDecodeAppendReusesSlice(t *testing.T) {
	dg := block(48, unhex(t, samples048[0].hex))
	buf := make([]Record, 0, 4)
	got, err := DecodeAppend(buf, dg)
	if err != nil || len(got) != 1 || &got[0] != &buf[:1][0] {
		t.Fatalf("DecodeAppend did not append in place: %d records, %v", len(got), err)
	}
}

// TestDecodeBitFields checks bit positions of hand-assembled items against
// the layouts in the specifications.
func TestDecodeBitFields(t *testing.T) {
	tests := []struct {
		name string
		cat  byte
		hex  string
		want Record
	}{
		{"I048/090 garbled, negative FL", 48, "84 0102 FFD8", Record{Category: 48, Present: FieldSource | FieldFlightLevel,
			SAC: 1, SIC: 2, FlightLevel: -10, FlightLevelSuspect: true}}, // 0xFFD8 → V=1 G=1, 14-bit -40
		{"I048/090 garbled only", 48, "84 0102 4028", Record{Category: 48, Present: FieldSource | FieldFlightLevel,
			SAC: 1, SIC: 2, FlightLevel: 10, FlightLevelSuspect: true}},
		{"I048/020 with extensions", 48, "A0 0102 BF 9B 02", Record{Category: 48, Present: FieldSource | FieldTargetReport,
			SAC: 1, SIC: 2, TargetReport: TargetReport{Type: 5, Simulated: true, RDP2: true, SPI: true, FieldMonitor: true,
				Test: true, MilEmergency: true, MilIdent: true, FoeFri: 1}}},
		{"I048/070 flags and code", 48, "88 0102 E9FF", Record{Category: 48, Present: FieldSource | FieldMode3A,
			SAC: 1, SIC: 2, Mode3A: Mode3A{Code: 0o4777, NotValidated: true, Garbled: true, Smoothed: true}}},
		{"I048/161 ignores spare bits, I048/170 tentative PSR track ending", 48, "81 12 0102 FFFF A1 C0",
			Record{Category: 48, Present: FieldSource | FieldTrackNumber | FieldTrackStatus, SAC: 1, SIC: 2, TrackNumber: 4095,
				TrackStatus: TrackStatus{Tentative: true, Radar: 1, Ended: true, Ghost: true}}},
		{"I048/240 undefined character code", 48, "81 40 0102 0400A0820820", Record{Category: 48, Present: FieldSource | FieldCallsign,
			SAC: 1, SIC: 2, Callsign: "A?B"}}, // codes 1, 0, 2, then five spaces
		{"I062/080 all used bits", 62, "81 04 0102 DF C1 01 80", Record{Category: 62, Present: FieldSource | FieldTrackStatus,
			SAC: 1, SIC: 2, TrackStatus: TrackStatus{Mono: true, SPI: true, Source: 7, Tentative: true, Simulated: true, Ended: true, Coasted: true}}},
		{"I062/135 QNH negative", 62, "81 01 08 0102 FFFC", Record{Category: 62, Present: FieldSource | FieldBaroAltitude,
			SAC: 1, SIC: 2, BaroQNH: true, BaroAltitude: -1}},
		{"I062/105 southern and western hemispheres", 62, "88 0102 FF000000 FE000000", Record{Category: 62, Present: FieldSource | FieldWGS84,
			SAC: 1, SIC: 2, Lat: -90, Lon: -180}},
		{"I062/380 later subfields walked, ADR last", 62, "81 10 0102 A1 80 123456 0001 02",
			Record{Category: 62, Present: FieldSource | FieldAircraftAddress, SAC: 1, SIC: 2, AircraftAddress: 0x123456}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decode(block(tc.cat, unhex(t, tc.hex)))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if diff := cmp.Diff([]Record{tc.want}, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
