package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"kizuna/internal/cot"
	"kizuna/internal/label"
	"kizuna/internal/node"
	"kizuna/internal/scenario"
	"kizuna/internal/taktest"
)

// TestFeedsScenarioToTAK points simulated receivers at a JPN node through
// its --feed inputs (AIS NMEA and dump1090 SBS over TCP, two radars sending
// ASTERIX CAT048 over UDP) and checks what TAK clients of three nations
// receive: fused, labelled tracks, and never a track built with a radar
// that is not released to the client's nation.
func TestFeedsScenarioToTAK(t *testing.T) {
	t.Parallel()
	var sensors []scenario.Sensor
	for _, sn := range scenario.DefaultSensors() {
		switch sn.Name {
		case "ais", "adsb-sbs", "radar-tsushima", "radar-fukuoka":
			sn.ScanPeriod = time.Second // a quick antenna keeps the test short
			sensors = append(sensors, sn)
		}
	}
	sc := scenario.New(scenario.Config{Seed: 1, Sensors: sensors})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, err := scenario.Serve(ctx, sc, scenario.ServeConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()

	cfg := node.Default()
	cfg.DataDir = t.TempDir()
	cfg.Nation = "JPN"
	cfg.NodeID = "jpn-c2"
	cfg.FusedTracks = "all" // the clients check labels over the whole picture
	principals := []string{"JPN:SECRET", "USA:SECRET", "KOR:TOP SECRET"}
	for _, p := range principals {
		cfg.Listeners = append(cfg.Listeners, node.ListenerConfig{Kind: node.KindCoTTCP, Addr: "127.0.0.1:0", Principal: p})
	}
	sourceLabel := map[string]label.Label{}
	for _, ep := range srv.Endpoints() {
		fc := node.FeedConfig{Name: ep.Name, Kind: ep.Kind, Transport: ep.Transport, Addr: ep.Addr}
		if ep.Transport == "udp" {
			fc.Transport = "udp" // the node listens where the radar sends
		}
		cl, rel, _ := strings.Cut(ep.Label, "/")
		fc.Classification, fc.ReleasableTo = cl, strings.Split(rel, ",")
		if ep.Site != nil {
			fc.Site = &node.FeedSite{Lat: ep.Site.Lat, Lon: ep.Site.Lon, Height: ep.Site.Height}
		}
		l, err := node.FeedLabel(cfg.Nation, fc)
		if err != nil {
			t.Fatal(err)
		}
		sourceLabel[ep.Name] = l
		cfg.Feeds = append(cfg.Feeds, fc)
	}
	n, err := node.New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer func() {
		sctx, c := context.WithTimeout(context.Background(), 10*time.Second)
		defer c()
		if err := n.Shutdown(sctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	}()

	clients := map[string]*taktest.Client{}
	for _, l := range n.Listeners() {
		if l.Kind == node.KindCoTTCP {
			clients[l.Principal] = taktest.Dial(t, l.Addr)
		}
	}
	// What each client must eventually see: a fused track built with the
	// given sources (all of them in it).
	want := map[string][]string{
		"JPN:SECRET":     {"radar-tsushima"},
		"USA:SECRET":     {"radar-fukuoka"},
		"KOR:TOP SECRET": {"ais"},
	}
	start := time.Now()
	deadline := start.Add(60 * time.Second)
	var wg sync.WaitGroup
	for p, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pr, _ := label.ParsePrincipal(p)
			deadline := deadline
			seen := false
			tracks := 0
			for time.Now().Before(deadline) {
				ev := c.Next(time.Until(deadline))
				if ev == nil {
					break
				}
				srcs, ok := feedsSources(ev)
				if !ok {
					continue
				}
				tracks++
				// The check this test exists for: every contributor of a
				// track the client received is released to the client.
				for _, s := range srcs {
					l := sourceLabel[s]
					if pr.Clearance < l.Classification || (pr.Nation != "JPN" && !slices.Contains(l.ReleasableTo, pr.Nation)) {
						t.Errorf("%s received %s built with %s (%s)", p, ev.UID, s, l.Marking())
					}
				}
				if l, _, err := ev.ParseLabel(); err != nil || !label.Releasable(pr, l) {
					t.Errorf("%s received %s labelled %s", p, ev.UID, l.Marking())
				}
				if !strings.HasPrefix(ev.UID, "jpn-c2.") || !slices.Contains([]string{"a-n-S", "a-u-S", "a-n-A-C", "a-u-A"}, ev.Type) {
					t.Errorf("%s: track %s of type %s", p, ev.UID, ev.Type)
				}
				if !seen && feedsHasAll(srcs, want[p]) {
					seen = true
					t.Logf("%s: %s built with %v after %v", p, ev.UID, srcs, time.Since(start).Round(time.Second))
					// Keep listening a little: later tracks are checked too.
					if d := time.Now().Add(3 * time.Second); d.Before(deadline) {
						deadline = d
					}
				}
			}
			if !seen {
				t.Errorf("%s never received a track built with %v (%d tracks)", p, want[p], tracks)
			}
		}()
	}
	wg.Wait()
	var stats []string
	for _, f := range n.Feeds() {
		stats = append(stats, fmt.Sprintf("%s: %d messages, %d observations, errors %v", f.Name, f.Stats.Total(), f.Stats.Observations, f.Stats.Errors))
		if f.Stats.Observations == 0 {
			t.Errorf("feed %s produced no observations", f.Name)
		}
	}
	t.Log(strings.Join(stats, "; "))
}

func feedsHasAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

// feedsSources returns the contributors of a fused track event.
func feedsSources(ev *cot.Event) ([]string, bool) {
	d := string(ev.Detail)
	i := strings.Index(d, "<__fusion ")
	if i < 0 || ev.IsDelete() {
		return nil, false
	}
	d = d[i:]
	j := strings.Index(d, ` sources="`)
	if j < 0 {
		return nil, false
	}
	d = d[j+10:]
	return strings.Fields(d[:strings.IndexByte(d, '"')]), true
}
