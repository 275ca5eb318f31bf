package e2e

import (
	"context"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"kizuna/internal/node"
	"kizuna/internal/scenario"
	"kizuna/internal/taktest"
	"kizuna/internal/taktest/cputime"
)

// BenchmarkFeedsCombinedLoad is the load target of the ISR issue, on one
// node with its load generator in the same process: 20,000 AIS messages/s
// (60,000 ships reporting every 3 s) over TCP, 10,000 Mode S frames/s
// (3,125 aircraft) as a Beast stream over TCP, and 10 radars at a 5 s scan
// sending ASTERIX CAT048 over UDP, for KIZUNA_LOAD_SECONDS (default 15)
// seconds (KIZUNA_LOAD_SCALE scales the AIS and Mode S rates); one TAK
// client at JPN:SECRET receives the fused picture. It
// reports the fusion latency (observation received → track updated) p50
// and p99, the rates, drops and the CPU used. Run it once:
//
//	go test -run XXX -bench BenchmarkFeedsCombinedLoad -benchtime=1x ./internal/e2e/
func BenchmarkFeedsCombinedLoad(b *testing.B) {
	dur := 15 * time.Second
	if v := os.Getenv("KIZUNA_LOAD_SECONDS"); v != "" {
		if d, err := time.ParseDuration(v + "s"); err == nil {
			dur = d
		}
	}
	scale := 1.0
	if v := os.Getenv("KIZUNA_LOAD_SCALE"); v != "" {
		if f, err := strconv.ParseFloat(v, 64); err == nil && f > 0 {
			scale = f
		}
	}
	for b.Loop() {
		feedsLoad(b, dur, scale)
	}
}

func feedsLoad(b *testing.B, dur time.Duration, scale float64) {
	genStart := time.Now()
	load := scenario.NewLoad(scenario.LoadConfig{Seed: 1, Duration: dur, Start: time.Now().Add(20 * time.Second).Truncate(time.Second),
		AISRate: int(20_000 * scale), ModeSRate: int(10_000 * scale)})
	b.Logf("generated %d ships, %d aircraft, %v messages in %v", load.Ships(), load.Aircraft(), load.Counts(), time.Since(genStart).Round(time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, err := load.Serve(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()

	cfg := node.Default()
	cfg.DataDir = b.TempDir()
	cfg.Nation = "JPN"
	cfg.NodeID = "jpn-load"
	cfg.Listeners = []node.ListenerConfig{{Kind: node.KindCoTTCP, Addr: "127.0.0.1:0", Principal: "JPN:SECRET"}}
	for _, ep := range srv.Endpoints() {
		cl, rel, _ := strings.Cut(ep.Label, "/")
		fc := node.FeedConfig{Name: ep.Name, Kind: ep.Kind, Transport: ep.Transport, Addr: ep.Addr, Classification: cl, ReleasableTo: strings.Split(rel, ",")}
		if ep.Site != nil {
			fc.Site = &node.FeedSite{Lat: ep.Site.Lat, Lon: ep.Site.Lon, Height: ep.Site.Height}
		}
		cfg.Feeds = append(cfg.Feeds, fc)
	}
	n, err := node.New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer func() {
		sctx, c := context.WithTimeout(context.Background(), 20*time.Second)
		defer c()
		n.Shutdown(sctx)
	}()
	client := taktest.Dial(b, n.Addr(node.KindCoTTCP))
	start := load.Start()
	// Wait for the generator's start, then measure over the load.
	time.Sleep(time.Until(start))
	cpu0, wall0 := cputime.Process(), time.Now()
	received := 0
	end := start.Add(dur + 2*time.Second)
	for time.Now().Before(end) {
		if ev := client.Next(time.Until(end)); ev != nil {
			if strings.HasPrefix(ev.UID, "jpn-load.") {
				received++
			}
		}
	}
	cpu, wall := cputime.Process()-cpu0, time.Since(wall0)
	p50, samples := n.FusionLatency(0.50)
	p99, _ := n.FusionLatency(0.99)
	fs := n.FusionStats()
	var msgs, obs, dropped uint64
	errs := map[string]uint64{}
	per := map[string]uint64{}
	for _, f := range n.Feeds() {
		per[f.Name] = f.Stats.Total()
		msgs += f.Stats.Total()
		obs += f.Stats.Observations
		dropped += f.Stats.Dropped
		for k, v := range f.Stats.Errors {
			errs[f.Name+"/"+k] += v
		}
	}
	c := load.Counts()
	sent := c["ais"] + c["beast"]
	for k, v := range c {
		if strings.HasPrefix(k, "radar") {
			sent += v
		}
	}
	b.Logf("fed %d of %d messages (%d observations, %d dropped at the fusion queue); fusion p50 %v p99 %v over %d; %d tracks confirmed, %d events published, %d track events to the client; CPU %.2f cores; generator late by %v at worst; errors %v",
		msgs, sent, obs, dropped+fs.Dropped, p50, p99, samples, fs.Confirmed, fs.Published, received, cpu.Seconds()/wall.Seconds(), srv.Late(), errs)
	b.Logf("received per feed %v", per)
	b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(msgs)/dur.Seconds(), "msgs/s")
	b.ReportMetric(float64(dropped+fs.Dropped), "dropped")
	b.ReportMetric(cpu.Seconds()/wall.Seconds(), "cores")
	b.ReportMetric(float64(received)/dur.Seconds(), "client-events/s")
}
