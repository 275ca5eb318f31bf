package modes

import (
	"bytes"
	"testing"
)

// beastRecord encodes one Beast record the way dump1090 writes it: 0x1a,
// type, 6-byte timestamp, signal, data, with every 0x1a after the marker
// doubled.
func beastRecord(typ byte, ts uint64, sig byte, data []byte) []byte {
	out := []byte{beastEscape, typ}
	put := func(b byte) {
		out = append(out, b)
		if b == beastEscape {
			out = append(out, b)
		}
	}
	for i := 5; i >= 0; i-- {
		put(byte(ts >> (8 * i)))
	}
	put(sig)
	for _, b := range data {
		put(b)
	}
	return out
}

type wantFrame struct {
	typ  byte
	ts   uint64
	sig  byte
	data []byte
}

func readAll(r *BeastReader) []wantFrame {
	var got []wantFrame
	for {
		f, ok := r.Next()
		if !ok {
			return got
		}
		got = append(got, wantFrame{f.Type, f.Timestamp, f.Signal, append([]byte(nil), f.Data...)})
	}
}

func TestBeastReader(t *testing.T) {
	ident := mustHex(t, "8D406B902015A678D4D220AA4BDA")
	short := mustHex(t, "5D484FDEA248F5")
	// A frame and timestamp full of 0x1a to exercise escaping.
	escaped := []byte{0x1a, 0x1a, 0x00, 0x1a, 0x01, 0x02, 0x1a}
	frames := []wantFrame{
		{BeastModeSLong, 0x0000_1a1a_1a1a, 0x1a, ident},
		{BeastModeSShort, 0x0123_4567_89ab, 200, short},
		{BeastModeAC, 42, 7, []byte{0x12, 0x34}},
		{BeastModeSShort, 0x1a, 0x1a, escaped},
		{BeastModeSLong, 1 << 47, 255, ident},
	}
	var stream []byte
	for i, f := range frames {
		stream = append(stream, beastRecord(f.typ, f.ts, f.sig, f.data)...)
		if i == 1 {
			// A Radarcape status record is skipped.
			stream = append(stream, beastRecord(beastStatus, 9, 9, make([]byte, 14))...)
		}
	}

	for _, chunk := range []int{1, 2, 3, 7, 64, len(stream)} {
		r := NewBeastReader(0)
		var got []wantFrame
		for i := 0; i < len(stream); i += chunk {
			r.Feed(stream[i:min(i+chunk, len(stream))])
			got = append(got, readAll(r)...)
		}
		if len(got) != len(frames) {
			t.Fatalf("chunk %d: %d frames, want %d", chunk, len(got), len(frames))
		}
		for i := range frames {
			g, w := got[i], frames[i]
			if g.typ != w.typ || g.ts != w.ts || g.sig != w.sig || !bytes.Equal(g.data, w.data) {
				t.Errorf("chunk %d frame %d: got %+v, want %+v", chunk, i, g, w)
			}
		}
		if r.Skipped() != 0 {
			t.Errorf("chunk %d: skipped %d bytes of a clean stream", chunk, r.Skipped())
		}
	}
}

func TestBeastReaderResync(t *testing.T) {
	ident := mustHex(t, "8D406B902015A678D4D220AA4BDA")
	good := beastRecord(BeastModeSLong, 1, 2, ident)
	var stream []byte
	stream = append(stream, "garbage before"...)
	stream = append(stream, good...)
	stream = append(stream, 0x1a, 0x1a)                   // stray escaped byte
	stream = append(stream, 0x1a, 'x', 1, 2, 3)           // unknown record type
	stream = append(stream, good[:10]...)                 // record cut short …
	stream = append(stream, good...)                      // … by a new one
	stream = append(stream, 0x00, 0xff, 0x1a, 0x1a, 0x1a) // noise
	stream = append(stream, good...)

	r := NewBeastReader(0)
	r.Feed(stream)
	got := readAll(r)
	if len(got) != 3 {
		t.Fatalf("%d frames, want 3", len(got))
	}
	for _, g := range got {
		if g.typ != BeastModeSLong || !bytes.Equal(g.data, ident) {
			t.Fatalf("bad frame %+v", g)
		}
		if _, err := Decode(g.data); err != nil {
			t.Fatal(err)
		}
	}
	if r.Skipped() == 0 {
		t.Error("garbage not counted")
	}
	if r.Buffered() != 0 {
		t.Errorf("%d bytes left", r.Buffered())
	}
}

func TestBeastReaderBounded(t *testing.T) {
	r := NewBeastReader(256)
	junk := bytes.Repeat([]byte{0x1a, '3', 0, 0, 0}, 200)
	// A caller that feeds without reading never makes the reader hold
	// more than its limit; the excess is counted as skipped.
	for i := 0; i < 10; i++ {
		r.Feed(junk[:100])
		if r.Buffered() > 256 {
			t.Fatalf("buffered %d bytes, limit 256", r.Buffered())
		}
	}
	r.Feed(junk)
	if r.Buffered() > 256 {
		t.Fatalf("buffered %d bytes after a large feed", r.Buffered())
	}
	if r.Skipped() < uint64(10*100+len(junk)-256) {
		t.Fatalf("skipped %d", r.Skipped())
	}
	if got := readAll(r); len(got) != 0 {
		t.Fatalf("frames from junk: %+v", got)
	}
	// The reader recovers once good data arrives.
	r.Feed(beastRecord(BeastModeSShort, 5, 5, mustHex(t, "5D484FDEA248F5")))
	got := readAll(r)
	if len(got) != 1 || got[0].typ != BeastModeSShort || got[0].ts != 5 {
		t.Fatalf("after junk: %+v", got)
	}
}
