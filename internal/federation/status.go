package federation

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"kizuna/internal/label"
	"kizuna/internal/web"
)

// PeerStatus is one link as GET /api/v1/federation shows it.
type PeerStatus struct {
	Name           string  `json:"name"`
	Nation         string  `json:"nation"` // empty until its first link
	State          string  `json:"state"`  // "up" or "down"
	Addr           string  `json:"addr"`   // empty: inbound only
	Classification string  `json:"classification"`
	Queue          int64   `json:"queue"`
	QueueFlash     int64   `json:"queueFlash"`
	LagSeconds     float64 `json:"lagSeconds"`
	Since          string  `json:"since,omitempty"`
	Sent           uint64  `json:"sent"`
	Received       uint64  `json:"received"`
	Acked          uint64  `json:"acked"`
	Withheld       uint64  `json:"withheld"`
	Dropped        uint64  `json:"dropped"`
	Connects       uint64  `json:"connects"`
	// Unverified counts events (and certificates) from this peer refused
	// because their origin could not be proven.
	Unverified uint64 `json:"unverified"`
	LastError  string `json:"lastError"`
}

// Status is the whole federation state of a node.
type Status struct {
	Node   string       `json:"node"`
	Nation string       `json:"nation"`
	Peers  []PeerStatus `json:"peers"`
}

// Up returns how many of the links are up.
func (s Status) Up() int {
	up := 0
	for _, p := range s.Peers {
		if p.State == "up" {
			up++
		}
	}
	return up
}

// Status reports every link.
func (f *Federation) Status() Status {
	st := Status{Node: f.cfg.NodeID, Nation: f.cfg.Nation, Peers: []PeerStatus{}}
	for _, l := range f.links {
		st.Peers = append(st.Peers, l.status())
	}
	return st
}

func (l *link) status() PeerStatus {
	l.mu.Lock()
	ps := PeerStatus{
		Name: l.name, Nation: l.nation, State: "down", Addr: l.addr,
		Classification: l.class.String(), LastError: l.lastErr,
	}
	since := l.downSince
	if l.conn != nil {
		ps.State = "up"
		since = l.upSince
	}
	l.mu.Unlock()
	ps.Since = since.UTC().Format(time.RFC3339)
	ps.QueueFlash = l.depth[LaneFlash].Load()
	ps.Queue = ps.QueueFlash + l.depth[LaneRoutine].Load()
	ps.Sent, ps.Received, ps.Acked = l.stats.sent.Load(), l.stats.received.Load(), l.stats.acked.Load()
	ps.Withheld, ps.Dropped, ps.Connects = l.stats.withheld.Load(), l.stats.dropped.Load(), l.stats.connects.Load()
	ps.Unverified = l.stats.unverified.Load()
	if ps.Queue > 0 && l.f.db != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		if at, ok := oldestQueued(ctx, l.f.db, l.name); ok {
			ps.LagSeconds = max(0, time.Since(at).Seconds())
		}
		cancel()
	}
	return ps
}

// Handler serves GET /api/v1/federation. Link internals are shown only to
// principals of this node's own nation; anyone else sees the node's id and
// nation and no peers.
func (f *Federation) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			web.WriteJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "GET only"})
			return
		}
		p, ok := web.PrincipalFrom(r.Context())
		st := f.Status()
		if !ok || !ownNation(p, f.cfg.Nation) {
			st.Peers = []PeerStatus{}
		}
		web.WriteJSON(w, http.StatusOK, st)
	})
}

func ownNation(p label.Principal, nation string) bool { return p.Nation == nation }

