package ais

import (
	"testing"
	"time"

	"kizuna/internal/taktest/cputime"
)

// benchMix is a realistic AIS mix: mostly class A position reports, some
// class B reports and a two-sentence static and voyage report. Sentences
// come from the public vectors used in the decode tests.
var benchMix = []string{
	"!AIVDM,1,1,,B,15M67FC000G?ufbE`FepT@3n00Sa,0*5C",
	"!AIVDM,1,1,,A,15NPOOPP00o?b=bE`UNv4?w428D;,0*24",
	"!AIVDM,1,1,,B,181:Kjh01ewHFRPDK1s3IRcn06sd,0*08",
	"!AIVDM,1,1,,A,35NSH95001G?wopE`beasVk@0E5:,0*6F",
	"!AIVDM,1,1,,A,15RTgt0PAso;90TKcjM8h6g208CQ,0*4A",
	"!AIVDM,1,1,,A,38Id705000rRVJhE7cl9n;160000,0*40",
	"!AIVDM,1,1,,B,25Cjtd0Oj;Jp7ilG7=UkKBoB0<06,0*60",
	"!AIVDM,1,1,,A,B5NJ;PP005l4ot5Isbl03wsUkP06,0*76",
	"!AIVDM,1,1,,B,B5O6hr00<veEKmUaMFdEow`UWP06,0*4F",
	"!AIVDM,2,1,1,A,55?MbV02;H;s<HtKR20EHE:0@T4@Dn2222222216L961O5Gf0NSQEp6ClRp8,0*1C",
	"!AIVDM,2,2,1,A,88888888880,2*25",
}

// BenchmarkDecodeAIS reports AIS messages decoded per second on one core.
func BenchmarkDecodeAIS(b *testing.B) {
	lines := make([][]byte, len(benchMix))
	for i, s := range benchMix {
		lines[i] = []byte(s)
	}
	d := NewDecoder(Config{})
	now := time.Now()
	msgs := 0
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cputime.Process()
	for i := 0; i < b.N; i++ {
		m, err := d.Line(lines[i%len(lines)], now)
		if err != nil {
			b.Fatal(err)
		}
		if m != nil {
			msgs++
		}
	}
	cputime.Report(b, msgs, cpu0, "msgs")
}
