package feed_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"kizuna/internal/asterix"
	"kizuna/internal/cot"
	"kizuna/internal/feed"
	"kizuna/internal/fusion"
	"kizuna/internal/label"
	"kizuna/internal/scenario"
	"kizuna/internal/taktest"
)

var feedLabel = label.Label{Classification: label.Secret, ReleasableTo: []string{"JPN", "USA"}, Originator: "JPN"}

// collector gathers what a feed hands to fusion and to the CoT sink.
type collector struct {
	mu     sync.Mutex
	obs    []fusion.Observation
	events []*cot.Event
}

func (c *collector) sink(b []fusion.Observation) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.obs = append(c.obs, b...)
	return true
}

func (c *collector) cot(_ context.Context, ev *cot.Event) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.events = append(c.events, ev)
	return nil
}

func (c *collector) observations() []fusion.Observation {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]fusion.Observation(nil), c.obs...)
}

// runFeed starts a feed and stops it at cleanup, checking that Run
// returns.
func runFeed(t *testing.T, cfg feed.Config) *feed.Feed {
	t.Helper()
	f, err := feed.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("feed run: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("feed did not stop")
		}
	})
	select {
	case <-f.Ready():
	case err := <-done:
		t.Fatalf("feed stopped: %v", err)
	}
	return f
}

var radarSite = asterix.Site{Lat: 34.20, Lon: 129.29, Height: 60}

// samples are realistic payloads per kind, and what they must yield.
type sample struct {
	kind   string
	chunks [][]byte // TCP writes or UDP datagrams
	check  func(t *testing.T, obs []fusion.Observation)
}

