package asterix

import (
	"bytes"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzASTERIX feeds arbitrary datagrams to Decode. It must never panic; every
// error must wrap a sentinel; and every decoded record must re-encode to
// a datagram that decodes to the same record, whose encoding is stable.
func FuzzASTERIX(f *testing.F) {
	for _, s := range samples048 {
		rec := unhex(f, s.hex)
		f.Add(block(48, rec))
		f.Add(block(48, rec[:len(rec)/2]))
	}
	f.Add(unhex(f, datagram062065))
	f.Add(unhex(f, datagram062Raw))
	f.Add(Encode062(samples062))
	f.Add(append(block(48, unhex(f, samples048[1].hex)), block(62, []byte{0x80, 1, 2})...))
	f.Add([]byte{48, 0, 3})
	f.Add([]byte{62, 0, 8, 0x01, 0x01, 0x01, 0x01, 0x02})
	f.Add([]byte{48, 0, 7, 0x81, 0x01, 0x01, 0x02, 0x00})
	f.Add([]byte{})

	sentinels := []error{ErrTruncated, ErrBadLength, ErrUnknownCategory, ErrUnknownItem, ErrMalformed}
	f.Fuzz(func(t *testing.T, data []byte) {
		in := bytes.Clone(data)
		recs, err := Decode(data)
		if !bytes.Equal(in, data) {
			t.Fatal("Decode modified its input")
		}
		if err != nil {
			ok := false
			for _, s := range sentinels {
				ok = ok || errors.Is(err, s)
			}
			if !ok {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
		}
		// The stream splitter must cut the same bytes without overrunning.
		for rest := data; len(rest) > 0; {
			adv, tok, err := ScanBlocks(rest, true)
			if err != nil {
				break
			}
			if adv <= 0 || adv > len(rest) || len(tok) != adv {
				t.Fatalf("ScanBlocks advanced %d with a %d-octet token over %d octets", adv, len(tok), len(rest))
			}
			rest = rest[adv:]
		}
		for i, r := range recs {
			var enc []byte
			switch r.Category {
			case 48:
				enc = Encode048([]Record{r})
			case 62:
				enc = Encode062([]Record{r})
			default:
				t.Fatalf("record %d: category %d", i, r.Category)
			}
			again, err := Decode(enc)
			if err != nil || len(again) != 1 {
				t.Fatalf("record %d: re-encoded %X decodes to %d records, %v", i, enc, len(again), err)
			}
			want := r
			want.Present |= FieldSource // always encoded
			if r.Category == 62 {
				// The encoder keeps positions on the globe; I062/105 can
				// carry more.
				want.Lat = max(-90, min(90, want.Lat))
				want.Lon = max(-180, min(180-latLonLSB, want.Lon))
			}
			if diff := cmp.Diff(want, again[0]); diff != "" {
				t.Fatalf("record %d: re-encoding changed it (-want +got):\n%s", i, diff)
			}
			var enc2 []byte
			if r.Category == 48 {
				enc2 = Encode048(again)
			} else {
				enc2 = Encode062(again)
			}
			if !bytes.Equal(enc, enc2) {
				t.Fatalf("record %d: encoding not stable:\n%X\n%X", i, enc, enc2)
			}
		}
	})
}
