package fusion

import (
	"math"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// latency is a lock-free histogram of fusion latency (receipt of an
// observation → its track updated), in log-spaced buckets from 10 µs to
// about 10 s.
type latency struct {
	counts [nBuckets + 1]atomic.Uint64
	sum    atomic.Int64 // nanoseconds
}

const (
	nBuckets    = 60
	bucketBase  = 10 * time.Microsecond
	bucketRatio = 1.2589254117941673 // 10^(1/10): ten buckets per decade
)

func newLatency() *latency { return &latency{} }

func bucketUpper(i int) time.Duration {
	return time.Duration(float64(bucketBase) * math.Pow(bucketRatio, float64(i)))
}

func (l *latency) observe(d time.Duration) {
	if d < 0 {
		d = 0
	}
	i := 0
	if d > bucketBase {
		i = int(math.Ceil(math.Log(float64(d)/float64(bucketBase)) / math.Log(bucketRatio)))
	}
	if i > nBuckets {
		i = nBuckets
	}
	l.counts[i].Add(1)
	l.sum.Add(int64(d))
}

// LatencyQuantile returns the q-quantile (0..1) of fusion latency, as the
// upper bound of its bucket (resolution 26 %), and the number of samples.
func (e *Engine) LatencyQuantile(q float64) (time.Duration, uint64) {
	var total uint64
	var c [nBuckets + 1]uint64
	for i := range c {
		c[i] = e.lat.counts[i].Load()
		total += c[i]
	}
	if total == 0 {
		return 0, 0
	}
	rank := uint64(math.Ceil(q * float64(total)))
	var acc uint64
	for i, n := range c {
		acc += n
		if acc >= rank {
			return bucketUpper(i), total
		}
	}
	return bucketUpper(nBuckets), total
}

// ResetLatency clears the latency histogram (benchmarks measure phases).
func (e *Engine) ResetLatency() {
	for i := range e.lat.counts {
		e.lat.counts[i].Store(0)
	}
	e.lat.sum.Store(0)
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
	buckets := map[float64]uint64{}
	var acc uint64
	for i := range nBuckets {
		acc += e.lat.counts[i].Load()
		buckets[bucketUpper(i).Seconds()] = acc
	}
	acc += e.lat.counts[nBuckets].Load()
	ch <- prometheus.MustNewConstHistogram(descLatency, acc, time.Duration(e.lat.sum.Load()).Seconds(), buckets)
	ch <- prometheus.MustNewConstMetric(descQueue, prometheus.GaugeValue, float64(len(e.in)))
}
