package fusion

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"kizuna/internal/label"
)

// TestLatencyQuantileExact: the quantiles come from fine buckets, within
// 0.4 % of the sample of that rank, never a coarse bucket bound.
func TestLatencyQuantileExact(t *testing.T) {
	e := newEngine(t, map[string]label.Label{"radar": lbl(label.Secret, "JPN")})
	r := rand.New(rand.NewPCG(1, 2))
	var samples []time.Duration
	for range 20_000 {
		// 1 µs to about 3 s, log-uniform.
		d := time.Duration(float64(time.Microsecond) * math.Pow(10, r.Float64()*6.5))
		samples = append(samples, d)
		e.lat.observe(d)
	}
	e.lat.observe(-time.Second) // a clock step counts as zero
	samples = append(samples, 0)
	slices.Sort(samples)
	for _, q := range []float64{0.01, 0.5, 0.9, 0.99, 0.999, 1} {
		got, n := e.LatencyQuantile(q)
		if n != uint64(len(samples)) {
			t.Fatalf("%d samples, want %d", n, len(samples))
		}
		rank := int(float64(len(samples))*q+0.9999999) - 1
		want := samples[rank]
		if diff := float64(got-want) / float64(want); diff > 0.004 || diff < -0.004 {
			t.Errorf("q%.3f = %v, want %v (±0.4 %%)", q, got, want)
		}
	}
	e.ResetLatency()
	if _, n := e.LatencyQuantile(0.5); n != 0 {
		t.Errorf("%d samples after reset", n)
	}
}

// TestFineBuckets: every value falls in the bucket fineBounds describes,
// and the buckets tile the range without gaps.
func TestFineBuckets(t *testing.T) {
	next := uint64(0)
	for i := 0; i < nFine; i++ {
		low, w := fineBounds(i)
		if low != next {
			t.Fatalf("bucket %d starts at %d, want %d", i, low, next)
		}
		next = low + w
	}
	for _, v := range []uint64{0, 1, 255, 256, 257, 511, 512, 1e3, 1e6, 99_999_999, 1e8, 1e9, 1e12} {
		i := fineIndex(v)
		low, w := fineBounds(i)
		if v < low || v >= low+w {
			t.Errorf("%d in bucket %d [%d, %d)", v, i, low, low+w)
		}
		if w > 1 && float64(w)/float64(low) > 1.0/128 {
			t.Errorf("bucket %d is %d wide at %d", i, w, low)
		}
	}
	if i := fineIndex(1 << 62); i != nFine-1 {
		t.Errorf("huge value in bucket %d, want the last", i)
	}
}

// TestConfirmedCounter: identity tracks are confirmed when they start,
// anonymous radar tracks after M of N hits; Stats counts both (one view:
// both sources carry the same label).
func TestConfirmedCounter(t *testing.T) {
	radL := lbl(label.Secret, "JPN")
	aisL := radL
	e := newEngine(t, map[string]label.Label{"ais": aisL, "radar": radL})
	e.Process([]Observation{aisObs(aisL, 431000001, t0, 34, 130, 90, 5), aisObs(aisL, 431000002, t0, 34.2, 130.2, 90, 5)})
	if got := e.Stats().Confirmed; got != 2 {
		t.Errorf("after two AIS ships: %d confirmed, want 2", got)
	}
	tgt := mover{35.5, 131.5, 45, 8}
	for k := range 3 {
		s := float64(k) * 5
		lat, lon := tgt.at(s)
		at := t0.Add(time.Duration(s) * time.Second)
		e.Process([]Observation{plot("radar", radL, at, lat, lon)})
		e.Tick(at)
	}
	if got := e.Stats().Confirmed; got != 3 {
		t.Errorf("after a radar track's third hit: %d confirmed, want 3", got)
	}
}
