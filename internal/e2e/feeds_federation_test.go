package e2e

import (
	"context"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"kizuna/internal/label"
	"kizuna/internal/node"
	"kizuna/internal/scenario"
	"kizuna/internal/taktest"
	"kizuna/internal/topology"
)

// TestFeedsFederated: the JPN node of the trilateral topology fuses AIS
// and two radars (Tsushima SECRET/JPN, Fukuoka SECRET/USA,JPN); its fused
// tracks cross federation like any object. A US client on the US hub
// receives tracks built with the Fukuoka radar and never one built with
// Tsushima's; a Korean client on the KOR node receives the AIS picture and
// no radar at all.
func TestFeedsFederated(t *testing.T) {
	t.Parallel()
	var sensors []scenario.Sensor
	for _, sn := range scenario.DefaultSensors() {
		switch sn.Name {
		case "ais", "radar-tsushima", "radar-fukuoka":
			sn.ScanPeriod = time.Second
			sensors = append(sensors, sn)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, err := scenario.Serve(ctx, scenario.New(scenario.Config{Seed: 1, Sensors: sensors}), scenario.ServeConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	sourceLabel := map[string]label.Label{}
	specs := topology.Trilateral()
	for i := range specs {
		if specs[i].Nation != "JPN" {
			// The clients check labels over the whole picture.
			specs[i].Configure = func(cfg *node.Config) { cfg.FusedTracks = "all" }
			continue
		}
		specs[i].Configure = func(cfg *node.Config) {
			cfg.FusedTracks = "all"
			for _, ep := range srv.Endpoints() {
				cl, rel, _ := strings.Cut(ep.Label, "/")
				fc := node.FeedConfig{Name: ep.Name, Kind: ep.Kind, Transport: ep.Transport, Addr: ep.Addr,
					Classification: cl, ReleasableTo: strings.Split(rel, ",")}
				if ep.Site != nil {
					fc.Site = &node.FeedSite{Lat: ep.Site.Lat, Lon: ep.Site.Lon, Height: ep.Site.Height}
				}
				l, err := node.FeedLabel("JPN", fc)
				if err != nil {
					t.Error(err)
				}
				sourceLabel[ep.Name] = l
				cfg.Feeds = append(cfg.Feeds, fc)
			}
		}
	}
	dir := t.TempDir()
	p, err := topology.NewPKI(filepath.Join(dir, "pki"), "USA", "JPN", "KOR")
	if err != nil {
		t.Fatal(err)
	}
	cl, err := topology.StartPKI(context.Background(), p, dir, specs, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("starting the cluster: %v", err)
	}
	defer func() {
		sctx, c := context.WithTimeout(context.Background(), 20*time.Second)
		defer c()
		if err := cl.Shutdown(sctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	}()
	type watch struct {
		p    label.Principal
		c    *taktest.Client
		want []string // a track built with all of these must arrive
	}
	var watches []watch
	for _, id := range cl.IDs() {
		n := cl.Node(id)
		for _, l := range n.Listeners() {
			if l.Kind != node.KindCoTTCP {
				continue
			}
			pr, _ := label.ParsePrincipal(l.Principal)
			w := watch{p: pr, c: taktest.Dial(t, l.Addr)}
			switch pr.Nation {
			case "USA":
				w.want = []string{"radar-fukuoka"}
			case "KOR":
				w.want = []string{"ais"}
			case "JPN":
				w.want = []string{"radar-tsushima"}
			}
			watches = append(watches, w)
		}
	}
	var wg sync.WaitGroup
	for _, w := range watches {
		wg.Add(1)
		go func() {
			defer wg.Done()
			deadline := time.Now().Add(60 * time.Second)
			seen := false
			for time.Now().Before(deadline) {
				ev := w.c.Next(time.Until(deadline))
				if ev == nil {
					break
				}
				srcs, ok := feedsSources(ev)
				if !ok {
					continue
				}
				for _, s := range srcs {
					l := sourceLabel[s]
					if w.p.Clearance < l.Classification || (w.p.Nation != "JPN" && !slices.Contains(l.ReleasableTo, w.p.Nation)) {
						t.Errorf("%s received %s built with %s (%s)", w.p, ev.UID, s, l.Marking())
					}
				}
				if !seen && feedsHasAll(srcs, w.want) {
					seen = true
					if d := time.Now().Add(3 * time.Second); d.Before(deadline) {
						deadline = d
					}
				}
			}
			if !seen {
				t.Errorf("%s never received a fused track built with %v", w.p, w.want)
			}
		}()
	}
	wg.Wait()
}