var (
	descUp       = prometheus.NewDesc("kizuna_federation_link_up", "1 when the link to the peer is up.", []string{"peer"}, nil)
	descQueue    = prometheus.NewDesc("kizuna_federation_queue_depth", "Events queued for the peer, by lane.", []string{"peer", "lane"}, nil)
	descLag      = prometheus.NewDesc("kizuna_federation_lag_seconds", "Age of the oldest unacknowledged event queued for the peer.", []string{"peer"}, nil)
	descSent     = prometheus.NewDesc("kizuna_federation_sent_total", "Events sent to the peer.", []string{"peer"}, nil)
	descReceived = prometheus.NewDesc("kizuna_federation_received_total", "Events received from the peer.", []string{"peer"}, nil)
	descAcked    = prometheus.NewDesc("kizuna_federation_acked_total", "Queued events the peer acknowledged.", []string{"peer"}, nil)
	descWithheld = prometheus.NewDesc("kizuna_federation_withheld_total", "Queued events the egress policy withheld from the peer at send time.", []string{"peer"}, nil)
	descDropped  = prometheus.NewDesc("kizuna_federation_overflow_total", "Events dropped because the peer's queue was full.", []string{"peer"}, nil)
	descConnects = prometheus.NewDesc("kizuna_federation_connects_total", "Times the link came up.", []string{"peer"}, nil)
	descUnverif  = prometheus.NewDesc("kizuna_federation_unverified_total", "Events and origin certificates from the peer refused because their origin could not be proven.", []string{"peer"}, nil)
	descEvents   = prometheus.NewDesc("kizuna_federation_events_total", "Federation events by outcome (all peers).", []string{"outcome"}, nil)
)

// Describe implements prometheus.Collector.
func (f *Federation) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descUp, descQueue, descLag, descSent, descReceived, descAcked, descWithheld, descDropped, descConnects, descUnverif, descEvents} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (f *Federation) Collect(ch chan<- prometheus.Metric) { CollectAll(ch, []*Federation{f}) }

// CollectAll sends the metrics of several federations of one node (the
// links a cluster instance holds): each link's series, and the outcomes
// summed over them.
func CollectAll(ch chan<- prometheus.Metric, fs []*Federation) {
	var events [11]uint64
	for _, f := range fs {
		f.collectLinks(ch)
		for i, v := range f.outcomes() {
			events[i] += v
		}
	}
	for i, name := range outcomeNames {
		ch <- prometheus.MustNewConstMetric(descEvents, prometheus.CounterValue, float64(events[i]), name)
	}
}

var outcomeNames = [11]string{"duplicate", "loop", "withheld", "bad_frame", "overflow", "compacted",
	"unreleasable_inbound", "foreign_originator", "unverified", "unprovable", "bad_certificate"}

func (f *Federation) outcomes() [11]uint64 {
	return [11]uint64{f.stats.dups.Load(), f.stats.loops.Load(), f.stats.denied.Load(),
		f.stats.badFrames.Load(), f.stats.overflow.Load(), f.stats.compacted.Load(),
		f.stats.unreleasableIn.Load(), f.stats.notOwnerDirect.Load(),
		f.stats.unverified.Load(), f.stats.unprovable.Load(), f.stats.badCerts.Load()}
}

func (f *Federation) collectLinks(ch chan<- prometheus.Metric) {
	g, c := prometheus.GaugeValue, prometheus.CounterValue
	for _, l := range f.links {
		s := l.status()
		up := 0.0
		if s.State == "up" {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(descUp, g, up, s.Name)
		ch <- prometheus.MustNewConstMetric(descQueue, g, float64(s.QueueFlash), s.Name, "flash")
		ch <- prometheus.MustNewConstMetric(descQueue, g, float64(s.Queue-s.QueueFlash), s.Name, "routine")
		ch <- prometheus.MustNewConstMetric(descLag, g, s.LagSeconds, s.Name)
		ch <- prometheus.MustNewConstMetric(descSent, c, float64(s.Sent), s.Name)
		ch <- prometheus.MustNewConstMetric(descReceived, c, float64(s.Received), s.Name)
		ch <- prometheus.MustNewConstMetric(descAcked, c, float64(s.Acked), s.Name)
		ch <- prometheus.MustNewConstMetric(descWithheld, c, float64(s.Withheld), s.Name)
		ch <- prometheus.MustNewConstMetric(descDropped, c, float64(s.Dropped), s.Name)
		ch <- prometheus.MustNewConstMetric(descConnects, c, float64(s.Connects), s.Name)
		ch <- prometheus.MustNewConstMetric(descUnverif, c, float64(s.Unverified), s.Name)
	}
}