func samples(now time.Time) []sample {
	ais := strings.Join(scenario.EncodeAISStatic(440123456, 9123456, "DS3456", "SHIP ONE", 70, "BUSAN", 1, 'A'), "") +
		scenario.EncodeAISPosition(440123456, 34.5, 129.5, 12, 80, 80, now, 'B')[0]
	// dump1090's port 30003 also writes non-MSG lines.
	sbs := "AIR,,333,1,71C123,1,2026/11/27,09:00:00.000,2026/11/27,09:00:00.000\r\n" +
		scenario.SBSIdentification(0x71C123, "KAL123", now) +
		scenario.SBSPosition(0x71C123, 34.9, 129.8, 35000, now) +
		scenario.SBSVelocity(0x71C123, 450, 120, 0, now)
	var beast []byte
	beast = append(beast, scenario.Beast(scenario.ModeSIdentification(0x840001, "JAL5"), 1, 0x40)...)
	beast = append(beast, scenario.Beast(scenario.ModeSPosition(0x840001, 33.8, 130.2, 31000, false), 2, 0x40)...)
	beast = append(beast, scenario.Beast(scenario.ModeSPosition(0x840001, 33.8, 130.2, 31000, true), 3, 0x40)...)
	var recs []asterix.Record
	for i, p := range []struct{ rho, theta float64 }{{20, 45}, {35.5, 300}} {
		r := asterix.Record{SAC: 20, SIC: 1, Rho: p.rho, Theta: p.theta, TimeOfDay: now.Sub(now.Truncate(24 * time.Hour))}
		r.Set(asterix.FieldSource)
		r.Set(asterix.FieldTimeOfDay)
		r.Set(asterix.FieldTargetReport)
		r.Set(asterix.FieldPolar)
		r.TargetReport.Type = 1
		if i == 1 {
			r.TargetReport.Type = 7
			r.FlightLevel = 350
			r.Set(asterix.FieldFlightLevel)
			r.AircraftAddress = 0x71C999
			r.Set(asterix.FieldAircraftAddress)
		}
		recs = append(recs, r)
	}
	cotEv := `<?xml version="1.0"?><event version="2.0" uid="ICAO-A1B2C3" type="a-f-A-M-F" how="m-g" access="UNCLASSIFIED" releasableTo="GBR"` +
		` time="` + now.Format(cot.TimeLayout) + `" start="` + now.Format(cot.TimeLayout) + `" stale="` + now.Add(time.Minute).Format(cot.TimeLayout) + `">` +
		`<point lat="35.1" lon="139.2" hae="9000" ce="30" le="20"/><detail><contact callsign="RCH123"/><track course="90" speed="200"/></detail></event>`
	return []sample{
		{"ais", [][]byte{[]byte(ais)}, func(t *testing.T, obs []fusion.Observation) {
			want(t, obs, 2)
			if !obs[0].Static || obs[0].Name != "SHIP ONE" || obs[1].ID != (fusion.Key{Kind: fusion.IDMMSI, ID: 440123456}) ||
				!obs[1].HasVel || obs[1].Lat != 34.5 || obs[1].Domain != fusion.DomainSea {
				t.Errorf("ais observations %+v", obs)
			}
		}},
		{"sbs", [][]byte{[]byte(sbs[:50]), []byte(sbs[50:])}, func(t *testing.T, obs []fusion.Observation) {
			want(t, obs, 2)
			o := obs[1]
			if o.ID.ID != 0x71C123 || o.Lat != 34.9 || !o.HasAlt || o.Alt != 35000*0.3048 || o.Callsign != "KAL123" {
				t.Errorf("sbs observations %+v", obs)
			}
		}},
		{"beast", [][]byte{beast[:9], beast[9:]}, func(t *testing.T, obs []fusion.Observation) {
			want(t, obs, 2)
			o := obs[1]
			if o.ID.ID != 0x840001 || o.Callsign != "JAL5" || abs(o.Lat-33.8) > 1e-4 || abs(o.Lon-130.2) > 1e-4 || o.Domain != fusion.DomainAir {
				t.Errorf("beast observations %+v", obs)
			}
		}},
		{"asterix", [][]byte{asterix.Encode048(recs)}, func(t *testing.T, obs []fusion.Observation) {
			want(t, obs, 2)
			lat, lon := radarSite.Locate(20, 45, radarSite.Height)
			if obs[0].ID.Kind != fusion.IDNone || abs(obs[0].Lat-lat) > 1e-6 || abs(obs[0].Lon-lon) > 1e-6 || obs[0].Cov[0] <= 0 {
				t.Errorf("plot %+v", obs[0])
			}
			if obs[1].ID != (fusion.Key{Kind: fusion.IDICAO, ID: 0x71C999}) || !obs[1].HasAlt {
				t.Errorf("mode s plot %+v", obs[1])
			}
		}},
		{"cot", [][]byte{[]byte(cotEv)}, func(t *testing.T, obs []fusion.Observation) {
			want(t, obs, 1)
			o := obs[0]
			if o.ID != (fusion.Key{Kind: fusion.IDICAO, ID: 0xA1B2C3}) || o.Affiliation != 'f' || o.Domain != fusion.DomainAir ||
				!o.HasVel || o.Speed != 200 || o.Callsign != "RCH123" {
				t.Errorf("cot observation %+v", o)
			}
		}},
	}
}

