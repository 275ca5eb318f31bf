package load

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const testRun = "cafe0123"

type hit struct{ TS, Client int64 }

// feed presents chunks to scan one after another as a reader would,
// keeping the unconsumed rest, and returns the tally and the hits.
func feed(t testing.TB, xml bool, self int64, chunks ...[]byte) (*tally, []hit) {
	t.Helper()
	tl := newTally(markerPrefix(testRun), self, 10)
	var hits []hit
	tl.onHit = func(ts, c int64) { hits = append(hits, hit{ts, c}) }
	scan := tl.scanFrames
	if xml {
		scan = tl.scanXML
	}
	var carry []byte
	for _, ch := range chunks {
		carry = append(carry, ch...)
		done := scan(carry)
		if done < 0 || done > len(carry) {
			t.Fatalf("scan consumed %d of %d bytes", done, len(carry))
		}
		carry = append(carry[:0], carry[done:]...)
	}
	return tl, hits
}

func xmlEvent(run string, client int, seq uint64, ts int64) []byte {
	p := newPosition(run, client, 30*time.Second)
	return p.appendXML(nil, time.Unix(0, ts), seq)
}

func frame(run string, client int, seq uint64, ts int64) []byte {
	p := newPosition(run, client, 30*time.Second)
	return p.appendFrame(nil, time.Unix(0, ts), seq)
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func TestScanXML(t *testing.T) {
	const ts = int64(1764230400123456789)
	foreign := []byte(`<?xml version="1.0"?><event version="2.0" uid="x" type="t-x-takp-v" time="2026-01-01T00:00:00Z" start="2026-01-01T00:00:00Z" stale="2026-01-01T00:01:00Z" how="m-g"><point lat="0" lon="0" hae="0" ce="0" le="0"/><detail><TakControl><TakProtocolSupport version="1"/></TakControl></detail></event>`)
	tests := []struct {
		name      string
		stream    []byte
		want      []hit
		echoes    uint64
		malformed uint64
	}{
		{"one event", xmlEvent(testRun, 3, 0, ts), []hit{{ts, 3}}, 0, 0},
		{"three events and a foreign one", cat(xmlEvent(testRun, 1, 0, ts), []byte("\n"), foreign, xmlEvent(testRun, 2, 7, ts+1), xmlEvent(testRun, 4, 8, ts+2)),
			[]hit{{ts, 1}, {ts + 1, 2}, {ts + 2, 4}}, 0, 0},
		{"another run is ignored", cat(xmlEvent("0badf00d", 1, 0, ts), xmlEvent(testRun, 2, 0, ts)), []hit{{ts, 2}}, 0, 0},
		{"own event is an echo", cat(xmlEvent(testRun, 9, 0, ts), xmlEvent(testRun, 2, 0, ts)), []hit{{ts, 2}}, 1, 0},
		{"marker without digits", cat([]byte(`<event><detail><__load r="`+testRun+`" ts="x" c="1"/></detail></event>`), xmlEvent(testRun, 2, 0, ts)), []hit{{ts, 2}}, 0, 1},
		{"marker without client", []byte(`<event><detail><__load r="` + testRun + `" ts="12"/></detail></event>`), nil, 0, 1},
		{"marker without sequence", []byte(`<event><detail><__load r="` + testRun + `" ts="12" c="1"/></detail></event>`), nil, 0, 1},
		{"client out of range", []byte(`<event><detail><__load r="` + testRun + `" ts="12" c="10" s="0"/></detail></event>`), nil, 0, 1},
		{"timestamp too long", []byte(`<event><detail><__load r="` + testRun + `" ts="99999999999999999999" c="1"/></detail></event>`), nil, 0, 1},
		{"unfinished event is not counted", xmlEvent(testRun, 3, 0, ts)[:300], nil, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			check := func(t *testing.T, chunks ...[]byte) {
				t.Helper()
				tl, hits := feed(t, true, 9, chunks...)
				if diff := cmp.Diff(tt.want, hits); diff != "" {
					t.Errorf("hits (-want +got):\n%s", diff)
				}
				if tl.received != uint64(len(tt.want)) || tl.echoes != tt.echoes || tl.malformed != tt.malformed {
					t.Errorf("received, echoes, malformed = %d, %d, %d; want %d, %d, %d",
						tl.received, tl.echoes, tl.malformed, len(tt.want), tt.echoes, tt.malformed)
				}
			}
			for i := 0; i <= len(tt.stream); i++ {
				check(t, tt.stream[:i], tt.stream[i:])
			}
			var bytewise [][]byte
			for i := range tt.stream {
				bytewise = append(bytewise, tt.stream[i:i+1])
			}
			check(t, bytewise...)
		})
	}
}

