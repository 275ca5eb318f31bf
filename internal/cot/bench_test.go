package cot

import (
	"testing"

	"kizuna/internal/taktest/cputime"
)

// benchSA is a realistic ATAK position report of about 650 bytes.
func benchSA(b *testing.B) []byte {
	b.Helper()
	return testEvents(b)["sa"]
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

func BenchmarkDecodeXML(b *testing.B) {
	doc := benchSA(b)
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	done := rate(b)
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
	done := rate(b)
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