func want(t *testing.T, obs []fusion.Observation, n int) {
	t.Helper()
	if len(obs) != n {
		t.Fatalf("%d observations, want %d: %+v", len(obs), n, obs)
	}
	for _, o := range obs {
		if o.Source != "f1" || !o.Label.Equal(feedLabel) {
			t.Fatalf("observation source %q label %+v", o.Source, o.Label)
		}
	}
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

// TestKindsAndTransports runs each kind over each transport against
// loopback peers: the feed dials a server (tcp), accepts a sensor
// (tcp-listen) or receives datagrams (udp).
func TestKindsAndTransports(t *testing.T) {
	for _, tr := range []string{feed.TransportTCP, feed.TransportTCPListen, feed.TransportUDP} {
		for _, s := range samples(time.Now().UTC()) {
			t.Run(s.kind+"/"+tr, func(t *testing.T) {
				c := &collector{}
				cfg := feed.Config{Name: "f1", Kind: s.kind, Transport: tr, Label: feedLabel, Sink: c.sink, CoT: c.cot,
					Site: &radarSite, MinBackoff: 10 * time.Millisecond}
				switch tr {
				case feed.TransportTCP:
					ln, err := net.Listen("tcp", "127.0.0.1:0")
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { ln.Close() })
					go func() {
						conn, err := ln.Accept()
						if err != nil {
							return
						}
						defer conn.Close()
						for _, b := range s.chunks {
							conn.Write(b)
							time.Sleep(5 * time.Millisecond)
						}
						time.Sleep(time.Second) // keep it open: no disconnect error
					}()
					cfg.Addr = ln.Addr().String()
					runFeed(t, cfg)
				case feed.TransportTCPListen:
					cfg.Addr = "127.0.0.1:0"
					f := runFeed(t, cfg)
					conn, err := net.Dial("tcp", f.Addr())
					if err != nil {
						t.Fatal(err)
					}
					defer conn.Close()
					for _, b := range s.chunks {
						conn.Write(b)
					}
				case feed.TransportUDP:
					cfg.Addr = "127.0.0.1:0"
					f := runFeed(t, cfg)
					conn, err := net.Dial("udp", f.Addr())
					if err != nil {
						t.Fatal(err)
					}
					defer conn.Close()
					payload := s.chunks
					if s.kind == "sbs" || s.kind == "beast" {
						payload = [][]byte{joinBytes(s.chunks)} // a datagram holds whole records
					}
					for _, b := range payload {
						conn.Write(b)
					}
				}
				taktest.WaitUntil(t, "observations", 10*time.Second, func() bool { return len(c.observations()) >= wantCount(s.kind) })
				s.check(t, c.observations())
				if s.kind == "cot" {
					c.mu.Lock()
					ev := c.events[0]
					c.mu.Unlock()
					l, _, err := ev.ParseLabel()
					if err != nil || !l.Equal(feedLabel) {
						t.Errorf("cot event keeps its own label %+v (%v), want the feed's", l, err)
					}
				}
			})
		}
	}
}

func wantCount(kind string) int {
	switch kind {
	case "cot":
		return 1
	}
	return 2
}

func joinBytes(bs [][]byte) []byte {
	var out []byte
	for _, b := range bs {
		out = append(out, b...)
	}
	return out
}

// TestReconnect: a receiver that hangs up after every line is redialled
// with backoff; lines keep arriving and the counters say so.
func TestReconnect(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	line := scenario.EncodeAISPosition(431000001, 34, 130, 10, 90, 90, time.Now(), 'A')[0]
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			conn.Write([]byte(line))
			conn.Close()
		}
	}()
	c := &collector{}
	f := runFeed(t, feed.Config{Name: "f1", Kind: "ais", Transport: "tcp", Addr: ln.Addr().String(), Label: feedLabel,
		Sink: c.sink, MinBackoff: 10 * time.Millisecond, MaxBackoff: 40 * time.Millisecond})
	taktest.WaitUntil(t, "five connections", 10*time.Second, func() bool { return f.Stats().Connects >= 5 && len(c.observations()) >= 5 })
	st := f.Stats()
	if st.Errors["disconnected"] < 4 || st.Messages["ais"] < 5 {
		t.Errorf("stats after reconnects: %+v", st)
	}
	// The receiver goes away for good: the feed keeps trying, counting
	// connection errors, and stops cleanly at cleanup.
	ln.Close()
	before := f.Stats().Errors["connect"]
	taktest.WaitUntil(t, "connect errors", 10*time.Second, func() bool { return f.Stats().Errors["connect"] >= before+2 })
	if f.Stats().Connected != 0 {
		t.Errorf("connected = %d with no receiver", f.Stats().Connected)
	}
}

