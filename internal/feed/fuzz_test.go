package feed

import (
	"context"
	"testing"
	"time"

	"kizuna/internal/asterix"
	"kizuna/internal/cot"
	"kizuna/internal/fusion"
	"kizuna/internal/label"
)

// FuzzFramer feeds arbitrary bytes to every kind's framing and decoding,
// as a stream and as datagrams: nothing may panic, and what reaches fusion
// carries the feed's name and label.
func FuzzFramer(f *testing.F) {
	f.Add([]byte("!AIVDM,1,1,,B,15M67FC000G?ufbE`FepT@3n00Sa,0*5C\r\n"))
	f.Add([]byte("MSG,3,1,1,71C123,1,2026/11/27,09:00:00.000,2026/11/27,09:00:00.000,,35000,,,34.9,129.8,,,0,0,0,0\r\n"))
	f.Add([]byte{0x1a, '3', 0, 0, 0, 0, 0, 1, 0x40, 0x8d, 0x71, 0xc1, 0x23, 0x58, 0x1a, 0x1a, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{48, 0, 11, 0xb0, 20, 1, 0, 0, 0, 0x20, 0})
	f.Add([]byte(`<event version="2.0" uid="MMSI-431000001" type="a-n-S" how="m-g" time="2026-11-27T09:00:00Z" start="2026-11-27T09:00:00Z" stale="2026-11-27T09:10:00Z"><point lat="34" lon="130" hae="0" ce="10" le="10"/></event>`))
	l := label.Label{Classification: label.Secret, ReleasableTo: []string{"JPN"}, Originator: "JPN"}
	site := &asterix.Site{Lat: 34, Lon: 129, Height: 50}
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, kind := range []string{KindAIS, KindSBS, KindBeast, KindASTERIX, KindCoT} {
			var got []fusion.Observation
			fd, err := New(Config{Name: "fz", Kind: kind, Transport: TransportTCP, Addr: "127.0.0.1:1", Label: l, Site: site,
				Sink: func(o []fusion.Observation) bool { got = append(got, o...); return true },
				CoT:  func(context.Context, *cot.Event) error { return nil }})
			if err != nil {
				t.Fatal(err)
			}
			fr := newFramer(fd)
			half := len(b) / 2
			fr.stream(context.Background(), b[:half], now)
			fr.stream(context.Background(), b[half:], now)
			newFramer(fd).datagram(context.Background(), b, now)
			for _, o := range got {
				if o.Source != "fz" || !o.Label.Equal(l) {
					t.Fatalf("observation %+v", o)
				}
			}
		}
	})
}
