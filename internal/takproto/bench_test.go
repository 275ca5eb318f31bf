package takproto

import (
	"testing"

	"kizuna/internal/cot"
	"kizuna/internal/taktest/cputime"
)

// benchEvent is a realistic ATAK position report (about 600 bytes of XML,
// about 300 bytes of protobuf).
func benchEvent(b *testing.B) *cot.Event {
	b.Helper()
	e := mustDecode(b, eventFiles(b)["sa"])
	e.Origin = cot.Origin{Nation: "JPN", Node: "jjoc-1"}
	return e
}

// rate reports events per second of wall time and, where the platform
// tells, events per second of CPU time used by the whole process (garbage
// collection included): the per-core figure, robust on a busy machine.
// Call it before the loop and call the result after it.
func rate(b *testing.B) func() {
	cpu0 := cputime.Process().Seconds()
	return func() {
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		if cpu := cputime.Process().Seconds() - cpu0; cpu > 0 {
			b.ReportMetric(float64(b.N)/cpu, "events/cpu-s")
		}
	}
}

func BenchmarkDecodeProto(b *testing.B) {
	e := benchEvent(b)
	payload, err := MarshalPayload(nil, e)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	done := rate(b)
	for b.Loop() {
		if _, err := ToEvent(payload); err != nil {
			b.Fatal(err)
		}
	}
	done()
}

func BenchmarkEncodeProto(b *testing.B) {
	e := benchEvent(b)
	buf, err := MarshalEvent(nil, e)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	done := rate(b)
	for b.Loop() {
		buf, err = MarshalEvent(buf[:0], e)
		if err != nil {
			b.Fatal(err)
		}
	}
	done()
}

func BenchmarkSplitProto(b *testing.B) {
	e := benchEvent(b)
	var stream []byte
	for range 64 {
		stream, _ = MarshalEvent(stream, e)
	}
	s := NewSplitter(0)
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	for b.Loop() {
		s.Feed(stream)
		for {
			p, err := s.Next()
			if err != nil {
				b.Fatal(err)
			}
			if p == nil {
				break
			}
		}
	}
}