func TestScanFrames(t *testing.T) {
	const ts = int64(1764230400123456789)
	big := cat([]byte{0xbf, 0x80, 0x80, 0x80, 0x01}, bytes.Repeat([]byte{0xbf}, 2<<20)) // 2 MiB frame, skipped
	big[4] = 0x01                                                                       // length 2^21 exactly
	tests := []struct {
		name   string
		stream []byte
		want   []hit
		echoes uint64
	}{
		{"one frame", frame(testRun, 3, 0, ts), []hit{{ts, 3}}, 0},
		{"stray zero after each frame", cat(frame(testRun, 1, 0, ts), []byte{0}, frame(testRun, 2, 1, ts+5), []byte{0}),
			[]hit{{ts, 1}, {ts + 5, 2}}, 0},
		{"another run and an echo", cat(frame("0badf00d", 1, 0, ts), frame(testRun, 9, 0, ts), frame(testRun, 2, 0, ts)), []hit{{ts, 2}}, 1},
		{"empty frame", cat([]byte{0xbf, 0}, frame(testRun, 2, 0, ts)), []hit{{ts, 2}}, 0},
		{"oversized frame is skipped", cat(frame(testRun, 1, 0, ts), big, frame(testRun, 2, 0, ts)), []hit{{ts, 1}, {ts, 2}}, 0},
		{"unfinished frame is not counted", frame(testRun, 1, 0, ts)[:100], nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			step := 1
			if len(tt.stream) > 4096 {
				step = 99991
			}
			for i := 0; i <= len(tt.stream); i += step {
				tl, hits := feed(t, false, 9, tt.stream[:i], tt.stream[i:])
				if diff := cmp.Diff(tt.want, hits); diff != "" {
					t.Fatalf("split at %d: hits (-want +got):\n%s", i, diff)
				}
				if tl.echoes != tt.echoes || tl.malformed != 0 {
					t.Fatalf("split at %d: echoes, malformed = %d, %d; want %d, 0", i, tl.echoes, tl.malformed, tt.echoes)
				}
			}
		})
	}
}

func TestScanLatency(t *testing.T) {
	tl := newTally(markerPrefix(testRun), 0, 2)
	sent := time.Unix(1764230400, 0)
	tl.now = sent.Add(23400 * time.Microsecond).UnixNano()
	tl.scanXML(xmlEvent(testRun, 1, 0, sent.UnixNano()))
	if got := tl.hist.quantile(1); got < 23300*time.Microsecond || got > 23500*time.Microsecond {
		t.Errorf("latency = %v, want 23.4ms ± 1/128", got)
	}
}

func TestHistogramQuantiles(t *testing.T) {
	var h histogram
	for us := uint64(1); us <= 100000; us++ { // 1 µs … 100 ms, uniform
		h.record(us)
	}
	for _, q := range []float64{0.5, 0.9, 0.99, 1} {
		want := time.Duration(q*100000) * time.Microsecond
		got := h.quantile(q)
		if d := got - want; d < -want/128 || d > want/128 {
			t.Errorf("quantile(%v) = %v, want %v ± 1/128", q, got, want)
		}
	}
	var merged histogram
	merged.merge(&h)
	merged.merge(&h)
	if merged.total != 200000 || merged.quantile(0.5) != h.quantile(0.5) {
		t.Errorf("merged: total %d, p50 %v; want 200000, %v", merged.total, merged.quantile(0.5), h.quantile(0.5))
	}
	if got := (&histogram{}).quantile(0.99); got != 0 {
		t.Errorf("empty quantile = %v, want 0", got)
	}
	for _, us := range []uint64{0, 255, 256, 1000, 1 << 20, maxMicros, 1 << 40} {
		i := bucketOf(us)
		if i < 0 || i >= histBuckets {
			t.Fatalf("bucketOf(%d) = %d out of range", us, i)
		}
		v := bucketValue(i)
		clamped := min(us, maxMicros)
		if d := int64(v) - int64(clamped); d < -int64(clamped)/128-1 || d > int64(clamped)/128+1 {
			t.Errorf("bucketValue(bucketOf(%d)) = %d", us, v)
		}
	}
}

