package modes

import (
	"encoding/hex"
	"testing"
	"time"

	"kizuna/internal/taktest/cputime"
)

// benchFrames is a receiver-like mix: mostly airborne positions and
// velocities, some identifications, all-call and surveillance replies.
// The frames are the public vectors used in the tests.
var benchFrames = []string{
	"8D40621D58C382D690C8AC2863A7", "8D40621D58C386435CC412692AD6",
	"8D40058B58C901375147EFD09357", "8D40058B58C904A87F402D3B8C59",
	"8D485020994409940838175B284F", "8DA05F219B06B6AF189400CBC33F",
	"8d406b909945de0fe00405703e31", "8d406b9058b97218e77d23bead12",
	"8d406b9058b975870b738754f480", "8D406B902015A678D4D220AA4BDA",
	"5D484FDEA248F5", "20001718029FCD", "2A00516D492B80",
}

// BenchmarkDecodeBeast reports Beast frames per second on one core for the
// whole path: stream framing with escapes, CRC, decoding and the tracker.
func BenchmarkDecodeBeast(b *testing.B) {
	var stream []byte
	for i, h := range benchFrames {
		f, _ := hex.DecodeString(h)
		typ := byte(BeastModeSLong)
		if len(f) == 7 {
			typ = BeastModeSShort
		}
		stream = append(stream, beastRecord(typ, uint64(i)*0x1a1a, byte(i), f)...)
	}
	// Read in 4 KiB chunks, like a socket would deliver them.
	var chunk []byte
	for len(chunk) < 4096 {
		chunk = append(chunk, stream...)
	}
	r := NewBeastReader(0)
	tr := NewTracker(TrackerConfig{})
	now := time.Unix(1_700_000_000, 0)
	var m Message
	frames := 0
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cputime.Process()
	for frames < b.N {
		r.Feed(chunk)
		for {
			f, ok := r.Next()
			if !ok {
				break
			}
			frames++
			m = Message{}
			if err := decodeInto(f.Data, &m); err != nil {
				b.Fatal(err)
			}
			tr.Update(&m, now)
		}
	}
	cputime.Report(b, frames, cpu0, "msgs")
}

// BenchmarkDecodeSBS reports SBS-1 lines per second on one core, parsed and
// applied to the tracker.
func BenchmarkDecodeSBS(b *testing.B) {
	lines := [][]byte{
		[]byte("MSG,3,1,1,40621D,1,2026/11/27,08:00:00.000,2026/11/27,08:00:00.123,,38000,,,52.25720,3.91937,,,0,0,0,0\r\n"),
		[]byte("MSG,4,1,1,485020,1,2026/11/27,08:00:00.000,2026/11/27,08:00:00.123,,,159,183,,,-832,,,,,0\r\n"),
		[]byte("MSG,3,1,1,40058B,1,2026/11/27,08:00:00.000,2026/11/27,08:00:00.123,,39000,,,49.81755,6.08442,,,0,0,0,0\r\n"),
		[]byte("MSG,5,1,1,40621D,1,2026/11/27,08:00:00.000,2026/11/27,08:00:00.123,,38000,,,,,,,0,,0,0\r\n"),
		[]byte("MSG,1,1,1,406B90,1,2026/11/27,08:00:00.000,2026/11/27,08:00:00.123,EZY85MH ,,,,,,,,,,,\r\n"),
		[]byte("MSG,6,1,1,3C6586,1,2026/11/27,08:00:00.000,2026/11/27,08:00:00.123,,,,,,,,1000,0,0,0,0\r\n"),
		[]byte("MSG,8,1,1,40058B,1,2026/11/27,08:00:00.000,2026/11/27,08:00:00.123,,,,,,,,,,,,0\r\n"),
	}
	tr := NewTracker(TrackerConfig{})
	now := time.Unix(1_700_000_000, 0)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cputime.Process()
	for i := 0; i < b.N; i++ {
		s, err := ParseSBS(lines[i%len(lines)])
		if err != nil {
			b.Fatal(err)
		}
		tr.UpdateSBS(&s, now)
	}
	cputime.Report(b, b.N, cpu0, "msgs")
}
