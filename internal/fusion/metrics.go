package fusion

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// latency is a lock-free histogram of fusion latency (receipt of an
// observation → its track updated) with log-linear buckets: below 256 ns
// one bucket per nanosecond, above that 128 buckets per power of two, so a
// bucket is less than 0.8 % wide (an HDR-style histogram). Values above
// about 18 minutes fall into the last bucket.
type latency struct {
	counts [nFine]atomic.Uint64
	sum    atomic.Int64 // nanoseconds
}

const (
	subBits = 7 // 128 sub-buckets per power of two
	subN    = 1 << subBits
	maxExp  = 34 // shifts 0..maxExp: up to 2^(maxExp+subBits+1) ns ≈ 18 min
	nFine   = (maxExp + 2) * subN
)

func newLatency() *latency { return &latency{} }

// fineIndex returns the bucket of v nanoseconds.
func fineIndex(v uint64) int {
	shift := bits.Len64(v) - (subBits + 1)
	if shift < 0 {
		shift = 0
	}
	if shift > maxExp {
		return nFine - 1
	}
	return shift*subN + int(v>>uint(shift))
}

// fineBounds returns the bucket's lowest value and its width, in ns.
func fineBounds(i int) (low, width uint64) {
	if i < 2*subN {
		return uint64(i), 1
	}
	shift := uint(i/subN - 1)
	return uint64(i-int(shift)*subN) << shift, 1 << shift
}

func (l *latency) observe(d time.Duration) {
	if d < 0 {
		d = 0
	}
	l.counts[fineIndex(uint64(d))].Add(1)
	l.sum.Add(int64(d))
}

// LatencyQuantile returns the q-quantile (0..1) of fusion latency and the
// number of samples. The value is the middle of the bucket that holds the
// sample of that rank: within 0.4 % of the sample (1 ns below 256 ns).
func (e *Engine) LatencyQuantile(q float64) (time.Duration, uint64) {
	var total uint64
	for i := range e.lat.counts {
		total += e.lat.counts[i].Load()
	}
	if total == 0 {
		return 0, 0
	}
	rank := uint64(math.Ceil(q * float64(total)))
	if rank == 0 {
		rank = 1
	}
	var acc uint64
	for i := range e.lat.counts {
		acc += e.lat.counts[i].Load()
		if acc >= rank {
			low, w := fineBounds(i)
			return time.Duration(low + w/2), total
		}
	}
	low, w := fineBounds(nFine - 1)
	return time.Duration(low + w/2), total
}

// ResetLatency clears the latency histogram (benchmarks measure phases).
func (e *Engine) ResetLatency() {
	for i := range e.lat.counts {
		e.lat.counts[i].Store(0)
	}
	e.lat.sum.Store(0)
}

// exportBuckets are the upper bounds kizuna_fusion_latency_seconds is
// exposed with: ten per decade from 10 µs to 10 s.
var exportBuckets = func() []time.Duration {
	var out []time.Duration
	for i := 0; i <= 60; i++ {
		out = append(out, time.Duration(float64(10*time.Microsecond)*math.Pow(10, float64(i)/10)))
	}
	return out
}()

// cumulative returns, for each export bound, the samples at or below it
// (a fine bucket counts below a bound when its highest value is), and the
// total.
func (l *latency) cumulative() (map[float64]uint64, uint64) {
	out := make(map[float64]uint64, len(exportBuckets))
	var acc uint64
	j := 0
	for i := range l.counts {
		low, w := fineBounds(i)
		for j < len(exportBuckets) && uint64(exportBuckets[j]) < low+w-1 {
			out[exportBuckets[j].Seconds()] = acc
			j++
		}
		acc += l.counts[i].Load()
	}
	for ; j < len(exportBuckets); j++ {
		out[exportBuckets[j].Seconds()] = acc
	}
	return out, acc
}

var (
	descObs     = prometheus.NewDesc("kizuna_fusion_observations_total", "Observations by outcome: applied, dropped (queue full), unknown_source, invalid.", []string{"outcome"}, nil)
	descTracks  = prometheus.NewDesc("kizuna_fusion_tracks", "Tracks held, by view and state (tentative, confirmed).", []string{"view", "state"}, nil)
	descEvents  = prometheus.NewDesc("kizuna_fusion_track_events_total", "Track lifecycle: started, confirmed, deleted, merged, published, publish_errors, suppressed.", []string{"event"}, nil)
	descLatency = prometheus.NewDesc("kizuna_fusion_latency_seconds", "Observation receipt to track update.", nil, nil)
	descQueue   = prometheus.NewDesc("kizuna_fusion_queue", "Observation batches waiting for the engine.", nil, nil)
)

// Collector returns a Prometheus collector for the engine.
func (e *Engine) Collector() prometheus.Collector { return collector{e} }

type collector struct{ e *Engine }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descObs, descTracks, descEvents, descLatency, descQueue} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	e := c.e
	s := e.Stats()
	cnt := func(d *prometheus.Desc, v uint64, l string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), l)
	}
	cnt(descObs, s.Observations, "applied")
	cnt(descObs, s.Dropped, "dropped")
	cnt(descObs, s.UnknownSrc, "unknown_source")
	cnt(descObs, s.Invalid, "invalid")
	cnt(descEvents, s.NewTracks, "started")
	cnt(descEvents, s.Confirmed, "confirmed")
	cnt(descEvents, s.Deleted, "deleted")
	cnt(descEvents, s.Merged, "merged")
	cnt(descEvents, s.Published, "published")
	cnt(descEvents, s.PublishErrs, "publish_errors")
	cnt(descEvents, s.Suppressed, "suppressed")
	e.mu.Lock()
	for _, v := range e.views {
		var tent, conf int
		for _, t := range v.tracks {
			if t.removed {
				continue
			}
			if t.confirmed {
				conf++
			} else {
				tent++
			}
		}
		ch <- prometheus.MustNewConstMetric(descTracks, prometheus.GaugeValue, float64(tent), v.tag, "tentative")
		ch <- prometheus.MustNewConstMetric(descTracks, prometheus.GaugeValue, float64(conf), v.tag, "confirmed")
	}
	e.mu.Unlock()
	buckets, total := e.lat.cumulative()
	ch <- prometheus.MustNewConstHistogram(descLatency, total, time.Duration(e.lat.sum.Load()).Seconds(), buckets)
	ch <- prometheus.MustNewConstMetric(descQueue, prometheus.GaugeValue, float64(len(e.in)))
}
