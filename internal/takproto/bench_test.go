package takproto

import (
	"testing"

	"kizuna/internal/cot"
)

// benchEvent is a realistic ATAK position report (about 600 bytes of XML,
// about 300 bytes of protobuf).
func benchEvent(b *testing.B) *cot.Event {
	b.Helper()
	e := mustDecode(b, eventFiles(b)["sa"])
	e.Origin = cot.Origin{Nation: "JPN", Node: "jjoc-1"}
	return e
}

func reportRate(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkDecodeProto(b *testing.B) {
	e := benchEvent(b)
	payload, err := MarshalPayload(nil, e)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := ToEvent(payload); err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b)
}

func BenchmarkEncodeProto(b *testing.B) {
	e := benchEvent(b)
	buf, err := MarshalEvent(nil, e)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		buf, err = MarshalEvent(buf[:0], e)
		if err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b)
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
