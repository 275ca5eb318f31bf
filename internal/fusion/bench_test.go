package fusion

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"kizuna/internal/label"
	"kizuna/internal/taktest/cputime"
)

// populate creates n tracks in one engine: 60 % AIS ships, 20 % ADS-B
// aircraft and 20 % radar-only tracks (confirmed), spread over the seas
// around Japan and Korea. It returns the movers of each kind for updates.
type benchWorld struct {
	e      *Engine
	ships  []mover
	planes []mover
	dark   []mover
	at     time.Time
}

func newBenchWorld(b *testing.B, n, views int) *benchWorld {
	b.Helper()
	sources := map[string]label.Label{
		"ais":   lbl(label.Unclassified, "JPN", "USA", "KOR"),
		"adsb":  lbl(label.Unclassified, "JPN", "USA", "KOR"),
		"radar": lbl(label.Unclassified, "JPN", "USA", "KOR"),
	}
	if views > 1 {
		sources["radar"] = lbl(label.Secret, "JPN", "USA")
	}
	if views > 2 {
		sources["adsb"] = lbl(label.Confidential, "JPN", "USA", "KOR")
	}
	// Every moved track is due for publication (BenchmarkPublish10k).
	e, err := New(Config{Nation: "JPN", NodeID: "b", Sources: sources, MaxTracks: 10 * n, PublishDistance: 1e-9})
	if err != nil {
		b.Fatal(err)
	}
	w := &benchWorld{e: e, at: t0}
	r := rand.New(rand.NewPCG(1, 2))
	// Spread over 30–40°N, 125–140°E: about 1,100 × 1,300 km.
	pos := func() (float64, float64) { return 30 + 10*r.Float64(), 125 + 15*r.Float64() }
	for i := range n {
		lat, lon := pos()
		m := mover{lat, lon, r.Float64() * 360, 5 + r.Float64()*5}
		switch {
		case i%5 < 3:
			w.ships = append(w.ships, m)
		case i%5 == 3:
			m.speed = 230
			w.planes = append(w.planes, m)
		default:
			w.dark = append(w.dark, m)
		}
	}
	// Bring every track up: identities at once, radar tracks after three
	// scans.
	for scan := range 3 {
		w.step(nil, float64(scan)*5)
	}
	full := 0
	for _, t := range e.Tracks() {
		if t.View == len(e.views)-1 {
			full++
		}
	}
	if len(e.views) != views || full < n*9/10 {
		b.Fatalf("%d views, %d tracks in the full view after set-up, want %d and about %d", len(e.views), full, views, n)
	}
	return w
}

// step sends one update of everything at simulated second s: AIS and
// ADS-B reports one by one, radar plots in datagrams of 50; then a Tick,
// untimed when b is not nil.
func (w *benchWorld) step(b *testing.B, s float64) int {
	return w.update(b, s, true)
}

func (w *benchWorld) update(b *testing.B, s float64, tick bool) int {
	at := t0.Add(time.Duration(s * float64(time.Second)))
	n := 0
	for i, m := range w.ships {
		lat, lon := m.at(s)
		w.e.Process([]Observation{aisObs(w.e.cfg.Sources["ais"], uint64(200000000+i), at, lat, lon, m.course, m.speed)})
		n++
	}
	for i, m := range w.planes {
		lat, lon := m.at(s)
		w.e.Process([]Observation{{Source: "adsb", Label: w.e.cfg.Sources["adsb"], Time: at, ID: Key{IDICAO, uint64(i + 1)},
			Domain: DomainAir, Lat: lat, Lon: lon, HasAlt: true, Alt: 10000, HasVel: true, Course: m.course, Speed: m.speed}})
		n++
	}
	batch := make([]Observation, 0, 50)
	for _, m := range w.dark {
		lat, lon := m.at(s)
		batch = append(batch, plot("radar", w.e.cfg.Sources["radar"], at, lat, lon))
		if len(batch) == cap(batch) {
			w.e.Process(batch)
			n += len(batch)
			batch = make([]Observation, 0, 50)
		}
	}
	w.e.Process(batch)
	n += len(batch)
	if !tick {
		return n
	}
	if b != nil {
		b.StopTimer()
	}
	w.e.Tick(at)
	if b != nil {
		b.StartTimer()
	}
	return n
}

// BenchmarkFusion10k measures the fusion update rate with 10,000
// simultaneous tracks: each op is one whole update of every object (6,000
// AIS reports, 2,000 ADS-B reports and 2,000 radar plots in datagrams of
// 50, associated by GNN). updates/s is observations applied per second of
// one core; with views=3 every observation updates up to three views. The
// Tick that follows (publishing) is not timed here: see
// BenchmarkPublish10k.
func BenchmarkFusion10k(b *testing.B) {
	for _, views := range []int{1, 3} {
		b.Run(fmt.Sprintf("views=%d", views), func(b *testing.B) {
			w := newBenchWorld(b, 10_000, views)
			s := 15.0
			var updates int
			var cpu time.Duration
			b.ResetTimer()
			for b.Loop() {
				s += 5
				c0 := cputime.Process()
				updates += w.update(b, s, false)
				cpu += cputime.Process() - c0
				b.StopTimer()
				w.e.Tick(t0.Add(time.Duration(s * float64(time.Second))))
				b.StartTimer()
			}
			// CPU time per update: on a shared machine the wall time also
			// counts waiting for a core.
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(updates), "cpu-ns/update")
			b.ReportMetric(float64(updates)/b.Elapsed().Seconds(), "updates/s")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(updates), "ns/update")
			b.ReportMetric(float64(len(w.e.Tracks())), "tracks")
		})
	}
}

// BenchmarkPublish10k measures Tick with 10,000 tracks all due: expiry,
// merging, and one CoT event per track (the 1 Hz publication of fused
// tracks).
func BenchmarkPublish10k(b *testing.B) {
	w := newBenchWorld(b, 10_000, 1)
	s := 15.0
	events := 0
	var cpu time.Duration
	for b.Loop() {
		b.StopTimer()
		s += 5
		w.update(nil, s, false) // every track updated, not yet published
		b.StartTimer()
		c0 := cputime.Process()
		events += len(w.e.Tick(t0.Add(time.Duration((s + 1.5) * float64(time.Second)))))
		cpu += cputime.Process() - c0
	}
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(events), "cpu-ns/event")
}