// TestBadInputCounted: malformed input is counted by reason and the feed
// goes on.
func TestBadInputCounted(t *testing.T) {
	c := &collector{}
	f := runFeed(t, feed.Config{Name: "f1", Kind: "ais", Transport: "udp", Addr: "127.0.0.1:0", Label: feedLabel, Sink: c.sink})
	conn, err := net.Dial("udp", f.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	good := scenario.EncodeAISPosition(431000001, 34, 130, 10, 90, 90, time.Now(), 'A')[0]
	bad := strings.Replace(good, "*", "0*", 1) // payload changed, checksum not
	for _, d := range []string{bad, "!AIVDM,1,1,,A,15M67FC000G?ufbE`FepT@3n00Sa,0*7F\r\n", "garbage\r\n", strings.Repeat("x", 5000) + "\n", good} {
		conn.Write([]byte(d))
	}
	taktest.WaitUntil(t, "the good line", 10*time.Second, func() bool { return len(c.observations()) == 1 })
	st := f.Stats()
	if st.Errors["checksum"] < 1 || st.Errors["format"]+st.Errors["checksum"] < 2 || st.Errors["line_too_long"] != 1 {
		t.Errorf("errors %v", st.Errors)
	}
}

func TestMetricsCollector(t *testing.T) {
	c := &collector{}
	f := runFeed(t, feed.Config{Name: "radar-x", Kind: "asterix", Transport: "udp", Addr: "127.0.0.1:0", Label: feedLabel, Sink: c.sink})
	conn, err := net.Dial("udp", f.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r := asterix.Record{SAC: 1, SIC: 2, Rho: 10, Theta: 10, TargetReport: asterix.TargetReport{Type: 1}}
	r.Set(asterix.FieldPolar)
	r.Set(asterix.FieldTargetReport)
	// Measured two seconds ago: the feed's lag says so.
	now := time.Now().UTC()
	r.TimeOfDay = now.Add(-2 * time.Second).Sub(now.Truncate(24 * time.Hour))
	r.Set(asterix.FieldTimeOfDay)
	conn.Write(asterix.Encode048([]asterix.Record{r})) // no site: counted
	conn.Write([]byte{48, 0, 200, 1})                  // truncated
	taktest.WaitUntil(t, "errors", 10*time.Second, func() bool { st := f.Stats(); return st.Errors["no_site"] >= 1 && st.Errors["truncated"] >= 1 })
	if lag := f.Stats().Lag; lag < 1.9 || lag > 3 {
		t.Errorf("lag %.2f s, want about 2 s", lag)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(feed.Collector(f))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var lbls []string
			for _, lp := range m.GetLabel() {
				lbls = append(lbls, lp.GetName()+"="+lp.GetValue())
			}
			got[fmt.Sprintf("%s{%s}", mf.GetName(), strings.Join(lbls, ","))] = true
		}
	}
	for _, w := range []string{
		"kizuna_feed_errors_total{feed=radar-x,reason=no_site}",
		"kizuna_feed_errors_total{feed=radar-x,reason=truncated}",
		"kizuna_feed_messages_total{feed=radar-x,kind=asterix}",
		"kizuna_feed_connected{feed=radar-x}",
		"kizuna_feed_rate{feed=radar-x}",
		"kizuna_feed_lag_seconds{feed=radar-x}",
	} {
		if !got[w] {
			t.Errorf("missing %s in %v", w, got)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []feed.Config{
		{Name: "a", Kind: "nmea", Transport: "tcp", Addr: "127.0.0.1:1", Label: feedLabel},
		{Name: "a", Kind: "ais", Transport: "serial", Addr: "127.0.0.1:1", Label: feedLabel},
		{Name: "a", Kind: "ais", Transport: "tcp", Addr: "nowhere", Label: feedLabel},
		{Name: "a", Kind: "ais", Transport: "tcp", Addr: "127.0.0.1:1"},
		{Name: "a", Kind: "cot", Transport: "tcp", Addr: "127.0.0.1:1", Label: feedLabel},
	} {
		if _, err := feed.New(cfg); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
}
