package metrics

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// deliveryBuckets are the upper bounds of kizuna_delivery_latency_seconds.
var deliveryBuckets = []time.Duration{
	500 * time.Microsecond, time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond,
	10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond,
	250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2500 * time.Millisecond,
}

// maxBuckets bounds the bucket count of a LatencyHistogram, so that a
// LatencyBatch needs no allocation.
const maxBuckets = 16

// LatencyHistogram is a Prometheus histogram of delivery latency that is
// filled a write at a time: a write loop counts the messages of one write
// in a LatencyBatch (plain integers on its own stack) and adds the batch
// with one atomic operation per non-empty bucket, instead of the three or
// four contended atomic operations per message of prometheus.Histogram.
// Every message is still counted; the exposition is the same.
type LatencyHistogram struct {
	desc   *prometheus.Desc
	bounds []time.Duration
	counts [maxBuckets + 1]atomic.Uint64 // per bucket, not cumulative; last is +Inf
	sum    atomic.Int64                  // nanoseconds
}

// NewLatencyHistogram returns a histogram with the given upper bounds
// (ascending, at most 16).
func NewLatencyHistogram(name, help string, bounds []time.Duration) *LatencyHistogram {
	if len(bounds) > maxBuckets {
		panic("metrics: too many latency buckets")
	}
	for i := 1; i < len(bounds); i++ {
		if bounds[i] <= bounds[i-1] {
			panic("metrics: latency buckets not ascending")
		}
	}
	return &LatencyHistogram{desc: prometheus.NewDesc(name, help, nil, nil), bounds: bounds}
}

// Observe adds one sample.
func (h *LatencyHistogram) Observe(d time.Duration) {
	var b LatencyBatch
	b.Add(h, d)
	b.Flush(h)
}

// LatencyBatch accumulates samples for one LatencyHistogram without
// synchronisation; Flush adds them. The zero value is empty.
type LatencyBatch struct {
	counts [maxBuckets + 1]uint32
	sum    int64
	used   bool
}

// Add counts one sample of h in the batch.
func (b *LatencyBatch) Add(h *LatencyHistogram, d time.Duration) {
	if d < 0 {
		d = 0
	}
	i := 0
	for i < len(h.bounds) && d > h.bounds[i] {
		i++
	}
	b.counts[i]++
	b.sum += int64(d)
	b.used = true
}

// Flush adds the batch to h and empties it.
func (b *LatencyBatch) Flush(h *LatencyHistogram) {
	if !b.used {
		return
	}
	for i, c := range b.counts[:len(h.bounds)+1] {
		if c != 0 {
			h.counts[i].Add(uint64(c))
		}
	}
	h.sum.Add(b.sum)
	*b = LatencyBatch{}
}

// Describe implements prometheus.Collector.
func (h *LatencyHistogram) Describe(ch chan<- *prometheus.Desc) { ch <- h.desc }

// Collect implements prometheus.Collector.
func (h *LatencyHistogram) Collect(ch chan<- prometheus.Metric) {
	count, buckets, sum := h.Snapshot()
	ch <- prometheus.MustNewConstHistogram(h.desc, count, sum, buckets)
}

// Snapshot returns the sample count, the cumulative count per upper bound
// in seconds, and the sum in seconds.
func (h *LatencyHistogram) Snapshot() (count uint64, buckets map[float64]uint64, sum float64) {
	buckets = make(map[float64]uint64, len(h.bounds))
	for i, ub := range h.bounds {
		count += h.counts[i].Load()
		buckets[ub.Seconds()] = count
	}
	count += h.counts[len(h.bounds)].Load()
	return count, buckets, time.Duration(h.sum.Load()).Seconds()
}
