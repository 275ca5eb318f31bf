package asterix

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
)

func TestScanBlocks(t *testing.T) {
	var want []Record
	for _, s := range samples048 {
		want = append(want, s.want)
	}
	big := make([]Record, 2500) // a block near the 65535-octet limit
	for i := range big {
		big[i] = Record{Category: 62, Present: f62, TrackNumber: uint16(i), Callsign: "BIG"}
	}
	stream := Encode048(want)
	stream = append(stream, Encode062(big)...)
	stream = append(stream, Encode048(want[:1])...)
	wantAll := append(append(append([]Record(nil), want...), big...), want[0])

	tests := []struct {
		name    string
		r       io.Reader
		want    []Record
		wantErr error
	}{
		{"whole stream", bytes.NewReader(stream), wantAll, nil},
		{"one octet per read", iotest.OneByteReader(bytes.NewReader(stream)), wantAll, nil},
		{"ends inside a block", bytes.NewReader(stream[:len(stream)-5]), wantAll[:len(wantAll)-1], ErrTruncated},
		{"bad LEN", bytes.NewReader(append(Encode048(want[:1]), 48, 0, 1, 0)), want[:1], ErrBadLength},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sc := bufio.NewScanner(tc.r)
			sc.Split(ScanBlocks)
			var got []Record
			for sc.Scan() {
				recs, err := Decode(sc.Bytes())
				if err != nil {
					t.Fatalf("Decode(block): %v", err)
				}
				got = append(got, recs...)
			}
			if !errors.Is(sc.Err(), tc.wantErr) {
				t.Errorf("scan error = %v, want %v", sc.Err(), tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
