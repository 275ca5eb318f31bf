package metrics

import (
	"math"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// TestLatencyHistogramMatchesPrometheus: batches added with LatencyBatch
// expose the same buckets, count and sum as prometheus.Histogram fed one
// sample at a time.
func TestLatencyHistogramMatchesPrometheus(t *testing.T) {
	h := NewLatencyHistogram("x_seconds", "x", deliveryBuckets)
	var fb []float64
	for _, b := range deliveryBuckets {
		fb = append(fb, b.Seconds())
	}
	ref := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "x_seconds", Help: "x", Buckets: fb})
	samples := []time.Duration{-time.Millisecond, 0, 500 * time.Microsecond, 501 * time.Microsecond,
		3 * time.Millisecond, 99 * time.Millisecond, 100 * time.Millisecond, 2 * time.Second, time.Minute}
	var b LatencyBatch
	for i, d := range samples {
		b.Add(h, d)
		if i%4 == 3 {
			b.Flush(h)
		}
		ref.Observe(max(d, 0).Seconds())
	}
	b.Flush(h)
	b.Flush(h) // an empty batch adds nothing
	h.Observe(7 * time.Millisecond)
	ref.Observe((7 * time.Millisecond).Seconds())

	got, want := gather(t, h), gather(t, ref)
	if got.GetSampleCount() != want.GetSampleCount() || math.Abs(got.GetSampleSum()-want.GetSampleSum()) > 1e-9 {
		t.Errorf("count/sum %d/%g, want %d/%g", got.GetSampleCount(), got.GetSampleSum(), want.GetSampleCount(), want.GetSampleSum())
	}
	gb, wb := got.GetBucket(), want.GetBucket()
	if len(gb) != len(wb) {
		t.Fatalf("%d buckets, want %d", len(gb), len(wb))
	}
	for i := range gb {
		if gb[i].GetUpperBound() != wb[i].GetUpperBound() || gb[i].GetCumulativeCount() != wb[i].GetCumulativeCount() {
			t.Errorf("bucket %d: ≤%g %d, want ≤%g %d", i, gb[i].GetUpperBound(), gb[i].GetCumulativeCount(),
				wb[i].GetUpperBound(), wb[i].GetCumulativeCount())
		}
	}
}

func gather(t *testing.T, c prometheus.Collector) *dto.Histogram {
	t.Helper()
	r := prometheus.NewRegistry()
	r.MustRegister(c)
	mfs, err := r.Gather()
	if err != nil || len(mfs) != 1 || len(mfs[0].GetMetric()) != 1 {
		t.Fatalf("gather: %v %v", mfs, err)
	}
	return mfs[0].GetMetric()[0].GetHistogram()
}

// BenchmarkDeliveryLatency compares the per-message cost of counting
// delivery latency: prometheus.Histogram.Observe per message (as before)
// against a LatencyBatch flushed once per write of 8 messages.
func BenchmarkDeliveryLatency(b *testing.B) {
	var fb []float64
	for _, d := range deliveryBuckets {
		fb = append(fb, d.Seconds())
	}
	ds := []time.Duration{3 * time.Millisecond, 7 * time.Millisecond, 12 * time.Millisecond, 40 * time.Millisecond,
		4 * time.Millisecond, 9 * time.Millisecond, 2 * time.Millisecond, 30 * time.Millisecond}
	b.Run("prometheus", func(b *testing.B) {
		h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "x", Help: "x", Buckets: fb})
		for i := 0; b.Loop(); i++ {
			h.Observe(ds[i%len(ds)].Seconds())
		}
	})
	b.Run("batch8", func(b *testing.B) {
		h := NewLatencyHistogram("x", "x", deliveryBuckets)
		var lb LatencyBatch
		for i := 0; b.Loop(); i++ {
			lb.Add(h, ds[i%len(ds)])
			if i%8 == 7 {
				lb.Flush(h)
			}
		}
		lb.Flush(h)
	})
}
