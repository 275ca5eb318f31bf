package feed

import (
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type stats struct {
	bytes        atomic.Uint64
	observations atomic.Uint64
	dropped      atomic.Uint64
	connects     atomic.Uint64
	connected    atomic.Int64

	mu       sync.Mutex
	messages map[string]uint64 // by message kind
	errors   map[string]uint64 // by reason
	ring     [rateWindow]struct {
		sec int64
		n   uint64
	}
	lag     float64 // EWMA, seconds
	lagSeen bool
}

const rateWindow = 10 // seconds

// count records one message of the given kind and, when lag ≥ 0, the
// delay between its own time and its receipt.
func (f *Feed) count(kind string, lag time.Duration) {
	s := &f.st
	now := time.Now().Unix()
	s.mu.Lock()
	if s.messages == nil {
		s.messages = map[string]uint64{}
	}
	s.messages[kind]++
	b := &s.ring[now%rateWindow]
	if b.sec != now {
		b.sec, b.n = now, 0
	}
	b.n++
	if lag >= 0 {
		v := lag.Seconds()
		if !s.lagSeen {
			s.lag, s.lagSeen = v, true
		} else {
			s.lag += 0.05 * (v - s.lag)
		}
	}
	s.mu.Unlock()
}

// Stats is a snapshot of a feed's counters.
type Stats struct {
	Messages     map[string]uint64 `json:"messages"`     // by message kind (ais, sbs, modes, asterix, cot, …)
	Errors       map[string]uint64 `json:"errors"`       // by reason
	Observations uint64            `json:"observations"` // handed to fusion
	Dropped      uint64            `json:"dropped"`      // refused by a full fusion queue
	Bytes        uint64            `json:"bytes"`
	Connects     uint64            `json:"connects"`  // connections made (tcp) or accepted (tcp-listen)
	Connected    int64             `json:"connected"` // open connections now
	Rate         float64           `json:"rate"`      // messages per second over the last 10 s
	Lag          float64           `json:"lag"`       // seconds, moving average; -1 when unknown
}

// Total returns the number of messages of every kind.
func (s Stats) Total() uint64 {
	var n uint64
	for _, v := range s.Messages {
		n += v
	}
	return n
}

// Stats returns a snapshot of the counters.
func (f *Feed) Stats() Stats {
	s := &f.st
	out := Stats{
		Observations: s.observations.Load(), Dropped: s.dropped.Load(), Bytes: s.bytes.Load(),
		Connects: s.connects.Load(), Connected: s.connected.Load(), Lag: -1,
	}
	now := time.Now().Unix()
	s.mu.Lock()
	out.Messages = maps.Clone(s.messages)
	out.Errors = maps.Clone(s.errors)
	var n uint64
	for _, b := range s.ring {
		if b.sec < now && b.sec >= now-rateWindow {
			n += b.n
		}
	}
	if s.lagSeen {
		out.Lag = s.lag
	}
	s.mu.Unlock()
	out.Rate = float64(n) / rateWindow
	if out.Messages == nil {
		out.Messages = map[string]uint64{}
	}
	return out
}

var (
	descMessages  = prometheus.NewDesc("kizuna_feed_messages_total", "Messages received, by feed and message kind.", []string{"feed", "kind"}, nil)
	descErrors    = prometheus.NewDesc("kizuna_feed_errors_total", "Feed errors, by feed and reason.", []string{"feed", "reason"}, nil)
	descObs       = prometheus.NewDesc("kizuna_feed_observations_total", "Observations handed to fusion.", []string{"feed"}, nil)
	descDropped   = prometheus.NewDesc("kizuna_feed_dropped_total", "Observations dropped because the fusion queue was full.", []string{"feed"}, nil)
	descBytes     = prometheus.NewDesc("kizuna_feed_bytes_total", "Bytes received.", []string{"feed"}, nil)
	descConnects  = prometheus.NewDesc("kizuna_feed_connects_total", "Connections made or accepted.", []string{"feed"}, nil)
	descConnected = prometheus.NewDesc("kizuna_feed_connected", "Open connections.", []string{"feed"}, nil)
	descRate      = prometheus.NewDesc("kizuna_feed_rate", "Messages per second over the last 10 s.", []string{"feed"}, nil)
	descLag       = prometheus.NewDesc("kizuna_feed_lag_seconds", "Moving average of receipt time minus message time, where the message carries its time.", []string{"feed"}, nil)
)

// Collector returns a Prometheus collector for feeds.
func Collector(feeds ...*Feed) prometheus.Collector { return collector(feeds) }

type collector []*Feed

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descMessages, descErrors, descObs, descDropped, descBytes, descConnects, descConnected, descRate, descLag} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	for _, f := range c {
		s := f.Stats()
		n := f.cfg.Name
		for k, v := range s.Messages {
			ch <- prometheus.MustNewConstMetric(descMessages, prometheus.CounterValue, float64(v), n, k)
		}
		for k, v := range s.Errors {
			ch <- prometheus.MustNewConstMetric(descErrors, prometheus.CounterValue, float64(v), n, k)
		}
		ch <- prometheus.MustNewConstMetric(descObs, prometheus.CounterValue, float64(s.Observations), n)
		ch <- prometheus.MustNewConstMetric(descDropped, prometheus.CounterValue, float64(s.Dropped), n)
		ch <- prometheus.MustNewConstMetric(descBytes, prometheus.CounterValue, float64(s.Bytes), n)
		ch <- prometheus.MustNewConstMetric(descConnects, prometheus.CounterValue, float64(s.Connects), n)
		ch <- prometheus.MustNewConstMetric(descConnected, prometheus.GaugeValue, float64(s.Connected), n)
		ch <- prometheus.MustNewConstMetric(descRate, prometheus.GaugeValue, s.Rate, n)
		if s.Lag >= 0 {
			ch <- prometheus.MustNewConstMetric(descLag, prometheus.GaugeValue, s.Lag, n)
		}
	}
}
