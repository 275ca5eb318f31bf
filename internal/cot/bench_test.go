package cot

import (
	"testing"

	"kizuna/internal/taktest/cputime"
	"kizuna/internal/taktest/testfiles"
)

// benchSA is a realistic ATAK position report of about 650 bytes.
func benchSA(b *testing.B) []byte {
	b.Helper()
	return testfiles.ByName(b, "testdata/events/*.xml")["sa"]
}

func BenchmarkDecodeXML(b *testing.B) {
	doc := benchSA(b)
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	done := cputime.Rate(b, "events")
	for b.Loop() {
		if _, err := Decode(doc); err != nil {
			b.Fatal(err)
		}
	}
	done()
}

func BenchmarkEncodeXML(b *testing.B) {
	e, err := Decode(benchSA(b))
	if err != nil {
		b.Fatal(err)
	}
	e.Origin = Origin{Nation: "JPN", Node: "jjoc-1"}
	buf := e.AppendXML(nil)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	done := cputime.Rate(b, "events")
	for b.Loop() {
		buf = e.AppendXML(buf[:0])
	}
	done()
}

func BenchmarkSplitXML(b *testing.B) {
	doc := benchSA(b)
	var stream []byte
	for range 64 {
		stream = append(stream, doc...)
	}
	s := NewSplitter(0)
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	for b.Loop() {
		s.Feed(stream)
		for {
			d, err := s.Next()
			if err != nil {
				b.Fatal(err)
			}
			if d == nil {
				break
			}
		}
	}
}