func fuzzSeeds(f *testing.F, xml bool) {
	const ts = int64(1764230400123456789)
	ev := frame
	if xml {
		ev = xmlEvent
	}
	f.Add(ev(testRun, 1, 0, ts), 10)
	f.Add(cat(ev(testRun, 1, 0, ts), []byte{0}, ev(testRun, 2, 1, ts), ev("0badf00d", 3, 0, ts)), 200)
	f.Add([]byte(`<event><detail><__load r="`+testRun+`" ts="1" c="`), 5)
	f.Add([]byte{0xbf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 3)
	f.Add([]byte(strings.Repeat("</event>", 10)), 7)
}

// fuzzScan checks that scanning never panics, never consumes more than it
// was given, and finds the same events whatever the read boundaries.
func fuzzScan(t *testing.T, xml bool, data []byte, split int) {
	whole, wantHits := feed(t, xml, 9, data)
	if split < 0 {
		split = -split
	}
	split %= len(data) + 1
	parts, gotHits := feed(t, xml, 9, data[:split], data[split:])
	if diff := cmp.Diff(wantHits, gotHits); diff != "" {
		t.Fatalf("split at %d changes hits (-whole +split):\n%s", split, diff)
	}
	if whole.echoes != parts.echoes || whole.malformed != parts.malformed || whole.duplicates != parts.duplicates {
		t.Fatalf("split at %d: echoes %d/%d, malformed %d/%d, duplicates %d/%d", split, whole.echoes, parts.echoes,
			whole.malformed, parts.malformed, whole.duplicates, parts.duplicates)
	}
}

func FuzzScanXML(f *testing.F) {
	fuzzSeeds(f, true)
	f.Fuzz(func(t *testing.T, data []byte, split int) { fuzzScan(t, true, data, split) })
}

func FuzzScanFrames(f *testing.F) {
	fuzzSeeds(f, false)
	f.Fuzz(func(t *testing.T, data []byte, split int) { fuzzScan(t, false, data, split) })
}

func ExampleResult_String() {
	r := Result{Clients: 5, Rate: 5, Duration: 2 * time.Second, Proto: ProtoXML, Connected: 5,
		Sent: 50, Expected: 200, Received: 200, Elapsed: 2 * time.Second,
		P50: 1234 * time.Microsecond, P90: 2 * time.Millisecond, P99: 23449 * time.Microsecond, Max: 30 * time.Millisecond}
	fmt.Println(r)
	// Output: clients=5 rate=5 duration=2s proto=xml connected=5 connect_failures=0 sent=50 skipped=0 expected=200 received=200 deliveries_per_s=100.0 completeness=1.00000 p50=1.2ms p90=2.0ms p99=23.4ms max=30.0ms generator_cpu=0.0s duplicates=0 echoes=0 errors=0
}

// benchStream is 64 KiB of position reports from other clients, as one read
// returns them, with the last event cut by the read boundary.
func benchStream(xml bool) []byte {
	var b []byte
	for i := 0; len(b) < 64<<10; i++ {
		if xml {
			b = cat(b, xmlEvent(testRun, i%800, uint64(i), 1764230400123456789))
		} else {
			b = cat(b, frame(testRun, i%800, uint64(i), 1764230400123456789))
		}
	}
	return b[:64<<10]
}

func benchmarkScan(b *testing.B, xml bool) {
	stream := benchStream(xml)
	tl := newTally(markerPrefix(testRun), 9999, 800)
	tl.now = 1764230400123456789 + 5e6
	scan := tl.scanFrames
	if xml {
		scan = tl.scanXML
	}
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	for b.Loop() {
		scan(stream)
	}
	b.ReportMetric(float64(tl.received+tl.duplicates)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkScanXML(b *testing.B)    { benchmarkScan(b, true) }
func BenchmarkScanFrames(b *testing.B) { benchmarkScan(b, false) }

func TestScanDuplicates(t *testing.T) {
	ev := func(seq uint64) []byte { return xmlEvent(testRun, 2, seq, int64(1000+seq)) }
	stream := cat(ev(5), ev(5), ev(3), ev(3), ev(100), ev(30), ev(99), ev(36), ev(37), ev(37))
	tl, hits := feed(t, true, 9, stream)
	want := []hit{{1005, 2}, {1003, 2}, {1100, 2}, {1099, 2}, {1037, 2}}
	if diff := cmp.Diff(want, hits); diff != "" {
		t.Errorf("hits (-want +got):\n%s", diff)
	}
	// 5 and 3 again, 30 and 36 more than 64 behind 100, 37 again.
	if tl.duplicates != 5 || tl.received != 5 {
		t.Errorf("duplicates %d, received %d; want 5, 5", tl.duplicates, tl.received)
	}
}
