package takproto

import (
	"testing"

	"kizuna/internal/cot"
	"kizuna/internal/taktest/cputime"
	"kizuna/internal/taktest/testfiles"
)

// benchEvent is a realistic ATAK position report (about 600 bytes of XML,
// about 300 bytes of protobuf).
func benchEvent(b *testing.B) *cot.Event {
	b.Helper()
	e := mustDecode(b, testfiles.ByName(b, "../cot/testdata/events/*.xml")["sa"])
	e.Origin = cot.Origin{Nation: "JPN", Node: "jjoc-1"}
	return e
}

func BenchmarkDecodeProto(b *testing.B) {
	e := benchEvent(b)
	payload, err := MarshalPayload(nil, e)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	done := cputime.Rate(b, "events")
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
	done := cputime.Rate(b, "events")
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
