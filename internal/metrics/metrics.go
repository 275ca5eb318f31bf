// Package metrics owns the Prometheus instruments of one node. Each node
// has its own registry (nothing is global), served at /metrics.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics holds a node's instruments.
type Metrics struct {
	Registry *prometheus.Registry

	Connections      *prometheus.GaugeVec   // by listener kind
	ConnectionsTotal *prometheus.CounterVec // by listener kind
	Refused          *prometheus.CounterVec // connections refused, by reason
	EventsIn         *prometheus.CounterVec // by wire format
	Rejected         *prometheus.CounterVec // events dropped, by reason
	Deliveries       prometheus.Counter     // events written to recipients
	Writes           prometheus.Counter     // writes (system calls) to TAK connections
	Latency          *LatencyHistogram      // accepted → written to the socket
	Objects          prometheus.Gauge
}

// New creates and registers the instruments. Extra collectors (hub
// queue drops, store and link state) are registered by their owners with
// Register.
func New() *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{
		Registry: r,
		Connections: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kizuna_connections", Help: "Open client connections by listener kind.",
		}, []string{"listener"}),
		ConnectionsTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kizuna_connections_total", Help: "Accepted client connections by listener kind.",
		}, []string{"listener"}),
		Refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kizuna_connections_refused_total", Help: "Refused or closed connections by reason.",
		}, []string{"reason"}),
		EventsIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kizuna_events_in_total", Help: "Events accepted from clients by wire format.",
		}, []string{"format"}),
		Rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kizuna_events_rejected_total", Help: "Events dropped, by reason.",
		}, []string{"reason"}),
		Deliveries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kizuna_events_out_total", Help: "Event deliveries written to recipients.",
		}),
		Writes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kizuna_stream_writes_total", Help: "Writes to TAK client connections (each carries one or more deliveries; kizuna_events_out_total over this is the coalescing achieved).",
		}),
		Latency: NewLatencyHistogram("kizuna_delivery_latency_seconds",
			"Time from accepting an event to writing it to a recipient.", deliveryBuckets),
		Objects: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kizuna_cop_objects", Help: "Live objects in the common operational picture.",
		}),
	}
	r.MustRegister(m.Connections, m.ConnectionsTotal, m.Refused, m.EventsIn, m.Rejected,
		m.Deliveries, m.Writes, m.Latency, m.Objects,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Register adds collectors owned by other packages.
func (m *Metrics) Register(cs ...prometheus.Collector) {
	for _, c := range cs {
		m.Registry.MustRegister(c)
	}
}
