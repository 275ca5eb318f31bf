package asterix

import "testing"

// benchDatagram repeats sample records into one data block of about 1.2
// kB, the size of a typical radar datagram.
func benchDatagram(b *testing.B, cat byte, recs [][]byte) ([]byte, int) {
	b.Helper()
	var all [][]byte
	size := 0
	for size < 1200 {
		r := recs[len(all)%len(recs)]
		all = append(all, r)
		size += len(r)
	}
	return block(cat, all...), len(all)
}

func benchDecode(b *testing.B, dg []byte, n int) {
	b.Helper()
	buf := make([]Record, 0, n)
	b.SetBytes(int64(len(dg)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		recs, err := DecodeAppend(buf[:0], dg)
		if err != nil || len(recs) != n {
			b.Fatalf("decoded %d records, %v", len(recs), err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkDecode048 decodes the CAT048 sample records (Mode S plots and
// tracks with BDS data, plot characteristics and other walked items).
func BenchmarkDecode048(b *testing.B) {
	var recs [][]byte
	for _, s := range samples048 {
		recs = append(recs, unhex(b, s.hex))
	}
	dg, n := benchDatagram(b, 48, recs)
	benchDecode(b, dg, n)
}

// BenchmarkDecode062 decodes the two CAT062 sample system tracks (each with
// I062/290, 295, 340 and 380 compounds).
func BenchmarkDecode062(b *testing.B) {
	dg := unhex(b, datagram062065)
	recs := [][]byte{dg[3:82], dg[82:161]}
	dg, n := benchDatagram(b, 62, recs)
	benchDecode(b, dg, n)
}

func BenchmarkEncode048(b *testing.B) {
	recs := make([]Record, 0, len(samples048))
	for _, s := range samples048 {
		recs = append(recs, s.want)
	}
	var buf []byte
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf = Append048(buf[:0], recs)
	}
	b.ReportMetric(float64(len(recs))*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
